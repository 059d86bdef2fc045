"""tools/plot_run.py on event files written here with tf.summary, under the tags training writes."""
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tools import plot_run


def _write_run(folder, loss, top1, lr=0.1):
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        for step, value in enumerate(loss):
            tf.summary.scalar('train/loss', value, step=10 * step)
            tf.summary.scalar('train/lr', lr / (1 + step), step=10 * step)
        for epoch, value in enumerate(top1):
            tf.summary.scalar('eval/top1', value, step=10 * epoch)
            tf.summary.scalar('eval/top5', min(1.0, value + 0.2), step=10 * epoch)
            tf.summary.image('eval/confusion_matrix', np.zeros((1, 2, 2, 3), np.uint8), step=10 * epoch)
    writer.close()


def test_read_scalars_gives_each_tag_by_step(tmp_path):
    _write_run(tmp_path / 'a', [2.0, 1.5, 1.0], [0.3, 0.6])
    scalars = plot_run.read_scalars(tmp_path / 'a')
    assert set(scalars) == {'train/loss', 'train/lr', 'eval/top1', 'eval/top5'}  # the image is not a curve
    steps, values = scalars['train/loss']
    assert steps.tolist() == [0, 10, 20] and values.tolist() == [2.0, 1.5, 1.0]
    np.testing.assert_allclose(scalars['eval/top5'][1], [0.5, 0.8], rtol=1e-6)


def test_a_resumed_step_keeps_its_last_value(tmp_path):
    _write_run(tmp_path / 'a', [2.0, 1.5], [0.3])
    writer = tf.summary.create_file_writer(str(tmp_path / 'a'))  # a second file, written later
    with writer.as_default():
        tf.summary.scalar('train/loss', 0.5, step=10)
    writer.close()
    assert plot_run.read_scalars(tmp_path / 'a')['train/loss'][1].tolist() == [2.0, 0.5]


def test_two_runs_one_png_named_by_folder(tmp_path):
    _write_run(tmp_path / 'baseline' / 'logs', [2.0, 1.5, 1.0], [0.3, 0.6])
    _write_run(tmp_path / 'wider', [1.8, 1.1, 0.7], [0.4, 0.7], lr=0.05)
    runs = [(plot_run.run_name(d), plot_run.read_scalars(d)) for d in (tmp_path / 'baseline' / 'logs',
                                                                        tmp_path / 'wider')]
    fig = plot_run.curves_plot(runs)
    loss_ax, acc_ax, lr_ax, speed_ax = fig.axes
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ['baseline', 'wider']
    assert len(acc_ax.lines) == 4 and lr_ax.get_yscale() == 'log' and not speed_ax.lines
    assert loss_ax.lines[0].get_color() != loss_ax.lines[1].get_color()
    out = tmp_path / 'curves.png'
    assert plot_run.main([str(tmp_path / 'baseline' / 'logs'), str(tmp_path / 'wider'), '--out', str(out)]) == 0
    with Image.open(out) as image:
        assert image.size == (14 * 100, 9 * 100)


@pytest.mark.parametrize('make, message', [
    (lambda p: p / 'missing', r'missing: not a folder'),
    (lambda p: (p / 'f.txt').write_text('x') and p / 'f.txt', r'f.txt: not a folder'),
    (lambda p: (p / 'empty').mkdir() or p / 'empty', r'empty: no TensorBoard event files'),
])
def test_bad_log_dirs_are_one_line_errors(tmp_path, capsys, make, message):
    assert plot_run.main([str(make(tmp_path)), '--out', str(tmp_path / 'c.png')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: ') and message.split(': ')[1] in err[0], err
    assert not (tmp_path / 'c.png').exists()


def test_event_files_without_the_tags_are_an_error(tmp_path, capsys):
    writer = tf.summary.create_file_writer(str(tmp_path / 'other'))
    with writer.as_default():
        tf.summary.scalar('something/else', 1.0, step=0)
    writer.close()
    assert plot_run.main([str(tmp_path / 'other'), '--out', str(tmp_path / 'c.png')]) == 2
    assert 'hold none of the tags' in capsys.readouterr().err
