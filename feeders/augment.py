"""The official ST-GCN feeder augmentations (st-gcn `feeder/tools.py`) as TensorFlow ops on one sample.

Every op takes one sample x float32 (C, T, V, M) and, when random, a stateless seed int (2,), so a
pipeline is reproducible given its seed and each op runs the same eagerly and inside `Dataset.map`.
The official feeder applies them in this order (`apply_augment`): random_shift, then random_choose (or
padding to the window), then random_move. valid_crop, which the official tools lack, runs first: it cuts
the clip to its valid frames, so a random_choose window never lands in the zero padding (without
random_choose the clip is padded back to its length, valid frames first). All are off by default (the
official NTU recipe uses none).

A frame is "valid" when any of its C*V*M values is non-zero, as in the official tools. As in the
official random_move, the translation is added to every point, zero padding included.
"""
import math

import tensorflow as tf

# st-gcn tools.random_move defaults: degrees, factors, and offsets in the data's units.
ANGLE_CANDIDATE = (-10., -5., 0., 5., 10.)
SCALE_CANDIDATE = (0.9, 1.0, 1.1)
TRANSFORM_CANDIDATE = (-0.2, -0.1, 0.0, 0.1, 0.2)
MOVE_TIME_CANDIDATE = (1,)

AUGMENT_KEYS = ('valid_crop', 'random_shift', 'random_choose', 'random_move')


def valid_range(x):
    """First valid frame and one past the last, as the official tools compute them.

    With no valid frame at all the official argmax trick gives the whole clip: (0, T).
    Shape:
        x: (C, T, V, M) -> begin, end: int32 scalars
    """
    valid = tf.reduce_any(tf.not_equal(x, 0), axis=[0, 2, 3])  # (T,)
    num_frames = tf.shape(valid, out_type=tf.int32)[0]
    begin = tf.argmax(tf.cast(valid, tf.int32), output_type=tf.int32)
    end = num_frames - tf.argmax(tf.cast(valid[::-1], tf.int32), output_type=tf.int32)
    return begin, end


def _uniform_int(seed, upper):
    """An int32 drawn uniformly from [0, upper] inclusive, like random.randint(0, upper)."""
    return tf.random.stateless_uniform([], seed, minval=0, maxval=upper + 1, dtype=tf.int32)


def _pad_time(x, before, after):
    return tf.pad(x, [[0, 0], [before, after], [0, 0], [0, 0]])


def valid_crop(x):
    """Crop to the valid frames (the length becomes dynamic).

    Shape:
        x: (C, T, V, M) -> (C, end - begin, V, M)
    """
    begin, end = valid_range(x)
    return x[:, begin:end]


def auto_pading(x, size, seed=None):
    """Zero-pad the time axis up to `size` frames; at a random offset when a seed is given.

    Clips already `size` frames or longer are returned unchanged (official behaviour).
    Shape:
        x: (C, T, V, M) -> (C, max(T, size), V, M)
    """
    total = tf.maximum(size - tf.shape(x)[1], 0)
    before = 0 if seed is None else _uniform_int(seed, total)
    return _pad_time(x, before, total - before)


def random_choose(x, size, seed):
    """A random window of `size` frames; shorter clips are zero-padded at a random offset (the official
    random_choose with auto_pad=True, the only way its feeder calls it).

    Shape:
        x: (C, T, V, M) -> (C, size, V, M)
    """
    crop_seed, pad_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    begin = _uniform_int(crop_seed, tf.maximum(tf.shape(x)[1] - size, 0))
    window = x[:, begin:begin + size]
    out = auto_pading(window, size, pad_seed)
    return tf.ensure_shape(out, [x.shape[0], size if isinstance(size, int) else None, x.shape[2], x.shape[3]])


def random_shift(x, seed):
    """Move the valid frames to a random offset, zeros elsewhere (length unchanged).

    Shape:
        x: (C, T, V, M) -> (C, T, V, M)
    """
    begin, end = valid_range(x)
    num_frames = tf.shape(x)[1]
    size = end - begin
    bias = _uniform_int(seed, num_frames - size)
    shifted = _pad_time(x[:, begin:end], bias, num_frames - size - bias)
    return tf.ensure_shape(shifted, x.shape)


def _choice(seed, candidates, num):
    """`num` draws with replacement from `candidates`, like np.random.choice(candidates, num)."""
    index = tf.random.stateless_uniform([num], seed, minval=0, maxval=len(candidates), dtype=tf.int32)
    return tf.gather(tf.constant(candidates, tf.float32), index)


