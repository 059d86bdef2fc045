"""tf.data input pipeline over a PYSKL annotation pickle: PYSKL's recipe (docs/reference.md section 8),
PreNormalize3D (or PreNormalize2D) -> GenSkeFeat -> UniformSample -> PoseDecode -> FormatGCNInput.

Loading, once per dataset: the split's annotations (feeders/pyskl_annotations.py) are packed into one
frames-first array in the pickle's dtype. PreNormalize3D and PreNormalize2D draw nothing at random, so what
they decide is decided here, once, with the TF ops of feeders/pyskl_transforms.py:
  3D: pre_normalize_3d_plan (person order, kept frames, centre, rotation); only the kept frames are stored,
      persons in the new order, already centred (pre_normalize_3d_centre: pointwise per frame and exact in the
      keypoints' dtype, so doing it once here changes no bit), with each sample's rotation.
  2D: PreNormalize2D (pointwise, one call per image shape), then the score as the third channel, as
      GenSkeFeat concatenates it.
Per batch, in parallel tf.data maps: clip indices (training: train_clip_indices with a stateless seed per
batch; test: PYSKL's seed-255 clips, test_clip_indices of each sample's kept-frame count) -> the clip frames
gathered by one tf.numpy_function (the array stays in numpy: a graph constant cannot exceed 2 GB) -> 3D:
pre_normalize_3d_rotate on those frames only -> gen_ske_feat -> format_gcn_input. Doing the per-sample
decisions and the float16 centring once, and then touching only the sampled frames, is what makes the
pipeline fast (bench/bench_pyskl_feeder.py).

Memory: the stored frames take F x M x V x C x itemsize bytes, F the split's kept frames, M the persons
stored (3D: 2 when any sample has two; 2D: at most num_person), float16 in PYSKL's pickles (150 bytes a
person-frame for NTU 3D, so 40,091 xsub_train samples x 2 persons x T frames: about 1 GB if T averages
85, an estimate not measured on the real set), plus 52 bytes a sample. Loading also holds the unpickled file until the split is packed.
"""
import numpy as np
import tensorflow as tf

from feeders import pyskl_annotations, pyskl_records, pyskl_sampling, pyskl_transforms
from feeders.tfrecord_feeder import shard_files
from graphs import LayoutError, get_layout

LAYOUTS = pyskl_annotations.PYSKL_LAYOUTS
DATA_MODES = pyskl_annotations.DATA_MODES
_MOTION = ('jm', 'bm')
_PLAN_CHUNK = 256  # samples per pre_normalize_3d_plan call at load: bounds the zero-padded copy


def read_pyskl_meta(ann_file, split, clip_len=100, feats=('j',), num_person=2, layout=None):
    """The meta of one split of a PYSKL pickle, or of a folder of its shards (feeders/pyskl_records.py), in
    feeders.tfrecord_feeder.read_dataset_meta's keys.

    Returns {'num_samples', 'sample_shape' [C, clip_len, V, num_person] (C = 3 per feat: x, y, z or x, y,
    score), 'num_class' (over the whole file, so a test split missing a class still matches the model),
    'data_mode': 'pyskl3d'|'pyskl2d', 'max_frame': clip_len, 'layout'}. A pickle is read and checked whole; a
    folder's meta.json is read (split: None, or the one it holds).
    layout: the run's (a name or a layout dict) when it has one; None: PYSKL's layout for the kind and V.
    """
    if pyskl_records.is_shard_folder(ann_file):
        info = pyskl_records.read_meta(ann_file, split)
        shard_files(ann_file, info)  # a missing or truncated shard is named now, not when the pipeline starts
        num_samples = info['num_samples']
    else:
        info = pyskl_annotations.describe(ann_file)
        if split not in info['splits']:
            raise pyskl_annotations.AnnotationError(f'{ann_file}: no split {split!r} (the file has: '
                                                    f'{", ".join(info["splits"]) or "none"})')
        num_samples = info['splits'][split]
    _check_feats(feats)
    return {'num_samples': num_samples,
            'sample_shape': [3 * len(feats), clip_len, info['num_node'], num_person],
            'num_class': info['num_class'], 'data_mode': DATA_MODES[info['kind']], 'max_frame': clip_len,
            'layout': _layout(ann_file, info['kind'], info['num_node'], layout)}


