"""Convert a {part}_data_joint.npy + {part}_label.pkl pair, or one split of a PYSKL annotation pickle, into
sharded TFRecords.

    python data_gen/gen_tfrecord_data.py --data-path data/ntu/xsub/train_data_joint.npy \
        --label-path data/ntu/xsub/train_label.pkl --dest-folder data/ntu_tfrecord/xsub/train \
        [--num-shards 40] [--shuffle | --no-shuffle | --shuffle true|false] [--seed 0] [--data-mode prenorm|raw] \
        [--num-class K]
    python data_gen/gen_tfrecord_data.py        # the 2019 port's step 4: every data/ntu/{benchmark}/{part}_data_joint.npy
                                                # -> data/ntu/{benchmark}/{part}_data/ (what `python main.py` reads)
    python data_gen/gen_tfrecord_data.py --ann-file data/nturgbd/ntu60_3danno.pkl --split xsub_train \
        --dest-folder data/nturgbd/ntu60_3danno/xsub_train [--num-shards 40]

--ann-file: every sample of the split at its true length and person count, in the schema and shard order of
feeders/pyskl_records.py ({dest}/{split}-{k}.tfrecord; sample i in shard i % num_shards), and a meta.json
with format 'pyskl-shards', kind, num_node, layout, num_class (over the whole file), split, num_samples,
num_shards, max_person and shards. `main.py --train-data-path {dest}` then runs PYSKL's pipeline on it as on
the pickle (feeders/pyskl_feeder.py). The file is checked whole first (feeders/pyskl_annotations.py).

Each record is a tf.train.Example with the schema of the 2019 TF port plus the sample name:
    features: bytes  tf.io.serialize_tensor(float32 (C, T, V, M))
    label:    int64  0-based class
    name:     bytes  sample file name, e.g. b'S001C001P001R001A001'
Shards are {dest}/{stem}-{k}.tfrecord ({stem} is the .npy name without `_data_joint.npy`, e.g. `train`),
each written under a temporary name and renamed when complete. {dest}/meta.json describes the folder:
num_samples, num_shards, sample_shape [C, T, V, M], max_frame (the stored T), data_mode, num_class, and `shards`
({file name: {num_records, num_bytes}}), which the feeder checks to name a truncated shard.

Nothing is renamed into {dest} until every shard is complete: the shards are written under temporary names, then
the old meta.json is removed, the shards renamed and the new meta.json written last, so a failed or killed run
leaves the earlier set as it was (or, killed during the renames, a folder without meta.json, which the feeder
refuses). Every sample is checked first: names unique, labels integers in [0, num_class), values finite after
the float32 cast; the first offending sample is named.

Shuffling permutes an index, not the data: the .npy is opened as a memmap and read shard by shard in
chunks, so memory stays bounded whatever N is.
"""
import argparse
import contextlib
import os
import pathlib
import re
import sys

import numpy as np
from tqdm import tqdm

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from feeders import pyskl_annotations  # noqa: E402  (numpy only)
from storage import files  # noqa: E402

# TensorFlow is imported inside the functions that write records, after the inputs are checked:
# importing it logs several lines to stderr, which would bury the one-line error of a bad input.

CHUNK = 256  # samples read from the memmap at once: ~46 MB at (3, 300, 25, 2)


class InputError(Exception):
    """Bad input; the message is printed as one line and the exit code is 2."""


REPO = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA_FOLDER = REPO / 'data' / 'ntu'  # the 2019 port's ../data/ntu, from data_gen/ or the root alike


def _boolean(text):
    """The 2019 port's `--shuffle True|False` values."""
    value = text.strip().lower()
    if value in ('true', 'yes', '1'):
        return True
    if value in ('false', 'no', '0'):
        return False
    raise argparse.ArgumentTypeError(f'expected true or false, got {text!r}')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-path', '--data_path', help='(N, C, T, V, M) float32 .npy (default: every '
                        f'{{part}}_data_joint.npy under {DEFAULT_DATA_FOLDER}/*/)')
    parser.add_argument('--label-path', '--label_path', help='pickle of (names, labels) (default: the '
                        '{part}_label.pkl beside the data)')
    parser.add_argument('--dest-folder', '--dest_folder', help='(default: {part}_data/ beside the data)')
    parser.add_argument('--ann-file', '--ann_file', help='a PYSKL annotation pickle: convert its --split instead '
                        'of a .npy')
    parser.add_argument('--split', help='with --ann-file: the split to convert, e.g. xsub_train')
    parser.add_argument('--num-shards', '--num_shards', type=int, default=40)
    # None: not given (the .npy default is to shuffle; PYSKL shards keep the split's order, see pyskl_records)
    parser.add_argument('--shuffle', nargs='?', const=True, default=None, type=_boolean,
                        help='shuffle the sample order across shards (default: yes; also --shuffle true|false)')
    parser.add_argument('--no-shuffle', dest='shuffle', action='store_false')
    parser.add_argument('--seed', type=int, default=None, help='the shuffle\'s seed (default 0)')
    parser.add_argument('--data-mode', '--data_mode', choices=['prenorm', 'raw', 'kinetics'], default=None,
                        help='override the data_mode read from the meta.json beside the .npy')
    parser.add_argument('--num-class', '--num_class', type=int, default=None,
                        help='override the num_class read from the meta.json beside the .npy')
    args = parser.parse_args(argv)
    if args.num_shards < 1:
        parser.error(f'--num-shards must be >= 1, got {args.num_shards}')
    if args.num_class is not None and args.num_class < 1:
        parser.error(f'--num-class must be >= 1, got {args.num_class}')
    if args.ann_file is not None:
        given = [flag for flag, value in (('--data-path', args.data_path), ('--label-path', args.label_path),
                                          ('--shuffle', args.shuffle), ('--seed', args.seed),
                                          ('--data-mode', args.data_mode), ('--num-class', args.num_class))
                 if value is not None]
        if given:
            parser.error(f'{given[0]} goes with --data-path, not --ann-file (PYSKL shards keep the split\'s order and '
                         'the file\'s classes)')
        if args.dest_folder is None:
            parser.error('--ann-file needs --dest-folder')
        return args
    if args.split is not None:
        parser.error('--split goes with --ann-file')
    if args.data_path is None and (args.label_path or args.dest_folder):
        parser.error('--label-path and --dest-folder go with --data-path')
    args.shuffle = True if args.shuffle is None else args.shuffle
    args.seed = 0 if args.seed is None else args.seed
    return args


