"""Train and evaluate ST-GCN on tf.distribute.

    python main.py --train-data-path DIR --test-data-path DIR [--config config/....yaml] [flags]
    python main.py --phase test --test-data-path DIR --weights PATH

One CPU: the default strategy. Several GPUs in one process: MirroredStrategy over --gpus. Several hosts:
MultiWorkerMirroredStrategy when TF_CONFIG is set. The train step is written from one replica's view and run
with strategy.run; the loss is averaged over the global batch, so results do not depend on the replica count.
"""
import contextlib
import math
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402

from model.errors import WeightsError  # noqa: E402
from training.config import ConfigError, dump_config, format_config, resolve_config  # noqa: E402


class UsageError(Exception):
    """Bad input found after the config was parsed (data folders, GPUs, class counts): exit code 2."""


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite: training stops, keeping the last good checkpoint."""


# ---------------------------------------------------------------------------------------------------------
# Devices and strategy


def make_strategy(cfg):
    """The tf.distribute strategy for this run (see the module docstring).

    --cpu-replicas N splits the CPU into N logical devices under MirroredStrategy: it exercises the multi-GPU
    path on a machine without GPUs (tests use it), and must run before TensorFlow initialises its devices.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices('GPU')
    if cfg.gpus is not None:
        missing = [g for g in cfg.gpus if not 0 <= g < len(gpus)]
        if missing:
            raise UsageError(f'--gpus: GPU {missing[0]} does not exist; visible GPUs: '
                             f'{list(range(len(gpus))) or "none"}')
        gpus = [gpus[g] for g in cfg.gpus]
        tf.config.set_visible_devices(gpus, 'GPU')
    if cfg.cpu_replicas > 1:
        cpu = tf.config.list_physical_devices('CPU')[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cfg.cpu_replicas)
    if 'TF_CONFIG' in os.environ:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if cfg.cpu_replicas > 1:
        return tf.distribute.MirroredStrategy([f'/cpu:{i}' for i in range(cfg.cpu_replicas)])
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([f'/gpu:{i}' for i in range(len(gpus))])
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy('/gpu:0')
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """True on the process that writes checkpoints, logs and scores."""
    resolver = getattr(strategy, 'cluster_resolver', None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == 'chief' or (resolver.task_type == 'worker' and resolver.task_id == 0
                                             and 'chief' not in resolver.cluster_spec().as_dict())


def seed_and_precision(cfg):
    """The global seeds (initial weights, dropout) and the mixed-precision policy."""
    import keras

    keras.utils.set_random_seed(cfg.seed)  # same initial weights whatever the replica count
    policy = {'none': 'float32', 'bf16': 'mixed_bfloat16', 'fp16': 'mixed_float16'}[cfg.mixed_precision]
    keras.mixed_precision.set_global_policy(policy)


# ---------------------------------------------------------------------------------------------------------
# Data


def read_meta(path, flag, label_path=None):
    """The meta of a training or test set, with a one-line error when it is missing or empty.

    `path` is a folder of TFRecord shards or a {part}_data_{stream}.npy (labels: `label_path`, by default
    the {part}_label.pkl beside it). Returns the feeders' meta dict plus 'source', what distribute() reads.
    """
    from feeders import read_dataset_meta, read_npy_meta

    if path is None:
        raise UsageError(f'{flag} is required for this phase')
    try:
        if path.endswith('.npy'):
            label_path = label_path or os.path.join(os.path.dirname(path),
                                                    os.path.basename(path).split('_data_')[0] + '_label.pkl')
            meta = read_npy_meta(path, label_path)
            return dict(meta, source=('npy', path, label_path))
        if not os.path.isdir(path):
            raise UsageError(f'{flag} {path}: no such folder (give a folder of TFRecord shards or a .npy file)')
        return dict(read_dataset_meta(path), source=('tfrecord', path, None))
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f'{flag} {path}: {err}') from None


