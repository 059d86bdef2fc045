"""Every kind of weights this project reads, behind one entry point, and the project's own weights format.

    model = load_pretrained(path, num_class=None)   # a built STGCN; model.meta = {preset, data_mode, max_frame,
                                                    #   source, and class_names / stream when recorded}
    save_weights(model, 'out.weights.h5')           # the project's format: Keras weights + meta JSON inside

The converter writes anything load_pretrained reads in the project's format, so official PyTorch weights
need torch only once:
    python -m model.weights --weights st_gcn.ntu-xsub-300b57d4.pth --out xsub.weights.h5
"""
import argparse
import dataclasses
import json
import os
import sys
import zipfile

if __name__ == '__main__':
    # The converter's stderr is for its one-line errors, not TensorFlow's start-up chatter.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import h5py
import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from model.config import DEFAULT_MAX_FRAME, PRESETS, STREAMS, STGCNConfig
from model.convert_tf2019 import checkpoint_prefix, is_tf2019_checkpoint, load_tf2019_checkpoint
from model.errors import WeightsError
from model.stgcn import STGCN
from storage import files

__all__ = ['load_pretrained', 'save_weights', 'checkpoint_meta', 'read_checkpoint_meta', 'WeightsError']

ACCEPTED_FORMATS = (
    'official PyTorch weights (.pth / .pt, zip or legacy format)',
    "a PYSKL or mmaction2 1.x ST-GCN checkpoint (.pth with {'state_dict': {'backbone.…', 'cls_head.…'}})",
    "the 2019 TF port's checkpoint (a ckpt-N prefix, or a directory with a `checkpoint` file)",
    "this project's training checkpoint (a ckpt-N prefix, or its directory)",
    "this project's .weights.h5 (written by model.weights.save_weights)",
    'a Keras .keras file of an STGCN (written by model.save)',
)
# The preprocessing a model's weights expect: NTU raw coordinates, NTU 2s-AGCN pre-normalisation, Kinetics
# (x, y, score) as the official feeder centres them, PYSKL's pickles (pyskl3d: PreNormalize3D'd 3D joints,
# pyskl2d: HRNet COCO (x, y, score), docs/reference.md section 8), or unknown (records written without a meta.json).
DATA_MODES = ('raw', 'prenorm', 'kinetics', 'pyskl3d', 'pyskl2d', 'unknown')
WEIGHTS_SUFFIX = '.weights.h5'  # Keras 3 refuses to save or load weights under any other name
KERAS_SUFFIX = '.keras'  # a whole model (config + weights) as model.save writes it
META_ATTR = 'stgcn_meta'  # the h5 attribute holding the meta JSON
META_KEY = 'meta/.ATTRIBUTES/VARIABLE_VALUE'  # the meta variable of a training checkpoint
OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'
# torch.save's legacy (pre-1.6) format opens with a pickled magic number; the zip format has data.pkl inside.
TORCH_LEGACY_MAGIC = b'\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19'
TORCH_SUFFIXES = ('.pth', '.pt')
# The meta keys a file may lack: the user's action names (--class-names) and the PYSKL feature stream
# (GenSkeFeat's feats: joints, bones, their motion) of weights trained on an annotation pickle.
OPTIONAL_META = ('class_names', 'stream')



def load_pretrained(path, num_class=None):
    """A built STGCN holding the weights at `path`, its preset chosen by the file.

    path: official .pth/.pt, a PYSKL or mmaction2 1.x .pth, a 2019 TF port checkpoint, a project training
    checkpoint (prefix or directory), a project .weights.h5, or a .keras file of an STGCN. num_class, when given,
    must equal the file's class count.
    model.meta = {'preset', 'data_mode', 'max_frame', 'source'} (PYSKL files add 'layout'; this project's files
    add 'class_names' and 'stream' when their training recorded them); data_mode says which preprocessing the
    weights expect, max_frame the T their training samples had.
    """
    try:
        model = _load(str(path), num_class)
    except tf.errors.OpError as err:  # a truncated or corrupted checkpoint (.index or .data file)
        raise WeightsError(f'{path}: the checkpoint cannot be read ({_first_line(err.message)}); it is truncated '
                           'or corrupted') from None
    for weight in model.weights:
        if not np.all(np.isfinite(np.asarray(weight))):
            raise WeightsError(f'{path}: {weight.path} holds NaN or infinite values; these weights cannot be used')
    return model


