"""The Keras STGCN: exact parameter counts, shapes, the faithfulness constants of both presets, config, dtypes."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

from graphs import Graph
from model.config import PRESETS, STGCNConfig, make_config
from model.stgcn import STGCN, FusedBatchNormalization, SyncBatchNormalization, build_model

SMALL = (8, 16, 32)  # channel widths for tests that do not need the paper's


def clips(n, num_frames, num_node=25, seed=0):
    """Smooth trajectories around per-joint offsets (metres); shape (n, 3, num_frames, num_node, 2)."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[None, None, :, None, None] / 30.0
    offset = rng.normal(0.0, 0.5, (n, 3, 1, num_node, 2))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 3, 1, num_node, 2))
    return (offset + 0.1 * np.sin(2 * np.pi * t + phase)).astype(np.float32)


def count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def batch_norms(model):
    layers = [model.data_bn]
    for block in model.blocks:
        layers += [block.tcn_bn1, block.tcn_bn2] + ([block.residual_bn] if block.residual == 'conv' else [])
    return layers


@pytest.mark.parametrize('preset, overrides, trainable', [
    ('paper', {}, 3_098_832),
    ('tf2019', {}, 3_080_082),
    ('paper', {'layout': 'openpose', 'num_class': 400}, 3_177_140),
])
def test_parameter_counts_are_exact(preset, overrides, trainable):
    model = build_model(preset, **overrides)
    assert count(model.trainable_weights) == trainable
    importance = [v for v in model.trainable_weights if 'edge_importance' in v.path]
    assert count(importance) == (18_750 if preset == 'paper' and not overrides else
                                 0 if preset == 'tf2019' else 10 * 3 * 18 * 18)
    # BN moving statistics are state, not parameters; the graph is a constant, not a variable.
    assert {v.path.rsplit('/', 1)[-1] for v in model.non_trainable_weights} == {'moving_mean', 'moving_variance'}
    assert count(model.non_trainable_weights) == 2 * sum(bn.gamma.shape[0] for bn in batch_norms(model))
    assert isinstance(model.A, np.ndarray) and model.A.shape == (3,) + (model.num_node,) * 2


def test_literal_blocks_match_the_paper_table():
    model = build_model('paper')
    table = [(b.in_channels, b.out_channels, b.stride, b.residual, b.tcn_dropout.rate) for b in model.blocks]
    assert table == [(3, 64, 1, 'none', 0.0)] + [(64, 64, 1, 'identity', 0.5)] * 3 + [
        (64, 128, 2, 'conv', 0.5)] + [(128, 128, 1, 'identity', 0.5)] * 2 + [
        (128, 256, 2, 'conv', 0.5)] + [(256, 256, 1, 'identity', 0.5)] * 2
    assert [b.tcn_dropout.rate for b in build_model('tf2019').blocks] == [0.0] * 10
    assert model.fcn.kernel.shape == (256, 60)
    assert [b.gcn_conv.kernel.shape for b in model.blocks[:2]] == [(3, 192), (64, 192)]


