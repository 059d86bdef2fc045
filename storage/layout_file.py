"""A user's skeleton layout in a YAML file -> graphs.Layout, every error naming the file and line.

    name: my-hand
    num_node: 10
    base: 0                 # joint numbers below count from 0 (or 1)
    joints: [wrist, thumb1, thumb2, ...]
    edges: [[1, 0], [2, 1], ...]   # [child, parent]
    center: 0
    parents: [0, 0, 1, ...] # optional: by default each edge's parent

It lives here, not in graphs/, because graphs/ imports only numpy; the checks are graphs.layout_from_dict's.
"""

import yaml

from graphs import LayoutError, layout_from_dict
from storage.files import read_small_text
from storage.yaml_nodes import parse_with_nodes

MAX_LAYOUT_BYTES = 1 << 20  # a layout of MAX_NODE joints is a few tens of kB


def load_layout_file(path):
    """The graphs.Layout that the YAML file at ``path`` describes; LayoutError 'path:line: ...' if bad."""
    node, spec = parse_with_nodes(read_small_text(path, MAX_LAYOUT_BYTES, 'a layout file', LayoutError), path,
                                  LayoutError)
    if not isinstance(node, yaml.MappingNode):
        line = f':{node.start_mark.line + 1}' if node is not None else ''
        raise LayoutError(f'{path}{line}: a layout file must be a mapping of name, num_node, base, joints, edges, '
                          'center (and optionally parents)')
    return layout_from_dict(spec, source=path, lines=mapping_lines(node, path))


def mapping_lines(node, path):
    """{key: 1-based line of the key, (key, i): line of item i of a list value} of a mapping node."""
    lines = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key in lines:  # YAML would silently keep the last value
            raise LayoutError(f'{path}:{key_node.start_mark.line + 1}: layout key {key!r}: '
                              'given twice')
        lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.SequenceNode):
            for i, item in enumerate(value_node.value):
                lines[(key, i)] = item.start_mark.line + 1
    return lines
