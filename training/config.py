"""The resolved run configuration: defaults -> `--config` YAML -> command-line flags (style habit 3).

RunConfig, a plain frozen dataclass, defines every setting once: its field name and default, and in the field's
metadata its YAML key (the original st-gcn name where one exists, so a run can be diffed against the original
config: base_lr, step, weight_decay, batch_size, num_epoch, model_args, train_feeder_args, save_interval,
eval_interval, device, weights, phase), its flag (the 2019 port's names kept: --base-lr, --num-classes,
--num-epochs, --steps, ...), its type and valid range; OPTIONS lists them. Field names say what a value is where
the original keys are ambiguous: `partition` (YAML graph_args.strategy), `lr_step_epochs` (YAML step),
`num_class` (flag --num-classes). A flag given on the command line overrides the YAML, which overrides the
default. Everything is strict: an unknown YAML key (with the closest valid one suggested), a wrong type or
an out-of-range value raises ConfigError naming the key and where it came from (file:line or flag);
main.py prints the message and exits with code 2.

Note the one difference in meaning from the original: `batch_size` is per replica, as in the 2019 port
(global batch = batch_size x replicas); the original's was the global batch of its DataParallel.
"""
import argparse
import dataclasses
import difflib
import math
import os
import re

import yaml

from graphs import LAYOUTS, PARTITIONS, LayoutError, get_layout, layout_from_dict
from model.config import PRESETS, STREAMS, make_config
from storage import files
from storage.layout_file import load_layout_file, mapping_lines
from storage.yaml_nodes import parse_with_nodes

PHASES = ('train', 'test', 'predict', 'export')
MIXED_PRECISIONS = ('none', 'bf16', 'fp16')
EXPORT_FORMATS = ('savedmodel', 'onnx')
LR_POLICIES = ('step', 'cosine')


class ConfigError(ValueError):
    """A bad setting; the message is one line saying what and where (file:line: key, or --flag)."""


@dataclasses.dataclass(frozen=True)
class Option:
    """How one RunConfig field is set. `yaml` is a dotted key ('model_args.num_class'); `flag` None means YAML
    only. `kind` is 'int', 'float', 'str', 'bool', 'ints' (a list of ints) or 'strs' (a list of strings);
    `check(value)` returns an error message or None. A None default makes the setting optional (null allowed)."""
    name: str
    yaml: str
    flag: str
    kind: str
    default: object
    help: str
    choices: tuple = None
    check: object = None


def _at_least(low):
    return lambda v: None if v >= low else f'must be >= {low}'


def _positive_float(v):
    return None if math.isfinite(v) and v > 0 else 'must be a finite number > 0'


def _non_negative_float(v):
    return None if math.isfinite(v) and v >= 0 else 'must be a finite number >= 0'


def _increasing_epochs(v):
    if any(e < 1 for e in v) or any(b <= a for a, b in zip(v, v[1:])):
        return 'must be strictly increasing epoch numbers >= 1'
    return None


def _three_widths(v):
    return None if len(v) == 3 and all(c >= 1 for c in v) else 'must be three positive ints (blocks 1-4, 5-7, 8-10)'


def _gpu_list(v):
    return None if all(g >= 0 for g in v) and len(set(v)) == len(v) else 'must be distinct GPU indices >= 0'


def _frame_size(v):
    return None if len(v) == 2 and all(p >= 1 for p in v) else 'must be two pixel counts >= 1: width height'


def _dropout(v):
    return None if 0.0 <= v < 1.0 else 'must be in [0, 1)'


