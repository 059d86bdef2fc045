"""YAML text -> its node tree and its value together: the nodes give the line of every key, for errors that name
file:line (the run config, training/config.py, and layout files, storage/layout_file.py)."""
import yaml


def parse_with_nodes(text, path, error, loader_class=yaml.SafeLoader):
    """(root node, constructed value) of the YAML `text` read from `path`; both None for an empty document.

    A syntax error raises `error('path:line: not valid YAML: what')`. loader_class: a yaml.SafeLoader subclass.
    """
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as problem:
        mark = getattr(problem, 'problem_mark', None)
        line = f':{mark.line + 1}' if mark is not None else ''
        raise error(f'{path}{line}: not valid YAML: {getattr(problem, "problem", None) or problem}') from None
    finally:
        loader.dispose()
