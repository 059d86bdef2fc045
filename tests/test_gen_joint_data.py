"""data_gen.preprocess against the loop-based reference, and data_gen/gen_joint_data.py end to end."""
import json
import pathlib
import pickle

import numpy as np
import pytest

from data_gen import gen_joint_data, ntu, preprocess
from data_gen.preprocess import sample_from_skeleton, skeleton_to_sample
from data_gen.skeleton import read_skeleton
from tests import reference_ntu
from tests.cli_runs import run_main, run_script, skeleton_folder

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'ntu'
SKELETONS = sorted((FIXTURES / 'skeletons').glob('*.skeleton'))
BAD_FILE = FIXTURES / 'bad' / 'S001C001P001R001A002_field_count.skeleton'
SCRIPT = pathlib.Path(gen_joint_data.__file__)


# ------------------------------------------------------------------------------------------ preprocess

@pytest.mark.parametrize('mode', preprocess.MODES)
@pytest.mark.parametrize('path', SKELETONS, ids=lambda p: p.stem)
def test_fast_path_equals_reference_on_real_files(path, mode):
    fast = skeleton_to_sample(path, mode, max_frame=300)
    assert fast.shape == (3, 300, 25, 2) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, reference_ntu.reference_sample(path, mode, max_frame=300), rtol=0, atol=1e-5)


def _body_blocks(name):
    """Per frame, the 27-line blocks (body line, joint count, 25 joints) of each body of a real file."""
    lines = (FIXTURES / 'skeletons' / f'{name}.skeleton').read_text().splitlines()
    frames, line = [], 1
    for _ in range(int(lines[0])):
        count = int(lines[line])
        frames.append([lines[line + 1 + 27 * m:line + 1 + 27 * (m + 1)] for m in range(count)])
        line += 1 + 27 * count
    return frames


def _write_skeleton(path, frames):
    lines = [str(len(frames))]
    for bodies in frames:
        lines += [str(len(bodies))] + sum(bodies, [])
    path.write_text('\n'.join(lines) + '\n')
    return path


def _edge_case_frames(layout):
    """Real bodies arranged as the full dataset has them, with the body count of each frame."""
    pair = _body_blocks('S001C003P008R002A058')  # two people
    solo = _body_blocks('S001C001P001R001A002')  # one person
    if layout == 'leading_empty':
        # Frames with no body first (S014C002P007R001A002 starts with 10), a body that appears late and
        # changes slot, a frame listing 5 bodies.
        frames = [[] for _ in range(5)] + [pair[t] for t in range(5, 20)] + [[] for _ in range(3)]
        frames += [[pair[t][1]] for t in range(23, 31)]
        frames += [pair[t] + solo[t] + pair[t + 1] for t in range(31, 36)]
        frames += [solo[t] for t in range(36, 40)]
        return frames, [0] * 5 + [2] * 15 + [0] * 3 + [1] * 8 + [5] * 5 + [1] * 4
    # 'inner_gap': frame 0 has a body, so a gap of empty frames stays in place (and must stay zero through
    # centring); the second person arrives late and is listed first for a while; empty frames at the end.
    frames = [[pair[t][0]] for t in range(10)] + [[] for _ in range(5)] + [pair[t] for t in range(15, 30)]
    frames += [[pair[t][1], pair[t][0]] for t in range(30, 35)] + [[] for _ in range(5)]
    return frames, [1] * 10 + [0] * 5 + [2] * 20 + [0] * 5


@pytest.mark.parametrize('max_frame', [300, 32])
@pytest.mark.parametrize('mode', preprocess.MODES)
@pytest.mark.parametrize('layout', ['leading_empty', 'inner_gap'])
def test_fast_path_equals_reference_on_edge_cases(tmp_path, layout, mode, max_frame):
    frames, body_counts = _edge_case_frames(layout)
    path = _write_skeleton(tmp_path / 'S001C001P001R001A001.skeleton', frames)
    skeleton = read_skeleton(path)
    assert skeleton.body_counts.tolist() == body_counts
    fast = sample_from_skeleton(skeleton, mode, max_frame)
    np.testing.assert_allclose(fast, reference_ntu.reference_sample(path, mode, max_frame), rtol=0, atol=1e-5)
    if (layout, mode) == ('inner_gap', 'prenorm'):
        # The listed-first slot moves less, so it is stored second; its frame 0 is non-empty, so its gap stays
        # in place and empty through centring. The other slot, empty at frame 0, was moved to the front.
        assert not fast[:, 10:15, :, 1].any() and fast[:, 15:35, :, 1].any(axis=(0, 2)).all()
        assert fast[:, :, :, 0].any(axis=(0, 2)).all()


