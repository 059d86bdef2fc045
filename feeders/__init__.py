"""Input pipelines: TFRecord shards or .npy/.pkl pairs -> batches of (N, C, T, V, M) samples.

The names below are imported on first use (PEP 562), so that a numpy-only module of this package
(pyskl_annotations) can be imported without starting TensorFlow.
"""
import importlib

_EXPORTS = {
    'distribute': 'feeders.distributed', 'open_source': 'feeders.distributed',
    'make_npy_dataset': 'feeders.npy_feeder', 'read_npy_meta': 'feeders.npy_feeder',
    'make_tfrecord_dataset': 'feeders.tfrecord_feeder', 'read_dataset_meta': 'feeders.tfrecord_feeder',
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(_EXPORTS[name]), name)
