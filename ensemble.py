"""Fuse the class scores of several streams (joint, bone, motion, ...) by sample name, and report accuracy.

    python ensemble.py --scores joint.pkl bone.pkl [--weights 1 1] --label-path data/ntu/xsub/val_label.pkl \
        [--top-k 5]

Score files are 2s-AGCN's format: a pickle of {sample_name: scores (num_class,)}. The fused score of a sample is
sum_i weight_i * scores_i[sample] (raw logits, as 2s-AGCN's ensemble adds them). Samples are matched by name,
never by position: 2s-AGCN's ensemble zips the dicts in order, and a score file saved in another order
silently costs points. Every score file must cover exactly the samples of the label file.
"""
import argparse
import pathlib
import sys

import numpy as np

from feeders import pyskl_annotations
from storage import files
from training.metrics import topk_accuracy

PROG = 'ensemble.py'
SHOWN_NAMES = 3  # sample names quoted in a mismatch error


class EnsembleError(ValueError):
    """Inputs that cannot be fused; the message names the file and what differs."""


def _unpickle(path):
    """A data pickle, read without running code (storage.files.load_pickle)."""
    try:
        return files.load_pickle(path)
    except files.StorageError as e:
        raise EnsembleError(str(e)) from None


# Upstream tools keep the file suffix on sample names (2s-AGCN: S001C001P001R001A001.skeleton; the Kinetics
# tools: the .json name); this project's names have none. Names are compared without it on both sides.
NAME_SUFFIXES = ('.skeleton', '.json')


