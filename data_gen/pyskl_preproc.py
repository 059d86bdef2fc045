"""PYSKL's NTU RGB+D annotation of one skeleton file, and its benchmark splits (docs/reference.md section 8).

The steps of kennymckormick/pyskl:tools/data/ntu_preproc.py, on a SkeletonData read with every body:
- track (parse_skeleton_file): the joints of each body ID in the order listed, float32; frames that list no
  body are dropped before anything else, so a body's `start` counts only frames that list some body;
- motion: the summed per-coordinate variance of all its joints over its frames;
- select (gen_keypoint_array): one body is kept as it is; otherwise bodies of at most 11 frames go, then
  "spread noise" bodies (spread_denoising), then the rest, by decreasing motion, fill two tracks without
  overlapping in time; leading and trailing frames empty in both tracks are cut (non_zero), and the tracks
  swap when only the second has joint 2 at frame 0;
- annotation (gen_anno): keypoint cast to float16 (M, T, 25, 3), label = action - 1, total_frames = T.

Scalar comparisons are done as numpy 1.x did when the script was written and its pickles were published
(a numpy float32 scalar times or against a Python float is float64); numpy 2 keeps such products in float32.
Where ntu_preproc.py would store None (no body at all) or stop on an assertion or an IndexError (no body
survives the selection, or both tracks are zero everywhere), AnnotateError names the file instead.
"""
import dataclasses

import numpy as np

from data_gen import ntu

LENGTH_THRESHOLD = 11  # gen_keypoint_array: with several bodies, keep those listed in more frames than this
WH_RATIO = 0.8  # spread_denoising: a frame is valid when its x spread <= 0.8 * its y spread
SPREAD_NOISE_RATIO = 0.69754  # a body with at least this fraction of invalid frames is noise
EPS = 1e-3  # non_zero and the track swap: a frame (or joint) is empty when its absolute sum is below this
NUM_TRACK = 2  # persons stored when several bodies survive
PYSKL_TRAINING_SUBJECTS = ntu.TRAINING_SUBJECTS_120  # ntu_preproc.py uses the NTU-120 list for both datasets
SPLIT_NAMES = {'ntu60': ('xsub_train', 'xsub_val', 'xview_train', 'xview_val'),
               'ntu120': ('xsub_train', 'xsub_val', 'xset_train', 'xset_val')}


class AnnotateError(ValueError):
    """A file ntu_preproc.py cannot annotate; str() is 'path: reason'."""


@dataclasses.dataclass(frozen=True)
class Body:
    """One tracked body ID.

    Shape:
        kpt: (n, 25, 3) float32, one entry per time the ID is listed (in file order).
        start: index of its first frame among the frames that list any body.
        motion: float32, np.sum(np.var(kpt.reshape(-1, 3), axis=0)).
    """
    kpt: np.ndarray
    start: int
    motion: np.float32

    @property
    def end(self):
        return self.start + len(self.kpt)


def annotation(name, skeleton, path):
    """PYSKL's annotation dict of one file: frame_dir, label, keypoint float16 (M, T, 25, 3), total_frames.

    `skeleton` must be read with every body (read_skeleton(path, max_body=None)); `path` names the file in
    errors.
    """
    keypoint = keypoint_array(track_bodies(skeleton, path), path).astype(np.float16)
    return {'frame_dir': name, 'label': ntu.label_of(name), 'keypoint': keypoint,
            'total_frames': keypoint.shape[1]}


def track_bodies(skeleton, path):
    """[Body] in order of first appearance; raises AnnotateError naming `path` when no frame lists a body."""
    if not skeleton.body_counts.any():
        raise AnnotateError(f'{path}: no body in any of its {skeleton.num_frames} frames '
                        '(ntu_preproc.py would store None as its annotation)')
    xyz = skeleton.xyz.astype(np.float32)  # (T, max_body, 25, 3): ntu_preproc.py parses x y z as float32
    index = np.cumsum(skeleton.body_counts > 0) - 1  # (T,) frame index once empty frames are dropped
    listed = {}  # body ID -> (start, frames, slots), in order of first appearance like PYSKL's dict
    for t, ids in enumerate(skeleton.body_ids):
        for slot, body_id in enumerate(ids):
            start, frames, slots = listed.setdefault(body_id, (int(index[t]), [], []))
            frames.append(t)
            slots.append(slot)
    bodies = []
    for start, frames, slots in listed.values():
        kpt = xyz[frames, slots]  # (n, 25, 3), C-contiguous like np.stack of PYSKL's per-frame arrays
        bodies.append(Body(kpt, start, _motion(kpt)))
    return bodies


def _motion(kpt):
    """Shape: kpt (n, 25, 3) float32 -> float32 scalar; float32 arithmetic as in PYSKL (ties decide order)."""
    return np.sum(np.var(kpt.reshape(-1, 3), axis=0))  # (n*25, 3) as np.vstack of the frames


