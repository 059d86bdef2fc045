"""The data of a run, opened and checked against the model before anything is built: errors name the flag."""
import os

from feeders.distributed import distribute, open_source
from graphs import Graph
from training.errors import UsageError


# The PYSKL feature streams of the --stream setting (GenSkeFeat's feats).
STREAM_FEATS = {'j': ('j',), 'b': ('b',), 'jm': ('jm',), 'bm': ('bm',)}


def open_data(cfg, part, weights_layout=None):
    """open_source's meta of the run's training ('train') or test ('test') data, or a UsageError naming the
    flag and what is wrong. The data's layout is the run's (model_args.graph_args.layout, --layout-file), else
    `weights_layout` (the custom layout of the weights the run starts from), else the data's own."""
    path, flag = getattr(cfg, f'{part}_data_path'), f'--{part}-data-path'
    layout = cfg.layout if cfg.layout is not None else weights_layout
    try:
        return open_source(path, getattr(cfg, f'{part}_label_path'), getattr(cfg, f'{part}_split'), cfg.clip_len,
                           STREAM_FEATS[cfg.stream], layout=layout)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f'{flag} {path}: {err}') from None


def custom_layout_of(model_config):
    """A model's layout when it is a user's (a dict), else None: data with V joints no shipped layout has is
    read in the layout the weights were trained on."""
    return model_config.layout if isinstance(model_config.layout, dict) else None


def distribute_data(strategy, meta, flag, global_batch, training, seed=None, augment=None, skip_steps=0,
                    num_clips=1):
    """feeders.distribute, with the feeders' errors (a missing or truncated shard, too few shards for the input
    pipelines) as a UsageError naming `flag`."""
    try:
        return distribute(strategy, meta, global_batch, training, seed, augment, skip_steps, num_clips)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f'{flag} {meta["source"][1]}: {err}') from None


def check_outputs(cfg):
    """Every output path of a train or test run, checked before the first step: a checkpoint or log folder that
    is a file, or a score file that is a folder, would otherwise fail an epoch later."""
    folders = [('--log-dir', cfg.log_dir)] + ([('--checkpoint-path', cfg.checkpoint_path)] if cfg.phase == 'train'
                                              else [])
    for flag, path in folders:
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f'{flag} {path}: exists and is not a folder')
        parent = _existing_parent(path)
        if not os.path.isdir(parent):
            raise UsageError(f'{flag} {path}: {parent} is not a folder')
    if cfg.save_scores:
        if os.path.isdir(cfg.save_scores):
            raise UsageError(f'--save-scores {cfg.save_scores}: is a folder; give the file to write')
        parent = _existing_parent(os.path.dirname(os.path.abspath(cfg.save_scores)))
        if not os.path.isdir(parent):
            raise UsageError(f'--save-scores {cfg.save_scores}: {parent} is not a folder')


def _existing_parent(path):
    """The nearest existing ancestor of `path` (what makedirs would create it in)."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def check_data(meta, model_config):
    """The stored sample shape and classes must fit the model: say what differs and where."""
    path = meta['source'][1]
    C, _, V, M = meta['sample_shape']
    num_node = Graph(model_config.layout, 'uniform').num_node
    if (C, V, M) != (model_config.in_channels, num_node, model_config.num_person):
        raise UsageError(f'{path}: records hold samples of shape (C, T, V, M) = {tuple(meta["sample_shape"])}, '
                         f'the model takes C={model_config.in_channels}, V={num_node}, M={model_config.num_person}')
    if meta.get('layout') and meta['layout'] != model_config.layout:
        raise UsageError(f'{path}: the data is in the {meta["layout"]} layout, the model in {model_config.layout} '
                         '(model_args.graph_args.layout)')
    if meta.get('num_class') is not None and meta['num_class'] != model_config.num_class:
        raise UsageError(f'the model has {model_config.num_class} classes (--num-classes or the weights) but the '
                         f'meta.json of {path} says the data has {meta["num_class"]} classes')
