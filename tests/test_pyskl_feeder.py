"""make_pyskl_dataset against numpy re-statements of PYSKL's test pipeline (PreNormalize3D/2D -> GenSkeFeat ->
UniformSample(test) -> PoseDecode -> FormatGCNInput), to 1e-5, on a pickle made by data_gen/gen_pyskl_data.py
from the real NTU fixtures (plus edited samples) and on a small 2D pickle; seeded training; per-replica batches.

The re-statements of the transforms are tests/test_pyskl_transforms.py's (kennymckormick/pyskl:pyskl/datasets/
pipelines/pose_related.py); the test clips are feeders/pyskl_sampling.test_clip_indices, itself checked against
PYSKL's UniformSampleFrames for every length 1..400 in tests/test_pyskl_sampling.py.
"""
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf

from data_gen import gen_pyskl_data, pyskl_preproc
from feeders import pyskl_feeder, pyskl_sampling
from storage import files
from tests import test_pyskl_transforms as pyskl

SKELETONS = sorted((pathlib.Path(__file__).parent / 'fixtures' / 'ntu' / 'skeletons').glob('*.skeleton'))
ATOL = 1e-5
CLIP_LEN = 32  # the fixtures' lengths (20..300 kept frames) then reach all three of UniformSample's cases
ALL = ('j', 'b', 'jm', 'bm')


def _edited(annotations):
    """Real keypoints edited to reach PreNormalize3D's branches: the second person in more frames (a swap),
    frames with nobody, a sample shorter than the clip."""
    two = next(a for a in annotations if a['keypoint'].shape[0] == 2)['keypoint'][:, :40].copy()
    swap, gaps = two.copy(), two.copy()
    swap[0, :12] = 0
    gaps[:, [0, 7, 39]] = 0
    short = annotations[0]['keypoint'][:, :20]
    return [{'frame_dir': f'edited_{name}', 'label': 3, 'keypoint': keypoint, 'total_frames': keypoint.shape[1]}
            for name, keypoint in (('swap', swap), ('gaps', gaps), ('short', short))]


@pytest.fixture(scope='module')
def ntu_pickle(tmp_path_factory):
    annotations = [gen_pyskl_data.annotate_file((path.stem, path))[1] for path in SKELETONS]
    split = pyskl_preproc.splits([a['frame_dir'] for a in annotations], 'ntu60')
    edited = _edited(annotations)
    split['all'] = [a['frame_dir'] for a in annotations + edited]
    path = tmp_path_factory.mktemp('pyskl') / 'ntu60_3danno.pkl'
    files.write_pickle({'split': split, 'annotations': annotations + edited}, path)
    return path, {a['frame_dir']: a for a in annotations + edited}, split


@pytest.fixture(scope='module')
def hrnet_pickle(tmp_path_factory):
    """2D poses as in PYSKL's ntu60_hrnet.pkl: float16 pixel x, y and scores, 1 to 3 persons, two image shapes."""
    rng = np.random.default_rng(0)
    annotations = []
    for i, (persons, frames, img_shape) in enumerate([(1, 70, (1080, 1920)), (3, 40, (480, 640)), (2, 12, (1080, 1920)),
                                                      (2, 33, (480, 640)), (1, 5, (720, 1280))]):
        h, w = img_shape
        xy = (rng.uniform(0, 1, (persons, frames, 17, 2)) * [w, h]).astype(np.float16)
        annotations.append({'frame_dir': f'S001C001P001R001A{i + 1:03d}', 'label': i, 'total_frames': frames,
                            'keypoint': xy, 'img_shape': img_shape,
                            'keypoint_score': rng.uniform(0, 1, (persons, frames, 17)).astype(np.float16)})
    path = tmp_path_factory.mktemp('pyskl') / 'ntu60_hrnet.pkl'
    names = [a['frame_dir'] for a in annotations]
    files.write_pickle({'split': {'xsub_train': names[:4], 'xsub_val': names}, 'annotations': annotations}, path)
    return path, {a['frame_dir']: a for a in annotations}


# ---- numpy re-statements of PYSKL's test pipeline ----

def _pyskl_test_3d(annotation, feats, num_clips):
    keypoint = pyskl._pyskl_pre_normalize_3d(annotation['keypoint'])  # (M, T', V, 3)
    feat = pyskl._pyskl_gen_ske_feat(keypoint, 'nturgb+d', feats)
    inds = pyskl_sampling.test_clip_indices(keypoint.shape[1], CLIP_LEN, num_clips).ravel()
    return pyskl._pyskl_format_gcn_input(feat[:, inds], 2, num_clips)  # (nc, C, L, V, M)


