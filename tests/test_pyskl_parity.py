"""Acceptance: PYSKL / mmaction2 1.x ST-GCN checkpoints load into the Keras STGCN and give the same logits."""
import sys
import types

import keras
import numpy as np
import pytest
import torch

from model.convert_pyskl import is_pyskl_checkpoint, load_pyskl_weights, pyskl_state_dict_to_model
from model.errors import WeightsError
from model.stgcn import build_model
from model.weights import load_pretrained, save_weights
from tests.pyskl_reference import Recognizer

TOLERANCE = 1e-4
PARITY_BLOCK = 7  # stride 2 with a conv residual: the most rewiring of any block
T_CLIP = 100  # PYSKL's clip_len
T_ODD = 37
NUM_NODE = {'ntu-rgb+d-pyskl': 25, 'coco': 17}
DATA_MODE = {'ntu-rgb+d-pyskl': 'pyskl3d', 'coco': 'pyskl2d'}


def clips(n, num_frames, layout, persons, seed):
    """Smooth joint trajectories around the origin, as PreNormalize3D / PreNormalize2D leave them; for 2D the
    third channel is a keypoint score in [0, 1]. Persons beyond `persons` are zero, as FormatGCNInput pads.

    Shape: (n, 3, num_frames, V, 2) float32, the stored (N, C, T, V, M) layout.
    """
    rng = np.random.default_rng(seed)
    V = NUM_NODE[layout]
    t = np.arange(num_frames, dtype=np.float64)[None, None, :, None, None] / 30.0
    x = rng.normal(0.0, 0.3, (n, 3, 1, V, 2)) + rng.uniform(-0.2, 0.2, (n, 3, 1, 1, 2))
    for _ in range(3):
        amplitude = rng.uniform(0.01, 0.15, (n, 3, 1, V, 2))
        frequency = rng.uniform(0.1, 2.0, (n, 1, 1, 1, 2))
        phase = rng.uniform(0.0, 2 * np.pi, (n, 3, 1, V, 2))
        x = x + amplitude * np.sin(2 * np.pi * frequency * t + phase)
    if layout == 'coco':
        x[:, 2] = rng.uniform(0.3, 1.0, x[:, 2].shape)
    x[..., persons:] = 0.0
    return x.astype(np.float32)


def to_pyskl(x):
    """(N, C, T, V, M) -> PYSKL's (N, M, T, V, C) tensor."""
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 4, 2, 3, 1)))


def calibrated_reference(layout, seed):
    """The reference with non-trivial edge importance, BN affine terms and statistics from real forward passes."""
    torch.manual_seed(seed)
    model = Recognizer(layout)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith('.PA'):
                parameter.uniform_(0.5, 1.5)
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.momentum = None  # cumulative average over the calibration batches
        model.cls_head.fc_cls.weight.normal_(0.0, 0.1)  # logits well above the tolerance
        model.train()
        for i in range(3):
            model(to_pyskl(clips(4, 32, layout, persons=1 + i % 2, seed=100 + i)))
    return model.eval()


def as_mmaction2(state):
    """PYSKL's keys with mmaction2 1.x's head name."""
    return {k.replace('cls_head.fc_cls.', 'cls_head.fc.'): v for k, v in state.items()}


def checkpoint(state):
    """What PYSKL's mmcv runner saves: meta, state_dict, optimizer."""
    return {'meta': {'epoch': 16, 'iter': 5000, 'mmcv_version': '1.5.0'}, 'state_dict': state,
            'optimizer': {'state': {}, 'param_groups': [{'lr': 0.0, 'momentum': 0.9, 'params': [0, 1]}]}}


@pytest.fixture(scope='module', params=['ntu-rgb+d-pyskl', 'coco'])
def reference(request):
    return calibrated_reference(request.param, seed=len(request.param))


