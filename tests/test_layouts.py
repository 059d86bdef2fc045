"""Layouts as data: the shipped table, a user's layout from a dict or a YAML file, and every bad-layout error."""
import os
import re

import numpy as np
import pytest

from graphs import LAYOUTS, PARTITIONS, Graph, Layout, LayoutError, coco, layout_from_dict, ntu_rgb_d, openpose
from storage.layout_file import load_layout_file

# A 10-joint hand, 1-based: wrist 1; thumb 2-3; index 4-5; middle 6-7; ring 8-9; little finger 10 on the ring's
# base. The centre is the middle finger's base (6), so the spatial partition has all three subsets.
HAND_1BASED = [(2, 1), (3, 2), (4, 1), (5, 4), (6, 1), (7, 6), (8, 1), (9, 8), (10, 8)]
HAND_YAML = """\
# a user's layout
name: hand-10
num_node: 10
base: 1
joints: [wrist, thumb1, thumb2, index1, index2, middle1, middle2, ring1, ring2, little]
edges:
  - [2, 1]
  - [3, 2]
  - [4, 1]
  - [5, 4]
  - [6, 1]
  - [7, 6]
  - [8, 1]
  - [9, 8]
  - [10, 8]
center: 6
parents: [6, 1, 2, 1, 4, 6, 6, 1, 8, 8]   # rooted at the centre: the wrist hangs from the middle finger
"""


def hand_dict(**changes):
    spec = {'name': 'hand-10', 'num_node': 10, 'base': 1,
            'joints': ['wrist', 'thumb1', 'thumb2', 'index1', 'index2', 'middle1', 'middle2', 'ring1', 'ring2',
                       'little'],
            'edges': [list(e) for e in HAND_1BASED], 'center': 6, 'parents': [6, 1, 2, 1, 4, 6, 6, 1, 8, 8]}
    spec.update(changes)
    return {k: v for k, v in spec.items() if v is not None}


# --- the official algorithms, restated loop for loop (yysijie/st-gcn:net/utils/graph.py:Graph,
# lshiwjx/2s-AGCN:graph/tools.py:get_spatial_graph, kennymckormick/pyskl:pyskl/utils/graph.py:Graph.stgcn_spatial)

def _official_hop_distance(num_node, edge, max_hop):
    A = np.zeros((num_node, num_node))
    for i, j in edge:
        A[j, i] = 1
        A[i, j] = 1
    hop_dis = np.zeros((num_node, num_node)) + np.inf
    arrive_mat = np.stack([np.linalg.matrix_power(A, d) for d in range(max_hop + 1)]) > 0
    for d in range(max_hop, -1, -1):
        hop_dis[arrive_mat[d]] = d
    return hop_dis


def _official_normalize(A):
    Dl = np.sum(A, 0)
    Dn = np.zeros((A.shape[0], A.shape[0]))
    for i in range(A.shape[0]):
        if Dl[i] > 0:
            Dn[i, i] = Dl[i] ** (-1)
    return np.dot(A, Dn)


def _official_adjacency(num_node, inward, center, partition, max_hop):
    """st-gcn Graph.get_adjacency (dilation 1), 2s-AGCN's spatial graph for 'agcn', PYSKL's stgcn_spatial."""
    V = num_node
    if partition == 'agcn':
        def edge2mat(link):
            A = np.zeros((V, V))
            for i, j in link:
                A[j, i] = 1
            return A
        return np.stack([edge2mat([(i, i) for i in range(V)]), _official_normalize(edge2mat(inward)),
                         _official_normalize(edge2mat([(j, i) for i, j in inward]))])
    hop_dis = _official_hop_distance(V, [(i, i) for i in range(V)] + list(inward), max_hop)
    valid_hop = range(0, max_hop + 1)
    adjacency = np.zeros((V, V))
    for hop in valid_hop:
        adjacency[hop_dis == hop] = 1
    normalize_adjacency = _official_normalize(adjacency)
    if partition == 'uniform':
        return normalize_adjacency[None]
    if partition == 'distance':
        A = np.zeros((len(valid_hop), V, V))
        for i, hop in enumerate(valid_hop):
            A[i][hop_dis == hop] = normalize_adjacency[hop_dis == hop]
        return A
    A = []
    for hop in valid_hop:
        a_root, a_close, a_further = np.zeros((V, V)), np.zeros((V, V)), np.zeros((V, V))
        for i in range(V):
            for j in range(V):
                if hop_dis[j, i] == hop:
                    if partition == 'stgcn_spatial':  # PYSKL: close (>=) / further, no root
                        if hop_dis[j, center] >= hop_dis[i, center]:
                            a_close[j, i] = normalize_adjacency[j, i]
                        else:
                            a_further[j, i] = normalize_adjacency[j, i]
                    elif hop_dis[j, center] == hop_dis[i, center]:
                        a_root[j, i] = normalize_adjacency[j, i]
                    elif hop_dis[j, center] > hop_dis[i, center]:
                        a_close[j, i] = normalize_adjacency[j, i]
                    else:
                        a_further[j, i] = normalize_adjacency[j, i]
        if partition == 'stgcn_spatial':
            A += [a_close] if hop == 0 else [a_close, a_further]
        else:
            A += [a_root] if hop == 0 else [a_root + a_close, a_further]
    return np.stack(A)