def _pyskl_test_2d(annotation, feats, num_clips):
    keypoint = annotation['keypoint'].copy()  # PreNormalize2D works in place, in the pickle's float16
    h, w = annotation['img_shape']
    keypoint[..., 0] = (keypoint[..., 0] - (w / 2)) / (w / 2)
    keypoint[..., 1] = (keypoint[..., 1] - (h / 2)) / (h / 2)
    keypoint = np.concatenate([keypoint, annotation['keypoint_score'][..., None]], -1)  # GenSkeFeat's concat
    feat = pyskl._pyskl_gen_ske_feat(keypoint, 'coco', feats)
    inds = pyskl_sampling.test_clip_indices(keypoint.shape[1], CLIP_LEN, num_clips).ravel()
    return pyskl._pyskl_format_gcn_input(feat[:, inds], 2, num_clips)


def _test_batches(path, split, feats, num_clips, layout='ntu-rgb+d-pyskl', global_batch=4, input_context=None):
    dataset = pyskl_feeder.make_pyskl_dataset(path, split, global_batch, training=False, input_context=input_context,
                                              clip_len=CLIP_LEN, num_clips=num_clips, feats=feats, layout=layout)
    return [(x.numpy(), y.numpy(), [n.decode() for n in name.numpy()]) for x, y, name in dataset]


# ---- test clips ----

@pytest.mark.parametrize('feats,num_clips', [(('j',), 10), (ALL, 3), (('bm', 'j'), 1)])
def test_test_clips_equal_pyskl_3d(ntu_pickle, feats, num_clips):
    path, by_name, split = ntu_pickle
    batches = _test_batches(path, 'all', feats, num_clips)
    assert [len(y) for _, y, _ in batches] == [4, 4, 4, 4, 4, 4]  # 24 samples, the remainder kept
    names = [n for _, _, batch in batches for n in batch]
    assert names == split['all']
    for x, labels, batch in batches:
        assert x.dtype == np.float32 and x.shape[1:] == (num_clips, 3 * len(feats), CLIP_LEN, 25, 2)
        for b, name in enumerate(batch):
            assert labels[b] == by_name[name]['label']
            np.testing.assert_allclose(x[b], _pyskl_test_3d(by_name[name], feats, num_clips), rtol=0, atol=ATOL,
                                       err_msg=name)


def test_test_clips_are_pyskl_s_seed_255_frames(ntu_pickle):
    """The frames are those test_clip_indices selects: another seed's indices give other inputs."""
    path, by_name, _ = ntu_pickle
    name = 'S001C001P001R001A001'  # 103 frames: the T >= 2 clip_len case, where every clip is random
    x = _test_batches(path, 'xsub_train', ('j',), 2)[0][0][0]
    keypoint = pyskl._pyskl_pre_normalize_3d(by_name[name]['keypoint'])
    rng = np.random.RandomState(0)
    other = np.concatenate([np.sort(rng.choice(103, CLIP_LEN, replace=False)) for _ in range(2)])
    assert np.abs(x - pyskl._pyskl_format_gcn_input(keypoint[:, other], 2, 2)).max() > 10 * ATOL
    np.testing.assert_allclose(x, _pyskl_test_3d(by_name[name], ('j',), 2), rtol=0, atol=ATOL)


@pytest.mark.parametrize('feats,num_clips', [(('j',), 2), (ALL, 1)])
def test_test_clips_equal_pyskl_2d(hrnet_pickle, feats, num_clips):
    path, by_name = hrnet_pickle
    batches = _test_batches(path, 'xsub_val', feats, num_clips, layout='coco', global_batch=2)
    assert [len(y) for _, y, _ in batches] == [2, 2, 1]
    for x, labels, batch in batches:
        assert x.shape[1:] == (num_clips, 3 * len(feats), CLIP_LEN, 17, 2)
        for b, name in enumerate(batch):
            assert labels[b] == by_name[name]['label']
            np.testing.assert_allclose(x[b], _pyskl_test_2d(by_name[name], feats, num_clips), rtol=0, atol=ATOL,
                                       err_msg=name)


def test_meta(ntu_pickle, hrnet_pickle):
    assert pyskl_feeder.read_pyskl_meta(ntu_pickle[0], 'xsub_val', clip_len=CLIP_LEN, feats=ALL) == {
        'num_samples': 7, 'sample_shape': [12, CLIP_LEN, 25, 2], 'num_class': 58, 'data_mode': 'pyskl3d',
        'max_frame': CLIP_LEN, 'layout': 'ntu-rgb+d-pyskl'}
    assert pyskl_feeder.read_pyskl_meta(hrnet_pickle[0], 'xsub_train') == {
        'num_samples': 4, 'sample_shape': [3, 100, 17, 2], 'num_class': 5, 'data_mode': 'pyskl2d',
        'max_frame': 100, 'layout': 'coco'}


# ---- training ----

