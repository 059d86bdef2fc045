"""training/plots.py: the confusion and per-class figures, their annotations and the PNG writer."""
import numpy as np
import pytest
from PIL import Image

from data_gen.class_names import class_names
from training import plots


def _confusion(num_class, seed=0):
    """A diagonal-heavy confusion with light noise (counts)."""
    rng = np.random.default_rng(seed)
    return np.diag(rng.integers(20, 40, num_class)) + rng.poisson(0.2, (num_class, num_class))


def test_worst_pairs_are_the_largest_off_diagonal_rates():
    confusion = np.array([[8, 2, 0, 0],   # class 0: 20% to 1
                          [0, 5, 5, 0],   # class 1: 50% to 2
                          [0, 0, 0, 0],   # class 2: no samples, never a pair
                          [1, 0, 1, 2]])  # class 3: 25% to 0 and to 2 (tie: lower predicted first)
    assert plots.worst_pairs(confusion, 3) == [(1, 2, 0.5), (3, 0, 0.25), (3, 2, 0.25)]
    assert plots.worst_pairs(confusion, 10) == [(1, 2, 0.5), (3, 0, 0.25), (3, 2, 0.25), (0, 1, 0.2)]
    assert plots.worst_pairs(np.eye(3, dtype=int), 5) == []


def test_row_normalised_marks_classes_without_samples():
    fraction = plots.row_normalised([[3, 1], [0, 0]])
    np.testing.assert_array_equal(fraction[0], [0.75, 0.25])
    assert np.isnan(fraction[1]).all()


def test_cluster_order_puts_a_confused_pair_side_by_side():
    confusion = np.diag([10] * 6)
    confusion[0, 5] = confusion[5, 0] = 9  # 0 and 5 are mixed up with each other, nobody else is
    order = list(plots.cluster_order(confusion))
    assert sorted(order) == list(range(6))
    assert abs(order.index(0) - order.index(5)) == 1


def test_confusion_plot_has_a_colour_bar_names_and_the_worst_pair_boxed():
    names = class_names(8)
    confusion = _confusion(8)
    confusion[6, 2] = 25  # the worst pair by far: class 6 taken for class 2
    fig = plots.confusion_plot(confusion, names)
    matrix, bar = fig.axes
    assert matrix.images[0].colorbar is not None and matrix.images[0].colorbar.ax is bar
    assert {t.get_text() for t in matrix.get_xticklabels()} == set(names)
    assert {t.get_text() for t in matrix.get_yticklabels()} == set(names)
    rate = 25 / confusion[6].sum()
    assert plots.worst_pairs(confusion, 1) == [(6, 2, rate)]
    assert f'{names[6]} \u2192 {names[2]} {100 * rate:.0f}%' in matrix.get_title()
    # The box and the percentage sit on the cell (row of 'reading', column of 'throw') in display order.
    position = np.argsort(plots.cluster_order(confusion))
    texts = {(t.get_position(), t.get_text()) for t in matrix.texts}
    assert ((position[2], position[6]), str(round(100 * rate))) in texts
    boxes = {(p.get_x() + 0.5, p.get_y() + 0.5) for p in matrix.patches if p.get_edgecolor()[:3] == (1.0, 0.0, 0.0)}
    assert (position[2], position[6]) in boxes


@pytest.mark.parametrize('num_class', [60, 120])
def test_confusion_figure_grows_with_the_class_count(num_class):
    confusion = _confusion(num_class)
    confusion[5] = 0  # a class without samples: a grey row
    image = plots.confusion_figure(confusion, class_names(num_class))
    side = round(plots.DPI * (plots.CELL_INCHES * num_class + plots.LABEL_INCHES + 1.5))
    assert image.shape == (side, side, 3) and image.dtype == np.uint8
    grey = np.array([int(plots.NO_SAMPLES_COLOR[i:i + 2], 16) for i in (1, 3, 5)])
    assert np.any(np.all(image == grey, axis=-1))  # the class without samples is drawn as such
    assert np.mean(image.min(axis=-1) < 200) > 0.02  # drawn, not blank: the cells and names are dark


def test_per_class_figure_sorts_and_marks_empty_classes():
    names = class_names(5)
    accuracy = np.array([0.9, np.nan, 0.1, 0.5, 1.0])
    fig = plots.per_class_plot(accuracy, names)
    ax = fig.axes[0]
    # barh draws index 0 at the bottom: no-sample class there, then best to worst going up.
    assert [t.get_text() for t in ax.get_yticklabels()] == [names[1], names[4], names[0], names[3], names[2]]
    assert [round(b.get_width(), 6) for b in ax.patches] == [0.0, 1.0, 0.9, 0.5, 0.1]
    assert 'no samples' in [t.get_text() for t in ax.texts]
    assert 'mean 62.5% over 4 classes' in ax.get_title()
    image = plots.per_class_figure(np.linspace(0, 1, 120), class_names(120))
    assert image.shape[0] == round(plots.DPI * (plots.BAR_INCHES * 120 + 1.5)) and image.shape[2] == 3


def test_save_png_round_trips(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    plots.save_png(image, str(tmp_path / 'x.png'))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'x.png')), image)
    with pytest.raises(ValueError, match=r'expected an \(H, W, 3\) uint8 image, got \(7, 9\) uint8'):
        plots.save_png(image[..., 0], str(tmp_path / 'y.png'))


def test_class_names_must_match():
    with pytest.raises(ValueError, match='3 class names for 4 classes'):
        plots.confusion_figure(np.eye(4, dtype=int), class_names(3))


def test_past_the_limit_the_worst_pairs_classes_come_first():
    confusion = np.diag([10] * 6)
    confusion[4, 1] = 3  # the worst pair (3/13), then three at 1/11, in label order
    confusion[0, 2] = confusion[3, 2] = confusion[5, 0] = 1
    assert plots.shown_classes(confusion, limit=6).tolist() == list(range(6))
    assert plots.shown_classes(confusion, limit=2).tolist() == [1, 4]
    assert plots.shown_classes(confusion, limit=3).tolist() == [0, 1, 4]  # then (0, 2)'s class 0


def test_kinetics_sized_confusion_is_drawn_at_the_limit():
    confusion = _confusion(400)
    confusion[7, 300] = 40  # the worst pair: both classes must be on the figure
    fig = plots.confusion_plot(confusion, class_names(400, 'kinetics'))
    matrix = fig.axes[0]
    shown = [t.get_text() for t in matrix.get_yticklabels()]
    assert len(shown) == plots.MAX_MATRIX_CLASSES
    assert {class_names(400, 'kinetics')[c] for c in (7, 300)} <= set(shown)
    assert 'the 120 of 400 classes most confused' in matrix.get_title()
