"""Assemble the ST-GCN adjacency stack A (K, V, V) for a skeleton layout and a partition."""
import numpy as np

from graphs.layout import get_layout
from graphs.tools import edge2mat, get_hop_distance, normalize_digraph

PARTITIONS = ('uniform', 'distance', 'spatial', 'agcn', 'stgcn_spatial')


class Graph:
    """The spatial graph of one skeleton layout, partitioned one way.

    Strategies:
      uniform   one subset: self links + edges, column-normalised (official).
      distance  subsets by hop distance 0..max_hop (official).
      spatial   root / centripetal / centrifugal by distance to the centre joint (official, with its
                max-hop quirk: joints two or more hops from the centre are all "infinitely far" from it,
                so edges between two of them fall into the root/centripetal subset; the released weights
                were trained that way).
      agcn      identity / inward / outward of 2s-AGCN, used by the 2019 TF port.
      stgcn_spatial  PYSKL's ST-GCN partition: per hop, "close" (the neighbour is at least as far from the
                centre) and "further"; hop 0 keeps only "close". With PYSKL's inf hop distances this is
                'spatial' again, quirk included; PYSKL has no dilation, so it must be 1.

    layout: a shipped layout's name (graphs.LAYOUTS), a graphs.Layout, or a dict for graphs.layout_from_dict.

    Attributes:
      A: float32 (K, V, V); A[k, i, j] weighs joint i's message into joint j.
      layout: the graphs.Layout.  num_node: V.  center: the centre joint, 0-based.
      edges: 0-based (child, parent) pairs in the layout's order (graphs/<layout>.py INWARD).
    """

    def __init__(self, layout='ntu-rgb+d', partition='spatial', max_hop=1, dilation=1):
        self.layout = get_layout(layout)
        if partition not in PARTITIONS:
            raise ValueError(f"unknown graph partition {partition!r}; valid partitions: {', '.join(PARTITIONS)}")
        self.partition = partition
        self.num_node, self.center, self.edges = self.layout.num_node, self.layout.center, list(self.layout.edges)
        self.max_hop, self.dilation = max_hop, dilation
        self_links = [(i, i) for i in range(self.num_node)]
        self.hop_dis = get_hop_distance(self.num_node, self_links + self.edges, max_hop)
        if partition == 'stgcn_spatial' and dilation != 1:
            raise ValueError(f'graph partition stgcn_spatial has no dilation (PYSKL); got dilation={dilation}')
        if partition == 'agcn':
            A = self._agcn()
        elif partition == 'stgcn_spatial':
            A = self._stgcn_spatial()
        else:
            A = self._official(partition)
        self.A = A.astype(np.float32)

    def _official(self, partition):
        """The official st-gcn ``Graph.get_adjacency``, vectorised; (K, V, V) float64."""
        valid_hop = range(0, self.max_hop + 1, self.dilation)
        adjacency = np.isin(self.hop_dis, list(valid_hop)).astype(np.float64)
        normalized = normalize_digraph(adjacency)
        if partition == 'uniform':
            return normalized[None]
        if partition == 'distance':
            return np.stack([np.where(self.hop_dis == hop, normalized, 0.0) for hop in valid_hop])
        # spatial: entry (j, i) of hop h is root when j and i are equally far from the centre, close when j
        # is further than i, further otherwise. inf == inf is True: that is the max-hop quirk.
        to_center = self.hop_dis[:, self.center]
        d_j, d_i = to_center[:, None], to_center[None, :]  # (V, 1), (1, V)
        subsets = []
        for hop in valid_hop:
            on_hop = self.hop_dis == hop
            root = np.where(on_hop & (d_j == d_i), normalized, 0.0)
            close = np.where(on_hop & (d_j > d_i), normalized, 0.0)
            further = np.where(on_hop & (d_j < d_i), normalized, 0.0)
            subsets += [root] if hop == 0 else [root + close, further]
        return np.stack(subsets)

    def _agcn(self):
        """2s-AGCN's ``get_spatial_graph``: identity, inward, outward; (3, V, V) float64."""
        identity = edge2mat([(i, i) for i in range(self.num_node)], self.num_node)
        inward = normalize_digraph(edge2mat(self.edges, self.num_node))
        outward = normalize_digraph(edge2mat([(j, i) for i, j in self.edges], self.num_node))
        return np.stack([identity, inward, outward])

    def _stgcn_spatial(self):
        """PYSKL's ``Graph.stgcn_spatial`` (kennymckormick/pyskl:pyskl/utils/graph.py), vectorised; (K, V, V).

        K = 2 * max_hop + 1: close for hop 0, then close, further for each hop 1..max_hop.
        """
        normalized = normalize_digraph((self.hop_dis <= self.max_hop).astype(np.float64))
        to_center = self.hop_dis[:, self.center]
        d_j, d_i = to_center[:, None], to_center[None, :]  # (V, 1), (1, V); inf >= inf is True
        subsets = []
        for hop in range(self.max_hop + 1):
            on_hop = self.hop_dis == hop
            subsets.append(np.where(on_hop & (d_j >= d_i), normalized, 0.0))
            if hop > 0:
                subsets.append(np.where(on_hop & (d_j < d_i), normalized, 0.0))
        return np.stack(subsets)
