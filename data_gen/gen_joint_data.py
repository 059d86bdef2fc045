"""Raw NTU RGB+D skeletons -> {out}/{benchmark}/{part}_data_joint.npy, {part}_label.pkl, meta.json.

    python data_gen/gen_joint_data.py --data-path ./data/nturgbd_raw/nturgb+d_skeletons --dataset ntu60
    python data_gen/gen_joint_data.py --dataset ntu120 --data-path ./data/nturgbd_raw/nturgb+d_skeletons \\
        ./data/nturgbd_raw/nturgb+d_skeletons120

The data/label layout is 2s-AGCN's (docs/reference.md section 6): (N, 3, max_frame, 25, 2) float32, and a pickle of
(sample names, 0-based labels), samples sorted by name. Unlike the reference tools, each file is read
once for all benchmarks and parts, files are parsed in parallel, and samples stream into memory-mapped
outputs under temporary names that are renamed only when complete.
"""
import argparse
import concurrent.futures
import contextlib
import functools
import multiprocessing
import os
import signal
import sys
import time

import numpy as np
from numpy.lib.format import open_memmap
from tqdm import tqdm

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_gen import ntu  # noqa: E402
from data_gen.preprocess import MAX_BODY_KINECT, MAX_BODY_TRUE, MODES, sample_from_skeleton  # noqa: E402
from data_gen.skeleton import NUM_JOINT, SkeletonError, read_skeleton  # noqa: E402
from storage import files  # noqa: E402

PARTS = ('train', 'val')
# Defaults under the repository's data/ (the 2019 port's ../data/ from data_gen/): the same folders whether the
# script is run from the repository root or, as the port's README does, from data_gen/.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA_PATH = os.path.join(REPO, 'data', 'nturgbd_raw', 'nturgb+d_skeletons')
DEFAULT_OUT_FOLDER = {'ntu60': os.path.join(REPO, 'data', 'ntu'), 'ntu120': os.path.join(REPO, 'data', 'ntu120')}
CHUNK_SIZE = 8  # files per worker task: amortises inter-process overhead, keeps the ordered stream smooth
REMAP_EVERY = 16  # rows written through one mapping before it is closed, so written pages leave our RSS


class InputError(Exception):
    """Bad command-line input or data folder: reported as one line, exit code 2."""


def main(argv=None):
    return run_cli('gen_joint_data', generate, parse_args(argv), 'temporary files removed')


