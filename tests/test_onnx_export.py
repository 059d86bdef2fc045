"""serving/onnx_export.py: onnxruntime's logits equal Keras' to 1e-4 for several batch sizes and lengths."""
import json

import numpy as np
import pytest

from model.stgcn import build_model

# make test installs the optional extra (requirements-dev.txt includes requirements-onnx.txt): fail, not skip.
import onnxruntime as ort

import main
from model.weights import save_weights
from serving.onnx_export import export_onnx


def _model(preset):
    model = build_model(preset, channels=(4, 8, 8), num_class=5)
    for variable in model.weights:  # BatchNorm statistics away from 0/1, so that a lost one shows
        rng = np.random.default_rng(len(variable.path))
        if any(key in variable.path for key in ('moving_variance', 'gamma', 'edge_importance')):
            variable.assign(rng.uniform(0.5, 1.5, variable.shape))
        elif any(key in variable.path for key in ('moving_mean', 'beta', 'bias')):
            variable.assign(rng.normal(0.0, 0.1, variable.shape))
    return model


@pytest.mark.parametrize('preset', ['paper', 'tf2019'])
def test_onnxruntime_matches_keras_with_dynamic_batch_and_time(tmp_path, preset):
    model = _model(preset)
    path = tmp_path / 'model.onnx'
    export_onnx(model, str(path))
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    (given,) = session.get_inputs()
    assert given.name == 'x' and given.shape == ['batch', 3, 'T', 25, 2]
    assert [(o.name, o.shape) for o in session.get_outputs()] == [('logits', ['batch', 5]),
                                                                  ('probabilities', ['batch', 5])]
    for n, frames in ((1, 16), (3, 25)):  # odd T: the stride-2 padding differs between the presets
        x = np.random.default_rng(frames).standard_normal((n, 3, frames, 25, 2)).astype(np.float32)
        logits, probabilities = session.run(None, {'x': x})
        expected = np.asarray(model(x, training=False))
        assert np.abs(expected).max() > 0.1  # not a trivially zero output
        np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_export_phase_writes_onnx_and_its_meta(tmp_path):
    model = _model('paper')
    save_weights(model, tmp_path / 'm.weights.h5', data_mode='raw')
    dest = tmp_path / 'onnx'
    assert main.main(['--phase', 'export', '--weights', str(tmp_path / 'm.weights.h5'), '--export-dir', str(dest),
                      '--format', 'onnx', '--opset', '17']) == 0
    assert sorted(p.name for p in dest.iterdir()) == ['meta.json', 'model.onnx']
    meta = json.loads((dest / 'meta.json').read_text())
    assert (meta['format'], meta['opset'], meta['data_mode'], meta['num_class']) == ('stgcn-export', 17, 'raw', 5)
    session = ort.InferenceSession(str(dest / 'model.onnx'), providers=['CPUExecutionProvider'])
    x = np.random.default_rng(0).standard_normal((2, 3, 20, 25, 2)).astype(np.float32)
    np.testing.assert_allclose(session.run(['logits'], {'x': x})[0], np.asarray(model(x, training=False)),
                               atol=1e-4, rtol=0)