def test_file_without_bodies_gives_zeros(tmp_path):
    path = _write_skeleton(tmp_path / 'S001C001P001R001A001.skeleton', [[], [], []])
    for mode in preprocess.MODES:
        sample = skeleton_to_sample(path, mode, max_frame=8)
        assert sample.shape == (3, 8, 25, 2) and not sample.any()
        np.testing.assert_array_equal(sample, reference_ntu.reference_sample(path, mode, max_frame=8))


def test_faithfulness_constants():
    # 2s-AGCN ntu_gendata: max_body_kinect 4, max_body_true 2; preprocess: centre joint #1, zaxis=[0, 1],
    # xaxis=[8, 4]; rotation.py threshold 1e-6 (docs/reference.md section 6: joints 2, 1 -> 2, 9 - 5, 1-based).
    assert (preprocess.MAX_BODY_KINECT, preprocess.MAX_BODY_TRUE) == (4, 2)
    assert preprocess.CENTER_JOINT == 1
    assert preprocess.Z_AXIS_JOINTS == (0, 1) and preprocess.X_AXIS_JOINTS == (8, 4)
    assert preprocess.ROTATION_EPS == 1e-6


def test_prenorm_invariants_on_a_real_file():
    sample = skeleton_to_sample(FIXTURES / 'skeletons' / 'S001C003P008R002A058.skeleton', 'prenorm', 300)
    np.testing.assert_array_equal(sample[:, :, 1, 0], 0)  # person 0's middle of spine at the origin
    shoulders = sample[:, 0, 8, 0] - sample[:, 0, 4, 0]  # right - left, person 0, frame 0
    assert shoulders[0] > 0.2 and np.abs(shoulders[1:]).max() < 1e-6
    assert sample[:, :, :, 1].any()  # the second person is kept


def test_rotation_matches_euler_rodrigues_and_aligns():
    rng = np.random.default_rng(0)
    for target in ((0, 0, 1), (1, 0, 0)):
        for vector in rng.normal(size=(20, 3)).astype(np.float32):
            matrix = preprocess.rotation_onto(vector, target)
            expected = reference_ntu.euler_rodrigues(np.cross(vector, target),
                                                     reference_ntu.angle_between(vector, list(target)))
            np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-12)
            turned = matrix @ vector
            np.testing.assert_allclose(turned / np.linalg.norm(turned), target, atol=1e-6)


@pytest.mark.parametrize('vector', [(0, 0, 0), (0, 0, 2.5), (0, 0, -1), (4e-7, 0, 4e-7)])
def test_degenerate_rotations_are_identity(vector):
    # Zero-length bone, bone already on +z, bone on -z (the reference's cross product vanishes), tiny bone.
    np.testing.assert_array_equal(preprocess.rotation_onto(np.float32(vector), (0, 0, 1)), np.eye(3))


def test_body_selection_keeps_the_most_moving_bodies_first():
    bodies = np.zeros((4, 10, 25, 3))
    bodies[0] = 1.0  # present, still
    bodies[2] = np.linspace(0, 1, 10)[:, None, None]  # moving
    bodies[3, :5] = np.linspace(0, 3, 5)[:, None, None]  # moving most, in half the frames
    selected = preprocess.select_bodies(bodies)
    np.testing.assert_array_equal(selected, bodies[[3, 2]])
    assert preprocess.body_energy(bodies[1]) == 0.0


def test_raw_mode_is_the_first_two_listed_bodies():
    path = FIXTURES / 'skeletons' / 'S001C001P001R001A050.skeleton'
    skeleton = read_skeleton(path)
    sample = skeleton_to_sample(path, 'raw', max_frame=100)
    np.testing.assert_array_equal(sample[:, :74].transpose(1, 3, 2, 0), skeleton.xyz[:, :2].astype(np.float32))
    assert not sample[:, 74:].any()


def test_unknown_mode_or_too_few_bodies_is_an_error():
    with pytest.raises(ValueError, match=r"mode must be one of \('prenorm', 'raw'\)"):
        skeleton_to_sample(SKELETONS[0], 'normalized')
    with pytest.raises(ValueError, match=r"needs a skeleton read with max_body >= 4, got 2"):
        sample_from_skeleton(read_skeleton(SKELETONS[0], max_body=2), 'prenorm')


# ------------------------------------------------------------------------------------- gen_joint_data

def _data_folder(tmp_path, extra=()):
    return skeleton_folder(tmp_path, SKELETONS, extra)


