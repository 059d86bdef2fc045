"""Names of the action classes, for the per-class CSV, the confusion figure and predict's output.

NTU RGB+D 120's 120 actions (its first 60 are NTU RGB+D 60's) and Kinetics-400's classes, from the lists in
data_gen/resources/.
"""
import functools
import os

from data_gen.ntu import ACTION_NAMES, RESOURCES

KINETICS_NAMES_FILE = os.path.join(RESOURCES, 'kinetics_label_name.txt')


@functools.cache
def kinetics_names():
    """The 400 Kinetics class names, index = label_index."""
    with open(KINETICS_NAMES_FILE, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    assert len(names) == 400, f'{KINETICS_NAMES_FILE}: expected 400 names, found {len(names)}'
    return tuple(names)


def class_names(num_class, data_mode=None):
    """A name for each of `num_class` labels: Kinetics' for data_mode 'kinetics', else NTU's; 'class N' past
    the list (a dataset of the user's own)."""
    known = kinetics_names() if data_mode == 'kinetics' else ACTION_NAMES
    return [known[c] if c < len(known) else f'class {c}' for c in range(num_class)]


def model_class_names(meta, num_class):
    """The names a model's predictions are printed with: the user's (meta['class_names'], stored with weights
    trained with --class-names) when it has them, else class_names(num_class, meta['data_mode']).

    meta: model.meta (or a checkpoint's meta dict); None or {} for a model without one.
    """
    meta = meta or {}
    names = meta.get('class_names')
    if names:
        return list(names)
    return class_names(num_class, meta.get('data_mode'))
