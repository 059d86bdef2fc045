"""data_gen/pyskl_preproc.py and data_gen/gen_pyskl_data.py against the loop re-statement of PYSKL's
tools/data/ntu_preproc.py (tests/reference_pyskl_preproc.py), on every real fixture file and on layouts built
from real bodies."""
import pathlib

import numpy as np
import pytest

from data_gen import gen_pyskl_data, ntu, pyskl_preproc
from data_gen.skeleton import read_skeleton
from storage import files
from tests import reference_pyskl_preproc as reference
from tests.test_gen_joint_data import _body_blocks, _edge_case_frames, _write_skeleton
from tests.cli_runs import run_main, run_script, skeleton_folder

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'ntu'
SKELETONS = sorted((FIXTURES / 'skeletons').glob('*.skeleton'))
BAD_FILE = FIXTURES / 'bad' / 'S001C001P001R001A002_field_count.skeleton'
SCRIPT = pathlib.Path(gen_pyskl_data.__file__)


def _fast(path, name=None):
    return pyskl_preproc.annotation(name or path.stem, read_skeleton(path, max_body=None), path)


def _assert_same_annotation(fast, expected):
    assert fast.keys() == expected.keys() == {'frame_dir', 'label', 'keypoint', 'total_frames'}
    assert fast['keypoint'].dtype == expected['keypoint'].dtype == np.float16
    np.testing.assert_array_equal(fast['keypoint'], expected['keypoint'])
    assert (fast['frame_dir'], fast['label'], fast['total_frames']) == \
        (expected['frame_dir'], expected['label'], expected['total_frames'])
    assert type(fast['label']) is int and type(fast['total_frames']) is int


# ------------------------------------------------------------------------------------------ per file

@pytest.mark.parametrize('path', SKELETONS, ids=lambda p: p.stem)
def test_annotation_equals_reference_on_every_real_file(path):
    skeleton = read_skeleton(path, max_body=None)
    float32 = pyskl_preproc.keypoint_array(pyskl_preproc.track_bodies(skeleton, path), path)
    expected32 = reference.keypoint_of(reference.parse_bodies(path))
    assert float32.dtype == np.float32
    np.testing.assert_array_equal(float32, expected32)  # before the float16 cast too
    fast = _fast(path)
    _assert_same_annotation(fast, reference.annotation(path, path.stem))
    assert fast['keypoint'].shape == (skeleton.body_counts.max(), skeleton.num_frames, 25, 3)


def test_real_fixtures_cover_one_and_two_bodies():
    persons = [_fast(p)['keypoint'].shape[0] for p in SKELETONS]
    assert len(persons) == 21 and persons.count(2) == 7 and persons.count(1) == 14


def _with_id(block, body_id):
    """A real 27-line body block under another body ID."""
    return [' '.join([str(body_id)] + block[0].split()[1:])] + block[1:]


def _lying(block, shift=0.0):
    """The body with x and y swapped (x also moved by `shift` metres): wider than tall, so spread_denoising
    calls the frame invalid."""
    joints = [line.split() for line in block[2:]]
    return block[:2] + [' '.join([f'{float(j[1]) + shift:.7f}', j[0]] + j[2:]) for j in joints]


def _layout(kind):
    """Frames (lists of body blocks) that take the branches the real files do not."""
    pair = _body_blocks('S001C003P008R002A058')  # 70 frames; body 1 moves more than body 0
    solo = _body_blocks('S001C001P001R001A002')  # 158 frames
    if kind == 'swap':
        # The more moving body arrives at frame 10: it fills track 0 from there, so track 0 starts empty
        # and the tracks are swapped.
        return [[pair[t][0]] for t in range(10)] + [pair[t] for t in range(10, 70)]
    if kind == 'denoise':
        # A short body alone first (dropped, so the kept tracks start empty and are cut), then the pair with
        # a lying body (noise, dropped) and a body lying 5 m away in 5 of its 30 frames: kept, with the motion
        # of its valid frames (all its frames' would put it first), the second of three overlapping bodies;
        # the least moving is in no track. The lying body alone at the end.
        frames = [[_with_id(solo[t][0], 333)] for t in range(6)]
        for t in range(40):
            partial = [_with_id(_lying(solo[t + 50][0], 5.0) if t < 5 else solo[t + 50][0], 222)] if t < 30 else []
            frames.append([pair[t][0], pair[t][1], _with_id(_lying(solo[t][0]), 111)] + partial)
        return frames + [[_with_id(_lying(solo[t][0]), 111)] for t in range(40, 44)]
    if kind == 'relay':
        # The pair fills both tracks for 30 frames, then a third body follows: it goes into track 0 only
        # (the first track it does not overlap), whichever of the three moves most.
        return [pair[t] for t in range(30)] + [[_with_id(solo[t][0], 9)] for t in range(30, 60)]
    raise ValueError(kind)


