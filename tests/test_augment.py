"""feeders/augment.py: the official st-gcn feeder tools as TF ops, eagerly and inside Dataset.map."""
import numpy as np
import pytest
import tensorflow as tf

from feeders import augment as aug

C, T, V, M = 3, 24, 25, 2


def _sample(valid=(5, 17), seed=0):
    """(C, T, V, M) float32, non-zero only in frames [valid[0], valid[1]) (person 1 empty)."""
    x = np.zeros((C, T, V, M), np.float32)
    x[:, valid[0]:valid[1], :, 0] = np.random.default_rng(seed).uniform(0.1, 1, (C, valid[1] - valid[0], V))
    return x


def _in_map(fn, x, seed):
    """fn(x, seed) run inside Dataset.map; static shapes come from the dataset element spec."""
    ds = tf.data.Dataset.from_tensors((x, tf.constant(seed, tf.int64))).map(fn)
    (out,) = list(ds)
    return ds.element_spec, out.numpy()


def _both(fn, x, seed):
    """Eager and Dataset.map results of fn must be identical (stateless seeds)."""
    eager = fn(tf.constant(x), tf.constant(seed, tf.int64)).numpy()
    spec, mapped = _in_map(fn, x, seed)
    np.testing.assert_array_equal(eager, mapped)
    assert eager.dtype == np.float32 and spec.dtype == tf.float32
    return eager, spec


def _frames(x):
    """The multiset of frames as a sorted list of byte strings."""
    return sorted(x[:, t].tobytes() for t in range(x.shape[1]))


def test_random_shift_moves_the_valid_block_and_keeps_every_frame():
    x = _sample()
    biases = set()
    for seed in range(150):
        if seed < 3:
            out, spec = _both(aug.random_shift, x, [seed, 1])
            assert spec.shape == (C, T, V, M)
        else:
            out = aug.random_shift(tf.constant(x), tf.constant([seed, 1], tf.int64)).numpy()
        assert out.shape == x.shape
        assert _frames(out) == _frames(x)  # a permutation of frames: zero frames moved around the clip
        begin, end = (int(v) for v in aug.valid_range(tf.constant(out)))
        np.testing.assert_array_equal(out[:, begin:end], x[:, 5:17])  # the valid part, unchanged, in order
        biases.add(begin)
    assert biases == set(range(0, T - 12 + 1))  # random.randint(0, T - size): every offset reachable


def test_random_shift_of_an_empty_sample_is_the_identity():
    x = np.zeros((C, T, V, M), np.float32)
    out, _ = _both(aug.random_shift, x, [0, 0])
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize('size', [10, T, 30])
def test_random_choose_window_or_padding(size):
    x = _sample(valid=(0, T))
    starts = set()
    for seed in range(150):
        if seed < 2:
            out, spec = _both(lambda s, sd: aug.random_choose(s, size, sd), x, [seed, 2])
            assert spec.shape[1] == size
        else:
            out = aug.random_choose(tf.constant(x), size, tf.constant([seed, 2], tf.int64)).numpy()
        assert out.shape == (C, size, V, M)
        if size <= T:  # a window of consecutive frames
            start = next(b for b in range(T - size + 1) if np.array_equal(out, x[:, b:b + size]))
        else:  # the whole clip at a random offset in zeros
            start = next(b for b in range(size - T + 1) if np.array_equal(out[:, b:b + T], x))
            assert np.count_nonzero(np.abs(out).sum(axis=(0, 2, 3))) == T
        starts.add(start)
    assert starts == set(range(abs(T - size) + 1))


def _official_move_arrays(num_frames, node, A, S, TX, TY):
    """st-gcn tools.random_move's per-frame arrays from its node values (the official linspace loop)."""
    a, s, t_x, t_y = (np.zeros(num_frames) for _ in range(4))
    for i in range(len(node) - 1):
        n = node[i + 1] - node[i]
        a[node[i]:node[i + 1]] = np.linspace(A[i], A[i + 1], n) * np.pi / 180
        s[node[i]:node[i + 1]] = np.linspace(S[i], S[i + 1], n)
        t_x[node[i]:node[i + 1]] = np.linspace(TX[i], TX[i + 1], n)
        t_y[node[i]:node[i + 1]] = np.linspace(TY[i], TY[i + 1], n)
    return a, s, t_x, t_y


