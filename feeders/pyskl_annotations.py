"""PYSKL annotation pickles (docs/reference.md section 8): read one split, checked, numpy only.

The file is {'split': {name: [frame_dir, ...]}, 'annotations': [{'frame_dir', 'label', 'total_frames',
'keypoint': (M, T, V, C), ...}]}: C = 3 for 3D skeletons (data_gen/gen_pyskl_data.py, PYSKL's ntu*_3danno.pkl);
C = 2 for 2D ones (PYSKL's ntu*_hrnet.pkl), which also hold 'keypoint_score' (M, T, V) and 'img_shape' (h, w).
It is read only through storage.files.load_pickle (no code in it runs). Every error is one line naming the
file and the frame_dir.
"""
import numpy as np

from storage import files

KINDS = {2: '2d', 3: '3d'}  # keypoint channels C -> kind
# (kind, V) -> the layout of PYSKL's pickles, which GenSkeFeat uses: 'nturgb+d', 'coco' (HRNet 2D), 'openpose'.
PYSKL_LAYOUTS = {('3d', 25): 'ntu-rgb+d-pyskl', ('2d', 17): 'coco', ('2d', 18): 'openpose'}
# kind -> the data mode weights trained on such keypoints record (model/weights.py DATA_MODES).
DATA_MODES = {'3d': 'pyskl3d', '2d': 'pyskl2d'}
PYSKL_MODES = tuple(DATA_MODES.values())


class AnnotationError(files.StorageError):
    """An annotation pickle that breaks the format; str() is 'path: [frame_dir 'x': ]what is wrong'."""


def load_annotations(path, split, num_node=None):
    """The annotation dicts of `split`, in the split's order, each checked.

    All annotations of the split must share one kind (2d/3d) and V; `num_node`, when given, is the V expected.
    Shape of each returned annotation: keypoint (M, T, V, C); 2D: keypoint_score (M, T, V).
    """
    splits, by_name = _read(path)
    return check_annotations(path, _split(path, splits, by_name, split), num_node)


def check_annotations(path, annotations, num_node=None):
    """`annotations` (dicts as in a pickle, read from `path`), each checked as load_annotations checks them;
    the first bad one is named with `path` in a one-line AnnotationError."""
    check = _Checker(path, num_node)
    return [check(annotation) for annotation in annotations]


def load_all(path, num_node=None):
    """Every annotation of the file, in the file's order, each checked as load_annotations checks a split's
    (predict classifies a whole pickle when no split is named)."""
    _, by_name = _read(path)
    if not by_name:
        raise AnnotationError(f'{path}: no annotations')
    check = _Checker(path, num_node)
    return [check(annotation) for annotation in by_name.values()]


def describe(path):
    """{'splits': {name: count}, 'kind': '2d'|'3d', 'num_node': V, 'num_class': max label + 1}, for meta.json.

    Every annotation is checked, and every frame_dir of every split must have one.
    """
    return _summary(path, *_read(path))


def read_split(path, split):
    """(describe(path), the annotations of `split` in its order), from one read of the file."""
    splits, by_name = _read(path)
    return _summary(path, splits, by_name), _split(path, splits, by_name, split)


def _split(path, splits, by_name, split):
    if split not in splits:
        raise AnnotationError(f'{path}: no split {split!r} (the file has: {", ".join(map(str, splits)) or "none"})')
    missing = next((name for name in splits[split] if name not in by_name), None)
    if missing is not None:
        raise AnnotationError(f'{path}: frame_dir {missing!r} is in split {split!r} but has no annotation')
    return [by_name[name] for name in splits[split]]


def _summary(path, splits, by_name):
    check = _Checker(path)
    for annotation in by_name.values():
        check(annotation)
    for split, names in splits.items():
        for name in names:
            if name not in by_name:
                raise AnnotationError(f'{path}: frame_dir {name!r} is in split {split!r} but has no annotation')
    if not by_name:
        raise AnnotationError(f'{path}: no annotations')
    return {'splits': {split: len(names) for split, names in splits.items()}, 'kind': check.kind,
            'num_node': check.num_node, 'num_class': int(max(a['label'] for a in by_name.values())) + 1}


def annotations_in_order(path):
    """Every annotation of the file in its 'annotations' order, as stored: only the top level and each
    frame_dir are checked, so pass the ones used to check_annotation (one bad sample elsewhere in the file
    does not hide the others)."""
    return list(_read(path)[1].values())


def check_annotation(path, annotation):
    """One annotation of annotations_in_order checked alone, as load_annotations checks each; returns it."""
    return _Checker(path)(annotation)