@pytest.mark.parametrize('kind', ['swap', 'denoise', 'relay', 'leading_empty', 'inner_gap'])
def test_annotation_equals_reference_on_built_layouts(tmp_path, kind):
    frames = _edge_case_frames(kind)[0] if kind in ('leading_empty', 'inner_gap') else _layout(kind)
    path = _write_skeleton(tmp_path / 'S001C001P001R001A001.skeleton', frames)
    skeleton = read_skeleton(path, max_body=None)
    fast32 = pyskl_preproc.keypoint_array(pyskl_preproc.track_bodies(skeleton, path), path)
    np.testing.assert_array_equal(fast32, reference.keypoint_of(reference.parse_bodies(path)))
    _assert_same_annotation(_fast(path), reference.annotation(path, path.stem))
    pair0 = read_skeleton(FIXTURES / 'skeletons' / 'S001C003P008R002A058.skeleton').xyz[:, 0].astype(np.float32)
    if kind == 'swap':  # swapped: the body listed from frame 0 comes first
        np.testing.assert_array_equal(fast32[0], pair0)
    if kind == 'denoise':  # the short body's frames cut off the front; the lying body and pair body 0 out
        assert fast32.shape == (2, 40, 25, 3)
        solo = read_skeleton(FIXTURES / 'skeletons' / 'S001C001P001R001A002.skeleton').xyz[:, 0]
        lying = solo[:40, :, [1, 0, 2]].astype(np.float32)  # (40, 25, 3)
        for out_of_tracks in (lying, pair0[:40]):
            assert not (fast32 == out_of_tracks).all(axis=(2, 3)).any()
        np.testing.assert_array_equal(fast32[1, 5:30], solo[55:80].astype(np.float32))  # the partly lying body
    if kind == 'relay':
        assert fast32.shape == (2, 60, 25, 3) and fast32.any(axis=(2, 3)).sum() == 90


@pytest.mark.parametrize('kind', ['no_body', 'only_short', 'only_noise'])
def test_files_ntu_preproc_cannot_annotate_are_errors_naming_the_file(tmp_path, kind):
    solo = _body_blocks('S001C001P001R001A002')
    frames = {'no_body': [[], [], []],
              'only_short': [[solo[t][0], _with_id(solo[t + 20][0], 5)] for t in range(11)],
              'only_noise': [[_lying(solo[t][0]), _with_id(_lying(solo[t + 20][0]), 5)] for t in range(20)]}[kind]
    path = _write_skeleton(tmp_path / 'S001C001P001R001A001.skeleton', frames)
    assert reference.annotation(path, path.stem) is None  # None in the pickle, or an assertion, upstream
    with pytest.raises(pyskl_preproc.AnnotateError, match=f'^{path}: ') as info:
        _fast(path)
    assert {'no_body': 'no body in any of its 3 frames', 'only_short': 'none listed in more than 11 frames',
            'only_noise': 'are spread noise'}[kind] in str(info.value)


# ------------------------------------------------------------------------------------------ splits

@pytest.mark.parametrize('dataset, extra, sizes', [
    ('ntu60', ['S001C002P040R001A001', 'S002C003P038R001A060'], (15, 8, 9, 14)),
    ('ntu120', ['S018C001P045R001A120', 'S031C003P044R002A061'], (15, 8, 3, 20)),
])
def test_splits_equal_ntu_preproc(dataset, extra, sizes):
    names = sorted([p.stem for p in SKELETONS] + extra)
    split = pyskl_preproc.splits(names, dataset)
    assert split == reference.split_lists(names, dataset)
    assert list(split) == list(pyskl_preproc.SPLIT_NAMES[dataset])
    assert tuple(len(v) for v in split.values()) == sizes


def test_constants_are_ntu_preproc_s():
    assert (pyskl_preproc.LENGTH_THRESHOLD, pyskl_preproc.WH_RATIO, pyskl_preproc.SPREAD_NOISE_RATIO,
            pyskl_preproc.EPS) == (11, 0.8, 0.69754, 1e-3)
    assert sorted(pyskl_preproc.PYSKL_TRAINING_SUBJECTS) == reference.TRAINING_SUBJECTS


# ------------------------------------------------------------------------------------------ the CLI

def _data_folder(tmp_path, extra=()):
    return skeleton_folder(tmp_path, SKELETONS, extra)


def _run(capsys, *args):
    return run_main(gen_pyskl_data.main, capsys, *args)


def _run_script(*args):
    return run_script(SCRIPT, *args)


def _check_pickle(out, data_folder, dataset, left_out=()):
    data = files.load_pickle(out)
    names = sorted(p.stem for p in data_folder.glob('*.skeleton')
                   if p.stem not in left_out and ntu.in_dataset(p.stem, dataset))
    assert list(data) == ['split', 'annotations']
    assert [a['frame_dir'] for a in data['annotations']] == names
    assert data['split'] == reference.split_lists(names, dataset)
    for annotation in data['annotations']:
        _assert_same_annotation(annotation, reference.annotation(data_folder / f'{annotation["frame_dir"]}.skeleton',
                                                                 annotation['frame_dir']))
    return data


