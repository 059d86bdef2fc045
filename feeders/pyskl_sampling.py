"""PYSKL's UniformSampleFrames: which frames a clip takes (kennymckormick/pyskl:
pyskl/datasets/pipelines/sampling.py:UniformSampleFrames), at PYSKL's p_interval 1.

A clip of clip_len frames out of T takes one frame from each of clip_len equal segments. Three cases:
  T < clip_len            clip_len consecutive frames from a start, looped (index % T);
  clip_len <= T < 2 clip_len  every frame in order but T - clip_len skipped, at random gaps;
  T >= 2 clip_len         one random frame in each segment [i T // clip_len, (i + 1) T // clip_len).

Test clips (numpy) are PYSKL's exactly: it re-seeds numpy's global legacy RNG with 255 for every test sample
and draws one np.random.rand() (the p_interval ratio) before each clip even when the interval is (1, 1); a
local RandomState(255) gives the same stream. The transitional-frame rounding PYSKL applies afterwards
(frames where the person count changes) only rounds the indices to int, and they already are: it changes
none, so it is left out (tests/test_pyskl_sampling.py runs it to show that).

Training clips (TF, stateless seeds) follow the same three cases with TF's random streams instead of
numpy's, so they run inside tf.data.Dataset.map.
"""
import numpy as np
import tensorflow as tf

TEST_SEED = 255  # PYSKL's UniformSampleFrames default seed, re-applied to every test sample


def test_clip_indices(total_frames, clip_len=100, num_clips=10):
    """PYSKL's test-mode frame indices for a sample of ``total_frames`` frames.

    Shape: returns int64 (num_clips, clip_len), every index in [0, total_frames).
    """
    if total_frames < 1:
        raise ValueError(f'total_frames must be >= 1, got {total_frames}')
    rng = np.random.RandomState(TEST_SEED)
    clips = []
    for i in range(num_clips):
        rng.rand()  # PYSKL's p_interval ratio; its offset draw, randint(1), takes nothing from the stream
        if total_frames < clip_len:
            start = i if total_frames < num_clips else i * total_frames // num_clips
            inds = np.arange(start, start + clip_len)
        elif total_frames < 2 * clip_len:
            inds = np.arange(clip_len) + _skip_offsets(rng.choice(clip_len + 1, total_frames - clip_len,
                                                                  replace=False), clip_len)
        else:
            bounds = np.arange(clip_len + 1) * total_frames // clip_len  # (clip_len + 1,) segment edges
            inds = bounds[:-1] + rng.randint(np.diff(bounds))
        clips.append(inds % total_frames)
    return np.stack(clips).astype(np.int64)


def _skip_offsets(skipped, clip_len):
    """How many skipped gaps precede each clip position: positions ``skipped`` of the clip_len + 1 gaps."""
    gaps = np.zeros(clip_len + 1, np.int64)
    gaps[skipped] = 1
    return np.cumsum(gaps)[:-1]


def test_clip_table(max_frames, clip_len=100, num_clips=10):
    """test_clip_indices for every length 1..max_frames, so tf.data can gather them by length.

    Shape: returns int32 (max_frames, num_clips, clip_len); row t - 1 is test_clip_indices(t).
    """
    return np.stack([test_clip_indices(t, clip_len, num_clips) for t in range(1, max_frames + 1)]
                    ).astype(np.int32)


def train_clip_indices(total_frames, seed, clip_len=100):
    """Random training clips' frame indices, PYSKL's three cases; a TF op usable in Dataset.map.

    Works on one sample or on a batch at once (one op per batch instead of per sample: that is what makes
    the pipeline fast).
    Args:
      total_frames: int32 tensor, a scalar or (B,), every value >= 1.
      seed: int (2,) stateless seed; the same seed and shapes give the same clips.
    Shape: returns int32 (clip_len,) or (B, clip_len), every index in [0, total_frames).
    """
    total_frames = tf.convert_to_tensor(total_frames, tf.int32)
    tf.debugging.assert_positive(total_frames, message='train_clip_indices: total_frames must be >= 1')
    start_seed, skip_seed, segment_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    lead = tf.shape(total_frames)  # () or (B,)
    frames = total_frames[..., None]  # (..., 1)
    positions = tf.range(clip_len, dtype=tf.int32)  # (clip_len,)

    # T < clip_len: a random start in [0, T), looped; min() guards float rounding up to T.
    start = tf.cast(tf.random.stateless_uniform(lead, start_seed) * tf.cast(total_frames, tf.float32), tf.int32)
    start = tf.minimum(start, total_frames - 1)[..., None]  # (..., 1)
    short = (start + positions) % frames

    # clip_len <= T < 2 clip_len: skip T - clip_len of the clip_len + 1 gaps, a uniformly random subset
    # (the ranks of i.i.d. uniforms are a random permutation, as numpy's choice without replacement).
    uniform = tf.random.stateless_uniform(tf.concat([lead, [clip_len + 1]], 0), skip_seed)
    ranks = tf.argsort(tf.argsort(uniform, axis=-1), axis=-1)  # (..., clip_len + 1)
    skipped = tf.cast(ranks < frames - clip_len, tf.int32)
    medium = positions + tf.cumsum(skipped, axis=-1)[..., :-1]

    # T >= 2 clip_len: one frame uniformly in each segment; min() guards float rounding up to the size.
    bounds = tf.range(clip_len + 1, dtype=tf.int32) * frames // clip_len  # (..., clip_len + 1)
    size = bounds[..., 1:] - bounds[..., :-1]  # (..., clip_len)
    uniform = tf.random.stateless_uniform(tf.concat([lead, [clip_len]], 0), segment_seed)
    offset = tf.minimum(tf.cast(uniform * tf.cast(size, tf.float32), tf.int32), size - 1)
    long = bounds[..., :-1] + offset

    return tf.where(frames < clip_len, short, tf.where(frames < 2 * clip_len, medium, long))
