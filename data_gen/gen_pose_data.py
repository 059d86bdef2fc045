"""A folder of your own pose files, one subfolder per action -> an annotation pickle in PYSKL's 2D format.

    python data_gen/gen_pose_data.py --data-path my_poses --out data/my_poses.pkl --layout-file my_layout.yaml \\
        [--frame-size 1920 1080] [--val-fraction 0.2] [--on-error skip]

my_poses/ACTION/SAMPLE: each action's folder holds its samples, any of what data_gen/pose_readers.py reads: an
OpenPose --write_json folder (layout openpose), a COCO-style keypoint list `.json` (layout coco, or any layout
whose joints the detections list: 3 values per joint), a Kinetics-skeleton `.json` (openpose). Actions are
labelled 0, 1, ... in the sorted order of their folder names; their names go to OUT's `_classes.txt` (for
main.py --class-names). Per action, the last round(val_fraction x count) samples by name form split `val`, the
rest `train`.

The pickle is the format of PYSKL's 2D pickles (docs/files.md, "PYSKL annotation pickles"): per sample
{'frame_dir': 'ACTION/SAMPLE', 'label', 'total_frames', 'img_shape': (height, width), 'keypoint' float32
(M, T, V, 2) pixel x, y, 'keypoint_score' float32 (M, T, V)}. The M <= --num-person people are chosen per frame
by the readers' rule (the highest summed joint score, the official Kinetics rule); undetected joints are 0
with score 0. Train and test on it with main.py --train-data-path OUT --train-split train --test-split val
(PYSKL's 2D pipeline, PreNormalize2D by img_shape) and the layout given here.
"""
import argparse
import os
import sys
import time

import numpy as np

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_gen import pose_readers  # noqa: E402
from data_gen.gen_joint_data import InputError, run_cli  # noqa: E402
from graphs import LAYOUTS, LayoutError  # noqa: E402
from storage import files  # noqa: E402
from storage.layout_file import load_layout_file  # noqa: E402

PROG = 'gen_pose_data'
SPLITS = ('train', 'val')
# The layout each reader's joints are in, when the user gives none (a COCO-style list of 17 joints is COCO's).
READER_LAYOUTS = ('openpose', 'coco')


def main(argv=None):
    return run_cli(PROG, generate, parse_args(argv), 'nothing written')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data-path', required=True, help='folder with one subfolder of samples per action')
    parser.add_argument('--out', required=True, help='the annotation pickle to write (.pkl)')
    layouts = parser.add_mutually_exclusive_group()
    layouts.add_argument('--layout', choices=READER_LAYOUTS, default=None,
                         help='the joints of the files (default: openpose for OpenPose and Kinetics files, coco for '
                              'COCO-style lists)')
    layouts.add_argument('--layout-file', help="YAML file of your layout: COCO-style lists list its joints")
    parser.add_argument('--frame-size', type=int, nargs=2, metavar=('WIDTH', 'HEIGHT'),
                        help='frame size in pixels, for files that do not record it')
    parser.add_argument('--val-fraction', type=float, default=0.2,
                        help='share of each action (its last samples by name) in split val (default 0.2)')
    parser.add_argument('--num-person', type=int, default=pose_readers.NUM_PERSON,
                        help='people kept per frame (default 2)')
    parser.add_argument('--on-error', choices=('fail', 'skip'), default='fail',
                        help='fail: stop at the first bad sample; skip: leave it out and list it in OUT.skipped.txt')
    args = parser.parse_args(argv)
    if not 0.0 <= args.val_fraction < 1.0:
        parser.error(f'argument --val-fraction: must be in [0, 1), got {args.val_fraction}')
    if args.num_person < 1:
        parser.error(f'argument --num-person: must be >= 1, got {args.num_person}')
    if args.frame_size is not None and min(args.frame_size) < 1:
        parser.error(f'argument --frame-size: must be two pixel counts >= 1, got {args.frame_size}')
    return args


