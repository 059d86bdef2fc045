"""Devices, the tf.distribute strategy and the global seeds and precision of a run.

One CPU: the default strategy. Several GPUs in one process: MirroredStrategy over --gpus. Several hosts:
MultiWorkerMirroredStrategy when TF_CONFIG is set. --cpu-replicas N splits the CPU into N logical devices under
MirroredStrategy: the multi-GPU path on a machine without GPUs (the tests use it).
"""
import json
import os

import keras
import tensorflow as tf

from training.errors import UsageError

PRECISION_POLICIES = {'none': 'float32', 'bf16': 'mixed_bfloat16', 'fp16': 'mixed_float16'}


def make_strategy(cfg):
    """The strategy for --gpus / --cpu-replicas / TF_CONFIG. Must run before TensorFlow initialises its devices."""
    gpus = tf.config.list_physical_devices('GPU')
    if cfg.gpus is not None:
        missing = [g for g in cfg.gpus if not 0 <= g < len(gpus)]
        if missing:
            raise UsageError(f'--gpus: GPU {missing[0]} does not exist; visible GPUs: '
                             f'{list(range(len(gpus))) or "none"}')
        gpus = [gpus[g] for g in cfg.gpus]
        tf.config.set_visible_devices(gpus, 'GPU')
    if cfg.cpu_replicas > 1:
        cpu = tf.config.list_physical_devices('CPU')[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cfg.cpu_replicas)
    if 'TF_CONFIG' in os.environ:
        check_tf_config(os.environ['TF_CONFIG'])
        return tf.distribute.MultiWorkerMirroredStrategy()
    if cfg.cpu_replicas > 1:
        return tf.distribute.MirroredStrategy([f'/cpu:{i}' for i in range(cfg.cpu_replicas)])
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([f'/gpu:{i}' for i in range(len(gpus))])
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy('/gpu:0')
    return tf.distribute.get_strategy()


def check_tf_config(text):
    """TF_CONFIG must be JSON {"cluster": {"worker": [...], ...}, "task": {"type": ..., "index": ...}}:
    TensorFlow's own parser fails with a traceback."""
    try:
        config = json.loads(text)
    except ValueError as err:
        raise UsageError(f'TF_CONFIG is not valid JSON ({err})') from None
    cluster = config.get('cluster') if isinstance(config, dict) else None
    task = config.get('task') if isinstance(config, dict) else None
    if not (isinstance(cluster, dict) and cluster and all(isinstance(v, list) for v in cluster.values())):
        raise UsageError('TF_CONFIG needs "cluster": {"worker": ["host:port", ...]}')
    if not (isinstance(task, dict) and task.get('type') in cluster and isinstance(task.get('index'), int)
            and 0 <= task['index'] < len(cluster[task['type']])):
        raise UsageError(f'TF_CONFIG needs "task": {{"type": one of {sorted(cluster)}, "index": a position in its '
                         f'list}}; found {task!r}')


def is_chief(strategy):
    """True on the process that writes checkpoints, logs and scores."""
    resolver = getattr(strategy, 'cluster_resolver', None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == 'chief' or (resolver.task_type == 'worker' and resolver.task_id == 0
                                             and 'chief' not in resolver.cluster_spec().as_dict())


def seed_and_precision(cfg):
    """The global seeds (initial weights, dropout) and the mixed-precision policy."""
    keras.utils.set_random_seed(cfg.seed)  # same initial weights whatever the replica count
    keras.mixed_precision.set_global_policy(PRECISION_POLICIES[cfg.mixed_precision])