def run_cli(prog, generate, args, when_interrupted):
    """The raw-skeleton tools' error handling: one `{prog}: error: ...` line and exit 2; Ctrl-C exits 130."""
    try:
        return generate(args)
    except (InputError, OSError) as e:
        print(f'{prog}: error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'{prog}: interrupted; {when_interrupted}', file=sys.stderr)
        return 130


def add_raw_arguments(parser, skipped_list):
    """The flags of the tools that read raw .skeleton folders: input folders, workers, error mode, progress."""
    parser.add_argument('--data-path', '--data_path', nargs='+', default=[DEFAULT_DATA_PATH],
                        help='folder(s) of .skeleton files (NTU-120 ships in two; give both)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--on-error', '--on_error', choices=('fail', 'skip'), default='fail',
                        help=f'fail: stop at the first bad file; skip: leave it out and list it in {skipped_list}')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')


def listed_samples(args):
    """list_samples of the raw-skeleton tools' flags: [(name, path)], the listing counts and the bad names, or
    an InputError for a bad name in fail mode."""
    samples, listing, bad_names = list_samples(args.data_path, args.dataset, args.ignored_sample_path)
    if bad_names and args.on_error == 'fail':
        raise InputError(f'{bad_names[0]} (--on-error skip would leave such files out)')
    return samples, listing, bad_names


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='gen_joint_data', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_raw_arguments(parser, '{out}/{benchmark}/skipped.txt')
    parser.add_argument('--ignored-sample-path', '--ignored_sample_path', default=None,
                        help='list of samples to leave out (default: the official missing-skeleton list of '
                             'the dataset, shipped in data_gen/resources; "" for none)')
    parser.add_argument('--out-folder', '--out_folder', default=None,
                        help='output root (default: data/ntu or data/ntu120 in the repository)')
    parser.add_argument('--dataset', choices=tuple(ntu.BENCHMARKS), default='ntu60')
    parser.add_argument('--benchmark', nargs='+', choices=('xsub', 'xview', 'xset'), default=None,
                        help='default: xsub xview for ntu60, xsub xset for ntu120')
    parser.add_argument('--part', nargs='+', choices=PARTS, default=list(PARTS))
    parser.add_argument('--mode', choices=MODES, default='prenorm',
                        help='prenorm: 2s-AGCN body selection + pre-normalisation (the 2019 TF weights); '
                             'raw: first two bodies, raw coordinates (the official PyTorch weights)')
    parser.add_argument('--max-frame', '--max_frame', type=int, default=300)
    args = parser.parse_args(argv)
    args.benchmark = args.benchmark or list(ntu.BENCHMARKS[args.dataset])
    for benchmark in args.benchmark:
        if benchmark not in ntu.BENCHMARKS[args.dataset]:
            parser.error(f'argument --benchmark: {benchmark!r} is not a {args.dataset} benchmark '
                         f'(choose from {", ".join(ntu.BENCHMARKS[args.dataset])})')
    if args.max_frame < 1:
        parser.error(f'argument --max-frame: must be >= 1, got {args.max_frame}')
    if args.workers < 1:
        parser.error(f'argument --workers: must be >= 1, got {args.workers}')
    if args.ignored_sample_path is None:
        args.ignored_sample_path = ntu.MISSING_LISTS[args.dataset]
    args.out_folder = args.out_folder or DEFAULT_OUT_FOLDER[args.dataset]
    args.benchmark = list(dict.fromkeys(args.benchmark))
    args.part = list(dict.fromkeys(args.part))
    return args


def generate(args):
    """Run the whole conversion; returns the exit code."""
    start = time.perf_counter()
    samples, listing, bad_names = listed_samples(args)
    splits = assign_parts([name for name, _ in samples], args)
    # Each file's sample goes to row r of every output whose split lists it r-th.
    placements = {}
    for key, indices in splits.items():
        for row, i in enumerate(indices):
            placements.setdefault(i, []).append((key, row))
    if not placements:
        raise InputError(f'no {args.dataset} sample of the requested benchmarks/parts in {" ".join(args.data_path)}')

    sample_shape = (3, args.max_frame, NUM_JOINT, MAX_BODY_TRUE)
    folders = {b: os.path.join(args.out_folder, b) for b in args.benchmark}
    for folder in folders.values():
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise InputError(f'--out-folder: {folder} exists and is not a folder')
        os.makedirs(folder, exist_ok=True)
        files.remove_stale_temporaries(folder)
    with contextlib.ExitStack() as cleanup:
        outputs = {}
        for (b, part), indices in splits.items():
            outputs[b, part] = Output(os.path.join(folders[b], files.data_file(part)), len(indices), sample_shape)
            cleanup.callback(outputs[b, part].discard)  # no-op once committed
        stats, errors = convert_all(args, samples, placements, outputs, cleanup)
        skipped = {b: bad_names + [e for i, e in errors.items() if any(k[0] == b for k, _ in placements[i])]
                   for b in args.benchmark}
        for folder in folders.values():  # a run killed among the renames leaves no meta.json over a mixed set
            files.invalidate_meta(folder)
        for (b, part), output in outputs.items():
            output.commit(os.path.join(folders[b], files.label_file(part)))
        for b in args.benchmark:
            write_benchmark_files(folders[b], b, args, {p: outputs[b, p] for p in args.part},
                                  skipped[b] if args.on_error == 'skip' else None)
    print_summary(args, outputs, listing, stats, skipped, time.perf_counter() - start)
    return 0


def convert_all(args, samples, placements, outputs, cleanup):
    """Convert every placed file, in name order, across the worker pool; returns (stats, {index: error}).

    When this returns, every row is written and no mapping of the outputs is left open.
    """
    stats = {'zero_body_frames': 0, 'truncated_frames': 0, 'truncated_files': 0, 'files_read': 0}
    errors = {}
    needed = sorted(placements)
    tasks = [(samples[i][1], [(outputs[key].tmp, row) for key, row in placements[i]]) for i in needed]
    convert = functools.partial(convert_file, mode=args.mode, max_frame=args.max_frame)
    cleanup.callback(ROWS.close)  # the in-process writer's maps (workers drop theirs when they exit)
    pool = worker_pool(args.workers, cleanup)
    with tqdm(total=len(tasks), unit='file', desc='skeletons',
              disable=args.no_progress or not sys.stderr.isatty()) as progress:
        results = pool.map(convert, tasks, chunksize=CHUNK_SIZE) if pool else map(convert, tasks)
        for i, (error, info) in zip(needed, worker_results(results)):
            progress.update()
            stats['files_read'] += 1
            if error:
                if args.on_error == 'fail':
                    raise InputError(f'{error} (--on-error skip would leave this file out)')
                errors[i] = error
                for key, _ in placements[i]:
                    outputs[key].num_skipped += 1
                continue
            stats['zero_body_frames'] += info['zero_body_frames']
            stats['truncated_frames'] += info['truncated_frames']
            stats['truncated_files'] += info['truncated_frames'] > 0
            for key, row in placements[i]:
                outputs[key].add(row, samples[i][0])
    ROWS.close()
    return stats, errors


def worker_pool(workers, cleanup):
    """A process pool for `workers` > 1 (None for one), shut down by `cleanup`. Forked before tqdm starts its
    monitor thread, so the workers copy a single-threaded process. A concurrent.futures pool, not a
    multiprocessing.Pool: when a worker dies (killed, SIGBUS) the run ends with an error instead of waiting
    forever for the lost task."""
    if workers == 1:
        return None
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('fork'),
                                                  initializer=ignore_sigint)
    cleanup.callback(pool.shutdown, wait=True, cancel_futures=True)
    return pool