def _run(capsys, *args):
    return run_main(gen_joint_data.main, capsys, *args)


def _run_script(*args):
    return run_script(SCRIPT, *args)


def _load_part(folder, part):
    data = np.load(folder / f'{part}_data_joint.npy')
    with open(folder / f'{part}_label.pkl', 'rb') as f:
        names, labels = pickle.load(f)
    return data, names, labels


def _check_outputs(out, data_folder, dataset, benchmarks, mode, max_frame, skipped=()):
    """Every part holds exactly its split's names, sorted, with labels and samples as the fast path makes them."""
    names_all = sorted(p.stem for p in data_folder.glob('*.skeleton') if p.stem not in skipped)
    for benchmark in benchmarks:
        folder = out / benchmark
        assert not [p.name for p in folder.iterdir() if '.tmp' in p.name]
        meta = json.loads((folder / 'meta.json').read_text())
        parts = {}
        for part in ('train', 'val'):
            data, names, labels = _load_part(folder, part)
            expected = [n for n in names_all if ntu.is_training(n, benchmark, dataset) == (part == 'train')]
            assert names == expected and names == sorted(names)
            assert labels == [ntu.parse_name(n)[4] - 1 for n in names]
            assert data.shape == (len(names), 3, max_frame, 25, 2) and data.dtype == np.float32
            for row, name in zip(data, names):
                np.testing.assert_array_equal(row, skeleton_to_sample(data_folder / f'{name}.skeleton', mode,
                                                                      max_frame))
            parts[part] = len(names)
        assert meta['dataset'] == dataset and meta['benchmark'] == benchmark and meta['data_mode'] == mode
        assert meta['max_frame'] == max_frame and meta['num_class'] == ntu.NUM_CLASS[dataset]
        assert {p: v['num_samples'] for p, v in meta['parts'].items()} == parts


def test_ntu60_end_to_end_and_rerun_overwrites(tmp_path, capsys):
    data_folder, out = _data_folder(tmp_path), tmp_path / 'ntu'
    code, stdout, _ = _run(capsys, '--data-path', data_folder, '--out-folder', out, '--max-frame', 32)
    assert code == 0
    _check_outputs(out, data_folder, 'ntu60', ('xsub', 'xview'), 'prenorm', 32)
    assert 'xsub: train 14 samples (0 skipped), val 7 samples (0 skipped)' in stdout
    assert 'xview: train 7 samples (0 skipped), val 14 samples (0 skipped)' in stdout
    frames_beyond_32 = sum(read_skeleton(p).num_frames - 32 for p in SKELETONS)
    assert f'frames beyond max_frame dropped: {frames_beyond_32} in 21 files' in stdout
    assert not (out / 'xsub' / 'skipped.txt').exists()

    # Same folder, another mode and length, 2s-AGCN's underscore spellings: everything replaced.
    code, _, _ = _run(capsys, '--data_path', data_folder, '--out_folder', out, '--mode', 'raw', '--max_frame', 16,
                      '--ignored_sample_path', ntu.MISSING_LISTS['ntu60'])
    assert code == 0
    _check_outputs(out, data_folder, 'ntu60', ('xsub', 'xview'), 'raw', 16)


def test_ntu120_benchmarks_and_ignored_list(tmp_path, capsys):
    data_folder, out = _data_folder(tmp_path), tmp_path / 'ntu120'
    ignored = tmp_path / 'ignored.txt'
    ignored.write_text('header line\nsecond header\n\nS017C003P020R002A054\n')
    code, stdout, _ = _run(capsys, '--dataset', 'ntu120', '--data-path', data_folder, '--out-folder', out,
                           '--max-frame', 8, '--ignored-sample-path', ignored)
    assert code == 0
    _check_outputs(out, data_folder, 'ntu120', ('xsub', 'xset'), 'prenorm', 8, skipped={'S017C003P020R002A054'})
    assert '1 on the missing-skeleton list' in stdout


