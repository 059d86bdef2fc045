"""What tools/visualize.py draws: one sample read from any input it takes, and the layout whose bones it draws.

read_input gives a Clip: the sample to draw, its data mode (which says how it is projected), the sample the
model reads (with --weights), the input's own layout, and for image coordinates the image's extent.
choose_layout picks the layout drawn: --layout-file's, else the weights', else the input's own, else the
first shipped layout with the input's joint count; none fitting is a one-line error.
"""
import dataclasses
import os
import pathlib

import numpy as np

from graphs import LAYOUTS, LayoutError, get_layout
from storage import files

PYSKL_NUM_PERSON = 2  # FormatGCNInput's num_person in every PYSKL config: what --after-preprocess keeps
PYSKL_MODES = ('pyskl3d', 'pyskl2d')


class VisualizeError(ValueError):
    """Bad input; main prints `error: <message>` and exits with code 2."""


@dataclasses.dataclass
class Clip:
    """One input sample, ready to draw.

    Shape: drawn (C, T, V, M) float32; model_sample (C, T', V, M') float32 or None.
    data_mode: how `drawn` is projected (tools/visualize.py VIEWS). layout: the input's own layout name, or None
    when its format has none. extent: ((u0, v0), (u1, v1)), the image the 2D points lie in, or None to fit the
    points themselves. model_frames (T',) int: the drawn frame of each frame of model_sample, or None when they
    are the same frames. note: what names the sample (a PYSKL frame_dir), or ''.
    """
    drawn: np.ndarray
    data_mode: str
    model_sample: np.ndarray = None
    layout: str = None
    extent: tuple = None
    model_frames: np.ndarray = None
    note: str = ''


def read_input(path, index, after_preprocess, data_mode, num_person=None):
    """The Clip of --skeleton `path`.

    data_mode: the preprocessing the model expects (--weights), or None; the model's sample is only built for a
    model, with its num_person persons. For .npy files both samples are the stored one.
    """
    suffix = pathlib.Path(path).suffix
    if not os.path.isfile(path):
        raise VisualizeError(f'--skeleton {path}: no such file')
    if suffix == '.skeleton':
        return _read_ntu(path, after_preprocess, data_mode)
    if suffix == '.json':
        return _read_kinetics(path, after_preprocess, data_mode)
    if suffix == '.npy':
        return _read_npy(path, index)
    if suffix == '.pkl':
        return _read_pyskl(path, index, after_preprocess, data_mode, num_person or PYSKL_NUM_PERSON)
    raise VisualizeError(f'--skeleton {path}: expected a .skeleton, a Kinetics .json, a .npy of samples or a PYSKL '
                         '.pkl file')


def _read_ntu(path, after_preprocess, data_mode):
    from data_gen.preprocess import MAX_BODY_KINECT, MODES, sample_from_skeleton
    from data_gen.skeleton import SkeletonError, read_skeleton

    if data_mode is not None and data_mode not in MODES:
        raise VisualizeError(f'--weights: the model reads {data_mode!r} data, not NTU .skeleton files')
    try:
        skeleton = read_skeleton(path, max_body=MAX_BODY_KINECT)
    except SkeletonError as err:
        raise VisualizeError(str(err)) from None
    frames = skeleton.num_frames
    model_sample = sample_from_skeleton(skeleton, data_mode, frames) if data_mode else None
    drawn_mode = (data_mode or 'prenorm') if after_preprocess else 'raw'
    drawn = model_sample if after_preprocess and data_mode else sample_from_skeleton(skeleton, drawn_mode, frames)
    return Clip(drawn, drawn_mode, model_sample, 'ntu-rgb+d')


def _read_kinetics(path, after_preprocess, data_mode):
    from data_gen.gen_kinetics_data import KineticsError, read_clip, select_people

    if data_mode not in (None, 'kinetics'):
        raise VisualizeError(f'--weights: the model reads {data_mode!r} data, not Kinetics .json files')
    try:
        data, _ = read_clip(path)  # (3, 300, 18, 5)
    except KineticsError as err:
        raise VisualizeError(str(err)) from None
    present = np.flatnonzero(data[2].sum(axis=(1, 2)) > 0)
    frames = int(present[-1]) + 1 if len(present) else 1  # drop the empty tail of the 300 steps
    model_sample = select_people(data)[:, :frames]
    drawn = model_sample if after_preprocess else data[:, :frames].astype(np.float32)
    return Clip(drawn, 'kinetics', model_sample if data_mode else None, 'openpose')


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
    return Clip(sample, data_mode, sample, meta.get('layout') if meta.get('layout') in LAYOUTS else None)


