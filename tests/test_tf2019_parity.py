"""Acceptance: a 2019 TF port checkpoint loads into the Keras model and gives the port's logits (docs/reference.md section 5).

The port is tests/tf2019_reference.py (raw TF ops, channels_first, Keras "same" padding); its checkpoint is
written with tf.train.Checkpoint(model=, optimizer=) like the Dropbox files. T = 300 as in NTU RGB+D, where a
stride-2 "same" temporal conv pads (3, 4): a symmetric (4, 4) padding would fail this test.
"""
import numpy as np
import pytest
import tensorflow as tf

from model.config import make_config
from model.weights import load_pretrained
from tests.tf2019_reference import ReferenceSGD, TF2019Reference

T = 300
TOLERANCE = 1e-4
VALUE = '/.ATTRIBUTES/VARIABLE_VALUE'
# docs/reference.md section 5: the port's blocks as (C_in, C_out); blocks 4 and 7 hold the conv residual.
CHANNELS = [(3, 64), (64, 64), (64, 64), (64, 64), (64, 128), (128, 128), (128, 128), (128, 256), (256, 256),
            (256, 256)]
CONV_RESIDUAL = (4, 7)
BN = ('gamma', 'beta', 'moving_mean', 'moving_variance')


def structured_input(seed, persons, t=T):
    """Smooth joint trajectories at metre scale, centred like 2s-AGCN's pre-normalisation.

    persons[i] bodies are present in sample i; absent bodies stay zero as on disk.
    Shape: (len(persons), 3, t, 25, 2) float32.
    """
    rng = np.random.default_rng(seed)
    x = np.zeros((len(persons), 3, t, 25, 2), np.float32)
    seconds = np.arange(t)[None, :, None] / 30.0  # (1, T, 1) at NTU's 30 fps
    for i, count in enumerate(persons):
        for m in range(count):
            rest = rng.uniform(-0.4, 0.4, (3, 1, 25)) + np.array([0.8 * m, 0.0, 0.0])[:, None, None]
            amplitude = rng.uniform(0.02, 0.3, (3, 1, 25))
            frequency = rng.uniform(0.2, 1.5, (3, 1, 25))
            phase = rng.uniform(0.0, 2 * np.pi, (3, 1, 25))
            x[i, :, :, :, m] = rest + amplitude * np.sin(2 * np.pi * frequency * seconds + phase)
        # Centre on person 0's middle of spine (joint index 1), frame by frame, as the pre-normalisation does.
        x[i, :, :, :, :count] -= x[i, :, :, 1:2, 0:1]
    return x


@pytest.fixture(scope='module')
def port(tmp_path_factory):
    """The reference port with calibrated BN statistics, its checkpoint folder and ckpt-N prefix."""
    reference = TF2019Reference(num_class=60, seed=0)
    reference.calibrate(structured_input(seed=10, persons=(2, 1)))
    folder = tmp_path_factory.mktemp('tf2019')
    prefix = tf.train.Checkpoint(model=reference, optimizer=ReferenceSGD(reference)).save(str(folder / 'ckpt'))
    return reference, folder, prefix


@pytest.fixture(scope='module')
def loaded(port):
    return load_pretrained(port[2])


def expected_model_keys():
    """docs/reference.md section 5: the variable keys -> shapes, for 60 classes."""
    keys = {'model/A': (3, 25, 25), 'model/logits/kernel': (1, 1, 256, 60), 'model/logits/bias': (60,)}
    keys.update({f'model/data_bn/{name}': (75,) for name in BN})
    for i, (c_in, c_out) in enumerate(CHANNELS):
        block = f'model/STGCN_layers/{i}'
        keys[f'{block}/sgcn/conv/kernel'] = (1, 1, c_in, 3 * c_out)
        keys[f'{block}/sgcn/conv/bias'] = (3 * c_out,)
        keys.update({f'{block}/tgcn/layer_with_weights-{k}/{name}': (c_out,) for k in (0, 2) for name in BN})
        keys[f'{block}/tgcn/layer_with_weights-1/kernel'] = (9, 1, c_out, c_out)
        keys[f'{block}/tgcn/layer_with_weights-1/bias'] = (c_out,)
        if i in CONV_RESIDUAL:
            keys[f'{block}/residual/layer_with_weights-0/kernel'] = (1, 1, c_in, c_out)
            keys[f'{block}/residual/layer_with_weights-0/bias'] = (c_out,)
            keys.update({f'{block}/residual/layer_with_weights-1/{name}': (c_out,) for name in BN})
    return keys


def test_reference_checkpoint_has_the_keys_of_reference_section_5(port):
    _, folder, prefix = port
    assert prefix == str(folder / 'ckpt-1')
    shapes = dict(tf.train.list_variables(prefix))
    slots = {k for k in shapes if '/.OPTIMIZER_SLOT/' in k}
    model = {k[:-len(VALUE)]: tuple(s) for k, s in shapes.items() if k.startswith('model/') and k not in slots}
    assert model == expected_model_keys()
    # Keras-2 SGD state: hyper-parameters under optimizer/, one momentum slot per trainable variable.
    assert {k for k in shapes if k.startswith('optimizer/')} == {
        f'optimizer/{name}{VALUE}' for name in ('iter', 'decay', 'learning_rate', 'momentum')}
    trainable = {k for k in model if not k.endswith(('moving_mean', 'moving_variance')) and k != 'model/A'}
    assert slots == {f'{k}/.OPTIMIZER_SLOT/optimizer/momentum{VALUE}' for k in trainable}
    assert set(shapes) == {'_CHECKPOINTABLE_OBJECT_GRAPH', f'save_counter{VALUE}'} | slots | {
        k + VALUE for k in model} | {k for k in shapes if k.startswith('optimizer/')}


def test_logits_match_the_port_at_T300_with_one_and_two_persons(port, loaded):
    reference = port[0]
    x = structured_input(seed=20, persons=(1, 2))
    expected = reference(x).numpy()
    # The weights are non-trivial: the logits depend on the input.
    assert np.abs(expected[0] - expected[1]).max() > 0.1
    assert expected.std() > 0.1
    logits = loaded(x, training=False).numpy()
    assert logits.shape == (2, 60)
    assert np.abs(logits - expected).max() <= TOLERANCE


def test_block4_output_matches_the_port(port, loaded):
    """Block 4 is the first stride-2 block: "same" padding (3, 4) and the conv residual."""
    reference = port[0]
    x = structured_input(seed=21, persons=(2, 1))
    expected = reference.block_outputs(x)[4].numpy()  # (N*M, C, T', V)
    expected = np.transpose(expected, (0, 2, 3, 1))  # (N*M, T', V, C)
    output = np.asarray(loaded.block_outputs(x, training=False)[4])
    assert output.shape == expected.shape == (4, 150, 25, 128)
    assert np.abs(output - expected).max() <= TOLERANCE * max(1.0, np.abs(expected).max())


def test_directory_form_loads_the_latest_checkpoint_with_the_same_weights(port, loaded):
    _, folder, prefix = port
    model = load_pretrained(folder)
    assert model.meta == {'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': 300, 'source': prefix}
    assert loaded.meta == model.meta
    assert model.config == make_config('tf2019', num_class=60)
    assert len(model.weights) == len(loaded.weights)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
