"""Skeleton layouts as data: the shipped ones in one table (LAYOUTS), a user's from a dict, both checked.

A layout is its joint count, joint names, edges as (child, parent) pairs, the centre joint (the spatial
partition measures distances from it) and each joint's parent (the bone stream: joint minus parent; the
centre is its own parent, so its bone is zero). A user's layout says whether its joint numbers count from 0 or
1 (`base`); a Layout always holds them 0-based.
"""
import numpy as np

from graphs import coco, ntu_rgb_d, ntu_rgb_d_pyskl, openpose

MAX_NODE = 1024  # far above any body model (OpenPose's largest, BODY_135, has 135): A is (K, V, V)
REQUIRED = ('name', 'num_node', 'base', 'joints', 'edges', 'center')
OPTIONAL = ('parents',)  # default: from the edges, read as (child, parent)


class LayoutError(ValueError):
    """A bad layout; str() is '[file:line: ]layout key 'KEY': what is wrong'."""


class Layout:
    """One skeleton layout, every joint number 0-based (a plain class: graphs/ imports only numpy).

    Shape: joints (V,) names; edges E (child, parent) pairs in the layout's order; parent (V,).
    """

    def __init__(self, name, num_node, joints, edges, center, parent):
        self.name, self.num_node, self.joints, self.edges = name, num_node, tuple(joints), tuple(edges)
        self.center, self.parent = center, tuple(parent)

    def __eq__(self, other):
        return isinstance(other, Layout) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f'Layout({self.name!r}, num_node={self.num_node}, center={self.center}, {len(self.edges)} edges)'

    def to_dict(self):
        """The JSON/YAML-ready dict (base 0) that layout_from_dict reads back to an equal Layout."""
        return {'name': self.name, 'num_node': self.num_node, 'base': 0, 'joints': list(self.joints),
                'edges': [list(edge) for edge in self.edges], 'center': self.center, 'parents': list(self.parent)}


def parents_from_edges(num_node, edges):
    """(V,) int64: the head of each joint's (child, parent) edge; a joint that is no edge's child is its own."""
    parent = np.arange(num_node)
    for child, par in edges:
        parent[child] = par
    return parent


def _shipped(name, module):
    edges = tuple(tuple(edge) for edge in module.INWARD)
    parent = tuple(int(p) for p in parents_from_edges(module.NUM_NODE, edges))
    return Layout(name, module.NUM_NODE, tuple(module.JOINTS), edges, module.CENTER, parent)


# Order matters where a layout is guessed from the joint count (data_gen/gen_bone_data.py): the first
# layout with V joints wins, so the official ones come first.
LAYOUTS = {name: _shipped(name, module) for name, module in [
    ('ntu-rgb+d', ntu_rgb_d), ('openpose', openpose), ('ntu-rgb+d-pyskl', ntu_rgb_d_pyskl), ('coco', coco)]}


def get_layout(layout):
    """A Layout from a shipped layout's name, a Layout, or a dict for layout_from_dict."""
    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, dict):
        return layout_from_dict(layout)
    if isinstance(layout, str) and layout in LAYOUTS:
        return LAYOUTS[layout]
    raise LayoutError(f"unknown graph layout {layout!r}; valid layouts: {', '.join(LAYOUTS)} "
                      '(or a layout dict / layout file)')


def layout_from_dict(spec, source=None, lines=None):
    """Check a user's layout and return it as a Layout (0-based).

    spec: {name, num_node, base (0 or 1), joints [V names], edges [[child, parent], ...], center, parents?}.
    source, lines: where it was read (a file, and {key or (key, item index): 1-based line}), for the errors.
    """
    check = _Checker(source, lines or {})
    if not isinstance(spec, dict):
        raise LayoutError(f'{check.prefix(None)}a layout must be a mapping of {", ".join(REQUIRED)}'
                          f' and optionally {", ".join(OPTIONAL)}, got {type(spec).__name__}')
    for key in spec:
        if key not in REQUIRED + OPTIONAL:
            check.fail(key, f'unknown key; valid keys: {", ".join(REQUIRED + OPTIONAL)}')
    for key in REQUIRED:
        if key not in spec:
            check.fail(key, 'missing')
    if not isinstance(spec['name'], str) or not spec['name']:
        check.fail('name', f'must be a non-empty string, got {spec["name"]!r}')
    num_node = spec['num_node']
    if not _is_int(num_node) or not 1 <= num_node <= MAX_NODE:
        check.fail('num_node', f'must be an integer in [1, {MAX_NODE}], got {num_node!r}')
    base = spec['base']
    if not _is_int(base) or base not in (0, 1):
        check.fail('base', f'must be 0 or 1 (whether joint numbers count from 0 or 1), got {base!r}')
    joints = check.joint_names(spec['joints'], num_node)
    edges = check.edges(spec['edges'], num_node, base)
    center = check.joint(spec['center'], 'center', num_node, base) - base
    check.connected(edges, num_node, center, base)
    if 'parents' in spec:
        parent = check.parent_list(spec['parents'], num_node, base)
        parent_key = 'parents'
    else:
        parent, parent_key = parents_from_edges(num_node, edges), 'edges'
    check.tree(parent, center, base, parent_key)
    return Layout(spec['name'], num_node, joints, edges, center, tuple(int(p) for p in parent))


