"""Fine-tuning given weights to the user's classes (--num-classes, --freeze-backbone, --backbone-lr-mult) and what a
checkpoint records about its training (--class-names, the PYSKL --stream)."""
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

import main
import serving
from data_gen import gen_pyskl_data, gen_synthetic_data
from model.finetune import freeze_backbone, head_variables
from model.stgcn import build_model
from model.weights import checkpoint_meta, load_pretrained, read_checkpoint_meta, save_weights
from serving.export import export_meta
from storage.class_names_file import load_class_names
from storage.files import StorageError
from tests.pyskl_reference import Recognizer
from tests.test_weights import randomize
from tests.tiny_data import write_tiny_records
from tests.torch_reference import Model as TorchSTGCN
from training import loop, strategy as strategies
from training.config import ConfigError, resolve_config
from training.optimizer import TorchSGD

# A tiny tf2019-preset model (no dropout): a run of 4 steps takes seconds. No --num-classes: each test says.
SMALL = ['--model-preset', 'tf2019', '--channels', '8', '8', '8', '--batch-size', '4', '--base-lr', '0.05',
         '--steps', '--no-progress']
NAMES = ['drink water', 'eat meal', 'brush teeth']  # the weights' names of their 3 classes
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', CUDA_VISIBLE_DEVICES='')
ENV.pop('TF_CONFIG', None)


# main.py runs set a mixed-precision policy for the process: each test here leaves it float32 again.
pytestmark = pytest.mark.usefixtures('float32_policy')


@pytest.fixture(scope='module')
def data(tiny_records):
    """{root}/train (16 samples) and {root}/val (7) of 3 classes, and {root}/train4, {root}/val4 of 4 classes."""
    write_tiny_records(tiny_records / 'train4', 16, num_class=4, seed=2)
    write_tiny_records(tiny_records / 'val4', 8, num_class=4, seed=3, stem='val')
    return tiny_records


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    """A .weights.h5 of the SMALL model on 3 classes, named NAMES, for the tiny records' prenorm data."""
    model = randomize(build_model('tf2019', num_class=3, channels=(8, 8, 8)))
    model.meta = {'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': 16, 'class_names': NAMES}
    path = tmp_path_factory.mktemp('weights') / 'small.weights.h5'
    save_weights(model, path)
    return path


def run(args, tmp_path, name='run'):
    """main.main on SMALL + args, its checkpoints and logs in tmp_path/{name}; returns the exit code."""
    argv = SMALL + ['--checkpoint-path', tmp_path / name / 'ckpt', '--log-dir', tmp_path / name / 'logs'] + args
    return main.main([str(a) for a in argv])


def outside_head(model):
    """{path after the model's name: value} of every weight but fcn's, moving BN statistics included."""
    head = {id(v) for v in head_variables(model)}
    return {v.path.split('/', 1)[1]: np.asarray(v) for v in model.weights if id(v) not in head}


def assert_same_backbone(model, reference):
    ours, theirs = outside_head(model), outside_head(reference)
    assert ours.keys() == theirs.keys() and len(ours) > 50
    assert any('moving_variance' in path for path in ours)
    for path in ours:
        np.testing.assert_array_equal(ours[path], theirs[path], err_msg=path)


# ---------------------------------------------------------------------------------------------------------
# A new class count: every layer reused but the classifier


def _official_file(folder):
    torch.manual_seed(0)
    path = folder / 'st_gcn.ntu-xsub.pth'
    torch.save(TorchSTGCN().state_dict(), path)  # 60 classes, the official widths
    return path


def _pyskl_file(folder):
    torch.manual_seed(1)
    path = folder / 'stgcn_pyskl_ntu60_xsub_3dkp_j.pth'
    torch.save({'state_dict': Recognizer(num_class=60).state_dict()}, path)
    return path


def _keras_file(folder, weights):
    model = load_pretrained(weights)
    path = folder / 'small.keras'
    model.save(path)
    return path