def check_data(meta, model_config, num_classes):
    """The stored sample shape and classes must fit the model: say what differs and where."""
    from graphs import Graph

    path = meta['source'][1]
    C, _, V, M = meta['sample_shape']
    num_node = Graph(model_config.layout, 'uniform').num_node
    if (C, V, M) != (model_config.in_channels, num_node, model_config.num_person):
        raise UsageError(f'{path}: records hold samples of shape (C, T, V, M) = {tuple(meta["sample_shape"])}, '
                         f'the model takes C={model_config.in_channels}, V={num_node}, M={model_config.num_person}')
    if meta.get('num_class') is not None and meta['num_class'] != num_classes:
        raise UsageError(f'--num-classes is {num_classes} but the meta.json of {path} says the data has '
                         f'{meta["num_class"]} classes')


def distribute(strategy, meta, global_batch, training, seed, augment):
    """A distributed dataset over meta['source']: each input pipeline reads its own shard of files (TFRecords)
    or of samples (.npy); the feeders take the InputContext."""
    import tensorflow as tf
    from feeders import make_npy_dataset, make_tfrecord_dataset

    kind, path, label_path = meta['source']

    def dataset_fn(ctx):
        # The feeders take the global batch and batch ctx.get_per_replica_batch_size() of it per replica.
        kwargs = dict(training=training, input_context=ctx, seed=seed, augment=augment if training else None)
        ds = (make_npy_dataset(path, label_path, global_batch, **kwargs) if kind == 'npy'
              else make_tfrecord_dataset(path, global_batch, **kwargs))
        return ds.repeat() if training else ds

    # Evaluation yields sample names (strings): keep batches on the host, strategy.run copies x to devices.
    options = tf.distribute.InputOptions(experimental_fetch_to_device=training)
    return strategy.distribute_datasets_from_function(dataset_fn, options)


# ---------------------------------------------------------------------------------------------------------
# Model, optimizer, checkpoint


def build_model_config(cfg, weights_meta=None):
    from model.config import STGCNConfig, make_config

    if weights_meta is not None:  # fine-tuning or evaluating given weights: their architecture wins
        return STGCNConfig.from_dict(weights_meta['config'])
    overrides = dict(cfg.model_args or {})
    overrides['num_class'] = cfg.num_classes
    if cfg.channels is not None:
        overrides['channels'] = tuple(cfg.channels)
    if cfg.sync_bn:
        overrides['sync_bn'] = True
    try:
        return make_config(cfg.model_preset, **overrides)
    except (TypeError, ValueError) as err:
        raise UsageError(f'model_args: {err}') from None


def build_optimizer(cfg, steps_per_epoch, step):
    """TorchSGD (loss-scaled for fp16) with the epoch schedule read at `step`, the train step's own counter.

    Not the optimizer's iterations: a step the fp16 loss scaler skips does not advance those, and the LR drops
    would come late; epochs are counted in train steps whatever the scaler does. Returns (optimizer, schedule).
    """
    import keras

    from training.optimizer import TorchSGD
    from training.schedule import MultiStepLR

    schedule = MultiStepLR(cfg.base_lr, cfg.steps, steps_per_epoch)
    optimizer = TorchSGD(learning_rate=lambda: schedule(step), momentum=0.9, nesterov=True,
                         weight_decay=cfg.weight_decay)
    if cfg.mixed_precision == 'fp16':
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer, schedule


def fingerprint(model):
    """Sums and sums of squares of the trainable and the other weights, in float64: equal weights print equal
    fingerprints. Without --sync-bn each replica keeps its own BatchNorm statistics, so only the first pair
    must agree across workers."""
    def sums(variables):
        values = [np.asarray(v, np.float64) for v in variables]
        return f'{sum(v.sum() for v in values):.17g} {sum((v * v).sum() for v in values):.17g}'
    return f'trainable {sums(model.trainable_weights)}, statistics {sums(model.non_trainable_weights)}'


# ---------------------------------------------------------------------------------------------------------
# Training


