"""The OpenPose 18-joint skeleton of Kinetics-skeleton, with the official ST-GCN edge list.

0 nose, 1 neck, 2-4 right shoulder/elbow/wrist, 5-7 left shoulder/elbow/wrist, 8-10 right hip/knee/ankle,
11-13 left hip/knee/ankle, 14 right eye, 15 left eye, 16 right ear, 17 left ear.
"""
NUM_NODE = 18
JOINTS = ('nose', 'neck', 'right shoulder', 'right elbow', 'right wrist', 'left shoulder', 'left elbow',
          'left wrist', 'right hip', 'right knee', 'right ankle', 'left hip', 'left knee', 'left ankle',
          'right eye', 'left eye', 'right ear', 'left ear')
CENTER = 1  # neck

# (child, parent), 0-based, in the official order.
INWARD = [(4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2), (5, 1),
          (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)]
