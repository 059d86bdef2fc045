"""gen_joint_data against a 2s-AGCN-style reference, side by side on the same files.

    python bench/bench_datagen.py [--num-files 420] [--workers 2] [--scale 4]

The files are the real NTU fixtures (tests/fixtures/ntu/skeletons) repeated under new sample names
(symlinks, so both tools read from the page cache). The reference does what 2s-AGCN's ntu_gendata.py does:
for each benchmark and part, read every file line by line (float() into dicts, Python loops over frames,
bodies and joints), hold the whole (N, 3, 300, 25, 2) array in memory, run the loop-based
pre_normalization on it, np.save. gen_joint_data reads each file once for both benchmarks, in parallel.
Each run happens in its own process so its peak RSS (and its workers') is measured alone. gen_joint_data
is run again on `--scale` times as many files to show its peak memory does not grow with N.
Target: >= 20x the reference's throughput on 2 cores, peak memory independent of N.
"""
import argparse
import json
import os
import pathlib
import pickle
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data_gen import gen_joint_data, ntu  # noqa: E402
from tests import reference_ntu  # noqa: E402

FIXTURES = ROOT / 'tests' / 'fixtures' / 'ntu' / 'skeletons'
MAX_FRAME = 300
BENCHMARKS = ('xsub', 'xview')


