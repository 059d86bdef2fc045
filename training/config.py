"""The resolved run configuration: defaults -> `--config` YAML -> command-line flags (style habit 3).

One table, OPTIONS, defines every setting once: its field name, its YAML key (the original st-gcn name
where one exists, so a run can be diffed against the original config: base_lr, step, weight_decay,
batch_size, num_epoch, model_args, train_feeder_args, save_interval, eval_interval, device, weights,
phase), its flag (the 2019 port's names kept: --base-lr, --num-classes, --num-epochs, --steps, ...), its
type, default and valid range. A flag given on the command line overrides the YAML, which overrides the
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
import tempfile

import yaml

from graphs import LAYOUTS, STRATEGIES
from model.config import PRESETS, make_config

PHASES = ('train', 'test', 'predict', 'export')
MIXED_PRECISIONS = ('none', 'bf16', 'fp16')


class ConfigError(ValueError):
    """A bad setting; the message is one line saying what and where (file:line: key, or --flag)."""


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting. `yaml` is a dotted key ('model_args.num_class'); `flag` None means YAML only.
    `kind` is 'int', 'float', 'str', 'bool', 'ints' (a list of ints) or 'strs' (a list of strings); `check(value)` returns an
    error message or None. A None default makes the setting optional (null allowed)."""
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


def _dropout(v):
    return None if 0.0 <= v < 1.0 else 'must be in [0, 1)'


