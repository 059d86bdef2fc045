"""Chunked .npy -> .npy transforms through memmaps, for the stream generators (bone, motion, Kinetics).

The derived streams of a full dataset (NTU-120 train: 63,026 x 3 x 300 x 25 x 2 float32, 11 GB) do not fit in
memory: read the input with ``np.load(mmap_mode='r')``, transform a chunk of samples at a time into an
``open_memmap`` under a temporary name in the output folder (storage.files.atomic_path), renamed when complete,
so an interrupted run never leaves a truncated file under the final name.
"""
import pathlib

import numpy as np
from numpy.lib.format import open_memmap
from tqdm import tqdm

from storage import files
from storage.files import StorageError, atomic_path

DEFAULT_CHUNK = 256  # samples per chunk: 256 NTU samples are 46 MB of float32


def transform_npy(src, dst, transform, chunk_size=DEFAULT_CHUNK, desc=None):
    """Write ``transform(chunk)`` for each chunk of samples of ``src`` to ``dst`` (float32), atomically.

    ``transform`` maps a float32 (n, C, T, V, M) array to one of the same shape; samples are independent,
    so chunking does not change the result. Both files are mapped afresh for each chunk, so pages already
    written leave this process's resident memory.
    """
    shape = files.load_samples(src).shape
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    with atomic_path(dst) as tmp:
        open_memmap(tmp, mode='w+', dtype=np.float32, shape=shape).flush()
        files.preallocate(tmp)
        for start in tqdm(range(0, shape[0], chunk_size), desc=desc or pathlib.Path(dst).name, disable=None):
            source, target = np.load(src, mmap_mode='r'), open_memmap(tmp, mode='r+')
            chunk = np.asarray(source[start:start + chunk_size], dtype=np.float32)
            target[start:start + len(chunk)] = transform(chunk)
            target.flush()
            del source, target  # unmap before the next chunk and before the rename


def write_rows(rows, capacity, path, sample_shape):
    """Write the float32 samples ``rows`` yields (at most ``capacity``) to the .npy ``path``, atomically.

    For generators that may skip inputs: the file is sized for ``capacity`` samples while writing, then,
    when fewer came, copied chunk by chunk into one of exactly the right size. Returns the sample count.

    Shape:
        rows: iterable of sample_shape (e.g. (C, T, V, M)).  File: (count, *sample_shape).
    """
    with atomic_path(path) as tmp:
        open_memmap(tmp, mode='w+', dtype=np.float32, shape=(capacity, *sample_shape)).flush()
        files.preallocate(tmp)
        count, target = 0, None
        for row in rows:
            if count % DEFAULT_CHUNK == 0:  # a fresh mapping now and then, so written pages can leave RSS
                target = open_memmap(tmp, mode='r+')  # the previous mapping is dropped here
            target[count] = row
            count += 1
        del target
        if count < capacity:
            with atomic_path(tmp) as exact:
                copy_head(tmp, exact, count)
    return count


def copy_head(src, dst, count):
    """Copy the first ``count`` samples of the .npy ``src`` into a new .npy ``dst``, a chunk at a time."""
    shape = np.load(src, mmap_mode='r').shape
    open_memmap(dst, mode='w+', dtype=np.float32, shape=(count, *shape[1:])).flush()
    files.preallocate(dst)
    for start in range(0, count, DEFAULT_CHUNK):
        stop = min(start + DEFAULT_CHUNK, count)
        source, target = np.load(src, mmap_mode='r'), open_memmap(dst, mode='r+')
        target[start:stop] = source[start:stop]
        target.flush()
        del source, target


def report(src, dst, info):
    """Record how ``dst`` was made in the meta.json beside it, and say what was written.

    meta["streams"][dst's stream name] = info, on the meta.json beside ``dst``, else a copy of the one beside
    ``src`` (so data_mode and num_class follow the stream to a new folder). Without either (data made by
    another tool) nothing is recorded, and the output line says so.
    """
    meta = files.read_meta(dst) or files.read_meta(src)
    if not meta:
        print(f'{dst} (no meta.json beside {src}: stream not recorded)')
        return
    meta.setdefault('streams', {})[files.stream_name(dst)] = info
    files.write_meta(meta, pathlib.Path(dst).parent)
    print(dst)


def positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def add_io_arguments(parser):
    """The flags shared by the stream generators: a gen_joint_data folder, or one explicit file pair."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument('--data-dir', type=pathlib.Path,
                       help='folder written by gen_joint_data ({part}_data_joint.npy, meta.json)')
    where.add_argument('--data-path', type=pathlib.Path, help='one input .npy (N, C, T, V, M); needs --out')
    parser.add_argument('--out', type=pathlib.Path, help='the output .npy for --data-path')
    parser.add_argument('--parts', '--part', nargs='+', default=['train', 'val'], help='parts under --data-dir')
    parser.add_argument('--chunk-size', type=positive_int, default=DEFAULT_CHUNK, help='samples per chunk')


def io_pairs(parser, args, stream_pairs):
    """[(src, dst)]: for each (input stream, output stream) and part under --data-dir, or the explicit pair.

    Raises StorageError when an input is missing, before anything is written.
    """
    if args.data_path is not None:
        if args.out is None:
            parser.error('--data-path needs --out')
        pairs = [(args.data_path, args.out)]
    else:
        if args.out is not None:
            parser.error('--out goes with --data-path; under --data-dir outputs are named {part}_data_<stream>.npy')
        pairs = [(args.data_dir / files.data_file(part, a), args.data_dir / files.data_file(part, b))
                 for a, b in stream_pairs for part in args.parts]
    for src, dst in pairs:
        if src.exists() and not src.is_file():
            raise StorageError(f'{src}: not a regular file (a stream is a .npy of samples)')
        if not src.is_file():
            raise StorageError(f'{src}: no such file (generate the {files.stream_name(src)} stream first)')
        if src.resolve() == dst.resolve():
            raise StorageError(f'{dst}: the output would overwrite its input')
        if dst.is_dir() or files.is_special_file(dst):
            raise StorageError(f'{dst}: not a regular file name; a stream is a .npy written through a memory map')
        if not dst.parent.is_dir():
            raise StorageError(f'{dst}: the folder {dst.parent} does not exist')
    for folder in {dst.parent for _, dst in pairs}:
        files.remove_stale_temporaries(folder)
    return pairs
