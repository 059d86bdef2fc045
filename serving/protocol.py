"""How the weights' recipe classifies one recording: its sample-level preprocessing, its test clips and the
probabilities, chosen by model.meta['data_mode'].

A recording arrives as frames (C, T, V, M), as serving/pose_input.py reads them: what is decided over the
whole file (which bodies or people are kept, PYSKL's ntu_preproc tracks) and every per-frame normalisation
are done there. What depends on the recording as a whole is done here, so that a window is classified exactly
as a recording of its own would be:
  raw       the kept bodies' camera coordinates cut and zero-padded to max_frame frames (gen_joint_data).
  prenorm   the same, then 2s-AGCN's pre_normalization, whose first frame sets the rotation
            (data_gen/preprocess.py bodies_to_sample).
  kinetics  (x, y, score) already centred by the frame size, zero-padded to max_frame (the official feeder).
  pyskl3d   PreNormalize3D -> GenSkeFeat -> num_clips test clips of clip_len = max_frame frames (PYSKL's
            seed-255 UniformSample) -> FormatGCNInput; the clips' softmax probabilities averaged
            (kennymckormick/pyskl:configs/stgcn/stgcn_pyskl_ntu60_xsub_3dkp/j.py test_pipeline).
  pyskl2d   the same without PreNormalize3D: PreNormalize2D is per frame, done when reading.
These are the steps feeders/pyskl_feeder.py runs for `--phase test`, on one sample, with the same TF ops.
"""
import numpy as np

from data_gen.class_names import model_class_names
from data_gen.preprocess import bodies_to_sample
from feeders.pyskl_annotations import PYSKL_MODES
from model.config import DEFAULT_MAX_FRAME, STREAM_FEATS
from serving import ServingError
from training.metrics import average_clip_probabilities

# PYSKL tests every sample on 10 clips (test_pipeline UniformSample(clip_len=100, num_clips=10)).
PYSKL_TEST_CLIPS = 10
# The data modes predict reads, and whether their joints are 3D (x, y, z) or 2D (x, y, score).
KIND = {'raw': '3d', 'prenorm': '3d', 'kinetics': '2d', 'pyskl3d': '3d', 'pyskl2d': '2d'}
MODES = tuple(KIND)


def top_k(probabilities, k, names=None):
    """The k most probable classes, highest first (ties: lower label first); names: the class names (None:
    'class N'). Shape: probabilities (num_class,) -> list of k {'label', 'action', 'prob'} dicts."""
    probabilities = np.asarray(probabilities)
    labels = np.argsort(-probabilities, kind='stable')[:k]
    return [{'label': int(c), 'action': names[c] if names is not None else f'class {c}',
             'prob': float(probabilities[c])} for c in labels]


