"""Throughput of the training input pipeline (feeders.make_tfrecord_dataset) at NTU's sample shape.

    python bench/bench_feeder.py [--num-samples 4000] [--num-shards 40] [--batch-size 64] [--epochs 3]
        [--shape 3 300 25 2] [--augment]

Writes random float32 samples to a temporary .npy, shards them with data_gen/gen_tfrecord_data.py, then
iterates the training pipeline (shuffled files and samples, batched, prefetched, repeated as main.py
does) for a few epochs and prints samples/s and MB/s per epoch. The first epoch includes filling the
shuffle buffer and warming the page cache; the figure to quote is the median of the later ones. Target: >= 5,000 samples/s on 2
cores (an H100 consumes roughly 1,000-2,500 samples/s).
"""
import argparse
import os
import pathlib
import pickle
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere in the repository

from data_gen import gen_tfrecord_data  # noqa: E402
from feeders.tfrecord_feeder import make_tfrecord_dataset  # noqa: E402


def write_random_npy(folder, num_samples, shape, seed=0):
    """Random (N, *shape) float32 data and labels, written in chunks through a memmap."""
    data_path, label_path = folder / 'bench_data_joint.npy', folder / 'bench_label.pkl'
    data = np.lib.format.open_memmap(data_path, mode='w+', dtype=np.float32, shape=(num_samples, *shape))
    rng = np.random.default_rng(seed)
    for start in range(0, num_samples, 256):
        stop = min(start + 256, num_samples)
        data[start:stop] = rng.standard_normal((stop - start, *shape), dtype=np.float32)
    data.flush()
    del data
    names = [f'S001C001P{i % 40 + 1:03d}R001A{i % 60 + 1:03d}' for i in range(num_samples)]
    with open(label_path, 'wb') as f:
        pickle.dump((names, [i % 60 for i in range(num_samples)]), f)
    return data_path, label_path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=4000)
    parser.add_argument('--num-shards', type=int, default=40)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--shape', type=int, nargs=4, default=[3, 300, 25, 2], metavar=('C', 'T', 'V', 'M'))
    parser.add_argument('--shuffle-buffer', type=int, default=4096)
    parser.add_argument('--augment', action='store_true',
                        help='also apply random_shift + random_move (the official Kinetics recipe)')
    args = parser.parse_args()
    sample_mb = 4 * np.prod(args.shape) / 1e6
    print(f'cpus: {os.cpu_count()}  sample {args.shape} = {sample_mb:.3f} MB  batch {args.batch_size}')
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        data_path, label_path = write_random_npy(tmp, args.num_samples, args.shape)
        dest = tmp / 'tfrecord'
        start = time.perf_counter()
        gen_tfrecord_data.main(['--data-path', str(data_path), '--label-path', str(label_path),
                                '--dest-folder', str(dest), '--num-shards', str(args.num_shards)])
        write_s = time.perf_counter() - start
        print(f'gen_tfrecord_data: {args.num_samples / write_s:.0f} samples/s '
              f'({args.num_samples * sample_mb / write_s:.0f} MB/s)')
        os.remove(data_path)
        augment = {'random_shift': True, 'random_move': True} if args.augment else None
        dataset = make_tfrecord_dataset(dest, args.batch_size, training=True, shuffle_buffer=args.shuffle_buffer,
                                        augment=augment)
        # As main.py trains: one repeated dataset, so the shuffle buffer stays full across epochs.
        batches = iter(dataset.repeat())
        steps = args.num_samples // args.batch_size
        rates, cpu_rates = [], []
        for epoch in range(args.epochs):
            start, cpu_start, seen = time.perf_counter(), time.process_time(), 0
            for _ in range(steps):
                x, _ = next(batches)
                seen += int(x.shape[0])
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            rates.append(seen / seconds)
            cpu_rates.append(seen / cpu_seconds)
            print(f'epoch {epoch}: {seen} samples in {seconds:.2f} s = {rates[-1]:.0f} samples/s, '
                  f'{rates[-1] * sample_mb:.0f} MB/s ({cpu_seconds:.2f} CPU s, {cpu_rates[-1]:.0f} samples per CPU s)')
    steady = statistics.median(rates[1:] or rates)
    print(f'steady state (median of epochs 1..): {steady:.0f} samples/s, {steady * sample_mb:.0f} MB/s; '
          f'{statistics.median(cpu_rates[1:] or cpu_rates):.0f} samples per CPU second '
          '(on a shared machine wall time understates what the cores can do)')


if __name__ == '__main__':
    main()