def make_pyskl_dataset(ann_file, split, global_batch, training, input_context=None, seed=None, clip_len=100,
                       num_clips=1, feats=('j',), layout=None, num_person=2):
    """Batches of PYSKL's recipe from `split` of the pickle `ann_file`, or from a folder of its shards
    (feeders/pyskl_records.py; split None or the one it holds).

    Args:
        global_batch: the global batch size; under tf.distribute (input_context given) each input pipeline
            batches input_context.get_per_replica_batch_size(global_batch) of every num_input_pipelines-th
            sample of a pickle, or of the samples in every num_input_pipelines-th shard of a folder (the same
            samples when the number of shards is a multiple of the pipelines').
        training: a random clip per sample (num_clips must be 1), samples reshuffled each epoch, the last
            partial batch dropped, yields (x, label). Otherwise split order, PYSKL's num_clips test clips
            (seed 255), the remainder kept, yields (x, label, name).
        seed: makes the order and the training clips reproducible; None draws fresh ones.
        feats: GenSkeFeat's streams, some of 'j', 'b', 'jm', 'bm', concatenated on channels in this order.
        layout: the skeleton layout, checked against the file's V; None: PYSKL's for the file's kind and V,
            'ntu-rgb+d-pyskl' (3D), 'coco' or 'openpose' (2D). A user's layout (a dict, graphs.layout_from_dict)
            takes 2D keypoints; its bones are each joint minus its parent.
    Shape:
        training: x float32 (B, C, clip_len, V, num_person), label int64 (B,);
        test: x float32 (B, num_clips, C, clip_len, V, num_person) (always with the clip axis: the model
            takes (B * num_clips, C, T, V, M), sample-major, and training.metrics.average_clip_probabilities
            folds its logits back to (B, num_class)), label int64 (B,), name string (B,).
        C = 3 * len(feats).
    """
    _check_feats(feats)
    if training and num_clips != 1:
        raise ValueError(f'training takes one random clip per sample; got num_clips={num_clips}')
    store, by_file = _load(ann_file, split, num_person, layout, input_context)
    indices = tf.data.Dataset.range(store.num_samples)
    if input_context is not None and not by_file:
        indices = indices.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    replica_batch = input_context.get_per_replica_batch_size(global_batch) if input_context else global_batch
    deterministic = not training or seed is not None
    clips = _Clips(store, clip_len, num_clips, tuple(feats), num_person, training)
    labels, names = tf.constant(store.labels), tf.constant(store.names)
    if training:
        batches = indices.shuffle(store.num_samples, seed=seed, reshuffle_each_iteration=True).batch(
            replica_batch, drop_remainder=True)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)  # (2,) int64
        batches = tf.data.Dataset.zip((batches, seeds)).map(
            lambda index, op_seed: (clips.train(index, op_seed), tf.gather(labels, index)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    else:
        batches = indices.batch(replica_batch).map(
            lambda index: (clips.test(index), tf.gather(labels, index), tf.gather(names, index)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)


def _load(path, split, num_person, layout, input_context):
    """(_Store of this input pipeline's samples, whether they were chosen by shard file already).

    A pickle is read whole (every pipeline then takes its share of the samples); a shard folder only in the
    shards of this pipeline (feeders/pyskl_records.read_shards).
    """
    if pyskl_records.is_shard_folder(path):
        meta = pyskl_records.read_meta(path, split)
        annotations = pyskl_records.read_shards(path, meta, input_context)
        return _Store(path, annotations, num_person, layout, persons=meta['max_person']), True
    annotations = pyskl_annotations.load_annotations(path, split)
    if not annotations:
        raise pyskl_annotations.AnnotationError(f'{path}: split {split!r} is empty')
    return _Store(path, annotations, num_person, layout), False


def _check_feats(feats):
    if not feats or any(f not in pyskl_transforms.FEATS for f in feats) or len(set(feats)) != len(feats):
        raise ValueError(f"feats must be distinct names among {', '.join(pyskl_transforms.FEATS)}; got {list(feats)}")


def _layout(path, kind, num_node, layout=None):
    """The layout of the file's keypoints: `layout` checked against them, or PYSKL's for (kind, V)."""
    if layout is None:
        if (kind, num_node) not in LAYOUTS:
            known = ', '.join(f'{k} V={v}' for k, v in LAYOUTS)
            raise pyskl_annotations.AnnotationError(
                f'{path}: no shipped skeleton layout for {kind} keypoints with V = {num_node} joints (known: '
                f'{known}); give yours (model_args.graph_args.layout or --layout-file)')
        return LAYOUTS[(kind, num_node)]
    try:
        spec = get_layout(layout)
    except LayoutError as error:
        raise pyskl_annotations.AnnotationError(f'{path}: {error}') from None
    if spec.num_node != num_node:
        raise pyskl_annotations.AnnotationError(f'{path}: {kind} keypoints with V = {num_node} joints, but layout '
                                                f'{spec.name} has {spec.num_node}')
    if kind == '3d' and (kind, num_node) not in LAYOUTS:
        # PreNormalize3D turns the body by NTU's spine and shoulder joints (kennymckormick/pyskl:pyskl/datasets/
        # pipelines/pose_related.py:PreNormalize3D zaxis, xaxis): NTU's 25 joints, whichever edges join them.
        raise pyskl_annotations.AnnotationError(f'{path}: 3D keypoints of layout {spec.name}: PreNormalize3D is '
                                                'defined on NTU\'s 25 joints only; give 2D keypoints with scores, '
                                                'or the samples as a .npy set')
    return layout


class _Store:
    """One split (or the part an input pipeline reads) packed in memory, what PreNormalize3D/2D decide already
    applied (numpy arrays).

    annotations: checked annotation dicts (feeders/pyskl_annotations.py) read from `path`. persons: the most
    persons any sample of the whole split has, when `annotations` are only a part of it (so that every part
    is packed as the whole split would be); None: theirs.

    frames (F, M, V, C): sample i's frames are frames[starts[i]:starts[i] + lengths[i]] (3D: the kept
    frames in the new person order, centred; 2D: every frame, pre-normalised, C = 3 with the score); labels
    (N,) int64; names (N,) bytes; 3D: rotation (N, 3, 3) float32 (2D: None).
    """

    def __init__(self, path, annotations, num_person, layout=None, persons=None):
        persons = persons or max(a['keypoint'].shape[0] for a in annotations)
        self.kind = pyskl_annotations.KINDS[annotations[0]['keypoint'].shape[-1]]
        self.num_node = annotations[0]['keypoint'].shape[2]
        self.layout = _layout(path, self.kind, self.num_node, layout)
        self.num_samples = len(annotations)
        self.labels = np.array([a['label'] for a in annotations], np.int64)
        self.names = np.array([a['frame_dir'].encode() for a in annotations], object)
        if self.kind == '3d':
            self._pack_3d(path, annotations, persons)
        else:
            self._pack_2d(annotations, min(num_person, persons))
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def _pack_3d(self, path, annotations, persons):
        if persons > 2:
            where = next(a['frame_dir'] for a in annotations if a['keypoint'].shape[0] == persons)
            raise pyskl_annotations.AnnotationError(f'{path}: frame_dir {where!r}: {persons} persons; '
                                                    'PreNormalize3D takes 1 or 2')
        dtype = np.result_type(*{a['keypoint'].dtype for a in annotations})
        # No Python control flow on tensors in these two: autograph's source conversion would only cost seconds.
        plan = tf.function(pyskl_transforms.pre_normalize_3d_plan, autograph=False, input_signature=[
            tf.TensorSpec((None, persons, None, self.num_node, 3), dtype), tf.TensorSpec((None,), tf.int32)])
        centre = tf.function(pyskl_transforms.pre_normalize_3d_centre, autograph=False, input_signature=[
            tf.TensorSpec((None, persons, self.num_node, 3), dtype), tf.TensorSpec((None, 3), tf.float32)])
        frames, lengths, rotations = [], [], []
        for first in range(0, len(annotations), _PLAN_CHUNK):
            chunk = [a['keypoint'] for a in annotations[first:first + _PLAN_CHUNK]]
            padded = np.zeros((len(chunk), persons, max(k.shape[1] for k in chunk), self.num_node, 3), dtype)
            for b, keypoint in enumerate(chunk):  # (M, T, V, 3), zeros after T and for a missing second person
                padded[b, :keypoint.shape[0], :keypoint.shape[1]] = keypoint
            order, kept, count, center, rotation = (t.numpy() for t in plan(padded, [k.shape[1] for k in chunk]))
            # (M, count, V, 3) -> (count, M, V, 3): frames first, so a sample is a slice of rows
            rows = np.concatenate([padded[b][order[b]][:, kept[b, :count[b]]].transpose(1, 0, 2, 3)
                                   for b in range(len(chunk))])
            # Centring acts on each frame alone and stays in the keypoints' dtype: done here once, not per batch
            frames.append(centre(rows, np.repeat(center, count, axis=0)).numpy())
            lengths.append(count)
            rotations.append(rotation)
        self.frames = np.concatenate(frames)
        self.lengths = np.concatenate(lengths).astype(np.int32)
        self.rotation = np.concatenate(rotations)

    def _pack_2d(self, annotations, persons):
        point_dtype = np.result_type(*{a['keypoint'].dtype for a in annotations})
        dtype = np.result_type(point_dtype, *{a['keypoint_score'].dtype for a in annotations})
        self.lengths = np.array([a['total_frames'] for a in annotations], np.int32)
        ends = np.cumsum(self.lengths)
        points = np.zeros((ends[-1], persons, self.num_node, 2), point_dtype)  # (F, M, V, 2)
        self.frames = np.zeros((ends[-1], persons, self.num_node, 3), dtype)  # (F, M, V, 3)
        present = np.zeros((ends[-1], persons, 1, 1), bool)
        shape_rows = {}
        for a, end, length in zip(annotations, ends, self.lengths):
            # FormatGCNInput keeps the first num_person persons; the others never reach the model
            m, rows = min(persons, a['keypoint'].shape[0]), slice(end - length, end)
            points[rows, :m] = a['keypoint'][:m].transpose(1, 0, 2, 3)
            self.frames[rows, :m, :, 2] = a['keypoint_score'][:m].transpose(1, 0, 2)
            present[rows, :m] = True
            shape_rows.setdefault(tuple(int(d) for d in a['img_shape']), []).append(np.arange(end - length, end))
        for img_shape, rows in shape_rows.items():
            rows = np.concatenate(rows)
            normalised = pyskl_transforms.pre_normalize_2d(points[rows], img_shape).numpy()
            # FormatGCNInput's padding persons are zeros after PreNormalize2D, not normalised zeros
            self.frames[rows, ..., :2] = np.where(present[rows], normalised, 0)
        self.rotation = None


class _Clips:
    """The per-batch TF ops: sample indices (B,) -> clips (see make_pyskl_dataset's shapes)."""

    def __init__(self, store, clip_len, num_clips, feats, num_person, training):
        self.store, self.clip_len, self.num_clips, self.feats, self.num_person = (store, clip_len, num_clips,
                                                                                  feats, num_person)
        self.lengths, self.starts = tf.constant(store.lengths), tf.constant(store.starts)
        if store.rotation is not None:
            self.rotation = tf.constant(store.rotation)
        if not training:  # PYSKL's clips for every kept length, numpy's seed-255 draws: (T_max, nc, L)
            self.test_table = tf.constant(pyskl_sampling.test_clip_table(int(store.lengths.max()), clip_len,
                                                                         num_clips))

    def train(self, index, seed):
        inds = pyskl_sampling.train_clip_indices(tf.gather(self.lengths, index), seed, self.clip_len)  # (B, K)
        return pyskl_transforms.format_gcn_input(self._frames(index, inds), self.num_person)

    def test(self, index):
        rows = tf.gather(self.test_table, tf.gather(self.lengths, index) - 1)  # (B, nc, L)
        inds = tf.reshape(rows, [-1, self.num_clips * self.clip_len])  # (B, nc * L), clip-major as PYSKL
        x = pyskl_transforms.format_gcn_input(self._frames(index, inds), self.num_person, self.num_clips)
        return x[:, None] if self.num_clips == 1 else x  # (B, nc, C, L, V, num_person)

    def _frames(self, index, inds):
        """GenSkeFeat'ed, normalised frames `inds` (B, K) of samples `index` (B,) -> (B, M, K, V, C') float32.

        A motion stream of frame t is frame t + 1 minus frame t over the whole (kept) sequence, zero at its
        last frame, as PYSKL computes it before sampling: each clip frame is gathered with its successor,
        gen_ske_feat runs on the pair, and the motion channels are zeroed at the last frame.
        """
        store = self.store
        _, persons, num_node, channels = store.frames.shape
        count = tf.gather(self.lengths, index)[:, None]  # (B, 1)
        rows = tf.gather(self.starts, index)[:, None] + tf.cast(inds, tf.int64)  # (B, K)
        motion = any(f in _MOTION for f in self.feats)
        window = 2 if motion else 1
        if motion:
            has_next = inds + 1 < count  # (B, K)
            rows = tf.stack([rows, rows + tf.cast(has_next, tf.int64)], -1)  # (B, K, 2)
        batch, length = tf.shape(inds)[0], inds.shape[1]
        x = tf.numpy_function(lambda r: store.frames[r], [tf.reshape(rows, [-1])], store.frames.dtype,
                              stateful=False)
        x = tf.reshape(x, [batch, length * window, persons, num_node, channels])  # (B, K * W, M, V, C)
        x = tf.transpose(x, [0, 2, 1, 3, 4])  # (B, M, K * W, V, C)
        if store.rotation is not None:  # the stored frames are centred already
            x = pyskl_transforms.pre_normalize_3d_rotate(x, tf.gather(self.rotation, index))
        x = tf.reshape(x, [-1, window, num_node, channels])  # (B * M * K, W, V, C)
        x = pyskl_transforms.gen_ske_feat(x, store.layout, self.feats, scored=store.kind == '2d')[:, 0]  # (B*M*K, V, C')
        x = tf.reshape(x, [batch, persons, length, num_node, channels * len(self.feats)])  # (B, M, K, V, C')
        if motion:
            is_motion = np.repeat([f in _MOTION for f in self.feats], channels)  # (C',)
            keep = tf.cast(has_next[:, None, :, None, None] | ~is_motion, tf.float32)  # (B, 1, K, 1, C')
            x = x * keep
        return x