class _Checker:
    """The checks of layout_from_dict, each failing with the key, and the file and line when known."""

    def __init__(self, source, lines):
        self.source, self.lines = source, lines

    def prefix(self, key, item=None):
        line = self.lines.get((key, item), self.lines.get(key))
        where = f'{self.source}:{line}: ' if self.source and line else f'{self.source}: ' if self.source else ''
        return where + (f'layout key {key!r}: ' if key else '')

    def fail(self, key, message, item=None):
        raise LayoutError(self.prefix(key, item) + message)

    def joint_names(self, joints, num_node):
        if not isinstance(joints, list) or not all(isinstance(j, str) and j for j in joints):
            self.fail('joints', 'must be a list of non-empty joint names')
        if len(joints) != num_node:
            self.fail('joints', f'has {len(joints)} names, but num_node is {num_node}')
        if len(set(joints)) != len(joints):
            twice = next(j for j in joints if joints.count(j) > 1)
            self.fail('joints', f'names {twice!r} twice')
        return tuple(joints)

    def joint(self, value, key, num_node, base, item=None):
        """One joint number as given (base-based), checked to be one of the num_node joints."""
        if not _is_int(value):
            self.fail(key, f'{value!r} is not a joint number (an integer)', item)
        if not base <= value < num_node + base:
            self.fail(key, f'joint {value} is out of range: num_node is {num_node}, base {base}, so joints are '
                           f'{base}..{num_node - 1 + base}', item)
        return value

    def edges(self, edges, num_node, base):
        """0-based (child, parent) pairs."""
        if not isinstance(edges, list) or (num_node > 1 and not edges):
            self.fail('edges', 'must be a non-empty list of [child, parent] pairs')
        out = []
        for i, edge in enumerate(edges):
            if not isinstance(edge, list) or len(edge) != 2:
                self.fail('edges', f'edge {i} is {edge!r}, not a [child, parent] pair', i)
            child, par = (self.joint(j, 'edges', num_node, base, i) - base for j in edge)
            if child == par:
                self.fail('edges', f'edge {i} links joint {child + base} to itself (the partition adds self '
                                   'links)', i)
            out.append((child, par))
        return tuple(out)

    def connected(self, edges, num_node, center, base):
        """Every joint reachable from the centre: a part no edge reaches would get no message."""
        reached, frontier = {center}, [center]
        neighbours = [[] for _ in range(num_node)]
        for i, j in edges:
            neighbours[i].append(j)
            neighbours[j].append(i)
        while frontier:
            frontier = [n for v in frontier for n in neighbours[v] if n not in reached]
            reached.update(frontier)
        if len(reached) < num_node:
            apart = [v + base for v in range(num_node) if v not in reached]
            self.fail('edges', f'the graph is disconnected: joints {_listing(apart)} are not connected to the '
                               f'centre {center + base}')

    def parent_list(self, parents, num_node, base):
        if not isinstance(parents, list) or len(parents) != num_node:
            size = len(parents) if isinstance(parents, list) else type(parents).__name__
            self.fail('parents', f'must list one parent per joint ({num_node}), got {size}')
        return np.array([self.joint(p, 'parents', num_node, base, i) - base for i, p in enumerate(parents)])

    def tree(self, parent, center, base, key):
        """The parents form one tree rooted at the centre: following them from any joint ends at the centre."""
        how = '' if key == 'parents' else ' (parents are read from the edges as (child, parent))'
        if parent[center] != center:
            self.fail(key, f'the centre {center + base} must be its own parent, got {parent[center] + base}{how}')
        for v in range(len(parent)):
            if v != center and parent[v] == v:
                self.fail(key, f'joint {v + base} is its own parent; only the centre {center + base} may be{how}')
        reach = np.arange(len(parent))
        for _ in range(len(parent)):
            reach = parent[reach]
        if (reach != center).any():
            v, seen = int(np.flatnonzero(reach != center)[0]), []
            while v not in seen:
                seen.append(v)
                v = int(parent[v])
            cycle = seen[seen.index(v):]
            self.fail(key, f'parent cycle through joints {_listing([c + base for c in cycle])}{how}')


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _listing(joints, most=10):
    shown = ', '.join(str(j) for j in joints[:most])
    return shown + (f' and {len(joints) - most} more' if len(joints) > most else '')
