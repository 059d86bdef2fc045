"""PYSKL's skeleton preprocessing as TensorFlow ops on one sample, usable eagerly and inside Dataset.map.

PYSKL's recipe (kennymckormick/pyskl:configs/stgcn/stgcn_pyskl_ntu60_xsub_3dkp/j.py) runs, per sample:
PreNormalize3D (or PreNormalize2D) -> GenSkeFeat -> UniformSample (feeders/pyskl_sampling.py) -> PoseDecode
-> FormatGCNInput. Keypoints are PYSKL's (M, T, V, C), persons first; format_gcn_input turns them into this
project's (C, T, V, M).

Precision: PYSKL computes in the dtype of the pickle's arrays, float16 for NTU, and numpy rounds every
float16 operation to float16. Where PYSKL computes in the input's dtype these ops compute in float32 and
round to that dtype after each step (a float32 result rounded to float16 is the correctly rounded float16
result, as numpy's float16 loops give), so float16 inputs reproduce PYSKL's float16 arithmetic; float32
inputs are not rounded. Outputs are float32, as after PYSKL's PoseDecode.
"""
import numpy as np
import tensorflow as tf

# PYSKL's "empty" test, np.isclose(x, 0): |x| <= atol = 1e-8 (rtol times 0 adds nothing).
_ISCLOSE_ATOL = 1e-8
# Below these PYSKL's angle_between returns 0 and rotation_matrix the identity.
_DEGENERATE = 1e-6

# JointToBone's (joint, parent) pairs, 0-based (kennymckormick/pyskl:pyskl/datasets/pipelines/
# pose_related.py:JointToBone). The NTU pairs keep the official hand chain (22 -> 23 -> 8, 24 -> 25 -> 12,
# 1-based), not the hand wiring of PYSKL's own graph (22, 23 -> 8): bones and graph disagree in PYSKL.
BONE_PAIRS = {
    'ntu-rgb+d-pyskl': ((0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8),
                        (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17),
                        (19, 18), (21, 22), (20, 20), (22, 7), (23, 24), (24, 11)),
    'openpose': ((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9),
                 (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14), (17, 15)),
    'coco': ((0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7), (10, 8),
             (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14)),
}
# Layouts whose third channel is a detection score (2D x, y, score): bones and motions average it.
_SCORED = ('openpose', 'coco')
FEATS = ('j', 'b', 'jm', 'bm')


def _rounder(dtype):
    """Round float32 values to float16 when the input was float16; otherwise the identity."""
    if dtype != tf.float16:
        return lambda t: t
    return lambda t: tf.cast(tf.cast(t, tf.float16), tf.float32)


def _remove_empty_frames(x):
    """PreNormalize3D's person swap and frame removal.

    Keeps the frames where the first person is not empty; when a second person is present in more frames,
    keeps its frames instead and puts it first.
    Shape: (M, T, V, C) with M in {1, 2} -> (M, T', V, C).
    """
    tf.debugging.assert_less_equal(tf.shape(x)[0], 2, message='pre_normalize_3d: PYSKL takes 1 or 2 persons')
    present = tf.reduce_any(tf.abs(x) > _ISCLOSE_ATOL, axis=[2, 3])  # (M, T)
    frames = tf.reduce_sum(tf.cast(present, tf.int32), axis=1)  # (M,)
    swap = frames[0] < frames[-1]  # never with one person
    x = tf.cond(swap, lambda: tf.reverse(x, axis=[0]), lambda: x)
    keep = tf.cond(swap, lambda: present[-1], lambda: present[0])  # (T,)
    return tf.boolean_mask(x, keep, axis=1)