@pytest.mark.parametrize('dataset', ['ntu60', 'ntu120'])
def test_pickle_equals_reference_and_workers_do_not_change_it(tmp_path, capsys, dataset):
    # A fixture copied under a name on NTU-120's missing list (left out for both datasets, as upstream) and
    # under an NTU-120-only setup (S018: only in ntu120).
    missing = sorted(ntu.load_missing(ntu.MISSING_LISTS['ntu120']) - ntu.load_missing(ntu.MISSING_LISTS['ntu60']))[0]
    data_folder = _data_folder(tmp_path, extra=[(f'{missing}.skeleton', SKELETONS[0]),
                                                ('S018C001P008R001A061.skeleton', SKELETONS[12])])
    one, two = tmp_path / 'one.pkl', tmp_path / 'two.pkl'
    code, stdout, _ = _run(capsys, '--data-path', data_folder, '--dataset', dataset, '--out', one)
    assert code == 0
    data = _check_pickle(one, data_folder, dataset, left_out={missing})
    assert len(data['annotations']) == {'ntu60': 21, 'ntu120': 22}[dataset]
    assert '1 on the missing-skeleton list' in stdout
    assert not (tmp_path / 'one.pkl.skipped.txt').exists()
    result = _run_script('--data_path', data_folder, '--dataset', dataset, '--out', two, '--workers', 2)
    assert result.returncode == 0, result.stderr
    # The same content (the bytes differ only in pickle's memo of objects shared in one process).
    parallel = files.load_pickle(two)
    assert parallel['split'] == data['split'] and len(parallel['annotations']) == len(data['annotations'])
    for a, b in zip(parallel['annotations'], data['annotations']):
        _assert_same_annotation(a, b)


def test_two_release_folders_for_ntu120(tmp_path, capsys):
    first, second = tmp_path / 'a', tmp_path / 'b'
    first.mkdir(), second.mkdir()
    for i, path in enumerate(SKELETONS):
        ((first, second)[i % 2] / path.name).symlink_to(path)
    out = tmp_path / 'ntu120.pkl'
    code, _, _ = _run(capsys, '--data-path', first, second, '--dataset', 'ntu120', '--out', out)
    assert code == 0
    assert [a['frame_dir'] for a in files.load_pickle(out)['annotations']] == [p.stem for p in SKELETONS]


def test_fail_mode_exits_2_naming_file_and_line(tmp_path):
    data_folder = _data_folder(tmp_path, extra=[('S001C001P001R001A012.skeleton', BAD_FILE)])
    out = tmp_path / 'ntu60.pkl'
    result = _run_script('--data-path', data_folder, '--out', out, '--workers', 2)
    assert result.returncode == 2
    assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr
    assert result.stderr.startswith(f'gen_pyskl_data: error: {data_folder / "S001C001P001R001A012.skeleton"}:6: '
                                    'expected 12 joint fields (frame 0, body 0, joint 1), found 13 fields')
    assert list(tmp_path.glob('*.pkl*')) == [] and not list(tmp_path.glob('.*'))  # nothing, no temporary


def test_skip_mode_leaves_bad_files_out_and_lists_them(tmp_path, capsys):
    empty = _write_skeleton(tmp_path / 'empty.skeleton', [[], []])
    data_folder = _data_folder(tmp_path, extra=[('S001C001P001R001A012.skeleton', BAD_FILE),
                                                ('S001C001P001R001A013.skeleton', empty),
                                                ('S001C001P001R001A01.skeleton', SKELETONS[0])])
    out = tmp_path / 'ntu60.pkl'
    code, stdout, _ = _run(capsys, '--data-path', data_folder, '--out', out, '--on-error', 'skip')
    assert code == 0
    _check_pickle(out, data_folder, 'ntu60', left_out={'S001C001P001R001A012', 'S001C001P001R001A013',
                                                       'S001C001P001R001A01'})
    lines = (tmp_path / 'ntu60.pkl.skipped.txt').read_text().splitlines()
    assert len(lines) == 3 and 'skipped 3 files' in stdout
    assert any(line.startswith(f'{data_folder / "S001C001P001R001A012.skeleton"}:6: expected 12 joint fields')
               for line in lines)
    assert f'{data_folder / "S001C001P001R001A013.skeleton"}: no body in any of its 2 frames' in ''.join(lines)
    assert any('S001C001P001R001A01.skeleton: expected a sample name like' in line for line in lines)

    # Fail mode on the same folder: exit 2 on the bad name first, the old pickle and list left alone.
    code, _, err = _run(capsys, '--data-path', data_folder, '--out', out)
    assert code == 2 and err.count('\n') == 1 and 'S001C001P001R001A01.skeleton' in err
    assert (tmp_path / 'ntu60.pkl.skipped.txt').exists()


@pytest.mark.parametrize('args, message', [
    (['--data-path', '{tmp}/none'], '{tmp}/none: no such data folder (--data-path)'),
    (['--out', '{tmp}'], '{tmp}: is a folder, expected the pickle to write (--out)'),
])
def test_bad_paths_exit_2(tmp_path, capsys, args, message):
    data_folder = _data_folder(tmp_path)
    argv = ['--data-path', data_folder, '--out', tmp_path / 'x.pkl'] + [a.format(tmp=tmp_path) for a in args]
    code, _, err = _run(capsys, *argv)
    assert code == 2 and err == f'gen_pyskl_data: error: {message.format(tmp=tmp_path)}\n'
