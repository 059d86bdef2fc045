"""Bone and motion streams: exact small arrays, a loop reference, chunking, atomic outputs, meta.json, errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from data_gen import gen_bone_data, gen_motion_data, streaming
from graphs import ntu_rgb_d, openpose


def _bone_loop(x, inward, center):
    """2s-AGCN's gen_bone_data loop, written out: one (child, parent) pair at a time, centre left at zero."""
    out = np.zeros_like(x)
    for child, parent in inward:
        out[:, :, :, child, :] = x[:, :, :, child, :] - x[:, :, :, parent, :]
    assert not np.any(out[:, :, :, center, :])
    return out


def _motion_loop(x):
    out = np.zeros_like(x)
    for t in range(x.shape[2] - 1):
        out[:, :, t] = x[:, :, t + 1] - x[:, :, t]
    return out


def _write_joint(folder, part, data, meta=None):
    np.save(folder / f'{part}_data_joint.npy', data.astype(np.float32))
    if meta is not None:
        (folder / 'meta.json').write_text(json.dumps(meta))


def test_parents_follow_the_official_edges():
    np.testing.assert_array_equal(gen_bone_data.parents('ntu-rgb+d'), ntu_rgb_d.PARENT)
    parent = gen_bone_data.parents('openpose')
    assert [v for v in range(18) if parent[v] == v] == [openpose.CENTER] == [1]  # the neck is the only root
    assert parent[0] == 1 and parent[4] == 3 and parent[17] == 15  # nose -> neck, wrist -> elbow, ear -> eye


def test_bone_of_a_three_joint_chain_by_hand():
    # Joint 21 (spine, the centre) -> joint 3 (neck) -> joint 4 (head); every other joint at the origin.
    x = np.zeros((1, 3, 1, 25, 1), np.float32)
    x[0, :, 0, 20, 0] = [1.0, 2.0, 3.0]
    x[0, :, 0, 2, 0] = [1.5, 2.5, 4.0]
    x[0, :, 0, 3, 0] = [2.0, 4.0, 4.5]
    bone = gen_bone_data.bones(x, gen_bone_data.parents('ntu-rgb+d'))[0, :, 0, :, 0].T  # (V, C)
    expected = np.zeros((25, 3), np.float32)
    expected[2] = [0.5, 0.5, 1.0]  # neck - spine
    expected[3] = [0.5, 1.5, 0.5]  # head - neck
    expected[[1, 4, 8]] = [-1.0, -2.0, -3.0]  # middle of spine, both shoulders: origin - spine
    np.testing.assert_array_equal(bone, expected)  # the centre's own bone (row 20) is zero


def test_motion_by_hand():
    x = np.array([0.0, 1.0, 3.0, 2.5], np.float32).reshape(1, 1, 4, 1, 1)
    np.testing.assert_array_equal(gen_motion_data.motion(x).ravel(), [1.0, 2.0, -0.5, 0.0])


@pytest.mark.parametrize('layout,spec', [('ntu-rgb+d', ntu_rgb_d), ('openpose', openpose)])
def test_cli_equals_loops_on_random_data(tmp_path, layout, spec):
    rng = np.random.default_rng(0)
    joint = rng.normal(size=(7, 3, 6, spec.NUM_NODE, 2)).astype(np.float32)
    _write_joint(tmp_path, 'train', joint)
    _write_joint(tmp_path, 'val', joint[:2])
    common = ['--data-dir', str(tmp_path), '--chunk-size', '3']
    assert gen_bone_data.main(common + ['--layout', layout]) == 0
    assert gen_motion_data.main(common) == 0
    bone = _bone_loop(joint, spec.INWARD, spec.CENTER)
    expected = {'bone': bone, 'joint_motion': _motion_loop(joint), 'bone_motion': _motion_loop(bone)}
    for stream, want in expected.items():
        got = np.load(tmp_path / f'train_data_{stream}.npy')
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(np.load(tmp_path / f'val_data_{stream}.npy'), want[:2], rtol=0, atol=1e-6)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f'{part}_data_{s}.npy' for part in ('train', 'val')
                           for s in ('joint', 'bone', 'joint_motion', 'bone_motion'))  # no temp files left