def _train_epochs(path, seed, epochs=2, feats=('j',)):
    dataset = pyskl_feeder.make_pyskl_dataset(path, 'all', 4, training=True, seed=seed, clip_len=CLIP_LEN,
                                              feats=feats)
    return [[(x.numpy(), y.numpy()) for x, y in dataset] for _ in range(epochs)]


def test_training_batches_are_seeded_and_reshuffled(ntu_pickle):
    first, again, other = (_train_epochs(ntu_pickle[0], seed) for seed in (3, 3, 4))
    assert [len(epoch) for epoch in first] == [6, 6]  # 24 samples, batch 4
    for epoch_a, epoch_b in zip(first, again):
        for (xa, ya), (xb, yb) in zip(epoch_a, epoch_b):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    labels = lambda run: [y.tolist() for epoch in run for _, y in epoch]  # noqa: E731
    assert labels(first)[:6] != labels(first)[6:]  # each epoch in a new order
    assert labels(first) != labels(other)
    assert not np.array_equal(first[0][0][0], other[0][0][0])


def test_training_clips_are_pyskl_frames_of_their_sample(ntu_pickle):
    """Every training clip frame is one of its sample's frames after PreNormalize3D -> GenSkeFeat (all four
    streams: the motions are of the whole kept sequence, zero at its last frame), in time order."""
    path, by_name, split = ntu_pickle
    (epoch,) = _train_epochs(path, seed=7, epochs=1, feats=ALL)
    for x, labels in epoch[:2]:
        assert x.shape == (4, 12, CLIP_LEN, 25, 2) and x.dtype == np.float32 and labels.dtype == np.int64
        for clip, label in zip(x, labels):
            matched = []
            for name in split['all']:
                if by_name[name]['label'] != label:
                    continue
                joint = pyskl._pyskl_pre_normalize_3d(by_name[name]['keypoint'])
                frames = pyskl._pyskl_format_gcn_input(pyskl._pyskl_gen_ske_feat(joint, 'nturgb+d', ALL), 2)[0]
                # joint distance of each clip frame to each of the sample's frames: (clip_len, T')
                distance = np.abs(clip[:3, :, None] - frames[:3, None]).max(axis=(0, 3, 4))
                if (distance.min(axis=1) <= ATOL).all():
                    t = distance.argmin(axis=1)
                    matched.append(name)
                    np.testing.assert_allclose(clip, frames[:, t], rtol=0, atol=ATOL, err_msg=name)
                    assert np.all(np.diff(t) >= 0) or frames.shape[1] < CLIP_LEN  # short samples loop
            assert len(matched) == 1, (label, matched)


def test_per_replica_batches_with_two_input_pipelines(ntu_pickle):
    path, _, split = ntu_pickle
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        batches = _test_batches(path, 'all', ('j',), 1, global_batch=4, input_context=context)
        assert [len(y) for _, y, _ in batches] == [2] * 6
        seen.append([n for _, _, names in batches for n in names])
        train = pyskl_feeder.make_pyskl_dataset(path, 'all', 4, training=True, input_context=context, seed=0,
                                                clip_len=CLIP_LEN)
        assert [int(y.shape[0]) for _, y in train] == [2] * 6
    assert seen[0] == split['all'][0::2] and seen[1] == split['all'][1::2]


# ---- errors ----

@pytest.mark.parametrize('kwargs,needle', [
    ({'layout': 'coco'}, '3d keypoints with V = 25 joints, but layout coco has 17'),
    ({'layout': 'kinect'}, "unknown graph layout 'kinect'"),
    ({'training': True, 'num_clips': 10}, 'training takes one random clip per sample; got num_clips=10'),
    ({'feats': ('j', 'x')}, "feats must be distinct names among j, b, jm, bm; got ['j', 'x']"),
    ({'split': 'xset_train'}, "no split 'xset_train'"),
])
def test_errors(ntu_pickle, kwargs, needle):
    args = {'split': 'xsub_val', 'global_batch': 2, 'training': False, **kwargs}
    with pytest.raises(ValueError, match=re.escape(needle)):
        pyskl_feeder.make_pyskl_dataset(ntu_pickle[0], **args)


def test_three_persons_in_3d_is_an_error(tmp_path):
    keypoint = np.ones((3, 4, 25, 3), np.float16)
    path = tmp_path / 'three.pkl'
    files.write_pickle({'split': {'all': ['a']}, 'annotations': [
        {'frame_dir': 'a', 'label': 0, 'keypoint': keypoint, 'total_frames': 4}]}, path)
    with pytest.raises(ValueError, match=r"three.pkl: frame_dir 'a': 3 persons; PreNormalize3D takes 1 or 2"):
        pyskl_feeder.make_pyskl_dataset(path, 'all', 1, training=True)