def _option(default, yaml_key, flag, kind, help, choices=None, check=None):
    """A RunConfig field with its Option (YAML key, flag, kind, check) in the field's metadata."""
    return dataclasses.field(default=default, metadata={'option': dict(
        yaml=yaml_key, flag=flag, kind=kind, default=default, help=help, choices=choices, check=check)})


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The resolved settings of one run. Defaults are the official NTU recipe (docs/reference.md section 4)
    except where a comment says otherwise. Each field says how it is set: YAML key, flag, kind."""
    phase: str = _option('train', 'phase', '--phase', 'str', 'what to run', choices=PHASES)
    # The 2019 port's defaults: the shards `python data_gen/gen_tfrecord_data.py` writes with no arguments.
    train_data_path: str = _option(
        'data/ntu/xview/train_data', 'train_feeder_args.data_path', '--train-data-path', 'str',
        'folder of training TFRecord shards (gen_tfrecord_data.py output), or a {part}_data_joint.npy '
        '(gen_joint_data.py output) read through a memmap')
    test_data_path: str = _option('data/ntu/xview/val_data', 'test_feeder_args.data_path', '--test-data-path',
                                  'str', 'folder of test TFRecord shards (or a {part}_data_joint.npy, as for '
                                  'training)')
    train_label_path: str = _option(None, 'train_feeder_args.label_path', '--train-label-path', 'str',
                                    'labels of a .npy training set (default: the {part}_label.pkl beside it)')
    test_label_path: str = _option(None, 'test_feeder_args.label_path', '--test-label-path', 'str',
                                   'labels of a .npy test set (default: the {part}_label.pkl beside it)')
    # PYSKL annotation pickles (`--train-data-path FILE.pkl`): the split of the file each part reads, and the
    # clips PYSKL's UniformSample takes (training 1, testing num_clips with its fixed seed).
    train_split: str = _option(None, 'train_feeder_args.split', '--train-split', 'str',
                               'the split of a PYSKL annotation pickle to train on, e.g. xsub_train')
    test_split: str = _option(None, 'test_feeder_args.split', '--test-split', 'str',
                              'the split of a PYSKL annotation pickle to test on, e.g. xsub_val')
    # None: PYSKL's 100, or the clip length the --weights were trained at (their max_frame).
    clip_len: int = _option(None, 'clip_len', '--clip-len', 'int', 'PYSKL pickles: frames sampled per clip '
                            "(default: 100, or the --weights' own)",
                            check=_at_least(1))
    stream: str = _option('j', 'stream', '--stream', 'str', 'PYSKL pickles: the feature stream (GenSkeFeat): '
                          'j joints, b bones, jm / bm their motion', choices=STREAMS)
    # None: 1 clip in the test phase and in training's evaluations, PYSKL's 10 for predict with PYSKL weights.
    num_clips: int = _option(None, 'test_feeder_args.num_clips', '--num-clips', 'int',
                             'PYSKL data: clips per test sample, their softmax probabilities averaged (default: 1 '
                             "for --phase test, PYSKL's 10 for --phase predict with PYSKL weights)",
                             check=_at_least(1))
    # The official feeder's augmentations (feeders/augment.py), all off in the official NTU recipe.
    random_choose: int = _option(0, 'train_feeder_args.random_choose', None, 'int',
                                 'train on a random window of this many frames (0: whole clip)', check=_at_least(0))
    random_shift: bool = _option(False, 'train_feeder_args.random_shift', None, 'bool', 'random temporal shift')
    random_move: bool = _option(False, 'train_feeder_args.random_move', None, 'bool', 'random affine drift')
    valid_crop: bool = _option(False, 'train_feeder_args.valid_crop', None, 'bool', 'crop to the non-empty frames')
    model_preset: str = _option('paper', 'model_preset', '--model-preset', 'str',
                                'paper: the official model; tf2019: the 2019 TF port (its Dropbox weights)',
                                choices=tuple(PRESETS))
    # None: the training data's meta.json, else NTU-60's 60 (train); the weights' own (test, predict, export).
    num_class: int = _option(None, 'model_args.num_class', '--num-classes', 'int',
                             'number of action classes (default: from the data or the weights, else 60)',
                             check=_at_least(1))
    # None: the preset's value (this holds for every model field below). Only the demo changes the widths.
    channels: tuple = _option(None, 'model_args.channels', '--channels', 'ints',
                              "widths of the three stages (default: the preset's 64 128 256)", check=_three_widths)
    in_channels: int = _option(None, 'model_args.in_channels', None, 'int', 'coordinates per joint',
                               check=_at_least(1))
    dropout: float = _option(None, 'model_args.dropout', None, 'float', 'dropout in blocks 2-10', check=_dropout)
    edge_importance: bool = _option(None, 'model_args.edge_importance_weighting', None, 'bool',
                                    'learnable edge importance masks')
    # A shipped layout's name, or a user's layout: a mapping in the YAML (graphs/layout.py layout_from_dict) or
    # a YAML file (--layout-file, storage/layout_file.py); resolved, it holds the name or the layout's dict.
    layout: object = _option(None, 'model_args.graph_args.layout', None, 'layout',
                             f'skeleton layout: {", ".join(LAYOUTS)}, or a mapping (name, num_node, base, '
                             'joints, edges, center, parents)')
    layout_file: str = _option(None, 'model_args.graph_args.layout_file', '--layout-file', 'str',
                               'YAML file of a custom skeleton layout (see docs/files.md)')
    # The graph partition; the official YAML calls it `strategy` (not a tf.distribute strategy).
    partition: str = _option(None, 'model_args.graph_args.strategy', None, 'str', 'graph partition',
                             choices=PARTITIONS)
    weights: str = _option(None, 'weights', '--weights', 'str', 'initial/evaluated weights: official .pth, 2019 TF '
                           "checkpoint, or this project's checkpoint/.weights.h5")
    # Fine-tuning --weights: a --num-classes other than the weights' re-initialises the classifier only.
    freeze_backbone: bool = _option(False, 'freeze_backbone', '--freeze-backbone', 'bool',
                                    'train only the classifier (fcn); data_bn and the ten blocks stay fixed')
    backbone_lr_mult: float = _option(1.0, 'backbone_lr_mult', '--backbone-lr-mult', 'float',
                                      'learning-rate multiplier of every layer but the classifier',
                                      check=_non_negative_float)
    class_names: str = _option(None, 'class_names', '--class-names', 'str',
                               'text file of the action names, one per line in label order; stored with the '
                               'checkpoint and printed by predict')
    base_lr: float = _option(0.1, 'base_lr', '--base-lr', 'float', 'initial learning rate', check=_positive_float)
    # step: the official epoch boundaries (`step`); cosine: PYSKL's annealing to 0, stepped every iteration.
    lr_policy: str = _option('step', 'lr_policy', '--lr-policy', 'str', 'step (x0.1 at the epochs in step) or '
                             'cosine (annealed to 0 over the run, every iteration)', choices=LR_POLICIES)
    # None: base_lr as given. PYSKL's 0.1 is for a global batch of 128 and scales linearly with it.
    lr_reference_batch: int = _option(None, 'lr_reference_batch', '--lr-reference-batch', 'int',
                                      'scale base_lr by global batch / this (PYSKL: 128)', check=_at_least(1))
    lr_step_epochs: tuple = _option((10, 50), 'step', '--steps', 'ints', 'epochs at whose start the learning rate '
                                    'is multiplied by 0.1, e.g. 10 50', check=_increasing_epochs)
    num_epochs: int = _option(80, 'num_epoch', '--num-epochs', 'int', 'total epochs to train', check=_at_least(1))
    # Per replica, as in the 2019 port; the original's batch_size was the global batch of its DataParallel.
    batch_size: int = _option(64, 'batch_size', '--batch-size', 'int',
                              'batch size PER REPLICA (GPU); the global batch is this times the number of replicas. '
                              'The official recipe is a global batch of 64', check=_at_least(1))
    weight_decay: float = _option(1e-4, 'weight_decay', '--weight-decay', 'float',
                                  'coupled L2 weight decay (torch.optim.SGD semantics)', check=_non_negative_float)
    seed: int = _option(0, 'seed', '--seed', 'int', 'seed for initialisation and data order', check=_at_least(0))
    mixed_precision: str = _option('none', 'mixed_precision', '--mixed-precision', 'str',
                                   'compute precision (fp16 uses dynamic loss scaling)', choices=MIXED_PRECISIONS)
    jit: bool = _option(False, 'jit', '--jit', 'bool', 'compile the train and eval steps with XLA')
    sync_bn: bool = _option(False, 'sync_bn', '--sync-bn', 'bool',
                            'synchronise BatchNorm statistics across replicas (default: per replica, like DataParallel)')
    # None: every visible GPU (or the CPU when there is none), as the 2019 port did.
    gpus: tuple = _option(None, 'device', '--gpus', 'ints', 'GPU indices to train on, e.g. 0 1 (or /gpu:0 /gpu:1)',
                          check=_gpu_list)
    cpu_replicas: int = _option(1, 'cpu_replicas', '--cpu-replicas', 'int',
                                'split the CPU into this many logical devices under MirroredStrategy: the multi-device '
                                'path without GPUs (tests)', check=_at_least(1))
    # The official default evaluates every 5 epochs; every epoch shows the curve a researcher wants to see.
    eval_freq: int = _option(1, 'eval_interval', '--eval-freq', 'int', 'evaluate every this many epochs',
                             check=_at_least(1))
    save_freq: int = _option(10, 'save_interval', '--save-freq', 'int', 'save a checkpoint every this many epochs',
                             check=_at_least(1))
    # A kill loses at most this much training: the checkpoint also holds the position in the epoch.
    save_every_minutes: float = _option(30.0, 'save_every_minutes', '--save-every-minutes', 'float',
                                        'also checkpoint inside an epoch every this many minutes (0: never)',
                                        check=_non_negative_float)
    checkpoint_path: str = _option('checkpoints/STGCN', 'checkpoint_path', '--checkpoint-path', 'str',
                                   'folder of the training checkpoints (training resumes from the latest one)')
    log_dir: str = _option('logs/STGCN', 'log_dir', '--log-dir', 'str',
                           'folder for TensorBoard logs, the resolved config and evaluation results')
    save_scores: str = _option(None, 'save_scores', '--save-scores', 'str',
                               'write {sample_name: logits} of the test set to this pickle (2s-AGCN score format)')
    no_progress: bool = _option(False, 'no_progress', '--no-progress', 'bool',
                                'hide the tqdm progress bars (they are also off when stderr is not a terminal)')
    skeleton: tuple = _option(None, 'skeleton', '--skeleton', 'strs',
                              'predict: raw NTU .skeleton files or folders of them to classify')
    top_k: int = _option(5, 'top_k', '--top-k', 'int', 'predict: how many actions to print', check=_at_least(1))
    # None: one prediction for the whole recording.
    window: int = _option(None, 'window', '--window', 'int', 'predict: classify windows of this many frames',
                          check=_at_least(1))
    stride: int = _option(None, 'stride', '--stride', 'int', 'predict --window: frames between window starts '
                          '(default: the window, no overlap)', check=_at_least(1))
    frame_size: tuple = _option(None, 'frame_size', '--frame-size', 'ints', 'predict: width and height in pixels '
                                'of 2D pose input that does not record them', check=_frame_size)
    json: bool = _option(False, 'json', '--json', 'bool', 'predict: print the result as JSON')
    export_dir: str = _option(None, 'export_dir', '--export-dir', 'str', 'export: folder of the SavedModel to write')
    export_format: str = _option('savedmodel', 'export_format', '--format', 'str',
                                 'export: savedmodel (SavedModel + TFLite) or onnx (needs requirements-onnx.txt)',
                                 choices=EXPORT_FORMATS)
    opset: int = _option(17, 'opset', '--opset', 'int', 'export --format onnx: the ONNX opset', check=_at_least(7))
    verbose: bool = _option(False, 'verbose', '--verbose', 'bool',
                            'predict, export: print the resolved config to stderr first')
    config: str = None  # the YAML file read (--config), or None

    @property
    def augment(self):
        """The training feeder's augment dict (feeders.augment.AUGMENT_KEYS)."""
        return {'valid_crop': self.valid_crop, 'random_shift': self.random_shift,
                'random_choose': self.random_choose, 'random_move': self.random_move}


