"""What tools/visualize.py draws: one sample read from any input it takes, and the layout whose bones it draws.

read_input gives a Clip: the sample to draw, its data mode (which says how it is projected), with weights the
recording `main.py --phase predict` reads of the same input (serving/pose_input.py's Reader, so the labels
are predict's), the input's own layout, and for image coordinates the image's extent. Inputs are told apart as
predict tells them (serving/pose_input.input_paths), plus `.npy` samples, which predict does not read.
choose_layout picks the layout drawn: --layout-file's, else the weights', else the input's own, else the
first shipped layout with the input's joint count; none fitting is a one-line error.
"""
import dataclasses
import os
import pathlib

import numpy as np

from data_gen.pose_readers import COCO_JOINTS, NUM_PERSON, PoseError, read_pose, sample_pixels
from feeders.pyskl_annotations import PYSKL_MODES
from graphs import LAYOUTS, LayoutError, get_layout
from serving import ServingError
from serving.pose_input import FRAME_SIZE_MISSING, SKELETON_SUFFIX, input_paths
from storage import files

PYSKL_NUM_PERSON = 2  # FormatGCNInput's num_person in every PYSKL config: what --after-preprocess keeps
# Where the model's input of a pose file lies once centred (x / W - 0.5, data mode kinetics) or PreNormalize2D'd
# ((x - W/2) / (W/2), pyskl2d): the frame as the model sees it, a square.
MODEL_SQUARES = {'kinetics': ((-0.5, -0.5), (0.5, 0.5)), 'pyskl2d': ((-1, -1), (1, 1))}


class VisualizeError(ValueError):
    """Bad input; main prints `error: <message>` and exits with code 2."""


@dataclasses.dataclass
class Clip:
    """One input sample, ready to draw.

    Shape: drawn (C, T, V, M) float32; recording.frames (C, T', V, M').
    data_mode: how `drawn` is projected (tools/visualize.py project). recording: the
    serving.pose_input.Recording predict reads of the input (with --weights; None without, and for .npy samples,
    which are the model's input as stored). layout: the input's own layout name, or None when its format has
    none. extent: ((u0, v0), (u1, v1)), the image the 2D points lie in, or None to fit the points themselves.
    drawn_frames (T',) int: the drawn frame showing each recording frame (-1: none), or None when recording
    frame t is drawn frame t. note: what names the sample (a PYSKL frame_dir), or ''.
    """
    drawn: np.ndarray
    data_mode: str
    recording: object = None
    layout: str = None
    extent: tuple = None
    drawn_frames: np.ndarray = None
    note: str = ''


def read_input(path, index, after_preprocess, reader=None, frame_size=None, list_joints=(COCO_JOINTS, 'coco')):
    """The Clip of --skeleton `path`.

    reader: the weights' serving.pose_input.Reader, or None without weights; the recording is read through it,
    and --after-preprocess draws the weights' data mode. frame_size: (width, height) of 2D pose files that do not
    record it. list_joints: (V, layout name) of COCO-style keypoint lists (COCO-17, or a user's layout).
    """
    if pathlib.Path(path).suffix == '.npy':
        if not os.path.isfile(path):
            raise VisualizeError(f'--skeleton {path}: no such file')
        return _read_npy(path, index)
    inputs = _serving(input_paths, path)
    if len(inputs) > 1:
        raise VisualizeError(f'--skeleton {path}: the folder holds {len(inputs)} {SKELETON_SUFFIX} files; give one '
                             'of them')
    [(kind, path)] = inputs
    if kind == 'ntu':
        return _read_ntu(path, after_preprocess, reader)
    if kind == 'pickle':
        return _read_pyskl(path, index, after_preprocess, reader)
    return _read_pose(kind, path, after_preprocess, reader, frame_size, list_joints)


def list_joints_of(layout_file):
    """(V, layout name) of the COCO-style keypoint lists drawn without weights: --layout-file's joints, else
    COCO-17 (with weights, the Reader's, which are the weights')."""
    if layout_file is None:
        return COCO_JOINTS, 'coco'
    layout = _layout_file(layout_file)
    return layout.num_node, layout.name


