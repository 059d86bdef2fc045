"""gen_kinetics_data on the real Kinetics-skeleton samples: shapes, labels, people kept, a loop reference, bad input."""
import json
import pathlib
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from data_gen import gen_kinetics_data

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'kinetics'


def _reference(path):
    """The official feeder_kinetics sample, written out with loops: first 5 people listed per frame, frame k at
    step k, x/y - 0.5 and zero where the score is 0, then per frame the 2 highest summed scores kept."""
    with open(path) as f:
        video = json.load(f)
    data = np.zeros((3, 300, 18, 5))
    for frame in video['data']:
        for m, person in enumerate(frame['skeleton'][:5]):
            for v in range(18):
                data[:, frame['frame_index'], v, m] = (person['pose'][2 * v], person['pose'][2 * v + 1],
                                                       person['score'][v])
    for t in range(300):
        for v in range(18):
            for m in range(5):
                if data[2, t, v, m] == 0:
                    data[0:2, t, v, m] = 0
                else:
                    data[0:2, t, v, m] -= 0.5
        totals = [data[2, t, :, m].sum() for m in range(5)]
        ranked = sorted(range(5), key=lambda m: -totals[m])  # Python's sort is stable, like the official one
        data[:, t] = data[:, t][:, :, ranked]
    return data[..., :2].astype(np.float32)


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp('kinetics')
    assert gen_kinetics_data.main(['--data-path', str(FIXTURES), '--out-folder', str(out)]) == 0
    return out


def _part(out, part):
    with open(out / f'{part}_label.pkl', 'rb') as f:
        names, labels = pickle.load(f)
    return np.load(out / f'{part}_data_joint.npy'), names, labels


def test_shapes_names_labels_and_meta(generated):
    for part, count in (('val', 10), ('train', 3)):
        data, names, labels = _part(generated, part)
        assert data.shape == (count, 3, 300, 18, 2) and data.dtype == np.float32
        files = sorted((FIXTURES / f'kinetics_{part}').glob('*.json'))
        assert names == [f.stem for f in files]
        label_file = json.loads((FIXTURES / f'kinetics_{part}_label.json').read_text())
        assert labels == [label_file[n]['label_index'] for n in names]
        assert labels == [json.loads(f.read_text())['label_index'] for f in files]
    assert labels == [91, 83, 199]  # train: dining, cutting watermelon, motorcycling
    meta = json.loads((generated / 'meta.json').read_text())
    assert meta == {'dataset': 'kinetics', 'data_mode': 'kinetics', 'num_class': 400, 'max_frame': 300,
                    'layout': 'openpose', 'num_person_in': 5, 'num_person_out': 2,
                    'parts': {'train': {'num_samples': 3, 'num_skipped': 0, 'num_no_skeleton': 0},
                              'val': {'num_samples': 10, 'num_skipped': 0, 'num_no_skeleton': 0}}}
    assert sorted(p.name for p in generated.iterdir()) == [
        'meta.json', 'train_data_joint.npy', 'train_label.pkl', 'val_data_joint.npy', 'val_label.pkl']


def test_equals_the_loop_reference(generated):
    for part in ('val', 'train'):
        data, names, _ = _part(generated, part)
        for sample, name in zip(data, names):
            np.testing.assert_array_equal(sample, _reference(FIXTURES / f'kinetics_{part}' / f'{name}.json'))


def test_empty_frames_and_unused_steps_are_zero(generated):
    data, names, _ = _part(generated, 'train')
    video = json.loads((FIXTURES / 'kinetics_train' / 'sAP-xS5P0Bw.json').read_text())
    sample = data[names.index('sAP-xS5P0Bw')]
    empty = [f['frame_index'] for f in video['data'] if not f['skeleton']]
    assert len(empty) == 298  # one detected person in 299 frames
    assert not np.any(sample[:, empty]) and not np.any(sample[:, 0]) and not np.any(sample[:, 299])
    (seen,) = [f for f in video['data'] if f['skeleton']]
    assert np.any(sample[:, seen['frame_index'], :, 0]) and not np.any(sample[:, :, :, 1])