# Default values are the official NTU recipe (reference §4) except where a comment says otherwise.
OPTIONS = (
    Option('phase', 'phase', '--phase', 'str', 'train', 'what to run', choices=PHASES),
    Option('train_data_path', 'train_feeder_args.data_path', '--train-data-path', 'str', None,
           'folder of training TFRecord shards (gen_tfrecord_data.py output), or a {part}_data_joint.npy '
           '(gen_joint_data.py output) read through a memmap'),
    Option('test_data_path', 'test_feeder_args.data_path', '--test-data-path', 'str', None,
           'folder of test TFRecord shards (or a {part}_data_joint.npy, as for training)'),
    Option('train_label_path', 'train_feeder_args.label_path', '--train-label-path', 'str', None,
           'labels of a .npy training set (default: the {part}_label.pkl beside it)'),
    Option('test_label_path', 'test_feeder_args.label_path', '--test-label-path', 'str', None,
           'labels of a .npy test set (default: the {part}_label.pkl beside it)'),
    # The official feeder's augmentations (feeders/augment.py), all off in the official NTU recipe.
    Option('random_choose', 'train_feeder_args.random_choose', None, 'int', 0,
           'train on a random window of this many frames (0: whole clip)', check=_at_least(0)),
    Option('random_shift', 'train_feeder_args.random_shift', None, 'bool', False, 'random temporal shift'),
    Option('random_move', 'train_feeder_args.random_move', None, 'bool', False, 'random affine drift'),
    Option('valid_crop', 'train_feeder_args.valid_crop', None, 'bool', False, 'crop to the non-empty frames'),
    Option('model_preset', 'model_preset', '--model-preset', 'str', 'paper',
           'paper: the official model; tf2019: the 2019 TF port (its Dropbox weights)', choices=tuple(PRESETS)),
    Option('num_classes', 'model_args.num_class', '--num-classes', 'int', 60, 'number of action classes',
           check=_at_least(1)),
    # None: the preset's value. Only the demo changes the widths from the paper's (64, 128, 256).
    Option('channels', 'model_args.channels', '--channels', 'ints', None,
           "widths of the three stages (default: the preset's 64 128 256)", check=_three_widths),
    Option('in_channels', 'model_args.in_channels', None, 'int', None, 'coordinates per joint', check=_at_least(1)),
    Option('dropout', 'model_args.dropout', None, 'float', None, 'dropout in blocks 2-10', check=_dropout),
    Option('edge_importance', 'model_args.edge_importance_weighting', None, 'bool', None,
           'learnable edge importance masks'),
    Option('layout', 'model_args.graph_args.layout', None, 'str', None, 'skeleton layout', choices=LAYOUTS),
    Option('strategy', 'model_args.graph_args.strategy', None, 'str', None, 'partition strategy',
           choices=STRATEGIES),
    Option('weights', 'weights', '--weights', 'str', None,
           'initial/evaluated weights: official .pth, 2019 TF checkpoint, or this project\'s checkpoint/.weights.h5'),
    Option('base_lr', 'base_lr', '--base-lr', 'float', 0.1, 'initial learning rate', check=_positive_float),
    Option('steps', 'step', '--steps', 'ints', (10, 50),
           'epochs at whose start the learning rate is multiplied by 0.1, e.g. 10 50', check=_increasing_epochs),
    Option('num_epochs', 'num_epoch', '--num-epochs', 'int', 80, 'total epochs to train', check=_at_least(1)),
    Option('batch_size', 'batch_size', '--batch-size', 'int', 64,
           'batch size PER REPLICA (GPU); the global batch is this times the number of replicas. '
           'The official recipe is a global batch of 64', check=_at_least(1)),
    Option('weight_decay', 'weight_decay', '--weight-decay', 'float', 1e-4,
           'coupled L2 weight decay (torch.optim.SGD semantics)', check=_non_negative_float),
    Option('seed', 'seed', '--seed', 'int', 0, 'seed for initialisation and data order', check=_at_least(0)),
    Option('mixed_precision', 'mixed_precision', '--mixed-precision', 'str', 'none',
           'compute precision (fp16 uses dynamic loss scaling)', choices=MIXED_PRECISIONS),
    Option('jit', 'jit', '--jit', 'bool', False, 'compile the train and eval steps with XLA'),
    Option('sync_bn', 'sync_bn', '--sync-bn', 'bool', False,
           'synchronise BatchNorm statistics across replicas (default: per replica, like DataParallel)'),
    # None: every visible GPU (or the CPU when there is none), as the 2019 port did.
    Option('gpus', 'device', '--gpus', 'ints', None, 'GPU indices to train on, e.g. 0 1 (or /gpu:0 /gpu:1)',
           check=_gpu_list),
    Option('cpu_replicas', 'cpu_replicas', '--cpu-replicas', 'int', 1,
           'split the CPU into this many logical devices under MirroredStrategy: the multi-device path '
           'without GPUs (tests)', check=_at_least(1)),
    # The official default evaluates every 5 epochs; the issue asks for every epoch.
    Option('eval_freq', 'eval_interval', '--eval-freq', 'int', 1, 'evaluate every this many epochs',
           check=_at_least(1)),
    Option('save_freq', 'save_interval', '--save-freq', 'int', 10, 'save a checkpoint every this many epochs',
           check=_at_least(1)),
    Option('checkpoint_path', 'checkpoint_path', '--checkpoint-path', 'str', 'checkpoints/STGCN',
           'folder of the training checkpoints (training resumes from the latest one)'),
    Option('log_dir', 'log_dir', '--log-dir', 'str', 'logs/STGCN',
           'folder for TensorBoard logs, the resolved config and evaluation results'),
    Option('save_scores', 'save_scores', '--save-scores', 'str', None,
           'write {sample_name: logits} of the test set to this pickle (2s-AGCN score format)'),
    Option('no_progress', 'no_progress', '--no-progress', 'bool', False,
           'hide the tqdm progress bars (they are also off when stderr is not a terminal)'),
    Option('skeleton', 'skeleton', '--skeleton', 'strs', None,
           'predict: raw NTU .skeleton files or folders of them to classify'),
    Option('top_k', 'top_k', '--top-k', 'int', 5, 'predict: how many actions to print', check=_at_least(1)),
    Option('json', 'json', '--json', 'bool', False, 'predict: print the result as JSON'),
    Option('export_dir', 'export_dir', '--export-dir', 'str', None, 'export: folder of the SavedModel to write'),
)
_BY_NAME = {o.name: o for o in OPTIONS}
_BY_YAML = {o.yaml: o for o in OPTIONS}
# Mapping keys of the YAML file ('model_args', 'model_args.graph_args', ...).
_GROUPS = {o.yaml.rsplit('.', 1)[0] for o in OPTIONS if '.' in o.yaml} | \
          {o.yaml.split('.', 1)[0] for o in OPTIONS if '.' in o.yaml}
# The settings a phase cannot run without.
_REQUIRED = {'train': ('train_data_path', 'test_data_path'), 'test': ('test_data_path',),
             'predict': ('skeleton',), 'export': ('export_dir',)}


def _model_args(cfg):
    """The STGCNConfig overrides set in the YAML's model_args, under STGCNConfig's field names; num_class
    and channels are left out: they have their own flags (cfg.num_classes, cfg.channels)."""
    fields = ('in_channels', 'dropout', 'edge_importance', 'layout', 'strategy')
    return {name: getattr(cfg, name) for name in fields if getattr(cfg, name) is not None}


