"""Sliding windows over a recording of two synthetic actions: bounds, top-k, merged segments, stream == batch."""
import importlib.util
import itertools
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import softmax

from data_gen import gen_synthetic_data
from data_gen.preprocess import skeleton_to_sample
from data_gen.skeleton import read_skeleton
from model.stgcn import build_model
from model.weights import save_weights
from serving import ServingError, StreamingRecognizer
from serving.windows import merge_segments, window_bounds, window_predictions
from tests.trained_scale import randomize

WINDOW, STRIDE, MAX_FRAME = 24, 12, 32


@pytest.fixture(scope='module')
def recording(tmp_path_factory):
    """Waving then raising both arms, one performer seen by camera 1: (3, T, 25, 2) raw metres."""
    out = tmp_path_factory.mktemp('synthetic')
    assert gen_synthetic_data.main(['--out', str(out), '--num-classes', '2', '--num-performers', '1',
                                    '--replications', '1', '--min-frames', '30', '--max-frames', '40']) == 0
    parts = []
    for action in ('A023', 'A022'):  # waving, raising both arms
        path = str(out / f'S001C001P001R001{action}.skeleton')
        parts.append(skeleton_to_sample(path, mode='raw', max_frame=read_skeleton(path).num_frames))
    return np.concatenate(parts, axis=1), parts[0].shape[1], out


@pytest.fixture(scope='module')
def model():
    model = randomize(build_model('paper', channels=(4, 8, 8), num_class=3), seed=0)
    model.meta = {'data_mode': 'raw', 'max_frame': MAX_FRAME, 'preset': 'paper'}
    return model


def test_bounds():
    assert window_bounds(40, 24, 8) == [(0, 24), (8, 32), (16, 40)]
    assert window_bounds(42, 24, 8) == [(0, 24), (8, 32), (16, 40), (18, 42)]  # the tail gets a window
    assert window_bounds(10, 24, 8) == [(0, 10)] and window_bounds(24, 24, 8) == [(0, 24)]
    with pytest.raises(ServingError, match='--stride must be a positive number of frames, got 0'):
        window_bounds(40, 24, 0)
    with pytest.raises(ServingError, match='no frames'):
        window_bounds(0, 24, 8)


def test_windows_are_the_model_on_each_padded_slice(recording, model):
    sample, _, _ = recording
    windows = window_predictions(model, sample, WINDOW, STRIDE, MAX_FRAME, k=3)
    assert [(w['start'], w['end']) for w in windows] == window_bounds(sample.shape[1], WINDOW, STRIDE)
    assert windows[-1]['end'] == sample.shape[1]
    for w in windows:
        clip = np.zeros((3, MAX_FRAME, 25, 2), np.float32)
        clip[:, :w['end'] - w['start']] = sample[:, w['start']:w['end']]
        probs = softmax(np.asarray(model(clip[None], training=False), np.float64)[0])
        assert [e['label'] for e in w['top_k']] == list(np.argsort(-probs, kind='stable'))
        np.testing.assert_allclose([e['prob'] for e in w['top_k']], np.sort(probs)[::-1], rtol=1e-12)
    # Segments: the runs of one top-1 label, restated with itertools.groupby.
    runs = [list(g) for _, g in itertools.groupby(windows, key=lambda w: w['top_k'][0]['label'])]
    assert [(s['start'], s['end'], s['label'], s['num_windows']) for s in merge_segments(windows)] == [
        (run[0]['start'], run[-1]['end'], run[0]['top_k'][0]['label'], len(run)) for run in runs]


def test_merge_segments():
    def win(start, end, label, prob):
        return {'start': start, 'end': end, 'top_k': [{'label': label, 'action': f'c{label}', 'prob': prob}]}
    windows = [win(0, 24, 1, 0.5), win(8, 32, 1, 0.7), win(16, 40, 2, 0.9), win(24, 48, 1, 0.4)]
    assert merge_segments(windows) == [
        {'start': 0, 'end': 32, 'label': 1, 'action': 'c1', 'num_windows': 2, 'mean_prob': pytest.approx(0.6)},
        {'start': 16, 'end': 40, 'label': 2, 'action': 'c2', 'num_windows': 1, 'mean_prob': 0.9},
        {'start': 24, 'end': 48, 'label': 1, 'action': 'c1', 'num_windows': 1, 'mean_prob': 0.4}]
    assert merge_segments([]) == []


def _replay(stream, sample):
    out = [p for p in (stream.push(sample[:, t]) for t in range(sample.shape[1])) if p is not None]
    return out + [p for p in [stream.flush()] if p is not None]


@pytest.mark.parametrize('cut', [None, 42, 20])  # 42: windows 0-24, 12-36, then the tail 18-42  # the whole recording, one with a tail window, a short one
def test_stream_equals_batch(recording, model, cut):
    sample = recording[0][:, :cut]
    batch = window_predictions(model, sample, WINDOW, STRIDE, MAX_FRAME)
    stream = StreamingRecognizer(model, window=WINDOW, stride=STRIDE)
    assert stream.max_frame == MAX_FRAME  # from model.meta
    assert _replay(stream, sample) == batch  # exactly: same windows, same probabilities


def test_stream_refuses_a_changing_frame_shape(model):
    stream = StreamingRecognizer(model, window=WINDOW, stride=STRIDE)
    stream.push(np.zeros((3, 25, 2)))
    with pytest.raises(ServingError, match=r'frame 1: shape \(3, 18, 2\), expected \(C, V, M\) = \(3, 25, 2\)'):
        stream.push(np.zeros((3, 18, 2)))


def test_example_replays_a_file(recording, model, tmp_path):
    weights = tmp_path / 'tiny.weights.h5'
    save_weights(model, weights, data_mode='raw')
    path = recording[2] / 'S001C001P001R001A023.skeleton'
    run = subprocess.run([sys.executable, 'examples/stream_replay.py', '--weights', str(weights), '--input', str(path),
                          '--window', str(WINDOW), '--stride', str(STRIDE)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    sample = skeleton_to_sample(str(path), mode='raw', max_frame=read_skeleton(str(path)).num_frames)
    expected = window_predictions(model, sample, WINDOW, STRIDE, MAX_FRAME)
    assert [line.split()[0] for line in lines[:len(expected)]] == [f'{w["start"]}-{w["end"]}' for w in expected]
    assert [int(line.split()[1]) for line in lines[:len(expected)]] == [w['top_k'][0]['label'] for w in expected]
    assert lines[len(expected)] == 'stream == batch: True'


def test_example_bad_input(model, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('stream_replay', 'examples/stream_replay.py')
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)  # in this process: a second TensorFlow start-up would cost seconds
    weights = tmp_path / 'tiny.weights.h5'
    save_weights(model, weights, data_mode='raw')
    assert example.main(['--weights', str(weights), '--input', str(tmp_path / 'missing.json')]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f'error: {tmp_path / "missing.json"}: not a regular file'
