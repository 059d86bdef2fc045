"""Skeleton graphs for ST-GCN: pure numpy, no framework imports."""
from graphs.graph import PARTITIONS, Graph
from graphs.layout import LAYOUTS, Layout, LayoutError, get_layout, layout_from_dict

__all__ = ['Graph', 'LAYOUTS', 'Layout', 'LayoutError', 'PARTITIONS', 'get_layout', 'layout_from_dict']