def test_parallel_workers_and_skip_mode(tmp_path):
    # The real corrupted file, under a valid name, plus a file whose name is not a sample name.
    data_folder = _data_folder(tmp_path, extra=[('S001C001P001R001A002.skeleton', BAD_FILE),
                                                ('S001C001P001R001A02.skeleton', SKELETONS[0])])
    out = tmp_path / 'ntu'
    result = _run_script('--data-path', data_folder, '--out-folder', out, '--max-frame', 32, '--workers', 2,
                         '--on-error', 'skip')
    assert result.returncode == 0, result.stderr
    _check_outputs(out, data_folder, 'ntu60', ('xsub', 'xview'), 'prenorm', 32,
                   skipped={'S001C001P001R001A002', 'S001C001P001R001A02'})
    for benchmark, part in (('xsub', 'train'), ('xview', 'val')):  # P001 trains in xsub, C001 is xview's test
        lines = (out / benchmark / 'skipped.txt').read_text().splitlines()
        assert len(lines) == 2
        assert any(line.endswith('S001C001P001R001A002.skeleton:6: expected 12 joint fields (frame 0, body 0, '
                                 'joint 1), found 13 fields ' + repr(BAD_FILE.read_text().splitlines()[5]))
                   for line in lines)
        assert any('S001C001P001R001A02.skeleton: expected a sample name like' in line for line in lines)
        assert json.loads((out / benchmark / 'meta.json').read_text())['parts'][part]['num_skipped'] == 1
    assert 'skipped 2 files' in result.stdout and 'S001C001P001R001A002.skeleton:6:' in result.stdout


def test_fail_mode_exits_2_naming_file_and_line(tmp_path):
    data_folder = _data_folder(tmp_path, extra=[('S001C001P001R001A002.skeleton', BAD_FILE)])
    out = tmp_path / 'ntu'
    result = _run_script('--data-path', data_folder, '--out-folder', out, '--max-frame', 8, '--workers', 2)
    assert result.returncode == 2
    assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr
    assert f'{data_folder / "S001C001P001R001A002.skeleton"}:6: expected 12 joint fields' in result.stderr
    assert not [p for p in out.rglob('*') if p.is_file()]  # nothing that looks finished, no temporary left


def test_bad_name_fails_by_default(tmp_path, capsys):
    data_folder = _data_folder(tmp_path, extra=[('S1C1P1R1A1.skeleton', SKELETONS[0])])
    code, _, err = _run(capsys, '--data-path', data_folder, '--out-folder', tmp_path / 'out')
    assert code == 2
    assert "S1C1P1R1A1.skeleton: expected a sample name like S001C001P001R001A001 (SsssCcccPpppRrrrAaaa)" in err


@pytest.mark.parametrize('case', ['missing', 'empty', 'no_skeletons'])
def test_missing_or_empty_data_folder(tmp_path, capsys, case):
    folder = tmp_path / 'data'
    if case != 'missing':
        folder.mkdir()
    if case == 'no_skeletons':
        (folder / 'README.txt').write_text('not a skeleton')
    code, _, err = _run(capsys, '--data-path', folder, '--out-folder', tmp_path / 'out')
    assert code == 2 and err.count('\n') == 1
    assert f'{folder}' in err and '(--data-path)' in err
    assert not (tmp_path / 'out').exists()


def test_bad_flags_exit_2(tmp_path, capsys):
    for args in (['--dataset', 'ntu60', '--benchmark', 'xset'], ['--mode', 'normalized'], ['--max-frame', '0']):
        with pytest.raises(SystemExit) as info:
            gen_joint_data.parse_args(args)
        assert info.value.code == 2
    assert "'xset' is not a ntu60 benchmark (choose from xsub, xview)" in capsys.readouterr().err


def test_only_requested_parts_are_read(tmp_path, capsys):
    data_folder, out = _data_folder(tmp_path), tmp_path / 'ntu'
    code, stdout, _ = _run(capsys, '--data-path', data_folder, '--out-folder', out, '--max-frame', 4,
                           '--benchmark', 'xview', '--part', 'train')
    assert code == 0 and 'read 7 files' in stdout
    assert sorted(p.name for p in (out / 'xview').iterdir()) == ['meta.json', 'train_data_joint.npy',
                                                                 'train_label.pkl']
    assert not (out / 'xsub').exists()


def test_zero_body_frames_are_counted_and_an_empty_part_is_written(tmp_path, capsys):
    frames, body_counts = _edge_case_frames('leading_empty')
    data_folder = tmp_path / 'skeletons'
    data_folder.mkdir()
    _write_skeleton(data_folder / 'S001C001P001R001A001.skeleton', frames)  # P001: xsub train; C001: xview val
    out = tmp_path / 'ntu'
    code, stdout, _ = _run(capsys, '--data-path', data_folder, '--out-folder', out, '--max-frame', 32)
    assert code == 0
    assert f'frames with no body: {body_counts.count(0)} ' in stdout
    assert f'frames beyond max_frame dropped: {len(frames) - 32} in 1 files' in stdout
    _check_outputs(out, data_folder, 'ntu60', ('xsub', 'xview'), 'prenorm', 32)
    assert np.load(out / 'xsub' / 'val_data_joint.npy').shape == (0, 3, 32, 25, 2)
