"""tf.data input pipeline over a {part}_data_joint.npy + {part}_label.pkl pair, for users who skip TFRecords.

The array is opened as a read-only memmap (never loaded whole); an index is shuffled (training), each
sample is read through tf.numpy_function, and the rest of the pipeline is the TFRecord feeder's.
"""
import numpy as np
import tensorflow as tf

from feeders.tfrecord_feeder import finish_pipeline
from storage import files


def read_npy_meta(data_path, label_path=None):
    """The dataset meta of a .npy/.pkl pair, in read_dataset_meta's keys: num_samples and sample_shape from the
    memmap, data_mode, num_class and max_frame from the meta.json gen_joint_data writes beside it (None without
    one). Raises storage.files.StorageError naming the bad file."""
    data, names, _ = files.load_npy_pair(data_path, label_path)
    if data.dtype != np.float32:
        raise ValueError(f'{data_path}: expected float32 samples, found {data.dtype} (convert with '
                         'data_gen/gen_tfrecord_data.py, which casts and checks them)')
    written = files.read_meta(data_path)
    return {'num_samples': len(names), 'sample_shape': list(data.shape[1:]), 'data_mode': written.get('data_mode'),
            'num_class': written.get('num_class'), 'max_frame': int(data.shape[2])}


def make_npy_dataset(data_path, label_path, global_batch, training, input_context=None, shuffle_buffer=4096,
                     seed=None, augment=None):
    """Batches from a .npy/.pkl pair; the arguments and element structure of make_tfrecord_dataset.

    The shuffle is a complete permutation of the sample index each epoch (an index costs 8 bytes, so
    shuffle_buffer, which bounds the TFRecord feeder's buffer of decoded samples, has nothing to bound
    here). Under tf.distribute each input pipeline reads every num_input_pipelines-th sample.
    Shape:
        yields x float32 (B, C, T, V, M), label int64 (B,)[, name string (B,)]
    """
    del shuffle_buffer  # see the docstring: the index shuffle is always complete
    data, names, labels = files.load_npy_pair(data_path, label_path)
    shape = list(data.shape[1:])
    if data.dtype != np.float32:
        raise ValueError(f'{data_path}: expected float32 samples, found {data.dtype}')
    indices = tf.data.Dataset.range(len(labels))
    if input_context is not None:
        indices = indices.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    replica_batch = input_context.get_per_replica_batch_size(global_batch) if input_context else global_batch
    if training:
        indices = indices.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    deterministic = not training or seed is not None
    names_t, labels_t = tf.constant(names), tf.constant(labels)

    def read(index):
        x = tf.numpy_function(lambda i: np.array(data[i]), [index], tf.float32, stateful=False)  # copy off the memmap
        x = tf.ensure_shape(x, shape)
        return (x, labels_t[index]) if training else (x, labels_t[index], names_t[index])

    samples = indices.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return finish_pipeline(samples, replica_batch, training, None, seed, augment, deterministic)