@pytest.fixture
def hand_file(tmp_path):
    path = tmp_path / 'hand.yaml'
    path.write_text(HAND_YAML)
    return path


@pytest.mark.parametrize('partition,max_hop', [(p, h) for p in PARTITIONS for h in (1, 2) if (p, h) != ('agcn', 2)])
def test_custom_layout_equals_official(hand_file, partition, max_hop):
    inward = [(i - 1, j - 1) for i, j in HAND_1BASED]
    expected = _official_adjacency(10, inward, 5, partition, max_hop).astype(np.float32)
    for layout in (load_layout_file(hand_file), hand_dict(), load_layout_file(hand_file).to_dict()):
        A = Graph(layout, partition, max_hop=max_hop).A
        assert A.shape == expected.shape and A.dtype == np.float32
        np.testing.assert_array_equal(A, expected)
    if partition == 'spatial' and max_hop == 1:
        assert A.shape == (3, 10, 10) and all(np.count_nonzero(a) for a in A)


def test_yaml_layout_is_read_0_based(hand_file):
    layout = load_layout_file(hand_file)
    assert layout.name == 'hand-10' and layout.num_node == 10 and layout.center == 5
    assert layout.edges == tuple((i - 1, j - 1) for i, j in HAND_1BASED)
    assert layout.parent == (5, 0, 1, 0, 3, 5, 5, 0, 7, 7)
    assert layout.joints[5] == 'middle1'


@pytest.mark.parametrize('name', sorted(LAYOUTS))
def test_shipped_layouts_round_trip_and_keep_A(name):
    layout = LAYOUTS[name]
    assert layout_from_dict(layout.to_dict()) == layout
    for partition in PARTITIONS:
        np.testing.assert_array_equal(Graph(layout.to_dict(), partition).A, Graph(name, partition).A)
    assert len(layout.joints) == layout.num_node
    assert layout.parent[layout.center] == layout.center


def test_shipped_table_is_the_modules():
    assert list(LAYOUTS) == ['ntu-rgb+d', 'openpose', 'ntu-rgb+d-pyskl', 'coco']
    assert LAYOUTS['ntu-rgb+d'].parent == tuple(ntu_rgb_d.PARENT)
    assert LAYOUTS['openpose'].edges == tuple(openpose.INWARD) and LAYOUTS['coco'].center == coco.CENTER
    assert LAYOUTS['openpose'].joints[1] == 'neck' and LAYOUTS['coco'].joints[15] == 'left ankle'
    assert isinstance(Graph('coco').layout, Layout)


