"""feeders/pyskl_annotations.py on PYSKL-layout pickles built here (3D and 2D), on one made by gen_pyskl_data from
the real fixtures, and on every kind of bad input."""
import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

from data_gen import gen_pyskl_data
from feeders.pyskl_annotations import AnnotationError, describe, load_annotations
from storage import files

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'ntu'


def _annotation(name, label, shape, kind='3d', seed=0):
    """One annotation as PYSKL stores it. Shape: (M, T, V) -> keypoint (M, T, V, 3 or 2)."""
    rng = np.random.default_rng(seed)
    channels = 3 if kind == '3d' else 2
    out = {'frame_dir': name, 'label': label, 'total_frames': shape[1],
           'keypoint': rng.normal(size=shape + (channels,)).astype(np.float16)}
    if kind == '2d':
        out['keypoint_score'] = rng.uniform(size=shape).astype(np.float16)
        out['img_shape'] = (1080, 1920)
    return out


def _pickle(tmp_path, kind='3d', edit=None, name='ann.pkl'):
    """A small pickle: 4 annotations (1 or 2 persons, T 5..8), splits 'train' [c, a] and 'val' [b, d]."""
    num_node = 25 if kind == '3d' else 17
    annotations = [_annotation(n, label, (1 + i % 2, 5 + i, num_node), kind, seed=i)
                   for i, (n, label) in enumerate([('a', 0), ('b', 4), ('c', 2), ('d', 1)])]
    data = {'split': {'train': ['c', 'a'], 'val': ['b', 'd']}, 'annotations': annotations}
    if edit:
        edit(data)
    path = tmp_path / name
    files.write_pickle(data, path)
    return path, data


@pytest.mark.parametrize('kind, num_node', [('3d', 25), ('2d', 17)])
def test_split_in_its_order_and_describe(tmp_path, kind, num_node):
    path, data = _pickle(tmp_path, kind)
    train = load_annotations(path, 'train', num_node=num_node)
    assert [a['frame_dir'] for a in train] == ['c', 'a']
    expected = {a['frame_dir']: a for a in data['annotations']}
    for annotation in train:
        original = expected[annotation['frame_dir']]
        assert annotation.keys() == original.keys()
        np.testing.assert_array_equal(annotation['keypoint'], original['keypoint'])
        assert annotation['keypoint'].dtype == np.float16
    assert [a['frame_dir'] for a in load_annotations(path, 'val')] == ['b', 'd']
    assert describe(path) == {'splits': {'train': 2, 'val': 2}, 'kind': kind, 'num_node': num_node, 'num_class': 5}


def test_a_pickle_made_by_gen_pyskl_data_from_the_real_fixtures(tmp_path, capsys):
    out = tmp_path / 'ntu60_3danno.pkl'
    assert gen_pyskl_data.main(['--data-path', str(FIXTURES / 'skeletons'), '--out', str(out), '--workers', '1',
                                '--no-progress']) == 0
    capsys.readouterr()
    assert describe(out) == {'splits': {'xsub_train': 14, 'xsub_val': 7, 'xview_train': 7, 'xview_val': 14},
                             'kind': '3d', 'num_node': 25, 'num_class': 58}  # A058 is the highest action
    data = files.load_pickle(out)
    for split, names in data['split'].items():
        annotations = load_annotations(out, split, num_node=25)
        assert [a['frame_dir'] for a in annotations] == names
        assert all(a['keypoint'].shape[1] == a['total_frames'] for a in annotations)


def _set(index, key, value):
    def edit(data):
        data['annotations'][index][key] = value
    return edit


def _drop(index, key):
    def edit(data):
        del data['annotations'][index][key]
    return edit


