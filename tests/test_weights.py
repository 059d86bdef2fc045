"""model.weights: format detection, the project's own formats round-trip, the converter CLI, every error message."""
import json
import os
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

from model.config import make_config
from model.errors import WeightsError
from model.stgcn import build_model
from model.weights import (ACCEPTED_FORMATS, META_ATTR, checkpoint_meta, load_pretrained, main,
                           read_checkpoint_meta, save_weights)
from tests.tf2019_reference import ReferenceSGD, TF2019Reference
from tests.torch_reference import Model as TorchSTGCN

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(num_class=5, channels=(8, 8, 16))  # a tiny model: these tests check plumbing, not numerics


def randomize(model, seed=0):
    """Give every weight a distinct non-trivial value (variances positive) so that a mix-up shows."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = rng.normal(0.0, 0.3, variable.shape)
        if 'variance' in variable.path:
            value = np.abs(value) + 0.5
        variable.assign(value.astype(np.float32))
    return model


def clip(seed=0, t=16):
    """A small smooth input: (2, 3, t, 25, 2)."""
    rng = np.random.default_rng(seed)
    seconds = np.arange(t)[None, None, :, None, None] / 30.0
    phase = rng.uniform(0.0, 2 * np.pi, (2, 3, 1, 25, 2))
    x = rng.uniform(-0.5, 0.5, (2, 3, 1, 25, 2)) + 0.2 * np.sin(2 * np.pi * seconds + phase)
    x[0, ..., 1] = 0.0  # sample 0 has one person
    return x.astype(np.float32)


def assert_same_weights(a, b):
    # Paths start with the model's unique name (stgcn_3/...): compare what follows.
    assert [v.path.split('/', 1)[1] for v in a.weights] == [v.path.split('/', 1)[1] for v in b.weights]
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=x.path)


def save_port_checkpoint(folder, reference=None):
    """A 2019 port checkpoint (tf.train.Checkpoint(model=, optimizer=)) in `folder`; returns its prefix."""
    reference = reference or TF2019Reference(num_class=60, seed=3)
    return tf.train.Checkpoint(model=reference, optimizer=ReferenceSGD(reference)).save(str(folder / 'ckpt'))


def training_checkpoint(model, data_mode, epoch=1):
    """A project training checkpoint object as the trainer builds it (model, optimizer, epoch, step, meta)."""
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    return tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=tf.Variable(epoch, dtype=tf.int64),
                               step=tf.Variable(100 * epoch, dtype=tf.int64),
                               meta=tf.Variable(checkpoint_meta(model.config, 'paper', data_mode, 300)))


@pytest.fixture(scope='module')
def port_prefix(tmp_path_factory):
    return save_port_checkpoint(tmp_path_factory.mktemp('port'))


@pytest.fixture(scope='module')
def torch_file(tmp_path_factory):
    """An official-layout state_dict (default init, 60 classes) saved by torch in the zip format."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('torch') / 'st_gcn.ntu-xsub.pth'
    torch.save(TorchSTGCN().state_dict(), path)
    return path


def run_cli(*args):
    return subprocess.run([sys.executable, '-m', 'model.weights', *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})


# --- the project's own formats ---------------------------------------------------------------------------------

def test_weights_h5_round_trip_keeps_weights_config_and_meta(tmp_path):
    model = randomize(build_model('tf2019', **SMALL))
    path = tmp_path / 'small.weights.h5'
    save_weights(model, path, data_mode='prenorm')
    assert os.listdir(tmp_path) == ['small.weights.h5']  # the temporary file was renamed, nothing left over
    with h5py.File(path, 'r') as f:
        assert json.loads(f.attrs[META_ATTR]) == {'config': model.config.to_dict(), 'preset': 'tf2019',
                                                  'data_mode': 'prenorm', 'max_frame': 300}
    loaded = load_pretrained(path)
    assert loaded.config == model.config
    assert loaded.meta == {'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': 300, 'source': str(path)}
    assert_same_weights(loaded, model)
    np.testing.assert_array_equal(loaded(clip(), training=False), model(clip(), training=False))


def test_save_weights_takes_data_mode_from_model_meta_and_checks_it(tmp_path):
    model = build_model('paper', **SMALL)
    with pytest.raises(ValueError, match="data_mode must be one of raw, prenorm, kinetics, pyskl3d, pyskl2d, unknown, got None"):
        save_weights(model, tmp_path / 'a.weights.h5')
    with pytest.raises(ValueError, match=r'must end in \.weights\.h5'):
        save_weights(model, tmp_path / 'a.h5', data_mode='raw')
    model.meta = {'preset': 'paper', 'data_mode': 'raw', 'max_frame': 300, 'source': 'x.pth'}
    save_weights(model, tmp_path / 'a.weights.h5')
    assert load_pretrained(tmp_path / 'a.weights.h5').meta['data_mode'] == 'raw'


