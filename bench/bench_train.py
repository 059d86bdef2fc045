"""Training and inference throughput and peak memory of the full ST-GCN on CPU, against the PyTorch reference.

    python bench/bench_train.py [--steps 5] [--warmup 2] [--jit-steps 2] [--jit-warmup 1] [--batch 8]
        [--frames 300] [--threads 2] [--jit | --no-jit] [--bf16 | --no-bf16]

Up to five rows, each measured in its own child process so the frameworks' allocators never share an address
space and each peak RSS is that framework's alone:
- Keras: this project's training step as main.py runs it (training.loop.make_train_step on the default strategy:
  forward, mean cross-entropy, gradients, TorchSGD with the MultiStepLR schedule, inside tf.function) and
  inference with model(x, training=False) inside tf.function.
- Keras+XLA (--jit, the default): the same with main.py's --jit (forward and backward compiled by XLA) and
  inference compiled with jit_compile=True. XLA on CPU is about 8-10x slower than the graph runtime for
  this model's training step, so this row runs fewer steps (--jit-steps).
- PyTorch: tests/torch_reference.py (the official model) with torch.optim.SGD(lr 0.1, momentum 0.9, Nesterov,
  weight decay 1e-4) in train mode; inference in eval mode under torch.no_grad().
- Keras bf16 / PyTorch bf16 (--bf16, the default): the same steps under main.py's --mixed-precision bf16 (Keras'
  mixed_bfloat16 policy) and under torch.autocast('cpu', torch.bfloat16); this class of CPU computes bf16
  natively.
All three see the same structured input: smooth NTU-like skeleton trajectories in metres (one- and two-person
clips), not zeros. Warm-up steps (tracing, XLA compilation, allocator growth) are excluded from the timing.
Each child runs inference first, then training, and reports its VmHWM after each phase: the first is the
inference peak, the second the peak of the whole run. Target: Keras >= 1.25x PyTorch's training
samples/s on the same CPU.

Measured 2026-11-25 on 2 otherwise idle cores, TF 2.21 / Keras 3.15 / torch 2.13, the defaults (batch 8, T 300,
2 threads): training Keras 3.87 s/step (2.07 samples/s), PyTorch 5.63 s/step (1.42 samples/s): 1.46x;
inference 8.5 vs 5.1 samples/s (1.68x); peak RSS 3.8 GB vs 4.4 GB; Keras+XLA 30 s/step. When another job
shared the cores PyTorch slowed down far more than TensorFlow (one run: 14 s/step, 3.4x): quote quiet runs.
Measured 2026-12-01 with the bf16 rows (`--no-jit --steps 3 --warmup 1`, load 0.6-1.7, a slower run overall):
training samples/s Keras 1.23, Keras bf16 2.78 (2.26x its float32), PyTorch 0.76, PyTorch bf16 1.48 (1.95x its
float32); Keras bf16 is 1.88x PyTorch bf16; peak RSS 3.8 / 2.5 / 4.3 / 2.8 GB.
"""
import argparse
import json
import os
import pathlib
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere in the repository

NUM_CLASS = 60
TARGET_RATIO = 1.25  # the project's target for this's training throughput over the PyTorch reference's
ROWS = (('keras', 'Keras'), ('keras_bf16', 'Keras bf16'), ('xla', 'Keras+XLA'), ('torch', 'PyTorch'),
        ('torch_bf16', 'PyTorch bf16'))
BF16_ROWS = ('keras_bf16', 'torch_bf16')


