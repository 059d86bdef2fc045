"""The data of a run, opened and checked against the model before anything is built: errors name the flag."""
from feeders import open_source
from graphs import Graph
from training.errors import UsageError


def open_data(path, flag, label_path=None):
    """open_source's meta of `path`, or a UsageError naming `flag` and what is wrong."""
    try:
        return open_source(path, label_path)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f'{flag} {path}: {err}') from None


def check_data(meta, model_config):
    """The stored sample shape and classes must fit the model: say what differs and where."""
    path = meta['source'][1]
    C, _, V, M = meta['sample_shape']
    num_node = Graph(model_config.layout, 'uniform').num_node
    if (C, V, M) != (model_config.in_channels, num_node, model_config.num_person):
        raise UsageError(f'{path}: records hold samples of shape (C, T, V, M) = {tuple(meta["sample_shape"])}, '
                         f'the model takes C={model_config.in_channels}, V={num_node}, M={model_config.num_person}')
    if meta.get('num_class') is not None and meta['num_class'] != model_config.num_class:
        raise UsageError(f'--num-classes is {model_config.num_class} but the meta.json of {path} says the data has '
                         f'{meta["num_class"]} classes')
