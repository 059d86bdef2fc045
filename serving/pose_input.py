"""What predict's --skeleton names, read into recordings for the weights' protocol (serving/protocol.py).

A path is read by what it is:
  a .json file            a COCO-17 keypoint list (HRNet, MMPose, AlphaPose) or ST-GCN's Kinetics-skeleton JSON
  a .pkl file             a PYSKL annotation pickle: every sample of the file, or of --test-split
  a folder                its .skeleton files (each one recording, by name), else one OpenPose --write_json video
  any other file          an NTU RGB+D .skeleton file
and as the weights' data mode needs it, everything decided over the whole file or per frame done here:
  raw, prenorm  NTU files: the two bodies gen_joint_data keeps (the first two listed in each frame; prenorm: the
                two with the most motion over the file), camera metres (data_gen/preprocess.py kept_bodies).
  pyskl3d       NTU files: PYSKL's ntu_preproc tracks, float16 as gen_pyskl_data stores them
                (data_gen/pyskl_preproc.py); 3D pickles: the keypoints as stored. Frames are the annotation's:
                ntu_preproc drops the frames that list no body and the empty ones at both ends.
  kinetics      pose files: (x / W - 0.5, y / H - 0.5, score), the num_person most confident people of each frame
                (data_gen/pose_readers.py), W x H from --frame-size or what the files record.
  pyskl2d       pose files: what data_gen/gen_pose_data.py stores of them (the same people, their pixels, COCO-style
                lists of the weights' own layout), then PreNormalize2D, (x - W/2) / (W/2) and likewise y, the
                score as the third channel; 2D pickles: PreNormalize2D by each sample's img_shape in the
                pickle's dtype, its first num_person persons (as feeders/pyskl_feeder.py packs them).
The joints must be those the weights take (3D or 2D, V, and for raw/prenorm M = 2): a mismatch is one
ServingError naming the file, what it gives and what the weights take. Every reader's error is a ServingError.
"""
import dataclasses
import os

import numpy as np

from data_gen import pyskl_preproc
from data_gen.pose_readers import COCO_JOINTS, OPENPOSE_SUFFIX, PoseError, read_pose
from data_gen.preprocess import MAX_BODY_KINECT, MAX_BODY_TRUE, kept_bodies
from data_gen.skeleton import SkeletonError, read_skeleton
from feeders import pyskl_annotations
from feeders.pyskl_annotations import PYSKL_MODES
from serving import ServingError
from storage.files import StorageError

SKELETON_SUFFIX = '.skeleton'
PICKLE_SUFFIXES = ('.pkl', '.pickle')
JOINTS = {'3d': '3D joints (x, y, z)', '2d': '2D joints (x, y, score)'}
NTU_JOINTS = 25
FRAME_SIZE_MISSING = 'do not record the frame size'  # data_gen/pose_readers.py _frame_size's message


@dataclasses.dataclass(frozen=True)
class Recording:
    """One recording to classify.

    source: the path read; sample: a pickle sample's frame_dir, else None; frames: (C, T, V, M) as
    Protocol.inputs takes them; people: {'max_per_frame': most people seen in one frame, 'kept': most the model
    sees, 'crowded_frames': frames with more people than it sees}.
    """
    source: str
    sample: object
    frames: np.ndarray
    people: dict

    @property
    def name(self):
        """How the output names it: the file's (or folder's) name, and a pickle sample's frame_dir."""
        name = os.path.basename(os.path.normpath(self.source))
        return name if self.sample is None else f'{name}: {self.sample}'

    def identity(self):
        """The JSON fields naming it: {'file'} and, for a pickle sample, {'sample'}."""
        name = os.path.basename(os.path.normpath(self.source))
        return {'file': name} if self.sample is None else {'file': name, 'sample': self.sample}


def input_paths(given, flag='--skeleton'):
    """The inputs as (kind, path) pairs, kind 'ntu', 'openpose', 'json' or 'pickle', in the order given (a
    folder's .skeleton files sorted by name). Raises ServingError naming `flag` for a missing path or a folder
    that holds neither .skeleton files nor OpenPose frames."""
    paths = []
    for path in [given] if isinstance(given, str) else list(given):
        if os.path.isdir(path):
            names = os.listdir(path)
            skeletons = sorted(name for name in names if name.endswith(SKELETON_SUFFIX))
            if skeletons:
                paths += [('ntu', os.path.join(path, name)) for name in skeletons]
            elif any(name.endswith(OPENPOSE_SUFFIX) for name in names):
                paths.append(('openpose', path))
            else:
                raise ServingError(f'{flag} {path}: the folder holds no {SKELETON_SUFFIX} files and no OpenPose '
                                   f'*{OPENPOSE_SUFFIX} files')
        elif os.path.isfile(path):
            kind = 'json' if path.endswith('.json') else 'pickle' if path.endswith(PICKLE_SUFFIXES) else 'ntu'
            paths.append((kind, path))
        else:
            raise ServingError(f'{flag} {path}: no such file or folder')
    return paths


