"""Raw NTU RGB+D skeletons -> PYSKL's annotation pickle ({'split': ..., 'annotations': [...]}).

    python data_gen/gen_pyskl_data.py --data-path ./data/nturgbd_raw/nturgb+d_skeletons --dataset ntu60 \\
        --out ./data/nturgbd/ntu60_3danno.pkl
    python data_gen/gen_pyskl_data.py --dataset ntu120 --data-path ./data/nturgbd_raw/nturgb+d_skeletons \\
        ./data/nturgbd_raw/nturgb+d_skeletons120 --out ./data/nturgbd/ntu120_3danno.pkl

The pickle is kennymckormick/pyskl:tools/data/ntu_preproc.py's (docs/reference.md section 8): one annotation
per sample in name order, {'frame_dir', 'label' (action - 1), 'keypoint' float16 (M, T, 25, 3), 'total_frames'}
(3D: no keypoint_score, no img_shape), and the splits xsub_train/xsub_val with xview_* (NTU-60) or xset_*
(NTU-120). The body selection is data_gen/pyskl_preproc.py. As in ntu_preproc.py, samples on NTU-120's
missing-skeleton list (535 names) are left out for both datasets.

Differences from ntu_preproc.py, all about inputs it mishandles: a file it would store as None (no body) or
stop on is reported under --on-error; a malformed file is reported with its line; NTU-120 may be given as its
two release folders; --dataset ntu60 keeps setups S001-S017 and actions A001-A060 (ntu_preproc.py filters on
the action only, which differs only when its folder also holds S018-S032). Files are parsed once each, in
--workers processes, and stream back in name order; only the small float16 annotations are kept (all of them
until the pickle is written, as ntu_preproc.py does: 16 KB a sample on the fixtures, so about 1.8 GB for
NTU-120), never the raw text.
"""
import argparse
import contextlib
import os
import sys
import time

from tqdm import tqdm

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_gen import ntu, pyskl_preproc  # noqa: E402
from data_gen.gen_joint_data import (REPO, InputError, add_raw_arguments, listed_samples, run_cli,  # noqa: E402
                                     worker_pool, worker_results)
from data_gen.skeleton import SkeletonError, read_skeleton  # noqa: E402
from storage import files  # noqa: E402

DEFAULT_OUT = os.path.join(REPO, 'data', 'nturgbd', '{dataset}_3danno.pkl')  # where PYSKL's configs look for it
CHUNK_SIZE = 8  # files per worker task: amortises inter-process overhead, keeps the ordered stream smooth


def main(argv=None):
    return run_cli('gen_pyskl_data', generate, parse_args(argv), 'nothing written')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='gen_pyskl_data', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_raw_arguments(parser, '{out}.skipped.txt')
    parser.add_argument('--dataset', choices=tuple(pyskl_preproc.SPLIT_NAMES), default='ntu60')
    parser.add_argument('--out', default=None,
                        help='the pickle to write (default: data/nturgbd/{dataset}_3danno.pkl in the repository)')
    parser.add_argument('--ignored-sample-path', '--ignored_sample_path', default=ntu.MISSING_LISTS['ntu120'],
                        help="samples to leave out (default: NTU-120's missing-skeleton list, as ntu_preproc.py "
                             'uses for both datasets; "" for none)')
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f'argument --workers: must be >= 1, got {args.workers}')
    args.out = args.out or DEFAULT_OUT.format(dataset=args.dataset)
    return args


def generate(args):
    """Run the whole conversion; returns the exit code."""
    start = time.perf_counter()
    samples, listing, bad_names = listed_samples(args)
    if not samples:
        raise InputError(f'no {args.dataset} sample to annotate in {" ".join(args.data_path)} (--data-path)')
    if os.path.isdir(args.out):
        raise InputError(f'{args.out}: is a folder, expected the pickle to write (--out)')
    annotations, errors = annotate_all(samples, args)
    split = pyskl_preproc.splits([a['frame_dir'] for a in annotations], args.dataset)
    files.write_pickle({'split': split, 'annotations': annotations}, args.out)
    skipped = bad_names + errors
    skipped_path = f'{args.out}.skipped.txt'
    if args.on_error == 'skip':
        files.write_text(skipped, skipped_path)
    else:  # nothing can have been skipped: a stale list would describe another run
        with contextlib.suppress(FileNotFoundError):
            os.remove(skipped_path)
    print_summary(args, annotations, split, listing, skipped, len(samples), time.perf_counter() - start)
    return 0


def annotate_all(samples, args):
    """The annotations of the good files, in name order, and 'path[:line]: reason' for each bad one.

    With --on-error fail the first bad file (in name order) raises InputError.
    """
    annotations, errors = [], []
    with contextlib.ExitStack() as stack:
        pool = worker_pool(args.workers, stack)
        progress = stack.enter_context(tqdm(total=len(samples), unit='file', desc='skeletons',
                                            disable=args.no_progress or not sys.stderr.isatty()))
        results = pool.map(annotate_file, samples, chunksize=CHUNK_SIZE) if pool else map(annotate_file, samples)
        for error, annotation in worker_results(results):
            progress.update()
            if error is None:
                annotations.append(annotation)
            elif args.on_error == 'fail':
                raise InputError(f'{error} (--on-error skip would leave this file out)')
            else:
                errors.append(error)
    return annotations, errors


def annotate_file(sample):
    """Worker: (None, PYSKL's annotation) of one (name, path), or ('path[:line]: reason', None)."""
    name, path = sample
    try:
        return None, pyskl_preproc.annotation(name, read_skeleton(path, max_body=None), path)
    except (SkeletonError, pyskl_preproc.AnnotateError, OSError) as e:
        return str(e), None


def print_summary(args, annotations, split, listing, skipped, num_files, seconds):
    rate = num_files / seconds if seconds > 0 else float('inf')
    two = sum(a['keypoint'].shape[0] == 2 for a in annotations)
    print(f'{args.dataset}: {len(annotations)} annotations ({two} with two persons) from {num_files} files in '
          f'{seconds:.1f} s ({rate:.1f} files/s) with {args.workers} worker(s) -> {args.out}')
    print('  ' + ', '.join(f'{key} {len(names)}' for key, names in split.items()))
    print(f'  left out by name: {listing["ignored"]} on the missing-skeleton list, '
          f'{listing["other_dataset"]} not in {args.dataset}')
    if skipped:
        print(f'  skipped {len(skipped)} files (listed in {args.out}.skipped.txt):')
        for line in skipped:
            print(f'    {line}')


if __name__ == '__main__':
    sys.exit(main())
