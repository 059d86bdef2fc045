"""Motion streams: frame differences of the joint and bone streams (2s-AGCN's gen_motion_data).

    python data_gen/gen_motion_data.py --data-dir data/ntu/xsub [--parts train val] [--streams joint bone]
    python data_gen/gen_motion_data.py --data-path val_data_bone.npy --out val_data_bone_motion.npy

writes {part}_data_joint_motion.npy and {part}_data_bone_motion.npy (run gen_bone_data first for the bone
one) and records them in meta.json. motion[:, :, t] = x[:, :, t + 1] - x[:, :, t]; the last frame has no
successor and is zero. Zero-padded frames are differenced like any other, as 2s-AGCN does.
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

PROG = 'gen_motion_data'
SOURCES = ('joint', 'bone')


def motion(x):
    """Forward frame difference, zero at the last frame.

    Shape:
        Input: (N, C, T, V, M).  Output: (N, C, T, V, M).
    """
    out = np.zeros_like(x)
    out[:, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    return out


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    streaming.add_io_arguments(parser)
    parser.add_argument('--streams', nargs='+', choices=SOURCES, default=list(SOURCES),
                        help='input streams under --data-dir, each giving <stream>_motion')
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        for src, dst in streaming.io_pairs(parser, args, [(s, f'{s}_motion') for s in args.streams]):
            streaming.transform_npy(src, dst, motion, args.chunk_size)
            streaming.report(src, dst, {'from': files.stream_name(src)})
    except StorageError as e:
        print(f'{PROG}: error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