def skeleton_batch(batch, frames, seed=0):
    """Smooth joint trajectories ~3 m in front of the camera; every other clip has a second person.

    Shape: (batch, 3, frames, 25, 2) float32, and labels (batch,) int64.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float64)[None, None, :, None, None] / 30.0  # seconds at 30 fps
    x = np.array([0.0, 0.0, 3.0])[None, :, None, None, None] + rng.uniform(-0.4, 0.4, (batch, 3, 1, 1, 2))
    x = x + rng.normal(0.0, 0.3, (batch, 3, 1, 25, 2))  # per-joint offsets around the body
    for _ in range(3):
        amplitude = rng.uniform(0.01, 0.15, (batch, 3, 1, 25, 2))
        frequency = rng.uniform(0.1, 2.0, (batch, 1, 1, 1, 2))  # Hz, shared by a person's joints
        phase = rng.uniform(0.0, 2 * np.pi, (batch, 3, 1, 25, 2))
        x = x + amplitude * np.sin(2 * np.pi * frequency * t + phase)
    x[1::2, ..., 1] = 0.0  # a missing second body is zero-padded, as the NTU loader does
    return x.astype(np.float32), np.arange(batch, dtype=np.int64) % NUM_CLASS


def peak_rss_mb():
    """Peak resident set of this process so far (the kernel's VmHWM), in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == 'darwin' else peak / 1024  # bytes on macOS, kB on Linux


def time_steps(step, warmup, steps):
    """Runs `step` warmup + steps times; returns per-step wall and CPU seconds of the timed steps."""
    for _ in range(warmup):
        step()
    walls, cpus = [], []
    for _ in range(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def keras_steps(args, jit, bf16=False):
    """(inference step, training step) closures for this project's model and main.py's train step; with bf16,
    under --mixed-precision bf16 (Keras' mixed_bfloat16 policy, float32 variables and logits)."""
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras

    from model.stgcn import build_model
    from training import loop
    from training.config import resolve_config

    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy('mixed_bfloat16' if bf16 else 'float32')
    # main.py's own defaults (lr 0.1, steps 10 50, weight decay 1e-4); the parser requires data paths, which
    # nothing here reads.
    argv = ['--train-data-path', 'unused', '--test-data-path', 'unused', '--batch-size', str(args.batch),
            '--num-classes', str(NUM_CLASS)]
    cfg = resolve_config(argv + (['--jit'] if jit else []) + (['--mixed-precision', 'bf16'] if bf16 else []))
    # main.py's step as it runs on one CPU: it takes a strategy (the default one there) and a dataset iterator,
    # so this script touches tf.distribute and tf.data to call it unchanged.
    strategy = tf.distribute.get_strategy()
    model = build_model('paper', num_class=NUM_CLASS)
    step = tf.Variable(0, dtype=tf.int64)
    optimizer, _ = loop.build_optimizer(cfg, spe=1000, step=step)
    optimizer.build(model.trainable_variables)
    train_step = loop.make_train_step(cfg, strategy, model, optimizer, args.batch, step)

    x, y = skeleton_batch(args.batch, args.frames)
    batches = iter(tf.data.Dataset.from_tensors((x, y)).repeat())  # the same batch every step
    xs = tf.constant(x)
    infer = tf.function(lambda v: model(v, training=False), jit_compile=jit)

    def infer_step():
        infer(xs).numpy()

    def train():
        loss, _, _ = train_step(batches)
        loss.numpy()  # wait for the step to finish
    return infer_step, train


def torch_steps(args, bf16=False):
    """(inference step, training step) closures for the PyTorch reference of the official model; with bf16,
    the forward pass under torch.autocast('cpu', torch.bfloat16) (float32 parameters and optimizer)."""
    import contextlib

    import torch
    torch.set_num_threads(args.threads)

    from tests.torch_reference import Model

    torch.manual_seed(0)
    model = Model(num_class=NUM_CLASS)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    x, y = skeleton_batch(args.batch, args.frames)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def autocast():
        return torch.autocast('cpu', dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def infer_step():
        model.eval()
        with torch.no_grad(), autocast():
            model(xt)

    def train():
        model.train()
        optimizer.zero_grad()
        with autocast():
            logits = model(xt)
        loss = torch.nn.functional.cross_entropy(logits.float(), yt)
        loss.backward()
        optimizer.step()
        loss.item()
    return infer_step, train


def worker(args):
    """One row, measured in this process; prints a JSON line for the parent."""
    if args.worker.startswith('torch'):
        infer_step, train = torch_steps(args, bf16=args.worker in BF16_ROWS)
    else:
        infer_step, train = keras_steps(args, jit=args.worker == 'xla', bf16=args.worker in BF16_ROWS)
    warmup, steps = (args.jit_warmup, args.jit_steps) if args.worker == 'xla' else (args.warmup, args.steps)
    infer_walls, _ = time_steps(infer_step, warmup, steps)
    infer_rss = peak_rss_mb()
    train_walls, train_cpus = time_steps(train, warmup, steps)
    print(json.dumps({
        'steps': steps, 'warmup': warmup,
        'train_walls': train_walls, 'train_s': sum(train_walls), 'train_median_s': statistics.median(train_walls),
        'train_cpu_median_s': statistics.median(train_cpus),
        'infer_s': sum(infer_walls), 'infer_median_s': statistics.median(infer_walls),
        'infer_rss_mb': infer_rss, 'peak_rss_mb': peak_rss_mb()}), flush=True)


def versions():
    import importlib.metadata as md
    return {name: md.version(name) for name in ('tensorflow', 'keras', 'torch', 'numpy')}


def run_row(args, name):
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), '--worker', name,
               '--steps', str(args.steps), '--warmup', str(args.warmup), '--jit-steps', str(args.jit_steps),
               '--jit-warmup', str(args.jit_warmup), '--batch', str(args.batch), '--frames', str(args.frames),
               '--threads', str(args.threads)]
    start = time.perf_counter()
    # The children's stderr is TensorFlow's start-up chatter: shown only when a child fails.
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f'bench_train.py: the {name} worker failed with exit code {done.returncode}')
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result['child_s'] = time.perf_counter() - start
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=5, help='timed steps per phase (Keras, PyTorch)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps before timing (Keras, PyTorch)')
    parser.add_argument('--jit-steps', '--jit_steps', type=int, default=2, help='timed steps per phase, XLA row')
    parser.add_argument('--jit-warmup', '--jit_warmup', type=int, default=1,
                        help='untimed steps before timing, XLA row (the first compiles)')
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--frames', type=int, default=300)
    parser.add_argument('--threads', type=int, default=2, help='TF intra/inter-op threads and torch threads')
    parser.add_argument('--jit', action=argparse.BooleanOptionalAction, default=True,
                        help='also measure the Keras+XLA row (default: yes)')
    parser.add_argument('--bf16', action=argparse.BooleanOptionalAction, default=True,
                        help='also measure bf16 rows: Keras mixed_bfloat16 and torch.autocast bfloat16 (default: yes)')
    parser.add_argument('--worker', choices=[name for name, _ in ROWS], help=argparse.SUPPRESS)
    args = parser.parse_args()
    lowest = {'steps': 1, 'jit_steps': 1, 'batch': 1, 'frames': 1, 'threads': 1, 'warmup': 0, 'jit_warmup': 0}
    for flag, low in lowest.items():
        if getattr(args, flag) < low:
            print(f'bench_train.py: --{flag.replace("_", "-")} must be >= {low}, got {getattr(args, flag)}',
                  file=sys.stderr)
            sys.exit(2)
    if args.worker:
        worker(args)
        return

    v = versions()
    print(f'command: {shlex.join([sys.executable, *sys.argv])}')
    print(f'TensorFlow {v["tensorflow"]}, Keras {v["keras"]}, torch {v["torch"]}, numpy {v["numpy"]}, '
          f'Python {platform.python_version()}, {os.cpu_count()} CPUs, load average at start '
          f'{" ".join(f"{a:.2f}" for a in os.getloadavg())}')
    print(f'threads: TF intra-op {args.threads}, inter-op {args.threads}; torch.set_num_threads({args.threads})')
    print(f'model: paper preset (64/128/256), {NUM_CLASS} classes, input ({args.batch}, 3, {args.frames}, 25, 2); '
          f'{args.warmup} warm-up + {args.steps} timed steps ({args.jit_warmup} + {args.jit_steps} for XLA)')
    results = {}
    for name, label in ROWS:
        if (name == 'xla' and not args.jit) or (name in BF16_ROWS and not args.bf16):
            continue
        print(f'running {label} ...', flush=True)
        results[name] = run_row(args, name)
    torch_train = args.batch * results['torch']['steps'] / results['torch']['train_s']
    torch_infer = args.batch * results['torch']['steps'] / results['torch']['infer_s']

    header = (f'{"":10} {"train samples/s":>15} {"s/step (median)":>15} {"CPU s/step":>10} '
              f'{"infer samples/s":>15} {"s/step (median)":>15} {"infer RSS MB":>12} {"peak RSS MB":>11} '
              f'{"train vs PyTorch":>16} {"infer vs PyTorch":>16}')
    print(header)
    print('-' * len(header))
    for name, label in ROWS:
        if name not in results:
            continue
        r = results[name]
        train_rate = args.batch * r['steps'] / r['train_s']
        infer_rate = args.batch * r['steps'] / r['infer_s']
        print(f'{label:10} {train_rate:15.2f} {r["train_median_s"]:15.3f} {r["train_cpu_median_s"]:10.2f} '
              f'{infer_rate:15.2f} {r["infer_median_s"]:15.3f} {r["infer_rss_mb"]:12.0f} {r["peak_rss_mb"]:11.0f} '
              f'{train_rate / torch_train:15.2f}x {infer_rate / torch_infer:15.2f}x')
    for name, label in ROWS:
        if name in results:
            print(f'{label} training step times (s): {" ".join(f"{t:.2f}" for t in results[name]["train_walls"])}')
    print(f'load average at end {" ".join(f"{a:.2f}" for a in os.getloadavg())}; '
          'wall per row (s): ' + ', '.join(f'{n} {r["child_s"]:.0f}' for n, r in results.items()))
    keras_ratio = args.batch * results['keras']['steps'] / results['keras']['train_s'] / torch_train
    print(f'Target: Keras >= {TARGET_RATIO}x PyTorch training samples/s: '
          f'{"met" if keras_ratio >= TARGET_RATIO else "NOT met"} ({keras_ratio:.2f}x).')
    print('notes:\n'
          '- samples/s = batch x timed steps / their total wall time; the medians are per step.\n'
          f'- CPU s/step is the process CPU time of the median training step: above {args.threads} x s/step means more '
          f'than {args.threads} busy cores; far below it, the process waited for a core (a busy machine).\n'
          '- XLA (--jit) on CPU is slower than the TF graph runtime for this model; main.py --jit is for GPUs.\n'
          '- Peak RSS is each child process\'s own high-water mark: the framework, model, optimizer state and '
          'compiled graphs included; "infer RSS" is the mark after the inference phase, which runs first.')

if __name__ == '__main__':
    main()