def worker_results(results):
    """The pool's results in order, with a dead worker as an InputError."""
    try:
        yield from results
    except concurrent.futures.process.BrokenProcessPool:
        raise InputError('a worker process died (killed, or out of memory or disk); nothing was written') from None


def assign_parts(names, args):
    """{(benchmark, part): indices of the names in it}, for the requested benchmarks and parts."""
    return {(b, p): [i for i, name in enumerate(names) if ntu.is_training(name, b, args.dataset) == (p == 'train')]
            for b in args.benchmark for p in args.part}


def list_samples(data_paths, dataset, ignored_sample_path):
    """Sorted [(name, path)] of the dataset's samples, a count of what was left out, and bad file names.

    Listing and filtering by name is cheap; N must be known before the outputs are created.
    """
    try:
        ignored = ntu.load_missing(ignored_sample_path) if ignored_sample_path else set()
    except ValueError as err:
        raise InputError(f'{err} (--ignored-sample-path)') from None
    found, bad_names = {}, []
    listing = {'ignored': 0, 'other_dataset': 0}
    for folder in data_paths:
        if not os.path.isdir(folder):
            raise InputError(f'{folder}: no such data folder (--data-path)')
        for entry in os.scandir(folder):
            if not entry.name.endswith('.skeleton'):
                continue
            name = entry.name[:-len('.skeleton')]
            try:
                in_dataset = ntu.in_dataset(name, dataset)
            except ValueError as e:
                bad_names.append(f'{entry.path}: {str(e).split(": ", 1)[1]}')
                continue
            if name in found:
                raise InputError(f'{entry.path}: sample {name} also in {found[name]}')
            if name in ignored:
                listing['ignored'] += 1
            elif not in_dataset:
                listing['other_dataset'] += 1
            else:
                found[name] = entry.path
    if not found and not bad_names:
        raise InputError(f'no {dataset} .skeleton files in {" ".join(data_paths)} (--data-path)')
    return sorted(found.items()), listing, sorted(bad_names)


def convert_file(task, mode, max_frame):
    """Worker: read one file, preprocess it and write the sample into each (temporary .npy, row) target.

    Samples never travel between processes, only this small result: (None, frame counts for the summary),
    or ('path:line: reason', None) when the file is malformed.
    """
    path, targets = task
    try:
        skeleton = read_skeleton(path, max_body=MAX_BODY_KINECT)
    except (SkeletonError, OSError) as e:
        return str(e), None
    sample = sample_from_skeleton(skeleton, mode, max_frame)  # (C, T, V, M)
    for npy_path, row in targets:
        ROWS.write(npy_path, row, sample)
    return None, {'zero_body_frames': int((skeleton.body_counts == 0).sum()),
                  'truncated_frames': max(0, skeleton.num_frames - max_frame)}


def ignore_sigint():
    """Pool initializer: Ctrl-C is handled once, by the parent, which then stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class RowWriter:
    """Writes rows into existing .npy files through open_memmap, keeping one mapping per file open for at
    most REMAP_EVERY rows, so the written pages leave this process's resident memory as it goes."""

    def __init__(self):
        self._maps = {}  # path -> [memmap, rows written through it]

    def write(self, path, row, sample):
        entry = self._maps.get(path)
        if entry is None or entry[1] == REMAP_EVERY:
            # Dropping the old map unmaps it; the kernel writes the pages back in its own time (no msync,
            # which would wait for the disk on every remap).
            entry = self._maps[path] = [open_memmap(path, mode='r+'), 0]
        entry[0][row] = sample
        entry[1] += 1

    def close(self):
        self._maps.clear()


