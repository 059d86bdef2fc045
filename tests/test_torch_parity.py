"""Acceptance: official-layout PyTorch weights load into the Keras STGCN and give the same logits at T = 300."""
import sys

import numpy as np
import pytest
import torch

from model import convert_torch
from model.convert_torch import load_torch_weights, state_dict_to_model
from model.errors import WeightsError
from tests.torch_reference import Model as TorchSTGCN

T_FULL = 300  # the NTU clip length the released weights were trained on
TOLERANCE = 1e-4
PARITY_BLOCK = 7  # stride 2 with a conv residual: the most rewiring of any block


def skeleton_clips(n, num_frames, persons, seed):
    """Smooth joint trajectories in metres, shaped like NTU raw camera coordinates.

    Each joint sits at a per-joint offset around a body ~3 m in front of the camera and moves along sums of
    slow sinusoids; persons beyond `persons` are zero, as the NTU loader pads a missing second body.

    Shape: (n, 3, num_frames, 25, 2) float32.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames, dtype=np.float64)[None, None, :, None, None] / 30.0  # seconds at 30 fps
    body = np.array([0.0, 0.0, 3.0])[None, :, None, None, None] + rng.uniform(-0.4, 0.4, (n, 3, 1, 1, 2))
    joints = rng.normal(0.0, 0.3, (n, 3, 1, 25, 2))
    x = body + joints
    for _ in range(3):
        amplitude = rng.uniform(0.01, 0.15, (n, 3, 1, 25, 2))
        frequency = rng.uniform(0.1, 2.0, (n, 1, 1, 1, 2))  # Hz, shared by a person's joints
        phase = rng.uniform(0.0, 2 * np.pi, (n, 3, 1, 25, 2))
        x = x + amplitude * np.sin(2 * np.pi * frequency * t + phase)
    x[..., persons:] = 0.0
    return x.astype(np.float32)


@pytest.fixture(scope='module')
def torch_model():
    """The reference with non-trivial weights and BN statistics calibrated on real forward passes."""
    torch.manual_seed(0)
    model = TorchSTGCN(num_class=60)
    with torch.no_grad():
        for importance in model.edge_importance:
            importance.uniform_(0.5, 1.5)
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.momentum = None  # cumulative average over the calibration batches
        model.train()
        for seed in range(3):
            model(torch.from_numpy(skeleton_clips(4, 64, persons=1 + seed % 2, seed=100 + seed)))
    return model.eval()


@pytest.fixture(scope='module')
def weight_files(torch_model, tmp_path_factory):
    """The state_dict in the zip format (bare) and the legacy format (wrapped, 'module.' prefixed)."""
    folder = tmp_path_factory.mktemp('torch_weights')
    state = torch_model.state_dict()
    zip_path, legacy_path = folder / 'st_gcn.zip.pth', folder / 'st_gcn.legacy.pt'
    torch.save(state, zip_path)
    wrapped = {'state_dict': {f'module.{k}': v for k, v in state.items()}}
    torch.save(wrapped, legacy_path, _use_new_zipfile_serialization=False)
    return zip_path, legacy_path


def test_logits_and_block_output_match_torch_at_full_length(torch_model, weight_files):
    # Sample 0 has one person (the second zero-padded), sample 1 has two.
    x = np.concatenate([skeleton_clips(1, T_FULL, persons=1, seed=1), skeleton_clips(1, T_FULL, persons=2, seed=2)])
    with torch.no_grad():
        torch_outputs = [o.numpy() for o in torch_model.forward_blocks(torch.from_numpy(x))]
    torch_logits = torch_outputs[-1]
    assert torch_logits.std(axis=0).max() > 0.05, 'the logits should depend on the input'

    for path in weight_files:
        model = load_torch_weights(path)
        assert model.meta == {'preset': 'paper', 'data_mode': 'raw', 'max_frame': 300, 'source': str(path)}
        logits = np.asarray(model(x, training=False))
        assert logits.dtype == np.float32 and logits.shape == (2, 60)
        np.testing.assert_allclose(logits, torch_logits, rtol=0, atol=TOLERANCE, err_msg=str(path))

    block = np.asarray(model.block_outputs(x)[PARITY_BLOCK])  # (N*M, T, V, C)
    expected = torch_outputs[PARITY_BLOCK].transpose(0, 2, 3, 1)  # (N*M, C, T, V) -> (N*M, T, V, C)
    assert block.shape == expected.shape == (4, 75, 25, 256)
    np.testing.assert_allclose(block, expected, rtol=0, atol=TOLERANCE)


@pytest.fixture
def state(torch_model):
    return {k: v.clone() for k, v in torch_model.state_dict().items()}


def _save(obj, tmp_path):
    path = tmp_path / 'weights.pth'
    torch.save(obj, path)
    return path


def test_num_class_mismatch_names_both_numbers(state, tmp_path):
    with pytest.raises(WeightsError, match=r'60 classes but num_class=120'):
        load_torch_weights(_save(state, tmp_path), num_class=120)


def test_wrong_shape_names_key_and_both_shapes(state, tmp_path):
    state['st_gcn_networks.3.tcn.2.weight'] = torch.zeros(64, 64, 5, 1)
    with pytest.raises(WeightsError, match=r'st_gcn_networks\.3\.tcn\.2\.weight has shape \(64, 64, 5, 1\).*'
                                           r'expects \(9, 1, 64, 64\) \(as PyTorch \(64, 64, 9, 1\)\)'):
        load_torch_weights(_save(state, tmp_path))


def test_missing_keys_are_listed(state, tmp_path):
    del state['st_gcn_networks.5.tcn.3.running_mean']
    del state['edge_importance.9']
    with pytest.raises(WeightsError, match=r"2 expected key\(s\) missing.*'edge_importance\.9'.*"
                                           r"'st_gcn_networks\.5\.tcn\.3\.running_mean'"):
        load_torch_weights(_save(state, tmp_path))


def test_unexpected_keys_are_an_error(state, tmp_path):
    state['st_gcn_networks.2.residual.0.weight'] = torch.zeros(64, 64, 1, 1)
    with pytest.raises(WeightsError, match=r"not in the official model.*st_gcn_networks\.2\.residual\.0\.weight"):
        load_torch_weights(_save(state, tmp_path))


def test_num_batches_tracked_is_optional(state):
    # Files written by torch < 0.4.1 (the oldest released ones) have no num_batches_tracked.
    state = {k: v for k, v in state.items() if not k.endswith('num_batches_tracked')}
    model = state_dict_to_model(state, source='old.pt')
    assert model.meta['source'] == 'old.pt'
    np.testing.assert_array_equal(np.asarray(model.fcn.bias), state['fcn.bias'].numpy())


def test_graph_must_match(state, tmp_path):
    state['A'] = state['A'] * 1.5
    with pytest.raises(WeightsError, match=r'graph A differs from the ntu-rgb\+d/spatial graph'):
        load_torch_weights(_save(state, tmp_path))


@pytest.mark.parametrize('obj', [[torch.zeros(3)], {'epoch': 3, 'arch': 'st_gcn'}, torch.zeros(2, 2), {}])
def test_not_a_state_dict(obj, tmp_path):
    with pytest.raises(WeightsError, match=r'weights\.pth: holds a \w+, not a state_dict of tensors'):
        load_torch_weights(_save(obj, tmp_path))


def test_unreadable_file_and_missing_file(tmp_path):
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'certainly not a pickle')
    with pytest.raises(WeightsError, match=r'garbage\.pth: not a PyTorch state_dict'):
        load_torch_weights(garbage)
    with pytest.raises(WeightsError, match=r'absent\.pth: no such file'):
        load_torch_weights(tmp_path / 'absent.pth')


def test_missing_torch_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'torch', None)  # makes `import torch` raise ImportError
    with pytest.raises(WeightsError, match=r'pip install -r requirements-torch\.txt'):
        convert_torch.load_torch_weights(tmp_path / 'weights.pth')


def test_openpose_layout_and_classes_come_from_the_shapes():
    torch.manual_seed(1)
    reference = TorchSTGCN(num_class=400, layout='openpose').eval()
    model = state_dict_to_model(reference.state_dict())
    assert (model.config.layout, model.config.num_class, model.config.partition) == ('openpose', 400, 'spatial')
    x = skeleton_clips(1, 16, persons=2, seed=5)[:, :, :, :18]
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=0, atol=TOLERANCE)
