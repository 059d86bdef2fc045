"""Small pure-numpy graph utilities, as the official ST-GCN and 2s-AGCN compute them.

Orientation: ``A[i, j]`` is the weight of joint i's message into joint j: the official model aggregates with
``einsum('nkctv,kvw->nctw', x, A)``, and model/stgcn.py's graph step (aggregate over the joints first, then the
1x1 convolution) computes the same sum, output joint w = sum over v of x[v] * A[k, v, w]. Normalisation divides
each column by its degree.
"""
import numpy as np


def edge2mat(edges, num_node):
    """Directed adjacency with ``A[j, i] = 1`` for every (i, j) in ``edges`` (2s-AGCN's convention).

    Shape: returns (V, V) float64.
    """
    A = np.zeros((num_node, num_node))
    for i, j in edges:
        A[j, i] = 1
    return A


def normalize_digraph(A):
    """Column-normalise: ``A @ diag(1 / column degree)``; empty columns stay zero.

    Shape: (V, V) -> (V, V).
    """
    degree = A.sum(axis=0)
    inv = np.zeros_like(degree)
    np.divide(1.0, degree, out=inv, where=degree > 0)
    return A * inv[None, :]


def get_hop_distance(num_node, edges, max_hop=1):
    """Hop distance between joints over the undirected edges, ``inf`` beyond ``max_hop``.

    Only hops up to ``max_hop`` are computed, so joints further apart are "infinitely far": the official
    'spatial' partition depends on this (see ``Graph``).
    Shape: returns (V, V) float64.
    """
    A = np.zeros((num_node, num_node))
    for i, j in edges:
        A[i, j] = A[j, i] = 1
    reach = np.stack([np.linalg.matrix_power(A, d) for d in range(max_hop + 1)]) > 0  # (max_hop+1, V, V)
    hop = np.full((num_node, num_node), np.inf)
    for d in range(max_hop, -1, -1):  # smallest d wins
        hop[reach[d]] = d
    return hop