def train(cfg, strategy, chief):
    import tensorflow as tf

    from model.stgcn import STGCN
    from model.weights import checkpoint_meta, load_pretrained
    from training.schedule import steps_per_epoch as count_steps

    train_meta = read_meta(cfg.train_data_path, '--train-data-path', cfg.train_label_path)
    test_meta = read_meta(cfg.test_data_path, '--test-data-path', cfg.test_label_path) if cfg.test_data_path else None
    init = load_pretrained(cfg.weights, cfg.num_classes) if cfg.weights else None
    model_config = build_model_config(cfg, init.meta if init is not None else None)
    check_data(train_meta, model_config, cfg.num_classes)
    if test_meta is not None:
        check_data(test_meta, model_config, cfg.num_classes)

    replicas = strategy.num_replicas_in_sync
    global_batch = cfg.batch_size * replicas
    spe = count_steps(train_meta['num_samples'], global_batch)
    if spe == 0:
        raise UsageError(f'--train-data-path {cfg.train_data_path}: {train_meta["num_samples"]} samples is fewer '
                         f'than one global batch of {global_batch}')
    print(f'replicas: {replicas}, global batch: {global_batch} ({cfg.batch_size} per replica), '
          f'steps per epoch: {spe}, train samples: {train_meta["num_samples"]}', flush=True)

    data_mode = train_meta.get('data_mode') or 'unknown'
    if data_mode == 'unknown':
        print(f'warning: {cfg.train_data_path} does not record its data mode (prenorm/raw): the checkpoint will not '
              'know which preprocessing it expects; regenerate the shards with data_gen/gen_tfrecord_data.py',
              file=sys.stderr, flush=True)
    preset = init.meta['preset'] if init is not None else cfg.model_preset
    meta_var = tf.Variable(checkpoint_meta(model_config, preset, data_mode), dtype=tf.string,
                           trainable=False)  # outside the strategy scope: a host-side string
    with strategy.scope():
        model = STGCN(model_config)
        model.build((None,) + tuple(train_meta['sample_shape']))
        if init is not None:
            model.set_weights(init.get_weights())
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False)  # train steps taken, skipped ones included
        optimizer, schedule = build_optimizer(cfg, spe, step_var)
        optimizer.build(model.trainable_variables)  # slots exist before the first step, inside the scope
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
        best_var = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var, step=step_var,
                               best_top1=best_var, meta=meta_var)
    # Only the chief writes the real checkpoint; other workers must take part in the save (it reads mirrored
    # variables collectively) but write to a scratch folder they delete.
    ckpt_dir = cfg.checkpoint_path if chief else tempfile.mkdtemp(prefix='stgcn_worker_ckpt_')
    manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=3)
    best_manager = tf.train.CheckpointManager(ckpt, os.path.join(ckpt_dir, 'best'), max_to_keep=1)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        print(f'resuming from {manager.latest_checkpoint}: epoch {int(epoch_var.numpy())}, '
              f'step {int(step_var.numpy())}, lr {float(schedule(step_var)):.6g}', flush=True)

    train_step = make_train_step(cfg, strategy, model, optimizer, global_batch, step_var)
    train_iter = iter(distribute(strategy, train_meta, global_batch, True, cfg.seed, cfg.train_feeder_args))
    writer = tf.summary.create_file_writer(cfg.log_dir) if chief else tf.summary.create_noop_writer()

    start_epoch = int(epoch_var.numpy())
    for epoch in range(start_epoch, cfg.num_epochs):
        losses, t0 = [], time.perf_counter()
        with progress(cfg, spe, f'epoch {epoch + 1}/{cfg.num_epochs}') as bar:
            for _ in range(spe):
                step = int(step_var.numpy())
                loss, gnorm = (float(v) for v in train_step(train_iter))
                if not math.isfinite(loss):
                    raise NonFiniteLoss(f'loss is {loss} at step {step} (epoch {epoch + 1}); stopping. The last '
                                        f'good checkpoint is {manager.latest_checkpoint or "none (none saved yet)"}')
                losses.append(loss)
                bar.update(1)
                bar.set_postfix(loss=f'{loss:.4f}')
                with writer.as_default(step=step):
                    tf.summary.scalar('train/loss', loss)
                    tf.summary.scalar('train/grad_norm', gnorm)
                    tf.summary.scalar('train/lr', float(schedule(step)))
        seconds = time.perf_counter() - t0
        epoch_var.assign(epoch + 1)
        with writer.as_default(step=int(step_var.numpy())):
            tf.summary.scalar('train/samples_per_sec', spe * global_batch / seconds)
        print(f'epoch {epoch + 1}: mean loss {np.mean(losses):.4f}, lr {float(schedule(epoch * spe)):.6g}, '
              f'{spe * global_batch / seconds:.1f} samples/s', flush=True)

        last = epoch + 1 == cfg.num_epochs
        if test_meta is not None and ((epoch + 1) % cfg.eval_freq == 0 or last):
            result = evaluate(cfg, strategy, model, test_meta, writer,
                              int(step_var.numpy()), chief)
            if result['top1'] > float(best_var.numpy()):
                best_var.assign(result['top1'])
                best_manager.save(checkpoint_number=epoch + 1)
        if (epoch + 1) % cfg.save_freq == 0 or last:
            manager.save(checkpoint_number=epoch + 1)
    if not chief:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    writer.flush()
    print(f'training done: {cfg.num_epochs} epochs, weights fingerprint {fingerprint(model)}', flush=True)
    return model