def test_shapes_with_dynamic_batch_and_length():
    model = build_model('paper', channels=SMALL, num_class=7)
    for n, num_frames in [(1, 17), (3, 32), (2, 1)]:
        logits = model(clips(n, num_frames))
        assert logits.shape == (n, 7) and logits.dtype == 'float32'
        lengths = [o.shape[1] for o in model.block_outputs(clips(n, num_frames))]
        quarter = -(-num_frames // 4)
        assert lengths == [num_frames] * 4 + [-(-num_frames // 2)] * 3 + [quarter] * 3
    # One traced graph serves every N and T.
    forward = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec((None, 3, None, 25, 2))])
    assert forward(clips(2, 9)).shape == (2, 7) and forward(clips(1, 20)).shape == (1, 7)
    assert forward.experimental_get_tracing_count() == 1


def _numpy_temporal_conv(x, kernel, bias, stride, pad):
    """Reference 9x1 conv. Shape: x (B, T, V, C), kernel (9, 1, C, O) -> (B, T_out, V, O)."""
    x = np.pad(x, ((0, 0), pad, (0, 0), (0, 0)))
    num_out = (x.shape[1] - kernel.shape[0]) // stride + 1
    out = [sum(x[:, t * stride + k] @ kernel[k, 0] for k in range(kernel.shape[0])) + bias for t in range(num_out)]
    return np.stack(out, axis=1)


@pytest.mark.parametrize('preset, pads', [
    ('paper', {1: (4, 4), 2: (4, 4)}),  # PyTorch padding=4, stride 2 included
    ('tf2019', {1: (4, 4), 2: (3, 4)}),  # Keras "same" on even T
])
@pytest.mark.parametrize('num_frames', [10, 11])
def test_temporal_padding(preset, pads, num_frames):
    model = build_model(preset, channels=SMALL)
    rng = np.random.default_rng(0)
    for block in (model.blocks[1], model.blocks[4]):
        x = rng.normal(size=(2, num_frames, 25, block.out_channels)).astype(np.float32)
        kernel, bias = np.asarray(block.tcn_conv.kernel), rng.normal(size=block.out_channels).astype(np.float32)
        block.tcn_conv.bias.assign(bias)
        padded = block.tcn_pad(x) if block.tcn_pad is not None else x
        got = np.asarray(block.tcn_conv(padded))
        pad = pads[block.stride]
        if preset == 'tf2019' and num_frames % 2 == 1 and block.stride == 2:
            pad = (4, 4)  # "same" pads 8 in total when T is odd
        expected = _numpy_temporal_conv(x, kernel, bias, block.stride, pad)
        assert got.shape == expected.shape == (2, -(-num_frames // block.stride), 25, block.out_channels)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('preset, momentum, epsilon', [('paper', 0.9, 1e-5), ('tf2019', 0.99, 1e-3)])
def test_batch_norm_constants(preset, momentum, epsilon):
    # paper: PyTorch defaults (momentum 0.1 = Keras 0.9, eps 1e-5); tf2019: Keras defaults.
    model = build_model(preset, channels=SMALL)
    norms = batch_norms(model)
    assert len(norms) == 1 + 2 * 10 + 2
    assert {(bn.momentum, bn.epsilon) for bn in norms} == {(momentum, epsilon)}


def test_fused_batch_norm_trains_like_pytorch():
    # PyTorch momentum 0.1 = Keras 0.9; the moving variance takes the unbiased batch variance, as in PyTorch.
    rng = np.random.default_rng(0)
    gamma, beta = rng.uniform(0.5, 1.5, 8).astype(np.float32), rng.uniform(-1, 1, 8).astype(np.float32)
    keras_bn = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
    keras_bn.build((None, None, 5, 8))
    keras_bn.set_weights([gamma, beta, np.zeros(8), np.ones(8)])
    torch_bn = torch.nn.BatchNorm2d(8, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        torch_bn.weight.copy_(torch.from_numpy(gamma))
        torch_bn.bias.copy_(torch.from_numpy(beta))

    def both(x, training):
        torch_bn.train(training)
        expected = torch_bn(torch.from_numpy(x).permute(0, 3, 1, 2)).detach().numpy().transpose(0, 2, 3, 1)
        return np.asarray(keras_bn(x, training=training)), expected

    for step in range(2):
        x = rng.normal(1.0 + step, 2.0, (3, 6, 5, 8)).astype(np.float32)  # (B, T, V, C)
        np.testing.assert_allclose(*both(x, training=True), atol=1e-5)
        np.testing.assert_allclose(np.asarray(keras_bn.moving_mean), torch_bn.running_mean.numpy(), atol=1e-6)
        np.testing.assert_allclose(np.asarray(keras_bn.moving_variance), torch_bn.running_var.numpy(), atol=1e-5)
    # The fused kernel's gradient is the batch-statistics gradient PyTorch computes.
    weight = rng.normal(size=x.shape).astype(np.float32)
    x_keras = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras_bn(x_keras, training=True) * weight)
    grads = tape.gradient(loss, [x_keras, keras_bn.gamma, keras_bn.beta])
    x_torch = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_()
    (torch_bn(x_torch) * torch.from_numpy(weight).permute(0, 3, 1, 2)).sum().backward()
    expected = [x_torch.grad.numpy().transpose(0, 2, 3, 1), torch_bn.weight.grad.numpy(), torch_bn.bias.grad.numpy()]
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-4)
    np.testing.assert_allclose(*both(x, training=False), atol=1e-5)
    keras_bn.trainable = False  # a frozen BN normalises with, and keeps, its moving statistics
    frozen = np.asarray(keras_bn.moving_mean)
    np.testing.assert_allclose(np.asarray(keras_bn(x, training=True)), both(x, training=False)[0], atol=1e-6)
    np.testing.assert_array_equal(np.asarray(keras_bn.moving_mean), frozen)


def test_checkpoint_holds_every_block(tmp_path):
    model = build_model('paper', channels=SMALL)
    model(clips(2, 8), training=True)  # moves the BN statistics away from their initial values
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / 'ckpt'))
    restored = build_model('paper', channels=SMALL)
    tf.train.Checkpoint(model=restored).read(prefix).assert_existing_objects_matched()
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)


def test_presets_are_the_documented_models():
    assert PRESETS['paper'] == STGCNConfig(
        num_class=60, in_channels=3, num_person=2, layout='ntu-rgb+d', partition='spatial', edge_importance=True,
        dropout=0.5, bn_momentum=0.9, bn_epsilon=1e-5, temporal_padding='symmetric', channels=(64, 128, 256),
        init='official')
    assert PRESETS['tf2019'] == STGCNConfig(
        num_class=60, in_channels=3, num_person=2, layout='ntu-rgb+d', partition='agcn', edge_importance=False,
        dropout=0.0, bn_momentum=0.99, bn_epsilon=1e-3, temporal_padding='same', channels=(64, 128, 256),
        init='keras')
    np.testing.assert_array_equal(build_model('tf2019', channels=SMALL).A, Graph('ntu-rgb+d', 'agcn').A)


