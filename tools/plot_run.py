"""Training curves of one or several runs, from their TensorBoard event files, in one PNG.

    python tools/plot_run.py work_dir/run1/logs work_dir/run2/logs --out curves.png

Panels: train/loss; eval/top1 (solid) and eval/top5 (dashed); train/lr (log scale); train/samples_per_sec.
Each run has one colour and is named by its folder in the legend. Event files are found anywhere under each
LOG_DIR; a step written twice (a resumed run) keeps the value written last (by the event's wall time).
"""
import argparse
import os
import pathlib
import sys

import numpy as np

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # stderr is for the one-line errors

from training import plots  # noqa: E402

EVENT_GLOB = 'events.out.tfevents.*'
# (panel title, y label, [(tag, line style)], log scale): the tags training/loop.py and evaluation.py write.
PANELS = [
    ('training loss', 'loss', [('train/loss', '-')], False),
    ('evaluation accuracy (solid top-1, dashed top-5)', 'accuracy', [('eval/top1', '-'), ('eval/top5', '--')],
     False),
    ('learning rate', 'lr', [('train/lr', '-')], True),
    ('throughput', 'samples / s', [('train/samples_per_sec', '-')], False),
]
TAGS = {tag for _, _, lines, _ in PANELS for tag, _ in lines}


class PlotRunError(ValueError):
    """Bad input; main prints `error: <message>` and exits with code 2."""


def event_files(log_dir):
    """The event files anywhere under `log_dir`, sorted; PlotRunError when it is no folder or holds none."""
    folder = pathlib.Path(log_dir)
    if not folder.is_dir():
        raise PlotRunError(f'{log_dir}: not a folder (give the log dir of a run)')
    paths = sorted(folder.rglob(EVENT_GLOB))
    if not paths:
        raise PlotRunError(f'{log_dir}: no TensorBoard event files ({EVENT_GLOB}) under it')
    return paths


def read_scalars(log_dir, tags=TAGS):
    """{tag: (steps int64 (n,), values float64 (n,))} of the scalar summaries under `log_dir`, by step.

    TF2 summaries store scalars as tensors (value.tensor); TF1-style ones as simple_value: both are read.
    """
    paths = event_files(log_dir)
    import tensorflow as tf  # only once the input is known to be good: its start-up costs seconds

    by_tag = {}
    for path in paths:
        try:
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                for value in event.summary.value:
                    if value.tag in tags:
                        number = (float(tf.make_ndarray(value.tensor)) if value.HasField('tensor')
                                  else float(value.simple_value))
                        points = by_tag.setdefault(value.tag, {})
                        step = int(event.step)
                        if step not in points or event.wall_time >= points[step][0]:  # the latest write wins
                            points[step] = (event.wall_time, number)
        except tf.errors.DataLossError as err:
            raise PlotRunError(f'{path}: corrupt event file ({err.message.splitlines()[-1]})') from None
    return {tag: (np.array(sorted(points), np.int64), np.array([points[s][1] for s in sorted(points)], np.float64))
            for tag, points in by_tag.items()}


def run_name(log_dir):
    """The run's folder name: the log dir's own, or its parent's when it is called `logs`/`log`."""
    path = pathlib.Path(log_dir).resolve()
    return path.parent.name if path.name in ('logs', 'log') else path.name


def curves_plot(runs):
    """runs: [(name, read_scalars result)] -> a matplotlib Figure of PANELS, one colour per run."""
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 9), dpi=plots.DPI, layout='constrained')
    axes = fig.subplots(2, 2).ravel()
    colors = matplotlib.colormaps['tab10']
    for ax, (title, ylabel, lines, log) in zip(axes, PANELS):
        for r, (name, scalars) in enumerate(runs):
            for tag, style in lines:
                if tag in scalars:
                    steps, values = scalars[tag]
                    ax.plot(steps, values, style, color=colors(r % 10), label=name if style == '-' else None,
                            marker='o' if len(steps) < 20 else None)
        ax.set_title(title, fontsize=plots.AXIS_FONT)
        ax.set_xlabel('step', fontsize=plots.TICK_FONT + 2)
        ax.set_ylabel(ylabel, fontsize=plots.TICK_FONT + 2)
        ax.grid(alpha=0.3)
        if log and ax.lines:
            ax.set_yscale('log')
        if ax.lines:
            ax.legend(fontsize=plots.TICK_FONT)
        else:
            ax.text(0.5, 0.5, 'not recorded', ha='center', va='center', transform=ax.transAxes, color='grey')
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(prog='tools/plot_run.py', description=__doc__.split('\n')[0])
    parser.add_argument('log_dirs', nargs='+', metavar='LOG_DIR', help='the log dir of each run')
    parser.add_argument('--out', default='curves.png', help='the PNG to write')
    args = parser.parse_args(argv)
    try:
        if not args.out.endswith('.png'):
            raise PlotRunError(f'--out {args.out}: expected a .png name')
        for log_dir in args.log_dirs:  # every folder checked before TensorFlow is loaded
            event_files(log_dir)
        runs = [(run_name(log_dir), read_scalars(log_dir)) for log_dir in args.log_dirs]
        empty = [log_dir for log_dir, (_, scalars) in zip(args.log_dirs, runs) if not scalars]
        if empty:
            raise PlotRunError(f'{empty[0]}: its event files hold none of the tags {", ".join(sorted(TAGS))}')
        plots.save_png(plots.render(curves_plot(runs)), args.out)
    except (PlotRunError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'wrote {args.out}: {len(runs)} run(s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
