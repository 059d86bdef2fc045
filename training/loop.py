"""The training loop on tf.distribute: build the state (data, model, optimizer, checkpoint), then run the epochs.

The train step is written from one replica's view and run with strategy.run; the loss is averaged over the
global batch, so results do not depend on the replica count. Checkpoints hold the model, the optimizer, the
epoch, the step and the best top-1, plus the model's config (model.weights.checkpoint_meta), so a checkpoint
alone rebuilds its model and running the same command again resumes where the last checkpoint was taken.
"""
import contextlib
import dataclasses
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from model.finetune import backbone_variables, freeze_backbone, transplant
from model.stgcn import STGCN
from model.weights import checkpoint_meta, load_pretrained
from training.config import model_config
from training.errors import LABEL_CHECK, NonFiniteLoss, Preempted, UsageError
from training.evaluation import evaluate
from training.inputs import check_data, distribute_data, open_data, read_class_names
from training.optimizer import MOMENTUM, TorchSGD
from training.schedule import CosineLR, MultiStepLR, scaled_lr, steps_per_epoch


INTERRUPTED = 'interrupted'  # the subfolder of mid-epoch checkpoints
STEP_KEY = 'step/.ATTRIBUTES/VARIABLE_VALUE'
# Steps whose values are read back to the host together (see train_epoch): a GPU runs them without a stall.
FETCH_EVERY = 20
EPOCH_SEED_STRIDE = 100_003  # epoch e of seed s shuffles with s * stride + e: distinct for every (s, e < stride)


@dataclasses.dataclass
class TrainState:
    """Everything run_epochs needs; the tf.Variables and the model are what the checkpoint holds."""
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    schedule: MultiStepLR
    step: tf.Variable  # train steps taken (skipped fp16 steps included): the LR schedule's counter
    epoch: tf.Variable  # epochs completed
    best_top1: tf.Variable
    manager: tf.train.CheckpointManager
    best_manager: tf.train.CheckpointManager
    interrupted_manager: tf.train.CheckpointManager  # mid-epoch checkpoints
    ckpt_dir: str  # cfg.checkpoint_path on the chief, a scratch folder elsewhere
    train_step: object  # tf.function(iterator) -> (loss, gradient norm, weights finite)
    epoch_batches: object  # (epoch, steps to skip) -> iterator over that epoch's distributed batches
    test_meta: dict
    steps_per_epoch: int
    global_batch: int
    writer: object
    class_names: list  # the labels' names the checkpoint records (--class-names or the weights'), or None


def train(cfg, strategy, chief):
    """--phase train: build the state, run the epochs; returns the trained model."""
    state = build_state(cfg, strategy, chief)
    run_epochs(cfg, strategy, state, chief)
    return state.model