@pytest.mark.parametrize('style', ['pyskl', 'mmaction2'])
def test_logits_and_block_output_match_the_reference(reference, style, tmp_path):
    layout = 'coco' if reference.backbone.data_bn.num_features == 51 else 'ntu-rgb+d-pyskl'
    state = reference.state_dict()
    if style == 'mmaction2':  # the reference written with mmaction2's head name has exactly these keys
        mmaction2 = Recognizer(layout, fc_name='fc')
        mmaction2.load_state_dict(as_mmaction2(state), strict=True)
        state = mmaction2.state_dict()
        assert 'cls_head.fc.weight' in state and 'cls_head.fc_cls.weight' not in state
    path = tmp_path / f'stgcn_{style}.pth'
    torch.save(checkpoint(state), path)
    assert is_pyskl_checkpoint(path)
    model = load_pretrained(path)
    assert model.meta == {'preset': 'pyskl', 'data_mode': DATA_MODE[layout], 'max_frame': 100, 'layout': layout,
                          'source': str(path)}
    assert (model.config.layout, model.config.partition, model.config.num_class) == (layout, 'stgcn_spatial', 60)

    for num_frames in (T_CLIP, T_ODD):
        # Sample 0 has one person (the second zero-padded), sample 1 has two.
        x = np.concatenate([clips(1, num_frames, layout, persons=1, seed=1),
                            clips(1, num_frames, layout, persons=2, seed=2)])
        with torch.no_grad():
            expected = [o.numpy() for o in reference.forward_blocks(to_pyskl(x))]
        assert expected[-1].std(axis=0).max() > 0.05, 'the logits should depend on the input'
        logits = np.asarray(model(x, training=False))
        assert logits.dtype == np.float32 and logits.shape == (2, 60)
        np.testing.assert_allclose(logits, expected[-1], rtol=0, atol=TOLERANCE, err_msg=f'T={num_frames}')

    block = np.asarray(model.block_outputs(x)[PARITY_BLOCK])  # (N*M, T, V, C), T = T_ODD
    target = expected[PARITY_BLOCK].transpose(0, 2, 3, 1)  # (N*M, C, T, V) -> (N*M, T, V, C)
    assert block.shape == target.shape == (4, 10, NUM_NODE[layout], 256)
    np.testing.assert_allclose(block, target, rtol=0, atol=TOLERANCE)


def test_parameter_counts_match_pyskl():
    # docs/reference.md section 8, measured by running PYSKL: 3D NTU and 2D COCO, 60 classes.
    for layout, count in (('ntu-rgb+d-pyskl', 3_098_832), ('coco', 3_088_704)):
        model = build_model('pyskl', layout=layout)
        assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == count, layout
        assert sum(p.numel() for p in Recognizer(layout).parameters() if p.requires_grad) == count, layout


def test_initialisation_is_pytorchs_with_a_small_head():
    keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    keras_model, torch_model = build_model('pyskl'), Recognizer()
    pairs = [(keras_model.blocks[5].tcn_conv, torch_model.backbone.gcn[5].tcn.conv),  # fan_in 9 * 128
             (keras_model.blocks[1].gcn_conv, torch_model.backbone.gcn[1].gcn.conv),  # fan_in 64
             (keras_model.blocks[7].residual_conv, torch_model.backbone.gcn[7].residual.conv)]  # fan_in 128
    for keras_layer, torch_layer in pairs:
        bound = 1.0 / np.sqrt(torch_layer.weight[0].numel())  # both are U(-bound, bound), std bound / sqrt(3)
        draws = ((keras_layer.kernel, torch_layer.weight, 0.02), (keras_layer.bias, torch_layer.bias, 0.15))
        for ours, theirs, rel in draws:  # rel: a bias is only 128-384 draws
            for values in (np.asarray(ours), theirs.detach().numpy()):
                assert bound * 0.95 < np.abs(values).max() <= bound
                assert abs(values.std() * np.sqrt(3) / bound - 1) < rel
    head = np.asarray(keras_model.fcn.kernel)
    assert abs(head.std() - 0.01) < 5e-4 and not np.asarray(keras_model.fcn.bias).any()
    assert all(np.all(np.asarray(w) == 1) for w in keras_model.weights if w.path.endswith(('gamma', 'importance')))


