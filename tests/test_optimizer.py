"""TorchSGD against torch.optim.SGD(momentum=0.9, nesterov=True, weight_decay=1e-4) + MultiStepLR, step by step."""
import copy
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import tensorflow as tf
import torch

from training.optimizer import MOMENTUM, WEIGHT_DECAY, TorchSGD
from training.schedule import MultiStepLR

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPE = 3              # steps per epoch
MILESTONES = [1, 2]  # lr 0.1 for steps 0-2, 0.01 for 3-5, 0.001 for 6-7
NUM_STEPS = 8
BASE_LR = 0.1


def _problem(seed=0):
    """A quadratic loss sum(0.5 * a * p**2 + c * p) over three variables of different shapes: the gradient
    a * p + c depends on p, so coupled decay and momentum feed back into later gradients."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), (2, 2, 3)]
    inits = [rng.normal(size=s).astype(np.float32) for s in shapes]
    a = [rng.uniform(0.5, 2.0, size=s).astype(np.float32) for s in shapes]
    c = [rng.normal(size=s).astype(np.float32) for s in shapes]
    return inits, a, c


def _torch_loss(params, a, c):
    return sum((0.5 * torch.tensor(ai) * p ** 2 + torch.tensor(ci) * p).sum() for p, ai, ci in zip(params, a, c))


def _torch_trajectory(inits, a, c, milestones=MILESTONES):
    params = [torch.tensor(p, requires_grad=True) for p in inits]
    opt = torch.optim.SGD(params, lr=BASE_LR, momentum=0.9, nesterov=True, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    out = []
    for step in range(NUM_STEPS):
        opt.zero_grad()
        _torch_loss(params, a, c).backward()
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
        if (step + 1) % SPE == 0:  # MultiStepLR is stepped once per epoch, as the official code adjusts lr
            sched.step()
    return out


def _keras_trajectory(opt, inits, a, c, scale_loss=False):
    variables = [keras.Variable(p) for p in inits]
    # Tensors, not numpy arrays, on the left of `*`: numpy would turn the variable into a constant array.
    a, c = [tf.constant(x) for x in a], [tf.constant(x) for x in c]
    out = []
    for _ in range(NUM_STEPS):
        with tf.GradientTape() as tape:
            loss = tf.add_n([tf.reduce_sum(0.5 * ai * v ** 2 + ci * v) for v, ai, ci in zip(variables, a, c)])
            if scale_loss:
                loss = opt.scale_loss(loss)
        grads = tape.gradient(loss, variables)
        opt.apply(grads, variables)
        out.append([v.numpy().copy() for v in variables])
    return out


def _max_diff(traj_a, traj_b):
    return max(float(np.abs(x - y).max()) for step_a, step_b in zip(traj_a, traj_b) for x, y in zip(step_a, step_b))


def _schedule(milestones=MILESTONES):
    return MultiStepLR(BASE_LR, milestones, SPE)


def test_official_constants():
    assert MOMENTUM == 0.9 and WEIGHT_DECAY == 1e-4


def test_matches_torch_sgd_every_step_across_lr_drops():
    inits, a, c = _problem()
    ref = _torch_trajectory(inits, a, c)
    got = _keras_trajectory(TorchSGD(_schedule()), inits, a, c)
    assert _max_diff(ref, got) < 1e-6
    # The trajectory really moved, and the lr drops are in it (not a trivially matching no-op).
    assert np.abs(ref[-1][0] - inits[0]).max() > 0.1


def test_keras_sgd_differs_from_torch():
    inits, a, c = _problem()
    ref = _torch_trajectory(inits, a, c)
    keras_sgd = keras.optimizers.SGD(_schedule(), momentum=0.9, nesterov=True, weight_decay=1e-4)
    assert _max_diff(ref, _keras_trajectory(keras_sgd, inits, a, c)) > 1e-3


def test_keras_sgd_differs_even_at_constant_lr_because_decay_is_decoupled():
    inits, a, c = _problem()
    ref = _torch_trajectory(inits, a, c, milestones=[100])
    keras_sgd = keras.optimizers.SGD(BASE_LR, momentum=0.9, nesterov=True, weight_decay=1e-4)
    keras_diff = _max_diff(ref, _keras_trajectory(keras_sgd, inits, a, c))
    ours_diff = _max_diff(ref, _keras_trajectory(TorchSGD(BASE_LR), inits, a, c))
    assert ours_diff < 1e-6 < 1e-5 < keras_diff


def test_base_class_decay_is_never_applied():
    opt = TorchSGD(0.1, weight_decay=1e-4)
    assert opt.weight_decay is None and opt.coupled_weight_decay == 1e-4


def test_plain_momentum_and_no_decay_match_torch():
    inits, a, c = _problem(seed=1)
    params = [torch.tensor(p, requires_grad=True) for p in inits]
    ref_opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=False, weight_decay=0.0)
    ref = []
    for _ in range(NUM_STEPS):
        ref_opt.zero_grad()
        _torch_loss(params, a, c).backward()
        ref_opt.step()
        ref.append([p.detach().numpy().copy() for p in params])
    got = _keras_trajectory(TorchSGD(0.05, nesterov=False, weight_decay=0.0), inits, a, c)
    assert _max_diff(ref, got) < 1e-6


def test_loss_scale_optimizer_wrapping_matches_torch_and_skips_non_finite_steps():
    inits, a, c = _problem()
    ref = _torch_trajectory(inits, a, c)
    opt = keras.optimizers.LossScaleOptimizer(TorchSGD(_schedule()), initial_scale=2.0 ** 10)
    assert _max_diff(ref, _keras_trajectory(opt, inits, a, c, scale_loss=True)) < 1e-6

    variables = [keras.Variable(p) for p in inits]
    opt = keras.optimizers.LossScaleOptimizer(TorchSGD(_schedule()), initial_scale=2.0 ** 10)
    opt.apply([tf.fill(v.shape, np.inf) for v in variables], variables)
    for v, p in zip(variables, inits):
        np.testing.assert_array_equal(v.numpy(), p)
    assert float(opt.dynamic_scale.numpy()) == 2.0 ** 9


def test_config_round_trip():
    opt = TorchSGD(_schedule(), momentum=0.8, nesterov=False, weight_decay=5e-4)
    config = opt.get_config()
    again = TorchSGD.from_config(copy.deepcopy(config))  # from_config deserialises the schedule in place
    assert (again.momentum, again.nesterov, again.coupled_weight_decay, again.weight_decay) == (0.8, False, 5e-4, None)
    assert again.get_config() == config
    # Through Keras' own serialisation too (the class and the schedule are registered).
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again, TorchSGD) and isinstance(again._learning_rate, MultiStepLR)
    assert again.get_config() == config


def test_rejects_bad_arguments():
    for kwargs in ({'momentum': 1.0}, {'momentum': 0.0, 'nesterov': True}, {'weight_decay': -1.0}):
        try:
            TorchSGD(0.1, **kwargs)
        except ValueError:
            continue
        raise AssertionError(f'accepted {kwargs}')


# Under MirroredStrategy over two logical CPU devices: each replica computes the gradient of its half of a
# global batch of 4 with loss scaled by the GLOBAL batch (tf.nn.compute_average_loss), the optimizer
# all-reduces (sums) them, and the result must equal torch on the whole batch. Logical devices can only be
# configured before TensorFlow initialises, hence a subprocess.
_STRATEGY_SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from training.optimizer import TorchSGD
    from training.schedule import MultiStepLR

    args = json.loads(sys.argv[1])
    x, y = np.array(args['x'], np.float32), np.array(args['y'], np.float32)
    strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
    assert strategy.num_replicas_in_sync == 2
    results = {}
    for wrap in (False, True):
        with strategy.scope():
            w = keras.Variable(np.array(args['w'], np.float32))
            b = keras.Variable(np.array(args['b'], np.float32))
            opt = TorchSGD(MultiStepLR(args['lr'], args['milestones'], args['spe']))
            if wrap:
                opt = keras.optimizers.LossScaleOptimizer(opt, initial_scale=2.0 ** 8)
            # Optimizer variables must exist before the first tf.function step under a strategy.
            opt.build([w, b])
        shards = strategy.experimental_distribute_values_from_function(
            lambda ctx: (x[2 * ctx.replica_id_in_sync_group:2 * ctx.replica_id_in_sync_group + 2],
                         y[2 * ctx.replica_id_in_sync_group:2 * ctx.replica_id_in_sync_group + 2]))

        def replica_step(xs, ys):
            with tf.GradientTape() as tape:
                per_sample = 0.5 * tf.reduce_sum((tf.matmul(xs, w) + b - ys) ** 2, axis=1)
                loss = tf.nn.compute_average_loss(per_sample, global_batch_size=4)
                if wrap:
                    loss = opt.scale_loss(loss)
            grads = tape.gradient(loss, [w, b])
            opt.apply(grads, [w, b])

        step = tf.function(lambda s: strategy.run(replica_step, args=s))
        trajectory = []
        for _ in range(args['num_steps']):
            step(shards)
            trajectory.append([w.numpy().tolist(), b.numpy().tolist()])
        results['wrapped' if wrap else 'plain'] = trajectory
    print(json.dumps(results))
''')


def test_mirrored_strategy_two_replicas_matches_torch_full_batch():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    y = rng.normal(size=(4, 2)).astype(np.float32)
    w0 = rng.normal(size=(3, 2)).astype(np.float32)
    b0 = rng.normal(size=(2,)).astype(np.float32)

    w, b = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=BASE_LR, momentum=0.9, nesterov=True, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=MILESTONES, gamma=0.1)
    ref = []
    for step in range(NUM_STEPS):
        opt.zero_grad()
        (0.5 * ((torch.tensor(x) @ w + b - torch.tensor(y)) ** 2).sum(dim=1)).mean().backward()
        opt.step()
        ref.append([w.detach().numpy().copy(), b.detach().numpy().copy()])
        if (step + 1) % SPE == 0:
            sched.step()

    args = {'x': x.tolist(), 'y': y.tolist(), 'w': w0.tolist(), 'b': b0.tolist(), 'lr': BASE_LR,
            'milestones': MILESTONES, 'spe': SPE, 'num_steps': NUM_STEPS}
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES='', TF_CPP_MIN_LOG_LEVEL='2')
    proc = subprocess.run([sys.executable, '-c', _STRATEGY_SCRIPT, json.dumps(args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ('plain', 'wrapped'):
        got = [[np.array(v, np.float32) for v in step] for step in results[name]]
        assert _max_diff(ref, got) < 1e-6, name


def test_checkpoint_restores_buffers_and_step_so_resuming_is_exact(tmp_path):
    """tf.train.Checkpoint saves the momentum buffers and the step (hence the lr); a restored optimizer
    continues exactly where the saved one was."""
    inits, a, c = _problem()
    ref = _torch_trajectory(inits, a, c)
    a_t, c_t = [tf.constant(x) for x in a], [tf.constant(x) for x in c]

    def run(opt, variables, num_steps):
        for _ in range(num_steps):
            with tf.GradientTape() as tape:
                loss = tf.add_n([tf.reduce_sum(0.5 * ai * v ** 2 + ci * v) for v, ai, ci in zip(variables, a_t, c_t)])
            opt.apply(tape.gradient(loss, variables), variables)

    variables, opt = [keras.Variable(p) for p in inits], TorchSGD(_schedule())
    run(opt, variables, 4)
    path = tf.train.Checkpoint(v=variables, optimizer=opt).save(str(tmp_path / 'ckpt'))

    fresh, fresh_opt = [keras.Variable(np.zeros_like(p)) for p in inits], TorchSGD(_schedule())
    fresh_opt.build(fresh)
    tf.train.Checkpoint(v=fresh, optimizer=fresh_opt).restore(path).assert_existing_objects_matched()
    assert int(fresh_opt.iterations.numpy()) == 4
    run(fresh_opt, fresh, NUM_STEPS - 4)
    assert _max_diff(ref[-1:], [[v.numpy() for v in fresh]]) < 1e-6
