"""Evaluation on tf.distribute: logits of a whole test set gathered from every replica and worker, the metrics
and their files, and the test phase (given weights on a test set)."""
import os
import sys
import weakref

import numpy as np
import tensorflow as tf

from data_gen.class_names import model_class_names
from model.stgcn import STGCN
from model.weights import load_pretrained
from training import metrics, plots
from training.errors import UsageError
from training.inputs import check_data, distribute_data, open_data, read_class_names

# Sample names travel as fixed-length byte codes (collectives gather numbers, not strings); a longer name is an
# error, never cut.
NAME_BYTES = 256
NAME_CHECK = f'a sample name is longer than {NAME_BYTES} bytes'
_EVAL_STEPS = weakref.WeakKeyDictionary()  # model -> {(id(strategy), num_clips): its traced evaluation step}



def predict_dataset(strategy, model, meta, global_batch, num_clips=1):
    """Scores, labels and names of every sample of a test set, gathered from all replicas and workers.

    Scores are the logits; for a PYSKL test set of several clips a sample, the mean of its clips' softmax
    probabilities (PYSKL's average_clips='prob', training.metrics.average_clip_probabilities).
    Returns: scores (N, num_class) float32, labels (N,) int64, names list of N str (order: by replica).
    """
    model_ref = weakref.ref(model)  # the cached step must not keep its model alive

    def replica_step(x, y, name):
        model = model_ref()
        tf.debugging.Assert(tf.reduce_all(tf.strings.length(name) <= NAME_BYTES), [NAME_CHECK])
        codes = tf.io.decode_raw(name, tf.uint8, fixed_length=NAME_BYTES)  # (B, NAME_BYTES)
        if x.shape.rank == 6:  # (B, clips, C, T, V, M): every clip through the model, probabilities averaged
            clips = tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))  # (B * clips, C, T, V, M)
            probabilities = tf.nn.softmax(model(clips, training=False))  # (B * clips, num_class)
            scores = tf.reduce_mean(tf.reshape(probabilities, [tf.shape(x)[0], x.shape[1], -1]), axis=1)
        else:
            scores = model(x, training=False)  # (B, num_class) logits
        return scores, y, tf.cast(codes, tf.int32)  # collectives do not gather uint8

    def gathered(x, y, name):
        # Replicas may hold uneven (even empty) final batches: gather concatenates along the batch axis.
        return [strategy.gather(v, axis=0) for v in strategy.run(replica_step, args=(x, y, name))]

    # One traced step per (model, strategy, clips) for the whole run: a new tf.function at every evaluation
    # would trace the model again each epoch.
    steps = _EVAL_STEPS.setdefault(model, {})
    step = steps.setdefault((id(strategy), num_clips), tf.function(gathered))
    logits, labels, codes = [], [], []
    for x, y, name in distribute_data(strategy, meta, '--test-data-path', global_batch, training=False,
                                      num_clips=num_clips):
        batch_logits, batch_labels, batch_codes = step(x, y, name)
        logits.append(batch_logits.numpy())
        labels.append(batch_labels.numpy())
        codes.append(batch_codes.numpy())
    names = [bytes(row.astype(np.uint8)).rstrip(b'\0').decode() for row in np.concatenate(codes)]
    return np.concatenate(logits), np.concatenate(labels), names


