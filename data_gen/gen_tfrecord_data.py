"""Convert a {part}_data_joint.npy + {part}_label.pkl pair into sharded TFRecords.

    python data_gen/gen_tfrecord_data.py --data-path data/ntu/xsub/train_data_joint.npy \
        --label-path data/ntu/xsub/train_label.pkl --dest-folder data/ntu_tfrecord/xsub/train \
        [--num-shards 40] [--shuffle | --no-shuffle] [--seed 0] [--data-mode prenorm|raw] [--num-class K]

Each record is a tf.train.Example with the schema of the 2019 TF port plus the sample name:
    features: bytes  tf.io.serialize_tensor(float32 (C, T, V, M))
    label:    int64  0-based class
    name:     bytes  sample file name, e.g. b'S001C001P001R001A001'
Shards are {dest}/{stem}-{k}.tfrecord ({stem} is the .npy name without `_data_joint.npy`, e.g. `train`),
each written under a temporary name and renamed when complete. {dest}/meta.json describes the folder:
num_samples, num_shards, sample_shape [C, T, V, M], max_frame (the stored T), data_mode, num_class, and `shards`
({file name: {num_records, num_bytes}}), which the feeder checks to name a truncated shard.

Shuffling permutes an index, not the data: the .npy is opened as a memmap and read shard by shard in
chunks, so memory stays bounded whatever N is.
"""
import argparse
import os
import pathlib
import re
import sys

import numpy as np
from tqdm import tqdm

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from storage import files  # noqa: E402

# TensorFlow is imported inside the two functions that write records, after the inputs are checked:
# importing it logs several lines to stderr, which would bury the one-line error of a bad input.

CHUNK = 256  # samples read from the memmap at once: ~46 MB at (3, 300, 25, 2)


class InputError(Exception):
    """Bad input; the message is printed as one line and the exit code is 2."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-path', '--data_path', required=True, help='(N, C, T, V, M) float32 .npy')
    parser.add_argument('--label-path', '--label_path', required=True, help='pickle of (names, labels)')
    parser.add_argument('--dest-folder', '--dest_folder', required=True)
    parser.add_argument('--num-shards', '--num_shards', type=int, default=40)
    parser.add_argument('--shuffle', action=argparse.BooleanOptionalAction, default=True,
                        help='shuffle the sample order across shards (default: yes)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-mode', '--data_mode', choices=['prenorm', 'raw', 'kinetics'], default=None,
                        help='override the data_mode read from the meta.json beside the .npy')
    parser.add_argument('--num-class', '--num_class', type=int, default=None,
                        help='override the num_class read from the meta.json beside the .npy')
    args = parser.parse_args(argv)
    if args.num_shards < 1:
        parser.error(f'--num-shards must be >= 1, got {args.num_shards}')
    return args


def shard_stem(data_path):
    """`train_data_joint.npy` (any stream, or the official `train_data.npy`) -> `train`; any other `x.npy` -> `x`."""
    return files.parse_data_name(data_path)[0]


def load_inputs(data_path, label_path):
    """The data as a read-only memmap and (names, labels), checked against each other (storage.files).

    Returns:
        data: memmap (N, C, T, V, M) float32, names: list[str], labels: np.int64 (N,)
    """
    try:
        data, names, labels = files.load_npy_pair(data_path, label_path)
    except files.StorageError as err:
        raise InputError(str(err)) from None
    if data.shape[0] == 0:
        raise InputError(f'{data_path}: no samples')
    return data, names, labels


def shard_indices(num_samples, num_shards, shuffle, seed):
    """Split the (optionally permuted) sample index into num_shards contiguous, near-equal parts."""
    order = np.random.default_rng(seed).permutation(num_samples) if shuffle else np.arange(num_samples)
    return np.array_split(order, num_shards)


def serialize_example(sample, label, name):
    """One tf.train.Example as bytes. sample: float32 (C, T, V, M)."""
    import tensorflow as tf
    feature = {
        'features': tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[tf.io.serialize_tensor(sample).numpy()])),
        'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
        'name': tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_shard(path, data, names, labels, indices, progress):
    """Write the samples `indices` (in that order) to `path` atomically."""
    import tensorflow as tf
    with files.atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for start in range(0, len(indices), CHUNK):
            chunk = indices[start:start + CHUNK]
            # Fancy-indexing the memmap reads only these rows; sorting keeps the reads sequential.
            rows = np.sort(chunk)
            block = np.asarray(data[rows], dtype=np.float32)  # (chunk, C, T, V, M)
            position = {row: i for i, row in enumerate(rows)}
            for index in chunk:
                writer.write(serialize_example(block[position[index]], labels[index], names[index]))
            progress.update(len(chunk))


def remove_stale_shards(dest, stem, keep):
    """Delete {stem}-{k}.tfrecord files a previous run with more shards left behind."""
    pattern = re.compile(rf'{re.escape(stem)}-(\d+)\.tfrecord')
    for path in dest.iterdir():
        match = pattern.fullmatch(path.name)
        if match and path.name not in keep:
            path.unlink()


def main(argv=None):
    args = parse_args(argv)
    try:
        data, names, labels = load_inputs(args.data_path, args.label_path)
        meta_in = files.read_meta(args.data_path)
    except (InputError, files.StorageError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    dest = pathlib.Path(args.dest_folder)
    dest.mkdir(parents=True, exist_ok=True)
    stem = shard_stem(args.data_path)
    num_shards = min(args.num_shards, len(labels))  # an empty shard would starve an input pipeline
    if num_shards < args.num_shards:
        print(f'note: {len(labels)} samples, writing {num_shards} shards instead of {args.num_shards}',
              file=sys.stderr)
    shards = {}
    with tqdm(total=len(labels), unit='sample', desc=f'{stem} -> {dest}') as progress:
        for k, indices in enumerate(shard_indices(len(labels), num_shards, args.shuffle, args.seed)):
            path = dest / f'{stem}-{k}.tfrecord'
            write_shard(path, data, names, labels, indices, progress)
            shards[path.name] = {'num_records': len(indices), 'num_bytes': path.stat().st_size}
    remove_stale_shards(dest, stem, keep=shards)
    meta = {
        'num_samples': len(labels),
        'num_shards': num_shards,
        'sample_shape': list(data.shape[1:]),
        'max_frame': int(data.shape[2]),  # the stored T: what predict pads or cuts a new recording to
        'data_mode': args.data_mode or meta_in.get('data_mode'),
        'num_class': args.num_class or meta_in.get('num_class'),
        'shards': shards,
    }
    files.write_meta(meta, dest)
    print(f'wrote {len(labels)} samples into {num_shards} shards under {dest}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