def _training_checkpoint(folder, weights):
    model = load_pretrained(weights)
    meta = checkpoint_meta(model.config, 'tf2019', 'prenorm', 16, class_names=NAMES)
    return tf.train.Checkpoint(model=model, meta=tf.Variable(meta)).save(str(folder / 'ckpt'))


@pytest.mark.parametrize('kind', ['weights.h5', 'keras', 'checkpoint', 'official', 'pyskl'])
def test_a_new_class_count_reuses_every_layer_but_the_classifier(data, weights, tmp_path, capsys, kind):
    path = {'weights.h5': lambda: weights, 'keras': lambda: _keras_file(tmp_path, weights),
            'checkpoint': lambda: _training_checkpoint(tmp_path, weights), 'official': lambda: _official_file(tmp_path),
            'pyskl': lambda: _pyskl_file(tmp_path)}[kind]()
    source = load_pretrained(path)
    cfg = resolve_config([str(a) for a in SMALL + [
        '--weights', path, '--num-classes', 4, '--train-data-path', data / 'train4', '--test-data-path',
        data / 'val4', '--checkpoint-path', tmp_path / 'ckpt', '--log-dir', tmp_path / 'logs']])
    strategies.seed_and_precision(cfg)
    capsys.readouterr()
    state = loop.build_state(cfg, tf.distribute.get_strategy(), chief=True)

    said = [line for line in capsys.readouterr().out.splitlines() if 'fine-tuning' in line]
    weights_class = source.config.num_class
    assert said == [f'fine-tuning {path}: every layer reused but the classifier (fcn), re-initialised for 4 classes '
                    f'(the weights have {weights_class})']
    model = state.model
    assert model.config == type(source.config)(**{**source.config.to_dict(), 'num_class': 4})
    assert_same_backbone(model, source)
    kernel, bias = (np.asarray(v) for v in head_variables(model))
    assert kernel.shape == (model.config.channels[-1], 4) and np.all(bias == 0)
    # fcn drawn afresh from the config's initialiser: official N(0, 0.02), PYSKL N(0, 0.01), Keras glorot_uniform.
    if model.config.init == 'keras':
        bound = np.sqrt(6.0 / (kernel.shape[0] + 4))
        assert 0 < np.abs(kernel).max() <= bound and kernel.std() > bound / 4
    else:
        std = {'official': 0.02, 'pyskl': 0.01}[model.config.init]
        assert kernel.std() == pytest.approx(std, rel=0.15) and abs(kernel.mean()) < std / 5
    # A new class count drops the weights' names; PYSKL's files record no stream.
    assert state.class_names is None and 'stream' not in source.meta


def test_fine_tuned_weights_of_the_same_classes_keep_their_names(data, weights, tmp_path, capsys):
    """(A new class count drops them: test_a_new_class_count_reuses_every_layer_but_the_classifier.)"""
    assert run(['--weights', weights, '--train-data-path', data / 'train', '--test-data-path', data / 'val',
                '--num-epochs', 1], tmp_path) == 0
    meta = read_checkpoint_meta(tmp_path / 'run' / 'ckpt')
    assert meta['class_names'] == NAMES and 'stream' not in meta  # TFRecords: no PYSKL stream
    assert 'fine-tuning' not in capsys.readouterr().out
    rows = (tmp_path / 'run' / 'logs' / 'per_class_accuracy.csv').read_text().splitlines()
    assert [row.split(',')[1] for row in rows[1:]] == NAMES


def test_data_of_another_class_count_asks_for_num_classes(data, weights, tmp_path, capsys):
    assert run(['--weights', weights, '--train-data-path', data / 'train4', '--test-data-path', data / 'val4'],
               tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f'error: --weights {weights} has 3 classes') and 'pass --num-classes 4' in err[-1]