def test_chunks_are_bounded_and_the_output_is_their_concatenation(tmp_path):
    data = np.arange(7 * 2, dtype=np.float32).reshape(7, 1, 2, 1, 1)
    np.save(tmp_path / 'in.npy', data)
    seen = []

    def record(chunk):
        seen.append(len(chunk))
        return chunk * 2

    streaming.transform_npy(tmp_path / 'in.npy', tmp_path / 'out.npy', record, chunk_size=3)
    assert seen == [3, 3, 1]
    np.testing.assert_array_equal(np.load(tmp_path / 'out.npy'), data * 2)


def test_write_rows_packs_what_came_across_mapping_boundaries(tmp_path):
    capacity = streaming.DEFAULT_CHUNK + 44  # the writer maps the file afresh every DEFAULT_CHUNK rows
    kept = [i for i in range(capacity) if i % 7]  # every 7th input "skipped"
    rows = (np.full((1, 2, 1, 1), i, np.float32) for i in kept)
    assert streaming.write_rows(rows, capacity, tmp_path / 'out.npy', (1, 2, 1, 1)) == len(kept)
    out = np.load(tmp_path / 'out.npy')
    assert out.shape == (len(kept), 1, 2, 1, 1)
    np.testing.assert_array_equal(out[:, 0, 1, 0, 0], kept)
    assert [p.name for p in tmp_path.iterdir()] == ['out.npy']


def test_a_failed_transform_leaves_neither_output_nor_temp_file(tmp_path):
    np.save(tmp_path / 'in.npy', np.zeros((4, 1, 2, 1, 1), np.float32))

    calls = []

    def fail_on_second_chunk(chunk):
        calls.append(len(chunk))
        if len(calls) == 2:
            raise RuntimeError('interrupted')
        return chunk

    with pytest.raises(RuntimeError):
        streaming.transform_npy(tmp_path / 'in.npy', tmp_path / 'out.npy', fail_on_second_chunk, chunk_size=2)
    assert [p.name for p in tmp_path.iterdir()] == ['in.npy']


def test_meta_json_records_the_streams_and_keeps_the_rest(tmp_path):
    meta = {'dataset': 'ntu60', 'benchmark': 'xsub', 'data_mode': 'prenorm', 'num_class': 60,
            'max_frame': 4, 'parts': {'val': {'num_samples': 2, 'num_skipped': 0}}}
    _write_joint(tmp_path, 'val', np.ones((2, 3, 4, 25, 2)), meta)
    assert gen_bone_data.main(['--data-dir', str(tmp_path), '--parts', 'val']) == 0
    assert gen_motion_data.main(['--data-dir', str(tmp_path), '--parts', 'val']) == 0
    written = json.loads((tmp_path / 'meta.json').read_text())
    assert written.pop('streams') == {'bone': {'from': 'joint', 'layout': 'ntu-rgb+d'},
                                      'joint_motion': {'from': 'joint'}, 'bone_motion': {'from': 'bone'}}
    assert written == meta


def test_explicit_paths_copy_meta_and_take_the_layout_from_it(tmp_path):
    src, out = tmp_path / 'src', tmp_path / 'out'
    src.mkdir(), out.mkdir()
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 18, 2))
    _write_joint(src, 'val', x, {'dataset': 'kinetics', 'layout': 'openpose', 'num_class': 400})
    assert gen_bone_data.main(['--data-path', str(src / 'val_data_joint.npy'),
                               '--out', str(out / 'val_data_bone.npy')]) == 0
    np.testing.assert_allclose(np.load(out / 'val_data_bone.npy'),
                               _bone_loop(x.astype(np.float32), openpose.INWARD, openpose.CENTER), atol=1e-6)
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['num_class'] == 400 and meta['streams'] == {'bone': {'from': 'joint', 'layout': 'openpose'}}
    assert 'streams' not in json.loads((src / 'meta.json').read_text())


