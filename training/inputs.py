"""The data of a run, opened and checked against the model before anything is built: errors name the flag."""
import os

from feeders.distributed import distribute, open_source
from feeders.pyskl_annotations import PYSKL_MODES
from graphs import Graph
from model.config import STREAM_FEATS
from storage.class_names_file import load_class_names
from storage.files import StorageError
from training.errors import UsageError


DEFAULT_CLIP_LEN = 100  # PYSKL's UniformSample(clip_len=100)


def open_data(cfg, part, weights=None):
    """open_source's meta of the run's training ('train') or test ('test') data, or a UsageError naming the
    flag and what is wrong.

    weights: the model the run starts from or tests (load_pretrained's), or None. The data's layout is the
    run's (model_args.graph_args.layout, --layout-file), else the weights' when it is a user's, else the data's
    own; a PYSKL clip is --clip-len frames, else as long as the weights' training clips, else DEFAULT_CLIP_LEN.
    """
    path, flag = getattr(cfg, f'{part}_data_path'), f'--{part}-data-path'
    layout = cfg.layout if cfg.layout is not None else (custom_layout_of(weights.config) if weights else None)
    clip_len = cfg.clip_len or _trained_clip_len(weights) or DEFAULT_CLIP_LEN
    try:
        return open_source(path, getattr(cfg, f'{part}_label_path'), getattr(cfg, f'{part}_split'), clip_len,
                           STREAM_FEATS[cfg.stream], layout=layout)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f'{flag} {path}: {err}') from None


def _trained_clip_len(weights):
    """The clip length of PYSKL-trained weights (their max_frame), else None."""
    meta = getattr(weights, 'meta', None) or {}
    return meta.get('max_frame') if meta.get('data_mode') in PYSKL_MODES else None


def custom_layout_of(model_config):
    """A model's layout when it is a user's (a dict), else None: data with V joints no shipped layout has is
    read in the layout the weights were trained on."""
    return model_config.layout if isinstance(model_config.layout, dict) else None


def read_class_names(cfg, num_class):
    """The names of --class-names, checked to be one per class of the model; None when the flag is not given."""
    if not cfg.class_names:
        return None
    try:
        return load_class_names(cfg.class_names, num_class)
    except StorageError as err:
        raise UsageError(f'--class-names {err}') from None


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
