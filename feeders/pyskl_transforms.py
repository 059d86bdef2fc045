"""PYSKL's skeleton preprocessing as TensorFlow ops on one sample, usable eagerly and inside Dataset.map.

PYSKL's recipe (kennymckormick/pyskl:configs/stgcn/stgcn_pyskl_ntu60_xsub_3dkp/j.py) runs, per sample:
PreNormalize3D (or PreNormalize2D) -> GenSkeFeat -> UniformSample (feeders/pyskl_sampling.py) -> PoseDecode
-> FormatGCNInput. Keypoints are PYSKL's (M, T, V, C), persons first; format_gcn_input turns them into this
project's (C, T, V, M). For training speed, pre_normalize_3d_clips does PreNormalize3D + PoseDecode on a
zero-padded batch (B, M, T, V, 3) in one set of ops, normalising only the sampled frames; pose_decode and
format_gcn_input also take a leading batch dimension. pre_normalize_3d_plan and pre_normalize_3d_frames
split PreNormalize3D into what it decides from the whole sequence and its per-frame arithmetic, so a feeder
can decide once per sample (feeders/pyskl_feeder.py).

Precision: PYSKL computes in the dtype of the pickle's arrays, float16 for NTU, and numpy rounds every
float16 operation to float16. Where PYSKL computes in the input's dtype these ops compute in float32 and
round to that dtype after each step (a float32 result rounded to float16 is the correctly rounded float16
result, as numpy's float16 loops give), so float16 inputs reproduce PYSKL's float16 arithmetic; float32
inputs are not rounded. Outputs are float32, as after PYSKL's PoseDecode.
"""
import numpy as np
import tensorflow as tf

from graphs import LayoutError, get_layout

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


def _kept_frames(x, num_frames):
    """PreNormalize3D's person swap and the frames it keeps, on a zero-padded batch.

    Keeps the frames where the first person is not empty; when the second person is present in more
    frames, its frames instead, and it becomes the first. Zero padding is empty, so it is dropped as PYSKL
    drops empty frames; an all-zero sample keeps its num_frames frames, as PYSKL returns it unchanged.
    Shape: x (B, M, T, V, C) float16 or float32 with M in {1, 2}; num_frames (B,)
        -> persons (B, M) int32, the new person order; frames (B, T) int32, the kept frames first in order;
           count (B,) int32, how many are kept.
    """
    tf.debugging.assert_less_equal(tf.shape(x)[1], 2, message='pre_normalize_3d: PYSKL takes 1 or 2 persons')
    shape = tf.shape(x)
    flat = tf.reshape(x, [shape[0], shape[1], shape[2], -1])  # (B, M, T, V * C)
    if x.dtype == tf.float16:  # every non-zero float16 exceeds 1e-8: test the bits, without casting it all
        present = tf.reduce_max(tf.bitwise.bitwise_and(tf.bitcast(flat, tf.int16), 0x7fff), axis=-1) > 0
    else:
        present = tf.reduce_max(tf.abs(tf.cast(flat, tf.float32)), axis=-1) > _ISCLOSE_ATOL  # (B, M, T)
    frames = tf.reduce_sum(tf.cast(present, tf.int32), axis=-1)  # (B, M)
    swap = frames[:, 0] < frames[:, -1]  # (B,); never with one person
    people = tf.range(shape[1])
    persons = tf.where(swap[:, None], tf.reverse(people, [0]), people)  # (B, M)
    keep = tf.where(swap[:, None], present[:, -1], present[:, 0])  # (B, T)
    # PYSKL tests skeleton.sum() == 0, which a sample whose non-zero values cancel exactly in its float16
    # sum would pass as well; "nothing present" saves a pass over the data and differs only there.
    all_zero = ~tf.reduce_any(present, axis=[1, 2])  # (B,)
    keep = tf.where(all_zero[:, None], tf.range(shape[2]) < num_frames[:, None], keep)
    order = tf.argsort(tf.cast(~keep, tf.int32), axis=-1, stable=True)  # (B, T): kept frames first
    return persons, order, tf.reduce_sum(tf.cast(keep, tf.int32), axis=-1)