def _official_transform(x, a, s, t_x, t_y):
    """The official per-frame loop applying theta and the translation to x, y."""
    x = x.astype(np.float64).copy()
    theta = np.array([[np.cos(a) * s, -np.sin(a) * s], [np.sin(a) * s, np.cos(a) * s]])
    for i in range(x.shape[1]):
        new_xy = np.dot(theta[:, :, i], x[0:2, i].reshape(2, -1))
        new_xy[0] += t_x[i]
        new_xy[1] += t_y[i]
        x[0:2, i] = new_xy.reshape(2, V, M)
    return x


@pytest.mark.parametrize('move_time', [1, 3])
def test_move_params_interpolate_candidates_like_the_official_linspace(move_time):
    for seed in range(5):
        params = [p.numpy().astype(np.float64) for p in aug.move_params(
            T, tf.constant([seed, 3], tf.int64), move_time_candidate=(move_time,))]
        node = np.append(np.arange(0, T, T * 1.0 / move_time).round().astype(int), T)
        # Node values: the first frame of each segment, and the last frame for the final one.
        values = [np.append(p[node[:-1]], p[-1]) for p in params]
        values[0] = values[0] * 180 / np.pi
        assert set(np.round(values[0], 4)) <= set(aug.ANGLE_CANDIDATE)
        assert set(np.round(values[1], 6)) <= set(aug.SCALE_CANDIDATE)
        assert set(np.round(values[2], 6)) | set(np.round(values[3], 6)) <= set(aug.TRANSFORM_CANDIDATE)
        for ours, official in zip(params, _official_move_arrays(T, node, *values)):
            np.testing.assert_allclose(ours, official, atol=1e-5)


def test_random_move_is_the_official_affine_drift():
    x = _sample()
    for seed in range(3):
        out, spec = _both(aug.random_move, x, [seed, 4])
        assert spec.shape == (C, T, V, M)
        params = [p.numpy().astype(np.float64) for p in aug.move_params(T, tf.constant([seed, 4], tf.int64))]
        np.testing.assert_allclose(out, _official_transform(x, *params), atol=1e-5)
        np.testing.assert_array_equal(out[2], x[2])  # z untouched


def test_random_move_keeps_zeros_only_without_translation():
    x = _sample()
    still = lambda s, sd: aug.random_move(s, sd, transform_candidate=(0.0,))  # noqa: E731
    out, _ = _both(still, x, [7, 7])
    np.testing.assert_array_equal(out[x == 0], 0)  # rotation and scale map zero to zero
    # The official code adds the translation to every point, padding included; it is reproduced as is.
    moved = aug.affine_drift(tf.constant(x), *(tf.fill([T], v) for v in (0.0, 1.0, 0.2, -0.1))).numpy()
    np.testing.assert_allclose(moved[:2, 0, 0, 1], [0.2, -0.1])


def test_valid_crop_and_the_pipeline_order():
    x = _sample(valid=(5, 17))
    np.testing.assert_array_equal(aug.valid_crop(tf.constant(x)).numpy(), x[:, 5:17])
    cropped, spec = _both(lambda s, sd: aug.apply_augment(s, aug.check_augment({'valid_crop': True}), sd), x, [0, 0])
    np.testing.assert_array_equal(cropped[:, :12], x[:, 5:17])  # valid frames first, zeros after
    assert not cropped[:, 12:].any() and spec.shape == (C, T, V, M)
    every = {'valid_crop': True, 'random_shift': True, 'random_choose': 16, 'random_move': True}
    out, spec = _both(lambda s, sd: aug.apply_augment(s, every, sd), x, [1, 2])
    assert out.shape == (C, 16, V, M) and spec.shape == (C, 16, V, M)


def test_apply_augment_off_is_the_identity_and_bad_keys_fail():
    x = _sample()
    out, _ = _both(lambda s, sd: aug.apply_augment(s, aug.check_augment({}), sd), x, [0, 0])
    np.testing.assert_array_equal(out, x)
    with pytest.raises(ValueError, match="unknown key.*'window'"):
        aug.check_augment({'window': 3})
    with pytest.raises(ValueError, match='random_choose'):
        aug.check_augment({'random_choose': True})