def test_checkpoint_meta_is_the_config_preset_data_mode_and_max_frame():
    config = make_config('tf2019', num_class=120)
    assert json.loads(checkpoint_meta(config, 'tf2019', 'prenorm', 64)) == {
        'config': config.to_dict(), 'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': 64}
    with pytest.raises(ValueError, match="data_mode must be one of raw, prenorm, kinetics, pyskl3d, pyskl2d, unknown, got 'normalised'"):
        checkpoint_meta(config, 'tf2019', 'normalised', 300)
    with pytest.raises(ValueError, match='max_frame must be an int >= 1, got 0'):
        checkpoint_meta(config, 'tf2019', 'prenorm', 0)


def test_save_weights_names_the_preset_of_a_model_without_meta(tmp_path):
    for preset, overrides in (('paper', {}), ('tf2019', {}), ('custom', {'temporal_padding': 'same'})):
        path = tmp_path / f'{preset}.weights.h5'
        save_weights(build_model('paper' if preset == 'custom' else preset, **SMALL, **overrides), path, 'raw')
        assert load_pretrained(path).meta['preset'] == preset


def test_training_checkpoint_rebuilds_its_model_from_meta_alone(tmp_path):
    model = randomize(build_model('paper', **SMALL), seed=1)
    checkpoint = training_checkpoint(model, 'raw')
    first = checkpoint.save(str(tmp_path / 'ckpt'))
    expected_first = model(clip(), training=False)
    randomize(model, seed=2)
    latest = checkpoint.save(str(tmp_path / 'ckpt'))
    assert read_checkpoint_meta(tmp_path) == {'config': model.config.to_dict(), 'preset': 'paper',
                                              'data_mode': 'raw', 'max_frame': 300}

    restored = load_pretrained(tmp_path)  # the directory: its latest checkpoint
    assert restored.meta == {'preset': 'paper', 'data_mode': 'raw', 'max_frame': 300, 'source': latest}
    assert restored.config == model.config
    assert_same_weights(restored, model)
    np.testing.assert_array_equal(load_pretrained(first)(clip(), training=False), expected_first)


# --- detection of the published formats ------------------------------------------------------------------------

def test_torch_files_are_recognised_by_content_whatever_their_name(tmp_path, torch_file):
    state_dict = torch.load(torch_file, weights_only=True)
    zip_file, legacy_file = tmp_path / 'weights.bin', tmp_path / 'weights.legacy'
    torch.save(state_dict, zip_file)
    torch.save({'state_dict': state_dict}, legacy_file, _use_new_zipfile_serialization=False)
    reference = load_pretrained(torch_file)
    assert reference.meta['preset'] == 'paper' and reference.meta['data_mode'] == 'raw'
    for path in (zip_file, legacy_file):
        model = load_pretrained(path)
        assert model.meta == {'preset': 'paper', 'data_mode': 'raw', 'max_frame': 300, 'source': str(path)}
        assert_same_weights(model, reference)


def test_port_checkpoint_accepts_its_index_file_too(port_prefix):
    model = load_pretrained(port_prefix + '.index')
    assert model.meta == {'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': 300, 'source': port_prefix}
    assert model.config == make_config('tf2019', num_class=60)


# --- the converter CLI -----------------------------------------------------------------------------------------

def test_cli_converts_official_torch_weights(tmp_path, torch_file):
    out = tmp_path / 'xsub.weights.h5'
    result = run_cli('--weights', torch_file, '--out', out)
    assert result.returncode == 0, result.stderr
    assert 'preset paper, 60 classes, data mode raw' in result.stdout
    converted = load_pretrained(out)
    assert converted.meta == {'preset': 'paper', 'data_mode': 'raw', 'max_frame': 300, 'source': str(out)}
    assert_same_weights(converted, load_pretrained(torch_file))


def test_cli_converts_a_port_checkpoint_directory(tmp_path, port_prefix):
    out = tmp_path / 'port.weights.h5'
    result = run_cli('--weights', os.path.dirname(port_prefix), '--out', out, '--num-class', 60)
    assert result.returncode == 0, result.stderr
    assert 'preset tf2019, 60 classes, data mode prenorm' in result.stdout
    converted = load_pretrained(out)
    assert converted.meta['preset'] == 'tf2019' and converted.meta['data_mode'] == 'prenorm'
    assert_same_weights(converted, load_pretrained(port_prefix))


def test_cli_error_is_one_line_and_exit_code_2(tmp_path):
    result = run_cli('--weights', tmp_path / 'missing.pth', '--out', tmp_path / 'x.weights.h5')
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f'error: {tmp_path / "missing.pth"}: no such file or '
                                                      f'directory; pass a weights file or checkpoint')
    assert not (tmp_path / 'x.weights.h5').exists()


def test_cli_rejects_an_output_name_keras_cannot_write(tmp_path, capsys, port_prefix):
    assert main(['--weights', port_prefix, '--out', str(tmp_path / 'x.h5')]) == 2
    assert capsys.readouterr().err == f'error: --out {tmp_path / "x.h5"}: must end in .weights.h5\n'
    assert main(['--weights', port_prefix, '--num_class', '7', '--out', str(tmp_path / 'x.weights.h5')]) == 2
    assert 'the weights have 60 classes but num_class=7' in capsys.readouterr().err


