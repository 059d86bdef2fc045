"""tf.data input pipeline over a {part}_data_joint.npy + {part}_label.pkl pair, for users who skip TFRecords.

The array is opened as a read-only memmap (never loaded whole); an index is shuffled (training), each
sample is read through tf.numpy_function, and the rest of the pipeline is the TFRecord feeder's.
"""
import json
import os
import pickle

import numpy as np
import tensorflow as tf

from feeders import augment as aug
from feeders.tfrecord_feeder import finish_pipeline


def load_npy_pair(data_path, label_path):
    """Memmap of the data and (names, labels), checked against each other.

    Returns:
        data: memmap (N, C, T, V, M), names: list[str], labels: np.int64 (N,)
    """
    for path in (data_path, label_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{path}: file not found')
    data = np.load(data_path, mmap_mode='r')
    if data.ndim != 5:
        raise ValueError(f'{data_path}: expected a 5-d array (N, C, T, V, M), found shape {data.shape}')
    with open(label_path, 'rb') as f:
        names, labels = pickle.load(f)
    if not len(names) == len(labels) == data.shape[0]:
        raise ValueError(f'{label_path}: {len(names)} names and {len(labels)} labels for the '
                         f'{data.shape[0]} samples of {data_path}')
    return data, [str(n) for n in names], np.asarray(labels, dtype=np.int64)


def read_npy_meta(data_path, label_path):
    """The dataset meta of a .npy/.pkl pair, in read_dataset_meta's keys: num_samples and sample_shape from the
    memmap, data_mode and num_class from the meta.json gen_joint_data writes beside it (None without one)."""
    data, names, _ = load_npy_pair(data_path, label_path)
    meta_path = os.path.join(os.path.dirname(os.path.abspath(data_path)), 'meta.json')
    written = {}
    if os.path.isfile(meta_path):
        with open(meta_path) as f:
            written = json.load(f)
    return {'num_samples': len(names), 'sample_shape': list(data.shape[1:]),
            'data_mode': written.get('data_mode'), 'num_class': written.get('num_class')}


def make_npy_dataset(data_path, label_path, batch_size, training, input_context=None, shuffle_buffer=4096,
                     seed=None, augment=None, with_name=None):
    """Batches from a .npy/.pkl pair; the arguments and element structure of make_tfrecord_dataset.

    The shuffle is a complete permutation of the sample index each epoch (an index costs 8 bytes, so
    shuffle_buffer, which bounds the TFRecord feeder's buffer of decoded samples, has nothing to bound
    here). Under tf.distribute each input pipeline reads every num_input_pipelines-th sample.
    Shape:
        yields x float32 (B, C, T, V, M), label int64 (B,)[, name string (B,)]
    """
    del shuffle_buffer  # see the docstring: the index shuffle is always complete
    aug.check_augment(augment)
    data, names, labels = load_npy_pair(data_path, label_path)
    shape = list(data.shape[1:])
    if data.dtype != np.float32:
        raise ValueError(f'{data_path}: expected float32 samples, found {data.dtype}')
    indices = tf.data.Dataset.range(len(labels))
    if input_context is not None:
        indices = indices.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    if training:
        indices = indices.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    deterministic = not training or seed is not None
    names_t, labels_t = tf.constant(names), tf.constant(labels)
    with_name = not training if with_name is None else with_name

    def read(index):
        x = tf.numpy_function(lambda i: np.array(data[i]), [index], tf.float32, stateful=False)  # copy off the memmap
        x = tf.ensure_shape(x, shape)
        return (x, labels_t[index], names_t[index]) if with_name else (x, labels_t[index])

    samples = indices.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return finish_pipeline(samples, batch_size, training, None, seed, augment, deterministic)