def generate(args):
    start = time.monotonic()
    if not args.out.endswith('.pkl'):
        raise InputError(f'--out {args.out}: the annotation pickle must end in .pkl (main.py reads it by that name)')
    if os.path.isdir(args.out):
        raise InputError(f'--out {args.out}: is a folder, expected the pickle to write')
    layout = _layout(args)
    actions = list_actions(args.data_path)
    annotations, split, skipped, people = [], {name: [] for name in SPLITS}, [], []
    for label, (action, samples) in enumerate(actions):
        num_val = round(args.val_fraction * len(samples))
        for i, (name, path) in enumerate(samples):
            try:
                annotation, report = annotate(path, f'{action}/{name}', label, args, layout)
            except pose_readers.PoseError as e:
                if args.on_error == 'fail':
                    raise InputError(f'{e} (--on-error skip would leave this sample out)') from None
                skipped.append(str(e))
                continue
            if layout is None:  # the first sample's reader fixes the joints of the whole set
                layout = (report.layout, annotation['keypoint'].shape[2])
            annotations.append(annotation)
            split['val' if i >= len(samples) - num_val else 'train'].append(annotation['frame_dir'])
            people.append(report.max_people)
    if not annotations:
        raise InputError(f'--data-path {args.data_path}: every sample is bad, the last: {skipped[-1]}')
    names_path = classes_path(args.out)
    files.write_text(''.join(f'{action}\n' for action, _ in actions), names_path)
    skipped_path = args.out + '.skipped.txt'
    if skipped:
        files.write_text(''.join(f'{line}\n' for line in skipped), skipped_path)
    files.write_pickle({'split': split, 'annotations': annotations}, args.out)  # last: it marks a complete run
    joints = annotations[0]['keypoint'].shape[2]
    print(f'wrote {args.out}: {len(annotations)} samples of {len(actions)} actions ({joints} joints, layout '
          f'{layout[0]}), train {len(split["train"])}, val {len(split["val"])}; up to {max(people)} people in a '
          f'frame, {args.num_person} kept; action names in {names_path}'
          + (f'; {len(skipped)} bad samples left out, listed in {skipped_path}' if skipped else '')
          + f' ({time.monotonic() - start:.1f} s)', flush=True)
    return 0


def classes_path(out):
    """Where the action names of the pickle `out` go: data/my.pkl -> data/my_classes.txt."""
    return out[:-len('.pkl')] + '_classes.txt'


def _layout(args):
    """(name, V) of the files' joints given by --layout-file or --layout, or None: the first sample's reader's."""
    if args.layout_file is not None:
        try:
            layout = load_layout_file(args.layout_file)
        except LayoutError as error:
            raise InputError(f'--layout-file: {error}') from None
        return layout.name, layout.num_node
    if args.layout is not None:
        return args.layout, LAYOUTS[args.layout].num_node
    return None


def list_actions(root):
    """[(action, [(sample name, path), ...])] in sorted order: every subfolder of `root` is an action, every
    entry of it a sample (hidden entries skipped)."""
    if not os.path.isdir(root):
        raise InputError(f'--data-path {root}: no such folder')
    actions = []
    for action in sorted(os.listdir(root)):
        folder = os.path.join(root, action)
        if action.startswith('.') or not os.path.isdir(folder):
            continue
        samples = [(name, os.path.join(folder, name)) for name in sorted(os.listdir(folder))
                   if not name.startswith('.')]
        if not samples:
            raise InputError(f'{folder}: the action holds no samples')
        actions.append((action, samples))
    if not actions:
        raise InputError(f'--data-path {root}: no action folders (expected {root}/ACTION/SAMPLE)')
    return actions


def annotate(path, frame_dir, label, args, layout):
    """One sample file or folder -> (its annotation, the reader's PoseReport). PoseError if bad, or if its joints
    are not the layout's (name, V)."""
    name, num_joints = layout or ('coco', pose_readers.COCO_JOINTS)
    size = tuple(args.frame_size) if args.frame_size else None
    sample, report = pose_readers.read_pose(path, size, args.num_person, args.on_error, num_joints, name)
    if layout is not None and sample.shape[2] != num_joints:
        raise pose_readers.PoseError(f'{path}: {report.format} gives {sample.shape[2]} joints ({report.layout}), '
                                     f'the layout {name} has {num_joints}')
    # Kinetics-skeleton files store x / width and y / height already: their "pixels" are of a 1 x 1 frame.
    size = report.frame_size or (1.0, 1.0)
    return to_annotation(sample, size, frame_dir, label), report


def to_annotation(sample, size, frame_dir, label):
    """A reader's sample back in pixels, as PYSKL's 2D pickles hold keypoints.

    Shape: sample (3, T, V, M) float32 x / width - 0.5, y / height - 0.5, score -> keypoint (M', T, V, 2) pixel
    x, y and keypoint_score (M', T, V), M' the slots any frame fills (at least 1). Undetected joints stay 0.
    """
    width, height = size
    score = sample[2]  # (T, V, M)
    filled = max(1, int((score > 0).any(axis=(0, 1)).sum()))  # the readers fill slots in order
    pixels = pose_readers.sample_pixels(sample, size)  # (2, T, V, M)
    keypoint = pixels.transpose(3, 1, 2, 0)[:filled].astype(np.float32)  # (M', T, V, 2)
    return {'frame_dir': frame_dir, 'label': label, 'total_frames': int(sample.shape[1]),
            'img_shape': (int(round(height)), int(round(width))), 'keypoint': keypoint,
            'keypoint_score': score.transpose(2, 0, 1)[:filled].astype(np.float32)}


if __name__ == '__main__':
    sys.exit(main())
