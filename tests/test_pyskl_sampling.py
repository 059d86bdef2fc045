"""PYSKL's UniformSampleFrames: test clips equal to a re-statement for every length 1..400, training clips
obeying the segment rules eagerly and inside tf.data."""
import numpy as np
import pytest
import tensorflow as tf

from feeders import pyskl_sampling


def _pyskl_test_clips(num_frames, clip_len, num_clips, keypoint=None, seed=255):
    """kennymckormick/pyskl:pyskl/datasets/pipelines/sampling.py:UniformSampleFrames in test mode
    (_get_test_clips then __call__) at p_interval (1, 1), start_index 0, on numpy's global legacy RNG."""
    np.random.seed(seed)
    all_inds = []
    for i in range(num_clips):
        old_num_frames = num_frames
        ratio = np.random.rand() * (1 - 1) + 1
        num_frames = int(ratio * num_frames)
        off = np.random.randint(old_num_frames - num_frames + 1)
        if num_frames < clip_len:
            start_ind = i if num_frames < num_clips else i * num_frames // num_clips
            inds = np.arange(start_ind, start_ind + clip_len)
        elif clip_len <= num_frames < clip_len * 2:
            basic = np.arange(clip_len)
            inds = np.random.choice(clip_len + 1, num_frames - clip_len, replace=False)
            offset = np.zeros(clip_len + 1, dtype=np.int64)
            offset[inds] = 1
            offset = np.cumsum(offset)
            inds = basic + offset[:-1]
        else:
            bids = np.array([i * num_frames // clip_len for i in range(clip_len + 1)])
            bsize = np.diff(bids)
            bst = bids[:clip_len]
            offset = np.random.randint(bsize)
            inds = bst + offset
        all_inds.append(inds + off)
        num_frames = old_num_frames
    inds = np.mod(np.concatenate(all_inds), num_frames)
    if keypoint is not None:  # the transitional-frame rounding of __call__
        num_person = keypoint.shape[0]
        num_persons = [num_person] * num_frames
        for i in range(num_frames):
            j = num_person - 1
            while j >= 0 and np.all(np.abs(keypoint[j, i]) < 1e-5):
                j -= 1
            num_persons[i] = j + 1
        transitional = [False] * num_frames
        for i in range(1, num_frames - 1):
            if num_persons[i] != num_persons[i - 1]:
                transitional[i] = transitional[i - 1] = True
            if num_persons[i] != num_persons[i + 1]:
                transitional[i] = transitional[i + 1] = True
        inds_int = inds.astype(int)
        coeff = np.array([transitional[i] for i in inds_int])
        inds = (coeff * inds_int + (1 - coeff) * inds).astype(np.float32)
    return inds.astype(int)


def _keypoint_with_transitions(num_frames, rng):
    """(2, T, 25, 3): the second person comes and goes, so many frames are transitional."""
    keypoint = rng.standard_normal((2, num_frames, 25, 3))
    keypoint[1, rng.random(num_frames) < 0.5] = 0
    return keypoint


def test_every_length_1_to_400_equals_pyskl():
    rng = np.random.default_rng(0)
    for total_frames in range(1, 401):
        ours = pyskl_sampling.test_clip_indices(total_frames, clip_len=100, num_clips=10)
        assert ours.shape == (10, 100) and ours.dtype == np.int64
        expected = _pyskl_test_clips(total_frames, 100, 10, _keypoint_with_transitions(total_frames, rng))
        np.testing.assert_array_equal(ours.ravel(), expected, err_msg=f'total_frames={total_frames}')
        # The rounding step changes nothing: the indices without it are the same.
        np.testing.assert_array_equal(expected, _pyskl_test_clips(total_frames, 100, 10))


@pytest.mark.parametrize('total_frames', [5, 99, 150, 237])
def test_one_val_clip_and_other_clip_lengths(total_frames):
    np.testing.assert_array_equal(pyskl_sampling.test_clip_indices(total_frames, 100, 1).ravel(),
                                  _pyskl_test_clips(total_frames, 100, 1))
    np.testing.assert_array_equal(pyskl_sampling.test_clip_indices(total_frames, 32, 3).ravel(),
                                  _pyskl_test_clips(total_frames, 32, 3))


def test_the_seed_matters():
    """Re-seeding per sample: a clip does not depend on the samples before it; a different seed differs."""
    first = pyskl_sampling.test_clip_indices(250)
    pyskl_sampling.test_clip_indices(180)
    np.testing.assert_array_equal(pyskl_sampling.test_clip_indices(250), first)
    assert not np.array_equal(first.ravel(), _pyskl_test_clips(250, 100, 10, seed=0))


def test_table_rows_are_the_clips_by_length():
    table = pyskl_sampling.test_clip_table(130, clip_len=100, num_clips=2)
    assert table.shape == (130, 2, 100) and table.dtype == np.int32
    for t in (1, 64, 100, 130):
        np.testing.assert_array_equal(table[t - 1], pyskl_sampling.test_clip_indices(t, 100, 2))


def test_bad_length():
    with pytest.raises(ValueError, match='total_frames must be >= 1, got 0'):
        pyskl_sampling.test_clip_indices(0)


def _check_segment_rules(inds, total_frames, clip_len):
    """PYSKL's training clip, case by case."""
    assert inds.shape == (clip_len,) and np.all((0 <= inds) & (inds < total_frames))
    if total_frames < clip_len:  # consecutive from a start, looped
        np.testing.assert_array_equal(inds, (inds[0] + np.arange(clip_len)) % total_frames)
        return
    assert np.all(np.diff(inds) >= 1)  # strictly increasing: sorted, no frame twice
    if total_frames < 2 * clip_len:  # in order, at most one frame skipped at each of the clip_len + 1 gaps
        assert np.all(np.diff(inds) <= 2) and inds[0] <= 1 and inds[-1] >= total_frames - 2
        return
    bounds = np.arange(clip_len + 1) * total_frames // clip_len
    assert np.all((bounds[:-1] <= inds) & (inds < bounds[1:]))  # one frame in each segment


LENGTHS = [1, 2, 7, 31, 32, 33, 50, 63, 64, 65, 100, 127, 128, 300]


@pytest.mark.parametrize('total_frames', LENGTHS)
def test_training_clip_segment_rules_eagerly(total_frames):
    clip_len = 32
    draws = [pyskl_sampling.train_clip_indices(total_frames, [s, 7], clip_len).numpy() for s in range(20)]
    for inds in draws:
        assert inds.dtype == np.int32
        _check_segment_rules(inds, total_frames, clip_len)
    # Stateless: the same seed gives the same clip; different seeds differ where there is a choice.
    np.testing.assert_array_equal(pyskl_sampling.train_clip_indices(total_frames, [0, 7], clip_len), draws[0])
    if total_frames not in (1, clip_len):
        assert len({d.tobytes() for d in draws}) > 1


def test_training_clip_inside_tf_data():
    clip_len = 32
    lengths = tf.constant(LENGTHS * 3, tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices(lengths).enumerate().map(
        lambda i, t: (t, pyskl_sampling.train_clip_indices(t, tf.stack([tf.cast(i, tf.int32), 3]), clip_len)))
    seen = 0
    for t, inds in dataset:
        _check_segment_rules(inds.numpy(), int(t), clip_len)
        seen += 1
    assert seen == len(LENGTHS) * 3


def test_training_medium_case_skips_uniformly():
    """T = clip_len + 1: exactly one of the clip_len + 1 frames is skipped, each about equally often."""
    clip_len, draws = 8, 900
    skipped = np.zeros(clip_len + 1)
    for s in range(draws):
        inds = pyskl_sampling.train_clip_indices(clip_len + 1, [s, 1], clip_len).numpy()
        skipped[np.setdiff1d(np.arange(clip_len + 1), inds)] += 1
    assert skipped.sum() == draws
    np.testing.assert_allclose(skipped / draws, 1 / (clip_len + 1), atol=0.04)


def test_training_clips_for_a_batch():
    """One op for a batch of lengths: every row obeys the segment rules of its own length."""
    clip_len, lengths = 32, np.array(LENGTHS, np.int32)
    inds = pyskl_sampling.train_clip_indices(lengths, [4, 2], clip_len).numpy()
    assert inds.shape == (len(LENGTHS), clip_len)
    for row, total_frames in zip(inds, LENGTHS):
        _check_segment_rules(row, total_frames, clip_len)
    (in_tf_data,) = list(tf.data.Dataset.from_tensors(lengths).map(
        lambda t: pyskl_sampling.train_clip_indices(t, [4, 2], clip_len)))
    np.testing.assert_array_equal(in_tf_data, inds)