OPTIONS = tuple(Option(f.name, **f.metadata['option']) for f in dataclasses.fields(RunConfig) if f.metadata)
_BY_NAME = {o.name: o for o in OPTIONS}
_BY_YAML = {o.yaml: o for o in OPTIONS}
# Mapping keys of the YAML file ('model_args', 'model_args.graph_args', ...).
_GROUPS = {o.yaml.rsplit('.', 1)[0] for o in OPTIONS if '.' in o.yaml} | \
          {o.yaml.split('.', 1)[0] for o in OPTIONS if '.' in o.yaml}
# The settings a phase cannot run without.
_REQUIRED = {'train': (), 'test': (), 'predict': ('skeleton',), 'export': ('export_dir',)}
# RunConfig fields that override the preset's STGCNConfig field of the same name when set.
_MODEL_FIELDS = ('in_channels', 'dropout', 'edge_importance', 'layout', 'partition', 'channels')


DEFAULT_NUM_CLASS = 60  # NTU RGB+D 60, when neither the flags nor the data say


def model_config(cfg, num_class=None):
    """The STGCNConfig a run trains: the preset's, with the fields the YAML or the flags set; `num_class` when
    cfg.num_class is not set (the data's). Raises ValueError (naming the field) for a combination the model
    rejects."""
    overrides = {name: getattr(cfg, name) for name in _MODEL_FIELDS if getattr(cfg, name) is not None}
    return make_config(cfg.model_preset, num_class=cfg.num_class or num_class or DEFAULT_NUM_CLASS,
                       sync_bn=cfg.sync_bn, **overrides)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ConfigError(message)


