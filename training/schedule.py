"""The official step schedule: lr x gamma at the start of each epoch listed in `step` (docs/reference.md section 4).

The official code calls `adjust_lr` at the start of every epoch with lr = base_lr * 0.1 ** (number of
entries of `step` <= epoch), like torch's MultiStepLR stepped once per epoch: epoch e (0-based) runs
entirely at the decayed lr once e reaches a boundary, so global step e * steps_per_epoch is the first step
with the new lr. The schedule is a function of the optimizer step, so steps_per_epoch must be the real
number of steps of one epoch: dataset size over the GLOBAL batch. The 2019 port hard-coded 40,000 samples
and the per-replica batch, which moved its first decay to about epoch 20 and never reached the second
(docs/reference.md section 5).

PYSKL's recipe instead anneals the lr on a cosine every iteration (CosineLR), and scales it linearly with the
global batch (scaled_lr).
"""
import keras
import numpy as np
from keras import ops

# Official recipe: lr x 0.1 at each boundary.
GAMMA = 0.1


def steps_per_epoch(num_samples, global_batch):
    """Optimizer steps in one epoch of `num_samples` at `global_batch` samples per step.

    The training feeder drops the last partial batch (as the official DataLoader(drop_last=True)), so a
    remainder does not count as a step.
    """
    if num_samples < 1 or global_batch < 1:
        raise ValueError(f'need num_samples >= 1 and global_batch >= 1, got {num_samples}, {global_batch}')
    steps = num_samples // global_batch
    if steps == 0:
        raise ValueError(f'{num_samples} samples make no full batch of {global_batch}: an epoch would be empty')
    return steps


@keras.saving.register_keras_serializable(package='stgcn')
class MultiStepLR(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = base_lr * gamma ** (number of boundaries e with e * steps_per_epoch <= step).

    `boundaries_epochs` are epoch numbers (the YAML `step` list), strictly increasing and >= 1.
    """

    def __init__(self, base_lr, boundaries_epochs, steps_per_epoch, gamma=GAMMA):
        boundaries_epochs = [int(e) for e in boundaries_epochs]
        if any(b <= a for a, b in zip(boundaries_epochs, boundaries_epochs[1:])) or \
                any(e < 1 for e in boundaries_epochs):
            raise ValueError(f'boundaries_epochs must be strictly increasing epochs >= 1, got {boundaries_epochs}')
        if steps_per_epoch < 1:
            raise ValueError(f'steps_per_epoch must be >= 1, got {steps_per_epoch}')
        self.base_lr = float(base_lr)
        self.boundaries_epochs = boundaries_epochs
        self.steps_per_epoch = int(steps_per_epoch)
        self.gamma = float(gamma)

    def __call__(self, step):
        step = ops.cast(step, 'int64')
        num_decays = ops.zeros((), dtype='int32')
        for epoch in self.boundaries_epochs:
            reached = ops.greater_equal(step, epoch * self.steps_per_epoch)
            num_decays = num_decays + ops.cast(reached, 'int32')
        # A Python float power per count keeps the values bit-identical to base_lr * gamma ** k in Python.
        values = ops.convert_to_tensor([self.base_lr * self.gamma ** k
                                        for k in range(len(self.boundaries_epochs) + 1)], dtype='float32')
        return ops.take(values, num_decays)

    def get_config(self):
        return {'base_lr': self.base_lr, 'boundaries_epochs': list(self.boundaries_epochs),
                'steps_per_epoch': self.steps_per_epoch, 'gamma': self.gamma}


# PYSKL's recipe (kennymckormick/pyskl:configs/stgcn/stgcn_pyskl_ntu60_xsub_3dkp/j.py): lr 0.1 for a
# batch of 16 per GPU x 8 GPUs.
PYSKL_BASE_LR = 0.1
PYSKL_REFERENCE_BATCH = 128


def scaled_lr(global_batch, base_lr=PYSKL_BASE_LR, reference_batch=PYSKL_REFERENCE_BATCH):
    """The linear scaling rule: base_lr was tuned for reference_batch samples a step; scale it with the batch.

    PYSKL's configs give lr 0.1 for 8 GPUs x 16; the rule (common practice, not in PYSKL's code) keeps the
    recipe's lr per sample when the run uses another global batch.
    """
    if global_batch < 1 or reference_batch < 1:
        raise ValueError(f'need global_batch >= 1 and reference_batch >= 1, got {global_batch}, {reference_batch}')
    return float(base_lr) * global_batch / reference_batch


@keras.saving.register_keras_serializable(package='stgcn')
class CosineLR(keras.optimizers.schedules.LearningRateSchedule):
    """mmcv's CosineAnnealingLrUpdaterHook(min_lr, by_epoch=False), PYSKL's recipe: one value per iteration.

    lr(step) = min_lr + (base_lr - min_lr) * (cos(pi * step / total_steps) + 1) / 2
    (open-mmlab/mmcv:mmcv/runner/hooks/lr_updater.py:annealing_cos, with the hook's progress runner.iter /
    runner.max_iters). mmcv sets it before each iteration from runner.iter, the iterations already done, as
    the optimizer's step counts here: step 0 runs at base_lr and the last step, total_steps - 1, still a
    little above min_lr (min_lr itself is never used). Steps past the end stay at min_lr (mmcv, which never
    runs them, would climb back up the cosine).
    """

    def __init__(self, base_lr, total_steps, min_lr=0.0):
        if total_steps < 1:
            raise ValueError(f'total_steps must be >= 1, got {total_steps}')
        self.base_lr, self.total_steps, self.min_lr = float(base_lr), int(total_steps), float(min_lr)

    def __call__(self, step):
        # float64: the progress of step 10^5 of 10^5 + 1 is still exact enough to give mmcv's value to 1e-7
        progress = ops.minimum(ops.cast(step, 'float64') / self.total_steps, 1.0)
        lr = self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (ops.cos(np.pi * progress) + 1.0)
        return ops.cast(lr, 'float32')

    def get_config(self):
        return {'base_lr': self.base_lr, 'total_steps': self.total_steps, 'min_lr': self.min_lr}