def _gather(x, persons, frames):
    """Shape: x (B, M, T, V, C), persons (B, M), frames (B, K) -> (B, M, K, V, C)."""
    return tf.gather(tf.gather(x, persons, axis=1, batch_dims=1), frames, axis=2, batch_dims=1)


def _rotation(axis, theta):
    """PYSKL's rotation_matrix: counter-clockwise by theta about axis (Euler-Rodrigues), float64.

    The identity when the axis or the angle is below 1e-6, as in PYSKL.
    Shape: axis (B, 3), theta (B,) -> (B, 3, 3).
    """
    degenerate = (tf.reduce_sum(tf.abs(axis), -1) < _DEGENERATE) | (tf.abs(theta) < _DEGENERATE)  # (B,)
    norm = tf.where(degenerate, tf.constant(1.0, tf.float64), tf.norm(axis, axis=-1))
    half = theta / 2.0
    a = tf.cos(half)
    b, c, d = tf.unstack(-axis / norm[:, None] * tf.sin(half)[:, None], axis=-1)
    matrix = tf.stack([
        tf.stack([a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)], -1),
        tf.stack([2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)], -1),
        tf.stack([2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c], -1)], -2)
    return tf.where(degenerate[:, None, None], tf.eye(3, dtype=tf.float64), matrix)


def _spine_angle(spine, round_in):
    """Angle between the spine vector and z, with PYSKL's unit vector computed in the input's dtype.

    numpy's float16 norm accumulates the squares in float32 and rounds the sum, the root and the quotient
    to float16; the dot product with z is then the unit vector's z in float64.
    Shape: spine (B, 3) float32 -> (B,) float64.
    """
    s0, s1, s2 = tf.unstack(spine, axis=-1)
    abs_sum = round_in(tf.abs(s0) + tf.abs(s1) + tf.abs(s2))
    norm = round_in(tf.sqrt(round_in(s0 * s0 + s1 * s1 + s2 * s2)))
    cos = tf.cast(round_in(s2 / norm), tf.float64)
    angle = tf.acos(tf.clip_by_value(cos, -1.0, 1.0))
    return tf.where(abs_sum < _DEGENERATE, tf.constant(0.0, tf.float64), angle)


def _shoulder_angle(shoulders):
    """Angle between the float64 shoulder vector and x (PYSKL's angle_between, all float64).

    Shape: (B, 3) -> (B,).
    """
    degenerate = tf.reduce_sum(tf.abs(shoulders), -1) < _DEGENERATE
    cos = shoulders[:, 0] / tf.where(degenerate, tf.constant(1.0, tf.float64), tf.norm(shoulders, axis=-1))
    return tf.where(degenerate, tf.constant(0.0, tf.float64), tf.acos(tf.clip_by_value(cos, -1.0, 1.0)))


def _normalizer(first, round_in):
    """The centre and the rotation PreNormalize3D takes from the main person's first kept frame.

    Shape: first (B, V, 3) float32 -> center (B, 3) float32, rotation (B, 3, 3) float32 (z first, then x).
    """
    center = first[:, 1] if first.shape[1] == 25 else first[:, -1]  # NTU: joint 2, the middle of the spine
    first = _centre(first, center, round_in)
    spine = round_in(first[:, 1] - first[:, 0])  # (B, 3), joint 1 (base of the spine) to joint 2
    zero = tf.zeros_like(spine[:, 0], tf.float64)
    spine64 = tf.cast(spine, tf.float64)
    matrix_z = _rotation(tf.stack([spine64[:, 1], -spine64[:, 0], zero], -1),  # spine x z
                         _spine_angle(spine, round_in))
    # Right minus left shoulder (joints 9, 5) after the first rotation, in float64 as PYSKL (its einsum with
    # a float64 matrix).
    first64 = tf.cast(first, tf.float64)
    shoulders = tf.linalg.matvec(matrix_z, first64[:, 8] - first64[:, 4])  # (B, 3)
    matrix_x = _rotation(tf.stack([zero, shoulders[:, 2], -shoulders[:, 1]], -1),  # shoulders x x
                         _shoulder_angle(shoulders))
    return center, tf.cast(tf.matmul(matrix_x, matrix_z), tf.float32)