def move_params(num_frames, seed, angle_candidate=ANGLE_CANDIDATE, scale_candidate=SCALE_CANDIDATE,
                transform_candidate=TRANSFORM_CANDIDATE, move_time_candidate=MOVE_TIME_CANDIDATE):
    """Per-frame rotation (radians), scale and x/y translation of the official random_move.

    move_time segments split the clip at round(i * T / move_time); angle, scale and translation are
    drawn from the candidates at every segment boundary and interpolated linearly (np.linspace, both
    ends included) inside each segment.
    Shape:
        -> angle, scale, t_x, t_y: float32 (T,) each
    """
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 5))
    max_nodes = max(move_time_candidate) + 1
    move_time = tf.gather(tf.constant(move_time_candidate, tf.int32), tf.random.stateless_uniform(
        [], seeds[0], minval=0, maxval=len(move_time_candidate), dtype=tf.int32))
    # np.arange(0, T, T / move_time).round() then T appended; np.round and tf.round both round half to
    # even. Boundaries past node[move_time] (unused draws when move_time < its maximum) lie beyond T.
    i = tf.range(max_nodes)
    node = tf.where(i < move_time,
                    tf.cast(tf.round(tf.cast(i, tf.float64) * (tf.cast(num_frames, tf.float64)
                                                                / tf.cast(move_time, tf.float64))), tf.int32),
                    num_frames + i - move_time)  # (max_nodes,)
    frames = tf.range(num_frames)
    segment = tf.searchsorted(node[1:], frames, side='right', out_type=tf.int32)  # (T,)
    first = tf.gather(node, segment)
    count = tf.gather(node, segment + 1) - first
    frac = tf.cast(frames - first, tf.float32) / tf.cast(tf.maximum(count - 1, 1), tf.float32)

    def interpolate(values):  # values (max_nodes,) -> (T,)
        low, high = tf.gather(values, segment), tf.gather(values, segment + 1)
        return low + (high - low) * frac

    angle = interpolate(_choice(seeds[1], angle_candidate, max_nodes)) * (math.pi / 180)
    scale = interpolate(_choice(seeds[2], scale_candidate, max_nodes))
    t_x = interpolate(_choice(seeds[3], transform_candidate, max_nodes))
    t_y = interpolate(_choice(seeds[4], transform_candidate, max_nodes))
    return angle, scale, t_x, t_y


def affine_drift(x, angle, scale, t_x, t_y):
    """Rotate/scale x, y of every frame by its own angle and scale, then translate; z is unchanged.

    As in the official code the translation is added to every point, zero-padded frames included.
    Shape:
        x: (C, T, V, M), angle/scale/t_x/t_y: (T,) -> (C, T, V, M)
    """
    cos = (tf.cos(angle) * scale)[:, None, None]  # (T, 1, 1)
    sin = (tf.sin(angle) * scale)[:, None, None]
    new_x = cos * x[0] - sin * x[1] + t_x[:, None, None]  # (T, V, M)
    new_y = sin * x[0] + cos * x[1] + t_y[:, None, None]
    return tf.concat([tf.stack([new_x, new_y]), x[2:]], axis=0)  # (C, T, V, M)


def random_move(x, seed, **candidates):
    """The official random affine drift (`candidates`: the keyword arguments of move_params).

    Shape:
        x: (C, T, V, M) -> (C, T, V, M)
    """
    return affine_drift(x, *move_params(tf.shape(x)[1], seed, **candidates))


def check_augment(augment):
    """Validate an augment dict; returns it with defaults for the keys left out (what apply_augment takes)."""
    augment = dict(augment or {})
    unknown = sorted(set(augment) - set(AUGMENT_KEYS))
    if unknown:
        raise ValueError(f'augment: unknown key(s) {unknown}; allowed: {list(AUGMENT_KEYS)}')
    size = augment.get('random_choose') or 0
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f'augment: random_choose is a window size in frames (int >= 0), got {size!r}')
    return {'valid_crop': bool(augment.get('valid_crop')), 'random_shift': bool(augment.get('random_shift')),
            'random_choose': size, 'random_move': bool(augment.get('random_move'))}


def apply_augment(x, augment, seed):
    """The official feeder's order: valid_crop, random_shift, random_choose / pad back, random_move.
    `augment` is a check_augment() result (the feeders check it once, not per sample).

    Shape:
        x: (C, T, V, M) -> (C, random_choose or T, V, M)
    """
    shape = x.shape
    window = augment['random_choose'] or shape[1] or tf.shape(x)[1]
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    if augment['valid_crop']:
        x = valid_crop(x)
    if augment['random_shift']:
        x = random_shift(x, seeds[0])
    if augment['random_choose']:
        x = random_choose(x, window, seeds[1])
    elif augment['valid_crop']:
        x = auto_pading(x, window)  # back to the clip length, valid frames first
    if augment['random_move']:
        x = random_move(x, seeds[2])
    return tf.ensure_shape(x, [shape[0], window if isinstance(window, int) else None, shape[2], shape[3]])