@pytest.mark.parametrize('phase', ['test', 'export'])
def test_outside_training_a_class_count_mismatch_stays_an_error(data, weights, tmp_path, capsys, phase):
    args = ['--phase', phase, '--weights', weights, '--num-classes', 4, '--test-data-path', data / 'val4',
            '--log-dir', tmp_path / 'logs', '--export-dir', tmp_path / 'export', '--no-progress']
    assert main.main([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f'error: {weights}: the weights have 3 classes but num_class=4 was asked; pass num_class=3 '
                       'or None')
    assert not (tmp_path / 'export').exists()


# ---------------------------------------------------------------------------------------------------------
# --freeze-backbone


def test_a_frozen_backbone_computes_in_training_what_it_computes_in_inference():
    """No batch statistics and no dropout (the paper preset drops half the units in blocks 2-10): the classifier
    trains on the features it will see at test time."""
    model = randomize(build_model('paper', num_class=3, channels=(8, 8, 8)))
    x = np.random.default_rng(0).normal(size=(2, 3, 16, 25, 2)).astype(np.float32)
    assert not np.allclose(model(x, training=True), model(x, training=False))
    freeze_backbone(model)
    np.testing.assert_array_equal(model(x, training=True), model(x, training=False))
    assert [v.path for v in model.trainable_variables] == [v.path for v in head_variables(model)]


def test_frozen_backbone_needs_weights_and_no_backbone_lr(data, tmp_path, capsys):
    assert run(['--freeze-backbone', '--num-classes', 3, '--train-data-path', data / 'train', '--test-data-path',
                data / 'val'], tmp_path) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        'error: --freeze-backbone needs --weights: it keeps the given backbone and trains the classifier')
    with pytest.raises(ConfigError, match=r'--freeze-backbone and --backbone-lr-mult 0.1: a frozen backbone'):
        resolve_config(['--freeze-backbone', '--backbone-lr-mult', '0.1'])


def test_a_frozen_backbone_stays_bit_identical_on_two_replicas_and_after_a_resume(data, weights, tmp_path):
    """Fine-tuned to 4 classes with MirroredStrategy over two logical CPUs, then resumed for a second epoch: every
    variable but fcn's (moving BN statistics included) is the weights' bit for bit, while fcn trains."""
    def train(epochs):
        args = SMALL + ['--weights', weights, '--freeze-backbone', '--num-classes', 4, '--train-data-path',
                        data / 'train4', '--test-data-path', data / 'val4', '--num-epochs', epochs,
                        '--weight-decay', 0.01, '--cpu-replicas', 2, '--batch-size', 2, '--checkpoint-path',
                        tmp_path / 'ckpt', '--log-dir', tmp_path / 'logs']
        proc = subprocess.run([sys.executable, 'main.py'] + [str(a) for a in args], env=ENV, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout

    assert 'replicas: 2, global batch: 4 (2 per replica)' in train(1)
    assert 'resuming from' in train(2) and tf.train.latest_checkpoint(str(tmp_path / 'ckpt')).endswith('ckpt-2')
    source = load_pretrained(weights)
    first, second = (load_pretrained(tmp_path / 'ckpt' / f'ckpt-{n}') for n in (1, 2))
    assert_same_backbone(first, source)
    assert_same_backbone(second, source)
    for old, new in zip(head_variables(first), head_variables(second)):
        assert np.all(np.asarray(new) != np.asarray(old)), old.path  # fcn trained, every entry
    # The optimizer holds fcn's momentum buffers alone: nothing else is updated or decayed.
    shapes = tf.train.load_checkpoint(str(tmp_path / 'ckpt')).get_variable_to_shape_map()
    assert sorted(tuple(shapes[k]) for k in shapes if k.startswith('optimizer/') and shapes[k]) == [(4,), (8, 4)]


# ---------------------------------------------------------------------------------------------------------
# --backbone-lr-mult


def _sgd_steps(factor, nesterov, grads, lrs, weight_decay=0.01, momentum=0.9):
    """Two variables (a backbone's, scaled by `factor`, and a head's) after len(grads) TorchSGD steps at lrs."""
    lr = tf.Variable(lrs[0], dtype=tf.float32)
    backbone = keras.Variable(np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3), name='backbone')
    head = keras.Variable(np.array([0.5, -0.25, 2.0], np.float32), name='head')
    optimizer = TorchSGD(learning_rate=lambda: lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    optimizer.build([backbone, head])
    if factor is not None:
        optimizer.scale_learning_rate([backbone], factor)
    for (g_backbone, g_head), step_lr in zip(grads, lrs):
        lr.assign(step_lr)
        optimizer.apply_gradients([(g_backbone, backbone), (g_head, head)])
    return np.asarray(backbone), np.asarray(head)


def _torch_sgd_by_hand(p, grads, lrs, factor, nesterov, weight_decay=0.01, momentum=0.9):
    """torch.optim.SGD's rule (training/optimizer.py) in float32 numpy, the learning rate times `factor`."""
    f32 = np.float32
    p, buf = p.astype(f32), None
    for g, lr in zip(grads, lrs):
        g = g + f32(weight_decay) * p  # coupled decay
        buf = g if buf is None else f32(momentum) * buf + g
        direction = g + f32(momentum) * buf if nesterov else buf
        p = p - (f32(lr) * f32(factor)) * direction
    return p


@pytest.mark.parametrize('nesterov', [True, False])
def test_backbone_lr_mult_scales_the_torch_update_of_the_backbone_only(nesterov):
    rng = np.random.default_rng(0)
    grads = [(rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)) for _ in range(3)]
    lrs = [0.1, 0.1, 0.01]  # the schedule's drop applies to both
    backbone, head = _sgd_steps(0.25, nesterov, grads, lrs)
    p0_backbone = np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3)
    p0_head = np.array([0.5, -0.25, 2.0], np.float32)
    np.testing.assert_allclose(backbone, _torch_sgd_by_hand(p0_backbone, [g for g, _ in grads], lrs, 0.25, nesterov),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(head, _torch_sgd_by_hand(p0_head, [g for _, g in grads], lrs, 1.0, nesterov),
                               rtol=1e-6, atol=1e-7)
    # Not vacuous: the unscaled rule is elsewhere.
    assert np.abs(backbone - _torch_sgd_by_hand(p0_backbone, [g for g, _ in grads], lrs, 1.0, nesterov)).max() > 1e-2


def test_backbone_lr_mult_1_is_bit_identical_to_none():
    rng = np.random.default_rng(1)
    grads = [(rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)) for _ in range(3)]
    for a, b in zip(_sgd_steps(1.0, True, grads, [0.1, 0.1, 0.01]), _sgd_steps(None, True, grads, [0.1, 0.1, 0.01])):
        np.testing.assert_array_equal(a, b)


