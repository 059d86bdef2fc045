"""Sliding windows: bounds, each window a recording of its own, merged segments (two synthetic actions give two,
meeting where the actions meet), stream == batch, and examples/stream_replay.py printing predict's windows."""
import importlib.util
import itertools
import json
import pathlib

import numpy as np
import pytest
from scipy.special import softmax

import main
from data_gen import gen_synthetic_data
from model.stgcn import build_model
from model.weights import save_weights
from serving import ServingError, StreamingRecognizer
from serving.pose_input import Reader
from serving.protocol import Protocol
from serving.windows import merge_segments, window_bounds, window_predictions
from tests.responsive import responsive
from tests.skeleton_text import frames_of, write_frames

WINDOW, STRIDE, MAX_FRAME = 24, 12, 32
FIXTURES = pathlib.Path(__file__).parent / 'fixtures'
ONE_BODY = FIXTURES / 'ntu' / 'skeletons' / 'S001C001P001R001A001.skeleton'  # 103 frames, one body throughout
TWO_BODIES = FIXTURES / 'ntu' / 'skeletons' / 'S001C003P008R002A058.skeleton'  # 70 frames
OPENPOSE = FIXTURES / 'pose' / 'openpose_body25_openposer_du_wohn_wo'  # 175 frames


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    """gen_synthetic_data's waving (A023) and raising both arms (A022), one performer seen by camera 1."""
    out = tmp_path_factory.mktemp('synthetic')
    assert gen_synthetic_data.main(['--out', str(out), '--num-classes', '2', '--num-performers', '1',
                                    '--replications', '1', '--min-frames', '34', '--max-frames', '40']) == 0
    return {action: out / f'S001C001P001R001{action}.skeleton' for action in ('A023', 'A022')}


def _model(preset='paper', data_mode='raw', max_frame=MAX_FRAME, num_class=3, example=None, **overrides):
    """A tiny responsive model recording data_mode and max_frame; example: (kind, path, frame_size) whose
    protocol input sets the scale (tests/responsive.py)."""
    model = build_model(preset, channels=(8, 8, 8), num_class=num_class, **overrides)
    model.meta = {'data_mode': data_mode, 'max_frame': max_frame, 'preset': preset}
    protocol = Protocol(model, num_clips=2 if preset == 'pyskl' else None)
    kind, path, frame_size = example or ('ntu', ONE_BODY, None)
    responsive(model, protocol.inputs(Reader(protocol, 'W', frame_size).read(kind, str(path))[0].frames), seed=0)
    return model


def _frames(model, path, kind='ntu', frame_size=None):
    return Reader(Protocol(model), 'W', frame_size).read(kind, str(path))[0].frames


@pytest.fixture(scope='module')
def raw_model():
    return _model()


def test_bounds():
    assert window_bounds(40, 24, 8) == [(0, 24), (8, 32), (16, 40)]
    assert window_bounds(42, 24, 8) == [(0, 24), (8, 32), (16, 40), (18, 42)]  # the tail gets a window
    assert window_bounds(10, 24, 8) == [(0, 10)] and window_bounds(24, 24, 8) == [(0, 24)]
    with pytest.raises(ServingError, match='--stride must be a positive number of frames, got 0'):
        window_bounds(40, 24, 0)
    with pytest.raises(ServingError, match='no frames'):
        window_bounds(0, 24, 8)


def test_raw_windows_are_the_model_on_each_zero_padded_slice(raw_model):
    frames = _frames(raw_model, ONE_BODY)  # (3, 103, 25, 2)
    windows = window_predictions(raw_model, frames, WINDOW, STRIDE, k=3)
    assert [(w['start'], w['end']) for w in windows] == window_bounds(103, WINDOW, STRIDE)
    assert windows[-1]['end'] == 103
    for w in windows:
        clip = np.zeros((3, MAX_FRAME, 25, 2), np.float32)
        clip[:, :w['end'] - w['start']] = frames[:, w['start']:w['end']]
        probs = softmax(np.asarray(raw_model(clip[None], training=False), np.float64)[0])
        assert [e['label'] for e in w['top_k']] == list(np.argsort(-probs, kind='stable'))
        np.testing.assert_allclose([e['prob'] for e in w['top_k']], np.sort(probs)[::-1], rtol=1e-12)
    # Segments: the runs of one top-1 label, restated with itertools.groupby.
    runs = [list(g) for _, g in itertools.groupby(windows, key=lambda w: w['top_k'][0]['label'])]
    assert [(s['start'], s['end'], s['label'], s['num_windows']) for s in merge_segments(windows)] == [
        (run[0]['start'], run[-1]['end'], run[0]['top_k'][0]['label'], len(run)) for run in runs]