BAD = {
    'no split key': ('3d', lambda d: d.pop('split'), "missing key 'split'"),
    'unknown split': ('3d', None, "no split 'xsub_train' (the file has: train, val)"),
    'frame_dir not annotated': ('3d', lambda d: d['split']['train'].append('e'),
                                "frame_dir 'e' is in split 'train' but has no annotation"),
    'keypoint 3-d': ('3d', _set(0, 'keypoint', np.zeros((5, 25, 3), np.float16)),
                     "frame_dir 'a': keypoint must be a 4-d (M, T, V, C) array, found float16 array of shape "
                     '(5, 25, 3)'),
    'V not num_node': ('3d', _set(2, 'keypoint', np.zeros((1, 7, 18, 3), np.float16)),
                       "frame_dir 'c': keypoint has V = 18 joints, expected 25"),
    'total_frames not T': ('3d', _set(0, 'total_frames', 6),
                           "frame_dir 'a': total_frames is 6 but keypoint has T = 5"),
    'C not 2 or 3': ('3d', _set(0, 'keypoint', np.zeros((1, 5, 25, 4), np.float16)),
                     "frame_dir 'a': keypoint (M, T, V, C) has C = 4; expected 2 (2D) or 3 (3D)"),
    'non-finite': ('3d', _set(2, 'keypoint', np.full((1, 7, 25, 3), np.nan, np.float16)),
                   "frame_dir 'c': keypoint has non-finite values"),
    'negative label': ('3d', _set(0, 'label', -1), "frame_dir 'a': label must be a non-negative integer, found -1"),
    'float label': ('3d', _set(0, 'label', 1.0), "frame_dir 'a': label must be a non-negative integer, found 1.0"),
    'bool label': ('3d', _set(0, 'label', True), "frame_dir 'a': label must be a non-negative integer, found True"),
    'None annotation': ('3d', lambda d: d['annotations'].__setitem__(3, None),
                        'annotation 3 is not a dict with a "frame_dir" string, found NoneType (ntu_preproc.py'),
    'no score (2D)': ('2d', _drop(2, 'keypoint_score'),
                      "frame_dir 'c': a 2D annotation needs keypoint_score of shape (M, T, V) = (1, 7, 17), "
                      'found nothing'),
    'score shape (2D)': ('2d', _set(0, 'keypoint_score', np.ones((1, 5, 18), np.float16)),
                         "frame_dir 'a': a 2D annotation needs keypoint_score of shape (M, T, V) = (1, 5, 17)"),
    'no img_shape (2D)': ('2d', _drop(0, 'img_shape'),
                          "frame_dir 'a': a 2D annotation needs img_shape (h, w) of positive integers, found None"),
}


@pytest.mark.parametrize('case', BAD, ids=list(BAD))
def test_bad_input_is_one_line_naming_file_and_frame_dir(tmp_path, case):
    kind, edit, message = BAD[case]
    path, _ = _pickle(tmp_path, kind, edit)
    split = 'xsub_train' if case == 'unknown split' else 'train'
    num_node = 25 if kind == '3d' else 17
    with pytest.raises(files.StorageError) as info:
        load_annotations(path, split, num_node=num_node)
    assert isinstance(info.value, AnnotationError)
    assert str(info.value).startswith(f'{path}: {message}') and '\n' not in str(info.value)
    if case not in ('unknown split', 'V not num_node'):  # describe reads every split and fixes V from the data
        with pytest.raises(AnnotationError, match=f'^{path}: '):
            describe(path)


def test_files_that_are_not_annotation_pickles(tmp_path):
    payload = tmp_path / 'payload.pkl'
    payload.write_bytes(pickle.dumps(os.system))  # a global: refused by load_pickle, never called
    with pytest.raises(files.StorageError, match='refusing to load'):
        load_annotations(payload, 'train')
    listing = tmp_path / 'list.pkl'
    files.write_pickle([1, 2], listing)
    with pytest.raises(AnnotationError, match='expected a dict with keys "split" and "annotations", found list'):
        describe(listing)
    with pytest.raises(files.StorageError, match='no such file'):
        describe(tmp_path / 'none.pkl')


def test_mixed_kinds_in_one_split_are_an_error(tmp_path):
    def edit(data):
        data['annotations'][0] = _annotation('a', 0, (1, 5, 25), '2d')
    path, _ = _pickle(tmp_path, '3d', edit)
    with pytest.raises(AnnotationError, match="frame_dir 'a': a 2d keypoint among 3d ones"):
        load_annotations(path, 'train')  # c (3d) is read first


def test_importing_the_reader_does_not_start_tensorflow():
    code = 'import sys, feeders.pyskl_annotations; sys.exit("tensorflow" in sys.modules)'
    assert subprocess.run([sys.executable, '-c', code], cwd=pathlib.Path(__file__).parents[1]).returncode == 0
