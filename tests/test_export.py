"""export: the SavedModel and TFLite file load back, take any batch and T, and give the Keras model's outputs."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax

from model.stgcn import build_model
from model.weights import load_pretrained, save_weights
from serving import ServingError
from serving import export
from training.config import resolve_config
from tests.trained_scale import randomize

# (batch, T) pairs: both dynamic dimensions change between calls; 17 frames meet the stride-2 blocks with odd T.
CALLS = ((1, 17), (3, 32))


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A small paper model exported over a stale folder: returns (weights path, export folder)."""
    folder = tmp_path_factory.mktemp('export')
    weights = str(folder / 'small.weights.h5')
    save_weights(randomize(build_model('paper', channels=(8, 8, 16)), seed=1), weights, data_mode='raw')
    dest = folder / 'out'
    dest.mkdir()
    (dest / 'stale.txt').write_text('from an earlier export')
    (dest / 'meta.json').write_text('{"format": "stgcn-export"}')  # the marker that makes it replaceable
    assert export.run(resolve_config(['--phase', 'export', '--weights', weights, '--export-dir', str(dest)])) == 0
    return weights, str(dest)


@pytest.fixture(scope='module')
def keras_model(exported):
    return load_pretrained(exported[0])


def inputs(batch, frames, seed):
    return np.random.default_rng(seed).normal(0.0, 1.0, (batch, 3, frames, 25, 2)).astype(np.float32)


def test_saved_model_signature_takes_any_batch_and_length(exported, keras_model):
    signature = tf.saved_model.load(exported[1]).signatures['serving_default']
    [spec] = signature.structured_input_signature[1].values()
    assert spec.shape.as_list() == [None, 3, None, 25, 2] and spec.dtype == tf.float32
    for seed, (batch, frames) in enumerate(CALLS):
        x = inputs(batch, frames, seed)
        out = signature(x=tf.constant(x))
        assert set(out) == {'logits', 'probabilities'}
        want = np.asarray(keras_model(x, training=False))
        assert out['logits'].shape == (batch, 60) and np.abs(want).max() > 0.1
        np.testing.assert_allclose(out['logits'].numpy(), want, rtol=0, atol=1e-5)
        np.testing.assert_allclose(out['probabilities'].numpy(), softmax(want.astype(np.float64), axis=-1),
                                   rtol=0, atol=1e-6)


@pytest.mark.filterwarnings('ignore:.*tf.lite.Interpreter is deprecated')
def test_tflite_matches_the_keras_model(exported, keras_model):
    interpreter = tf.lite.Interpreter(model_path=os.path.join(exported[1], 'model.tflite'))
    runner = interpreter.get_signature_runner('serving_default')
    for seed, (batch, frames) in enumerate(CALLS):
        x = inputs(batch, frames, seed + 10)
        out = runner(x=x)
        want = np.asarray(keras_model(x, training=False))
        np.testing.assert_allclose(out['logits'], want, rtol=0, atol=1e-4)
        np.testing.assert_allclose(out['probabilities'], softmax(want.astype(np.float64), axis=-1), rtol=0, atol=1e-4)


def test_export_replaces_the_folder_and_leaves_no_temporaries(exported):
    weights, dest = exported
    assert sorted(os.listdir(dest)) == ['assets', 'fingerprint.pb', 'meta.json', 'model.tflite', 'saved_model.pb',
                                        'variables']
    assert sorted(os.listdir(os.path.dirname(dest))) == ['out', 'small.weights.h5']
    with open(os.path.join(dest, 'meta.json')) as f:
        meta = json.load(f)
    assert meta.pop('config') == load_pretrained(weights).config.to_dict()
    assert meta == {'format': 'stgcn-export', 'preset': 'paper', 'data_mode': 'raw', 'max_frame': 300,
                    'num_class': 60, 'source': weights}


def test_export_dir_that_is_a_file_is_refused(exported, tmp_path):
    target = tmp_path / 'taken'
    target.write_text('not a folder')
    with pytest.raises(ServingError, match=r'^--export-dir .*taken: exists and is not a folder$'):
        export.run(resolve_config(['--phase', 'export', '--weights', exported[0], '--export-dir', str(target)]))
    assert os.listdir(tmp_path) == ['taken']


def test_export_needs_weights(tmp_path):
    with pytest.raises(ServingError, match='--phase export needs --weights'):
        export.run(resolve_config(['--phase', 'export', '--export-dir', str(tmp_path / 'out')]))