def test_the_two_kept_people_are_the_most_confident_of_the_first_five(generated):
    data, names, _ = _part(generated, 'val')
    sample = data[names.index('__PYrzYbzKE')]  # up to 11 people a frame
    video = json.loads((FIXTURES / 'kinetics_val' / '__PYrzYbzKE.json').read_text())
    beaten_by_a_sixth = 0
    for frame in video['data']:
        totals = sorted((sum(p['score']) for p in frame['skeleton'][:5]), reverse=True) + [0, 0]
        kept = sample[2, frame['frame_index']].sum(axis=0)  # (2,) summed scores of the kept people
        np.testing.assert_allclose(kept, totals[:2], rtol=1e-5)
        beaten_by_a_sixth += any(sum(p['score']) > totals[1] for p in frame['skeleton'][5:])
    assert beaten_by_a_sixth == 19  # people listed after the fifth are never observed, however confident


def test_coordinates_are_centred_and_undetected_joints_zero(generated):
    data, names, _ = _part(generated, 'val')
    undetected = data[:, 2] == 0
    assert np.sum(undetected) > 0 and not np.any(data[:, 0][undetected]) and not np.any(data[:, 1][undetected])
    # --33Lscn6sk, frame_index 1: the first person's nose is at (0.491, 0.220), score > 0.
    nose = data[names.index('--33Lscn6sk'), 0:2, 1, 0, :].T  # (M, 2)
    assert any(np.array_equal(person, np.float32([0.491 - 0.5, 0.220 - 0.5])) for person in nose)


# ---- bad input ----

@pytest.fixture
def tree(tmp_path):
    """A data folder with the three real training videos, to corrupt."""
    root = tmp_path / 'skeleton'
    shutil.copytree(FIXTURES / 'kinetics_train', root / 'kinetics_train')
    shutil.copy(FIXTURES / 'kinetics_train_label.json', root)
    return root


def _edit(path, change):
    video = json.loads(path.read_text())
    change(video)
    path.write_text(json.dumps(video))


def _fails(capsys, root, out, *fragments, on_error='fail'):
    argv = ['--data-path', str(root), '--out-folder', str(out), '--parts', 'train', '--on-error', on_error]
    assert gen_kinetics_data.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
    for fragment in fragments:
        assert fragment in err, err
    assert not any(p.name.startswith('train') or p.name.startswith('.') for p in out.iterdir())


def test_malformed_json_names_file_line_and_column(tree, tmp_path, capsys):
    path = tree / 'kinetics_train' / 'kkwHdOvpCoc.json'
    lines = json.dumps(json.loads(path.read_text()), indent=1).splitlines()  # the real file is one line
    lines[9] = lines[9].replace(',', ';', 1)  # line 10: "0.418," -> "0.418;"
    path.write_text('\n'.join(lines))
    column = lines[9].index(';') + 1
    _fails(capsys, tree, tmp_path, f'kkwHdOvpCoc.json:10:{column}: malformed JSON')


def test_pose_with_a_wrong_number_of_values(tree, tmp_path, capsys):
    def drop_value(video):
        frame = next(f for f in video['data'] if f['skeleton'])
        frame['skeleton'][0]['pose'].pop()
        drop_value.frame = frame['frame_index']

    _edit(tree / 'kinetics_train' / 'sAP-xS5P0Bw.json', drop_value)
    _fails(capsys, tree, tmp_path, 'sAP-xS5P0Bw.json', f'frame_index {drop_value.frame}: person 0',
           '"pose" has 35 values, expected 36')


def test_nan(tree, tmp_path, capsys):
    def poison(video):
        frame = next(f for f in video['data'] if len(f['skeleton']) > 1)
        frame['skeleton'][1]['score'][3] = float('nan')  # json.dumps writes NaN, json.load reads it
        poison.frame = frame['frame_index']

    _edit(tree / 'kinetics_train' / 'cU1fyH2QssA.json', poison)
    _fails(capsys, tree, tmp_path, 'cU1fyH2QssA.json', f'frame_index {poison.frame}: person 1', 'holds NaN, infinity or a value beyond float32')