class Reader:
    """Reads inputs for one protocol (its data mode, joints and persons).

    frame_size: (width, height) of 2D pose files that do not record it (--frame-size); test_split: the split of
    PYSKL pickles to read (None: every sample); weights: names the weights in mismatch errors.
    """

    def __init__(self, protocol, weights, frame_size=None, test_split=None):
        self.mode, self.kind, self.num_person = protocol.data_mode, protocol.kind, protocol.num_person
        self.num_node = protocol.model.num_node
        layout = protocol.layout
        self.layout_name = layout['name'] if isinstance(layout, dict) else layout
        # COCO-style lists of a user's layout list its joints (as gen_pose_data reads them); else COCO-17.
        self.list_joints = (self.num_node, self.layout_name) if isinstance(layout, dict) else (COCO_JOINTS, 'coco')
        self.weights, self.frame_size, self.test_split = weights, frame_size, test_split

    def read(self, kind, path):
        """The recordings of one input (one, or a pickle's samples). Shape of each frames: (C, T, V, M)."""
        if kind == 'ntu':
            return [self._ntu(path)]
        if kind == 'pickle':
            return self._pickle(path)
        return [self._pose(path)]

    def _fits(self, path, kind, num_node, what, persons=None):
        """ServingError unless `kind` ('3d' | '2d') and V (and M for raw/prenorm) are what the weights take;
        num_node None: not known before reading, the kind alone is checked."""
        takes_persons = self.mode in ('raw', 'prenorm')
        fits_persons = not takes_persons or persons == self.num_person
        if kind == self.kind and num_node in (None, self.num_node) and fits_persons:
            return
        gives = JOINTS[kind] + (f', V = {num_node}' if num_node else '')
        if takes_persons and persons:
            gives += f', M = {persons}'
        takes = f'{JOINTS[self.kind]}, V = {self.num_node}' + (f', M = {self.num_person}' if takes_persons else '')
        raise ServingError(f'{path}: {what} gives {gives}; the weights {self.weights} take {takes} '
                           f'(layout {self.layout_name}, data mode {self.mode})')

    def _ntu(self, path):
        self._fits(path, '3d', NTU_JOINTS, 'an NTU .skeleton file', MAX_BODY_TRUE)
        try:
            if self.mode == 'pyskl3d':
                skeleton = read_skeleton(path, max_body=None)  # PYSKL tracks every body
                bodies = pyskl_preproc.track_bodies(skeleton, path)
                keypoint = pyskl_preproc.keypoint_array(bodies, path).astype(np.float16)  # (M, T, 25, 3)
                kept = min(len(keypoint), self.num_person)
            else:
                skeleton = read_skeleton(path, max_body=MAX_BODY_KINECT)
                keypoint = kept_bodies(skeleton, self.mode).astype(np.float32)  # (2, T, 25, 3), as stored
                kept = MAX_BODY_TRUE
        except (SkeletonError, pyskl_preproc.AnnotateError) as err:
            raise ServingError(str(err)) from None  # already 'file[:line]: what is wrong'
        except OSError as err:
            raise ServingError(f'{path}: cannot read: {err.strerror}') from None
        counts = skeleton.body_counts  # (T,) bodies listed in each frame
        kept = min(kept, int(counts.max()))
        people = {'max_per_frame': int(counts.max()), 'kept': kept, 'crowded_frames': int((counts > kept).sum())}
        return Recording(path, None, keypoint.transpose(3, 1, 2, 0), people)  # (C, T, V, M)

    def _pose(self, path):
        self._fits(path, '2d', None, 'a pose file')  # before reading: a 3D model needs no frame size asked for
        try:
            sample, report = read_pose(path, self.frame_size, self.num_person, 'fail',
                                       *self.list_joints)  # (3, T, V, num_person)
        except PoseError as err:
            hint = ' with --frame-size WIDTH HEIGHT' if FRAME_SIZE_MISSING in str(err) else ''
            raise ServingError(f'{err}{hint}') from None
        self._fits(path, '2d', sample.shape[2], f'{report.format} (layout {report.layout})')
        if report.frames_with_people == 0:
            raise ServingError(f'{path}: no person in any of its {report.num_frames} frames; nothing to classify')
        if report.format == 'kinetics json' and self.mode == 'kinetics':
            # Stored zero-padded to 300 frames, as Kinetics trains: the video ends at its last person (which
            # changes no zero-padded sample, only the windows). gen_pose_data keeps the 300 for PYSKL weights.
            sample = sample[:, :np.flatnonzero((sample[2] > 0).any(axis=(1, 2)))[-1] + 1]
        kept = min(self.num_person, report.max_people)
        people = {'max_per_frame': report.max_people, 'kept': kept, 'crowded_frames': report.crowded_frames}
        frames = _pre_normalize_2d_fractions(sample[..., :kept]) if self.mode == 'pyskl2d' else sample
        return Recording(path, None, frames, people)

    def annotation(self, path, annotation):
        """One sample of the PYSKL pickle at `path`, checked by pyskl_annotations.check_annotation, as the
        Recording read() gives for it (tools/visualize.py classifies the one sample it draws)."""
        self._takes_pickles(path)
        self._fits_annotation(path, annotation)
        return self._annotation(path, annotation)

    def _takes_pickles(self, path):
        if self.mode not in PYSKL_MODES:
            raise ServingError(f'{path}: a PYSKL annotation pickle; the weights {self.weights} were trained on '
                               f'{self.mode} data, not on PYSKL\'s (data mode pyskl3d or pyskl2d)')

    def _fits_annotation(self, path, annotation):
        keypoint = annotation['keypoint']  # (M, T, V, C)
        self._fits(path, pyskl_annotations.KINDS[keypoint.shape[-1]], keypoint.shape[2], 'a PYSKL annotation pickle')

    def _pickle(self, path):
        self._takes_pickles(path)
        try:
            annotations = (pyskl_annotations.load_annotations(path, self.test_split) if self.test_split
                           else pyskl_annotations.load_all(path))
        except StorageError as err:  # AnnotationError included: 'path: [frame_dir 'x': ]what is wrong'
            raise ServingError(str(err)) from None
        if not annotations:
            raise ServingError(f'{path}: split {self.test_split!r} is empty')
        self._fits_annotation(path, annotations[0])  # the file's samples share C and V
        return [self._annotation(path, a) for a in annotations]

    def _annotation(self, path, annotation):
        keypoint, name = annotation['keypoint'], annotation['frame_dir']  # (M, T, V, C)
        if keypoint.shape[1] < 1:
            raise ServingError(f'{path}: frame_dir {name!r}: no frames')
        persons = keypoint.shape[0]
        present = np.any(keypoint != 0, axis=(2, 3))  # (M, T)
        if self.kind == '3d':
            if persons > 2:
                raise ServingError(f'{path}: frame_dir {name!r}: {persons} persons; PreNormalize3D takes 1 or 2')
            frames = keypoint
        else:
            score = annotation['keypoint_score']  # (M, T, V)
            present |= np.any(score > 0, axis=2)
            frames = _pre_normalize_2d_pixels(keypoint[:self.num_person], score[:self.num_person],
                                              annotation['img_shape'])
        counts = present.sum(axis=0)  # (T,) persons present in each frame
        kept = min(persons, self.num_person)
        people = {'max_per_frame': int(counts.max()), 'kept': kept, 'crowded_frames': int((counts > kept).sum())}
        return Recording(path, name, frames.transpose(3, 1, 2, 0), people)  # (C, T, V, M)