def test_initialisation():
    paper = build_model('paper')
    kernels = np.concatenate([np.ravel(b.tcn_conv.kernel) for b in paper.blocks])
    assert abs(kernels.std() - 0.02) < 1e-3 and abs(kernels.mean()) < 1e-3  # official N(0, 0.02)
    gammas = np.concatenate([np.ravel(bn.gamma) for bn in batch_norms(paper)])
    assert abs(gammas.mean() - 1.0) < 2e-3 and abs(gammas.std() - 0.02) < 2e-3  # official N(1, 0.02)
    assert all(np.all(np.asarray(b.edge_importance) == 1.0) for b in paper.blocks)
    assert all(np.all(np.asarray(b.gcn_conv.bias) == 0.0) for b in paper.blocks)
    keras_init = build_model('tf2019')
    block9 = np.asarray(keras_init.blocks[9].tcn_conv.kernel)  # glorot_uniform: limit sqrt(6 / (9*256 + 9*256))
    assert np.abs(block9).max() <= np.sqrt(6 / (2 * 9 * 256)) and block9.std() > 0.02
    assert all(np.all(np.asarray(bn.gamma) == 1.0) for bn in batch_norms(keras_init))


def test_config_round_trips():
    config = make_config('tf2019', num_class=120, channels=[16, 32, 64])
    assert config.channels == (16, 32, 64)
    assert STGCNConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config

    model = build_model('paper', channels=SMALL, num_class=5)
    for variable in model.weights:  # non-default values everywhere, moving statistics included
        variable.assign(np.random.default_rng(len(variable.path)).uniform(0.5, 1.5, variable.shape))
    clone = STGCN.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.config == model.config
    clone.build((None, 3, None, 25, 2))
    clone.set_weights(model.get_weights())
    x = clips(2, 12)
    np.testing.assert_array_equal(np.asarray(clone(x)), np.asarray(model(x)))


@pytest.mark.parametrize('call, message', [
    (lambda: make_config('papper'), r"unknown preset 'papper'; valid: paper, tf2019"),
    (lambda: make_config('paper', layout='kinect-v1'),
     r"unknown layout 'kinect-v1'; valid: ntu-rgb\+d, openpose, ntu-rgb\+d-pyskl, coco"),
    (lambda: make_config('paper', partition='spacial'), r"valid: uniform, distance, spatial, agcn"),
    (lambda: make_config('paper', temporal_padding='causal'), r"valid: symmetric, same"),
    (lambda: make_config('paper', dropuot=0.1), r"unknown STGCNConfig key\(s\) \['dropuot'\]; valid keys: .*dropout"),
    (lambda: STGCNConfig.from_dict({'num_classes': 60}), r"\['num_classes'\]; valid keys: \['num_class'"),
    (lambda: make_config('paper', channels=(64, 128)), r'channels must be three positive ints'),
    (lambda: make_config('paper', num_class=0), r'num_class must be a positive int'),
])
def test_bad_config_names_the_valid_choices(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_dropout_is_active_only_in_training():
    model = build_model('paper', channels=SMALL)
    x = clips(2, 8)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(model(x)))
    assert not np.allclose(np.asarray(model(x, training=True)), np.asarray(model(x, training=True)))


def test_bfloat16_policy_computes_in_bf16_and_returns_float32_logits():
    reference = build_model('paper', channels=SMALL, num_class=10)
    reference.fcn.kernel.assign(np.random.default_rng(0).normal(0.0, 1.0, reference.fcn.kernel.shape))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy('mixed_bfloat16')
    try:
        model = build_model('paper', channels=SMALL, num_class=10)
    finally:
        keras.config.set_dtype_policy(previous)
    model.set_weights(reference.get_weights())
    x = clips(2, 16)
    assert model.blocks[3].compute_dtype == 'bfloat16'
    assert all(o.dtype == 'bfloat16' for o in model.block_outputs(x))
    assert all(v.dtype == 'float32' for v in model.weights)
    logits, expected = np.asarray(model(x)), np.asarray(reference(x))
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, expected, rtol=0, atol=0.05 * np.abs(expected).max())
    assert keras.config.dtype_policy().name == previous.name


def test_sync_bn_uses_synchronized_keras_batch_norm():
    model = build_model('tf2019', channels=(4, 8, 8), sync_bn=True)
    norms = [model.data_bn] + [layer for block in model.blocks for layer in (block.tcn_bn1, block.tcn_bn2)]
    assert all(type(bn) is SyncBatchNormalization for bn in norms)
    plain = build_model('tf2019', channels=(4, 8, 8))
    assert type(plain.data_bn) is FusedBatchNormalization and type(plain.blocks[0].tcn_bn1) is FusedBatchNormalization