def _gpu_index(text):
    """'1', '/gpu:1' or 'GPU:1' -> 1 (the 2019 port took device names)."""
    match = re.fullmatch(r'(?:/?(?:device:)?gpu:)?(\d+)', text.strip(), flags=re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f'{text!r} is not a GPU index (e.g. 0) or name (e.g. /gpu:0)')
    return int(match.group(1))


def build_parser():
    """The command line; every default is left out so that only the flags actually given are seen."""
    parser = _Parser(description='ST-GCN (Yan et al. 2018) on NTU RGB+D: train, test, predict or export. '
                                 'Settings: defaults < --config YAML < flags.',
                     argument_default=argparse.SUPPRESS, allow_abbrev=False)
    parser.add_argument('--config', help='YAML file of settings (see config/); flags override it')
    for o in OPTIONS:
        if o.flag is None:
            continue
        text = f'{o.help} (YAML: {o.yaml}; default: {_show(o.default)})'
        if o.kind == 'bool':
            parser.add_argument(o.flag, dest=o.name, action='store_true', help=text)
        elif o.kind == 'strs':
            parser.add_argument(o.flag, dest=o.name, nargs='+', metavar='PATH', help=text)
        elif o.kind == 'ints':
            # --steps with no value: no decay at all.
            parser.add_argument(o.flag, dest=o.name, nargs='*' if o.name == 'lr_step_epochs' else '+',
                                type=_gpu_index if o.name == 'gpus' else int, metavar='N', help=text)
        else:
            parser.add_argument(o.flag, dest=o.name, type={'int': int, 'float': float, 'str': str}[o.kind],
                                choices=o.choices, help=text)
    return parser


