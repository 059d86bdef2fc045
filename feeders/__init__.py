"""Input pipelines: TFRecord shards or .npy/.pkl pairs -> batches of (N, C, T, V, M) samples."""
from feeders.distributed import distribute, open_source
from feeders.npy_feeder import make_npy_dataset, read_npy_meta
from feeders.tfrecord_feeder import make_tfrecord_dataset, read_dataset_meta

__all__ = ['distribute', 'make_npy_dataset', 'make_tfrecord_dataset', 'open_source', 'read_dataset_meta',
           'read_npy_meta']
