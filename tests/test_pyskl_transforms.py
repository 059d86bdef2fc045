"""PYSKL's preprocessing ops against numpy re-statements of kennymckormick/pyskl:pyskl/datasets/pipelines/
pose_related.py, to 1e-5, on real NTU skeletons (float16, as in PYSKL's pickle) and small 2D arrays; every op
eagerly and inside tf.data."""
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from data_gen.skeleton import read_skeleton
from feeders import pyskl_transforms as T

SKELETONS = pathlib.Path(__file__).parent / 'fixtures' / 'ntu' / 'skeletons'
ATOL = 1e-5


# ---- re-statements of PYSKL, written out loop for loop ----

def _unit_vector(vector):
    return vector / np.linalg.norm(vector)


def _angle_between(v1, v2):
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0
    return np.arccos(np.clip(np.dot(_unit_vector(v1), _unit_vector(v2)), -1.0, 1.0))


def _rotation_matrix(axis, theta):
    if np.abs(axis).sum() < 1e-6 or np.abs(theta) < 1e-6:
        return np.eye(3)
    axis = np.asarray(axis)
    axis = axis / np.sqrt(np.dot(axis, axis))
    a = np.cos(theta / 2.0)
    b, c, d = -axis * np.sin(theta / 2.0)
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    return np.array([[aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
                     [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
                     [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc]])


def _pyskl_pre_normalize_3d(skeleton):
    """PreNormalize3D.__call__ (zaxis [0, 1], xaxis [8, 4]) in the input's dtype, then PoseDecode's float32."""
    M, T, V, C = skeleton.shape
    if skeleton.sum() == 0:
        return skeleton.astype(np.float32)
    index0 = [i for i in range(T) if not np.all(np.isclose(skeleton[0, i], 0))]
    if M == 2:
        index1 = [i for i in range(T) if not np.all(np.isclose(skeleton[1, i], 0))]
        if len(index0) < len(index1):
            skeleton = skeleton[:, np.array(index1)]
            skeleton = skeleton[[1, 0]]
        else:
            skeleton = skeleton[:, np.array(index0)]
    else:
        skeleton = skeleton[:, np.array(index0)]
    main_body_center = skeleton[0, 0, 1].copy() if skeleton.shape[2] == 25 else skeleton[0, 0, -1].copy()
    mask = ((skeleton != 0).sum(-1) > 0)[..., None]
    skeleton = (skeleton - main_body_center) * mask
    joint_bottom, joint_top = skeleton[0, 0, 0], skeleton[0, 0, 1]
    axis = np.cross(joint_top - joint_bottom, [0, 0, 1])
    angle = _angle_between(joint_top - joint_bottom, [0, 0, 1])
    skeleton = np.einsum('abcd,kd->abck', skeleton, _rotation_matrix(axis, angle))
    joint_rshoulder, joint_lshoulder = skeleton[0, 0, 8], skeleton[0, 0, 4]
    axis = np.cross(joint_rshoulder - joint_lshoulder, [1, 0, 0])
    angle = _angle_between(joint_rshoulder - joint_lshoulder, [1, 0, 0])
    skeleton = np.einsum('abcd,kd->abck', skeleton, _rotation_matrix(axis, angle))
    return skeleton.astype(np.float32)


def _pyskl_pre_normalize_2d(keypoint, img_shape=(1080, 1920)):
    keypoint = keypoint.copy()
    h, w = img_shape
    keypoint[..., 0] = (keypoint[..., 0] - (w / 2)) / (w / 2)
    keypoint[..., 1] = (keypoint[..., 1] - (h / 2)) / (h / 2)
    return keypoint.astype(np.float32)


PYSKL_DATASET = {'ntu-rgb+d-pyskl': 'nturgb+d', 'coco': 'coco', 'openpose': 'openpose'}
PYSKL_PAIRS = {  # JointToBone.__init__
    'nturgb+d': [(0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8), (10, 9),
                 (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18),
                 (21, 22), (20, 20), (22, 7), (23, 24), (24, 11)],
    'openpose': ((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9),
                 (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14), (17, 15)),
    'coco': ((0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7), (10, 8),
             (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14)),
}


def _pyskl_joint_to_bone(keypoint, dataset):
    M, T, V, C = keypoint.shape
    bone = np.zeros((M, T, V, C), dtype=np.float32)
    for v1, v2 in PYSKL_PAIRS[dataset]:
        bone[..., v1, :] = keypoint[..., v1, :] - keypoint[..., v2, :]
        if C == 3 and dataset in ['openpose', 'coco']:
            score = (keypoint[..., v1, 2] + keypoint[..., v2, 2]) / 2
            bone[..., v1, 2] = score
    return bone


def _pyskl_to_motion(data, dataset):
    M, T, V, C = data.shape
    motion = np.zeros_like(data)
    motion[:, :T - 1] = np.diff(data, axis=1)
    if C == 3 and dataset in ['openpose', 'coco']:
        score = (data[:, :T - 1, :, 2] + data[:, 1:, :, 2]) / 2
        motion[:, :T - 1, :, 2] = score
    return motion


def _pyskl_gen_ske_feat(keypoint, dataset, feats):
    """GenSkeFeat: JointToBone, Rename, ToMotion, MergeSkeFeat; then PoseDecode's float32."""
    results = {'j': keypoint}
    if 'b' in feats or 'bm' in feats:
        results['b'] = _pyskl_joint_to_bone(keypoint, dataset)
    if 'jm' in feats:
        results['jm'] = _pyskl_to_motion(results['j'], dataset)
    if 'bm' in feats:
        results['bm'] = _pyskl_to_motion(results['b'], dataset)
    return np.concatenate([results[f] for f in feats], axis=-1).astype(np.float32)


def _pyskl_format_gcn_input(keypoint, num_person=2, num_clips=1):
    """FormatGCNInput (mode 'zero'), then to (nc, C, L, V, M)."""
    if keypoint.shape[0] < num_person:
        pad = np.zeros((num_person - keypoint.shape[0],) + keypoint.shape[1:], dtype=keypoint.dtype)
        keypoint = np.concatenate((keypoint, pad), axis=0)
    elif keypoint.shape[0] > num_person:
        keypoint = keypoint[:num_person]
    M, T, V, C = keypoint.shape
    keypoint = keypoint.reshape((M, num_clips, T // num_clips, V, C)).transpose(1, 0, 2, 3, 4)
    return keypoint.transpose(0, 4, 2, 3, 1)


# ---- samples ----

def _ntu_keypoint(name):
    """PYSKL-format keypoints (M, T, 25, 3) float16 of a real file: bodies first, at most two."""
    data = read_skeleton(SKELETONS / f'{name}.skeleton', max_body=2)
    num_body = max(1, min(2, int(data.body_counts.max())))
    return data.xyz[:, :num_body].transpose(1, 0, 2, 3).astype(np.float16)


ONE_BODY = ['S001C001P001R001A001', 'S001C001P001R001A006', 'S002C001P003R001A003']
TWO_BODY = ['S001C003P008R002A058', 'S001C001P001R001A050', 'S017C003P020R002A054']


def _edited_samples():
    """Real skeletons edited to reach every branch: empty frames, a swap, zero joints, all zeros."""
    two = _ntu_keypoint(TWO_BODY[0])[:, :32].copy()
    swap = two.copy()
    swap[0, :10] = 0  # the first person absent from 10 frames, the second always there: swap
    swap[1, 30:] = 0
    gaps = two.copy()
    gaps[:, [0, 5, 31]] = 0  # frames with nobody
    gaps[0, 2, [3, 7, 20]] = 0  # zero joints stay zero after centring
    one = _ntu_keypoint(ONE_BODY[1])[:, :24].copy()
    one[:, :3] = 0
    return {'swap': swap, 'gaps': gaps, 'one_leading_empty': one,
            'all_zero': np.zeros((2, 8, 25, 3), np.float16)}


def _samples():
    samples = {name: _ntu_keypoint(name) for name in ONE_BODY + TWO_BODY}
    samples.update(_edited_samples())
    return samples


SAMPLES = _samples()


def _through_tf_data(fn, arrays, signature):
    dataset = tf.data.Dataset.from_generator(lambda: iter(arrays), output_signature=signature).map(fn)
    return [x.numpy() for x in dataset]


# ---- PreNormalize3D ----

@pytest.mark.parametrize('name', sorted(SAMPLES))
def test_pre_normalize_3d_equals_pyskl_eagerly(name):
    keypoint = SAMPLES[name]
    expected = _pyskl_pre_normalize_3d(keypoint)
    ours = T.pre_normalize_3d(keypoint).numpy()
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=ATOL)


def test_pre_normalize_3d_equals_pyskl_inside_tf_data():
    names = sorted(SAMPLES)
    arrays = [SAMPLES[n] for n in names]
    signature = tf.TensorSpec((None, None, 25, 3), tf.float16)
    for name, ours in zip(names, _through_tf_data(T.pre_normalize_3d, arrays, signature)):
        np.testing.assert_allclose(ours, _pyskl_pre_normalize_3d(SAMPLES[name]), rtol=0, atol=ATOL, err_msg=name)


def test_pre_normalize_3d_aligns_and_removes():
    """What PreNormalize3D is for: shoulders along +x, the spine up (the second rotation, about an axis
    that is not z, tilts it a little off +z, as in PYSKL), empty frames gone, the swap done."""
    x = T.pre_normalize_3d(SAMPLES['gaps']).numpy()
    assert x.shape == (2, 29, 25, 3)  # frames 0, 5, 31 had nobody
    np.testing.assert_allclose(x[0, 0, 1], 0, atol=1e-6)  # centred on joint 2
    spine, shoulders = x[0, 0, 1] - x[0, 0, 0], x[0, 0, 8] - x[0, 0, 4]
    np.testing.assert_allclose(shoulders[1:], 0, atol=1e-6)
    assert shoulders[0] > 0 and spine[2] > 0.99 * np.linalg.norm(spine)
    np.testing.assert_array_equal(x[0, 1, [3, 7, 20]], 0)  # kept frame 2: its zero joints
    swapped = T.pre_normalize_3d(SAMPLES['swap']).numpy()
    assert swapped.shape == (2, 30, 25, 3) and np.all(swapped[0].any(axis=(1, 2)))
    np.testing.assert_array_equal(T.pre_normalize_3d(SAMPLES['all_zero']).numpy(), SAMPLES['all_zero'])


def test_pre_normalize_3d_float16_matters_and_float32_inputs_match_too():
    """The float16 emulation is what makes it equal: the same values taken as float32 land elsewhere."""
    keypoint = SAMPLES[TWO_BODY[1]]
    in_float32 = T.pre_normalize_3d(keypoint.astype(np.float32)).numpy()
    assert np.abs(in_float32 - _pyskl_pre_normalize_3d(keypoint)).max() > 10 * ATOL
    np.testing.assert_allclose(in_float32, _pyskl_pre_normalize_3d(keypoint.astype(np.float32)),
                               rtol=0, atol=ATOL)


def test_pre_normalize_3d_bad_shape():
    with pytest.raises(ValueError, match=r'pre_normalize_3d: keypoint must be \(M, T, V, 3\)'):
        T.pre_normalize_3d(np.zeros((2, 4, 25, 2), np.float16))


# ---- PreNormalize2D ----

def _image_keypoints(dtype, seed=0, img_shape=(1080, 1920)):
    """(2, 6, 17, 3): pixel x, y inside the image and a score, as HRNet's 2D poses."""
    rng = np.random.default_rng(seed)
    h, w = img_shape
    xy = rng.uniform(0, 1, (2, 6, 17, 2)) * [w, h]
    return np.concatenate([xy, rng.uniform(0, 1, (2, 6, 17, 1))], -1).astype(dtype)


@pytest.mark.parametrize('dtype', [np.float16, np.float32])
@pytest.mark.parametrize('img_shape', [None, (480, 640), (481, 2561)])
def test_pre_normalize_2d_equals_pyskl(dtype, img_shape):
    keypoint = _image_keypoints(dtype, img_shape=img_shape or (1080, 1920))
    expected = _pyskl_pre_normalize_2d(keypoint, *([img_shape] if img_shape else []))
    ours = T.pre_normalize_2d(keypoint, *([img_shape] if img_shape else [])).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=0, atol=ATOL)
    assert np.abs(ours[..., :2]).max() <= 1 and np.array_equal(ours[..., 2], keypoint[..., 2].astype(np.float32))
    signature = (tf.TensorSpec((None, None, 17, 3), tf.as_dtype(dtype)), tf.TensorSpec((2,), tf.int32))
    shape = img_shape or (1080, 1920)
    dataset = tf.data.Dataset.from_generator(lambda: iter([(keypoint, np.array(shape, np.int32))]),
                                             output_signature=signature).map(T.pre_normalize_2d)
    np.testing.assert_allclose(next(iter(dataset)).numpy(), _pyskl_pre_normalize_2d(keypoint, shape),
                               rtol=0, atol=ATOL)


# ---- GenSkeFeat ----

FEAT_SETS = [['j'], ['b'], ['jm'], ['bm'], ['j', 'b', 'jm', 'bm'], ['b', 'j']]


def _feat_inputs():
    """layout -> inputs: real pre-normalised NTU joints (float32), 2D poses with scores (float16, float32)."""
    ntu = [T.pre_normalize_3d(SAMPLES[n][:, :32]).numpy() for n in (ONE_BODY[0], TWO_BODY[0])]
    coco = [T.pre_normalize_2d(_image_keypoints(np.float16, 1)).numpy().astype(np.float16),
            _image_keypoints(np.float32, 2) / 1000]
    openpose = [np.random.default_rng(3).uniform(-1, 1, (2, 5, 18, 3)).astype(np.float16)]
    return {'ntu-rgb+d-pyskl': ntu, 'coco': coco, 'openpose': openpose}


FEAT_INPUTS = _feat_inputs()


@pytest.mark.parametrize('feats', FEAT_SETS, ids='+'.join)
@pytest.mark.parametrize('layout', sorted(FEAT_INPUTS))
def test_gen_ske_feat_equals_pyskl(layout, feats):
    for keypoint in FEAT_INPUTS[layout]:
        expected = _pyskl_gen_ske_feat(keypoint, PYSKL_DATASET[layout], feats)
        ours = T.gen_ske_feat(keypoint, layout, feats).numpy()
        assert ours.dtype == np.float32 and ours.shape == expected.shape
        np.testing.assert_allclose(ours, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize('layout', sorted(FEAT_INPUTS))
def test_gen_ske_feat_inside_tf_data(layout):
    feats = ['j', 'b', 'jm', 'bm']
    arrays = FEAT_INPUTS[layout]
    signature = tf.TensorSpec((None, None) + arrays[0].shape[2:], tf.as_dtype(arrays[0].dtype))
    arrays = [a.astype(arrays[0].dtype) for a in arrays]
    outputs = _through_tf_data(lambda x: T.gen_ske_feat(x, layout, feats), arrays, signature)
    for keypoint, ours in zip(arrays, outputs):
        np.testing.assert_allclose(ours, _pyskl_gen_ske_feat(keypoint, PYSKL_DATASET[layout], feats),
                                   rtol=0, atol=ATOL)


def test_ntu_bones_follow_the_official_hand_chain():
    x = np.zeros((1, 1, 25, 3), np.float32)
    x[0, 0, :, 0] = np.arange(25) ** 2  # joint v at v^2: a bone's x is child^2 - parent^2
    bone = T.gen_ske_feat(x, 'ntu-rgb+d-pyskl', ['b']).numpy()[0, 0, :, 0]
    assert bone[21] == 21 ** 2 - 22 ** 2 and bone[22] == 22 ** 2 - 7 ** 2 and bone[20] == 0


def test_bones_of_a_custom_layout_follow_its_parents():
    layout = {'name': 'chain', 'num_node': 4, 'base': 0, 'joints': list('abcd'), 'edges': [[1, 0], [2, 1], [3, 1]],
              'center': 0}
    x = np.zeros((1, 1, 4, 3), np.float32)
    x[0, 0, :, 0] = [1, 10, 100, 1000]
    x[0, 0, :, 2] = [0.2, 0.4, 0.6, 0.8]  # a score channel
    bone = T.gen_ske_feat(x, layout, ['b'], scored=True).numpy()[0, 0]
    np.testing.assert_array_equal(bone[:, 0], [0, 9, 90, 990])
    np.testing.assert_allclose(bone[:, 2], [0.2, 0.3, 0.5, 0.6], rtol=1e-6)  # the pair's mean score
    plain = T.gen_ske_feat(x, layout, ['b']).numpy()[0, 0]  # a custom layout is not scored unless told
    np.testing.assert_allclose(plain[:, 2], [0, 0.2, 0.2, 0.4], atol=1e-6)


@pytest.mark.parametrize('kwargs,needle', [
    ({'layout': 'kinect'}, "gen_ske_feat: unknown graph layout 'kinect'; valid layouts: ntu-rgb+d, "),
    ({'feats': ['j', 'jb']}, "feats must be some of j, b, jm, bm; got ['j', 'jb']"),
    ({'layout': 'coco'}, 'layout coco has 17 joints, keypoints have 25'),
])
def test_gen_ske_feat_errors(kwargs, needle):
    args = {'layout': 'ntu-rgb+d-pyskl', 'feats': ['b'], **kwargs}
    with pytest.raises(ValueError, match=needle.replace('(', r'\(').replace('[', r'\[').replace('+', r'\+')):
        T.gen_ske_feat(np.zeros((1, 2, 25, 3), np.float32), **args)


# ---- PoseDecode + FormatGCNInput ----

@pytest.mark.parametrize('num_body,num_clips', [(1, 1), (2, 1), (3, 1), (1, 2), (2, 4)])
def test_format_gcn_input_equals_pyskl(num_body, num_clips):
    rng = np.random.default_rng(num_body)
    keypoint = rng.standard_normal((num_body, 8, 25, 3)).astype(np.float32)
    expected = _pyskl_format_gcn_input(keypoint, 2, num_clips)
    ours = T.format_gcn_input(keypoint, 2, num_clips).numpy()
    assert ours.shape == ((3, 8, 25, 2) if num_clips == 1 else (num_clips, 3, 8 // num_clips, 25, 2))
    np.testing.assert_array_equal(ours, expected[0] if num_clips == 1 else expected)
    signature = tf.TensorSpec((None, None, 25, 3), tf.float32)
    (in_tf_data,) = _through_tf_data(lambda x: T.format_gcn_input(x, 2, num_clips), [keypoint], signature)
    np.testing.assert_array_equal(in_tf_data, ours)


def test_the_whole_test_pipeline_on_a_real_sample():
    """PreNormalize3D -> GenSkeFeat(j) -> 10 test clips -> PoseDecode -> FormatGCNInput, as PYSKL's test."""
    from feeders import pyskl_sampling
    keypoint = SAMPLES[TWO_BODY[2]]
    joint = _pyskl_pre_normalize_3d(keypoint)
    inds = pyskl_sampling.test_clip_indices(joint.shape[1], clip_len=16, num_clips=3).ravel()
    expected = _pyskl_format_gcn_input(joint[:, inds], 2, 3)  # (3, C, 16, V, M)

    def pipeline(x):
        x = T.gen_ske_feat(T.pre_normalize_3d(x), 'ntu-rgb+d-pyskl', ['j'])
        return T.format_gcn_input(T.pose_decode(x, inds), 2, 3)

    (ours,) = _through_tf_data(pipeline, [keypoint], tf.TensorSpec((None, None, 25, 3), tf.float16))
    assert ours.shape == (3, 3, 16, 25, 2)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=ATOL)


# ---- batched forms: one set of ops per batch ----

def _padded_batch(names):
    """Zero-padded (B, 2, T_max, 25, 3) float16 of SAMPLES, one-person samples given an empty second."""
    arrays = [SAMPLES[n] for n in names]
    t_max = max(a.shape[1] for a in arrays)
    batch = np.zeros((len(arrays), 2, t_max, 25, 3), np.float16)
    for b, a in enumerate(arrays):
        batch[b, :a.shape[0], :a.shape[1]] = a
    return batch, np.array([a.shape[1] for a in arrays], np.int32)


BATCH_NAMES = ['swap', 'gaps', 'all_zero', ONE_BODY[0], TWO_BODY[2]]


def test_pre_normalize_3d_batch_equals_pyskl_per_sample():
    batch, num_frames = _padded_batch(BATCH_NAMES)
    x, count = T.pre_normalize_3d_batch(batch, num_frames)
    for b, name in enumerate(BATCH_NAMES):
        expected = _pyskl_pre_normalize_3d(SAMPLES[name])
        assert int(count[b]) == expected.shape[1], name
        np.testing.assert_allclose(x[b, :expected.shape[0], :count[b]], expected, rtol=0, atol=ATOL, err_msg=name)
        np.testing.assert_array_equal(x[b, :, count[b]:], 0)  # zeros after the kept frames


def test_pre_normalize_3d_clips_equals_normalise_then_decode():
    from feeders import pyskl_sampling
    batch, num_frames = _padded_batch(BATCH_NAMES)
    full, count = T.pre_normalize_3d_batch(batch, num_frames)
    inds = pyskl_sampling.train_clip_indices(count, [5, 6], 16)  # (B, 16)
    expected = T.pose_decode(full, inds).numpy()  # (B, 2, 16, 25, 3)
    signature = (tf.TensorSpec((None, 2, None, 25, 3), tf.float16), tf.TensorSpec((None,), tf.int32))
    dataset = tf.data.Dataset.from_generator(lambda: iter([(batch, num_frames)]), output_signature=signature).map(
        lambda x, n: T.pre_normalize_3d_clips(x, n, lambda c: pyskl_sampling.train_clip_indices(c, [5, 6], 16)))
    np.testing.assert_allclose(next(iter(dataset)).numpy(), expected, rtol=0, atol=1e-6)
    for b, name in enumerate(BATCH_NAMES):  # and so, per sample, PYSKL's normalised frames at the indices
        pyskl = _pyskl_pre_normalize_3d(SAMPLES[name])
        np.testing.assert_allclose(expected[b, :pyskl.shape[0]], pyskl[:, inds[b].numpy()], rtol=0, atol=ATOL)


def test_format_gcn_input_batched_equals_per_sample():
    keypoint = np.random.default_rng(9).standard_normal((3, 1, 8, 25, 3)).astype(np.float32)
    batched = T.format_gcn_input(keypoint, 2, 2).numpy()
    assert batched.shape == (3, 2, 3, 4, 25, 2)
    for b in range(3):
        np.testing.assert_array_equal(batched[b], _pyskl_format_gcn_input(keypoint[b], 2, 2))


def test_plan_then_frames_equals_pre_normalize_3d_clips():
    """The split a feeder uses (decide once per sample, normalise any frames later) computes the same."""
    from feeders import pyskl_sampling
    batch, num_frames = _padded_batch(BATCH_NAMES)
    persons, order, count, center, rotation = T.pre_normalize_3d_plan(batch, num_frames)
    inds = pyskl_sampling.train_clip_indices(count, [3, 4], 16)  # (B, 16) into the kept frames
    frames = tf.gather(tf.gather(batch, persons, axis=1, batch_dims=1), tf.gather(order, inds, batch_dims=1),
                       axis=2, batch_dims=1)  # (B, M, 16, V, 3) float16
    ours = T.pre_normalize_3d_frames(frames, center, rotation).numpy()
    expected = T.pre_normalize_3d_clips(batch, num_frames, lambda c: pyskl_sampling.train_clip_indices(c, [3, 4], 16))
    np.testing.assert_array_equal(ours, expected.numpy())
    for b, name in enumerate(BATCH_NAMES):
        pyskl = _pyskl_pre_normalize_3d(SAMPLES[name])
        np.testing.assert_allclose(ours[b, :pyskl.shape[0]], pyskl[:, inds[b].numpy()], rtol=0, atol=ATOL)


@pytest.mark.parametrize('dtype', [np.float16, np.float32])
def test_centre_once_then_rotate_is_pre_normalize_3d_frames_bit_for_bit(dtype):
    """The feeder centres its stored frames at load and rotates the sampled ones per batch: every bit (the sign
    of every zero too) is what pre_normalize_3d_frames gives, and the centred frames keep the input's dtype."""
    batch, num_frames = _padded_batch(BATCH_NAMES)
    batch = batch.astype(dtype)
    _, _, _, center, rotation = T.pre_normalize_3d_plan(batch, num_frames)
    centred = T.pre_normalize_3d_centre(batch, center)
    assert centred.dtype == dtype
    ours = T.pre_normalize_3d_rotate(centred, rotation).numpy()
    expected = T.pre_normalize_3d_frames(batch, center, rotation).numpy()
    assert ours.dtype == np.float32 and ours.tobytes() == expected.tobytes()
    stored = centred.numpy()
    assert np.signbit(stored[stored == 0]).any()  # negative zeros (masked joints left of the centre) are kept
    def frames_first(x):  # (B, M, T, V, 3) -> (B * T, M, V, 3), as the feeder stores frames
        return tf.reshape(tf.transpose(x, [0, 2, 1, 3, 4]), [-1, 2, 25, 3])
    by_row = T.pre_normalize_3d_centre(frames_first(batch), tf.repeat(center, batch.shape[2], axis=0))
    assert by_row.numpy().tobytes() == frames_first(centred).numpy().tobytes()  # a centre per frame: the same