def _show(value):
    if isinstance(value, dict):  # a custom layout
        return f'{value["name"]} (custom, {value["num_node"]} joints)'
    return ' '.join(map(str, value)) if isinstance(value, (list, tuple)) else value


def resolve_config(argv=None):
    """Parse `argv` (default sys.argv[1:]), read --config, merge and validate. Returns a RunConfig."""
    flags = vars(build_parser().parse_args(argv))
    config_path = flags.pop('config', None)
    values = {o.name: o.default for o in OPTIONS}
    where = {o.name: f'default {o.yaml}' for o in OPTIONS}
    if config_path is not None:
        for name, (value, line) in read_yaml(config_path).items():
            values[name] = value
            where[name] = f'{config_path}:{line}: {_BY_NAME[name].yaml}'
    for name, value in flags.items():
        o = _BY_NAME[name]
        values[name] = tuple(value) if o.kind in ('ints', 'strs') else value
        where[name] = o.flag
        message = _check(o, values[name])
        if message:
            raise ConfigError(f'{o.flag} {_show(value)}: {message}')
    _resolve_layout_file(values, where)
    _check_together(values, where)
    return RunConfig(config=config_path, **values)


def _resolve_layout_file(values, where):
    """--layout-file (or graph_args.layout_file) read into `layout` as the layout's dict; both given is an error."""
    path = values['layout_file']
    if path is None:
        return
    if values['layout'] is not None:
        raise ConfigError(f'{where["layout_file"]} {path} and {where["layout"]}: give one layout, not both')
    try:
        values['layout'] = load_layout_file(path).to_dict()
    except LayoutError as error:
        raise ConfigError(f'{where["layout_file"]}: {error}') from None
    where['layout'] = where['layout_file']


