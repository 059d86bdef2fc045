"""One split of a PYSKL annotation pickle as TFRecord shards (docs/files.md): the record schema, its writer and
its reader. data_gen/gen_tfrecord_data.py --ann-file writes the folder; feeders/pyskl_feeder.py reads it into
the same in-memory store it builds from a pickle, so every transform after loading is shared.

Each record is a tf.train.Example of one annotation, at its true length and person count (no padding):
    keypoint        bytes  tf.io.serialize_tensor of (M, T, V, C), in the split's keypoint dtype (float16 in
                           PYSKL's NTU pickles: the feeder's float16 arithmetic then matches PYSKL's)
    keypoint_score  bytes  2D only: serialize_tensor of (M, T, V), in the split's score dtype
    img_shape       int64  2D only: (h, w)
    label           int64  0-based class
    name            bytes  frame_dir
    total_frames    int64  T
    index           int64  the sample's position in the split
Sample i goes to shard i % num_shards. An input pipeline reads shards k with k % P == p (P pipelines, p its
id) and orders what it read by index: one pipeline gets the split's order, and when P divides the number of
shards pipeline p gets samples p, p + P, ..., as feeders/pyskl_feeder.py shards a pickle's samples.
"""
import os

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow.core.framework import tensor_pb2

from feeders import pyskl_annotations
from feeders.tfrecord_feeder import pipeline_shards, shard_files
from storage import files

FORMAT = 'pyskl-shards'  # meta.json "format" of such a folder


def serialize_annotation(annotation, index, keypoint_dtype, score_dtype=None):
    """One annotation (checked by feeders/pyskl_annotations.py) as the bytes of a tf.train.Example.

    keypoint_dtype, score_dtype: the split's (numpy result type over its annotations), so that every shard,
    whichever samples it holds, gives the feeder the dtypes the whole split gives.
    """
    feature = {
        'keypoint': _bytes(tf.io.serialize_tensor(annotation['keypoint'].astype(keypoint_dtype)).numpy()),
        'label': _ints([annotation['label']]),
        'name': _bytes(annotation['frame_dir'].encode()),
        'total_frames': _ints([annotation['total_frames']]),
        'index': _ints([index]),
    }
    if 'keypoint_score' in annotation and annotation['keypoint'].shape[-1] == 2:
        feature['keypoint_score'] = _bytes(tf.io.serialize_tensor(
            np.asarray(annotation['keypoint_score']).astype(score_dtype)).numpy())
        feature['img_shape'] = _ints(annotation['img_shape'])
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


META_KEYS = ('format', 'kind', 'num_node', 'num_class', 'split', 'num_samples', 'num_shards', 'max_person', 'shards')


def is_shard_folder(path):
    """Whether `path` is a folder whose meta.json says it holds PYSKL samples (format 'pyskl-shards')."""
    return os.path.isdir(path) and files.read_meta(path).get('format') == FORMAT


def read_meta(folder, split=None):
    """The folder's meta.json, with every key of META_KEYS; `split`, when given, must be the one it holds."""
    meta = files.read_meta(folder, required=META_KEYS)
    if meta['format'] != FORMAT:
        raise ValueError(f'{files.meta_path(folder)}: format {meta["format"]!r}, expected {FORMAT!r}')
    if meta['kind'] == '3d' and meta['max_person'] > 2:  # gen_tfrecord_data refuses them: an edited meta.json
        raise ValueError(f'{files.meta_path(folder)}: max_person {meta["max_person"]}; PreNormalize3D takes 1 or 2')
    if split is not None and split != meta['split']:
        raise ValueError(f'{folder}: holds split {meta["split"]!r} (meta.json), not {split!r}; convert that split '
                         'with data_gen/gen_tfrecord_data.py --ann-file FILE --split NAME')
    return meta


def read_shards(folder, meta, input_context=None):
    """The annotations in this input pipeline's shards of `folder`, ordered by their index in the split.

    meta: the folder's meta.json (storage.files.read_meta). input_context: a tf.distribute.InputContext; this
    pipeline reads every num_input_pipelines-th shard from its id. Each annotation is checked as one read from
    a pickle is; errors (a missing, truncated or corrupt shard, a record that breaks the schema) are one-line
    ValueErrors naming the shard file (and the frame_dir).
    Returns: [annotation dicts: frame_dir, label, total_frames, keypoint (M, T, V, C), 2D: keypoint_score
        (M, T, V), img_shape (h, w)].
    """
    paths = pipeline_shards(folder, shard_files(folder, meta), input_context)
    records = []
    for path in paths:
        annotations = [_parse(path, record) for record in _records(path)]
        expected = meta['shards'][path.rsplit('/', 1)[-1]]['num_records']
        if len(annotations) != expected:
            raise ValueError(f'{path}: {len(annotations)} records, meta.json says {expected}')
        records += pyskl_annotations.check_annotations(path, annotations, meta['num_node'])
    records.sort(key=lambda a: a['index'])
    indices = [a.pop('index') for a in records]
    if (len(set(indices)) != len(indices) or len({a['frame_dir'] for a in records}) != len(records)
            or (indices and not 0 <= indices[0] <= indices[-1] < meta['num_samples'])):
        raise ValueError(f'{folder}: records repeat (a split index or a name) or index beyond num_samples '
                         f'{meta["num_samples"]} in meta.json: regenerate with data_gen/gen_tfrecord_data.py '
                         '--ann-file')
    return records


def _records(path):
    try:
        return [record for batch in tf.data.TFRecordDataset(path).batch(256).as_numpy_iterator() for record in batch]
    except tf.errors.DataLossError as err:
        raise ValueError(f'{path}: corrupt TFRecord file ({err.message.splitlines()[-1]})') from None


def _parse(path, record):
    """A record's annotation dict (with its 'index'), or a ValueError naming the file and what is missing."""
    try:
        features = tf.train.Example.FromString(record).features.feature
        annotation = {'frame_dir': features['name'].bytes_list.value[0].decode(),
                      'label': features['label'].int64_list.value[0],
                      'total_frames': features['total_frames'].int64_list.value[0],
                      'index': features['index'].int64_list.value[0],
                      'keypoint': _tensor(features['keypoint'])}
        if 'keypoint_score' in features:
            annotation['keypoint_score'] = _tensor(features['keypoint_score'])
            annotation['img_shape'] = tuple(features['img_shape'].int64_list.value)
    except (DecodeError, IndexError, UnicodeDecodeError, ValueError, TypeError) as err:
        raise ValueError(f'{path}: a record that is not a PYSKL annotation of {FORMAT} ({err}): regenerate with '
                         'data_gen/gen_tfrecord_data.py --ann-file') from None
    return annotation


def _tensor(feature):
    """A serialize_tensor feature as a numpy array (one protobuf parse: no TF op per record)."""
    return tf.make_ndarray(tensor_pb2.TensorProto.FromString(feature.bytes_list.value[0]))

