"""NTU RGB+D sample names, benchmark splits, missing-skeleton lists and action names
(docs/reference.md sections 1 and 2)."""
import os
import re

RESOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'resources')
MISSING_LISTS = {
    'ntu60': os.path.join(RESOURCES, 'NTU_RGBD_samples_with_missing_skeletons.txt'),
    'ntu120': os.path.join(RESOURCES, 'NTU_RGBD120_samples_with_missing_skeletons.txt'),
}

# Last setup and action of each dataset: NTU-60 is S001-S017 / A001-A060, NTU-120 adds S018-S032 / A061-A120.
LAST_SETUP = {'ntu60': 17, 'ntu120': 32}
NUM_CLASS = {'ntu60': 60, 'ntu120': 120}
BENCHMARKS = {'ntu60': ('xsub', 'xview'), 'ntu120': ('xsub', 'xset')}

# Shahroudy et al. 2016, section 3.2 (NTU-60) and Liu et al. 2019 (NTU-120): training performers of cross-subject.
TRAINING_SUBJECTS_60 = frozenset((1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38))
TRAINING_SUBJECTS_120 = TRAINING_SUBJECTS_60 | frozenset((
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93,
    94, 95, 97, 98, 100, 103))
TRAINING_CAMERAS = frozenset((2, 3))  # NTU-60 cross-view; camera 1 is the test view

_NAME = re.compile(r'S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})')


def parse_name(name):
    """'S001C002P003R004A005[.skeleton]' -> (setup, camera, performer, replication, action) as ints."""
    stem = os.path.basename(name)
    if stem.endswith('.skeleton'):
        stem = stem[:-len('.skeleton')]
    match = _NAME.fullmatch(stem)
    if match is None:
        raise ValueError(f'{name}: expected a sample name like S001C001P001R001A001 (SsssCcccPpppRrrrAaaa), '
                         f'found {stem!r}')
    return tuple(int(g) for g in match.groups())


def label_of(name):
    """0-based action label (A - 1)."""
    return parse_name(name)[4] - 1


def in_dataset(name, dataset):
    """Whether the sample belongs to `dataset` ('ntu60' or 'ntu120')."""
    setup, _, _, _, action = parse_name(name)
    return setup <= LAST_SETUP[dataset] and action <= NUM_CLASS[dataset]


def is_training(name, benchmark, dataset='ntu60'):
    """Whether the sample is in the training part of `benchmark` (docs/reference.md section 2)."""
    setup, camera, performer, _, _ = parse_name(name)
    if (dataset, benchmark) == ('ntu60', 'xsub'):
        return performer in TRAINING_SUBJECTS_60
    if (dataset, benchmark) == ('ntu60', 'xview'):
        return camera in TRAINING_CAMERAS
    if (dataset, benchmark) == ('ntu120', 'xsub'):
        return performer in TRAINING_SUBJECTS_120
    if (dataset, benchmark) == ('ntu120', 'xset'):
        return setup % 2 == 0
    raise ValueError(f'unknown benchmark {benchmark!r} for {dataset!r}; expected one of {BENCHMARKS.get(dataset)} '
                     f'with dataset one of {tuple(BENCHMARKS)}')


def load_missing(path):
    """The sample names listed in a missing-skeleton file, as a set.

    The official lists start with two sentences and a blank line; only lines that are sample names count.
    /dev/null is the empty list. Raises ValueError naming the file when it is missing, not a text file, or not
    a regular file.
    """
    if os.path.exists(path) and os.path.samefile(path, os.devnull):
        return set()
    if not os.path.exists(path):
        raise ValueError(f'{path}: no such file')
    if not os.path.isfile(path):
        raise ValueError(f'{path}: not a regular file')
    try:
        with open(path, encoding='utf-8') as f:
            return {line.strip() for line in f if _NAME.fullmatch(line.strip())}
    except UnicodeDecodeError as err:
        raise ValueError(f'{path}: not a text list of sample names (byte {err.start} is not UTF-8)') from None


def _load_action_names():
    with open(os.path.join(RESOURCES, 'action_names.txt')) as f:
        lines = [line.strip() for line in f if line.strip()]
    # Each line is 'A<k>. <name>'; check the numbering so index == label.
    names = []
    for k, line in enumerate(lines, 1):
        prefix, name = line.split('. ', 1)
        assert prefix == f'A{k}', f'action_names.txt line {k}: expected A{k}., found {prefix!r}'
        names.append(name)
    return names


ACTION_NAMES = _load_action_names()  # 120 names, index = 0-based label
