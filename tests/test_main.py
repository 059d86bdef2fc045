"""main.py in one process: train -> evaluate -> test, the files it writes, precision options, and its errors."""
import json
import pickle

import keras
import numpy as np
import pytest
import tensorflow as tf

import main
from data_gen import gen_tfrecord_data
from model.weights import load_pretrained
from tests.events import scalars
from tests.tiny_data import TINY_MODEL as TINY, write_tiny_records
from training import loop
from training.config import resolve_config


@pytest.fixture(scope='module')
def data(tiny_records):
    return tiny_records


# main.py runs set a mixed-precision policy for the process: each test here leaves it float32 again.
pytestmark = pytest.mark.usefixtures('float32_policy')


def run(args, tmp_path):
    argv = TINY + ['--checkpoint-path', str(tmp_path / 'ckpt'), '--log-dir', str(tmp_path / 'logs')] + args
    return main.main([str(a) for a in argv])


def test_train_evaluate_then_test_phase(data, tmp_path, capsys):
    scores = tmp_path / 'scores.pkl'
    assert run(['--train-data-path', data / 'train', '--test-data-path', data / 'val', '--num-epochs', 2,
                '--steps', 1, '--save-scores', scores], tmp_path) == 0
    out = capsys.readouterr().out
    assert 'replicas: 1, global batch: 4 (4 per replica), steps per epoch: 4, train samples: 16' in out
    assert out.count('eval on 7 samples') == 2  # every epoch, the partial last batch kept
    assert tf.train.latest_checkpoint(tmp_path / 'ckpt').endswith('ckpt-2')
    assert tf.train.latest_checkpoint(tmp_path / 'ckpt' / 'best') is not None
    reader = tf.train.load_checkpoint(str(tmp_path / 'ckpt'))
    assert reader.get_tensor('epoch/.ATTRIBUTES/VARIABLE_VALUE') == 2
    assert reader.get_tensor('step/.ATTRIBUTES/VARIABLE_VALUE') == 8
    logs = tmp_path / 'logs'
    assert (logs / 'config.yaml').is_file()
    assert list(logs.glob('events.out.tfevents.*'))
    assert (logs / 'confusion_matrix.csv').is_file()
    # The per-class CSV names the actions (the tiny records are filed under NTU's A001-A003) and their support.
    rows = (logs / 'per_class_accuracy.csv').read_text().splitlines()
    assert rows[0] == 'class,name,num_samples,accuracy'
    assert [row.split(',')[:3] for row in rows[1:]] == [['0', 'drink water', '3'], ['1', 'eat meal/snack', '2'],
                                                         ['2', 'brushing teeth', '2']]
    with open(scores, 'rb') as f:
        score_map = pickle.load(f)
    assert len(score_map) == 7 and all(np.shape(v) == (3,) for v in score_map.values())

    # The checkpoint records the T the records were stored at: predict pads a recording to it.
    assert load_pretrained(tmp_path / 'ckpt').meta['max_frame'] == 16
    # The checkpoint alone rebuilds its model for --phase test (preset and classes stored in it).
    assert main.main(['--phase', 'test', '--test-data-path', str(data / 'val'), '--weights', str(tmp_path / 'ckpt'),
                      '--num-classes', '3', '--batch-size', '3', '--log-dir', str(tmp_path / 'test_logs'),
                      '--no-progress']) == 0
    assert 'eval on 7 samples: top-1' in capsys.readouterr().out


def test_test_phase_warns_on_data_mode_mismatch(data, tmp_path, capsys):
    assert run(['--train-data-path', data / 'train', '--test-data-path', data / 'val', '--num-epochs', 1,
                '--steps'], tmp_path) == 0
    raw = tmp_path / 'raw_val'
    write_tiny_records(raw, 7, seed=1, stem='val', data_mode='raw')
    capsys.readouterr()
    assert main.main(['--phase', 'test', '--test-data-path', str(raw), '--weights', str(tmp_path / 'ckpt'),
                      '--num-classes', '3', '--log-dir', str(tmp_path / 'test_logs'), '--no-progress']) == 0
    err = capsys.readouterr().err
    assert "was trained on 'prenorm' data" in err and "holds 'raw' data" in err


@pytest.mark.parametrize('flags,compute_dtype', [(['--mixed-precision', 'bf16'], 'bfloat16'),
                                                 (['--mixed-precision', 'fp16'], 'float16'),
                                                 (['--jit'], 'float32')])