@pytest.mark.parametrize('preset,data_mode', [('paper', 'prenorm'), ('pyskl', 'pyskl3d')])
def test_each_window_is_classified_as_a_file_of_its_frames_alone(preset, data_mode, tmp_path):
    """prenorm turns each window by its own first frame; PYSKL weights take their clips from the window."""
    model = _model(preset, data_mode)
    protocol = Protocol(model, num_clips=3 if preset == 'pyskl' else None)
    windows = window_predictions(protocol, _frames(model, ONE_BODY), WINDOW, STRIDE, k=3)
    lines = frames_of(ONE_BODY)
    for w in (windows[1], windows[-1]):
        alone = write_frames(tmp_path / f'{w["start"]}.skeleton', lines[w['start']:w['end']])
        assert protocol.top_k(protocol.probabilities(_frames(model, alone)), 3) == w['top_k']


def test_merge_segments():
    def win(start, end, label, prob):
        return {'start': start, 'end': end, 'top_k': [{'label': label, 'action': f'c{label}', 'prob': prob}]}
    windows = [win(0, 24, 1, 0.5), win(8, 32, 1, 0.7), win(16, 40, 2, 0.9), win(24, 48, 1, 0.4)]
    assert merge_segments(windows) == [
        {'start': 0, 'end': 32, 'label': 1, 'action': 'c1', 'num_windows': 2, 'mean_prob': pytest.approx(0.6)},
        {'start': 16, 'end': 40, 'label': 2, 'action': 'c2', 'num_windows': 1, 'mean_prob': 0.9},
        {'start': 24, 'end': 48, 'label': 1, 'action': 'c1', 'num_windows': 1, 'mean_prob': 0.4}]
    assert merge_segments([]) == []


def _pooled_features(model, x):
    """What the head sees. Shape: x (N, C, T, V, M) -> (N, C_out), the mean over frames, joints and persons."""
    last = np.asarray(model.block_outputs(x)[-1])  # (N*M, T', V, C_out)
    return last.mean(axis=(1, 2)).reshape(len(x), model.config.num_person, -1).mean(axis=1)


def test_two_actions_give_two_segments_meeting_where_the_actions_meet(synthetic, tmp_path, capsys):
    """32 frames of waving then 32 of raising both arms, windows of 16: the head is fitted (least squares) to
    tell the two apart on each action's own file, then predict runs on the joined recording."""
    length, window = 32, 16
    parts = {action: frames_of(path)[:length] for action, path in synthetic.items()}
    model = _model('paper', 'prenorm', max_frame=window, num_class=2)
    protocol = Protocol(model)
    alone = [_frames(model, write_frames(tmp_path / f'{action}.skeleton', lines)) for action, lines in parts.items()]
    # (4, 3, 16, 25, 2): each action's two windows
    x = np.concatenate([protocol.inputs(frames[:, s:s + window]) for frames in alone for s in (0, window)])
    features = np.concatenate([_pooled_features(model, x), np.ones((4, 1), np.float32)], axis=1)  # (4, C + 1)
    targets = np.array([[3.0, -3.0]] * 2 + [[-3.0, 3.0]] * 2)  # waving is label 0, raising both arms label 1
    head = np.linalg.lstsq(features, targets, rcond=None)[0]  # (C + 1, 2)
    model.fcn.kernel.assign(head[:-1].astype(np.float32))
    model.fcn.bias.assign(head[-1].astype(np.float32))
    weights = str(tmp_path / 'two.weights.h5')
    save_weights(model, weights)
    joined = write_frames(tmp_path / 'S001C001P001R001A023.skeleton', parts['A023'] + parts['A022'])
    assert main.main(['--phase', 'predict', '--weights', weights, '--skeleton', str(joined), '--window', str(window),
                      '--json']) == 0
    *windows, summary = map(json.loads, capsys.readouterr().out.splitlines())
    assert [(w['start'], w['end'], w['top_k'][0]['label']) for w in windows] == [(0, 16, 0), (16, 32, 0),
                                                                                   (32, 48, 1), (48, 64, 1)]
    assert [(s['start'], s['end'], s['label'], s['num_windows']) for s in summary['segments']] == [
        (0, length, 0, 2), (length, 2 * length, 1, 2)]
    assert summary['frames'] == 2 * length and summary['people']['kept'] == 1


def _replay(stream, frames):
    out = [p for p in (stream.push(frames[:, t]) for t in range(frames.shape[1])) if p is not None]
    return out + [p for p in [stream.flush()] if p is not None]