def _serving(read, *args):
    """read(*args), its ServingError (already 'path: what is wrong', or naming the flag) as a VisualizeError."""
    try:
        return read(*args)
    except ServingError as err:
        raise VisualizeError(str(err)) from None


def _recording(reader, kind, path):
    """The one recording predict reads of a file, or None without weights."""
    return _serving(reader.read, kind, path)[0] if reader is not None else None


def _read_ntu(path, after_preprocess, reader):
    """Without weights (or raw, prenorm ones) the first two bodies listed, as gen_joint_data's raw mode keeps them,
    or after --after-preprocess the data mode's sample. PYSKL weights read ntu_preproc's tracks, which drop the
    frames that list no body: those are drawn, as the PYSKL pickles are."""
    from data_gen.preprocess import MAX_BODY_KINECT, sample_from_skeleton
    from data_gen.skeleton import SkeletonError, read_skeleton

    recording = _recording(reader, 'ntu', path)  # its errors first: a 2D model's is predict's message
    if reader is not None and reader.mode == 'pyskl3d':
        keypoint = recording.frames.transpose(3, 1, 2, 0)  # (M, T', 25, 3) float16, gen_pyskl_data's keypoint
        clip = _pyskl_3d(keypoint, path, after_preprocess, reader.num_person)
        clip.recording, clip.layout = recording, 'ntu-rgb+d-pyskl'
        return clip
    try:
        skeleton = read_skeleton(path, max_body=MAX_BODY_KINECT)
    except SkeletonError as err:
        raise VisualizeError(str(err)) from None
    drawn_mode = (reader.mode if reader is not None else 'prenorm') if after_preprocess else 'raw'
    drawn = sample_from_skeleton(skeleton, drawn_mode, skeleton.num_frames)  # (3, T, 25, 2)
    return Clip(drawn, drawn_mode, recording, 'ntu-rgb+d')


def _read_pose(kind, path, after_preprocess, reader, frame_size, list_joints):
    """A Kinetics-skeleton JSON, an OpenPose --write_json folder or a COCO-style keypoint list, told apart as
    data_gen/pose_readers.read_pose tells them (a Kinetics JSON by its content). OpenPose and COCO-style files
    are drawn in the estimator's pixels within the frame, the people those the reader keeps (the two most
    confident of each frame; the weights' num_person); Kinetics JSON as stored. --after-preprocess draws the
    model's input: the recording predict reads, or without weights the reader's centred sample."""
    recording = _recording(reader, kind, path)
    num_person = reader.num_person if reader is not None else NUM_PERSON
    try:
        sample, report = read_pose(path, frame_size, num_person, 'fail', *list_joints)  # (3, T, V, num_person)
    except PoseError as err:
        hint = ' with --frame-size WIDTH HEIGHT' if FRAME_SIZE_MISSING in str(err) else ''
        raise VisualizeError(f'{err}{hint}') from None
    if after_preprocess and recording is not None:
        clip = Clip(recording.frames, reader.mode, extent=MODEL_SQUARES[reader.mode])
    elif after_preprocess:
        clip = Clip(sample[:, :_frames_to_last_person(sample)], 'kinetics', extent=MODEL_SQUARES['kinetics'])
    elif report.format == 'kinetics json':  # read again for its 5 slots as stored: read_pose keeps 2
        clip = _read_kinetics(path)
    else:
        clip = Clip(_pixels(sample, report.frame_size), 'kinetics', extent=((0, 0), report.frame_size))
    clip.recording = recording
    clip.layout = report.layout if report.layout in LAYOUTS else None  # a user's: from --layout-file or weights
    return clip


def _frames_to_last_person(sample):
    """The frames of a (C, T, V, M) 2D sample up to its last detected joint (at least 1): Kinetics JSON stores
    300 steps whatever the video's length."""
    present = np.flatnonzero((sample[2] > 0).any(axis=(1, 2)))  # (T_present,)
    return int(present[-1]) + 1 if len(present) else 1


