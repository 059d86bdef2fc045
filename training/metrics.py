"""Evaluation metrics from logits and labels (numpy), their CSV files, and the score pickle that 2s-AGCN-style
ensembling reads (the figures: training/plots.py).

Test clips (PYSKL's recipe) are folded into one score per sample by average_clip_probabilities.
Top-k follows the official st-gcn `show_topk`: a sample counts when its label is among the k highest scores.
"""
import csv

import numpy as np

from storage import files


def _check(logits, labels):
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f'need logits (N, num_class) and labels (N,), got {logits.shape} and {labels.shape}')
    if labels.size == 0:
        raise ValueError('no samples to evaluate')
    if (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f'labels must be in [0, {logits.shape[1]}), got [{labels.min()}, {labels.max()}]')
    return logits, labels.astype(np.int64)


def average_clip_probabilities(logits, num_clips):
    """PYSKL's test-time average over clips, average_clips='prob': softmax per clip, then the mean over clips
    (kennymckormick/pyskl:pyskl/models/recognizers/recognizergcn.py:forward_test, base.py:average_clip).

    Averaging the logits instead ('score') ranks classes differently, so the clip probabilities are what
    PYSKL's test scores are. Rows are sample-major, as feeders/pyskl_feeder.py's test clips reshaped to
    (N * num_clips, C, T, V, M) give them.
    Shape: logits (N * num_clips, num_class) -> (N, num_class) float64, each row summing to 1.
    """
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or num_clips < 1 or logits.shape[0] % num_clips:
        raise ValueError(f'need logits (N * num_clips, num_class) with num_clips = {num_clips}, got {logits.shape}')
    clips = logits.reshape(-1, num_clips, logits.shape[1])  # (N, num_clips, num_class)
    exp = np.exp(clips - clips.max(axis=2, keepdims=True))  # shifted: the same softmax without overflow
    return (exp / exp.sum(axis=2, keepdims=True)).mean(axis=1)


def topk_accuracy(logits, labels, k):
    """Fraction of samples whose label is among the k highest logits (k is capped at num_class).

    Shape: logits (N, num_class), labels (N,) -> float
    """
    logits, labels = _check(logits, labels)
    k = min(k, logits.shape[1])
    top = np.argsort(-logits, axis=1, kind='stable')[:, :k]  # (N, k), ties broken by the lower class index
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def confusion_matrix(logits, labels):
    """counts[true, predicted] of the top-1 predictions.

    Shape: logits (N, num_class), labels (N,) -> (num_class, num_class) int64
    """
    logits, labels = _check(logits, labels)
    num_class = logits.shape[1]
    predicted = np.argmax(logits, axis=1)
    counts = np.zeros((num_class, num_class), np.int64)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def per_class_accuracy(confusion):
    """Recall of each class: confusion[c, c] / samples of class c; NaN for a class with no samples.

    Shape: (num_class, num_class) -> (num_class,) float64
    """
    confusion = np.asarray(confusion)
    support = confusion.sum(axis=1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(support > 0, np.diag(confusion) / support, np.nan)


def evaluate(logits, labels, num_class=None):
    """Every metric at once: {'top1', 'top5', 'mean_class_acc' (over the classes present), 'per_class_acc'
    (num_class,), 'confusion' (num_class, num_class), 'num_samples'}."""
    logits, labels = _check(logits, labels)
    if num_class is not None and num_class != logits.shape[1]:
        raise ValueError(f'logits have {logits.shape[1]} classes, expected {num_class}')
    confusion = confusion_matrix(logits, labels)
    per_class = per_class_accuracy(confusion)
    return {'top1': topk_accuracy(logits, labels, 1), 'top5': topk_accuracy(logits, labels, 5),
            'mean_class_acc': float(np.nanmean(per_class)) if np.any(~np.isnan(per_class)) else float('nan'),
            'per_class_acc': per_class, 'confusion': confusion, 'num_samples': int(labels.size)}


def _write_csv(path, rows):
    with files.atomic_open(path) as f:
        csv.writer(f, lineterminator='\n').writerows(rows)


def write_per_class_csv(per_class_acc, path, class_names=None, counts=None):
    """CSV `class,name,num_samples,accuracy` (name and num_samples only when given); NaN accuracy is empty."""
    header = ['class'] + (['name'] if class_names is not None else []) + \
             (['num_samples'] if counts is not None else []) + ['accuracy']
    rows = [header]
    for c, acc in enumerate(per_class_acc):
        row = [c] + ([class_names[c]] if class_names is not None else []) + \
              ([int(counts[c])] if counts is not None else [])
        rows.append(row + ['' if np.isnan(acc) else f'{acc:.6f}'])
    _write_csv(path, rows)


def write_confusion_csv(confusion, path):
    """CSV of counts: header `true\\predicted,0,1,...`, then one row per true class."""
    confusion = np.asarray(confusion)
    rows = [['true\\predicted'] + list(range(confusion.shape[1]))]
    rows += [[c] + [int(v) for v in row] for c, row in enumerate(confusion)]
    _write_csv(path, rows)


def save_scores(names, logits, path):
    """Pickle {sample_name: logits (num_class,) float32} in sample order, the 2s-AGCN score format."""
    logits = np.asarray(logits, np.float32)
    if len(names) != logits.shape[0]:
        raise ValueError(f'{len(names)} names for {logits.shape[0]} rows of logits')
    scores = dict(zip(names, logits))
    if len(scores) != len(names):
        seen = set()
        repeated = next(name for name in names if name in seen or seen.add(name))
        raise ValueError(f'sample names repeat (e.g. {repeated!r}): scores would overwrite each other')
    files.write_pickle(scores, path)