def _pre_normalize_2d_pixels(keypoint, score, img_shape):
    """PreNormalize2D in the keypoints' dtype, the score as the third channel in the common dtype, as
    feeders/pyskl_feeder.py packs 2D samples.

    Shape: keypoint (M, T, V, 2), score (M, T, V), img_shape (h, w) -> (M, T, V, 3).
    """
    from feeders.pyskl_transforms import pre_normalize_2d  # TensorFlow ops: only for PYSKL weights

    frames = np.empty(keypoint.shape[:3] + (3,), np.result_type(keypoint.dtype, score.dtype))
    frames[..., :2] = pre_normalize_2d(keypoint, tuple(int(d) for d in img_shape)).numpy()
    frames[..., 2] = score
    return frames


def _pre_normalize_2d_fractions(sample):
    """A pose reader's sample as PYSKL's 2D input: PreNormalize2D of the pixels the estimator wrote.

    The reader gives x / W - 0.5 for a detected joint and 0 for an undetected one (score 0, which the
    estimator wrote at pixel (0, 0)); so the pixels as fractions of the frame are v + 0.5, or 0, and
    PreNormalize2D with img_shape (1, 1), (p - 1/2) / (1/2), is PYSKL's (x - W/2) / (W/2) on the pixels.
    Shape: sample (3, T, V, M) float32 -> (3, T, V, M) float32.
    """
    detected = sample[2] > 0  # (T, V, M)
    fractions = np.where(detected, sample[:2] + np.float32(0.5), np.float32(0)).transpose(3, 1, 2, 0)  # (M, T, V, 2)
    frames = _pre_normalize_2d_pixels(fractions, sample[2].transpose(2, 0, 1), (1, 1))  # (M, T, V, 3)
    return frames.transpose(3, 1, 2, 0)