def _load(path, num_class):
    if not os.path.exists(path) and checkpoint_prefix(path) is None:
        raise WeightsError(f'{path}: no such file or directory; pass a weights file or checkpoint')
    if os.path.isfile(path) and (path.endswith(TORCH_SUFFIXES) or _is_torch_file(path)):
        # The keys decide: PYSKL / mmaction2 checkpoints name theirs `backbone.…` and `cls_head.…`.
        from model.convert_pyskl import is_pyskl_checkpoint, load_pyskl_weights
        if is_pyskl_checkpoint(path):
            return load_pyskl_weights(path, num_class=num_class)
        from model.convert_torch import load_torch_weights  # torch is optional: imported only for its files
        return load_torch_weights(path, num_class=num_class)
    if os.path.isfile(path) and path.endswith(WEIGHTS_SUFFIX):
        return _load_weights_h5(path, num_class)
    if os.path.isfile(path) and path.endswith(KERAS_SUFFIX):
        return _load_keras_file(path, num_class)
    prefix = checkpoint_prefix(path)
    if prefix is not None:
        names = [name for name, _ in tf.train.list_variables(prefix)]
        if is_tf2019_checkpoint(names):
            return load_tf2019_checkpoint(prefix, num_class=num_class)
        if META_KEY in names:
            return _load_training_checkpoint(prefix, num_class)
        raise WeightsError(f'{prefix}: a TF checkpoint, but neither the 2019 port\'s layout (model/STGCN_layers/...) '
                           f'nor a training checkpoint of this project (no `meta` variable); accepted: '
                           f'{"; ".join(ACCEPTED_FORMATS)}')
    raise WeightsError(f'{path}: format not recognised; accepted: {"; ".join(ACCEPTED_FORMATS)}')


def save_weights(model, path, data_mode=None):
    """Write `model` as this project's `.weights.h5`: Keras weights plus the meta JSON as an h5 attribute.

    data_mode ('raw' | 'prenorm', the preprocessing the weights expect) defaults to model.meta['data_mode'].
    The file is written under a temporary name in the same folder and renamed when complete.
    """
    path = str(path)
    if not path.endswith(WEIGHTS_SUFFIX):
        raise ValueError(f'{path}: weights files must end in {WEIGHTS_SUFFIX} (Keras 3 reads no other name)')
    known = getattr(model, 'meta', None) or {}
    meta = checkpoint_meta(model.config, known.get('preset') or _preset_of(model.config),
                           data_mode or known.get('data_mode'), known.get('max_frame', DEFAULT_MAX_FRAME),
                           class_names=known.get('class_names'), stream=known.get('stream'))
    with files.atomic_path(path, suffix=WEIGHTS_SUFFIX) as tmp:  # Keras reads and writes no other suffix
        model.save_weights(str(tmp))
        with h5py.File(tmp, 'a') as f:
            f.attrs[META_ATTR] = meta


def checkpoint_meta(config, preset, data_mode, max_frame, class_names=None, stream=None):
    """The meta JSON stored with a model's weights: {"config": config.to_dict(), "preset", "data_mode",
    "max_frame"}, plus "class_names" and "stream" when given.

    Training stores it as `meta=tf.Variable(checkpoint_meta(...))` in its tf.train.Checkpoint, so that a
    checkpoint alone rebuilds its model. data_mode ('raw' | 'prenorm' | 'kinetics') is the preprocessing the
    weights expect; max_frame the T their training samples were stored at (what predict pads a recording to);
    class_names the user's name of each label (--class-names), one per class; stream the PYSKL feature stream
    ('j', 'b', 'jm', 'bm') of weights trained on an annotation pickle. Absent keys mean "not recorded".
    """
    if data_mode not in DATA_MODES:
        raise ValueError(f'data_mode must be one of {", ".join(DATA_MODES)}, got {data_mode!r}: it records the '
                         f'preprocessing the weights expect')
    if not isinstance(max_frame, int) or max_frame < 1:
        raise ValueError(f'max_frame must be an int >= 1, got {max_frame!r}')
    meta = {'config': config.to_dict(), 'preset': preset, 'data_mode': data_mode, 'max_frame': max_frame}
    if class_names is not None:
        problem = _class_names_problem(class_names, config.num_class)
        if problem:
            raise ValueError(f'class_names {problem}')
        meta['class_names'] = list(class_names)
    if stream is not None:
        if stream not in STREAMS:
            raise ValueError(f'stream must be one of {", ".join(STREAMS)}, got {stream!r}')
        meta['stream'] = stream
    return json.dumps(meta, sort_keys=True)