# --- error messages --------------------------------------------------------------------------------------------

def test_missing_path_is_an_error_naming_it(tmp_path):
    with pytest.raises(WeightsError, match=f'{tmp_path / "nope"}: no such file or directory'):
        load_pretrained(tmp_path / 'nope')


def test_unrecognised_format_lists_the_accepted_ones(tmp_path):
    path = tmp_path / 'notes.txt'
    path.write_text('not weights')
    with pytest.raises(WeightsError) as error:
        load_pretrained(path)
    message = str(error.value)
    assert message.startswith(f'{path}: format not recognised; accepted: ')
    assert all(name in message for name in ACCEPTED_FORMATS)
    assert '.pth' in message and 'ckpt-N' in message and '.weights.h5' in message


def test_other_tf_checkpoints_and_foreign_keras_weights_are_refused(tmp_path):
    prefix = tf.train.Checkpoint(step=tf.Variable(1)).save(str(tmp_path / 'other' / 'ckpt'))
    with pytest.raises(WeightsError, match="neither the 2019 port's layout .* nor a training checkpoint"):
        load_pretrained(prefix)
    plain = tmp_path / 'plain.weights.h5'
    build_model('paper', **SMALL).save_weights(plain)  # Keras' own, without this project's meta
    with pytest.raises(WeightsError, match='without this project\'s meta'):
        load_pretrained(plain)


def test_class_count_mismatch_says_both_numbers(tmp_path, port_prefix):
    with pytest.raises(WeightsError, match=f'{port_prefix}: the weights have 60 classes but num_class=120'):
        load_pretrained(port_prefix, num_class=120)
    path = tmp_path / 'small.weights.h5'
    save_weights(build_model('paper', **SMALL), path, 'raw')
    with pytest.raises(WeightsError, match=f'{path}: the weights have 5 classes but num_class=60'):
        load_pretrained(path, num_class=60)


def test_wrong_shape_names_the_key_and_both_shapes(tmp_path):
    reference = TF2019Reference(num_class=60, seed=4)
    conv = getattr(reference.STGCN_layers[2].tgcn, 'layer_with_weights-1')
    conv.kernel = tf.Variable(np.zeros((9, 1, 64, 32), np.float32))  # a narrower temporal conv
    prefix = save_port_checkpoint(tmp_path, reference)
    with pytest.raises(WeightsError) as error:
        load_pretrained(prefix)
    assert str(error.value) == (f'{prefix}: model/STGCN_layers/2/tgcn/layer_with_weights-1/kernel has shape '
                                f'(9, 1, 64, 32); the model expects (9, 1, 64, 64)')


def test_missing_keys_are_listed(tmp_path):
    reference = TF2019Reference(num_class=60, seed=5)
    del reference.STGCN_layers[7].residual  # the second conv residual is gone
    prefix = save_port_checkpoint(tmp_path, reference)
    with pytest.raises(WeightsError, match=rf'{prefix}: 6 expected variable\(s\) missing, e\.g\. '
                                           r"\['model/STGCN_layers/7/residual/layer_with_weights-0/bias'"):
        load_pretrained(prefix)


def test_port_checkpoint_on_another_graph_is_refused(tmp_path):
    reference = TF2019Reference(num_class=60, seed=6)
    reference.A.assign(reference.A.numpy()[::-1])  # the subsets in another order: not the agcn graph
    prefix = save_port_checkpoint(tmp_path, reference)
    with pytest.raises(WeightsError, match='differs from the ntu-rgb\\+d/agcn graph'):
        load_pretrained(prefix)


def test_training_checkpoint_missing_model_variables_is_refused(tmp_path):
    model = build_model('paper', **SMALL)
    meta = tf.Variable(checkpoint_meta(model.config, 'paper', 'raw', 300))
    prefix = tf.train.Checkpoint(model=tf.train.Checkpoint(data_bn=model.data_bn), meta=meta).save(
        str(tmp_path / 'ckpt'))
    with pytest.raises(WeightsError, match=f'{prefix}: holds 4 of the {len(model.weights)} variables'):
        load_pretrained(prefix)


def test_weights_h5_whose_meta_does_not_fit_its_weights_is_refused(tmp_path):
    path = tmp_path / 'small.weights.h5'
    save_weights(build_model('paper', **SMALL), path, 'raw')
    with h5py.File(path, 'a') as f:  # claim wider last-stage channels than the stored weights have
        meta = json.loads(f.attrs[META_ATTR])
        meta['config']['channels'] = [8, 8, 32]
        f.attrs[META_ATTR] = json.dumps(meta)
    with pytest.raises(WeightsError, match=f'{path}: its weights do not fit the model its meta describes'):
        load_pretrained(path)