def build_state(cfg, strategy, chief):
    """Open and check the data, build (or load) the model and the optimizer inside the strategy's scope, and
    restore the latest checkpoint of cfg.checkpoint_path when there is one."""
    init = load_pretrained(cfg.weights) if cfg.weights else None
    # Data is read as the weights the run continues from were trained (layout, clip length) unless it says.
    train_meta = open_data(cfg, 'train', init)
    test_meta = open_data(cfg, 'test', init)
    # Fine-tuning given weights: their architecture wins over the run's model settings; --num-classes may differ.
    config = (_finetune_config(cfg, init, train_meta) if init is not None
              else _model_config(cfg, train_meta.get('num_class')))
    check_data(train_meta, config)
    check_data(test_meta, config)
    if cfg.freeze_backbone and init is None:
        raise UsageError('--freeze-backbone needs --weights: it keeps the given backbone and trains the classifier')
    names = _class_names(cfg, init, config)

    replicas = strategy.num_replicas_in_sync
    global_batch = cfg.batch_size * replicas
    if train_meta['num_samples'] < global_batch:
        raise UsageError(f'--train-data-path {cfg.train_data_path}: {train_meta["num_samples"]} samples is fewer '
                         f'than one global batch of {global_batch} ({cfg.batch_size} per replica x {replicas})')
    spe = steps_per_epoch(train_meta['num_samples'], global_batch)
    print(f'replicas: {replicas}, global batch: {global_batch} ({cfg.batch_size} per replica), '
          f'steps per epoch: {spe}, train samples: {train_meta["num_samples"]}', flush=True)

    data_mode = train_meta.get('data_mode') or 'unknown'
    if data_mode == 'unknown':
        print(f'warning: {cfg.train_data_path} does not record its data mode (prenorm/raw): the checkpoint will not '
              'know which preprocessing it expects; regenerate the shards with data_gen/gen_tfrecord_data.py',
              file=sys.stderr, flush=True)
    preset = init.meta['preset'] if init is not None else cfg.model_preset
    # The PYSKL stream is the run's choice among the four a pickle feeds (GenSkeFeat): the weights record it.
    stream = cfg.stream if train_meta['source'][0] == 'pyskl' else None
    meta_text = checkpoint_meta(config, preset, data_mode, train_meta['max_frame'], class_names=names, stream=stream)
    meta = tf.Variable(meta_text, dtype=tf.string, trainable=False)  # outside the strategy scope: a host-side string
    with strategy.scope():
        model = STGCN(config)  # fcn initialised by the config's initialiser
        model.build((None,) + tuple(train_meta['sample_shape']))
        if init is not None:
            if config.num_class == init.config.num_class:
                model.set_weights(init.get_weights())
            else:
                transplant(init, model)
        if cfg.freeze_backbone:
            freeze_backbone(model)  # before the optimizer is built: it gets fcn's variables alone
        step = tf.Variable(0, dtype=tf.int64, trainable=False)
        optimizer, schedule = build_optimizer(cfg, spe, step, global_batch, model)
        optimizer.build(model.trainable_variables)  # slots exist before the first step, inside the scope
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        best_top1 = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch, step=step, best_top1=best_top1,
                               meta=meta)
    # Only the chief writes the real checkpoint; other workers must take part in the save (it reads mirrored
    # variables collectively) but write to a scratch folder they delete.
    ckpt_dir = cfg.checkpoint_path if chief else tempfile.mkdtemp(prefix='stgcn_worker_ckpt_')
    manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=3)
    best_manager = tf.train.CheckpointManager(ckpt, os.path.join(ckpt_dir, 'best'), max_to_keep=1)
    # Mid-epoch checkpoints (SIGTERM, --save-every-minutes) live beside the epoch ones; the resume takes whichever
    # holds more steps.
    interrupted_manager = tf.train.CheckpointManager(ckpt, os.path.join(ckpt_dir, INTERRUPTED), max_to_keep=1)
    latest = _latest(manager.latest_checkpoint, interrupted_manager.latest_checkpoint)
    if latest:
        try:
            ckpt.restore(latest).assert_existing_objects_matched()
        except (tf.errors.OpError, AssertionError, ValueError) as err:
            raise UsageError(f'--checkpoint-path {cfg.checkpoint_path}: cannot resume from {latest} '
                             f'({str(err).splitlines()[0][:200]}); it is truncated, corrupted or of another model: '
                             'move it away to start afresh') from None
        # The meta describes this run (its data, --class-names), not the one that wrote the checkpoint.
        meta.assign(meta_text)
        print(f'resuming from {latest}: epoch {int(epoch.numpy())}, step {int(step.numpy())}, '
              f'lr {float(schedule(step)):.6g}', flush=True)

    def epoch_batches(epoch_index, skip):
        # The data order of an epoch is a function of (seed, epoch) alone, so a resumed run sees what the
        # uninterrupted one would have: a fresh pipeline per epoch, the steps already taken skipped.
        return iter(distribute_data(strategy, train_meta, '--train-data-path', global_batch, training=True,
                                    seed=cfg.seed * EPOCH_SEED_STRIDE + epoch_index, augment=cfg.augment,
                                    skip_steps=skip))

    writer = tf.summary.create_file_writer(cfg.log_dir) if chief else tf.summary.create_noop_writer()
    return TrainState(model=model, optimizer=optimizer, schedule=schedule, step=step, epoch=epoch,
                      best_top1=best_top1, manager=manager, best_manager=best_manager,
                      interrupted_manager=interrupted_manager, ckpt_dir=ckpt_dir,
                      train_step=make_train_step(cfg, strategy, model, optimizer, global_batch, step),
                      epoch_batches=epoch_batches, test_meta=test_meta, steps_per_epoch=spe,
                      global_batch=global_batch, writer=writer, class_names=names)