def _line_of(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize('change,key,message', [
    ({'edges': [[2, 1], [11, 2]]}, 'edges', 'joint 11 is out of range: num_node is 10, base 1, so joints are 1..10'),
    ({'edges': [[2, 1], [3, 2], [4, 1], [5, 4], [6, 1], [7, 6], [9, 8], [10, 8]]}, 'edges',
     'the graph is disconnected: joints 8, 9, 10 are not connected to the centre 6'),
    ({'center': 0}, 'center', 'joint 0 is out of range'),
    ({'center': 11}, 'center', 'joint 11 is out of range'),
    ({'parents': [6, 3, 2, 1, 4, 6, 6, 1, 8, 8]}, 'parents', 'parent cycle through joints 2, 3'),
    ({'parents': [6, 1, 2, 1, 4, 6, 6, 10, 8, 9]}, 'parents', 'parent cycle through joints 8, 10, 9'),
    ({'parents': [6, 1, 2, 1, 4, 1, 6, 1, 8, 8]}, 'parents', 'the centre 6 must be its own parent, got 1'),
    ({'parents': [6, 1, 2, 1, 4, 6, 6, 8, 8, 8]}, 'parents', 'joint 8 is its own parent; only the centre 6 may be'),
    ({'parents': [6, 1, 2]}, 'parents', 'must list one parent per joint (10), got 3'),
    ({'colour': 'red'}, 'colour', 'unknown key; valid keys: name, num_node, base, joints, edges, center, parents'),
    ({'base': 2}, 'base', 'must be 0 or 1'),
    ({'base': None}, 'base', 'missing'),
    ({'base': 0}, 'edges', 'joint 10 is out of range: num_node is 10, base 0, so joints are 0..9'),
    ({'num_node': 9}, 'joints', 'has 10 names, but num_node is 9'),
    ({'num_node': 0}, 'num_node', 'must be an integer in [1, 1024]'),
    ({'num_node': True}, 'num_node', 'must be an integer'),
    ({'edges': [[2, 1], [3]]}, 'edges', 'edge 1 is [3], not a [child, parent] pair'),
    ({'edges': [[2, 2]]}, 'edges', 'edge 0 links joint 2 to itself'),
    ({'edges': [[2, '1']]}, 'edges', "'1' is not a joint number"),
    ({'joints': ['a'] * 10}, 'joints', "names 'a' twice"),
])
def test_bad_layout_dict(change, key, message):
    spec = hand_dict(**change)
    with pytest.raises(LayoutError, match=re.escape(f"layout key {key!r}: {message}")):
        layout_from_dict(spec)


def test_default_parents_must_reach_the_centre():
    """The hand's edges head for the wrist, so read as parents they root the tree at the wrist, not at the
    centre (6): a bone stream needs explicit parents then."""
    with pytest.raises(LayoutError, match=re.escape("layout key 'edges': the centre 6 must be its own parent, got 1 "
                                                    "(parents are read from the edges as (child, parent))")):
        layout_from_dict(hand_dict(parents=None))
    assert layout_from_dict(hand_dict(parents=None, center=1)).parent == (0, 0, 1, 0, 3, 0, 5, 0, 7, 7)


def test_yaml_errors_name_file_and_line(tmp_path):
    text = HAND_YAML.replace('  - [9, 8]', '  - [9, 12]')
    path = tmp_path / 'bad.yaml'
    path.write_text(text)
    with pytest.raises(LayoutError) as err:
        load_layout_file(path)
    assert str(err.value) == (f"{path}:{_line_of(text, '[9, 12]')}: layout key 'edges': joint 12 is out of "
                              'range: num_node is 10, base 1, so joints are 1..10')
    path.write_text(HAND_YAML + 'colour: red\n')
    with pytest.raises(LayoutError, match=re.escape(f"{path}:{len(HAND_YAML.splitlines()) + 1}: layout key "
                                                    "'colour': unknown key")):
        load_layout_file(path)
    path.write_text(HAND_YAML + 'base: 0\n')
    with pytest.raises(LayoutError, match=re.escape(f"{path}:{len(HAND_YAML.splitlines()) + 1}: layout key "
                                                    "'base': given twice")):
        load_layout_file(path)
    path.write_text('edges: [[1, 2]\n')
    with pytest.raises(LayoutError, match=re.escape(f'{path}:2: not valid YAML')):
        load_layout_file(path)
    path.write_text('- a list\n')
    with pytest.raises(LayoutError, match=re.escape(f'{path}:1: a layout file must be a mapping')):
        load_layout_file(path)


def test_layout_file_special_and_missing(tmp_path):
    fifo = tmp_path / 'fifo.yaml'
    os.mkfifo(fifo)
    with pytest.raises(LayoutError, match='not a regular file'):
        load_layout_file(fifo)
    with pytest.raises(LayoutError, match='not a regular file'):
        load_layout_file(tmp_path / 'missing.yaml')


def test_graph_refuses_an_unknown_name_or_a_bad_dict():
    with pytest.raises(LayoutError, match=re.escape('valid layouts: ntu-rgb+d, openpose')):
        Graph('kinect-v1')
    with pytest.raises(LayoutError, match="layout key 'center'"):
        Graph(hand_dict(center=99, parents=[1] * 10))
