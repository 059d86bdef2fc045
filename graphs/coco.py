"""The COCO 17-keypoint skeleton (HRNet 2D poses), with PYSKL's edge list (layout 'coco').

0 nose, 1 left eye, 2 right eye, 3 left ear, 4 right ear, 5-6 left/right shoulder, 7-8 left/right elbow,
9-10 left/right wrist, 11-12 left/right hip, 13-14 left/right knee, 15-16 left/right ankle.
"""
NUM_NODE = 17
JOINTS = ('nose', 'left eye', 'right eye', 'left ear', 'right ear', 'left shoulder', 'right shoulder',
          'left elbow', 'right elbow', 'left wrist', 'right wrist', 'left hip', 'right hip', 'left knee',
          'right knee', 'left ankle', 'right ankle')
CENTER = 0  # nose: PYSKL's centre for 'coco'; COCO has no neck or spine joint

# (child, parent), 0-based, in PYSKL's order (kennymckormick/pyskl:pyskl/utils/graph.py:Graph.get_layout).
INWARD = [(15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8), (8, 6), (5, 0),
          (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)]