def _class_names_problem(names, num_class):
    """Why `names` cannot name the labels of a num_class model, or None."""
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        return f'must be a list of non-empty strings, got {names!r}'
    if len(names) != num_class:
        return f'holds {len(names)} names for {num_class} classes'
    return None


def read_checkpoint_meta(path):
    """The meta dict of a project training checkpoint (prefix or directory)."""
    prefix = checkpoint_prefix(path)
    if prefix is None:
        raise WeightsError(f'{path}: not a TF checkpoint; pass the ckpt-N prefix or its directory')
    reader = tf.train.load_checkpoint(prefix)
    if not reader.has_tensor(META_KEY):
        raise WeightsError(f'{prefix}: no `meta` variable; not a training checkpoint of this project')
    return _parse_meta(reader.get_tensor(META_KEY), prefix)


def _load_training_checkpoint(prefix, num_class):
    model = _model_from_meta(read_checkpoint_meta(prefix), prefix, num_class)
    # A restore only checks the objects both sides track: a writer that failed to track some layers left them
    # out of the file silently, so count the variables reachable from `model` in the file's object graph.
    saved = _saved_variable_count(prefix, 'model')
    if saved < len(model.weights):
        raise WeightsError(f'{prefix}: holds {saved} of the {len(model.weights)} variables of the model its '
                           f'meta describes; it was written without some of them and cannot be restored')
    # expect_partial: the optimizer, epoch and step in the file are training state, not weights.
    status = tf.train.Checkpoint(model=model).restore(prefix).expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError as e:
        raise WeightsError(f'{prefix}: the checkpoint lacks variables of the model its meta describes '
                           f'({_first_line(e)})') from None
    return model


def _saved_variable_count(prefix, child):
    """How many variables a checkpoint holds under the root's `child`, by its object graph (not key names: a
    variable's key is its shortest path from the root, which may run through the optimizer instead)."""
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(tf.train.load_checkpoint(prefix).get_tensor(OBJECT_GRAPH_KEY))
    todo = [ref.node_id for ref in graph.nodes[0].children if ref.local_name == child]
    seen = set()
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(ref.node_id for ref in graph.nodes[node].children)
    return sum(any(a.name == 'VARIABLE_VALUE' for a in graph.nodes[node].attributes) for node in seen)


def _load_weights_h5(path, num_class):
    try:
        with h5py.File(path, 'r') as f:
            raw = f.attrs.get(META_ATTR)
    except OSError as e:
        raise WeightsError(f'{path}: not a readable HDF5 file ({_first_line(e)})') from None
    if raw is None:
        raise WeightsError(f'{path}: a Keras weights file without this project\'s meta (not written by '
                           f'model.weights.save_weights); convert the original weights with python -m model.weights')
    model = _model_from_meta(_parse_meta(raw, path), path, num_class)
    try:
        model.load_weights(path)
    except ValueError as e:
        raise WeightsError(f'{path}: its weights do not fit the model its meta describes '
                           f'({_first_line(e)})') from None
    return model


def _load_keras_file(path, num_class):
    """A `.keras` file: the STGCN keras.models.load_model rebuilds, model.meta from what its config stored
    (STGCN.get_config), else the preset its config matches, data mode 'unknown' and the default max_frame."""
    try:
        model = keras.models.load_model(path, compile=False)
    except (ValueError, TypeError, OSError, zipfile.BadZipFile) as e:
        raise WeightsError(f'{path}: not a loadable .keras file ({_first_line(e)})') from None
    if not isinstance(model, STGCN):
        raise WeightsError(f'{path}: holds a {type(model).__name__}, not an STGCN')
    config = model.config
    _check_num_class(config, num_class, path)
    stored = getattr(model, 'meta', None) or {}
    model.meta = {'preset': stored.get('preset') or _preset_of(config),
                  'data_mode': stored.get('data_mode', 'unknown'),
                  'max_frame': int(stored.get('max_frame', DEFAULT_MAX_FRAME)), 'source': path}
    model.meta.update(_recorded(stored, config, path))
    return model