def _check(o, value):
    if value is None:
        return None
    if value == '':
        return 'must not be empty'
    if o.choices is not None and value not in o.choices:
        return f'must be one of {", ".join(o.choices)}'
    return o.check(value) if o.check else None


def _check_together(values, where):
    too_late = [e for e in values['lr_step_epochs'] if e >= values['num_epochs']]
    if too_late:
        raise ConfigError(f'{where["lr_step_epochs"]}: step {list(values["lr_step_epochs"])} must all be < num_epoch '
                          f'{values["num_epochs"]} (from {where["num_epochs"]}); give --steps too (no value: no decay)')
    if values['freeze_backbone'] and values['backbone_lr_mult'] != 1.0:
        raise ConfigError(f'{where["freeze_backbone"]} and {where["backbone_lr_mult"]} '
                          f'{values["backbone_lr_mult"]:g}: a frozen backbone has no learning rate; give one of the two')
    for name in _REQUIRED[values['phase']]:
        if values[name] is None:
            o = _BY_NAME[name]
            raise ConfigError(f'--phase {values["phase"]} needs {o.flag} (YAML: {o.yaml})')
    try:
        model_config(RunConfig(**values))
    except ValueError as error:
        raise ConfigError(f'model_args ({where["model_preset"]}): {error}') from None


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads 1e-4 as a float: YAML 1.1 (PyYAML) wants a dot (1.0e-4) and would
    otherwise hand `weight_decay: 1e-4` over as a string."""


_Loader.add_implicit_resolver('tag:yaml.org,2002:float', re.compile(r'^[-+]?[0-9][0-9_]*(\.[0-9_]*)?[eE][-+]?[0-9]+$'),
                              list('-+0123456789'))


def read_yaml(path):
    """The settings of one YAML file: {field name: (value, line)}, each type- and range-checked."""
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except OSError as error:
        raise ConfigError(f'{path}: cannot read the config file: {error.strerror}') from None
    except UnicodeDecodeError:
        raise ConfigError(f'{path}: not a UTF-8 text file') from None
    node, data = parse_with_nodes(text, path, ConfigError, _Loader)
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f'{path}:{node.start_mark.line + 1}: the file must be a mapping of settings (key: value)')
    found = {}
    _walk(node, data, '', path, found)
    return found


def _walk(node, data, prefix, path, found):
    seen = set()
    for key_node, value_node in node.value:
        key = prefix + str(key_node.value)
        line = key_node.start_mark.line + 1
        if key not in _GROUPS and key not in _BY_YAML:
            raise ConfigError(f'{path}:{line}: unknown key {key}{_suggest(key)}')
        if key in seen:
            raise ConfigError(f'{path}:{line}: {key} is given twice')
        seen.add(key)
        value = data[key_node.value]
        if key in _GROUPS:
            if not isinstance(value_node, yaml.MappingNode):
                raise ConfigError(f'{path}:{line}: {key} must be a mapping of settings')
            _walk(value_node, value, key + '.', path, found)
        else:
            o = _BY_YAML[key]
            if o.kind == 'layout':
                value = _layout_from_yaml(value, value_node, path, line, key)
            else:
                value = _from_yaml(o, value, f'{path}:{line}: {key}')
            message = _check(o, value)
            if message:
                raise ConfigError(f'{path}:{line}: {key} {_show(value)}: {message}')
            found[o.name] = (value, line)


def _layout_from_yaml(value, node, path, line, key):
    """model_args.graph_args.layout: a shipped layout's name, or a mapping checked as a layout file is (its
    errors name the line of the bad layout key). Returns the name or the layout's dict (0-based)."""
    if isinstance(value, str) and value in LAYOUTS:
        return value
    if isinstance(node, yaml.MappingNode):
        try:
            return layout_from_dict(value, source=path, lines=mapping_lines(node, path)).to_dict()
        except LayoutError as error:
            # 'path:L: layout key ...' (L the bad layout key's own line) -> 'path:L: KEY: layout key ...'
            where, sep, what = str(error).partition(': ')
            raise ConfigError(f'{where}: {key}: {what}' if sep and where.startswith(path)
                              else f'{path}:{line}: {key}: {error}') from None
    raise ConfigError(f'{path}:{line}: {key} {_show(value)}: must be one of {", ".join(LAYOUTS)}, or a mapping of name, '
                      'num_node, base, joints, edges, center (and optionally parents)')