def evaluate(cfg, strategy, model, meta, writer, step, chief, num_clips=1, class_names=None):
    """Top-1/top-5/per-class accuracy and the confusion matrix, written to the log dir (the per-class CSV names
    the actions: `class_names`, the model's own, else the dataset's, data_gen.class_names.model_class_names);
    returns the metrics."""
    global_batch = cfg.batch_size * strategy.num_replicas_in_sync
    logits, labels, names = predict_dataset(strategy, model, meta, global_batch, num_clips)
    num_class = logits.shape[1]
    try:
        result = metrics.evaluate(logits, labels, num_class)
    except ValueError as err:  # labels beyond the model's classes
        raise UsageError(f'--test-data-path {meta["source"][1]}: {err}') from None
    print(f'eval on {len(labels)} samples: top-1 {100 * result["top1"]:.2f}%, top-5 {100 * result["top5"]:.2f}%, '
          f'mean class accuracy {100 * result["mean_class_acc"]:.2f}%', flush=True)
    if chief:
        os.makedirs(cfg.log_dir, exist_ok=True)
        actions = model_class_names({'class_names': class_names, 'data_mode': meta.get('data_mode')}, num_class)
        metrics.write_per_class_csv(result['per_class_acc'], os.path.join(cfg.log_dir, 'per_class_accuracy.csv'),
                                    actions, result['confusion'].sum(axis=1))
        metrics.write_confusion_csv(result['confusion'], os.path.join(cfg.log_dir, 'confusion_matrix.csv'))
        confusion_png = plots.confusion_figure(result['confusion'], actions)
        per_class_png = plots.per_class_figure(result['per_class_acc'], actions)
        plots.save_png(confusion_png, os.path.join(cfg.log_dir, 'confusion_matrix.png'))
        plots.save_png(per_class_png, os.path.join(cfg.log_dir, 'per_class_accuracy.png'))
        with writer.as_default(step=step):
            tf.summary.scalar('eval/top1', result['top1'])
            tf.summary.scalar('eval/top5', result['top5'])
            tf.summary.scalar('eval/mean_class_acc', result['mean_class_acc'])
            tf.summary.image('eval/confusion_matrix', confusion_png[None])
            tf.summary.image('eval/per_class_accuracy', per_class_png[None])
        if cfg.save_scores:
            try:
                metrics.save_scores(names, logits, cfg.save_scores)
            except ValueError as err:  # repeated names
                raise UsageError(f'--test-data-path {meta["source"][1]}: {err}') from None
            print(f'scores of {len(names)} samples written to {cfg.save_scores}', flush=True)
    return result


def test(cfg, strategy, chief):
    """--phase test: the weights at --weights on --test-data-path; returns the metrics."""
    if not cfg.weights:
        raise UsageError('--phase test needs --weights (a .pth, a 2019 checkpoint, or this project\'s checkpoint)')
    loaded = load_pretrained(cfg.weights, cfg.num_class)
    meta = open_data(cfg, 'test', loaded)
    trained_on, data_mode = loaded.meta.get('data_mode'), meta.get('data_mode')
    if trained_on and data_mode and trained_on != data_mode:
        print(f'warning: {cfg.weights} was trained on {trained_on!r} data but {cfg.test_data_path} holds '
              f'{data_mode!r} data (regenerate with gen_joint_data.py --mode {trained_on}); accuracy will suffer',
              file=sys.stderr, flush=True)
    check_data(meta, loaded.config)
    # The same pickle feeds all four PYSKL streams: weights that record theirs are tested on it.
    trained_stream = loaded.meta.get('stream')
    if meta['source'][0] == 'pyskl' and trained_stream is not None and trained_stream != cfg.stream:
        raise UsageError(f'--weights {cfg.weights} was trained on the {trained_stream!r} stream but this run reads '
                         f'the {cfg.stream!r} stream of {cfg.test_data_path}: pass --stream {trained_stream}')
    names = read_class_names(cfg, loaded.config.num_class) or loaded.meta.get('class_names')
    with strategy.scope():
        model = STGCN(loaded.config)
        model.build((None,) + tuple(meta['sample_shape']))
        model.set_weights(loaded.get_weights())
    writer = tf.summary.create_file_writer(cfg.log_dir) if chief else tf.summary.create_noop_writer()
    # PYSKL tests on --num-clips clips (10 in its recipe); evaluations during training take one.
    return evaluate(cfg, strategy, model, meta, writer, 0, chief, cfg.num_clips or 1, class_names=names)
