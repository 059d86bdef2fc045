"""Input pipelines: TFRecord shards or .npy/.pkl pairs -> batches of (N, C, T, V, M) samples.

Import the modules directly (`from feeders.tfrecord_feeder import make_tfrecord_dataset`): most of them start
TensorFlow, the annotation reader (`feeders.pyskl_annotations`) does not.
"""