def make_train_step(cfg, strategy, model, optimizer, global_batch, step):
    """The per-replica step, wrapped in strategy.run; returns (mean loss, gradient norm) for the global batch
    and advances `step` (the LR schedule's counter) by one.

    The gradient norm logged is each replica's local gradient norm averaged over replicas (exact on one device).
    """
    import keras
    import tensorflow as tf

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
        tf.debugging.assert_less(y, tf.cast(cfg.num_classes, y.dtype), message=LABEL_CHECK)
        loss, grads = gradients(x, y)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.linalg.global_norm(grads)

    @tf.function
    def train_step(iterator):
        x, y = next(iterator)
        loss, gnorm = strategy.run(replica_step, args=(x, y))
        step.assign_add(1)
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.MEAN, gnorm, axis=None))

    return train_step


# ---------------------------------------------------------------------------------------------------------
# Evaluation


LABEL_CHECK = 'a training label is >= --num-classes'
NAME_BYTES = 64  # sample names travel as fixed-length byte codes: collectives gather numbers, not strings


def predict_dataset(strategy, model, meta, global_batch):
    """Logits, labels and names of every sample of a test set, gathered from all replicas and workers.

    Returns: logits (N, num_class) float32, labels (N,) int64, names list of N str (order: by replica).
    """
    import tensorflow as tf

    def replica_step(x, y, name):
        codes = tf.io.decode_raw(name, tf.uint8, fixed_length=NAME_BYTES)  # (B, NAME_BYTES)
        return model(x, training=False), y, tf.cast(codes, tf.int32)  # collectives do not gather uint8

    @tf.function
    def step(x, y, name):
        # Replicas may hold uneven (even empty) final batches: gather concatenates along the batch axis.
        return [strategy.gather(v, axis=0) for v in strategy.run(replica_step, args=(x, y, name))]

    logits, labels, codes = [], [], []
    for x, y, name in distribute(strategy, meta, global_batch, False, None, None):
        batch_logits, batch_labels, batch_codes = step(x, y, name)
        logits.append(batch_logits.numpy())
        labels.append(batch_labels.numpy())
        codes.append(batch_codes.numpy())
    names = [bytes(row.astype(np.uint8)).rstrip(b'\0').decode() for row in np.concatenate(codes)]
    return np.concatenate(logits), np.concatenate(labels), names


def evaluate(cfg, strategy, model, meta, writer, step, chief):
    """Top-1/top-5/per-class accuracy and the confusion matrix, written to the log dir; returns the metrics."""
    import tensorflow as tf

    from training import metrics

    global_batch = cfg.batch_size * strategy.num_replicas_in_sync
    logits, labels, names = predict_dataset(strategy, model, meta, global_batch)
    num_class = logits.shape[1]
    result = metrics.evaluate(logits, labels, num_class)
    print(f'eval on {len(labels)} samples: top-1 {100 * result["top1"]:.2f}%, top-5 {100 * result["top5"]:.2f}%, '
          f'mean class accuracy {100 * result["mean_class_acc"]:.2f}%', flush=True)
    if chief:
        os.makedirs(cfg.log_dir, exist_ok=True)
        metrics.write_per_class_csv(result['per_class_acc'], os.path.join(cfg.log_dir, 'per_class_accuracy.csv'))
        metrics.write_confusion_csv(result['confusion'], os.path.join(cfg.log_dir, 'confusion_matrix.csv'))
        with writer.as_default(step=step):
            tf.summary.scalar('eval/top1', result['top1'])
            tf.summary.scalar('eval/top5', result['top5'])
            tf.summary.scalar('eval/mean_class_acc', result['mean_class_acc'])
            tf.summary.image('eval/confusion_matrix', metrics.confusion_image(result['confusion'])[None])
        if cfg.save_scores:
            metrics.save_scores(names, logits, cfg.save_scores)
            print(f'scores of {len(names)} samples written to {cfg.save_scores}', flush=True)
    return result


