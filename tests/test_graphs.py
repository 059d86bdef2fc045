"""Graphs: every number of docs/reference.md section 3, and equality with a literal transcription of the official loops."""
import ast
import pathlib
import re

import numpy as np
import pytest

from graphs import Graph, ntu_rgb_d
from graphs.tools import normalize_digraph

# layout, partition -> (shape, non-zeros per subset, sum per subset), docs/reference.md section 3.
TABLE = {
    ('ntu-rgb+d', 'spatial'): ((3, 25, 25), [25, 40, 8], [8.95, 13.3, 2.75]),
    ('ntu-rgb+d', 'distance'): ((2, 25, 25), [25, 48], [8.95, 16.05]),
    ('ntu-rgb+d', 'uniform'): ((1, 25, 25), [73], [25.0]),
    ('openpose', 'spatial'): ((3, 18, 18), [18, 25, 9], [6.6667, 8.5833, 2.75]),
    ('openpose', 'distance'): ((2, 18, 18), [18, 34], [6.6667, 11.3333]),
    ('openpose', 'uniform'): ((1, 18, 18), [52], [18.0]),
}


@pytest.mark.parametrize('layout,partition', sorted(TABLE))
def test_reference_table(layout, partition):
    shape, nonzeros, sums = TABLE[(layout, partition)]
    A = Graph(layout, partition).A
    assert A.shape == shape and A.dtype == np.float32
    assert [int(np.count_nonzero(a)) for a in A] == nonzeros
    np.testing.assert_allclose([a.sum() for a in A], sums, atol=1e-4)
    # Each joint's incoming weights over all subsets sum to one (column normalisation).
    np.testing.assert_allclose(A.sum(0).sum(0), np.ones(shape[1]), atol=1e-6)


def _official_spatial_loop(graph):
    """The official Graph.get_adjacency('spatial') loop, transcribed literally (max_hop 1, dilation 1)."""
    V, center, hop_dis = graph.num_node, graph.center, graph.hop_dis
    adjacency = np.zeros((V, V))
    for hop in (0, 1):
        adjacency[hop_dis == hop] = 1
    normalize_adjacency = normalize_digraph(adjacency)
    A = []
    for hop in (0, 1):
        a_root, a_close, a_further = np.zeros((V, V)), np.zeros((V, V)), np.zeros((V, V))
        for i in range(V):
            for j in range(V):
                if hop_dis[j, i] == hop:
                    if hop_dis[j, center] == hop_dis[i, center]:
                        a_root[j, i] = normalize_adjacency[j, i]
                    elif hop_dis[j, center] > hop_dis[i, center]:
                        a_close[j, i] = normalize_adjacency[j, i]
                    else:
                        a_further[j, i] = normalize_adjacency[j, i]
        A += [a_root] if hop == 0 else [a_root + a_close, a_further]
    return np.stack(A)


@pytest.mark.parametrize('layout', ['ntu-rgb+d', 'openpose'])
def test_spatial_equals_official_loop(layout):
    graph = Graph(layout, 'spatial')
    np.testing.assert_array_equal(graph.A, _official_spatial_loop(graph).astype(np.float32))


def test_spatial_max_hop_quirk():
    """Left wrist (7) and elbow (6) are both >= 2 hops from the centre: "infinitely far" with max_hop 1, so
    the edge between them is root/centripetal in both directions, never centrifugal."""
    A = Graph('ntu-rgb+d', 'spatial').A
    wrist, elbow, shoulder = 7 - 1, 6 - 1, 5 - 1
    assert A[1, wrist, elbow] > 0 and A[2, wrist, elbow] == 0
    assert A[1, elbow, wrist] > 0 and A[2, elbow, wrist] == 0
    # The shoulder is one hop from the centre, the elbow further: a real centrifugal edge.
    assert A[2, shoulder, elbow] > 0 and A[1, elbow, shoulder] > 0
    # Neck (3) is one hop from the centre (21): its message to the centre is centripetal...
    assert A[1, 3 - 1, 21 - 1] > 0
    # ...and the centre's message to the neck is centrifugal.
    assert A[2, 21 - 1, 3 - 1] > 0


def test_official_edge_list():
    assert ntu_rgb_d.INWARD_1BASED == [
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
        (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 23),
        (23, 8), (24, 25), (25, 12)]
    assert Graph('ntu-rgb+d').edges == [(i - 1, j - 1) for i, j in ntu_rgb_d.INWARD_1BASED]
    assert Graph('ntu-rgb+d').center == 20 and Graph('openpose').center == 1
    assert ntu_rgb_d.PARENT[20] == 20 and ntu_rgb_d.PARENT[21] == 22 and ntu_rgb_d.PARENT[22] == 7


def test_agcn_partition():
    A = Graph('ntu-rgb+d', 'agcn').A
    assert A.shape == (3, 25, 25)
    assert [int(np.count_nonzero(a)) for a in A] == [25, 24, 24]
    np.testing.assert_array_equal(A[0], np.eye(25))
    # "in": each joint takes its parent with weight 1 (A[parent, child] = 1).
    for child, parent in ntu_rgb_d.INWARD:
        assert A[1, parent, child] == 1
    # "out": each joint averages its children: the centre (21) has children 2, 3, 5, 9.
    np.testing.assert_allclose(A[2][[1, 2, 4, 8], 20], 0.25)
    np.testing.assert_allclose(A[2].sum(0)[20], 1.0)


@pytest.mark.parametrize('kwargs,needle', [
    ({'layout': 'kinect-v1'}, "valid layouts: ntu-rgb+d, openpose, ntu-rgb+d-pyskl, coco"),
    ({'partition': 'spectral'}, "valid partitions: uniform, distance, spatial, agcn, stgcn_spatial"),
])
def test_unknown_names(kwargs, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        Graph(**kwargs)


def test_graphs_import_only_numpy():
    for path in pathlib.Path('graphs').glob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert all(n.split('.')[0] in ('numpy', 'graphs') for n in names), (path, names)
