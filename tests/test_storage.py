"""The on-disk contract (storage/files.py): names, the meta.json reader and writer, the .npy + label pair, the
atomic writer."""
import json
import os
import pickle
import stat
import subprocess
import sys

import numpy as np
import pytest

from storage import files
from storage.files import StorageError


@pytest.mark.parametrize('name,parsed', [
    ('train_data_joint.npy', ('train', 'joint')),
    ('val_data_bone_motion.npy', ('val', 'bone_motion')),
    ('val_data.npy', ('val', 'joint')),  # the official st-gcn tools' name
    ('x.npy', ('x', None)),
])
def test_data_names(name, parsed):
    assert files.parse_data_name(f'/d/{name}') == parsed
    assert files.default_label_path(f'/d/{name}').name == f'{parsed[0]}_label.pkl'
    assert files.data_file('val', 'bone_motion') == 'val_data_bone_motion.npy'
    assert files.stream_name('val_data_bone_motion.npy') == 'bone_motion' and files.stream_name('x.npy') == 'x'


def test_importable_without_tensorflow():
    code = 'import sys; import storage.files; sys.exit("tensorflow" in sys.modules)'
    assert subprocess.run([sys.executable, '-c', code], cwd=os.path.dirname(os.path.dirname(__file__))).returncode == 0


def test_meta_round_trip_and_missing(tmp_path):
    assert files.read_meta(tmp_path) == {}
    with pytest.raises(StorageError, match='meta.json: no such file'):
        files.read_meta(tmp_path, missing_ok=False)
    meta = {'num_samples': 3, 'sample_shape': [3, 16, 25, 2], 'max_frame': 16, 'data_mode': 'raw', 'extra': [1]}
    files.write_meta(meta, tmp_path)
    assert files.read_meta(tmp_path) == meta
    assert files.read_meta(tmp_path / 'train_data_joint.npy') == meta  # the meta.json beside a file
    with pytest.raises(StorageError, match='missing key "num_class"'):
        files.read_meta(tmp_path, required=('num_class',))
    with pytest.raises(ValueError, match='"max_frame" must be an integer >= 1 or null'):
        files.write_meta({'max_frame': 0}, tmp_path)


@pytest.mark.parametrize('text,message', [
    ('{"num_samples": 3,\n "sample_shape": [3, 16, 25]\n}', r'meta.json:2: "sample_shape" must be a list \[C, T, V, M\]'),
    ('{"num_samples": 3,\n\n  oops}', r'meta.json:3:3: not valid JSON'),
    ('[1, 2]', 'meta.json: expected a JSON object, found list'),
    ('{"data_mode": 7}', 'meta.json:1: "data_mode" must be a string or null, found 7'),
    ('[' * 100000 + ']' * 100000, 'meta.json: JSON nested too deeply'),
])
def test_meta_errors_name_file_and_line(tmp_path, text, message):
    (tmp_path / 'meta.json').write_text(text)
    with pytest.raises(StorageError, match=message):
        files.read_meta(tmp_path)


def _write_pair(folder, n=4, labels=None):
    np.save(folder / 'train_data_joint.npy', np.zeros((n, 3, 8, 25, 2), np.float32))
    with open(folder / 'train_label.pkl', 'wb') as f:
        pickle.dump(([f'S001C001P001R001A{i + 1:03d}' for i in range(n)], labels or list(range(n))), f)


def test_npy_pair(tmp_path):
    _write_pair(tmp_path)
    data, names, labels = files.load_npy_pair(tmp_path / 'train_data_joint.npy')  # labels found beside it
    assert isinstance(data, np.memmap) and data.shape == (4, 3, 8, 25, 2)
    assert names[0] == 'S001C001P001R001A001' and labels.dtype == np.int64 and list(labels) == [0, 1, 2, 3]
    with open(tmp_path / 'train_label.pkl', 'wb') as f:
        pickle.dump((['a', 'b'], [0, 1]), f)
    with pytest.raises(StorageError, match='train_label.pkl: 2 labels but .*train_data_joint.npy holds 4 samples'):
        files.load_npy_pair(tmp_path / 'train_data_joint.npy')
    (tmp_path / 'train_label.pkl').write_bytes(b'not a pickle')
    with pytest.raises(StorageError, match='train_label.pkl: not a data pickle'):
        files.load_npy_pair(tmp_path / 'train_data_joint.npy')
    np.save(tmp_path / 'train_data_joint.npy', np.zeros((4, 3), np.float32))
    with pytest.raises(StorageError, match=r'expected a float \(N, C, T, V, M\) array, found float32 \(4, 3\)'):
        files.load_samples(tmp_path / 'train_data_joint.npy')