def test_backbone_lr_mult_in_the_train_step(data, weights, tmp_path):
    """One train step of build_state's optimizer: a block's kernel moves by 0.5 * lr times torch's Nesterov
    direction, fcn's by lr times it (the gradient taken by hand on the same batch)."""
    cfg = resolve_config([str(a) for a in SMALL + [
        '--weights', weights, '--backbone-lr-mult', 0.5, '--weight-decay', 0.01, '--train-data-path', data / 'train',
        '--test-data-path', data / 'val', '--checkpoint-path', tmp_path / 'ckpt', '--log-dir', tmp_path / 'logs']])
    state = loop.build_state(cfg, tf.distribute.get_strategy(), chief=True)
    model = state.model
    x = np.asarray(next(iter(state.epoch_batches(0, 0)))[0])  # (4, 3, 16, 25, 2)
    y = np.array([0, 1, 2, 0])
    backbone, head = model.blocks[3].tcn_conv.kernel, model.fcn.kernel
    before = [np.asarray(v) for v in (backbone, head)]
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
    grads = [np.asarray(g) for g in tape.gradient(loss, [backbone, head])]
    state.train_step(iter(tf.data.Dataset.from_tensors((x, y))))
    for variable, p0, g, factor in zip((backbone, head), before, grads, (0.5, 1.0)):
        expected = _torch_sgd_by_hand(p0, [g], [0.05], factor, nesterov=True)
        moved = np.abs(expected - p0).max()
        assert moved > 1e-4, variable.path  # the step moves it
        np.testing.assert_allclose(np.asarray(variable), expected, rtol=0, atol=1e-3 * moved, err_msg=variable.path)


