"""data_gen/gen_tfrecord_data.py: shards, schema, shuffling, meta.json and clear errors."""
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from data_gen import gen_tfrecord_data as gen

N, SHAPE = 10, (3, 8, 25, 2)


def _write_pair(folder, n=N, shape=SHAPE, part='train', meta=True):
    data = np.random.default_rng(0).standard_normal((n,) + shape).astype(np.float32)
    names = [f'S001C001P{i + 1:03d}R001A{i % 3 + 1:03d}' for i in range(n)]
    labels = [i % 3 for i in range(n)]
    np.save(folder / f'{part}_data_joint.npy', data)
    with open(folder / f'{part}_label.pkl', 'wb') as f:
        pickle.dump((names, labels), f)
    if meta:
        (folder / 'meta.json').write_text(json.dumps({'data_mode': 'raw', 'num_class': 60, 'max_frame': shape[1]}))
    return data, names, labels


def _run(folder, dest, *extra, part='train'):
    return gen.main(['--data-path', str(folder / f'{part}_data_joint.npy'),
                     '--label-path', str(folder / f'{part}_label.pkl'), '--dest-folder', str(dest), *extra])


def _read_shard(path):
    """[(sample (C, T, V, M), label, name)] in file order, parsed with the plain TF ops of the 2019 port."""
    spec = {'features': tf.io.FixedLenFeature([], tf.string), 'label': tf.io.FixedLenFeature([], tf.int64),
            'name': tf.io.FixedLenFeature([], tf.string)}
    out = []
    for record in tf.data.TFRecordDataset(str(path)):
        ex = tf.io.parse_single_example(record, spec)
        out.append((tf.io.parse_tensor(ex['features'], tf.float32).numpy(), int(ex['label']),
                    ex['name'].numpy().decode()))
    return out


def test_shards_hold_every_sample_once_with_schema_and_meta(tmp_path):
    data, names, labels = _write_pair(tmp_path)
    assert _run(tmp_path, tmp_path / 'out', '--num-shards', '4') == 0
    meta = json.loads((tmp_path / 'out' / 'meta.json').read_text())
    shard_names = [f'train-{k}.tfrecord' for k in range(4)]
    assert list(meta['shards']) == shard_names
    assert {k: meta[k] for k in ('num_samples', 'num_shards', 'sample_shape', 'max_frame', 'data_mode', 'num_class')} \
        == {'num_samples': N, 'num_shards': 4, 'sample_shape': list(SHAPE), 'max_frame': SHAPE[1], 'data_mode': 'raw',
            'num_class': 60}
    records = []
    for name in shard_names:
        shard = _read_shard(tmp_path / 'out' / name)
        assert meta['shards'][name] == {'num_records': len(shard),
                                        'num_bytes': (tmp_path / 'out' / name).stat().st_size}
        records += shard
    assert sorted(r[2] for r in records) == sorted(names)
    for sample, label, name in records:
        i = names.index(name)
        assert label == labels[i] and sample.dtype == np.float32
        np.testing.assert_array_equal(sample, data[i])
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == sorted(shard_names + ['meta.json'])  # no temps


def _order(dest, num_shards):
    return [r[2] for k in range(num_shards) for r in _read_shard(dest / f'train-{k}.tfrecord')]


def test_shuffle_is_a_seeded_boolean(tmp_path):
    _, names, _ = _write_pair(tmp_path)
    _run(tmp_path, tmp_path / 'plain', '--num-shards', '3', '--no-shuffle')
    assert _order(tmp_path / 'plain', 3) == names  # contiguous chunks in the .npy order
    _run(tmp_path, tmp_path / 's0', '--num_shards', '3', '--seed', '0')  # shuffled by default; underscore alias
    _run(tmp_path, tmp_path / 's0again', '--num-shards', '3', '--shuffle', '--seed', '0')
    _run(tmp_path, tmp_path / 's1', '--num-shards', '3', '--shuffle', '--seed', '1')
    shuffled = _order(tmp_path / 's0', 3)
    assert shuffled == _order(tmp_path / 's0again', 3) and sorted(shuffled) == sorted(names)
    assert shuffled != names and shuffled != _order(tmp_path / 's1', 3)