def _parse_meta(raw, source):
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        stored = json.loads(text)
        meta = {'config': stored['config'], 'preset': stored['preset'], 'data_mode': stored['data_mode'],
                'max_frame': int(stored.get('max_frame', DEFAULT_MAX_FRAME))}
    except (ValueError, KeyError, TypeError) as e:
        raise WeightsError(f'{source}: its meta is not {{"config", "preset", "data_mode"}} JSON ({e!r})') from None
    # Weights written before these keys existed have neither: they load as "not recorded".
    meta.update({key: stored[key] for key in OPTIONAL_META if key in stored})
    return meta


def _model_from_meta(meta, source, num_class):
    """A built STGCN with meta's config, model.meta set; num_class must agree."""
    try:
        config = STGCNConfig.from_dict(meta['config'])
    except (ValueError, TypeError) as e:
        raise WeightsError(f'{source}: its stored config is invalid ({e})') from None
    _check_num_class(config, num_class, source)
    model = STGCN(config)
    model.build((None, config.in_channels, None, model.num_node, config.num_person))
    model.meta = {'preset': meta['preset'], 'data_mode': meta['data_mode'], 'max_frame': meta['max_frame'],
                  'source': str(source)}
    model.meta.update(_recorded(meta, config, source))
    return model


def _recorded(meta, config, source):
    """The optional keys of a stored meta (class_names, stream), checked against the model's config."""
    recorded = {key: meta[key] for key in OPTIONAL_META if meta.get(key) is not None}
    if 'class_names' in recorded:
        problem = _class_names_problem(recorded['class_names'], config.num_class)
        if problem:
            raise WeightsError(f'{source}: its meta\'s class_names {problem}')
        recorded['class_names'] = list(recorded['class_names'])
    if 'stream' in recorded and recorded['stream'] not in STREAMS:
        raise WeightsError(f'{source}: its meta records stream {recorded["stream"]!r}, not one of '
                           f'{", ".join(STREAMS)}')
    return recorded


def _check_num_class(config, num_class, source):
    if num_class is not None and num_class != config.num_class:
        raise WeightsError(f'{source}: the weights have {config.num_class} classes but num_class={num_class} was '
                           f'asked; pass num_class={config.num_class} or None')


def _first_line(error):
    # Library errors can span many lines; ours stay one line (the CLI prints exactly one).
    lines = str(error).splitlines()
    return lines[0][:300] if lines else error.__class__.__name__


def _preset_of(config):
    """The name of the preset `config` derives from (ignoring sizes: classes, channels, layout), or 'custom'."""
    for name, preset in PRESETS.items():
        sized = dataclasses.replace(preset, num_class=config.num_class, in_channels=config.in_channels,
                                    num_person=config.num_person, layout=config.layout, channels=config.channels)
        if sized == config:
            return name
    return 'custom'


def _is_torch_file(path):
    """True for a torch.save file whatever its name: the legacy pickle magic, or a zip holding data.pkl."""
    with open(path, 'rb') as f:
        head = f.read(len(TORCH_LEGACY_MAGIC))
    if head == TORCH_LEGACY_MAGIC:
        return True
    if head.startswith(b'PK\x03\x04'):
        try:
            with zipfile.ZipFile(path) as z:
                return any(name.endswith('/data.pkl') or name == 'data.pkl' for name in z.namelist())
        except zipfile.BadZipFile:  # a zip header over garbage: no torch file
            return False
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m model.weights',
                                     description='Convert any weights load_pretrained reads to this project\'s '
                                                 f'{WEIGHTS_SUFFIX} (accepted: {"; ".join(ACCEPTED_FORMATS)}).')
    parser.add_argument('--weights', required=True, help='the weights to convert (file, ckpt-N prefix or directory)')
    parser.add_argument('--out', required=True, help=f'the file to write, ending in {WEIGHTS_SUFFIX}')
    parser.add_argument('--num-class', '--num_class', dest='num_class', type=int, default=None,
                        help='expected class count; an error if the weights have another')
    args = parser.parse_args(argv)
    if not args.out.endswith(WEIGHTS_SUFFIX):
        return _fail(f'--out {args.out}: must end in {WEIGHTS_SUFFIX}')
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        return _fail(f'--out {args.out}: folder {os.path.dirname(os.path.abspath(args.out))} does not exist')
    try:
        model = load_pretrained(args.weights, num_class=args.num_class)
        save_weights(model, args.out)
    except WeightsError as e:
        return _fail(str(e))
    meta = model.meta
    print(f'{args.out}: preset {meta["preset"]}, {model.config.num_class} classes, data mode {meta["data_mode"]} '
          f'(from {meta["source"]})')
    return 0


def _fail(message):
    print(f'error: {message}', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