def _finetune_config(cfg, init, train_meta):
    """The weights' STGCNConfig with the run's class count (--num-classes, else the weights') and BN sync.
    A class count other than the weights' keeps every layer but the classifier (model/finetune.py transplant)."""
    weights_class = init.config.num_class
    data_class = train_meta.get('num_class')
    if cfg.num_class is None and data_class is not None and data_class != weights_class:
        raise UsageError(f'--weights {cfg.weights} has {weights_class} classes but the meta.json of '
                         f'{train_meta["source"][1]} says the data has {data_class}: pass --num-classes {data_class} '
                         'to fine-tune the weights to it (the classifier is re-initialised)')
    num_class = cfg.num_class or weights_class
    if num_class != weights_class:
        print(f'fine-tuning {cfg.weights}: every layer reused but the classifier (fcn), re-initialised for '
              f'{num_class} classes (the weights have {weights_class})', flush=True)
    return dataclasses.replace(init.config, num_class=num_class, sync_bn=cfg.sync_bn)


def _class_names(cfg, init, config):
    """The names the checkpoint records: --class-names, else the weights' when the classes are theirs, else none."""
    if cfg.class_names:
        return read_class_names(cfg, config.num_class)
    if init is not None and init.config.num_class == config.num_class:
        return init.meta.get('class_names')
    return None


def _latest(*prefixes):
    """The checkpoint prefix holding the most train steps (None when there is none)."""
    found = [p for p in prefixes if p]
    if not found:
        return None
    try:
        return max(found, key=lambda p: int(tf.train.load_checkpoint(p).get_tensor(STEP_KEY)))
    except (tf.errors.OpError, ValueError):
        return found[0]  # unreadable: the restore names it


def _model_config(cfg, num_class):
    try:
        return model_config(cfg, num_class)
    except ValueError as err:
        raise UsageError(f'model_args: {err}') from None


def run_epochs(cfg, strategy, state, chief):
    """From the state's step to cfg.num_epochs: train, evaluate every --eval-freq epochs (keeping the best
    top-1 in {checkpoint_path}/best), checkpoint every --save-freq epochs and at the end, and mid-epoch on SIGTERM
    and every --save-every-minutes."""
    spe, writer = state.steps_per_epoch, state.writer
    with interruption(cfg, strategy) as interrupt:
        for epoch in range(int(state.epoch.numpy()), cfg.num_epochs):
            t0, done = time.perf_counter(), int(state.step.numpy()) - epoch * spe  # steps this epoch already took
            losses = train_epoch(cfg, state, epoch, done, interrupt)
            seconds = time.perf_counter() - t0
            state.epoch.assign(epoch + 1)
            with writer.as_default(step=int(state.step.numpy())):
                tf.summary.scalar('train/samples_per_sec', len(losses) * state.global_batch / seconds)
            print(f'epoch {epoch + 1}: mean loss {np.mean(losses):.4f}, '
                  f'lr {float(state.schedule(epoch * spe)):.6g}, '
                  f'{len(losses) * state.global_batch / seconds:.1f} samples/s', flush=True)

            last = epoch + 1 == cfg.num_epochs
            if (epoch + 1) % cfg.eval_freq == 0 or last:
                result = evaluate(cfg, strategy, state.model, state.test_meta, writer, int(state.step.numpy()),
                                  chief, class_names=state.class_names)
                if result['top1'] > float(state.best_top1.numpy()):
                    state.best_top1.assign(result['top1'])
                    state.best_manager.save(checkpoint_number=epoch + 1)
            if (epoch + 1) % cfg.save_freq == 0 or last:
                state.manager.save(checkpoint_number=epoch + 1)
    if not chief:
        shutil.rmtree(state.ckpt_dir, ignore_errors=True)
    writer.flush()
    print(f'training done: {cfg.num_epochs} epochs', flush=True)


