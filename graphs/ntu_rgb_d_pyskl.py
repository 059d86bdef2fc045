"""The NTU RGB+D 25-joint skeleton wired as PYSKL wires it (layout 'nturgb+d' of pyskl/utils/graph.py).

The joints are those of graphs/ntu_rgb_d.py. Only the hands differ: PYSKL links the hand tip (22) and the
thumb (23) both to the left hand joint (8), and 24, 25 to the right hand joint (12), where the official list
chains 22 -> 23 -> 8 and 24 -> 25 -> 12. Networks trained with PYSKL's recipe need this graph.
"""
from graphs.ntu_rgb_d import CENTER, JOINTS, NUM_NODE

__all__ = ['CENTER', 'INWARD', 'INWARD_1BASED', 'JOINTS', 'NUM_NODE']

# (child, parent), 1-based, in PYSKL's order (kennymckormick/pyskl:pyskl/utils/graph.py:Graph.get_layout).
INWARD_1BASED = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
                 (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
                 (20, 19), (22, 8), (23, 8), (24, 12), (25, 12)]
INWARD = [(i - 1, j - 1) for i, j in INWARD_1BASED]