def _pixels(sample, frame_size):
    """A pose reader's sample back in the estimator's pixels: x = (v + 0.5) W for a detected joint (the reader
    wrote v = x / W - 0.5), 0 for an undetected one, whose score stays 0.

    Shape: sample (3, T, V, M) float32 -> (3, T, V, M) float32.
    """
    return np.concatenate([sample_pixels(sample, frame_size), sample[2:]]).astype(np.float32)


def _read_kinetics(path):
    """Every person of the file's first 5 slots as stored, the 300 steps cut at the last person."""
    from data_gen.gen_kinetics_data import KineticsError, read_clip

    try:
        data, _ = read_clip(path)  # (3, 300, 18, 5)
    except KineticsError as err:
        raise VisualizeError(str(err)) from None
    return Clip(data[:, :_frames_to_last_person(data)].astype(np.float32), 'kinetics')


def _read_npy(path, index):
    if index is None:
        raise VisualizeError(f'--skeleton {path}: a .npy holds many samples; pick one with --index K')
    try:
        data = files.load_samples(path)
        meta = files.read_meta(path)
    except files.StorageError as err:
        raise VisualizeError(str(err)) from None
    if not 0 <= index < data.shape[0]:
        raise VisualizeError(f'--index {index}: {path} holds samples 0..{data.shape[0] - 1}')
    sample = np.array(data[index], np.float32)  # (C, T, V, M)
    present = np.flatnonzero(np.abs(sample).sum(axis=(0, 2, 3)) > 0)
    sample = sample[:, :int(present[-1]) + 1 if len(present) else 1]  # drop the zero padding
    data_mode = meta.get('data_mode')
    if data_mode not in ('raw', 'prenorm', 'kinetics'):  # unrecorded: OpenPose's 18 joints are 2D, others 3D
        data_mode = 'kinetics' if sample.shape[2] == LAYOUTS['openpose'].num_node else 'raw'
    return Clip(sample, data_mode, layout=meta.get('layout') if meta.get('layout') in LAYOUTS else None)


def _read_pyskl(path, index, after_preprocess, reader):
    """Annotation `index` of a PYSKL pickle (its place in 'annotations'), read through feeders/pyskl_annotations.

    3D keypoints are drawn as NTU files are (Kinect camera space), or after PreNormalize3D; 2D ones in image
    pixels within img_shape, or after PreNormalize2D in [-1, 1]. The recording is what predict reads of that
    sample (Reader.annotation).
    """
    from feeders import pyskl_annotations, pyskl_feeder

    if index is None:
        raise VisualizeError(f'--skeleton {path}: a PYSKL pickle holds many samples; pick one with --index K (its '
                             'place in the "annotations" list)')
    try:
        annotations = pyskl_annotations.annotations_in_order(path)
        if not 0 <= index < len(annotations):
            raise VisualizeError(f'--index {index}: {path} holds annotations 0..{len(annotations) - 1}')
        annotation = pyskl_annotations.check_annotation(path, annotations[index])
    except files.StorageError as err:
        raise VisualizeError(str(err)) from None
    recording = _serving(reader.annotation, path, annotation) if reader is not None else None
    num_person = reader.num_person if reader is not None else PYSKL_NUM_PERSON
    kind = pyskl_annotations.KINDS[annotation['keypoint'].shape[-1]]
    where = f'{path}: frame_dir {annotation["frame_dir"]!r}'
    if kind == '3d':
        clip = _pyskl_3d(annotation['keypoint'], where, after_preprocess, num_person)
    else:
        clip = _pyskl_2d(annotation, after_preprocess, num_person)
    clip.recording = recording
    clip.layout = pyskl_feeder.LAYOUTS.get((kind, annotation['keypoint'].shape[2]))
    clip.note = f'frame_dir {annotation["frame_dir"]!r}, label {annotation["label"]}'
    return clip