def _centre(x, center, round_in):
    """x - center in the input's dtype, joints that are all zero left at zero.

    Shape: x (B, ..., V, 3), center (B, 3) -> (B, ..., V, 3).
    """
    center = tf.reshape(center, tf.concat([[-1], tf.ones([x.shape.rank - 2], tf.int32), [3]], 0))
    nonzero = tf.reduce_any(tf.not_equal(x, 0), axis=-1, keepdims=True)
    return round_in(x - center) * tf.cast(nonzero, tf.float32)


def _check_3d(keypoint, rank, name):
    if keypoint.shape.rank != rank or keypoint.shape[-2] is None or keypoint.shape[-1] != 3:
        shape = '(B, M, T, V, 3)' if rank == 5 else '(M, T, V, 3)'
        raise ValueError(f'{name}: keypoint must be {shape} with V known, got {keypoint.shape}')


def pre_normalize_3d_plan(keypoint, num_frames, name='pre_normalize_3d_plan'):
    """What PreNormalize3D decides from each whole sequence, to apply later to any of its frames.

    PreNormalize3D is deterministic: a feeder can take the plan once per sample and keep only the kept
    frames, in the new person order; pre_normalize_3d_frames then normalises any of them.
    Shape: keypoint (B, M, T, V, 3) float16 or float32, zero after each sample's num_frames (B,) int32
        -> persons (B, M) int32, the new person order; frames (B, T) int32, the kept frames first in order;
           count (B,) int32, how many are kept; center (B, 3) float32; rotation (B, 3, 3) float32.
    """
    keypoint = tf.convert_to_tensor(keypoint)
    _check_3d(keypoint, 5, name)
    persons, order, count = _kept_frames(keypoint, tf.convert_to_tensor(num_frames, tf.int32))
    first = tf.cast(_gather(keypoint, persons, order[:, :1])[:, 0, 0], tf.float32)  # (B, V, 3)
    center, rotation = _normalizer(first, _rounder(keypoint.dtype))
    return persons, order, count, center, rotation


def pre_normalize_3d_frames(frames, center, rotation):
    """PreNormalize3D's centring and rotation of frames, with a sample's plan (pre_normalize_3d_plan).

    Centring is computed in the frames' dtype, which must be the keypoints' dtype the plan was taken from.
    Both steps act on each frame alone, so they commute with picking frames.
    Shape: frames (B, M, K, V, 3) float16 or float32, center (B, 3), rotation (B, 3, 3)
        -> (B, M, K, V, 3) float32.
    """
    frames = tf.convert_to_tensor(frames)
    return _rotate(_centre(tf.cast(frames, tf.float32), center, _rounder(frames.dtype)), rotation)


def pre_normalize_3d_centre(frames, center):
    """PreNormalize3D's centring alone: x - center in the frames' dtype, joints that are all zero left at zero.

    The result is returned in the frames' dtype, which holds it exactly (a float16 difference is rounded to
    float16), so a feeder can centre its stored frames once, at load, and rotate the sampled ones per batch:
    pre_normalize_3d_rotate(pre_normalize_3d_centre(x, c), r) is pre_normalize_3d_frames(x, c, r) bit for bit.
    Shape: frames (B, ..., V, 3) float16 or float32, center (B, 3) float32 -> frames' shape and dtype.
    """
    frames = tf.convert_to_tensor(frames)
    return tf.cast(_centre(tf.cast(frames, tf.float32), center, _rounder(frames.dtype)), frames.dtype)


def pre_normalize_3d_rotate(centred, rotation):
    """PreNormalize3D's rotations (z, then x, as one matrix) of centred frames, in float32.

    Shape: centred (B, M, K, V, 3) float16 or float32, rotation (B, 3, 3) -> (B, M, K, V, 3) float32.
    """
    return _rotate(tf.cast(centred, tf.float32), rotation)


def _rotate(x, rotation):
    """Shape: x (B, M, K, V, 3) float32, rotation (B, 3, 3) -> (B, M, K, V, 3) float32."""
    return tf.einsum('bmtvd,bkd->bmtvk', x, rotation)


