"""Figures of an evaluation: the confusion matrix and the per-class accuracy, as RGB arrays for TensorBoard and
PNG files for the log dir.

    image = confusion_figure(confusion, class_names(num_class, data_mode))   # (H, W, 3) uint8
    save_png(image, os.path.join(log_dir, 'confusion_matrix.png'))

matplotlib is imported inside the functions (and only its Agg canvas, never pyplot's global state), so that
importing this module costs nothing to code that never draws.
"""
import io

import numpy as np

from storage import files

DPI = 100
CELL_INCHES = 0.2  # one class's row/column: 120 classes -> a 24-inch matrix, 2400 px at DPI
BAR_INCHES = 0.22  # one class's bar in the per-class chart
MIN_MATRIX_INCHES = 8.0
LABEL_INCHES = 3.2  # room for an action name ("wear on glasses", "cutting paper (using scissors)")
TICK_FONT = 10  # points: 14 px at DPI, inside a 20 px cell
TITLE_FONT = 18
AXIS_FONT = 14
NUM_ANNOTATED = 10  # the worst-confused pairs written into their cells and listed under the title
MAX_MATRIX_CLASSES = 120  # beyond this (Kinetics' 400) the matrix shows the classes most involved in errors
NO_SAMPLES_COLOR = '#bdbdbd'


def row_normalised(confusion):
    """confusion[t, p] / samples of class t; NaN rows for classes without samples.

    Shape: (num_class, num_class) counts -> (num_class, num_class) float64
    """
    confusion = np.asarray(confusion, np.float64)
    support = confusion.sum(axis=1, keepdims=True)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(support > 0, confusion / support, np.nan)


def worst_pairs(confusion, k=NUM_ANNOTATED):
    """The k largest off-diagonal fractions of the row-normalised matrix: [(true, predicted, rate), ...],
    highest rate first (ties: lower true, then lower predicted class first); pairs with rate 0 are left out."""
    fraction = row_normalised(confusion)
    np.fill_diagonal(fraction, np.nan)
    true, predicted = np.nonzero(np.nan_to_num(fraction) > 0)
    rates = fraction[true, predicted]
    order = np.lexsort((predicted, true, -rates))[:k]
    return [(int(true[i]), int(predicted[i]), float(rates[i])) for i in order]


def shown_classes(confusion, limit=MAX_MATRIX_CLASSES):
    """All classes, or past `limit` the classes of the worst pairs and then those with the most misclassified
    samples (as true or as predicted class), in label order. Shape: -> (min(num_class, limit),) int64."""
    confusion = np.asarray(confusion)
    num_class = confusion.shape[0]
    if num_class <= limit:
        return np.arange(num_class)
    errors = confusion.sum(axis=0) + confusion.sum(axis=1) - 2 * np.diag(confusion)  # (num_class,)
    chosen = list(dict.fromkeys(c for t, p, _ in worst_pairs(confusion) for c in (t, p)))
    chosen += [c for c in np.argsort(-errors, kind='stable') if c not in set(chosen)]
    return np.sort(np.array(chosen[:limit], np.int64))