@pytest.mark.parametrize('cut', [None, 42, 20])  # the whole file, one with a tail window (18-42), a short one
def test_stream_equals_batch(raw_model, cut):
    frames = _frames(raw_model, ONE_BODY)[:, :cut]
    batch = window_predictions(raw_model, frames, WINDOW, STRIDE)
    stream = StreamingRecognizer(raw_model, window=WINDOW, stride=STRIDE)
    assert stream.protocol.max_frame == MAX_FRAME  # from model.meta
    assert _replay(stream, frames) == batch  # exactly: same windows, same probabilities


def test_stream_of_pyskl_tracks_keeps_their_float16_and_equals_batch():
    model = _model('pyskl', 'pyskl3d')
    frames = _frames(model, TWO_BODIES)
    assert frames.dtype == np.float16 and frames.shape == (3, 70, 25, 2)
    protocol = Protocol(model, num_clips=2)
    batch = window_predictions(protocol, frames, WINDOW, STRIDE)
    assert _replay(StreamingRecognizer(protocol, WINDOW, STRIDE), frames) == batch


def test_stream_refuses_a_changing_frame_shape_and_a_window_past_max_frame(raw_model):
    stream = StreamingRecognizer(raw_model, window=WINDOW, stride=STRIDE)
    stream.push(np.zeros((3, 25, 2)))
    with pytest.raises(ServingError, match=r'frame 1: shape \(3, 18, 2\), expected \(C, V, M\) = \(3, 25, 2\)'):
        stream.push(np.zeros((3, 18, 2)))
    with pytest.raises(ServingError, match=r'--window 33: the weights \(raw\) see at most max_frame = 32 frames'):
        StreamingRecognizer(raw_model, window=MAX_FRAME + 1, stride=STRIDE)


def _example():
    spec = importlib.util.spec_from_file_location('stream_replay', 'examples/stream_replay.py')
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)  # in this process: a second TensorFlow start-up would cost seconds
    return example


# data mode -> (preset, model overrides, input kind, path, flags)
REPLAYS = {'raw': ('paper', {}, 'ntu', TWO_BODIES, []),
           'pyskl3d': ('pyskl', {}, 'ntu', TWO_BODIES, ['--num-clips', '2']),
           'kinetics': ('paper', {'layout': 'openpose'}, 'openpose', OPENPOSE, ['--frame-size', '1280', '720'])}


@pytest.mark.parametrize('data_mode', list(REPLAYS))
def test_example_replay_prints_the_windows_of_predict(data_mode, tmp_path, capsys):
    preset, overrides, kind, path, flags = REPLAYS[data_mode]
    frame_size = (1280, 720) if kind == 'openpose' else None
    model = _model(preset, data_mode, example=(kind, path, frame_size), **overrides)
    weights = str(tmp_path / f'{data_mode}.weights.h5')
    save_weights(model, weights)
    args = ['--window', str(WINDOW), '--stride', str(STRIDE), '--json', '--top-k', '3'] + flags
    assert main.main(['--phase', 'predict', '--weights', weights, '--skeleton', str(path)] + args) == 0
    batch = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert _example().main(['--weights', weights, '--input', str(path)] + args) == 0
    streamed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(streamed) == len(batch) > 2
    for s, b in zip(streamed[:-1], batch[:-1]):
        assert (s['file'], s['start'], s['end']) == (b['file'], b['start'], b['end'])
        assert [e['label'] for e in s['top_k']] == [e['label'] for e in b['top_k']]
        np.testing.assert_allclose([e['prob'] for e in s['top_k']], [e['prob'] for e in b['top_k']], rtol=0, atol=1e-6)
    assert streamed[-1]['segments'] == batch[-1]['segments'] and streamed[-1]['people'] == batch[-1]['people']
    assert batch[-2]['end'] == batch[-1]['frames']


def test_example_bad_input(raw_model, tmp_path, capsys):
    weights = tmp_path / 'tiny.weights.h5'
    save_weights(raw_model, weights)
    example = _example()
    assert example.main(['--weights', str(weights), '--input', str(tmp_path / 'missing.json')]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (f'error: --input {tmp_path / "missing.json"}: no such '
                                                                 'file or folder')
    assert example.main(['--weights', str(weights), '--input', str(OPENPOSE)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f'error: {OPENPOSE}: a pose file gives 2D joints (x, y, score); the weights {weights} take 3D joints '
        '(x, y, z), V = 25, M = 2 (layout ntu-rgb+d, data mode raw)')