# ---------------------------------------------------------------------------------------------------------
# --class-names


def test_class_names_are_stored_with_the_checkpoint_and_shown(data, tmp_path, capsys):
    names = tmp_path / 'names.txt'
    names.write_text('  pouring tea\nwaving \u00e0 la fran\u00e7aise\nclapping  \n', encoding='utf-8')
    expected = ['pouring tea', 'waving \u00e0 la fran\u00e7aise', 'clapping']
    assert run(['--num-classes', 3, '--class-names', names, '--train-data-path', data / 'train', '--test-data-path',
                data / 'val', '--num-epochs', 1], tmp_path) == 0
    model = load_pretrained(tmp_path / 'run' / 'ckpt')
    assert model.meta['class_names'] == expected
    rows = (tmp_path / 'run' / 'logs' / 'per_class_accuracy.csv').read_text(encoding='utf-8').splitlines()
    assert [row.split(',')[1] for row in rows[1:]] == expected
    # Every format that carries the meta keeps them: .weights.h5, .keras, the export's meta.json.
    save_weights(model, tmp_path / 'named.weights.h5')
    assert load_pretrained(tmp_path / 'named.weights.h5').meta['class_names'] == expected
    model.save(tmp_path / 'named.keras')
    assert load_pretrained(tmp_path / 'named.keras').meta['class_names'] == expected
    assert export_meta(model)['class_names'] == expected
    # The test phase shows the checkpoint's names.
    capsys.readouterr()
    assert main.main(['--phase', 'test', '--weights', str(tmp_path / 'run' / 'ckpt'), '--test-data-path',
                      str(data / 'val'), '--log-dir', str(tmp_path / 'test_logs'), '--no-progress']) == 0
    rows = (tmp_path / 'test_logs' / 'per_class_accuracy.csv').read_text(encoding='utf-8').splitlines()
    assert [row.split(',')[1] for row in rows[1:]] == expected
    # --class-names in the test phase replaces them for that run, the checkpoint unchanged.
    other = tmp_path / 'other.txt'
    other.write_text('tea\nwave\nclap\n', encoding='utf-8')
    assert main.main(['--phase', 'test', '--weights', str(tmp_path / 'run' / 'ckpt'), '--test-data-path',
                      str(data / 'val'), '--log-dir', str(tmp_path / 'other_logs'), '--class-names', str(other),
                      '--no-progress']) == 0
    rows = (tmp_path / 'other_logs' / 'per_class_accuracy.csv').read_text(encoding='utf-8').splitlines()
    assert [row.split(',')[1] for row in rows[1:]] == ['tea', 'wave', 'clap']
    assert load_pretrained(tmp_path / 'run' / 'ckpt').meta['class_names'] == expected


def test_class_names_of_a_serving_run_replace_the_weights(weights, tmp_path):
    names = tmp_path / 'names.txt'
    names.write_text('tea\nwave\nclap\n', encoding='utf-8')
    cfg = resolve_config(['--phase', 'export', '--weights', str(weights), '--export-dir', str(tmp_path / 'out'),
                          '--class-names', str(names)])
    model = serving.load_model(cfg)
    assert model.meta['class_names'] == ['tea', 'wave', 'clap'] and export_meta(model)['class_names'][0] == 'tea'
    names.write_text('tea\nwave\n', encoding='utf-8')
    with pytest.raises(serving.ServingError, match=r'^--class-names .*names.txt: 2 names for a model of 3 classes'):
        serving.load_model(cfg)


@pytest.mark.parametrize('text,message', [
    ('tea\n\nclapping\n', 'names.txt:2: a blank line; give one name per line, label 0 first'),
    ('tea\nwave\n', 'names.txt: 2 names for a model of 3 classes; give one name per class, in label order'),
    ('tea\nwave\ntea\n', "names.txt:3: 'tea' repeats line 1; two labels with one name could not be told apart"),
])
def test_a_bad_names_file_is_one_line_naming_it(data, tmp_path, capsys, text, message):
    names = tmp_path / 'names.txt'
    names.write_text(text, encoding='utf-8')
    assert run(['--num-classes', 3, '--class-names', names, '--train-data-path', data / 'train', '--test-data-path',
                data / 'val'], tmp_path) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f'error: --class-names {tmp_path}/{message}'
    assert not (tmp_path / 'run' / 'ckpt').exists()