def test_the_2019_ports_shuffle_values(tmp_path, capsys):
    _, names, _ = _write_pair(tmp_path)
    _run(tmp_path, tmp_path / 'false', '--num-shards', '3', '--shuffle', 'False')  # not read as a truthy string
    assert _order(tmp_path / 'false', 3) == names
    _run(tmp_path, tmp_path / 'true', '--num-shards', '3', '--shuffle', 'true', '--seed', '0')
    _run(tmp_path, tmp_path / 'flag', '--num-shards', '3', '--shuffle', '--seed', '0')
    assert _order(tmp_path / 'true', 3) == _order(tmp_path / 'flag', 3) != names
    with pytest.raises(SystemExit) as exit_info:
        _run(tmp_path, tmp_path / 'out', '--shuffle', 'maybe')
    assert exit_info.value.code == 2 and "expected true or false, got 'maybe'" in capsys.readouterr().err


def test_stem_meta_override_and_stale_shards(tmp_path):
    _write_pair(tmp_path, part='val', meta=False)
    dest = tmp_path / 'out'
    _run(tmp_path, dest, '--num-shards', '5', part='val')
    meta = json.loads((dest / 'meta.json').read_text())
    assert meta['data_mode'] is None and meta['num_class'] is None  # no meta.json beside the .npy
    _run(tmp_path, dest, '--num-shards', '2', '--data-mode', 'prenorm', '--num-class', '120', part='val')
    assert sorted(p.name for p in dest.glob('*.tfrecord')) == ['val-0.tfrecord', 'val-1.tfrecord']
    meta = json.loads((dest / 'meta.json').read_text())
    assert (meta['data_mode'], meta['num_class'], meta['num_shards']) == ('prenorm', 120, 2)


def test_more_shards_than_samples_writes_one_per_sample(tmp_path):
    _write_pair(tmp_path, n=3)
    _run(tmp_path, tmp_path / 'out', '--num-shards', '40')
    assert len(list((tmp_path / 'out').glob('*.tfrecord'))) == 3


def test_reads_through_a_memmap(tmp_path):
    _write_pair(tmp_path)
    data, _, _ = gen.load_inputs(tmp_path / 'train_data_joint.npy', tmp_path / 'train_label.pkl')
    assert isinstance(data, np.memmap)


def _expect_error(capsys, code, *fragments):
    assert code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'Traceback' not in err
    for fragment in fragments:
        assert fragment in err


def test_errors_exit_2_with_one_line(tmp_path, capsys):
    _write_pair(tmp_path)
    with open(tmp_path / 'train_label.pkl', 'wb') as f:
        pickle.dump(([f'S001C001P001R001A00{i}' for i in range(4)], [0] * 4), f)
    _expect_error(capsys, _run(tmp_path, tmp_path / 'out'), 'train_label.pkl', '4 labels', '10 samples')
    np.save(tmp_path / 'train_data_joint.npy', np.zeros((4, 3, 8, 25), np.float32))
    _expect_error(capsys, _run(tmp_path, tmp_path / 'out'), 'train_data_joint.npy',
                  'expected a float (N, C, T, V, M) array', '(4, 3, 8, 25)')
    _write_pair(tmp_path)
    (tmp_path / 'train_label.pkl').unlink()
    _expect_error(capsys, _run(tmp_path, tmp_path / 'out'), 'train_label.pkl: no such file')
    assert not (tmp_path / 'out').exists()


def test_a_fresh_process_prints_exactly_one_line(tmp_path):
    """Run as a script: no TensorFlow start-up logging in front of the error."""
    result = subprocess.run([sys.executable, 'data_gen/gen_tfrecord_data.py', '--data-path', str(tmp_path / 'x.npy'),
                             '--label-path', str(tmp_path / 'x.pkl'), '--dest-folder', str(tmp_path / 'out')],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f'error: {tmp_path / "x.npy"}: no such file\n'
