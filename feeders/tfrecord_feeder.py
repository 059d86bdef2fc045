"""tf.data input pipeline over a folder of TFRecord shards written by data_gen/gen_tfrecord_data.py.

files (shuffled when training, sharded by file under tf.distribute) -> parallel interleaved reads,
each shard parsed to float32 (C, T, V, M) -> shuffle samples (buffer counted in samples, training only)
-> optional official augmentations -> batch (drop the remainder when training) -> prefetch.

Errors name the shard: a record whose tensor is not float32 of the folder's sample_shape (or has no
label), and a shard whose size differs from meta.json (truncated). A bit flip inside a shard of the
right size surfaces as TensorFlow's own DataLossError ("corrupted record at <offset>"), which does not
name the file: find_corrupt_shard() names it afterwards (main.py calls it on that error), since a
per-record check would be too slow for the input pipeline.
"""
import pathlib
import re

import tensorflow as tf

from feeders import augment as aug
from storage import files

# The message of the in-pipeline record check; main.py recognises it in TensorFlow's error.
RECORD_CHECK = 'a record is not a float32 tensor of shape'
FEATURES = {
    'features': tf.io.FixedLenFeature([], tf.string, default_value=''),
    'label': tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    'name': tf.io.FixedLenFeature([], tf.string, default_value=''),  # absent in the 2019 port's shards
}


def _natural_key(path):
    """`train-10.tfrecord` sorts after `train-9.tfrecord`."""
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', path.name)]


def _count_records(path):
    try:
        return {'num_records': sum(1 for _ in tf.data.TFRecordDataset(str(path))),
                'num_bytes': path.stat().st_size}
    except tf.errors.DataLossError as err:
        raise ValueError(f'{path}: truncated or corrupt TFRecord file ({err.message.splitlines()[-1]})') from None


def _first_example(paths):
    """The first record of the first non-empty shard, parsed (the 2019 port's default of 40 shards leaves the
    first ones empty on a small set)."""
    for path in paths:
        for record in tf.data.TFRecordDataset(str(path)).take(1):
            return path, tf.io.parse_single_example(record, FEATURES)
    raise ValueError(f'{paths[0].parent}: no records in any of its {len(paths)} shards')


def read_dataset_meta(folder, count_records=True):
    """The folder's meta.json; without one (the 2019 port's shards, which have no names), count the records
    (count_records) and read the first record's shape. A folder of named shards without meta.json is refused.

    Returns:
        dict with num_samples, num_shards, sample_shape [C, T, V, M], max_frame, data_mode, num_class and, when
        meta.json lists them or the records were counted, shards {file name: {num_records, num_bytes}}.
    """
    folder = pathlib.Path(folder)
    meta = files.read_meta(folder, required=('num_samples', 'sample_shape'))
    if meta:
        meta.setdefault('max_frame', meta['sample_shape'][1])  # folders written before max_frame was recorded
        return meta
    paths = _glob_shards(folder)
    first, example = _first_example(paths)
    if example['name'].numpy():
        # Our shards carry names and a meta.json written last: without it the set is incomplete.
        raise ValueError(f'{folder}: no {files.META_NAME} beside shards written by data_gen/gen_tfrecord_data.py: '
                         'the set is incomplete (an interrupted run?); run gen_tfrecord_data.py again')
    shape = tf.io.parse_tensor(example['features'], tf.float32).shape.as_list()
    meta = {'num_samples': None, 'num_shards': len(paths), 'sample_shape': shape, 'max_frame': shape[1],
            'data_mode': None, 'num_class': None}
    if count_records:
        meta['shards'] = {path.name: _count_records(path) for path in paths}
        meta['num_samples'] = sum(shard['num_records'] for shard in meta['shards'].values())
    return meta


def _glob_shards(folder):
    paths = sorted(pathlib.Path(folder).glob('*.tfrecord'), key=_natural_key)
    if not paths:
        raise FileNotFoundError(f'{folder}: no *.tfrecord files (write them with data_gen/gen_tfrecord_data.py)')
    return paths


def pipeline_shards(folder, paths, input_context=None):
    """The shard files of `folder` one input pipeline reads: every num_input_pipelines-th from its id (all of
    them without an input context). A ValueError when there are fewer shards than pipelines."""
    if input_context is None:
        return paths
    if len(paths) < input_context.num_input_pipelines:
        raise ValueError(f'{folder}: {len(paths)} shards cannot feed {input_context.num_input_pipelines} input '
                         'pipelines; regenerate with more --num-shards')
    return paths[input_context.input_pipeline_id::input_context.num_input_pipelines]


def shard_files(folder, meta):
    """Shard paths in order. When meta.json lists the shards, check each exists with its recorded size.

    TFRecordDataset's DataLossError for a truncated file does not name the file, so the size check
    (one stat per shard) is what names it.
    """
    folder = pathlib.Path(folder)
    if 'shards' not in meta:
        return [str(path) for path in _glob_shards(folder)]
    paths = []
    for name, shard in meta['shards'].items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f'{path}: shard listed in {folder / files.META_NAME} is missing')
        if path.stat().st_size != shard['num_bytes']:
            raise ValueError(f'{path}: {path.stat().st_size} bytes but {files.META_NAME} records {shard["num_bytes"]}; '
                             'the shard is truncated or was rewritten: regenerate with data_gen/gen_tfrecord_data.py')
        paths.append(str(path))
    return paths