def test_atomic_write_keeps_the_umask_mode_and_leaves_nothing_on_failure(tmp_path):
    old = os.umask(0o022)
    try:
        files.write_text(['a', 'b'], tmp_path / 'out.txt')
    finally:
        os.umask(old)
    assert (tmp_path / 'out.txt').read_text() == 'a\nb\n'
    assert stat.S_IMODE((tmp_path / 'out.txt').stat().st_mode) == 0o644  # not mkstemp's 0600
    with pytest.raises(RuntimeError):
        with files.atomic_open(tmp_path / 'out.txt') as f:
            f.write('half')
            raise RuntimeError('killed midway')
    assert (tmp_path / 'out.txt').read_text() == 'a\nb\n'  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.txt']  # no temporary file left


def test_a_special_file_is_written_directly_not_replaced(tmp_path):
    files.write_json({'a': 1}, '/dev/null')
    assert stat.S_ISCHR(os.stat('/dev/null').st_mode)
    with pytest.raises(IsADirectoryError):
        files.write_text('x', tmp_path)


def test_atomic_folder_replaces_a_folder_whole(tmp_path):
    dest = tmp_path / 'export'
    with files.atomic_folder(dest) as tmp:
        (tmp / 'a').write_text('1')
    with pytest.raises(RuntimeError):
        with files.atomic_folder(dest) as tmp:
            (tmp / 'b').write_text('2')
            raise RuntimeError('killed midway')
    assert sorted(p.name for p in dest.iterdir()) == ['a']  # the earlier folder, untouched
    with files.atomic_folder(dest) as tmp:
        (tmp / 'b').write_text('2')
    assert sorted(p.name for p in dest.iterdir()) == ['b']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['export']


def test_json_written_is_readable(tmp_path):
    files.write_json({'x': [1, 2]}, tmp_path / 'a.json')
    assert json.loads((tmp_path / 'a.json').read_text()) == {'x': [1, 2]}


class _Payload:
    """Unpickling this runs `touch MARKER`: what a planted label or score file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_pickles_load_data_but_never_run_code(tmp_path):
    data = {'split': {'xsub_train': ['a']}, 'annotations': [
        {'frame_dir': 'a', 'label': 3, 'keypoint': np.ones((1, 2, 25, 3), np.float16), 'score': np.float32(0.5)}],
        'names': ('x', b'y'), 'set': {1, 2}}
    for protocol in (2, 4, 5):  # mmcv dumps PYSKL's pickles with protocol 2
        path = tmp_path / f'p{protocol}.pkl'
        path.write_bytes(pickle.dumps(data, protocol=protocol))
        loaded = files.load_pickle(path)
        assert loaded['annotations'][0]['keypoint'].dtype == np.float16 and loaded['names'] == ('x', b'y')
        np.testing.assert_array_equal(loaded['annotations'][0]['keypoint'], data['annotations'][0]['keypoint'])
    marker = tmp_path / 'ran'
    (tmp_path / 'evil.pkl').write_bytes(pickle.dumps((['a'], [_Payload(marker)])))
    with pytest.raises(StorageError, match=r'evil.pkl: not a data pickle \(refusing to load posix.system'):
        files.load_labels(tmp_path / 'evil.pkl')
    assert not marker.exists()
    (tmp_path / 'module.pkl').write_bytes(b'cno_such_module\nobj\n.')  # GLOBAL no_such_module.obj, STOP
    with pytest.raises(StorageError, match='refusing to load no_such_module.obj'):
        files.load_pickle(tmp_path / 'module.pkl')