def _read(path):
    """({split: [frame_dir]}, {frame_dir: annotation}) with the top-level layout checked."""
    data = files.load_pickle(path)
    if not isinstance(data, dict):
        raise AnnotationError(f'{path}: expected a dict with keys "split" and "annotations", found '
                              f'{type(data).__name__}')
    for key in ('split', 'annotations'):
        if key not in data:
            raise AnnotationError(f'{path}: missing key {key!r} (a PYSKL annotation pickle has "split" and '
                                  '"annotations")')
    splits, annotations = data['split'], data['annotations']
    if not isinstance(splits, dict) or not all(isinstance(v, (list, tuple)) for v in splits.values()):
        raise AnnotationError(f'{path}: "split" must map split names to lists of frame_dir')
    if not isinstance(annotations, (list, tuple)):
        raise AnnotationError(f'{path}: "annotations" must be a list, found {type(annotations).__name__}')
    by_name = {}
    for i, annotation in enumerate(annotations):
        if not isinstance(annotation, dict) or not isinstance(annotation.get('frame_dir'), str):
            hint = (' (ntu_preproc.py stores None for a file with no body: regenerate with gen_pyskl_data)'
                    if annotation is None else '')
            raise AnnotationError(f'{path}: annotation {i} is not a dict with a "frame_dir" string, found '
                                  f'{type(annotation).__name__}{hint}')
        if annotation['frame_dir'] in by_name:
            raise AnnotationError(f'{path}: frame_dir {annotation["frame_dir"]!r}: annotated twice')
        by_name[annotation['frame_dir']] = annotation
    return splits, by_name


class _Checker:
    """Checks annotations one by one; the first fixes kind and V (unless num_node is given)."""

    def __init__(self, path, num_node=None):
        self.path, self.num_node, self.kind = path, num_node, None

    def __call__(self, annotation):
        where = f'{self.path}: frame_dir {annotation["frame_dir"]!r}'
        for key in ('label', 'total_frames', 'keypoint'):
            if key not in annotation:
                raise AnnotationError(f'{where}: missing key {key!r}')
        keypoint = annotation['keypoint']
        if not isinstance(keypoint, np.ndarray) or keypoint.ndim != 4:
            raise AnnotationError(f'{where}: keypoint must be a 4-d (M, T, V, C) array, found {_describe(keypoint)}')
        if not np.issubdtype(keypoint.dtype, np.floating):
            raise AnnotationError(f'{where}: keypoint must be a float array, found {keypoint.dtype}')
        num_person, num_frames, num_node, channels = keypoint.shape
        if channels not in KINDS:
            raise AnnotationError(f'{where}: keypoint (M, T, V, C) has C = {channels}; expected 2 (2D) or 3 (3D)')
        kind = KINDS[channels]
        if self.kind not in (None, kind):
            raise AnnotationError(f'{where}: a {kind} keypoint among {self.kind} ones')
        if self.num_node is not None and num_node != self.num_node:
            raise AnnotationError(f'{where}: keypoint has V = {num_node} joints, expected {self.num_node}')
        if not _is_int(annotation['total_frames']) or annotation['total_frames'] != num_frames:
            raise AnnotationError(f'{where}: total_frames is {annotation["total_frames"]!r} but keypoint has '
                                  f'T = {num_frames} (shape (M, T, V, C) = {keypoint.shape})')
        if not np.isfinite(keypoint).all():
            raise AnnotationError(f'{where}: keypoint has non-finite values')
        if not _is_int(annotation['label']) or annotation['label'] < 0:
            raise AnnotationError(f'{where}: label must be a non-negative integer, found {annotation["label"]!r}')
        if kind == '2d':
            self._check_2d(annotation, where, keypoint.shape[:3])
        self.kind, self.num_node = kind, num_node
        return annotation

    @staticmethod
    def _check_2d(annotation, where, shape):
        score = annotation.get('keypoint_score')
        if not isinstance(score, np.ndarray) or score.shape != shape:
            raise AnnotationError(f'{where}: a 2D annotation needs keypoint_score of shape (M, T, V) = {shape}, '
                                  f'found {_describe(score)}')
        if not np.issubdtype(score.dtype, np.number) or not np.isfinite(score).all():
            raise AnnotationError(f'{where}: keypoint_score must hold finite numbers')
        img_shape = annotation.get('img_shape')
        if (not isinstance(img_shape, (tuple, list)) or len(img_shape) != 2
                or not all(_is_int(d) and d > 0 for d in img_shape)):
            raise AnnotationError(f'{where}: a 2D annotation needs img_shape (h, w) of positive integers, found '
                                  f'{img_shape!r}')


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _describe(value):
    if isinstance(value, np.ndarray):
        return f'{value.dtype} array of shape {value.shape}'
    return 'nothing' if value is None else type(value).__name__