def _prepare_3d(keypoint, num_frames, name):
    """The plan of pre_normalize_3d_plan, and a function normalising frames gathered from `keypoint`."""
    keypoint = tf.convert_to_tensor(keypoint)
    persons, order, count, center, rotation = pre_normalize_3d_plan(keypoint, num_frames, name)
    # Frames are gathered in the input's dtype (less to move), then normalised in float32.
    return keypoint, persons, order, count, lambda frames: pre_normalize_3d_frames(frames, center, rotation)


def pre_normalize_3d_batch(keypoint, num_frames):
    """pre_normalize_3d on a zero-padded batch, in one set of ops for the whole batch.

    Shape: keypoint (B, M, T, V, 3) float16 or float32, zero after each sample's num_frames (B,) int32
        -> (B, M, T, V, 3) float32, each sample's kept frames first and zeros after, and their count (B,).
    """
    x, persons, order, count, normalize = _prepare_3d(keypoint, num_frames, 'pre_normalize_3d_batch')
    inside = tf.range(tf.shape(x)[2]) < count[:, None]  # (B, T)
    return normalize(_gather(x, persons, order) * tf.cast(inside, x.dtype)[:, None, :, None, None]), count


def pre_normalize_3d_clips(keypoint, num_frames, sample):
    """pre_normalize_3d then PoseDecode on a zero-padded batch, normalising only the sampled frames.

    Equal to pose_decode(pre_normalize_3d_batch(keypoint, num_frames)[0], sample(count)), with count the
    kept frames; but the centring and the rotations, which act on each frame alone, run on the sampled
    frames only, and the full sequence is read just to find the kept frames. This is the fast path for
    training.
    Args:
      sample: count (B,) int32 -> (B, K) int32 indices into each sample's kept frames, e.g.
        lambda count: pyskl_sampling.train_clip_indices(count, seed, clip_len).
    Shape: keypoint (B, M, T, V, 3) float16 or float32, zero after each sample's num_frames (B,) int32
        -> (B, M, K, V, 3) float32.
    """
    x, persons, order, count, normalize = _prepare_3d(keypoint, num_frames, 'pre_normalize_3d_clips')
    return normalize(_gather(x, persons, tf.gather(order, sample(count), batch_dims=1)))


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
    _check_3d(keypoint, 4, 'pre_normalize_3d')
    x, count = pre_normalize_3d_batch(keypoint[None], tf.shape(keypoint)[1:2])
    return x[0, :, :count[0]]


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


def _bone_pairs(layout):
    """(joint, parent) pairs: PYSKL's JointToBone table for its layouts, else the layout's own parents."""
    if isinstance(layout, str) and layout in BONE_PAIRS:
        return BONE_PAIRS[layout]
    try:
        return tuple(enumerate(get_layout(layout).parent))
    except LayoutError as error:
        raise ValueError(f'gen_ske_feat: {error}') from None


def _bones(x, layout, round_in, scored):
    """JointToBone: joint minus its pair joint, the pair's mean score when the third channel is a score.

    Shape: (M, T, V, C) -> (M, T, V, C) float32.
    """
    joint, parent = (np.array(p) for p in zip(*_bone_pairs(layout)))
    order = np.argsort(joint)  # (V,): the pairs listed by joint
    if not np.array_equal(joint[order], np.arange(x.shape[2])):
        raise ValueError(f'gen_ske_feat: layout {layout} has {len(joint)} joints, keypoints have {x.shape[2]}')
    parent = parent[order]
    bone = round_in(x - tf.gather(x, parent, axis=2))
    if scored and x.shape[-1] == 3:
        score = round_in(round_in(x[..., 2] + tf.gather(x[..., 2], parent, axis=2)) / 2)  # (M, T, V)
        bone = tf.concat([bone[..., :2], score[..., None]], -1)
    return bone


def _motion(x, scored, round_in):
    """ToMotion: next frame minus this one, zero in the last frame; mean score of the two when scored.

    Shape: (M, T, V, C) -> (M, T, V, C) float32.
    """
    motion = round_in(x[:, 1:] - x[:, :-1])  # (M, T - 1, V, C)
    if scored and x.shape[-1] == 3:
        score = round_in(round_in(x[:, 1:, :, 2] + x[:, :-1, :, 2]) / 2)  # (M, T - 1, V)
        motion = tf.concat([motion[..., :2], score[..., None]], -1)
    return tf.pad(motion, [[0, 0], [0, 1], [0, 0], [0, 0]])


