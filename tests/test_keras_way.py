"""The model used the Keras way: model.save / keras.models.load_model, load_pretrained on `.keras` files, and
model.compile + model.fit on the project's TFRecord feeder, on one device and under MirroredStrategy."""
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from feeders.tfrecord_feeder import make_tfrecord_dataset
from model.stgcn import STGCNBlock, build_model
from model.weights import WeightsError, load_pretrained
from tests.conftest import ROOT
from tests.tiny_data import write_tiny_records
from training.optimizer import TorchSGD

SMALL = dict(channels=(4, 8, 8), num_class=3)


def _randomised(model):
    """Non-default values in every variable (moving statistics included), so a lost variable shows."""
    for variable in model.weights:
        variable.assign(np.random.default_rng(len(variable.path)).uniform(0.5, 1.5, variable.shape))
    return model


def _clips(n, frames, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 3, frames, 25, 2)).astype(np.float32)


@pytest.mark.parametrize('preset', ['paper', 'tf2019'])
def test_keras_file_round_trips_config_and_logits(tmp_path, preset):
    model = _randomised(build_model(preset, **SMALL))
    path = str(tmp_path / 'm.keras')
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    x = _clips(2, 12)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_block_serialises_alone():
    model = _randomised(build_model('paper', **SMALL))
    block = model.blocks[4]  # the strided block with a residual conv
    clone = keras.saving.deserialize_keras_object(json.loads(json.dumps(keras.saving.serialize_keras_object(block))))
    assert isinstance(clone, STGCNBlock) and clone.stride == 2 and clone.residual == 'conv'
    clone.set_weights(block.get_weights())
    x = np.random.default_rng(1).standard_normal((2, 12, 25, 4)).astype(np.float32)  # (N*M, T, V, C)
    np.testing.assert_array_equal(np.asarray(clone(x)), np.asarray(block(x)))


def test_load_pretrained_reads_keras_files_with_their_meta(tmp_path):
    model = _randomised(build_model('tf2019', **SMALL))
    model.meta = {'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': 64, 'source': 'elsewhere'}
    path = str(tmp_path / 'with_meta.keras')
    model.save(path)
    loaded = load_pretrained(path, num_class=3)
    assert loaded.meta == {'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': 64, 'source': path}
    x = _clips(1, 16)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))

    bare = build_model('paper', **SMALL)  # built here, never given a meta
    bare_path = str(tmp_path / 'bare.keras')
    bare.save(bare_path)
    assert load_pretrained(bare_path).meta == {'preset': 'paper', 'data_mode': 'unknown', 'max_frame': 300,
                                               'source': bare_path}
    with pytest.raises(WeightsError, match=r'bare.keras: the weights have 3 classes but num_class=60'):
        load_pretrained(bare_path, num_class=60)


def test_load_pretrained_rejects_other_keras_files(tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = str(tmp_path / 'dense.keras')
    other.save(path)
    with pytest.raises(WeightsError, match=r'dense.keras: holds a Sequential, not an STGCN'):
        load_pretrained(path)
    broken = tmp_path / 'broken.keras'
    broken.write_bytes(b'not a zip')
    with pytest.raises(WeightsError, match=r'broken.keras: not a loadable .keras file'):
        load_pretrained(str(broken))


def _compiled(model):
    model.compile(optimizer=TorchSGD(0.05), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])
    return model


def test_fit_on_the_tfrecord_feeder_lowers_the_loss(tmp_path):
    write_tiny_records(tmp_path / 'train', 24, frames=16)
    keras.utils.set_random_seed(0)
    model = _compiled(build_model('tf2019', **SMALL))
    # The training feeder yields each sample once per pass (main.py repeats it): repeat, and count the epoch.
    dataset = make_tfrecord_dataset(str(tmp_path / 'train'), 4, training=True, seed=0).repeat()
    history = model.fit(dataset, epochs=4, steps_per_epoch=24 // 4, shuffle=False, verbose=0).history
    assert len(history['loss']) == 4 and np.all(np.isfinite(history['loss']))
    assert history['loss'][-1] < 0.6 * history['loss'][0], history['loss']


# Logical devices must be configured before TensorFlow initialises, hence a fresh interpreter.
_MIRRORED_FIT = textwrap.dedent('''
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from feeders.tfrecord_feeder import make_tfrecord_dataset
    from model.stgcn import build_model
    from training.optimizer import TorchSGD

    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
    with strategy.scope():
        model = build_model('tf2019', channels=(4, 8, 8), num_class=3)
        model.compile(optimizer=TorchSGD(0.05), metrics=['accuracy'],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    dataset = make_tfrecord_dataset(sys.argv[1], 8, training=True, seed=0).repeat()
    history = model.fit(dataset, epochs=6, steps_per_epoch=48 // 8, shuffle=False, verbose=0)
    print(json.dumps({'replicas': strategy.num_replicas_in_sync, 'loss': history.history['loss']}))
''')


def test_fit_under_mirrored_strategy_lowers_the_loss(tmp_path):
    write_tiny_records(tmp_path / 'train', 48, frames=16)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, '-c', _MIRRORED_FIT, str(tmp_path / 'train')], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['replicas'] == 2
    loss = result['loss']
    assert len(loss) == 6 and np.all(np.isfinite(loss))
    assert loss[-1] < 0.6 * loss[0], loss