def cluster_order(confusion):
    """Class order that puts classes confused with each other next to each other: the leaves of an average-
    linkage clustering of the symmetrised row-normalised matrix (classes without samples count as zeros).

    Shape: (num_class, num_class) -> (num_class,) int64, a permutation.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage

    fraction = np.nan_to_num(row_normalised(confusion))
    similarity = (fraction + fraction.T) / 2  # (num_class, num_class): row c describes whom c is mixed with
    if len(similarity) < 2:
        return np.arange(len(similarity))
    return leaves_list(linkage(similarity, method='average')).astype(np.int64)


def confusion_plot(confusion, class_names):
    """The matplotlib Figure behind confusion_figure (one matrix axes and its colour bar)."""
    from matplotlib.figure import Figure

    confusion = np.asarray(confusion)
    num_class = _check_names(confusion.shape[0], class_names)
    if confusion.shape != (num_class, num_class):
        raise ValueError(f'confusion must be (num_class, num_class), got {confusion.shape}')
    shown = shown_classes(confusion)  # (S,)
    order = shown[cluster_order(confusion[np.ix_(shown, shown)])]  # (S,) classes in display order
    fraction = row_normalised(confusion)[np.ix_(order, order)]  # (S, S): rows normalised over all classes
    names = [_label(class_names[c], confusion[c].sum() == 0) for c in order]
    position = dict(zip(order.tolist(), range(len(order))))  # class -> row/column on screen

    side = max(MIN_MATRIX_INCHES, CELL_INCHES * len(order))
    fig = Figure(figsize=(side + LABEL_INCHES + 1.5, side + LABEL_INCHES + 1.5), dpi=DPI, layout='constrained')
    ax = fig.add_subplot()
    cmap = _colormap('Blues')
    image = ax.imshow(np.ma.masked_invalid(fraction), cmap=cmap, vmin=0.0, vmax=1.0, interpolation='nearest')
    colorbar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    colorbar.set_label('fraction of the true class', fontsize=AXIS_FONT)
    ax.set_xticks(range(len(order)), names, rotation=90, fontsize=TICK_FONT)
    ax.set_yticks(range(len(order)), names, fontsize=TICK_FONT)
    ax.set_xlabel('predicted', fontsize=AXIS_FONT)
    ax.set_ylabel('true', fontsize=AXIS_FONT)

    pairs = worst_pairs(confusion)  # every class of these is shown
    for true, predicted, rate in pairs:
        row, col = position[true], position[predicted]
        ax.add_patch(_cell_box(row, col))
        ax.text(col, row, f'{round(100 * rate)}', ha='center', va='center', fontsize=TICK_FONT - 2,
                color='white' if rate > 0.5 else 'black', fontweight='bold')
    listed = '; '.join(f'{class_names[t]} \u2192 {class_names[p]} {100 * r:.0f}%' for t, p, r in pairs[:5])
    subset = '' if len(order) == num_class else f', the {len(order)} of {num_class} classes most confused'
    ax.set_title(f'confusion matrix, rows normalised, classes clustered{subset} (boxed: the {len(pairs)} worst '
                 f'pairs, % of the true class)\n{listed}', fontsize=TITLE_FONT if num_class <= 60 else AXIS_FONT,
                 wrap=True)
    return fig


def confusion_figure(confusion, class_names):
    """The row-normalised confusion matrix with action names on both axes, classes clustered, a colour bar, and
    the NUM_ANNOTATED worst-confused pairs boxed with their percentage; classes without samples are grey rows.
    Past MAX_MATRIX_CLASSES classes, only shown_classes() are drawn.

    Shape: confusion (num_class, num_class) counts -> (H, W, 3) uint8, H and W growing with num_class (up to
    MAX_MATRIX_CLASSES).
    """
    return render(confusion_plot(confusion, class_names))


def per_class_plot(per_class_acc, class_names):
    """The matplotlib Figure behind per_class_figure."""
    from matplotlib.figure import Figure

    accuracy = np.asarray(per_class_acc, np.float64)
    num_class = _check_names(len(accuracy), class_names)
    # Lowest accuracy on top (barh draws index 0 at the bottom), classes without samples at the bottom.
    present = np.flatnonzero(~np.isnan(accuracy))
    order = np.concatenate([np.flatnonzero(np.isnan(accuracy)),
                            present[np.argsort(-accuracy[present], kind='stable')]])
    fig = Figure(figsize=(LABEL_INCHES + 8, max(4.0, BAR_INCHES * num_class + 1.5)), dpi=DPI, layout='constrained')
    ax = fig.add_subplot()
    values = np.nan_to_num(accuracy[order])
    bars = ax.barh(range(num_class), values, color=[_bar_color(a) for a in accuracy[order]], height=0.8)
    for bar, acc in zip(bars, accuracy[order]):
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2,
                'no samples' if np.isnan(acc) else f'{100 * acc:.1f}%', va='center', fontsize=TICK_FONT - 1,
                color=NO_SAMPLES_COLOR if np.isnan(acc) else 'black')
    ax.set_yticks(range(num_class), [class_names[c] for c in order], fontsize=TICK_FONT)
    ax.set_ylim(-0.6, num_class - 0.4)
    ax.set_xlim(0.0, 1.12)
    ax.set_xlabel('accuracy (recall of the class)', fontsize=AXIS_FONT)
    if len(present):
        mean = float(np.mean(accuracy[present]))
        ax.axvline(mean, color='black', linestyle='--', linewidth=1)
        ax.set_title(f'per-class accuracy, mean {100 * mean:.1f}% over {len(present)} classes with samples',
                     fontsize=AXIS_FONT)
    else:
        ax.set_title('per-class accuracy: no class has samples', fontsize=AXIS_FONT)
    return fig


def per_class_figure(per_class_acc, class_names):
    """Per-class accuracy as a sorted horizontal bar chart (worst on top), NaN classes marked 'no samples'.

    Shape: per_class_acc (num_class,) float, NaN for no samples -> (H, W, 3) uint8, H growing with num_class.
    """
    return render(per_class_plot(per_class_acc, class_names))


def render(fig):
    """A Figure drawn by the Agg canvas. Shape: -> (H, W, 3) uint8 with (W, H) = figsize * dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.array(canvas.buffer_rgba())[..., :3]  # (H, W, 3): alpha is opaque everywhere


def save_png(image, path):
    """Write an (H, W, 3) uint8 image as PNG, atomically."""
    from PIL import Image

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}')
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='PNG')
    files.write_bytes(buffer.getvalue(), path)


def _check_names(num_class, class_names):
    if len(class_names) != num_class:
        raise ValueError(f'{len(class_names)} class names for {num_class} classes')
    return num_class


def _label(name, empty):
    return f'{name} (no samples)' if empty else name


def _colormap(name):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=NO_SAMPLES_COLOR)  # NaN rows: classes without samples


def _cell_box(row, col):
    from matplotlib.patches import Rectangle

    return Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor='red', linewidth=1.5)


def _bar_color(acc):
    import matplotlib

    return NO_SAMPLES_COLOR if np.isnan(acc) else matplotlib.colormaps['RdYlGn'](0.15 + 0.7 * acc)