def _suggest(key):
    """'; did you mean X?' for the closest valid key, matching field and flag names too (num_epochs)."""
    candidates = {}
    for o in OPTIONS:
        candidates[o.yaml] = candidates[o.name] = o.yaml
        if o.flag:
            candidates[o.flag[2:].replace('-', '_')] = o.yaml
    leaf = key.rsplit('.', 1)[-1]
    close = difflib.get_close_matches(key, candidates, n=1) or difflib.get_close_matches(leaf, candidates, n=1)
    return f'; did you mean {candidates[close[0]]}?' if close else '; see training/config.py OPTIONS for the valid keys'


def _from_yaml(o, value, where):
    """Type-check one YAML value; ints are accepted where a float is expected, nothing else is converted."""
    kind = o.kind
    if value is None and o.default is None:
        return None
    if kind == 'ints' and o.name == 'gpus' and _is_int(value):
        value = [value]  # the original's `device: 0`
    if kind == 'strs' and isinstance(value, str):
        value = [value]
    ok = {'int': _is_int(value), 'float': _is_int(value) or isinstance(value, float),
          'str': isinstance(value, str) and value != '', 'bool': isinstance(value, bool),
          'ints': isinstance(value, list) and all(_is_int(v) for v in value),
          'strs': isinstance(value, list) and all(isinstance(v, str) and v != '' for v in value)}[kind]
    if not ok:
        expected = {'int': 'an integer', 'float': 'a number', 'str': 'a non-empty string', 'bool': 'true or false',
                    'ints': 'a list of integers', 'strs': 'a path or a list of paths'}[kind]
        raise ConfigError(f'{where} must be {expected}, got {value!r} ({type(value).__name__})')
    if kind == 'float':
        return float(value)
    return tuple(value) if kind in ('ints', 'strs') else value


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def to_yaml_dict(cfg):
    """The nested YAML mapping of `cfg` under the original key names (what dump_config writes)."""
    out = {}
    for o in OPTIONS:
        value = getattr(cfg, o.name)
        if o.name == 'layout_file':
            value = None  # its layout is written out under layout: the config file stands alone
        *groups, leaf = o.yaml.split('.')
        target = out
        for group in groups:
            target = target.setdefault(group, {})
        target[leaf] = list(value) if isinstance(value, tuple) else value
    return out


def dump_config(cfg, path):
    """Write `cfg` as YAML that `--config` reads back to the same settings (written atomically)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    header = (f'# Resolved settings of this run (from {cfg.config or "defaults and flags"}).\n'
              '# Run it again with: python main.py --config THIS_FILE\n')
    files.write_text(header + yaml.safe_dump(to_yaml_dict(cfg), sort_keys=False, default_flow_style=None), path)


def format_config(cfg):
    """The resolved settings as aligned `key: value` lines under their YAML names, for printing at start."""
    width = max(len(o.yaml) for o in OPTIONS)
    lines = [f'config file: {cfg.config or "(none)"}']
    lines += [f'  {o.yaml:<{width}}  {_show(getattr(cfg, o.name))}' for o in OPTIONS]
    return '\n'.join(lines)