def train_epoch(cfg, state, epoch, done, interrupt):
    """The steps `done`..spe-1 of one epoch; returns their losses.

    The values of a step (loss, gradient norm, whether the weights are finite) stay on the device and are read
    back FETCH_EVERY steps at a time, so that a GPU is not stalled by a host read between two steps; then each
    step is checked for non-finite values, logged, and an interruption handled (a mid-epoch checkpoint, and on
    SIGTERM a stop with Preempted). A non-finite step is still named exactly; the checkpoint saved after it
    never is, since the epoch's own checkpoint comes after the last fetch.
    """
    spe = state.steps_per_epoch
    batches = state.epoch_batches(epoch, done)
    first, losses, pending = epoch * spe + done, [], []
    with progress(cfg, spe, f'epoch {epoch + 1}/{cfg.num_epochs}') as bar:
        bar.update(done)
        for step in range(first, (epoch + 1) * spe):
            pending.append(state.train_step(batches))  # device tensors: no host read yet
            if len(pending) == FETCH_EVERY or step + 1 == (epoch + 1) * spe:
                losses += _log_steps(state, step + 1 - len(pending), pending, epoch, bar)
                pending = []
                reason = interrupt.check()
                if reason and step + 1 < (epoch + 1) * spe:  # at an epoch's end the epoch checkpoint follows
                    path = state.interrupted_manager.save(checkpoint_number=step + 1)
                    if reason == 'SIGTERM':
                        raise Preempted(f'stopped by SIGTERM at step {step + 1} (epoch {epoch + 1}); saved {path}: '
                                        'run the same command to resume there')
    return losses


def _log_steps(state, first, pending, epoch, bar):
    """Read back the values of the steps first, first + 1, ...; check, log and count them. Returns the losses."""
    loss_scaling = isinstance(state.optimizer, keras.optimizers.LossScaleOptimizer)
    values = tf.nest.map_structure(lambda *v: np.asarray(tf.stack(v)), *pending)  # 3 arrays of (len(pending),)
    losses = []
    for step, loss, gnorm, weights_finite in zip(range(first, first + len(pending)), *values):
        loss, gnorm = float(loss), float(gnorm)
        # Under fp16 an infinite gradient is the loss scaler's business (it skips the step); a weight or
        # a float32 gradient that is not finite poisons every later checkpoint: stop before the next.
        bad = [f'loss is {loss}'] if not math.isfinite(loss) else []
        bad += [f'the gradient norm is {gnorm}'] if not math.isfinite(gnorm) and not loss_scaling else []
        bad += ['a weight turned NaN or infinite'] if not weights_finite else []
        if bad:
            raise NonFiniteLoss(f'{", ".join(bad)} at step {step} (epoch {epoch + 1}); stopping. The last '
                                f'good checkpoint is {state.manager.latest_checkpoint or "none (none saved yet)"}')
        losses.append(loss)
        with state.writer.as_default(step=step):
            tf.summary.scalar('train/loss', loss)
            tf.summary.scalar('train/grad_norm', gnorm)
            tf.summary.scalar('train/lr', float(state.schedule(step)))
    bar.update(len(pending))
    bar.set_postfix(loss=f'{losses[-1]:.4f}')
    return losses


class interruption:
    """Context manager: SIGTERM requests a checkpoint and a stop; --save-every-minutes requests a checkpoint.
    check() after a group of steps says which ('SIGTERM', 'timer' or None). With several workers the decision is
    all-reduced, so every worker saves at the same step (each has its own clock and signals)."""

    def __init__(self, cfg, strategy):
        self.period = cfg.save_every_minutes * 60.0
        self.strategy = strategy
        self.multi_worker = getattr(strategy, 'cluster_resolver', None) is not None and \
            bool(strategy.cluster_resolver.cluster_spec().as_dict())
        self.signalled, self.previous = False, None

    def __enter__(self):
        self.last_save = time.monotonic()
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)

    def _on_sigterm(self, signum, frame):
        self.signalled = True

    def check(self):
        due = self.period > 0 and time.monotonic() - self.last_save >= self.period
        flags = np.array([self.signalled, due], np.int32)  # (2,): SIGTERM, timer
        if self.multi_worker:  # any worker's reason holds for all
            flags = self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(
                lambda: tf.constant(flags)), axis=None).numpy()
        if not flags.any():
            return None
        self.last_save = time.monotonic()
        return 'SIGTERM' if flags[0] else 'timer'