ROWS = RowWriter()  # one per process: the parent's (--workers 1) or each worker's


class Output:
    """One {part}_data_joint.npy under a temporary name, with a row for every sample its split lists.

    Workers write each sample into its pre-assigned row. With --on-error skip, the rows of files that fail
    to parse stay empty, and commit() packs the good rows into a file of the right length (in chunks,
    through fresh mappings). That costs one extra pass over that output only when files were skipped and
    keeps memory bounded, where counting the good files first would parse every file twice.
    """

    def __init__(self, path, num_rows, sample_shape):
        self.path, self.num_rows = path, num_rows
        self.tmp = files.temporary_path(path)
        self.rows, self.names, self.labels, self.num_skipped = [], [], [], 0
        open_memmap(self.tmp, mode='w+', dtype=np.float32, shape=(num_rows,) + sample_shape)  # unmapped at once
        try:
            files.preallocate(self.tmp)  # a full disk fails here, naming the file, not in a worker
        except OSError:
            self.discard()
            raise

    def add(self, row, name):
        """Record that `row` holds sample `name` (rows arrive in name order)."""
        self.rows.append(row)
        self.names.append(name)
        self.labels.append(ntu.label_of(name))

    @property
    def num_samples(self):
        return len(self.names)

    def commit(self, label_path):
        """Pack (if files were skipped) and rename the data, then write the labels."""
        if self.num_samples != self.num_rows:
            packed = files.temporary_path(self.path, '.packed')
            copy_rows(self.tmp, packed, self.rows)
            os.replace(packed, self.tmp)
        os.replace(self.tmp, self.path)
        files.write_pickle((self.names, self.labels), label_path)

    def discard(self):
        """Remove the temporary files (after a failure; a no-op after commit)."""
        for path in (self.tmp, files.temporary_path(self.path, '.packed')):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def copy_rows(src, dst, rows):
    """Write rows `rows` of the .npy src, in that order, to a new .npy dst, REMAP_EVERY rows per mapping."""
    shape = np.load(src, mmap_mode='r').shape[1:]
    open_memmap(dst, mode='w+', dtype=np.float32, shape=(len(rows),) + shape)  # created, unmapped at once
    files.preallocate(dst)
    for start in range(0, len(rows), REMAP_EVERY):
        source, target = np.load(src, mmap_mode='r'), open_memmap(dst, mode='r+')
        target[start:start + REMAP_EVERY] = source[rows[start:start + REMAP_EVERY]]
        del source, target


def write_benchmark_files(folder, benchmark, args, outputs, skipped):
    """meta.json, and skipped.txt in skip mode (removed in fail mode, where nothing can have been skipped)."""
    meta = {'dataset': args.dataset, 'benchmark': benchmark, 'data_mode': args.mode,
            'max_frame': args.max_frame, 'num_class': ntu.NUM_CLASS[args.dataset],
            'parts': {part: {'num_samples': out.num_samples, 'num_skipped': out.num_skipped}
                      for part, out in outputs.items()}}
    files.write_meta(meta, folder)
    skipped_path = os.path.join(folder, 'skipped.txt')
    if skipped is None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(skipped_path)
    else:
        files.write_text(skipped, skipped_path)


def print_summary(args, outputs, listing, stats, skipped, seconds):
    rate = stats['files_read'] / seconds if seconds > 0 else float('inf')
    print(f'{args.dataset} {args.mode}, max_frame {args.max_frame}: read {stats["files_read"]} files in '
          f'{seconds:.1f} s ({rate:.1f} files/s) with {args.workers} worker(s)')
    for benchmark in args.benchmark:
        parts = ', '.join(f'{p} {outputs[benchmark, p].num_samples} samples'
                          f' ({outputs[benchmark, p].num_skipped} skipped)' for p in args.part)
        print(f'  {benchmark}: {parts} -> {os.path.join(args.out_folder, benchmark)}')
    print(f'  left out by name: {listing["ignored"]} on the missing-skeleton list, '
          f'{listing["other_dataset"]} not in {args.dataset}')
    print(f'  frames with no body: {stats["zero_body_frames"]} (handled as 2s-AGCN does); frames beyond '
          f'max_frame dropped: {stats["truncated_frames"]} in {stats["truncated_files"]} files')
    unique_skipped = sorted(set().union(*skipped.values()))
    if unique_skipped:
        print(f'  skipped {len(unique_skipped)} files (listed in skipped.txt):')
        for line in unique_skipped:
            print(f'    {line}')


if __name__ == '__main__':
    sys.exit(main())