def test_precision_and_xla_train(data, tmp_path, flags, compute_dtype):
    """Two epochs of 4 steps, the LR dropping x0.1 at epoch 2: finite losses, the LR exactly at the boundary,
    the blocks computing in the policy's dtype and float32 logits."""
    argv = TINY + ['--train-data-path', data / 'train', '--test-data-path', data / 'val', '--num-epochs', 2,
                   '--steps', 1, '--checkpoint-path', tmp_path / 'ckpt', '--log-dir', tmp_path / 'logs'] + flags
    model = main.run(resolve_config([str(a) for a in argv]))
    losses = scalars(tmp_path / 'logs', 'train/loss')
    assert sorted(losses) == list(range(8)) and all(np.isfinite(v) for v in losses.values())
    lr = scalars(tmp_path / 'logs', 'train/lr')
    assert [lr[s] for s in (0, 3, 4, 7)] == pytest.approx([0.05, 0.05, 0.005, 0.005], rel=1e-6)
    assert {block.compute_dtype for block in model.blocks} == {compute_dtype}
    assert model.fcn.compute_dtype == 'float32'
    logits = model(np.zeros((2, 3, 16, 25, 2), np.float32), training=False)
    assert logits.dtype == 'float32' and logits.shape == (2, 3) and np.all(np.isfinite(np.asarray(logits)))


def _poison_shards(folder):
    """Rewrite every record of the shards in `folder` with NaN samples, as a tool without this project's checks
    might have written them (gen_tfrecord_data refuses them); the sizes meta.json records stay the same."""
    meta = json.loads((folder / 'meta.json').read_text())
    for name in meta['shards']:
        records = list(tf.data.TFRecordDataset(str(folder / name)))
        with tf.io.TFRecordWriter(str(folder / name)) as writer:
            for record in records:
                example = tf.io.parse_single_example(record, {'label': tf.io.FixedLenFeature([], tf.int64),
                                                              'name': tf.io.FixedLenFeature([], tf.string)})
                x = np.full(meta['sample_shape'], np.nan, np.float32)
                writer.write(gen_tfrecord_data.serialize_example(x, int(example['label']),
                                                                 example['name'].numpy().decode()))


def test_non_finite_loss_stops_naming_the_step(tmp_path, capsys):
    bad = tmp_path / 'nan'
    write_tiny_records(bad, 8, num_shards=2)
    _poison_shards(bad)
    capsys.readouterr()
    assert run(['--train-data-path', bad, '--test-data-path', bad, '--num-epochs', 1, '--steps'], tmp_path) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: loss is nan, the gradient norm is nan, a weight turned NaN or infinite at step 0 '
                          '(epoch 1); stopping'), err
    assert tf.train.latest_checkpoint(tmp_path / 'ckpt') is None


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: ') and '\n' not in err and 'Traceback' not in err, err
    return err


@pytest.mark.parametrize('args,needle', [
    (['--train-data-path', '/no/such/dir'], '--train-data-path /no/such/dir: no such folder'),
    (['--gpus', '3'], '--gpus: GPU 3 does not exist'),
    (['--model-preset', 'resnet'], "--model-preset"),
    (['--num-classes', '5'], 'the model has 5 classes (--num-classes or the weights) but'),
    (['--batch-size', '0'], '--batch-size 0: must be >= 1'),
    (['--batch-size', '32'], '16 samples is fewer than one global batch of 32 (32 per replica x 1)'),
])
def test_errors_exit_2_with_one_line(data, tmp_path, capsys, args, needle):
    base = ['--train-data-path', data / 'train', '--test-data-path', data / 'val', '--num-epochs', 1, '--steps']
    assert run(base + args, tmp_path) == 2
    assert needle in _one_line_error(capsys)


def test_empty_folder_and_wrong_shape_are_errors(tmp_path, capsys):
    (tmp_path / 'empty').mkdir()
    capsys.readouterr()
    assert run(['--train-data-path', tmp_path / 'empty', '--test-data-path', tmp_path / 'empty'], tmp_path) == 2
    assert 'no *.tfrecord files' in _one_line_error(capsys)

    wrong = tmp_path / 'wrong'
    write_tiny_records(wrong, 8, num_shards=2, transform=lambda x: x[:, :, :, :18])  # an 18-joint layout
    capsys.readouterr()
    assert run(['--train-data-path', wrong, '--test-data-path', wrong], tmp_path) == 2
    assert 'records hold samples of shape (C, T, V, M) = (3, 16, 18, 2)' in _one_line_error(capsys)


def test_config_typo_names_the_key(tmp_path, capsys):
    cfg = tmp_path / 'bad.yaml'
    cfg.write_text('base_lr: 0.1\nnum_epochs: 3\n')
    assert main.main(['--config', str(cfg)]) == 2
    assert f'{cfg}:2: unknown key num_epochs; did you mean num_epoch?' in _one_line_error(capsys)