def _fails(capsys, main, argv, *fragments):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
    for fragment in fragments:
        assert fragment in err, err


def test_a_custom_layout_file_gives_each_joint_minus_its_parent(tmp_path, capsys):
    from tests.test_layouts import HAND_YAML, hand_dict

    (tmp_path / 'hand.yaml').write_text(HAND_YAML)
    x = np.random.default_rng(2).standard_normal((3, 3, 5, 10, 2)).astype(np.float32)
    _write_joint(tmp_path, 'val', x)
    assert gen_bone_data.main(['--data-dir', str(tmp_path), '--parts', 'val', '--layout-file',
                               str(tmp_path / 'hand.yaml')]) == 0
    parents_1based = hand_dict()['parents']  # the wrist hangs from the middle finger's base, the centre (6)
    expected = x - x[:, :, :, [p - 1 for p in parents_1based], :]
    np.testing.assert_array_equal(np.load(tmp_path / 'val_data_bone.npy'), expected)
    assert not expected[:, :, :, 5].any()  # the centre is its own parent
    _fails(capsys, gen_bone_data.main, ['--data-path', str(tmp_path / 'val_data_joint.npy'), '--out',
                                        str(tmp_path / 'o.npy'), '--layout-file', str(tmp_path / 'nope.yaml')],
           'nope.yaml: not a regular file')
    _write_joint(tmp_path, 'wide', np.zeros((1, 3, 2, 12, 1)))
    _fails(capsys, gen_bone_data.main, ['--data-dir', str(tmp_path), '--parts', 'wide', '--layout-file',
                                        str(tmp_path / 'hand.yaml')], 'V = 12 joints, but layout hand-10')


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    _fails(capsys, gen_bone_data.main, ['--data-dir', str(tmp_path), '--parts', 'val'],
           'val_data_joint.npy: no such file')
    _write_joint(tmp_path, 'val', np.zeros((2, 3, 4, 25, 2)))
    _fails(capsys, gen_motion_data.main, ['--data-dir', str(tmp_path), '--parts', 'val'],
           'val_data_bone.npy: no such file', 'bone stream first')
    assert not (tmp_path / 'val_data_joint_motion.npy').exists()  # inputs are checked before any output
    _fails(capsys, gen_bone_data.main, ['--data-dir', str(tmp_path), '--parts', 'val', '--layout', 'openpose'],
           'V = 25 joints', 'openpose has 18')
    np.save(tmp_path / 'rank4.npy', np.zeros((2, 3, 4, 25), np.float32))
    _fails(capsys, gen_motion_data.main, ['--data-path', str(tmp_path / 'rank4.npy'), '--out',
                                          str(tmp_path / 'o.npy')], 'rank4.npy', '(N, C, T, V, M)', '(2, 3, 4, 25)')
    np.save(tmp_path / 'odd_data_joint.npy', np.zeros((1, 3, 2, 20, 1), np.float32))
    _fails(capsys, gen_bone_data.main, ['--data-dir', str(tmp_path), '--parts', 'odd'], '20 joints match no layout')
    (tmp_path / 'text_data_joint.npy').write_text('not an array')
    _fails(capsys, gen_bone_data.main, ['--data-dir', str(tmp_path), '--parts', 'text'], 'not a readable .npy')


@pytest.mark.parametrize('command,outputs', [
    (['data_gen/gen_bone_data.py'], ['val_data_bone.npy']),
    (['-m', 'data_gen.gen_motion_data', '--streams', 'joint'], ['val_data_joint_motion.npy'])])
def test_runs_as_a_script_or_module(tmp_path, command, outputs):
    _write_joint(tmp_path, 'val', np.ones((1, 3, 2, 25, 2)))
    result = subprocess.run([sys.executable, *command, '--data-dir', str(tmp_path), '--parts', 'val'],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(['val_data_joint.npy'] + outputs)
    assert 'stream not recorded' in result.stdout  # no meta.json here: said, not silently skipped