def conversions(args):
    """[(data_path, label_path, dest_folder)] to convert: the one given, or the 2019 port's defaults."""
    if args.data_path is not None:
        data_path = pathlib.Path(args.data_path)
        dest = args.dest_folder or data_path.with_name(f'{shard_stem(data_path)}_data')
        return [(data_path, args.label_path, pathlib.Path(dest))]
    found = sorted(DEFAULT_DATA_FOLDER.glob(f'*/{files.data_file("*")}'))
    if not found:
        raise InputError(f'{DEFAULT_DATA_FOLDER}: no */{files.data_file("{part}")} (run data_gen/gen_joint_data.py '
                         'first, or give --data-path)')
    return [(path, None, path.with_name(f'{shard_stem(path)}_data')) for path in found]


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


def write_shard(path, data, names, labels, indices, progress, data_path):
    """Write the samples `indices` (in that order) to `path`; InputError naming the first sample that is not
    finite after the float32 cast."""
    import tensorflow as tf
    with tf.io.TFRecordWriter(str(path)) as writer:
        for start in range(0, len(indices), CHUNK):
            chunk = indices[start:start + CHUNK]
            # Fancy-indexing the memmap reads only these rows; sorting keeps the reads sequential.
            rows = np.sort(chunk)
            block = np.asarray(data[rows], dtype=np.float32)  # (chunk, C, T, V, M)
            finite = np.isfinite(block).reshape(len(rows), -1).all(axis=1)
            if not finite.all():
                row = int(rows[np.argmin(finite)])
                raise InputError(f'{data_path}: sample {row} ({names[row]}) holds NaN or infinite values (after '
                                 'the float32 cast); regenerate it or leave it out')
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
        if args.ann_file is not None:
            convert_pyskl(pathlib.Path(args.ann_file), args.split, pathlib.Path(args.dest_folder), args.num_shards)
        else:
            for data_path, label_path, dest in conversions(args):
                convert(args, data_path, label_path, dest)
    except (InputError, files.StorageError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    except OSError as err:
        print(f'error: {err.filename or args.dest_folder}: {err.strerror}', file=sys.stderr)
        return 2
    return 0


def prepare_dest(dest):
    """Create the output folder (a file there is an error) and remove what killed runs left in it."""
    if dest.exists() and not dest.is_dir():
        raise InputError(f'--dest-folder {dest}: exists and is not a folder')
    dest.mkdir(parents=True, exist_ok=True)
    files.remove_stale_temporaries(dest)


def num_shards_for(num_samples, requested):
    """At most one shard per sample: an empty shard would starve an input pipeline."""
    if num_samples < requested:
        print(f'note: {num_samples} samples, writing {num_samples} shards instead of {requested}', file=sys.stderr)
    return min(requested, num_samples)


def write_shard_set(dest, stem, groups, write):
    """Shards {dest}/{stem}-{k}.tfrecord, shard k holding the samples groups[k], by write(tmp_path, group, bar).

    Each shard is written under a temporary name; only when all are complete is the old meta.json removed and
    are they renamed in place, then shards of an earlier, larger set removed. The caller writes meta.json last.
    Returns {file name: {num_records, num_bytes}} for meta.json.
    """
    shards = {}
    total = sum(len(group) for group in groups)
    with contextlib.ExitStack() as renames, tqdm(total=total, unit='sample', desc=f'{stem} -> {dest}') as bar:
        for k, group in enumerate(groups):
            path = dest / f'{stem}-{k}.tfrecord'
            tmp = renames.enter_context(files.atomic_path(path))  # renamed when the whole set is written
            write(tmp, group, bar)
            shards[path.name] = {'num_records': len(group), 'num_bytes': tmp.stat().st_size}
        # Exit callbacks run last-in first-out: this one, before the renames, and only when nothing failed.
        renames.push(lambda failed, *_: None if failed else files.invalidate_meta(dest))
    remove_stale_shards(dest, stem, keep=shards)
    return shards


def convert(args, data_path, label_path, dest):
    """One .npy + labels -> shards + meta.json in `dest` (see the module docstring for the order of the writes)."""
    data, names, labels = load_inputs(data_path, label_path)
    meta_in = files.read_meta(data_path)
    num_class = args.num_class or meta_in.get('num_class')
    check_labels(names, labels, num_class, label_path or files.default_label_path(data_path))
    prepare_dest(dest)
    num_shards = num_shards_for(len(labels), args.num_shards)
    groups = shard_indices(len(labels), num_shards, args.shuffle, args.seed)
    shards = write_shard_set(dest, shard_stem(data_path), groups,
                             lambda tmp, indices, bar: write_shard(tmp, data, names, labels, indices, bar, data_path))
    meta = {
        'num_samples': len(labels),
        'num_shards': num_shards,
        'sample_shape': list(data.shape[1:]),
        'max_frame': int(data.shape[2]),  # the stored T: what predict pads or cuts a new recording to
        'data_mode': args.data_mode or meta_in.get('data_mode'),
        'num_class': num_class,
        'shards': shards,
    }
    files.write_meta(meta, dest)
    print(f'wrote {len(labels)} samples into {num_shards} shards under {dest}')


def convert_pyskl(ann_file, split, dest, requested_shards):
    """One split of a PYSKL annotation pickle -> shards + meta.json in `dest` (feeders/pyskl_records.py)."""
    if split is None:
        splits = pyskl_annotations.describe(ann_file)['splits']
        raise InputError(f'{ann_file}: give --split, one of the file\'s splits: {", ".join(splits) or "none"}')
    info, annotations = pyskl_annotations.read_split(ann_file, split)
    if not annotations:
        raise InputError(f'{ann_file}: split {split!r} is empty')
    kind, num_node = info['kind'], info['num_node']
    layout = pyskl_annotations.PYSKL_LAYOUTS.get((kind, num_node))
    if kind == '3d' and layout is None:
        # kennymckormick/pyskl:pyskl/datasets/pipelines/pose_related.py:PreNormalize3D turns the body by NTU's joints
        raise InputError(f'{ann_file}: 3D keypoints with V = {num_node} joints; PYSKL\'s 3D pipeline '
                         '(PreNormalize3D) takes NTU\'s 25 (layout ntu-rgb+d-pyskl)')
    max_person = max(a['keypoint'].shape[0] for a in annotations)
    if kind == '3d' and max_person > 2:
        where = next(a['frame_dir'] for a in annotations if a['keypoint'].shape[0] == max_person)
        raise InputError(f'{ann_file}: frame_dir {where!r}: {max_person} persons; PreNormalize3D takes 1 or 2')
    if layout is None:
        print(f'note: no shipped layout for 2D keypoints with V = {num_node} joints: train with yours '
              '(model_args.graph_args.layout or --layout-file)', file=sys.stderr)
    keypoint_dtype = np.result_type(*{a['keypoint'].dtype for a in annotations})
    score_dtype = np.result_type(*{a['keypoint_score'].dtype for a in annotations}) if kind == '2d' else None
    prepare_dest(dest)
    num_shards = num_shards_for(len(annotations), requested_shards)
    from feeders import pyskl_records  # TensorFlow, only now that the input is checked

    def write(tmp, indices, bar):
        import tensorflow as tf
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for i in indices:
                writer.write(pyskl_records.serialize_annotation(annotations[i], i, keypoint_dtype, score_dtype))
                bar.update(1)

    groups = [range(k, len(annotations), num_shards) for k in range(num_shards)]  # sample i in shard i % num_shards
    shards = write_shard_set(dest, split, groups, write)
    meta = {'format': pyskl_records.FORMAT, 'kind': kind, 'num_node': num_node, 'num_class': info['num_class'],
            'split': split, 'num_samples': len(annotations), 'num_shards': num_shards, 'max_person': max_person,
            **({'layout': layout} if layout else {}), 'shards': shards}
    files.write_meta(meta, dest)
    print(f'wrote {len(annotations)} samples of {split} into {num_shards} shards under {dest}')


def check_labels(names, labels, num_class, label_path):
    """Labels beyond num_class, refused now rather than by training later (storage.files.load_samples refuses
    non-float data, load_labels repeated names and labels that are not integers >= 0)."""
    if num_class is not None and len(labels) and labels.max() >= num_class:
        i = int(np.argmax(labels >= num_class))
        raise InputError(f'{label_path}: sample {i} ({names[i]}): label {labels[i]} is >= num_class {num_class} '
                         '(meta.json or --num-class)')


if __name__ == '__main__':
    sys.exit(main())
