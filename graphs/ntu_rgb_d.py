"""The NTU RGB+D 25-joint skeleton (Kinect v2), with the official ST-GCN edge list.

1-based joints: 1 base of spine, 2 middle of spine, 3 neck, 4 head, 5-8 left shoulder/elbow/wrist/hand,
9-12 right shoulder/elbow/wrist/hand, 13-16 left hip/knee/ankle/foot, 17-20 right hip/knee/ankle/foot,
21 spine (shoulder centre), 22 left hand tip, 23 left thumb, 24 right hand tip, 25 right thumb.
"""
import numpy as np

NUM_NODE = 25
JOINTS = ('base of spine', 'middle of spine', 'neck', 'head', 'left shoulder', 'left elbow', 'left wrist',
          'left hand', 'right shoulder', 'right elbow', 'right wrist', 'right hand', 'left hip', 'left knee',
          'left ankle', 'left foot', 'right hip', 'right knee', 'right ankle', 'right foot', 'spine',
          'left hand tip', 'left thumb', 'right hand tip', 'right thumb')
CENTER = 21 - 1  # spine at the shoulders, 0-based

# (child, parent), 1-based, in the official order. pyskl/mmaction2 wire the hands differently
# ((22, 8), (23, 8), ...; layout 'ntu-rgb+d-pyskl', graphs/ntu_rgb_d_pyskl.py): the released weights were
# trained with this list, so keep it.
INWARD_1BASED = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
                 (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
                 (20, 19), (22, 23), (23, 8), (24, 25), (25, 12)]
INWARD = [(i - 1, j - 1) for i, j in INWARD_1BASED]


def _parents():
    parent = np.arange(NUM_NODE)  # the centre is its own parent, so its bone is zero
    for child, par in INWARD:
        parent[child] = par
    return parent


PARENT = _parents()  # (25,) int64: parent of each joint, 0-based
