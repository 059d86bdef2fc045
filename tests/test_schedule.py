"""MultiStepLR boundaries (step e * spe - 1 old lr, e * spe new lr) against torch's MultiStepLR per epoch."""
import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

from training.schedule import GAMMA, MultiStepLR, steps_per_epoch


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
