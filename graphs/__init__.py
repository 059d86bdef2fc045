"""Skeleton graphs for ST-GCN: pure numpy, no framework imports."""
from graphs.graph import LAYOUTS, PARTITIONS, Graph

__all__ = ['Graph', 'LAYOUTS', 'PARTITIONS']