def _read_pyskl(path, index, after_preprocess, data_mode, num_person):
    """Annotation `index` of a PYSKL pickle (its place in 'annotations'), read through feeders/pyskl_annotations.

    3D keypoints are drawn as NTU files are (Kinect camera space), or after PreNormalize3D; 2D ones in image
    pixels within img_shape, or after PreNormalize2D in [-1, 1]. The model's sample is PYSKL's recipe with the
    joint stream: PreNormalize3D/2D of the whole sequence, then FormatGCNInput to num_person persons.
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
    kind = pyskl_annotations.KINDS[annotation['keypoint'].shape[-1]]
    expected = pyskl_feeder.DATA_MODES[kind]
    if data_mode not in (None, expected):
        raise VisualizeError(f'--weights: the model reads {data_mode!r} data, not a PYSKL {kind} pickle '
                             f'({expected!r} data)')
    where = f'{path}: frame_dir {annotation["frame_dir"]!r}'
    read = _pyskl_3d if kind == '3d' else _pyskl_2d
    clip = read(annotation, where, after_preprocess, data_mode is not None, num_person)
    clip.layout = pyskl_feeder.LAYOUTS.get((kind, annotation['keypoint'].shape[2]))
    clip.note = f'frame_dir {annotation["frame_dir"]!r}, label {annotation["label"]}'
    return clip


def _pyskl_3d(annotation, where, after_preprocess, for_model, num_person):
    from feeders.pyskl_transforms import format_gcn_input, pre_normalize_3d, pre_normalize_3d_plan

    keypoint = annotation['keypoint']  # (M, T, V, 3), Kinect camera space
    raw = keypoint.transpose(3, 1, 2, 0).astype(np.float32)  # (3, T, V, M)
    if not (after_preprocess or for_model):
        return Clip(raw, 'raw')
    persons, _, num_node, _ = keypoint.shape
    if num_node != 25:
        # PreNormalize3D turns the body by NTU's spine and shoulder joints, as feeders/pyskl_feeder.py says.
        raise VisualizeError(f'{where}: 3D keypoints with V = {num_node} joints; PreNormalize3D is defined on NTU\'s '
                             '25 joints only (draw it without --after-preprocess and --weights)')
    if persons > 2:
        raise VisualizeError(f'{where}: {persons} persons; PreNormalize3D takes 1 or 2')
    normalised = pre_normalize_3d(keypoint)  # (M, T', V, 3) float32, T' the frames it keeps
    sample = format_gcn_input(normalised, num_person).numpy()  # (3, T', V, num_person)
    if after_preprocess:
        return Clip(sample, 'pyskl3d', sample if for_model else None)
    _, order, count, _, _ = pre_normalize_3d_plan(keypoint[None], [keypoint.shape[1]])
    kept = order[0, :count[0]].numpy()  # (T',): the raw frames PreNormalize3D keeps, in order
    return Clip(raw, 'raw', sample, model_frames=kept)


def _pyskl_2d(annotation, where, after_preprocess, for_model, num_person):
    from feeders.pyskl_transforms import format_gcn_input, pre_normalize_2d

    keypoint, score = annotation['keypoint'], annotation['keypoint_score']  # (M, T, V, 2) pixels, (M, T, V)
    height, width = (int(d) for d in annotation['img_shape'])
    score = score[..., None].astype(np.float32)  # (M, T, V, 1): GenSkeFeat puts the score third
    raw = np.concatenate([keypoint.astype(np.float32), score], -1).transpose(3, 1, 2, 0)  # (3, T, V, M)
    if not (after_preprocess or for_model):
        return Clip(raw, 'pyskl2d', extent=((0, 0), (width, height)))
    normalised = pre_normalize_2d(keypoint, (height, width)).numpy()  # (M, T, V, 2) in [-1, 1] across the image
    sample = format_gcn_input(np.concatenate([normalised, score], -1), num_person).numpy()  # (3, T, V, num_person)
    if after_preprocess:
        return Clip(sample, 'pyskl2d', sample if for_model else None, extent=((-1, -1), (1, 1)))
    return Clip(raw, 'pyskl2d', sample, extent=((0, 0), (width, height)))


def choose_layout(num_node, own, layout_file=None, model=None, source=''):
    """The graphs.Layout whose bones are drawn on samples of `num_node` joints.

    --layout-file's, else the weights' (model.config.layout, a name or a user's layout dict), else the input's
    own (`own`, a shipped layout's name or None), else the first shipped layout with num_node joints.
    source: the --skeleton path, for the errors.
    """
    if layout_file is not None:
        from storage.layout_file import load_layout_file

        try:
            layout, flag = load_layout_file(layout_file), f'--layout-file {layout_file}'
        except LayoutError as err:
            raise VisualizeError(f'--layout-file: {err}') from None
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