def _pyskl_3d(keypoint, where, after_preprocess, num_person):
    """PYSKL 3D keypoints (M, T, V, 3) in Kinect camera space as they are, or after PreNormalize3D of the whole
    sequence and FormatGCNInput to num_person persons; drawn_frames then says which raw frame each drawn one is
    (PreNormalize3D drops the frames without the first person)."""
    from feeders.pyskl_transforms import format_gcn_input, pre_normalize_3d, pre_normalize_3d_plan

    raw = keypoint.transpose(3, 1, 2, 0).astype(np.float32)  # (3, T, V, M)
    if not after_preprocess:
        return Clip(raw, 'raw')
    persons, num_frames, num_node, _ = keypoint.shape
    if num_node != 25:
        # PreNormalize3D turns the body by NTU's spine and shoulder joints, as feeders/pyskl_feeder.py says.
        raise VisualizeError(f'{where}: 3D keypoints with V = {num_node} joints; PreNormalize3D is defined on NTU\'s '
                             '25 joints only (draw it without --after-preprocess)')
    if persons > 2:
        raise VisualizeError(f'{where}: {persons} persons; PreNormalize3D takes 1 or 2')
    sample = format_gcn_input(pre_normalize_3d(keypoint), num_person).numpy()  # (3, T', V, num_person)
    _, order, count, _, _ = pre_normalize_3d_plan(keypoint[None], [num_frames])
    kept = order[0, :count[0]].numpy()  # (T',): the raw frames PreNormalize3D keeps, in order
    drawn_frames = np.full(num_frames, -1)
    drawn_frames[kept] = np.arange(len(kept))
    return Clip(sample, 'pyskl3d', drawn_frames=drawn_frames)


def _pyskl_2d(annotation, after_preprocess, num_person):
    from feeders.pyskl_transforms import format_gcn_input, pre_normalize_2d

    keypoint, score = annotation['keypoint'], annotation['keypoint_score']  # (M, T, V, 2) pixels, (M, T, V)
    height, width = (int(d) for d in annotation['img_shape'])
    score = score[..., None].astype(np.float32)  # (M, T, V, 1): GenSkeFeat puts the score third
    if not after_preprocess:
        raw = np.concatenate([keypoint.astype(np.float32), score], -1).transpose(3, 1, 2, 0)  # (3, T, V, M)
        return Clip(raw, 'pyskl2d', extent=((0, 0), (width, height)))
    normalised = pre_normalize_2d(keypoint, (height, width)).numpy()  # (M, T, V, 2) in [-1, 1] across the image
    sample = format_gcn_input(np.concatenate([normalised, score], -1), num_person).numpy()  # (3, T, V, num_person)
    return Clip(sample, 'pyskl2d', extent=MODEL_SQUARES['pyskl2d'])


def _layout_file(layout_file):
    from storage.layout_file import load_layout_file

    try:
        return load_layout_file(layout_file)
    except LayoutError as err:
        raise VisualizeError(f'--layout-file: {err}') from None


def choose_layout(num_node, own, layout_file=None, model=None, source=''):
    """The graphs.Layout whose bones are drawn on samples of `num_node` joints.

    --layout-file's, else the weights' (model.config.layout, a name or a user's layout dict), else the input's
    own (`own`, a shipped layout's name or None), else the first shipped layout with num_node joints.
    source: the --skeleton path, for the errors.
    """
    if layout_file is not None:
        layout, flag = _layout_file(layout_file), f'--layout-file {layout_file}'
    elif model is not None:
        layout, flag = get_layout(model.config.layout), '--weights (its layout)'
    elif own is not None:
        return LAYOUTS[own]
    else:
        shipped = [layout for layout in LAYOUTS.values() if layout.num_node == num_node]
        if not shipped:
            known = ', '.join(f'{name} ({layout.num_node})' for name, layout in LAYOUTS.items())
            raise VisualizeError(f'--skeleton {source}: samples have {num_node} joints and no shipped layout has '
                                 f'{num_node} (known: {known}); give the bones with --layout-file my_layout.yaml')
        return shipped[0]
    if layout.num_node != num_node:
        raise VisualizeError(f'{flag}: layout {layout.name} has {layout.num_node} joints, --skeleton {source} has '
                             f'{num_node}')
    return layout