def make_files(folder, num_files):
    """num_files symlinks to the real fixtures, named so both benchmarks have train and val samples."""
    sources = sorted(FIXTURES.glob('*.skeleton'))
    folder.mkdir(parents=True)
    total = 0
    for i in range(num_files):
        setup, camera, performer = 1 + i % 17, 1 + (i // 17) % 3, 1 + (i // 51) % 40
        replication, action = 1 + (i // 2040) % 2, 1 + (i // 4080) % 60
        source = sources[i % len(sources)]
        (folder / f'S{setup:03d}C{camera:03d}P{performer:03d}R{replication:03d}A{action:03d}.skeleton'
         ).symlink_to(source)
        total += source.stat().st_size
    return total


def reference_gendata(data_path, out_path, benchmark, part):
    """2s-AGCN's gendata: directory order, one read per benchmark and part, whole array in memory."""
    names = [f for f in os.listdir(data_path)
             if ntu.is_training(f, benchmark) == (part == 'train')]
    with open(os.path.join(out_path, f'{part}_label.pkl'), 'wb') as f:
        pickle.dump((names, [ntu.label_of(n) for n in names]), f)
    fp = np.zeros((len(names), 3, MAX_FRAME, 25, 2), dtype=np.float32)
    for i, name in enumerate(names):
        data = reference_ntu.read_bodies(os.path.join(data_path, name), max_body=4)
        energy = np.array([reference_ntu.nonzero_std(body) for body in data])
        data = data[energy.argsort()[::-1][0:2]].transpose(3, 1, 2, 0)  # (C, T, V, M)
        fp[i, :, 0:data.shape[1], :, :] = data
    fp = reference_ntu.pre_normalization(fp)
    np.save(os.path.join(out_path, f'{part}_data_joint.npy'), fp)


def child(tool, data_path, out_path, workers):
    """Run one tool in this process; print wall and CPU time (after imports) and peak RSS as JSON."""
    start, own_start = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    if tool == 'reference':
        for benchmark in BENCHMARKS:
            os.makedirs(os.path.join(out_path, benchmark), exist_ok=True)
            for part in ('train', 'val'):
                reference_gendata(data_path, os.path.join(out_path, benchmark), benchmark, part)
    else:
        code = gen_joint_data.main(['--data-path', data_path, '--out-folder', out_path, '--workers', str(workers),
                                    '--ignored-sample-path', '', '--max-frame', str(MAX_FRAME), '--no-progress'])
        assert code == 0
    seconds = time.perf_counter() - start
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so it would report the bench's own peak.
    with open('/proc/self/status') as f:
        peak_kib = next(int(line.split()[1]) for line in f if line.startswith('VmHWM:'))
    # The workers are forked from this process (no exec), so their ru_maxrss is their own peak.
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (own.ru_utime + own.ru_stime - own_start.ru_utime - own_start.ru_stime
           + workers.ru_utime + workers.ru_stime)
    print(json.dumps({'seconds': seconds, 'cpu_seconds': cpu, 'rss_mb': peak_kib / 1024,
                      'worker_rss_mb': workers.ru_maxrss / 1024}))


def measure(tool, data_path, out_path, workers):
    result = subprocess.run([sys.executable, __file__, '--child', tool, '--data-path', str(data_path),
                             '--out-path', str(out_path), '--workers', str(workers)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_same_output(reference_out, fast_out):
    """Both tools must have written the same samples (the reference in directory order)."""
    for benchmark in BENCHMARKS:
        for part in ('train', 'val'):
            ref = np.load(reference_out / benchmark / f'{part}_data_joint.npy', mmap_mode='r')
            fast = np.load(fast_out / benchmark / f'{part}_data_joint.npy', mmap_mode='r')
            with open(reference_out / benchmark / f'{part}_label.pkl', 'rb') as f:
                ref_names = [n[:-len('.skeleton')] for n in pickle.load(f)[0]]
            with open(fast_out / benchmark / f'{part}_label.pkl', 'rb') as f:
                fast_names = pickle.load(f)[0]
            order = np.argsort(ref_names)
            assert [ref_names[i] for i in order] == fast_names
            np.testing.assert_allclose(ref[order], fast, rtol=0, atol=1e-5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--num-files', type=int, default=420)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--scale', type=int, default=4, help='gen_joint_data is also run on scale x num-files')
    parser.add_argument('--child', choices=('reference', 'fast'), help=argparse.SUPPRESS)
    parser.add_argument('--data-path', help=argparse.SUPPRESS)
    parser.add_argument('--out-path', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.data_path, args.out_path, args.workers)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        rows = []
        size = make_files(tmp / 'data', args.num_files)
        ref = measure('reference', tmp / 'data', tmp / 'ref', 1)
        rows.append(('2s-AGCN-style reference (1 process)', args.num_files, size, ref))
        fast = measure('fast', tmp / 'data', tmp / 'fast', args.workers)
        rows.append((f'gen_joint_data ({args.workers} workers)', args.num_files, size, fast))
        check_same_output(tmp / 'ref', tmp / 'fast')
        if args.scale > 1:
            big_size = make_files(tmp / 'big', args.num_files * args.scale)
            big = measure('fast', tmp / 'big', tmp / 'fast_big', args.workers)
            rows.append((f'gen_joint_data ({args.workers} workers)', args.num_files * args.scale, big_size, big))

    print(f'{"tool":38s} {"files":>6s} {"MB":>7s} {"wall s":>7s} {"CPU s":>7s} {"files/s":>8s} {"MB/s":>7s} '
          f'{"peak RSS MB (main / worker)":>28s}')
    for name, files, size, m in rows:
        workers = f'{m["worker_rss_mb"]:.0f}' if 'workers' in name else '-'
        print(f'{name:38s} {files:6d} {size / 2 ** 20:7.1f} {m["seconds"]:7.2f} {m["cpu_seconds"]:7.2f} '
              f'{files / m["seconds"]:8.1f} {size / 2 ** 20 / m["seconds"]:7.1f} {m["rss_mb"]:15.0f} / {workers:>8s}')
    print(f'throughput ratio on {args.num_files} files: {ref["seconds"] / fast["seconds"]:.1f}x wall '
          f'(target >= 20x on 2 cores), {ref["cpu_seconds"] / fast["cpu_seconds"]:.1f}x CPU time; '
          f'same samples to 1e-5: yes')
    print(f'(like 2s-AGCN, the reference reads every file once per benchmark, {len(BENCHMARKS)} times here; '
          f'gen_joint_data reads it once. Load average during the run: {os.getloadavg()[0]:.1f} on '
          f'{os.cpu_count()} cores.)')


if __name__ == '__main__':
    main()