def keypoint_array(bodies, path):
    """gen_keypoint_array: the kept bodies as float32 (M, T, 25, 3), M = 1 or 2."""
    bodies = sorted(bodies, key=lambda b: -b.motion)  # stable: ties keep first-appearance order
    if len(bodies) == 1:
        return bodies[0].kpt[None]  # (1, n, 25, 3): neither padded to its start nor trimmed
    long_bodies = [b for b in bodies if len(b.kpt) > LENGTH_THRESHOLD]
    if len(long_bodies) == 1:
        return long_bodies[0].kpt[None]
    if not long_bodies:
        raise AnnotateError(f'{path}: {len(bodies)} bodies, none listed in more than {LENGTH_THRESHOLD} frames '
                        '(ntu_preproc.py stops at an assertion in spread_denoising)')
    kept = spread_denoising(long_bodies)
    if not kept:
        raise AnnotateError(f'{path}: all {len(long_bodies)} bodies listed in more than {LENGTH_THRESHOLD} '
                        'frames are spread noise (ntu_preproc.py stops at an assertion in spread_denoising)')
    if len(kept) == 1:
        return kept[0].kpt[None]
    return _swap_if_first_starts_empty(_trim_empty_frames(_fill_tracks(kept), path))


def spread_denoising(bodies):
    """The bodies that are not spread noise, by decreasing motion (a partly noisy body's motion is the
    smaller of its own and that of its valid frames)."""
    kept = []
    for body in bodies:
        x, y = body.kpt[:, :, 0], body.kpt[:, :, 1]  # (n, 25)
        x_spread, y_spread = x.max(1) - x.min(1), y.max(1) - y.min(1)  # (n,) float32
        valid = x_spread <= WH_RATIO * y_spread.astype(np.float64)  # numpy 1.x: float64 product
        if valid.all():
            kept.append(body)
        elif 1 - valid.sum() / len(valid) < SPREAD_NOISE_RATIO:
            valid_motion = _motion(body.kpt[valid])  # (k, 25, 3) copy, C-contiguous as PYSKL's
            kept.append(dataclasses.replace(body, motion=min(body.motion, valid_motion)))
    return sorted(kept, key=lambda b: -b.motion)


def _fill_tracks(bodies):
    """Bodies in order go to track 0 if they do not overlap its span so far, else to track 1 likewise, else
    nowhere; a track's span grows to cover each body put in it (gaps included).

    Shape: returns (2, max end, 25, 3) float32, zero where a track has no body.
    """
    keypoint = np.zeros((NUM_TRACK, max(b.end for b in bodies), 25, 3), np.float32)
    spans = [[bodies[0].start, bodies[0].end], [0, 0]]
    keypoint[0, bodies[0].start:bodies[0].end] = bodies[0].kpt
    for body in bodies[1:]:
        for track, span in enumerate(spans):
            if max(span[0], body.start) >= min(span[1], body.end):  # no overlap (always true for [0, 0])
                keypoint[track, body.start:body.end] = body.kpt
                span[:] = min(span[0], body.start), max(span[1], body.end)
                break
    return keypoint


def _frame_sum(keypoint, t):
    """Absolute sum of frame t over both tracks, as a Python float (numpy 1.x compares it in float64)."""
    return float(np.sum(np.abs(keypoint[:, t])))  # (2, 25, 3) summed in float32 as in non_zero


def _trim_empty_frames(keypoint, path):
    """non_zero: drop leading and trailing frames whose absolute sum is below EPS. Shape: (2, T, 25, 3)."""
    num_frames = keypoint.shape[1]
    start = 0
    while start < num_frames and _frame_sum(keypoint, start) < EPS:
        start += 1
    if start == num_frames:
        raise AnnotateError(f'{path}: both kept tracks are zero in every frame (ntu_preproc.py non_zero runs past '
                        'the last frame)')
    end = num_frames
    while _frame_sum(keypoint, end - 1) < EPS:
        end -= 1
    return keypoint[:, start:end]


def _swap_if_first_starts_empty(keypoint):
    """Track 1 first when only it has joint 2 (index 1) at frame 0. Shape: (2, T, 25, 3)."""
    first, second = (float(np.sum(np.abs(keypoint[m, 0, 1]))) for m in range(NUM_TRACK))
    return keypoint[::-1] if first < EPS and second > EPS else keypoint


def splits(names, dataset):
    """{split name: the names in it, in the given order}: ntu_preproc.py's xsub and xview (NTU-60, xview
    trains on every camera but C001) or xsub and xset (NTU-120, xset trains on even setups)."""
    is_train = {'xsub': lambda setup, camera, performer: performer in PYSKL_TRAINING_SUBJECTS,
                'xview': lambda setup, camera, performer: camera != 1,
                'xset': lambda setup, camera, performer: setup % 2 == 0}
    fields = [ntu.parse_name(name)[:3] for name in names]  # (setup, camera, performer)
    out = {}
    for key in SPLIT_NAMES[dataset]:
        benchmark, part = key.split('_')
        out[key] = [name for name, f in zip(names, fields) if is_train[benchmark](*f) == (part == 'train')]
    return out
