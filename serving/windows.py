"""Actions over time: classify a long recording window by window, as a batch or as a stream of frames.

Windows of `window` frames start every `stride` frames; when the recording does not end on a window, one last
window ends at its last frame, so every frame is covered (a recording shorter than a window is one window).
Each window is zero-padded to `max_frame`, the T the weights were trained on (the model averages over time,
so the padding must be what training saw). StreamingRecognizer, fed the same frames one at a time, yields
exactly the windows of window_predictions: both classify one window per model call, so no batch composition
can change a logit.
"""
import collections

import numpy as np
from scipy.special import softmax

from data_gen.class_names import model_class_names
from model.errors import WeightsError
from serving import ServingError

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


def window_predictions(model, sample, window, stride, max_frame, k=TOP_K):
    """The top-k classes of each window of ``sample``.

    Shape: sample (C, T, V, M) -> [{'start', 'end', 'top_k': [{'label', 'action', 'prob'}, ...]}], end exclusive.
    """
    sample = np.asarray(sample, np.float32)
    return [{'start': start, 'end': end, 'top_k': classify(model, sample[:, start:end], max_frame, k)}
            for start, end in window_bounds(sample.shape[1], window, stride)]


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


def classify(model, clip, max_frame, k=TOP_K):
    """Top-k of one clip, zero-padded to max_frame frames (None: as is).

    Shape: clip (C, L, V, M) -> list of k {'label', 'action', 'prob'}, highest first (ties: lower label).
    """
    length = clip.shape[1]
    if max_frame is not None and length < max_frame:
        clip = np.pad(clip, ((0, 0), (0, max_frame - length), (0, 0), (0, 0)))  # (C, max_frame, V, M)
    logits = np.asarray(model(clip[None], training=False))[0]  # (num_class,)
    probs = softmax(logits.astype(np.float64))
    names = model_class_names(getattr(model, 'meta', None), len(probs))
    labels = np.argsort(-probs, kind='stable')[:k]
    return [{'label': int(c), 'action': names[c], 'prob': float(probs[c])} for c in labels]


class StreamingRecognizer:
    """Frame-by-frame recognition: push each frame, get a window's prediction whenever one completes.

    weights_or_model: a built STGCN or a path model.weights.load_pretrained reads. max_frame defaults to the
    weights' recorded max_frame (model.meta), else no padding. After the last frame, flush() gives the final
    window that window_predictions adds when the recording does not end on a window.
    """

    def __init__(self, weights_or_model, window, stride, max_frame=None, k=TOP_K):
        _check_window(window, stride)
        self.model = _as_model(weights_or_model)
        self.window, self.stride, self.k = window, stride, k
        self.max_frame = max_frame if max_frame is not None else (getattr(self.model, 'meta', None) or {}).get(
            'max_frame')
        self.frames = collections.deque(maxlen=window)  # the last `window` frames, each (C, V, M)
        self.num_frames, self.last_end, self.frame_shape = 0, 0, None

    def push(self, frame_keypoints):
        """One frame (C, V, M), normalised as the samples are -> a window's prediction dict or None."""
        frame = np.asarray(frame_keypoints, np.float32)
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
                'top_k': classify(self.model, clip, self.max_frame, self.k)}


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