def _name(key):
    """A sample name as str without a file suffix: a pipeline that carries names as tf.string hands out bytes."""
    name = key.decode() if isinstance(key, bytes) else str(key)
    for suffix in NAME_SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def load_scores(path):
    """{sample_name: float64 (num_class,)} from a score pickle; EnsembleError if malformed."""
    raw = _unpickle(path)
    if not isinstance(raw, dict) or not raw:
        raise EnsembleError(f'{path}: expected a non-empty dict {{sample_name: scores}}, got {type(raw).__name__}')
    scores = {_name(name): np.asarray(value, dtype=np.float64) for name, value in raw.items()}
    if len(scores) != len(raw):
        raise EnsembleError(f'{path}: sample names repeat once their file suffix is dropped')
    shapes = {value.shape for value in scores.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise EnsembleError(f'{path}: every sample needs one score vector of the same length, '
                            f'found shapes {sorted(shapes)}')
    bad = next((name for name, value in scores.items() if not np.all(np.isfinite(value))), None)
    if bad is not None:  # a NaN row would count as class 0
        raise EnsembleError(f'{path}: the scores of {bad} are NaN or infinite')
    return scores


def load_labels(path, split=None):
    """(names, int64 labels) from a label pickle of (names, labels), or from `split` of a PYSKL annotation
    pickle; EnsembleError if malformed."""
    raw = _unpickle(path)
    if isinstance(raw, dict) and 'annotations' in raw:
        if split is None:
            raise EnsembleError(f'{path}: a PYSKL annotation pickle: give --split (e.g. xsub_val)')
        try:
            annotations = pyskl_annotations.load_annotations(path, split)
        except files.StorageError as e:
            raise EnsembleError(str(e)) from None
        return [a['frame_dir'] for a in annotations], np.array([a['label'] for a in annotations], np.int64)
    if not (isinstance(raw, (tuple, list)) and len(raw) == 2 and len(raw[0]) == len(raw[1])):
        raise EnsembleError(f'{path}: expected a pickle of (names, labels) of equal length')
    names = [_name(name) for name in raw[0]]
    if len(set(names)) != len(names):
        raise EnsembleError(f'{path}: {len(names) - len(set(names))} duplicate sample names')
    try:
        labels = np.asarray(raw[1], dtype=np.int64)
    except (TypeError, ValueError):
        raise EnsembleError(f'{path}: labels must be integer class indices') from None
    return names, labels


def _difference(have, want):
    """'N missing (e.g. a, b), M extra (e.g. c)' between two name sets, '' when equal."""
    parts = []
    for label, names in (('missing', want - have), ('extra', have - want)):
        if names:
            shown = ', '.join(sorted(names)[:SHOWN_NAMES])
            parts.append(f'{len(names)} {label} (e.g. {shown})')
    return ', '.join(parts)


def check_compatible(score_files, scores, label_path, names, labels):
    """EnsembleError unless every score file covers exactly the label file's samples with one class count."""
    first = set(scores[0])
    for path, table in zip(score_files[1:], scores[1:]):
        difference = _difference(set(table), first)
        if difference:
            raise EnsembleError(f'{path}: samples differ from {score_files[0]}: {difference}')
    difference = _difference(first, set(names))
    if difference:
        raise EnsembleError(f'{label_path}: the score files do not cover its samples: {difference}')
    num_class = {path: len(next(iter(table.values()))) for path, table in zip(score_files, scores)}
    if len(set(num_class.values())) != 1:
        counts = ', '.join(f'{path}: {k}' for path, k in num_class.items())
        raise EnsembleError(f'class counts differ between score files ({counts})')
    k = next(iter(num_class.values()))
    if labels.min() < 0 or labels.max() >= k:
        raise EnsembleError(f'{label_path}: labels span [{labels.min()}, {labels.max()}] but scores have {k} classes')
    return k


def stack(table, names):
    """Scores in the order of ``names``.

    Shape:
        Output: (len(names), num_class).
    """
    return np.stack([table[name] for name in names])


def fuse(scores, weights, names):
    """sum_i weights[i] * scores[i], matched by sample name.

    Shape:
        Output: (len(names), num_class).
    """
    return sum(w * stack(table, names) for w, table in zip(weights, scores))


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    parser.add_argument('--scores', nargs='+', required=True, type=pathlib.Path,
                        help='score pickles {sample_name: scores}, one per stream')
    parser.add_argument('--weights', nargs='+', type=float, help='one weight per score file (default: all 1)')
    parser.add_argument('--label-path', '--label_path', required=True, type=pathlib.Path,
                        help='pickle of (names, labels), as written by the data generators, or a PYSKL annotation '
                             'pickle with --split')
    parser.add_argument('--split', help='the split of a PYSKL annotation pickle given as --label-path')
    parser.add_argument('--top-k', '--top_k', type=int, default=5, help='the second accuracy column')
    return parser


def run(args):
    """Print the accuracy table; EnsembleError on inputs that cannot be fused."""
    weights = args.weights if args.weights is not None else [1.0] * len(args.scores)
    if len(weights) != len(args.scores):
        raise EnsembleError(f'--weights: {len(weights)} weights for {len(args.scores)} score files')
    names, labels = load_labels(args.label_path, args.split)
    scores = [load_scores(path) for path in args.scores]
    num_class = check_compatible(args.scores, scores, args.label_path, names, labels)
    if not 1 <= args.top_k <= num_class:
        raise EnsembleError(f'--top-k: {args.top_k} is not in [1, {num_class}] (the number of classes)')
    rows = [(str(path), f'{w:g}', stack(table, names)) for path, w, table in zip(args.scores, weights, scores)]
    rows.append(('fusion', '', fuse(scores, weights, names)))
    width = max(len(row[0]) for row in rows)
    print(f'{"stream":<{width}}  {"weight":>6}  {"top-1":>6}  {f"top-{args.top_k}":>6}   ({len(names)} samples)')
    for name, weight, fused in rows:
        top1, topk = (100 * topk_accuracy(fused, labels, k) for k in (1, args.top_k))
        print(f'{name:<{width}}  {weight:>6}  {top1:6.2f}  {topk:6.2f}')


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except EnsembleError as e:
        print(f'{PROG}: error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
