"""main.py across devices and processes: MirroredStrategy over two logical CPUs, MultiWorkerMirroredStrategy with
two local workers, and resuming after SIGKILL. Each run is its own process (devices are fixed at TF start-up)."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from model.weights import load_pretrained
from tests.tiny_data import TINY_MODEL, write_tiny_records

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', CUDA_VISIBLE_DEVICES='')
ENV.pop('TF_CONFIG', None)


@pytest.fixture(scope='module')
def data(tiny_records):
    return tiny_records


def command(args, script='main.py'):
    return [sys.executable, script] + TINY_MODEL + [str(a) for a in args]


def run(args, env=ENV, timeout=300):
    proc = subprocess.run(command(args), env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def checkpoint_values(folder):
    reader = tf.train.load_checkpoint(str(folder))
    dtypes = reader.get_variable_to_dtype_map()
    return {k: reader.get_tensor(k) for k in dtypes if dtypes[k].is_floating}


def test_mirrored_two_cpus_equals_one_device(data, tmp_path):
    """Same weights and optimizer state after a step on 1 device (batch 4) and on 2 replicas (2 each), BN
    synchronised: the loss is averaged over the global batch and the gradients of the BN statistics are
    summed across replicas (model/stgcn.py SyncBatchNormalization)."""
    write_tiny_records(tmp_path / 'step', 4, num_shards=2)  # 4 samples, global batch 4: exactly one step
    common = ['--train-data-path', tmp_path / 'step', '--test-data-path', data / 'val', '--num-epochs', 1, '--steps',
              '--sync-bn']
    out1 = run(common + ['--cpu-replicas', 1, '--batch-size', 4, '--checkpoint-path', tmp_path / 'one',
                         '--log-dir', tmp_path / 'one_logs'])
    out2 = run(common + ['--cpu-replicas', 2, '--batch-size', 2, '--checkpoint-path', tmp_path / 'two',
                         '--log-dir', tmp_path / 'two_logs'])
    assert 'replicas: 1, global batch: 4 (4 per replica), steps per epoch: 1' in out1
    assert 'replicas: 2, global batch: 4 (2 per replica), steps per epoch: 1' in out2
    # The weights, rebuilt from each checkpoint alone, to 1e-6 (the acceptance bound).
    weights_one = load_pretrained(tmp_path / 'one').get_weights()
    weights_two = load_pretrained(tmp_path / 'two').get_weights()
    assert len(weights_one) == len(weights_two) > 50
    for a, b in zip(weights_one, weights_two):
        np.testing.assert_allclose(b, a, atol=1e-6, rtol=0)
    # Everything in the checkpoint, optimizer buffers included (gradients of ~1e-7 carry float noise).
    one, two = checkpoint_values(tmp_path / 'one'), checkpoint_values(tmp_path / 'two')
    assert one.keys() == two.keys()
    for key in one:
        np.testing.assert_allclose(two[key], one[key], atol=1e-5, rtol=0, err_msg=key)
    buffers = [v for k, v in one.items() if k.startswith('optimizer/') and v.ndim > 0]
    assert sum(bool(np.any(v != 0)) for v in buffers) > 50  # not vacuous: the step filled the momentum buffers


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(('127.0.0.1', 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_two_processes_end_identical(data, tmp_path):
    workers = [f'127.0.0.1:{port}' for port in _free_ports(2)]
    args = ['--train-data-path', data / 'train', '--test-data-path', data / 'val', '--num-epochs', 1, '--steps',
            '--sync-bn', '--batch-size', 2, '--checkpoint-path', tmp_path / 'ckpt', '--log-dir', tmp_path / 'logs',
            '--save-scores', tmp_path / 'scores.pkl']
    procs = []
    for index in range(2):
        tf_config = {'cluster': {'worker': workers}, 'task': {'type': 'worker', 'index': index}}
        procs.append(subprocess.Popen(command(args, 'tests/train_and_fingerprint.py'),
                                      env=dict(ENV, TF_CONFIG=json.dumps(tf_config)),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = []
    for proc in procs:
        try:
            outs.append(proc.communicate(timeout=300)[0])
        finally:
            proc.kill()
    assert [p.returncode for p in procs] == [0, 0], '\n'.join(o[-2000:] for o in outs)
    for out in outs:
        assert 'replicas: 2, global batch: 4 (2 per replica), steps per epoch: 4' in out
        assert 'eval on 7 samples' in out  # every worker's shard gathered
    prints = [re.search(r'weights fingerprint (trainable .*)', out).group(1) for out in outs]
    assert prints[0] == prints[1]
    # Only the chief wrote the real checkpoint and the scores.
    assert tf.train.latest_checkpoint(str(tmp_path / 'ckpt')).endswith('ckpt-1')
    assert (tmp_path / 'scores.pkl').is_file()


def test_sigkill_mid_epoch_then_resume(tmp_path):
    write_tiny_records(tmp_path / 'train', 256, seed=0, num_shards=8)
    write_tiny_records(tmp_path / 'val', 8, seed=1, stem='val')
    ckpt = tmp_path / 'ckpt'
    args = ['--train-data-path', tmp_path / 'train', '--test-data-path', tmp_path / 'val', '--num-epochs', 3,
            '--steps', 2, '--save-freq', 1, '--eval-freq', 3, '--checkpoint-path', ckpt,
            '--log-dir', tmp_path / 'logs']
    proc = subprocess.Popen(command(args), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 240
        while tf.train.latest_checkpoint(str(ckpt)) is None:  # the first epoch's checkpoint is complete
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    killed_at = int(tf.train.latest_checkpoint(str(ckpt)).rsplit('-', 1)[1])
    assert killed_at < 3, 'the run finished before it was killed: the test did not test resuming'

    out = run(args)
    assert re.search(rf'resuming from \S+ckpt-{killed_at}: epoch {killed_at}, step {killed_at * 64}', out), out
    assert f'epoch {killed_at}:' not in out and 'epoch 3:' in out
    reader = tf.train.load_checkpoint(str(ckpt))
    assert tf.train.latest_checkpoint(str(ckpt)).endswith('ckpt-3')
    assert reader.get_tensor('epoch/.ATTRIBUTES/VARIABLE_VALUE') == 3
    assert reader.get_tensor('step/.ATTRIBUTES/VARIABLE_VALUE') == 3 * 64


def _final_weights(folder):
    return load_pretrained(folder).get_weights()


@pytest.mark.parametrize('replicas', [1, 2])
def test_sigterm_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, replicas):
    """SIGTERM saves a mid-epoch checkpoint (step and position in the epoch); the resumed run sees the batches the
    uninterrupted one saw, so both end with the same weights."""
    write_tiny_records(tmp_path / 'train', 128, seed=0, num_shards=8)  # 32 steps an epoch
    write_tiny_records(tmp_path / 'val', 8, seed=1, stem='val')
    # One evaluation, at the end: evaluations leave the weights alone, and each costs seconds per process.
    common = ['--train-data-path', tmp_path / 'train', '--test-data-path', tmp_path / 'val', '--num-epochs', 3,
              '--steps', 2, '--cpu-replicas', replicas, '--batch-size', 4 // replicas, '--eval-freq', 3]
    run(common + ['--checkpoint-path', tmp_path / 'whole', '--log-dir', tmp_path / 'whole_logs'])

    args = common + ['--checkpoint-path', tmp_path / 'cut', '--log-dir', tmp_path / 'cut_logs']
    proc = subprocess.Popen(command(args), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # the first epoch is done: the signal lands in the second or the third
            if line.startswith('epoch 1:'):
                break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=240)
    finally:
        proc.kill()
    assert proc.returncode == 143, err[-2000:]
    stopped = int(re.search(r'stopped by SIGTERM at step (\d+)', err).group(1))
    assert 32 < stopped < 3 * 32 and stopped % 32, stopped  # inside an epoch, not at its end
    out = run(args)
    assert re.search(rf'resuming from \S+interrupted/ckpt-{stopped}: epoch {stopped // 32}, step {stopped}', out), out
    whole, cut = _final_weights(tmp_path / 'whole'), _final_weights(tmp_path / 'cut')
    assert len(whole) == len(cut) > 50
    for a, b in zip(whole, cut):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