def find_corrupt_shard(folder):
    """(path, TensorFlow's message) of the first shard in `folder` failing TFRecord's checksums, or None.

    TFRecordDataset's DataLossError ("corrupted record at N") does not name the file; scanning every shard
    costs a full read of the folder, so callers do it only after such an error.
    """
    for path in shard_files(folder, read_dataset_meta(folder, count_records=False)):
        try:
            for _ in tf.data.TFRecordDataset(path):
                pass
        except tf.errors.DataLossError as err:
            return path, err.message.splitlines()[-1]
    return None


def _tensor_header(shape):
    """The bytes tf.io.serialize_tensor puts before the data of a float32 tensor of `shape`, and the total size.

    A record matches the folder's sample shape exactly when it has this prefix and this size; this is
    checked before parsing so that a wrong record gives an error naming its file, not an opaque one.
    """
    serialized = tf.io.serialize_tensor(tf.zeros(shape, tf.float32)).numpy()
    data_bytes = 4 * int(tf.reduce_prod(shape))
    return serialized[:len(serialized) - data_bytes], len(serialized)


def _make_reader(shape, with_name):
    """path -> dataset of (x float32 (C, T, V, M), label int64[, name string]) parsed from that one shard.

    Parsing inside the per-file dataset keeps the file name at hand for the error message at no
    per-record cost (the message is built once per file, and only printed when the check fails).
    """
    prefix, size = _tensor_header(shape)

    def read(path):
        message = tf.strings.join([path, f': {RECORD_CHECK} {list(shape)} '
                                         '(sample_shape in meta.json) with a label >= 0; expected serialized '
                                         f'size {size} bytes, found (size, label):'])

        def parse(record):
            example = tf.io.parse_single_example(record, FEATURES)
            raw = example['features']
            ok = tf.reduce_all([tf.equal(tf.strings.length(raw), size),
                                tf.equal(tf.strings.substr(raw, 0, len(prefix)), prefix),
                                example['label'] >= 0])
            check = tf.debugging.Assert(ok, [message, tf.strings.length(raw), example['label']])
            with tf.control_dependencies([check]):
                x = tf.io.parse_tensor(raw, tf.float32)
            x = tf.ensure_shape(x, shape)
            return x, example['label'], example['name']

        def parse_named(index, record):
            x, label, name = parse(record)
            # The 2019 port's records have no name: a stable one from the shard and the record's position.
            name = tf.where(tf.equal(name, ''), tf.strings.join([basename(path), tf.strings.as_string(index)], ':'),
                            name)
            return x, label, name

        records = tf.data.TFRecordDataset(path)
        if with_name:
            return records.enumerate().map(parse_named)
        return records.map(lambda record: parse(record)[:2])
    return read


def basename(path):
    """The file name of a path tensor."""
    return tf.strings.regex_replace(path, r'^.*/', '')


def finish_pipeline(samples, replica_batch, training, shuffle_buffer, seed, augment, deterministic):
    """Shuffle samples (training), augment, batch and prefetch; shared by the TFRecord and .npy feeders.

    samples yields (x (C, T, V, M), label[, name]). Pass shuffle_buffer=None when the source is already
    shuffled. replica_batch is this input pipeline's (per replica under tf.distribute). Returns batches
    (x (B, C, T', V, M), label (B,)[, name (B,)]).
    """
    augment = aug.check_augment(augment)
    if training and shuffle_buffer:
        samples = samples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if any(augment.values()):
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)  # (2,) int64
        samples = tf.data.Dataset.zip((samples, seeds)).map(
            lambda sample, op_seed: (aug.apply_augment(sample[0], augment, op_seed),) + tuple(sample[1:]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    batches = samples.batch(replica_batch, drop_remainder=training, num_parallel_calls=tf.data.AUTOTUNE,
                            deterministic=deterministic)
    return batches.prefetch(tf.data.AUTOTUNE)


def make_tfrecord_dataset(folder, global_batch, training, input_context=None, shuffle_buffer=4096, seed=None,
                          augment=None):
    """Batches from the shards in `folder`.

    Args:
        global_batch: the global batch size; under tf.distribute (input_context given) each input pipeline
            batches input_context.get_per_replica_batch_size(global_batch) and reads every
            num_input_pipelines-th shard.
        training: shuffle files and samples, drop the last partial batch, yield (x, label).
            Otherwise keep file order and the remainder and yield (x, label, name) (b'' names in shards that
            have none).
        shuffle_buffer: samples held by the shuffle buffer (training only).
        seed: makes file order, sample order and augmentation reproducible; None draws fresh ones.
        augment: dict of feeders.augment.AUGMENT_KEYS, off by default.
    Shape:
        yields x float32 (B, C, T, V, M), label int64 (B,)[, name string (B,)]
    """
    meta = read_dataset_meta(folder, count_records=False)
    shape = [int(d) for d in meta['sample_shape']]
    paths = pipeline_shards(folder, shard_files(folder, meta), input_context)
    replica_batch = input_context.get_per_replica_batch_size(global_batch) if input_context else global_batch
    deterministic = not training or seed is not None
    shard_names = tf.data.Dataset.from_tensor_slices(paths)
    if training:
        shard_names = shard_names.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    samples = shard_names.interleave(_make_reader(shape, with_name=not training), cycle_length=min(len(paths), 16),
                                     block_length=1,
                               num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return finish_pipeline(samples, replica_batch, training, shuffle_buffer, seed, augment, deterministic)