def _rotation(axis, theta):
    """PYSKL's rotation_matrix: counter-clockwise by theta about axis (Euler-Rodrigues), float64 (3, 3).

    The identity when the axis or the angle is below 1e-6, as in PYSKL.
    """
    degenerate = (tf.reduce_sum(tf.abs(axis)) < _DEGENERATE) | (tf.abs(theta) < _DEGENERATE)
    unit = axis / tf.where(degenerate, tf.constant(1.0, tf.float64), tf.norm(axis))
    a = tf.cos(theta / 2.0)
    b, c, d = tf.unstack(-unit * tf.sin(theta / 2.0))
    matrix = tf.stack([
        [a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
        [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
        [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c]])
    return tf.where(degenerate, tf.eye(3, dtype=tf.float64), matrix)


def _spine_angle(spine, round_in):
    """Angle between the spine vector and z, with PYSKL's unit vector computed in the input's dtype.

    numpy's float16 norm accumulates the squares in float32 and rounds the sum, the root and the quotient
    to float16; the dot product with z is then the unit vector's z in float64.
    """
    abs_sum = round_in(tf.abs(spine[0]) + tf.abs(spine[1]) + tf.abs(spine[2]))
    norm = round_in(tf.sqrt(round_in(spine[0] * spine[0] + spine[1] * spine[1] + spine[2] * spine[2])))
    cos = tf.cast(round_in(spine[2] / norm), tf.float64)
    angle = tf.acos(tf.clip_by_value(cos, -1.0, 1.0))
    return tf.where(abs_sum < _DEGENERATE, tf.constant(0.0, tf.float64), angle)


def _shoulder_angle(shoulders):
    """Angle between the float64 shoulder vector and x (PYSKL's angle_between, all float64)."""
    degenerate = tf.reduce_sum(tf.abs(shoulders)) < _DEGENERATE
    cos = shoulders[0] / tf.where(degenerate, tf.constant(1.0, tf.float64), tf.norm(shoulders))
    return tf.where(degenerate, tf.constant(0.0, tf.float64), tf.acos(tf.clip_by_value(cos, -1.0, 1.0)))


def _normalize_3d(x, round_in):
    """Centre on the spine joint, rotate the spine onto z and the shoulders onto x.

    Shape: (M, T, V, 3) float32 -> (M, T, V, 3) float32.
    """
    center = x[0, 0, 1] if x.shape[2] == 25 else x[0, 0, -1]  # NTU: joint 2, the middle of the spine
    nonzero = tf.reduce_any(tf.not_equal(x, 0), axis=-1, keepdims=True)  # (M, T, V, 1): zero joints stay zero
    x = round_in(x - center) * tf.cast(nonzero, tf.float32)

    spine = round_in(x[0, 0, 1] - x[0, 0, 0])  # (3,), joint 1 (base of the spine) to joint 2
    matrix_z = _rotation(tf.stack([tf.cast(spine[1], tf.float64), -tf.cast(spine[0], tf.float64),
                                   tf.constant(0.0, tf.float64)]),  # spine x z
                         _spine_angle(spine, round_in))
    # Right minus left shoulder (joints 9, 5) after the first rotation, in float64 as PYSKL (its einsum with
    # a float64 matrix).
    shoulders = tf.linalg.matvec(matrix_z, tf.cast(x[0, 0, 8], tf.float64) - tf.cast(x[0, 0, 4], tf.float64))
    matrix_x = _rotation(tf.stack([tf.constant(0.0, tf.float64), shoulders[2], -shoulders[1]]),  # v x x
                         _shoulder_angle(shoulders))
    rotation = tf.cast(tf.matmul(matrix_x, matrix_z), tf.float32)  # (3, 3): z first, then x
    return tf.einsum('mtvd,kd->mtvk', x, rotation)


def pre_normalize_3d(keypoint):
    """PYSKL's PreNormalize3D (kennymckormick/pyskl:pyskl/datasets/pipelines/pose_related.py).

    Drops the frames where the main person is empty (the second person becomes the main one when present
    in more frames), centres every joint that is not all zero on the main person's joint 2 (middle of the
    spine; the last joint for layouts other than NTU's 25) in the first kept frame, then rotates joint 1 ->
    joint 2 onto +z and joint 5 -> joint 9 (left -> right shoulder) onto +x; the second rotation's axis is
    not z, so it tilts the spine slightly off +z again, as in PYSKL (and 2s-AGCN). An all-zero sample is
    returned as it is. Centring and the spine vector's norm are computed in the input's dtype.

    Shape: keypoint (M, T, V, 3) float16 (PYSKL's pickle) or float32, M in {1, 2}, V static
        -> (M, T', V, 3) float32, T' the kept frames.
    """
    keypoint = tf.convert_to_tensor(keypoint)
    if keypoint.shape.rank != 4 or keypoint.shape[2] is None or keypoint.shape[3] != 3:
        raise ValueError(f'pre_normalize_3d: keypoint must be (M, T, V, 3) with V known, got {keypoint.shape}')
    round_in = _rounder(keypoint.dtype)
    x = tf.cast(keypoint, tf.float32)
    return tf.cond(tf.reduce_sum(x) == 0, lambda: x,
                   lambda: _normalize_3d(_remove_empty_frames(x), round_in))


def pre_normalize_2d(keypoint, img_shape=(1080, 1920)):
    """PYSKL's PreNormalize2D: x and y to [-1, 1] across the image, other channels unchanged.

    x' = (x - w / 2) / (w / 2), y' = (y - h / 2) / (h / 2), each step in the input's dtype, as PYSKL
    modifies the array in place; PYSKL's default image is 1080 x 1920.
    Shape: keypoint (M, T, V, C >= 2); img_shape (h, w) ints or an int tensor (2,) -> (M, T, V, C) float32.
    """
    keypoint = tf.convert_to_tensor(keypoint)
    round_in = _rounder(keypoint.dtype)
    height, width = tf.unstack(tf.cast(img_shape, tf.float32))
    rest = tf.shape(keypoint)[-1] - 2
    half = round_in(tf.concat([tf.stack([width, height]) / 2, tf.ones([rest])], 0))  # (C,)
    shift = tf.concat([half[:2], tf.zeros([rest])], 0)  # (C,)
    return round_in(round_in(tf.cast(keypoint, tf.float32) - shift) / half)


def _bones(x, layout, round_in):
    """JointToBone: joint minus its pair joint, the pair's mean score for scored layouts.

    Shape: (M, T, V, C) -> (M, T, V, C) float32.
    """
    joint, parent = (np.array(p) for p in zip(*BONE_PAIRS[layout]))
    order = np.argsort(joint)  # (V,): the pairs listed by joint
    if not np.array_equal(joint[order], np.arange(x.shape[2])):
        raise ValueError(f'gen_ske_feat: layout {layout} has {len(joint)} joints, keypoints have {x.shape[2]}')
    parent = parent[order]
    bone = round_in(x - tf.gather(x, parent, axis=2))
    if layout in _SCORED and x.shape[-1] == 3:
        score = round_in(round_in(x[..., 2] + tf.gather(x[..., 2], parent, axis=2)) / 2)  # (M, T, V)
        bone = tf.concat([bone[..., :2], score[..., None]], -1)
    return bone


def _motion(x, layout, round_in):
    """ToMotion: next frame minus this one, zero in the last frame; mean score of the two when scored.

    Shape: (M, T, V, C) -> (M, T, V, C) float32.
    """
    motion = round_in(x[:, 1:] - x[:, :-1])  # (M, T - 1, V, C)
    if layout in _SCORED and x.shape[-1] == 3:
        score = round_in(round_in(x[:, 1:, :, 2] + x[:, :-1, :, 2]) / 2)  # (M, T - 1, V)
        motion = tf.concat([motion[..., :2], score[..., None]], -1)
    return tf.pad(motion, [[0, 0], [0, 1], [0, 0], [0, 0]])


def gen_ske_feat(keypoint, layout='ntu-rgb+d-pyskl', feats=('j',)):
    """PYSKL's GenSkeFeat: joints 'j', bones 'b', their motions 'jm', 'bm', concatenated on channels.

    For 2D layouts pass (x, y, score) as channels, as PYSKL concatenates keypoint_score first. Bones and
    the joint motion are computed in the input's dtype; the bone motion in float32, as PYSKL's bones are
    float32 arrays.
    Shape: keypoint (M, T, V, C), C in {2, 3}, V and C static -> (M, T, V, C * len(feats)) float32.
    """
    if layout not in BONE_PAIRS:
        raise ValueError(f"gen_ske_feat: unknown layout {layout!r}; valid: {', '.join(BONE_PAIRS)}")
    unknown = [f for f in feats if f not in FEATS]
    if unknown or not feats:
        raise ValueError(f"gen_ske_feat: feats must be some of {', '.join(FEATS)}; got {list(feats)}")
    keypoint = tf.convert_to_tensor(keypoint)
    round_in = _rounder(keypoint.dtype)
    joint = tf.cast(keypoint, tf.float32)
    streams = {'j': lambda: joint, 'b': lambda: _bones(joint, layout, round_in),
               'jm': lambda: _motion(joint, layout, round_in),
               'bm': lambda: _motion(_bones(joint, layout, round_in), layout, _rounder(tf.float32))}
    return tf.concat([streams[f]() for f in feats], axis=-1)


def pose_decode(keypoint, frame_inds):
    """PYSKL's PoseDecode: the frames at ``frame_inds`` (one clip, or num_clips clips flattened), float32.

    Shape: keypoint (M, T, V, C); frame_inds (K,) -> (M, K, V, C) float32.
    """
    return tf.cast(tf.gather(keypoint, frame_inds, axis=1), tf.float32)


def format_gcn_input(keypoint, num_person=2, num_clips=1):
    """PYSKL's FormatGCNInput (mode 'zero'): zero-pad or cut to ``num_person`` persons, then this project's
    channels-first layout, one sample per clip.

    Shape: keypoint (M, num_clips * L, V, C) -> (C, L, V, num_person) float32 when num_clips is 1,
        else (num_clips, C, L, V, num_person).
    """
    x = tf.cast(keypoint, tf.float32)[:num_person]
    x = tf.pad(x, [[0, num_person - tf.shape(x)[0]], [0, 0], [0, 0], [0, 0]])  # (num_person, T, V, C)
    frames = tf.shape(x)[1]
    tf.debugging.assert_equal(frames % num_clips, 0, message='format_gcn_input: T must split into num_clips')
    dims = [d if d is not None else tf.shape(x)[i] for i, d in enumerate(x.shape)]  # static where known
    x = tf.reshape(x, [num_person, num_clips, frames // num_clips, dims[2], dims[3]])  # (M, nc, L, V, C)
    x = tf.transpose(x, [1, 4, 2, 3, 0])  # (nc, C, L, V, M)
    return x[0] if num_clips == 1 else x
