"""A training or test set as main.py names it (a folder of TFRecord shards, a .npy with its label pickle, a
split of a PYSKL annotation pickle, or a folder of such a split's shards), and its distributed dataset: each
input pipeline reads its own shard of files (TFRecords, PYSKL shards) or of samples (.npy, PYSKL pickles).
"""
import os

import tensorflow as tf

from feeders.npy_feeder import make_npy_dataset, read_npy_meta
from feeders.pyskl_feeder import make_pyskl_dataset, read_pyskl_meta
from feeders.pyskl_records import is_shard_folder
from feeders.tfrecord_feeder import make_tfrecord_dataset, read_dataset_meta, shard_files


def open_source(path, label_path=None, split=None, clip_len=100, feats=('j',), layout=None):
    """The meta of the data at `path` (read_dataset_meta's keys) plus 'source': (kind, path, label_path or split).

    `path` is a folder of TFRecord shards, a {part}_data_{stream}.npy (labels: `label_path`, by default the
    {part}_label.pkl beside it), a PYSKL annotation pickle (`split` of it, sampled to `clip_len` frames, the
    feature streams `feats`; `layout` the run's, None for PYSKL's by V), or a folder of a PYSKL split's shards
    (data_gen/gen_tfrecord_data.py --ann-file; `split` None or the one it holds; the rest as for the pickle).
    Raises ValueError or FileNotFoundError whose message names the bad file.
    """
    if path.endswith('.pkl') or is_shard_folder(path):
        if split is None and path.endswith('.pkl'):
            raise ValueError('a PYSKL annotation pickle needs its split (--train-split / --test-split, YAML '
                             '*_feeder_args.split), e.g. xsub_train')
        meta = read_pyskl_meta(path, split, clip_len, tuple(feats), layout=layout)
        return dict(meta, feats=tuple(feats), source=('pyskl', path, split))
    if path.endswith('.npy'):
        return dict(read_npy_meta(path, label_path), source=('npy', path, label_path))
    if not os.path.isdir(path):
        raise FileNotFoundError('no such folder (give a folder of TFRecord shards or a .npy file)')
    meta = read_dataset_meta(path)
    shard_files(path, meta)  # a missing or truncated shard is named now, not when the pipeline starts
    return dict(meta, source=('tfrecord', path, None))


def distribute(strategy, meta, global_batch, training, seed=None, augment=None, skip_steps=0, num_clips=1):
    """The distributed dataset of open_source's `meta`: (x, label) batches when training (repeated: an epoch is
    counted in steps), (x, label, name) once over the set otherwise. The feeders take the global batch and the
    InputContext and batch ctx.get_per_replica_batch_size() of it per replica. `skip_steps` global steps are
    skipped (a resumed epoch): each takes one batch per replica that the pipeline feeds. PYSKL test sets yield
    x with a clip axis, (B, num_clips, C, T, V, M)."""
    kind, path, label_path = meta['source']

    def dataset_fn(ctx):
        if kind == 'pyskl':
            ds = make_pyskl_dataset(path, label_path, global_batch, training, input_context=ctx, seed=seed,
                                    clip_len=meta['max_frame'], num_clips=1 if training else num_clips,
                                    feats=meta['feats'], layout=meta['layout'])
        else:
            kwargs = dict(training=training, input_context=ctx, seed=seed, augment=augment if training else None)
            ds = (make_npy_dataset(path, label_path, global_batch, **kwargs) if kind == 'npy'
                  else make_tfrecord_dataset(path, global_batch, **kwargs))
        if not training:
            return ds
        replicas_per_pipeline = ctx.num_replicas_in_sync // ctx.num_input_pipelines
        return ds.repeat().skip(skip_steps * replicas_per_pipeline)

    # Evaluation yields sample names (strings): keep batches on the host, strategy.run copies x to devices.
    options = tf.distribute.InputOptions(experimental_fetch_to_device=training)
    return strategy.distribute_datasets_from_function(dataset_fn, options)