def test_frame_index_beyond_max_frame(tree, tmp_path, capsys):
    _edit(tree / 'kinetics_train' / 'sAP-xS5P0Bw.json', lambda v: v['data'][-1].update(frame_index=300))
    _fails(capsys, tree, tmp_path, 'sAP-xS5P0Bw.json', 'frame_index 300 is not an integer in [0, 300)',
           '(--on-error skip would leave this file out)')


def test_label_entry_missing_or_disagreeing(tree, tmp_path, capsys):
    labels_path = tree / 'kinetics_train_label.json'
    labels = json.loads(labels_path.read_text())
    labels['kkwHdOvpCoc']['label_index'] = 84
    labels_path.write_text(json.dumps(labels))
    _fails(capsys, tree, tmp_path, 'kkwHdOvpCoc.json: label_index 83 differs from 84')
    del labels['kkwHdOvpCoc']
    labels_path.write_text(json.dumps(labels))
    _fails(capsys, tree, tmp_path, 'kkwHdOvpCoc.json: no entry "kkwHdOvpCoc"', 'kinetics_train_label.json')
    del labels['sAP-xS5P0Bw']['has_skeleton']
    labels_path.write_text(json.dumps(labels))
    _fails(capsys, tree, tmp_path, 'entry "sAP-xS5P0Bw": missing key "has_skeleton"')


def test_missing_inputs(tmp_path, capsys):
    _fails(capsys, tmp_path / 'nowhere', tmp_path, 'kinetics_train: no such file or folder')


def test_skip_writes_the_rest_and_lists_the_bad_file(tree, tmp_path, capsys):
    _edit(tree / 'kinetics_train' / 'sAP-xS5P0Bw.json', lambda v: v['data'][0].pop('skeleton'))
    out = tmp_path / 'out'
    argv = ['--data-path', str(tree), '--out-folder', str(out), '--parts', 'train', '--on-error', 'skip']
    assert gen_kinetics_data.main(argv) == 0
    data, names, labels = _part(out, 'train')
    assert names == ['cU1fyH2QssA', 'kkwHdOvpCoc'] and labels == [91, 83] and data.shape[0] == 2
    np.testing.assert_array_equal(data[1], _reference(tree / 'kinetics_train' / 'kkwHdOvpCoc.json'))
    (line,) = (out / 'skipped.txt').read_text().splitlines()
    assert 'sAP-xS5P0Bw.json: data[0]: expected keys "frame_index" and "skeleton"' in line
    assert json.loads((out / 'meta.json').read_text())['parts']['train']['num_skipped'] == 1
    assert sorted(p.name for p in out.iterdir()) == [
        'meta.json', 'skipped.txt', 'train_data_joint.npy', 'train_label.pkl']


def test_videos_without_skeleton_are_left_out(tree, tmp_path):
    labels_path = tree / 'kinetics_train_label.json'
    labels = json.loads(labels_path.read_text())
    labels['cU1fyH2QssA']['has_skeleton'] = False
    labels_path.write_text(json.dumps(labels))
    assert gen_kinetics_data.main(['--data-path', str(tree), '--out-folder', str(tmp_path), '--parts', 'train']) == 0
    _, names, labels = _part(tmp_path, 'train')
    assert names == ['kkwHdOvpCoc', 'sAP-xS5P0Bw'] and labels == [83, 199]
    assert json.loads((tmp_path / 'meta.json').read_text())['parts']['train']['num_no_skeleton'] == 1


def test_runs_as_a_script(tree, tmp_path):
    result = subprocess.run([sys.executable, 'data_gen/gen_kinetics_data.py', '--data-path', str(tree),
                             '--out-folder', str(tmp_path / 'out'), '--parts', 'train'], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f'train: 3 samples, 0 skipped, 0 without skeleton -> {tmp_path / "out"}'
