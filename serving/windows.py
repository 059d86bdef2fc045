"""Actions over time: classify a long recording window by window, as a batch or as a stream of frames.

Windows of `window` frames start every `stride` frames; when the recording does not end on a window, one last
window ends at its last frame, so every frame is covered (a recording shorter than a window is one window).
Each window is classified as a recording of its own under the weights' protocol (serving/protocol.py: raw and
prenorm re-preprocess it, PYSKL weights take their test clips from it). StreamingRecognizer, fed the same
frames one at a time, yields exactly the windows of window_predictions: both classify one window per model
call, so no batch composition can change a logit.
"""
import collections
import os

import numpy as np

from model.errors import WeightsError
from serving import ServingError
from serving.protocol import Protocol

TOP_K = 5


def window_bounds(num_frames, window, stride):
    """[(start, end)] of the windows over ``num_frames`` frames, end exclusive."""
    _check_window(window, stride)
    if num_frames < 1:
        raise ServingError('the recording has no frames')
    if num_frames <= window:
        return [(0, num_frames)]
    bounds = [(start, start + window) for start in range(0, num_frames - window + 1, stride)]
    if bounds[-1][1] < num_frames:
        bounds.append((num_frames - window, num_frames))
    return bounds


def window_predictions(protocol, frames, window, stride, k=TOP_K):
    """The top-k classes of each window of a recording.

    protocol: a serving.protocol.Protocol, or a model with meta (its protocol with PYSKL's default clips).
    Shape: frames (C, T, V, M) as serving/pose_input.py reads them
        -> [{'start', 'end', 'top_k': [{'label', 'action', 'prob'}, ...]}], end exclusive.
    """
    protocol = _as_protocol(protocol)
    bounds, probabilities = window_probabilities(protocol, frames, window, stride)
    return [{'start': start, 'end': end, 'top_k': protocol.top_k(p, k)}
            for (start, end), p in zip(bounds, probabilities)]


def window_probabilities(protocol, frames, window, stride):
    """The softmax of each window of a recording under a serving.protocol.Protocol, one window a model call
    (tools/visualize.py averages them over the windows covering a frame).

    Shape: frames (C, T, V, M) as serving/pose_input.py reads them -> bounds [(start, end)] (W pairs, end
    exclusive), probabilities float64 (W, num_class).
    """
    protocol.check_window(window)
    frames = np.asarray(frames)
    bounds = window_bounds(frames.shape[1], window, stride)
    return bounds, np.stack([protocol.probabilities(frames[:, start:end]) for start, end in bounds])


def merge_segments(windows):
    """Runs of consecutive windows with the same top-1 class -> [{'start', 'end', 'label', 'action',
    'num_windows', 'mean_prob'}]: start of the run's first window, end of its last (overlapping windows make
    neighbouring segments overlap too); mean_prob is the top-1 probability averaged over the run."""
    segments = []
    for w in windows:
        best = w['top_k'][0]
        if segments and segments[-1]['label'] == best['label']:
            run = segments[-1]
            run['end'] = w['end']
            run['probs'].append(best['prob'])
        else:
            segments.append({'start': w['start'], 'end': w['end'], 'label': best['label'], 'action': best['action'],
                             'probs': [best['prob']]})
    for run in segments:
        probs = run.pop('probs')
        run['num_windows'], run['mean_prob'] = len(probs), float(np.mean(probs))
    return segments


class StreamingRecognizer:
    """Frame-by-frame recognition: push each frame, get a window's prediction whenever one completes.

    weights_or_model: a Protocol, a built STGCN with meta, or a path model.weights.load_pretrained reads;
    num_clips: PYSKL weights' clips a window (None: PYSKL's 10). Frames are pushed as serving/pose_input.py
    reads them (Recording.frames[:, t]), so what is decided over a whole file (NTU's body selection, PYSKL's
    tracks) is the caller's; each window then gets the protocol's own preprocessing. After the last frame,
    flush() gives the final window that window_predictions adds when the recording does not end on a window.
    """

    def __init__(self, weights_or_model, window, stride, k=TOP_K, num_clips=None):
        _check_window(window, stride)
        self.protocol = _as_protocol(weights_or_model, num_clips)
        self.protocol.check_window(window)
        self.window, self.stride, self.k = window, stride, k
        self.frames = collections.deque(maxlen=window)  # the last `window` frames, each (C, V, M)
        self.num_frames, self.last_end, self.frame_shape = 0, 0, None

    def push(self, frame):
        """One frame (C, V, M) -> a window's prediction dict or None. Its dtype is kept (PYSKL's float16
        tracks are computed as float16, as from a pickle); non-float input becomes float32."""
        frame = np.asarray(frame)
        if not np.issubdtype(frame.dtype, np.floating):
            frame = frame.astype(np.float32)
        if self.frame_shape is None:
            self.frame_shape = frame.shape
        if frame.shape != self.frame_shape or frame.ndim != 3:
            raise ServingError(f'frame {self.num_frames}: shape {frame.shape}, expected (C, V, M) = '
                               f'{self.frame_shape} as the first frame')
        self.frames.append(frame)
        self.num_frames += 1
        start = self.num_frames - self.window
        if start >= 0 and start % self.stride == 0:
            return self._predict()
        return None

    def flush(self):
        """The last window if the frames pushed do not end on one (as window_predictions has it), else None."""
        if self.num_frames == 0 or self.last_end == self.num_frames:
            return None
        return self._predict()

    def _predict(self):
        clip = np.stack(self.frames, axis=1)  # (C, L, V, M), L = min(window, frames pushed)
        self.last_end = self.num_frames
        return {'start': self.num_frames - clip.shape[1], 'end': self.num_frames,
                'top_k': self.protocol.top_k(self.protocol.probabilities(clip), self.k)}


def _as_protocol(given, num_clips=None):
    """A Protocol as given, or that of a model or of the weights at a path."""
    if isinstance(given, Protocol):
        return given
    return Protocol(_as_model(given), num_clips, source=str(given) if isinstance(given, (str, os.PathLike))
                    else 'the model')


def _as_model(weights_or_model):
    if not isinstance(weights_or_model, (str, bytes)) and not hasattr(weights_or_model, '__fspath__'):
        return weights_or_model
    from model.weights import load_pretrained  # imports TensorFlow: only when weights are given

    try:
        return load_pretrained(str(weights_or_model))
    except WeightsError as err:
        raise ServingError(str(err)) from None


def _check_window(window, stride):
    for name, value in (('window', window), ('stride', stride)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ServingError(f'--{name} must be a positive number of frames, got {value!r}')
