"""Recognise the action in raw NTU RGB+D `.skeleton` files with trained weights.

    python main.py --phase predict --weights W --skeleton FILE_OR_FOLDER [--top-k 5] [--json]

Each file gets the preprocessing the weights were trained with (model.meta['data_mode']: 'prenorm' for the
2019 port and this project's default runs, 'raw' for the official weights), exactly as gen_joint_data applies
it, and files are classified BATCH_SIZE at a time. A folder means every `.skeleton` file in it, by name.
Output per file: a small table, or with --json one line
    {"file": "S001C001P001R001A001.skeleton", "top_k": [{"label": 0, "action": "drink water", "prob": 0.93}, ...]}
with 0-based labels and probabilities from the softmax of the logits, highest first. Results are printed batch
by batch: when a later file is malformed, the earlier batches have already been printed.
"""
import json
import os

import numpy as np
from scipy.special import softmax

from data_gen.ntu import ACTION_NAMES
from data_gen.preprocess import skeleton_to_sample
from data_gen.skeleton import SkeletonError
from serving import ServingError, load_model

BATCH_SIZE = 16
SKELETON_SUFFIX = '.skeleton'
# What an NTU .skeleton file yields per sample: (C, V, M) = x y z, 25 Kinect joints, 2 bodies.
NTU_SAMPLE = (3, 25, 2)


def run(cfg):
    """The predict phase: print the top-k actions of every file under --skeleton. Returns the exit code (0)."""
    paths = skeleton_paths(cfg.skeleton)
    model = load_model(cfg)
    check_ntu_model(model, cfg.weights)
    k = min(cfg.top_k, model.config.num_class)
    for batch_paths, logits in predict_logits(model, paths, model.meta['data_mode'], model.meta['max_frame']):
        for path, row in zip(batch_paths, softmax(logits.astype(np.float64), axis=-1)):
            result = top_k(row, k)
            name = os.path.basename(path)
            print(json.dumps({'file': name, 'top_k': result}) if cfg.json else format_table(name, result),
                  flush=True)
    return 0


def skeleton_paths(skeleton):
    """--skeleton as a list of files: one or several paths, each a file or a folder of `.skeleton` files
    (a folder's files in sorted order)."""
    given = [skeleton] if isinstance(skeleton, str) else list(skeleton)
    paths = []
    for path in given:
        if os.path.isdir(path):
            found = sorted(name for name in os.listdir(path) if name.endswith(SKELETON_SUFFIX))
            if not found:
                raise ServingError(f'--skeleton {path}: the folder holds no {SKELETON_SUFFIX} files')
            paths += [os.path.join(path, name) for name in found]
        elif os.path.isfile(path):
            paths.append(path)
        else:
            raise ServingError(f'--skeleton {path}: no such file or folder')
    return paths


def check_ntu_model(model, weights):
    """NTU files give (C, V, M) = NTU_SAMPLE samples: weights for another layout (Kinetics) cannot read them."""
    config = model.config
    takes = (config.in_channels, model.num_node, config.num_person)
    if takes != NTU_SAMPLE:
        raise ServingError(f'--weights {weights}: the model takes (C, V, M) = {takes}, but NTU .skeleton files '
                           f'give {NTU_SAMPLE}')


def predict_logits(model, paths, data_mode, max_frame, batch_size=BATCH_SIZE):
    """Yield (paths of one batch, their logits float32 (B, num_class)), in the order of `paths`.

    Each file is padded (or cut) to `max_frame`, the T the weights' training samples were stored at: the model
    averages over time, so the zero padding must be what training saw.
    """
    for start in range(0, len(paths), batch_size):
        batch = paths[start:start + batch_size]
        x = np.stack([read_sample(path, data_mode, max_frame) for path in batch])  # (B, C, T, V, M)
        yield batch, np.asarray(model(x, training=False))


def read_sample(path, data_mode, max_frame):
    """One file preprocessed as gen_joint_data does. Shape: float32 (3, max_frame, 25, 2)."""
    try:
        return skeleton_to_sample(path, mode=data_mode, max_frame=max_frame)
    except SkeletonError as err:
        raise ServingError(str(err)) from None  # already 'file:line: what is wrong'
    except OSError as err:
        raise ServingError(f'{path}: cannot read: {err.strerror}') from None


def top_k(probabilities, k):
    """The k most probable classes, highest first (ties: lower label first).

    Shape: probabilities (num_class,) -> list of k {'label', 'action', 'prob'} dicts.
    """
    labels = np.argsort(-probabilities, kind='stable')[:k]
    return [{'label': int(label), 'action': action_name(label), 'prob': float(probabilities[label])}
            for label in labels]


def action_name(label):
    """NTU RGB+D 120's name of a 0-based label (NTU 60 uses the first 60); 'class N' past the list."""
    return ACTION_NAMES[label] if label < len(ACTION_NAMES) else f'class {label}'


def format_table(name, result):
    """A file's result as readable lines: the file name, then rank, probability, label and action."""
    lines = [name]
    lines += [f'  {rank:>2}. {entry["prob"]:7.2%}  {entry["label"]:>3}  {entry["action"]}'
              for rank, entry in enumerate(result, 1)]
    return '\n'.join(lines)