def test(cfg, strategy, chief):
    import tensorflow as tf

    from model.stgcn import STGCN
    from model.weights import load_pretrained

    meta = read_meta(cfg.test_data_path, '--test-data-path', cfg.test_label_path)
    if not cfg.weights:
        raise UsageError('--phase test needs --weights (a .pth, a 2019 checkpoint, or this project\'s checkpoint)')
    loaded = load_pretrained(cfg.weights, cfg.num_classes)
    trained_on, data_mode = loaded.meta.get('data_mode'), meta.get('data_mode')
    if trained_on and data_mode and trained_on != data_mode:
        print(f'warning: {cfg.weights} was trained on {trained_on!r} data but {cfg.test_data_path} holds '
              f'{data_mode!r} data (regenerate with gen_joint_data.py --mode {trained_on}); accuracy will suffer',
              file=sys.stderr, flush=True)
    check_data(meta, loaded.config, loaded.config.num_class)
    with strategy.scope():
        model = STGCN(loaded.config)
        model.build((None,) + tuple(meta['sample_shape']))
        model.set_weights(loaded.get_weights())
    writer = tf.summary.create_file_writer(cfg.log_dir) if chief else tf.summary.create_noop_writer()
    return evaluate(cfg, strategy, model, meta, writer, 0, chief)


# ---------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def progress(cfg, total, desc):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, disable=cfg.no_progress or not sys.stderr.isatty(), leave=False)
    try:
        yield bar
    finally:
        bar.close()


def corrupt_shard_message(cfg):
    """After a DataLossError (which names no file): which shard is corrupt, and what to do."""
    from feeders.tfrecord_feeder import find_corrupt_shard

    for folder in (cfg.train_data_path, cfg.test_data_path):
        found = folder and os.path.isdir(folder) and find_corrupt_shard(folder)
        if found:
            return f'{found[0]}: corrupted TFRecord ({found[1]}); regenerate it with data_gen/gen_tfrecord_data.py'
    return 'a TFRecord shard is corrupted (TensorFlow did not say which, and no shard fails on a re-read)'


def serve(cfg):
    """--phase predict or export: one process, float32, nothing written but the results (stdout stays clean
    for --json); the resolved config goes to stderr."""
    import serving
    from serving import export, predict

    print(format_config(cfg), file=sys.stderr, flush=True)
    try:
        return (predict if cfg.phase == 'predict' else export).run(cfg)
    except serving.ServingError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2


def main(argv=None):
    try:
        cfg = resolve_config(argv)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if cfg.phase in ('predict', 'export'):
        return serve(cfg)
    print(format_config(cfg), flush=True)
    import tensorflow as tf

    try:
        strategy = make_strategy(cfg)
        chief = is_chief(strategy)
        if chief:
            os.makedirs(cfg.log_dir, exist_ok=True)
            dump_config(cfg, os.path.join(cfg.log_dir, 'config.yaml'))
        seed_and_precision(cfg)
        if cfg.phase == 'train':
            train(cfg, strategy, chief)
        else:
            test(cfg, strategy, chief)
    except (UsageError, WeightsError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    except tf.errors.DataLossError:
        print(f'error: {corrupt_shard_message(cfg)}', file=sys.stderr)
        return 2
    except tf.errors.InvalidArgumentError as err:
        if LABEL_CHECK not in err.message:
            raise
        print(f'error: --train-data-path {cfg.train_data_path}: {LABEL_CHECK} {cfg.num_classes}; give the number '
              'of classes in the data', file=sys.stderr)
        return 2
    except NonFiniteLoss as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
