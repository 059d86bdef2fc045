"""Bone stream: each joint minus its parent along the official ST-GCN edges (2s-AGCN's gen_bone_data).

    python data_gen/gen_bone_data.py --data-dir data/ntu/xsub [--parts train val] [--layout ntu-rgb+d]
    python data_gen/gen_bone_data.py --data-path val_data_joint.npy --out val_data_bone.npy
    python data_gen/gen_bone_data.py --data-path my_data_joint.npy --out my_data_bone.npy --layout-file my.yaml

writes {part}_data_bone.npy beside {part}_data_joint.npy and records the stream in meta.json. The parent of a
joint is the head of its inward edge in graphs (ntu-rgb+d: the official list, centre joint 21; openpose: centre
1, the neck); the centre is its own parent, so its bone is zero. All channels are differenced, including
Kinetics' confidence channel, as 2s-AGCN does.
"""
import argparse
import os
import sys

import numpy as np

if __package__ in (None, ''):  # run as a script: make the repository root importable, as gen_joint_data does
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_gen import streaming  # noqa: E402
from storage import files  # noqa: E402
from storage.files import StorageError  # noqa: E402
from graphs import LAYOUTS, LayoutError  # noqa: E402
from storage.layout_file import load_layout_file  # noqa: E402

PROG = 'gen_bone_data'


def parents(layout):
    """(V,) int: the parent of each joint of ``layout`` (a shipped name or a graphs.Layout); the centre joint is
    its own parent."""
    return np.asarray((LAYOUTS[layout] if isinstance(layout, str) else layout).parent)


def bones(x, parent):
    """Joint minus parent joint, every channel.

    Shape:
        Input: (N, C, T, V, M); parent (V,).  Output: (N, C, T, V, M), zero at joints with parent[v] == v.
    """
    return x - x[:, :, :, parent, :]


def resolve_layout(requested, src, num_joints, layout_file=None):
    """--layout-file's layout, else --layout, else the layout recorded in meta.json beside ``src``, else the
    shipped one with V joints. Returns a shipped layout's name or a graphs.Layout."""
    if layout_file is not None:
        try:
            custom = load_layout_file(layout_file)
        except LayoutError as error:
            raise StorageError(str(error)) from None
        if custom.num_node != num_joints:
            raise StorageError(f'{src}: V = {num_joints} joints, but layout {custom.name} ({layout_file}) has '
                               f'{custom.num_node}')
        return custom
    layout = requested or files.read_meta(src).get('layout')
    if layout is None:
        by_size = {}
        for name, spec in LAYOUTS.items():  # the first layout with V joints: the official one
            by_size.setdefault(spec.num_node, name)
        if num_joints not in by_size:
            raise StorageError(f'{src}: {num_joints} joints match no layout ({", ".join(LAYOUTS)})')
        layout = by_size[num_joints]
    if layout not in LAYOUTS:  # a meta.json written by hand or by another tool
        raise StorageError(f'{files.meta_path(src)}: unknown layout {layout!r}; known: {", ".join(LAYOUTS)} '
                           '(or give --layout)')
    if LAYOUTS[layout].num_node != num_joints:
        raise StorageError(
            f'{src}: V = {num_joints} joints, but layout {layout} has {LAYOUTS[layout].num_node}')
    return layout


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    streaming.add_io_arguments(parser)
    layouts = parser.add_mutually_exclusive_group()
    layouts.add_argument('--layout', choices=sorted(LAYOUTS),
                         help='skeleton layout (default: meta.json "layout", else inferred from V)')
    layouts.add_argument('--layout-file', help="YAML file of a custom layout: each joint's bone is to its parent")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        for src, dst in streaming.io_pairs(parser, args, [('joint', 'bone')]):
            layout = resolve_layout(args.layout, src, files.load_samples(src).shape[3], args.layout_file)
            parent = parents(layout)
            streaming.transform_npy(src, dst, lambda x: bones(x, parent), args.chunk_size)
            recorded = layout if isinstance(layout, str) else layout.name
            streaming.report(src, dst, {'from': files.stream_name(src), 'layout': recorded})
    except StorageError as e:
        print(f'{PROG}: error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