def test_predict_and_export_phases_through_main(data, tmp_path, capsys):
    assert run(['--train-data-path', data / 'train', '--test-data-path', data / 'val', '--num-epochs', 1,
                '--steps'], tmp_path) == 0
    capsys.readouterr()
    skeletons = ['tests/fixtures/ntu/skeletons/S001C001P001R001A001.skeleton',
                 'tests/fixtures/ntu/skeletons/S001C003P008R002A058.skeleton']
    assert main.main(['--phase', 'predict', '--weights', str(tmp_path / 'ckpt'), '--skeleton', *skeletons,
                      '--top-k', '2', '--json']) == 0
    lines = capsys.readouterr().out.splitlines()  # stdout holds the results only
    results = [json.loads(line) for line in lines]
    assert [r['file'] for r in results] == ['S001C001P001R001A001.skeleton', 'S001C003P008R002A058.skeleton']
    assert all(len(r['top_k']) == 2 and r['top_k'][0]['prob'] >= r['top_k'][1]['prob'] for r in results)

    bad = 'tests/fixtures/ntu/bad/S001C001P001R001A002_field_count.skeleton'
    assert main.main(['--phase', 'predict', '--weights', str(tmp_path / 'ckpt'), '--skeleton', bad]) == 2
    assert f'{bad}:6: expected 12 joint fields' in capsys.readouterr().err

    assert main.main(['--phase', 'export', '--weights', str(tmp_path / 'ckpt'),
                      '--export-dir', str(tmp_path / 'export')]) == 0
    served = tf.saved_model.load(str(tmp_path / 'export')).signatures['serving_default']
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 25, 2)).astype(np.float32)
    reference = load_pretrained(tmp_path / 'ckpt')(x, training=False)
    np.testing.assert_allclose(served(x=tf.constant(x))['logits'], reference, atol=1e-5)


def test_corrupted_shard_is_named(tmp_path, capsys):
    bad = tmp_path / 'flipped'
    write_tiny_records(bad, 8, num_shards=2)
    shard = bad / 'train-1.tfrecord'
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, so meta.json's size check passes; the record CRC fails
    shard.write_bytes(bytes(raw))
    capsys.readouterr()
    assert run(['--train-data-path', bad, '--test-data-path', bad, '--num-epochs', 1, '--steps'], tmp_path) == 2
    err = _one_line_error(capsys)
    assert f'{shard}: corrupted TFRecord' in err and 'regenerate' in err


def test_trains_from_npy_without_tfrecords(data, tmp_path, capsys):
    """The .npy/.pkl pair of gen_joint_data, read through a memmap; labels from the sibling {part}_label.pkl."""
    npy = data / 'train' / 'src' / 'train_data_joint.npy'
    val = data / 'val' / 'src' / 'val_data_joint.npy'
    assert run(['--train-data-path', npy, '--test-data-path', val, '--num-epochs', 1, '--steps'], tmp_path) == 0
    out = capsys.readouterr().out
    assert 'steps per epoch: 4, train samples: 16' in out and 'eval on 7 samples' in out
    assert run(['--train-data-path', npy, '--train-label-path', tmp_path / 'none.pkl', '--test-data-path', val,
                '--num-epochs', 1, '--steps'], tmp_path) == 2
    assert f'{tmp_path / "none.pkl"}: no such file' in _one_line_error(capsys)


def test_labels_beyond_num_classes_without_meta_are_a_one_line_error(tmp_path, capsys):
    records = tmp_path / 'records'
    write_tiny_records(records, 8, num_class=3, num_shards=2)
    meta = json.loads((records / 'meta.json').read_text())
    meta['num_class'] = None  # as in shards written without a class count: only the labels can tell
    (records / 'meta.json').write_text(json.dumps(meta))
    capsys.readouterr()
    assert run(['--train-data-path', records, '--test-data-path', records, '--num-classes', 2, '--num-epochs', 1,
                '--steps'], tmp_path) == 2
    assert 'a training label is >= --num-classes 2' in _one_line_error(capsys)


def test_fp16_skipped_steps_do_not_delay_the_lr_drop():
    """The schedule reads main's step counter: a step the loss scaler skips (non-finite gradients) does not
    advance the optimizer's iterations, but the epoch still ends on time."""
    cfg = resolve_config(['--train-data-path', 'x', '--test-data-path', 'x', '--mixed-precision', 'fp16',
                               '--base-lr', '0.1', '--steps', '1', '--num-epochs', '2'])
    step = tf.Variable(0, dtype=tf.int64)
    optimizer, schedule = loop.build_optimizer(cfg, 1, step)  # one step per epoch: the drop comes at step 1
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    weight = keras.Variable(np.ones(3, np.float32))
    optimizer.build([weight])
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    optimizer.apply_gradients([(tf.constant([np.inf, 1.0, 1.0]), weight)])  # skipped by the loss scaler
    step.assign_add(1)  # as the train step does after every step
    assert int(optimizer.iterations.numpy()) == 0 and np.all(weight.numpy() == 1.0)
    assert float(optimizer.learning_rate) == pytest.approx(0.01)  # epoch 2 has begun: the drop is on time
