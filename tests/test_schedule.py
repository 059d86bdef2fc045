"""MultiStepLR boundaries (step e * spe - 1 old lr, e * spe new lr) against torch's MultiStepLR per epoch; CosineLR
against mmcv's CosineAnnealingLrUpdaterHook(by_epoch=False) re-stated; the linear lr scaling rule."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

from training.schedule import GAMMA, CosineLR, MultiStepLR, scaled_lr, steps_per_epoch


def test_official_gamma():
    assert GAMMA == 0.1


def test_boundary_steps_exact():
    spe = 7
    schedule = MultiStepLR(0.1, [2, 5], spe)
    lr = lambda step: float(schedule(step))  # noqa: E731
    assert lr(0) == lr(2 * spe - 1) == np.float32(0.1)
    assert lr(2 * spe) == lr(5 * spe - 1) == np.float32(0.1 * 0.1)
    assert lr(5 * spe) == lr(10 ** 6) == np.float32(0.1 * 0.1 * 0.1)


def test_matches_torch_multistep_stepped_per_epoch():
    spe, epochs = 5, 9
    schedule = MultiStepLR(0.1, [3, 7], spe)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    torch_sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[3, 7], gamma=0.1)
    for epoch in range(epochs):
        for i in range(spe):
            step = epoch * spe + i
            assert float(schedule(step)) == np.float32(opt.param_groups[0]['lr']), (epoch, step)
        opt.step()  # no gradients: a no-op that keeps torch from warning about the call order
        torch_sched.step()


def test_inside_tf_function_with_an_int64_step_variable():
    schedule = MultiStepLR(0.5, [1], 4)
    step = tf.Variable(3, dtype=tf.int64)
    fn = tf.function(lambda: schedule(step))
    assert float(fn()) == 0.5
    step.assign(4)
    assert float(fn()) == np.float32(0.05)


def test_config_round_trip():
    schedule = MultiStepLR(0.05, [10, 50], 626, gamma=0.2)
    again = MultiStepLR.from_config(schedule.get_config())
    assert again.get_config() == schedule.get_config() == {
        'base_lr': 0.05, 'boundaries_epochs': [10, 50], 'steps_per_epoch': 626, 'gamma': 0.2}
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(again, MultiStepLR) and again.get_config() == schedule.get_config()


@pytest.mark.parametrize('boundaries,spe', [([10, 10], 5), ([50, 10], 5), ([0, 10], 5), ([10], 0)])
def test_rejects_bad_boundaries(boundaries, spe):
    with pytest.raises(ValueError):
        MultiStepLR(0.1, boundaries, spe)


def test_steps_per_epoch_ntu60_xsub():
    # 40,091 training samples (docs/reference.md section 2) at global batch 64, last partial batch dropped:
    # 626 steps, so the official decays land at steps 6,260 and 31,300.
    assert steps_per_epoch(40091, 64) == 626
    assert steps_per_epoch(128, 64) == steps_per_epoch(191, 64) == 2


def test_steps_per_epoch_rejects_empty_epochs():
    for args in ((10, 64), (0, 64), (64, 0)):
        with pytest.raises(ValueError):
            steps_per_epoch(*args)


# ---- CosineLR: open-mmlab/mmcv:mmcv/runner/hooks/lr_updater.py re-stated ----

def _mmcv_annealing_cos(start, end, factor, weight=1):
    cos_out = math.cos(math.pi * factor) + 1
    return end + 0.5 * weight * (start - end) * cos_out


def _mmcv_cosine_lrs(base_lr, min_lr, max_epochs, epoch_len):
    """The lr mmcv's runner trains each iteration with: before_train_iter sets get_lr from runner.iter, the
    iterations done so far, with progress runner.iter / runner.max_iters (by_epoch=False)."""
    max_iters = max_epochs * epoch_len
    lrs = []
    for epoch in range(max_epochs):
        for i in range(epoch_len):
            runner_iter = epoch * epoch_len + i
            lrs.append(_mmcv_annealing_cos(base_lr, min_lr, runner_iter / max_iters))
    return lrs


@pytest.mark.parametrize('min_lr', [0.0, 1e-4])
def test_cosine_equals_mmcv_at_start_boundaries_midpoint_and_end(min_lr):
    epochs, epoch_len = 16, 25
    schedule = CosineLR(0.1, epochs * epoch_len, min_lr=min_lr)
    expected = _mmcv_cosine_lrs(0.1, min_lr, epochs, epoch_len)
    total = epochs * epoch_len
    steps = [0, 1, total // 2, total - 1] + [e * epoch_len + d for e in range(1, epochs) for d in (-1, 0)]
    for step in steps:
        assert abs(float(schedule(step)) - expected[step]) <= 1e-7, step
    assert float(schedule(0)) == np.float32(0.1)
    assert abs(float(schedule(total // 2)) - (0.1 + min_lr) / 2) <= 1e-7
    assert float(schedule(total - 1)) > min_lr  # mmcv never trains at min_lr itself
    assert float(schedule(total)) == float(schedule(10 * total)) == np.float32(min_lr)


def test_cosine_every_step_and_a_long_run_equal_mmcv():
    schedule = CosineLR(0.1, 7 * 13)
    np.testing.assert_allclose([float(schedule(s)) for s in range(7 * 13)], _mmcv_cosine_lrs(0.1, 0.0, 7, 13),
                               rtol=0, atol=1e-7)
    total = 80 * 313  # PYSKL's 16 epochs x RepeatDataset(5) of NTU-60 xsub at batch 128
    long = CosineLR(0.1, total)
    for step in (1, total // 3, total - 2, total - 1):
        assert abs(float(long(step)) - _mmcv_annealing_cos(0.1, 0.0, step / total)) <= 1e-7


def test_cosine_drives_keras_sgd_from_its_iterations():
    schedule = CosineLR(0.1, 10)
    variable = keras.Variable(1.0)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    for step in range(3):
        assert float(optimizer.learning_rate) == float(schedule(step))
        optimizer.apply([keras.ops.ones(())], [variable])
    assert float(variable) == pytest.approx(1.0 - sum(float(schedule(s)) for s in range(3)), abs=1e-6)


def test_cosine_inside_tf_function_and_config_round_trip():
    schedule = CosineLR(0.05, 100, min_lr=0.001)
    step = tf.Variable(50, dtype=tf.int64)
    assert abs(float(tf.function(lambda: schedule(step))()) - 0.0255) <= 1e-7
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(again, CosineLR) and again.get_config() == {'base_lr': 0.05, 'total_steps': 100,
                                                                  'min_lr': 0.001}
    with pytest.raises(ValueError, match='total_steps must be >= 1'):
        CosineLR(0.1, 0)


def test_linear_scaling_rule():
    assert scaled_lr(128) == 0.1
    assert scaled_lr(64) == 0.05 and scaled_lr(256) == 0.2
    assert scaled_lr(32, base_lr=0.2, reference_batch=64) == 0.1
    with pytest.raises(ValueError):
        scaled_lr(0)
