"""PYSKL's graphs: A equal to a literal re-statement of pyskl/utils/graph.py, plus shape / non-zeros / sums."""
import numpy as np
import pytest

from graphs import LAYOUTS, Graph, ntu_rgb_d, ntu_rgb_d_pyskl

# PYSKL's layouts, written out from kennymckormick/pyskl:pyskl/utils/graph.py:Graph.get_layout:
# (num_node, 0-based inward edges, center).
PYSKL_NTU_1BASED = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
                    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
                    (20, 19), (22, 8), (23, 8), (24, 12), (25, 12)]
PYSKL_LAYOUTS = {
    'ntu-rgb+d-pyskl': (25, [(i - 1, j - 1) for i, j in PYSKL_NTU_1BASED], 20),
    'coco': (17, [(15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8), (8, 6),
                  (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)], 0),
    'openpose': (18, [(4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2),
                      (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)], 1),
}


def _pyskl_hop_distance(num_node, edge, max_hop):
    """pyskl/utils/graph.py:get_hop_distance: powers of (I + A), the smallest reaching power wins."""
    A = np.eye(num_node)
    for i, j in edge:
        A[i, j] = 1
        A[j, i] = 1
    hop_dis = np.zeros((num_node, num_node)) + np.inf
    arrive_mat = np.stack([np.linalg.matrix_power(A, d) for d in range(max_hop + 1)]) > 0
    for d in range(max_hop, -1, -1):
        hop_dis[arrive_mat[d]] = d
    return hop_dis


def _pyskl_normalize_digraph(A):
    """pyskl/utils/graph.py:normalize_digraph(dim=0): A @ Dn with Dn the inverse column degrees."""
    Dl = np.sum(A, 0)
    w = A.shape[1]
    Dn = np.zeros((w, w))
    for i in range(w):
        if Dl[i] > 0:
            Dn[i, i] = Dl[i] ** (-1)
    return np.dot(A, Dn)


def _pyskl_stgcn_spatial(layout, max_hop=1):
    """pyskl/utils/graph.py:Graph.stgcn_spatial, loop for loop."""
    num_node, inward, center = PYSKL_LAYOUTS[layout]
    hop_dis = _pyskl_hop_distance(num_node, inward, max_hop)
    adj = np.zeros((num_node, num_node))
    adj[hop_dis <= max_hop] = 1
    normalize_adj = _pyskl_normalize_digraph(adj)
    A = []
    for hop in range(max_hop + 1):
        a_close = np.zeros((num_node, num_node))
        a_further = np.zeros((num_node, num_node))
        for i in range(num_node):
            for j in range(num_node):
                if hop_dis[j, i] == hop:
                    if hop_dis[j, center] >= hop_dis[i, center]:
                        a_close[j, i] = normalize_adj[j, i]
                    else:
                        a_further[j, i] = normalize_adj[j, i]
        A.append(a_close)
        if hop > 0:
            A.append(a_further)
    return np.stack(A)


@pytest.mark.parametrize('max_hop', [1, 2, 3])
@pytest.mark.parametrize('layout', sorted(PYSKL_LAYOUTS))
def test_equals_pyskl(layout, max_hop):
    graph = Graph(layout, 'stgcn_spatial', max_hop=max_hop)
    expected = _pyskl_stgcn_spatial(layout, max_hop)
    num_node = PYSKL_LAYOUTS[layout][0]
    assert graph.A.dtype == np.float32 and graph.A.shape == expected.shape == (2 * max_hop + 1, num_node, num_node)
    np.testing.assert_array_equal(graph.A, expected.astype(np.float32))
    assert graph.num_node == num_node and graph.center == PYSKL_LAYOUTS[layout][2]


# layout -> (shape, non-zeros per subset, sum per subset) of Graph(layout, 'stgcn_spatial').A.
TABLE = {
    'ntu-rgb+d-pyskl': ((3, 25, 25), [25, 40, 8], [9.1167, 13.1333, 2.75]),
    'coco': ((3, 17, 17), [17, 22, 10], [6.3667, 7.1333, 3.5]),
    'openpose': ((3, 18, 18), [18, 25, 9], [6.6667, 8.5833, 2.75]),
}


@pytest.mark.parametrize('layout', sorted(TABLE))
def test_table(layout):
    shape, nonzeros, sums = TABLE[layout]
    A = Graph(layout, 'stgcn_spatial').A
    assert A.shape == shape
    assert [int(np.count_nonzero(a)) for a in A] == nonzeros
    np.testing.assert_allclose([a.sum() for a in A], sums, atol=1e-4)
    np.testing.assert_allclose(A.sum(0).sum(0), np.ones(shape[1]), atol=1e-6)  # every column sums to one


def test_hands_wired_to_the_hand_joints():
    """22, 23 -> 8 and 24, 25 -> 12 (1-based) in PYSKL's graph; the official graph keeps its chain."""
    A = Graph('ntu-rgb+d-pyskl', 'stgcn_spatial').A.sum(0)  # (V, V): any subset
    hand_l, tip_l, thumb_l, hand_r, tip_r, thumb_r = 8 - 1, 22 - 1, 23 - 1, 12 - 1, 24 - 1, 25 - 1
    for tip, thumb, hand in [(tip_l, thumb_l, hand_l), (tip_r, thumb_r, hand_r)]:
        assert A[tip, hand] > 0 and A[thumb, hand] > 0 and A[tip, thumb] == 0
    official = Graph('ntu-rgb+d', 'spatial').A.sum(0)
    assert official[tip_l, thumb_l] > 0 and official[tip_l, hand_l] == 0
    assert ntu_rgb_d.INWARD_1BASED[:20] == ntu_rgb_d_pyskl.INWARD_1BASED[:20]


@pytest.mark.parametrize('layout', ['ntu-rgb+d', 'openpose', 'ntu-rgb+d-pyskl', 'coco'])
def test_stgcn_spatial_is_the_official_spatial(layout):
    """Two formulations of one partition: PYSKL's close/further split equals the official root + close."""
    np.testing.assert_array_equal(Graph(layout, 'stgcn_spatial').A, Graph(layout, 'spatial').A)


def test_layouts_are_registered_and_dilation_is_refused():
    assert LAYOUTS['ntu-rgb+d-pyskl'].num_node == 25 and LAYOUTS['coco'].num_node == 17
    with pytest.raises(ValueError, match='stgcn_spatial has no dilation'):
        Graph('coco', 'stgcn_spatial', dilation=2)