def gen_ske_feat(keypoint, layout='ntu-rgb+d-pyskl', feats=('j',), scored=None):
    """PYSKL's GenSkeFeat: joints 'j', bones 'b', their motions 'jm', 'bm', concatenated on channels.

    For 2D layouts pass (x, y, score) as channels, as PYSKL concatenates keypoint_score first. Bones and
    the joint motion are computed in the input's dtype; the bone motion in float32, as PYSKL's bones are
    float32 arrays. layout: PYSKL's (BONE_PAIRS), or any graphs layout (name or dict), whose bones are each
    joint minus its parent. scored: whether the third channel is a detection score (None: PYSKL's 2D layouts).
    Shape: keypoint (M, T, V, C), C in {2, 3}, V and C static -> (M, T, V, C * len(feats)) float32.
    """
    _bone_pairs(layout)  # an unknown layout is an error whichever streams are asked for
    if scored is None:
        scored = isinstance(layout, str) and layout in _SCORED
    unknown = [f for f in feats if f not in FEATS]
    if unknown or not feats:
        raise ValueError(f"gen_ske_feat: feats must be some of {', '.join(FEATS)}; got {list(feats)}")
    keypoint = tf.convert_to_tensor(keypoint)
    round_in = _rounder(keypoint.dtype)
    joint = tf.cast(keypoint, tf.float32)
    streams = {'j': lambda: joint, 'b': lambda: _bones(joint, layout, round_in, scored),
               'jm': lambda: _motion(joint, scored, round_in),
               'bm': lambda: _motion(_bones(joint, layout, round_in, scored), scored, _rounder(tf.float32))}
    return tf.concat([streams[f]() for f in feats], axis=-1)


def pose_decode(keypoint, frame_inds):
    """PYSKL's PoseDecode: the frames at ``frame_inds`` (one clip, or num_clips clips flattened), float32.

    Shape: keypoint (M, T, V, C), frame_inds (K,) -> (M, K, V, C) float32;
        or a batch: keypoint (B, M, T, V, C), frame_inds (B, K) -> (B, M, K, V, C).
    """
    frame_inds = tf.convert_to_tensor(frame_inds)
    batch_dims = frame_inds.shape.rank - 1
    return tf.cast(tf.gather(keypoint, frame_inds, axis=batch_dims + 1, batch_dims=batch_dims), tf.float32)


def format_gcn_input(keypoint, num_person=2, num_clips=1):
    """PYSKL's FormatGCNInput (mode 'zero'): zero-pad or cut to ``num_person`` persons, then this project's
    channels-first layout, one sample per clip.

    Shape: keypoint (..., M, num_clips * L, V, C), with or without a leading batch dimension
        -> (..., C, L, V, num_person) float32 when num_clips is 1, else (..., num_clips, C, L, V, num_person).
    """
    x = tf.cast(keypoint, tf.float32)[..., :num_person, :, :, :]
    lead = x.shape.rank - 4  # 0 for one sample, 1 for a batch
    if x.shape[lead] != num_person:  # a pad of nothing would still copy the whole batch
        pad = num_person - tf.shape(x)[lead]
        x = tf.pad(x, [[0, 0]] * lead + [[0, pad], [0, 0], [0, 0], [0, 0]])  # (..., num_person, T, V, C)
    dims = [d if d is not None else tf.shape(x)[i] for i, d in enumerate(x.shape)]  # static where known
    frames = dims[lead + 1]
    tf.debugging.assert_equal(frames % num_clips, 0, message='format_gcn_input: T must split into num_clips')
    x = tf.reshape(x, dims[:lead] + [num_person, num_clips, frames // num_clips] + dims[lead + 2:])
    # (..., M, nc, L, V, C) -> (..., nc, C, L, V, M)
    x = tf.transpose(x, list(range(lead)) + [lead + 1, lead + 4, lead + 2, lead + 3, lead])
    return x[..., 0, :, :, :, :] if num_clips == 1 else x
