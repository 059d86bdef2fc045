"""Throughput of PYSKL's training input pipeline as tf.data ops (feeders/pyskl_transforms.py, pyskl_sampling.py).

    python bench/bench_pyskl_feeder.py [--mode ops|feeder] [--num-samples 4096] [--batch-size 64] [--epochs 4]
        [--clip-len 100] [--min-frames 32] [--max-frames 300] [--threads 2] [--feats j]

--mode feeder: feeders/pyskl_feeder.make_pyskl_dataset end to end (training mode) over a pickle of the same
random keypoints written to a temporary folder, in PYSKL's layout (M = 1 or 2 persons); also prints the
loading time (unpickling, checking, PreNormalize3D's per-sample plan).
--mode ops (the default): the transform ops alone. Holds random float16 keypoints of variable length in memory (PYSKL's pickle layout (M, T, V, 3), half
the samples with a second person), then iterates batches of 64 samples: gather and zero-pad -> pre_normalize_3d_batch ->
train_clip_indices (stateless seed per batch and epoch) -> pose_decode -> format_gcn_input, each op on the
whole batch at once (per-sample ops in Dataset.map run at about 700 samples/s on 2 cores: TF's per-op cost,
not the arithmetic, dominates), with TF limited to --threads CPU threads, and prints a table of samples/s
per epoch. Epoch 0 includes tracing; quote the median of the later ones.
Target: >= 5,000 samples/s on 2 cores. Measured on the shared 2-core machine (load 1.8-4 from other work),
8,192 samples, batch 64, clip 100, feeder mode: 5,479, 7,581 and 8,382 samples/s in three runs (7,500-9,800 per
CPU second), where the version before PreNormalize3D's float16 centring moved to load time gave 1,892, 2,691
and 4,090 (3,200-4,900 per CPU second) alternately with them (README section 9). Ops mode still centres per batch: 3,000
(2,900 per CPU second). A feeder batch of 64 now costs about 8 ms of CPU; timed one by one, the clip indices
(two argsorts) take about 2, the gather 2, the float16 cast and the rotation's einsum 3.5, the final layout 2.
"""
import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere in the repository

import tensorflow as tf  # noqa: E402

from feeders import pyskl_feeder, pyskl_sampling, pyskl_transforms  # noqa: E402
from storage import files  # noqa: E402


def random_keypoints(num_samples, min_frames, max_frames, seed=0):
    """Ragged (N, T, M, V, 3) float16 keypoints, frames first so T can be the ragged dimension."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_frames, max_frames + 1, num_samples)
    flat = rng.standard_normal((int(lengths.sum()), 2, 25, 3)).astype(np.float16)  # (sum T, M, V, C)
    second_person = np.repeat(rng.random(num_samples) < 0.5, lengths)
    flat[~second_person, 1] = 0
    return tf.RaggedTensor.from_row_lengths(flat, lengths), lengths


def make_dataset(keypoints, batch_size, clip_len, epoch):
    """Batches of sample indices -> padded keypoints -> the PYSKL ops on the whole batch at once."""
    def batch(step, index):  # index (B,)
        rows = tf.gather(keypoints, index)  # ragged (B, T, M, V, 3)
        x = tf.transpose(rows.to_tensor(), [0, 2, 1, 3, 4])  # (B, M, T_max, V, 3), zero padded
        seed = tf.stack([tf.cast(step, tf.int32), epoch])
        clips = pyskl_transforms.pre_normalize_3d_clips(  # (B, M, clip_len, V, 3)
            x, tf.cast(rows.row_lengths(), tf.int32),
            lambda count: pyskl_sampling.train_clip_indices(count, seed, clip_len))
        return pyskl_transforms.format_gcn_input(clips)  # (B, C, clip_len, V, M)

    num_samples = int(keypoints.nrows())
    return (tf.data.Dataset.range(num_samples).batch(batch_size, drop_remainder=True).enumerate()
            .map(batch, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def write_pickle(keypoints, path):
    """The random keypoints as a PYSKL annotation pickle, one split 'train'; one-person samples have M = 1."""
    annotations = []
    for i, sample in enumerate(keypoints):
        keypoint = sample.numpy().transpose(1, 0, 2, 3)  # (T, M, V, C) -> (M, T, V, C)
        if not keypoint[1].any():
            keypoint = keypoint[:1]
        annotations.append({'frame_dir': f'sample{i:06d}', 'label': i % 60, 'keypoint': keypoint,
                            'total_frames': keypoint.shape[1]})
    files.write_pickle({'split': {'train': [a['frame_dir'] for a in annotations]}, 'annotations': annotations},
                       path)


def feeder_epochs(keypoints, args):
    """make_pyskl_dataset's training batches, one dataset iterated for every epoch (it reshuffles)."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / 'bench_3danno.pkl'
        write_pickle(keypoints, path)
        start = time.perf_counter()
        dataset = pyskl_feeder.make_pyskl_dataset(path, 'train', args.batch_size, training=True, seed=0,
                                                  clip_len=args.clip_len, feats=tuple(args.feats.split(',')))
        print(f'loading (unpickle, check, PreNormalize3D plan): {time.perf_counter() - start:.2f} s')
    return lambda epoch: (x for x, _ in dataset)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=4096)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--clip-len', type=int, default=100)
    parser.add_argument('--min-frames', type=int, default=32)
    parser.add_argument('--max-frames', type=int, default=300)
    parser.add_argument('--threads', type=int, default=2, help='TF intra- and inter-op threads')
    parser.add_argument('--mode', choices=('ops', 'feeder'), default='ops')
    parser.add_argument('--feats', default='j', help='feeder mode: GenSkeFeat streams, e.g. j,b,jm,bm')
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keypoints, lengths = random_keypoints(args.num_samples, args.min_frames, args.max_frames)
    print(f'cpus: {os.cpu_count()}  threads: {args.threads}  samples: {args.num_samples}  '
          f'T {lengths.min()}..{lengths.max()} (mean {lengths.mean():.0f})  clip {args.clip_len}  '
          f'batch {args.batch_size}')
    print(f'{"epoch":>5} {"samples":>8} {"seconds":>8} {"samples/s":>10} {"per CPU s":>10}')
    if args.mode == 'feeder':
        batches = feeder_epochs(keypoints, args)
    else:
        batches = lambda epoch: make_dataset(keypoints, args.batch_size, args.clip_len, epoch)  # noqa: E731
    rates = []
    for epoch in range(args.epochs):
        start, cpu_start, seen = time.perf_counter(), time.process_time(), 0
        for x in batches(epoch):
            seen += int(x.shape[0])
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        rates.append(seen / seconds)
        print(f'{epoch:>5} {seen:>8} {seconds:>8.2f} {rates[-1]:>10.0f} {seen / cpu_seconds:>10.0f}')
    channels = 3 * len(args.feats.split(',')) if args.mode == 'feeder' else 3
    assert tuple(x.shape) == (args.batch_size, channels, args.clip_len, 25, 2), x.shape
    print(f'steady state (median of epochs 1..): {statistics.median(rates[1:] or rates):.0f} samples/s')


if __name__ == '__main__':
    main()