def build_optimizer(cfg, spe, step, global_batch=None, model=None):
    """TorchSGD (loss-scaled for fp16) with the schedule read at `step`, the train step's own counter.

    Not the optimizer's iterations: a step the fp16 loss scaler skips does not advance those, and the LR drops
    would come late; epochs are counted in train steps whatever the scaler does. The schedule is the official
    epoch steps, or PYSKL's cosine annealing to 0 over the whole run (--lr-policy cosine). With
    --lr-reference-batch the base LR scales linearly with the global batch. With --backbone-lr-mult X every
    variable of `model` but the classifier's is updated with X times the scheduled LR. Returns (optimizer,
    schedule).
    """
    base_lr = cfg.base_lr
    if cfg.lr_reference_batch:
        base_lr = scaled_lr(global_batch, cfg.base_lr, cfg.lr_reference_batch)
        print(f'lr: {cfg.base_lr:g} for a global batch of {cfg.lr_reference_batch}, scaled linearly to '
              f'{base_lr:g} for this run\'s {global_batch}', flush=True)
    if cfg.lr_policy == 'cosine':
        schedule = CosineLR(base_lr, cfg.num_epochs * spe)
    else:
        schedule = MultiStepLR(base_lr, cfg.lr_step_epochs, spe)
    sgd = TorchSGD(learning_rate=lambda: schedule(step), momentum=MOMENTUM, nesterov=True,
                   weight_decay=cfg.weight_decay)
    if cfg.backbone_lr_mult != 1.0:
        sgd.scale_learning_rate(backbone_variables(model), cfg.backbone_lr_mult)
    optimizer = keras.optimizers.LossScaleOptimizer(sgd) if cfg.mixed_precision == 'fp16' else sgd
    return optimizer, schedule


def make_train_step(cfg, strategy, model, optimizer, global_batch, step):
    """The per-replica step, wrapped in strategy.run; returns (mean loss, gradient norm) for the global batch
    and whether every weight is still finite, and advances `step` (the LR schedule's counter) by one.

    The gradient norm logged is each replica's local gradient norm averaged over replicas (exact on one device).
    """
    loss_scaling = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def gradients(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)  # (B, num_class) float32 even under mixed precision
            per_sample = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=global_batch)
            scaled = optimizer.scale_loss(loss) if loss_scaling else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        return loss, grads

    if cfg.jit:
        # XLA compiles the forward and backward pass; the update stays outside, where it all-reduces gradients.
        # A nested tf.function cannot hold a cross-replica sync point, such as synchronized BatchNorm's.
        if cfg.sync_bn and strategy.num_replicas_in_sync > 1:
            raise UsageError('--jit cannot be combined with --sync-bn on several replicas: synchronized BatchNorm '
                             'all-reduces inside the compiled forward pass; drop one of the two')
        gradients = tf.function(gradients, jit_compile=True)

    def replica_step(x, y):
        # Records without a class count in meta.json are checked here, batch by batch.
        tf.debugging.assert_less(y, tf.cast(model.config.num_class, y.dtype), message=LABEL_CHECK)
        loss, grads = gradients(x, y)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.linalg.global_norm(grads)

    @tf.function
    def train_step(iterator):
        x, y = next(iterator)
        loss, gnorm = strategy.run(replica_step, args=(x, y))
        step.assign_add(1)
        weights_finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in model.trainable_variables])
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.MEAN, gnorm, axis=None), weights_finite)

    return train_step


@contextlib.contextmanager
def progress(cfg, total, desc):
    bar = tqdm(total=total, desc=desc, disable=cfg.no_progress or not sys.stderr.isatty(), leave=False)
    try:
        yield bar
    finally:
        bar.close()
