"""Tiny TFRecord folders for training tests, written through the real data_gen/gen_tfrecord_data.py."""
import json
import pickle

import numpy as np

from data_gen import gen_tfrecord_data

# main.py flags for a tiny tf2019-preset model on 3 classes: a run trains in seconds.
TINY_MODEL = ['--model-preset', 'tf2019', '--channels', '4', '8', '8', '--num-classes', '3', '--batch-size', '4',
              '--base-lr', '0.05', '--no-progress']


def write_tiny_records(folder, num_samples, num_class=3, frames=16, num_shards=4, seed=0, data_mode='prenorm',
                       stem='train', transform=None):
    """Samples whose class sets the frequency of a joint oscillation, plus noise: learnable, not constant.

    transform(x) -> x, if given, alters the samples before they are written (bad-input tests). Writes {folder}/src/{stem}_data_joint.npy (N, 3, T, 25, 2), its label pickle and meta.json, then the
    shards into {folder}. Returns (x, labels).
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(num_samples) % num_class
    t = np.linspace(0.0, 2.0 * np.pi, frames, dtype=np.float32)
    phase = rng.uniform(0, 2 * np.pi, (num_samples, 1, 1))
    x = 0.1 * rng.standard_normal((num_samples, 3, frames, 25, 2)).astype(np.float32)
    # (N, T, V) oscillation of person 0's x coordinate, frequency = class + 1
    x[:, 0, :, :, 0] += np.sin((labels[:, None, None] + 1) * t[None, :, None] + phase)
    names = [f'S001C001P{i + 1:03d}R001A{label + 1:03d}' for i, label in enumerate(labels)]
    if transform is not None:
        x = transform(x)
    src = folder / 'src'
    src.mkdir(parents=True)
    np.save(src / f'{stem}_data_joint.npy', x)
    with open(src / f'{stem}_label.pkl', 'wb') as f:
        pickle.dump((names, labels.tolist()), f)
    (src / 'meta.json').write_text(json.dumps({'data_mode': data_mode, 'num_class': num_class}))
    assert gen_tfrecord_data.main(['--data-path', str(src / f'{stem}_data_joint.npy'),
                                   '--label-path', str(src / f'{stem}_label.pkl'), '--dest-folder', str(folder),
                                   '--num-shards', str(num_shards)]) == 0
    return x, labels