def _train_feeder_args(cfg):
    """The training feeder's `augment` dict (feeders.augment.AUGMENT_KEYS)."""
    return {name: getattr(cfg, name) for name in ('valid_crop', 'random_shift', 'random_choose', 'random_move')}


RunConfig = dataclasses.make_dataclass(
    'RunConfig', [(o.name, object, dataclasses.field(default=o.default)) for o in OPTIONS]
    + [('config', object, dataclasses.field(default=None))], frozen=True,
    namespace={'model_args': property(_model_args), 'train_feeder_args': property(_train_feeder_args)})
RunConfig.__doc__ = ('The resolved settings of one run: a field per OPTIONS entry (training.config), `config` '
                     '(the YAML file read, or None), and the derived dicts `model_args` and `train_feeder_args`.')


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
                     argument_default=argparse.SUPPRESS)
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
            parser.add_argument(o.flag, dest=o.name, nargs='*' if o.name == 'steps' else '+',
                                type=_gpu_index if o.name == 'gpus' else int, metavar='N', help=text)
        else:
            parser.add_argument(o.flag, dest=o.name, type={'int': int, 'float': float, 'str': str}[o.kind],
                                choices=o.choices, help=text)
    return parser


def _show(value):
    return ' '.join(map(str, value)) if isinstance(value, (list, tuple)) else value


def resolve_config(argv=None):
    """Parse `argv` (default sys.argv[1:]), read --config, merge and validate. Returns a RunConfig."""
    flags = vars(build_parser().parse_args(argv))
    config_path = flags.pop('config', None)
    values = {o.name: o.default for o in OPTIONS}
    where = {o.name: f'default {o.name}' for o in OPTIONS}
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
    _check_together(values, where)
    return RunConfig(config=config_path, **values)


def _check(o, value):
    if value is None:
        return None
    if value == '':
        return 'must not be empty'
    if o.choices is not None and value not in o.choices:
        return f'must be one of {", ".join(o.choices)}'
    return o.check(value) if o.check else None


def _check_together(values, where):
    too_late = [e for e in values['steps'] if e >= values['num_epochs']]
    if too_late:
        raise ConfigError(f'{where["steps"]}: step {list(values["steps"])} must all be < num_epoch '
                          f'{values["num_epochs"]} (from {where["num_epochs"]}); give --steps too (no value: no decay)')
    for name in _REQUIRED[values['phase']]:
        if values[name] is None:
            o = _BY_NAME[name]
            raise ConfigError(f'--phase {values["phase"]} needs {o.flag} (YAML: {o.yaml})')
    cfg = RunConfig(**values)
    overrides = dict(cfg.model_args, num_class=cfg.num_classes)
    if cfg.channels is not None:
        overrides['channels'] = cfg.channels
    try:
        make_config(cfg.model_preset, **overrides)
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
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as error:
        mark = getattr(error, 'problem_mark', None)
        line = f':{mark.line + 1}' if mark is not None else ''
        raise ConfigError(f'{path}{line}: not valid YAML: {getattr(error, "problem", None) or error}') from None
    finally:
        loader.dispose()
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
            value = _from_yaml(o, value, f'{path}:{line}: {key}')
            message = _check(o, value)
            if message:
                raise ConfigError(f'{path}:{line}: {key} {_show(value)}: {message}')
            found[o.name] = (value, line)


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
        *groups, leaf = o.yaml.split('.')
        target = out
        for group in groups:
            target = target.setdefault(group, {})
        target[leaf] = list(value) if isinstance(value, tuple) else value
    return out


def dump_config(cfg, path):
    """Write `cfg` as YAML that `--config` reads back to the same settings (written atomically)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    header = (f'# Resolved settings of this run (from {cfg.config or "defaults and flags"}).\n'
              '# Run it again with: python main.py --config THIS_FILE\n')
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.config-', suffix='.yaml.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(header)
            yaml.safe_dump(to_yaml_dict(cfg), f, sort_keys=False, default_flow_style=None)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def format_config(cfg):
    """The resolved settings as aligned `key: value` lines under their YAML names, for printing at start."""
    width = max(len(o.yaml) for o in OPTIONS)
    lines = [f'config file: {cfg.config or "(none)"}']
    lines += [f'  {o.yaml:<{width}}  {_show(getattr(cfg, o.name))}' for o in OPTIONS]
    return '\n'.join(lines)