class Protocol:
    """The weights' test protocol on recordings: inputs, probabilities and top-k of frames (C, T, V, M).

    num_clips: PYSKL weights' clips a recording (None: PYSKL's 10); other weights see a recording whole, as one
    sample, and take None or 1. source names the weights in errors.
    """

    def __init__(self, model, num_clips=None, source='the weights'):
        meta = getattr(model, 'meta', None) or {}
        mode = meta.get('data_mode')
        if mode not in MODES:
            raise ServingError(f'{source}: records data_mode {mode!r}, expected one of {", ".join(MODES)}; '
                               're-save the weights with python -m model.weights')
        config = model.config
        self.model, self.data_mode, self.kind, self.source = model, mode, KIND[mode], source
        self.max_frame, self.num_person, self.layout = (int(meta.get('max_frame', DEFAULT_MAX_FRAME)),
                                                       config.num_person, config.layout)
        self.num_class, self.names = config.num_class, model_class_names(meta, config.num_class)
        if num_clips is not None and (not isinstance(num_clips, int) or isinstance(num_clips, bool) or num_clips < 1):
            raise ServingError(f'--num-clips must be a positive number of clips, got {num_clips!r}')
        if mode in PYSKL_MODES:
            stream = meta.get('stream', 'j')
            if stream not in STREAM_FEATS:
                raise ServingError(f'{source}: records stream {stream!r}, expected one of {", ".join(STREAM_FEATS)}')
            self.feats, self.num_clips = STREAM_FEATS[stream], PYSKL_TEST_CLIPS if num_clips is None else num_clips
        else:
            if num_clips not in (None, 1):
                raise ServingError(f'--num-clips {num_clips}: weights trained on {mode} data classify a recording '
                                   'whole, as one sample; test clips are PYSKL\'s protocol (pyskl3d, pyskl2d weights)')
            self.feats, self.num_clips = ('j',), 1
        channels = 3 * len(self.feats)
        if config.in_channels != channels:
            raise ServingError(f'{source}: the model takes C = {config.in_channels} channels a joint, but {mode} '
                               f'data gives {channels}')

    def check_window(self, window):
        """A window is a recording of its own: for weights that cut a recording at max_frame, a longer window
        would lose frames, so it is refused (PYSKL's clips resample any length)."""
        if self.data_mode not in PYSKL_MODES and window > self.max_frame:
            raise ServingError(f'--window {window}: the weights ({self.data_mode}) see at most max_frame = '
                               f'{self.max_frame} frames of a recording; give --window {self.max_frame} or less')

    def inputs(self, frames):
        """The model's input for one recording.

        Shape: frames (C, T, V, M), T >= 1 -> float32 (num_clips, C', T', V, num_person): T' = max_frame
        (the clip length for PYSKL weights), C' = 3 per feature stream.
        """
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[1] < 1:
            raise ServingError(f'a recording must be frames (C, T, V, M) with T >= 1, got shape {frames.shape}')
        if self.data_mode in ('raw', 'prenorm'):  # gen_joint_data's sample of the kept bodies (M, T, V, C)
            return bodies_to_sample(frames.transpose(3, 1, 2, 0), self.data_mode, self.max_frame)[None]
        if self.data_mode == 'kinetics':
            return self._zero_padded(frames)[None]
        return self._pyskl_clips(frames.transpose(3, 1, 2, 0))  # (M, T, V, C), PYSKL's persons-first keypoint

    def probabilities(self, frames):
        """Shape: frames (C, T, V, M) -> float64 (num_class,), the softmax (averaged over PYSKL's clips)."""
        return self.batch_probabilities([frames])[0]

    def batch_probabilities(self, recordings):
        """Several recordings in one model call. Shape: N frames (C, T_i, V, M_i) -> float64 (N, num_class)."""
        x = np.concatenate([self.inputs(frames) for frames in recordings])  # (N * num_clips, C', T', V, M)
        logits = np.asarray(self.model(x, training=False))  # (N * num_clips, num_class)
        return average_clip_probabilities(logits, self.num_clips)

    def top_k(self, probabilities, k):
        """top_k with the classes named as the weights name them."""
        return top_k(probabilities, k, self.names)

    def _zero_padded(self, frames):
        """Shape: (C, T, V, M) -> float32 (C, max_frame, V, num_person): cut at max_frame, zeros after T and for
        the persons past M."""
        channels, length, num_node, persons = frames.shape
        out = np.zeros((channels, self.max_frame, num_node, self.num_person), np.float32)
        t, m = min(length, self.max_frame), min(persons, self.num_person)
        out[:, :t, :, :m] = frames[:, :t, :, :m]
        return out

    def _pyskl_clips(self, keypoint):
        """PYSKL's test pipeline after the per-frame steps.

        Shape: keypoint (M, T, V, 3), M <= 2 for 3D, in its own dtype (float16 as PYSKL's pickles: the ops
        round as PYSKL's float16 arithmetic does) -> float32 (num_clips, 3 * len(feats), max_frame, V, num_person).
        """
        from feeders import pyskl_sampling, pyskl_transforms  # TensorFlow ops: only for PYSKL weights

        if self.kind == '3d':
            keypoint = pyskl_transforms.pre_normalize_3d(keypoint)  # (M, T', V, 3) float32, T' the kept frames
        feat = pyskl_transforms.gen_ske_feat(keypoint, self.layout, self.feats, scored=self.kind == '2d')
        inds = pyskl_sampling.test_clip_indices(int(feat.shape[1]), self.max_frame, self.num_clips).ravel()
        clips = pyskl_transforms.format_gcn_input(pyskl_transforms.pose_decode(feat, inds), self.num_person,
                                                  self.num_clips)  # (nc, C', L, V, M), or (C', L, V, M) for 1
        return np.asarray(clips).reshape((self.num_clips,) + tuple(clips.shape[-4:]))