class FakeHistoryBuffer:
    """Stands for mmengine.logging.HistoryBuffer, which a raw mmengine checkpoint's message_hub holds."""
    __module__, __qualname__ = 'mmengine.logging.history_buffer', 'HistoryBuffer'  # pickled under mmengine's name

    def __init__(self):
        self._log_history = np.arange(3.0)


class Exploit:
    """An object that would run a shell command if its file were unpickled carelessly."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f'touch {self.marker}',)


def test_raw_mmengine_checkpoint_reads_its_state_dict_only(monkeypatch, tmp_path):
    reference = calibrated_reference('ntu-rgb+d-pyskl', seed=3)
    state = as_mmaction2(reference.state_dict())
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'epoch_16.pth'
    with monkeypatch.context() as patch:  # mmengine's module path exists only while the file is written
        for name in ('mmengine', 'mmengine.logging', 'mmengine.logging.history_buffer'):
            patch.setitem(sys.modules, name, types.ModuleType(name))
        sys.modules['mmengine.logging.history_buffer'].HistoryBuffer = FakeHistoryBuffer
        torch.save({**checkpoint(state), 'message_hub': {'log_scalars': {'train/loss': FakeHistoryBuffer()},
                                                         'runtime_info': {'hook': Exploit(marker)}}}, path)
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path, weights_only=True)  # what the fallback is for

    model = load_pretrained(path)
    assert 'mmengine' not in sys.modules and not marker.exists()
    assert model.meta['data_mode'] == 'pyskl3d'
    x = clips(2, T_ODD, 'ntu-rgb+d-pyskl', persons=2, seed=4)
    with torch.no_grad():
        expected = reference(to_pyskl(x)).numpy()
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=0, atol=TOLERANCE)


def test_save_weights_keeps_the_pyskl_data_mode(tmp_path):
    model = pyskl_state_dict_to_model(Recognizer('coco').state_dict(), source='hrnet.pth')
    save_weights(model, tmp_path / 'hrnet.weights.h5')
    loaded = load_pretrained(tmp_path / 'hrnet.weights.h5')
    assert (loaded.meta['preset'], loaded.meta['data_mode'], loaded.meta['max_frame']) == ('pyskl', 'pyskl2d', 100)
    assert loaded.config == model.config


@pytest.fixture(scope='module')
def state():
    torch.manual_seed(5)
    return {k: v.clone() for k, v in Recognizer().state_dict().items()}


def _load(state, tmp_path, **kwargs):
    path = tmp_path / 'stgcn.pth'
    torch.save({'state_dict': state}, path)
    return load_pyskl_weights(path, **kwargs)


def test_num_class_mismatch_names_both_numbers(state, tmp_path):
    with pytest.raises(WeightsError, match=r'stgcn\.pth: the weights have 60 classes but num_class=120'):
        _load(state, tmp_path, num_class=120)


def test_wrong_shape_names_key_and_both_shapes(state, tmp_path):
    bad = {**state, 'backbone.gcn.3.tcn.conv.weight': torch.zeros(64, 64, 5, 1)}
    with pytest.raises(WeightsError, match=r'backbone\.gcn\.3\.tcn\.conv\.weight has shape \(64, 64, 5, 1\).*'
                                           r'expects \(9, 1, 64, 64\) \(as PyTorch \(64, 64, 9, 1\)\)'):
        _load(bad, tmp_path)
    narrow_head = {**state, 'cls_head.fc_cls.weight': torch.zeros(60, 128)}
    with pytest.raises(WeightsError, match=r'cls_head\.fc_cls\.weight has shape \(60, 128\).*expects \(256, 60\) '
                                           r'\(as PyTorch \(60, 256\)\)'):
        _load(narrow_head, tmp_path)


def test_missing_and_unexpected_keys(state, tmp_path):
    missing = {k: v for k, v in state.items() if k not in ('backbone.gcn.9.gcn.PA', 'backbone.gcn.2.gcn.bn.bias')}
    with pytest.raises(WeightsError, match=r"2 expected key\(s\) missing.*'backbone\.gcn\.2\.gcn\.bn\.bias', "
                                           r"'backbone\.gcn\.9\.gcn\.PA'"):
        _load(missing, tmp_path)
    stgcn_plus_plus = {**state, 'backbone.gcn.1.gcn.down.0.weight': torch.zeros(64, 64, 1, 1)}
    with pytest.raises(WeightsError, match=r"1 key\(s\) not in PYSKL's ST-GCN.*gcn\.1\.gcn\.down\.0\.weight"):
        _load(stgcn_plus_plus, tmp_path)


def test_graph_must_match(state, tmp_path):
    bad = {**state, 'backbone.gcn.4.gcn.A': state['backbone.gcn.4.gcn.A'] * 1.5}
    with pytest.raises(WeightsError, match=r'backbone\.gcn\.4\.gcn\.A differs from the ntu-rgb\+d-pyskl/'
                                           r'stgcn_spatial graph'):
        _load(bad, tmp_path)


def test_heads_must_be_one(state, tmp_path):
    with pytest.raises(WeightsError, match=r'exactly one head.*found none'):
        _load({k: v for k, v in state.items() if not k.startswith('cls_head.')}, tmp_path)
    both = {**state, **{k: v for k, v in as_mmaction2(state).items() if k.startswith('cls_head.')}}
    with pytest.raises(WeightsError, match=r"exactly one head.*\['cls_head\.fc_cls', 'cls_head\.fc'\]"):
        _load(both, tmp_path)


def test_mmaction2_0x_is_refused_by_name(tmp_path):
    old = {'backbone.data_bn.weight': torch.ones(75), 'backbone.st_gcn_networks.0.gcn.conv.weight':
           torch.zeros(192, 3, 1, 1), 'backbone.edge_importance.0': torch.ones(3, 25, 25),
           'cls_head.fc.weight': torch.zeros(60, 256, 1, 1)}
    path = tmp_path / 'stgcn_0x.pth'
    torch.save({'state_dict': old, 'meta': {}}, path)
    assert is_pyskl_checkpoint(path)  # the keys send it here, not to the official loader
    with pytest.raises(WeightsError, match=r'stgcn_0x\.pth: an mmaction2 0\.x ST-GCN checkpoint.*older '
                                           r'mmskeleton-style network'):
        load_pretrained(path)


def test_official_and_other_files_are_not_taken_for_pyskl(tmp_path):
    official, legacy, garbage = tmp_path / 'official.pth', tmp_path / 'legacy.pth', tmp_path / 'garbage.pth'
    torch.save({'A': torch.zeros(3, 25, 25), 'fcn.weight': torch.zeros(60, 256, 1, 1)}, official)
    torch.save({'state_dict': {'backbone.data_bn.weight': torch.ones(75)}}, legacy,
               _use_new_zipfile_serialization=False)
    garbage.write_bytes(b'PK\x03\x04 not a zip')
    assert not any(is_pyskl_checkpoint(p) for p in (official, legacy, garbage))


@pytest.mark.parametrize('obj', [{'epoch': 3}, [torch.zeros(2)], {'state_dict': {'a': 3}}])
def test_not_a_checkpoint(obj, tmp_path):
    path = tmp_path / 'x.pth'
    torch.save(obj, path)
    with pytest.raises(WeightsError, match=r'x\.pth: holds no \{"state_dict": \{name: tensor\}\}'):
        load_pyskl_weights(path)