def test_names_file_reader(tmp_path):
    path = tmp_path / 'names.txt'
    path.write_bytes('\ufeffa\r\nb\r\n'.encode('utf-8'))  # a Windows editor's BOM and line ends
    assert load_class_names(path, 2) == ['a', 'b']
    path.write_bytes(b'a\nb\n\xff\n')
    with pytest.raises(StorageError, match=r'names.txt:3: not UTF-8 text'):
        load_class_names(path)
    path.write_text('')
    with pytest.raises(StorageError, match=r'names.txt: holds no names'):
        load_class_names(path)
    with pytest.raises(StorageError, match=r'not a regular file'):
        load_class_names(tmp_path)


def test_checkpoint_meta_checks_names_and_stream():
    config = build_model('tf2019', num_class=3, channels=(8, 8, 8)).config
    meta = json.loads(checkpoint_meta(config, 'tf2019', 'prenorm', 16, class_names=NAMES, stream='bm'))
    assert meta['class_names'] == NAMES and meta['stream'] == 'bm'
    assert 'class_names' not in json.loads(checkpoint_meta(config, 'tf2019', 'prenorm', 16))
    with pytest.raises(ValueError, match=r'class_names holds 2 names for 3 classes'):
        checkpoint_meta(config, 'tf2019', 'prenorm', 16, class_names=NAMES[:2])
    with pytest.raises(ValueError, match=r'stream must be one of j, b, jm, bm'):
        checkpoint_meta(config, 'tf2019', 'prenorm', 16, stream='bones')


# ---------------------------------------------------------------------------------------------------------
# The PYSKL stream


@pytest.fixture(scope='module')
def annotations(tmp_path_factory):
    """A PYSKL annotation pickle of synthetic NTU skeletons (tests/test_pyskl_recipe.py makes the same)."""
    root = tmp_path_factory.mktemp('pyskl')
    assert gen_synthetic_data.main(['--out', str(root / 'skeletons'), '--num-classes', '2', '--num-performers', '4',
                                    '--replications', '1', '--min-frames', '20', '--max-frames', '32',
                                    '--seed', '1']) == 0
    out = root / 'ntu60_3danno.pkl'
    assert gen_pyskl_data.main(['--data-path', str(root / 'skeletons'), '--dataset', 'ntu60', '--out', str(out),
                                '--ignored-sample-path', '', '--workers', '1', '--no-progress']) == 0
    return out


def test_the_stream_is_recorded_and_the_test_phase_asks_for_it(annotations, tmp_path, capsys):
    pickle_args = ['--train-data-path', annotations, '--train-split', 'xsub_train', '--test-data-path', annotations,
                   '--test-split', 'xsub_val', '--clip-len', 16]
    argv = ['--model-preset', 'pyskl', '--channels', 8, 8, 8, '--batch-size', 4, '--steps', '--num-epochs', 1,
            '--stream', 'b', '--checkpoint-path', tmp_path / 'ckpt', '--log-dir', tmp_path / 'logs',
            '--no-progress'] + pickle_args
    assert main.main([str(a) for a in argv]) == 0
    assert read_checkpoint_meta(tmp_path / 'ckpt')['stream'] == 'b'
    test = ['--phase', 'test', '--weights', tmp_path / 'ckpt', '--log-dir', tmp_path / 'test_logs',
            '--no-progress'] + pickle_args
    capsys.readouterr()
    assert main.main([str(a) for a in test]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: --weights {tmp_path / 'ckpt'} was trained on the 'b' stream but this run reads the "
                       f"'j' stream of {annotations}: pass --stream b")
    assert main.main([str(a) for a in test + ['--stream', 'b']]) == 0
