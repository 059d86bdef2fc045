"""PYSKL and mmaction2 1.x ST-GCN checkpoints (`.pth`) -> a built Keras STGCN, preset `pyskl`.

A checkpoint is {'state_dict': {...}, 'meta': ..., 'optimizer': ...} (docs/reference.md section 8). Keys:
    backbone.data_bn.*                                    BatchNorm1d over V*C (PYSKL's data_bn_type 'VC')
    backbone.gcn.{i}.gcn.{A,PA}                           (K, V, V): the graph and its edge importance
    backbone.gcn.{i}.gcn.conv.{weight,bias}               (K*C_out, C_in, 1, 1)
    backbone.gcn.{i}.gcn.bn.*, backbone.gcn.{i}.tcn.conv.* (C, C, 9, 1), backbone.gcn.{i}.tcn.bn.*
    backbone.gcn.{4,7}.residual.{conv,bn}.*               the 1x1 stride-2 residual
    cls_head.fc_cls.{weight,bias} (PYSKL) or cls_head.fc.{weight,bias} (mmaction2 1.x)   Linear (classes, 256)

The network computes what the official one does, so the Keras STGCN serves it unchanged (checked against
kennymckormick/pyskl:pyskl/models/gcns/stgcn.py:STGCNBlock.forward, pyskl/models/gcns/utils/gcn.py:unit_gcn.forward,
pyskl/models/gcns/utils/tcn.py:unit_tcn.forward, pyskl/models/heads/simple_head.py:SimpleHead.forward and
open-mmlab/mmaction2:mmaction/models/backbones/stgcn.py:STGCN.forward,
mmaction/models/heads/gcn_head.py:GCNHead.forward):
- unit_gcn: 1x1 conv to K*C_out, einsum 'nkctv,kvw->nctw' with A * PA (PA is the official edge importance, kept
  inside the unit), then BN and ReLU: the official gcn followed by tcn.0 (BN) and tcn.1 (ReLU).
- unit_tcn: 9x1 conv, padding (4, 0) on both sides also at stride 2, then BN, dropout 0.
- residual: none in block 0, identity where shapes agree, else unit_tcn with kernel 1 (1x1 conv stride s + BN).
- data_bn 'VC': (N, M, T, V, C) viewed as (N*M, V*C, T), channel v*C + c, as the official data_bn.
- head: mean over (T, V) per person, mean over M, dropout 0, Linear (the official 1x1 conv).
Where they differ (graph, dropout, initialisation) is the `pyskl` preset in model/config.py.
mmaction2 0.x (`backbone.st_gcn_networks.*`) is the older mmskeleton-style network with its own keys; it is refused.
"""
import collections
import pickle
import zipfile

import numpy as np

from model.convert_torch import (OPTIONAL_SUFFIX, _add_bn, _conv1x1_to_dense, _conv_to_keras, _import_torch,
                                 _max_diff, _same, _torch_shape)
from model.errors import WeightsError
from model.stgcn import build_model

# V of the checkpoint's graph -> the layout that produced it and the data it expects.
LAYOUT_BY_NUM_NODE = {25: 'ntu-rgb+d-pyskl', 17: 'coco'}
DATA_MODE_BY_LAYOUT = {'ntu-rgb+d-pyskl': 'pyskl3d', 'coco': 'pyskl2d'}
# UniformSample(clip_len=100) in every configs/stgcn/stgcn_pyskl_*/j.py: the T the weights were trained on.
PYSKL_MAX_FRAME = 100
HEAD_PREFIXES = ('cls_head.fc_cls', 'cls_head.fc')  # PYSKL's SimpleHead, mmaction2 1.x's GCNHead
MMACTION2_0X_PREFIXES = ('backbone.st_gcn_networks.', 'backbone.edge_importance.')
# torch.save's storage classes (pickled as globals of module torch) -> their element type.
STORAGE_DTYPES = {'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
                  'LongStorage': np.int64, 'IntStorage': np.int32, 'ShortStorage': np.int16,
                  'CharStorage': np.int8, 'ByteStorage': np.uint8, 'BoolStorage': np.bool_}
# What a malformed pickle raises while our unpickler reads it.
UNPICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                   zipfile.BadZipFile, RecursionError, MemoryError)


def is_pyskl_checkpoint(path):
    """True for a torch zip file whose state_dict has PYSKL/mmaction2 keys (`backbone.`, `cls_head.`).

    Reads only the pickle, no tensor data, and runs nothing it names; anything it cannot read is left to the
    official loader (False).
    """
    try:
        obj = _read_zip_pickle(path)[0]
    except (OSError,) + UNPICKLE_ERRORS:
        return False
    state = obj.get('state_dict') if isinstance(obj, dict) else None
    return isinstance(state, dict) and any(isinstance(k, str) and k.startswith(('backbone.', 'cls_head.'))
                                           for k in state)


def load_pyskl_weights(path, num_class=None):
    """Read a PYSKL or mmaction2 1.x checkpoint into a new STGCN (preset `pyskl`), model.meta set.

    torch.load(weights_only=True) reads the file; a raw mmengine checkpoint, whose `message_hub` holds objects
    weights_only refuses, is read instead by an unpickler that turns every such object into an inert stand-in
    and keeps only the state_dict's tensors (mmengine is never imported, nothing in the file runs).
    """
    torch = _import_torch(path)
    try:
        obj = torch.load(str(path), map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f'{path}: no such file') from None
    except pickle.UnpicklingError as e:  # weights_only refused a global (mmengine's MessageHub, numpy in meta)
        if not zipfile.is_zipfile(path):
            raise WeightsError(f'{path}: torch.load refuses to read it safely ({_first_line(e)})') from None
        return pyskl_state_dict_to_model(_read_zip_state_dict(path), num_class=num_class, source=path)
    except Exception as e:  # torch raises zip and runtime errors alike for a file it cannot read
        raise WeightsError(f'{path}: not a PyTorch checkpoint torch.load can read safely ({e.__class__.__name__}: '
                           f'{_first_line(e)})') from None
    state = obj.get('state_dict') if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f'{path}: holds no {{"state_dict": {{name: tensor}}}} (top level: {_describe(obj)}); '
                           f'a PYSKL or mmaction2 checkpoint keeps its weights there')
    return pyskl_state_dict_to_model({k: v.detach().cpu().numpy() for k, v in state.items()},
                                     num_class=num_class, source=path)


def pyskl_state_dict_to_model(state_dict, num_class=None, source='state_dict'):
    """A PYSKL / mmaction2 1.x state_dict (name -> numpy array or tensor) as a built STGCN, preset `pyskl`.

    The layout (V = 25: 3D NTU, V = 17: 2D COCO), in_channels and num_class come from the tensor shapes; a
    given num_class must agree with the file. model.meta = {'preset', 'data_mode', 'max_frame', 'layout', 'source'}.
    """
    sd = {k: np.asarray(v) for k, v in state_dict.items()}
    old = sorted(k for k in sd if k.startswith(MMACTION2_0X_PREFIXES))
    if old:
        raise WeightsError(f'{source}: an mmaction2 0.x ST-GCN checkpoint (key {old[0]!r}); 0.x is the older '
                           f'mmskeleton-style network with its own keys, not the PYSKL / mmaction2 1.x network this '
                           f'loader reads (keys backbone.gcn.{{i}}.gcn.*)')
    heads = [p for p in HEAD_PREFIXES if f'{p}.weight' in sd]
    if len(heads) != 1:
        raise WeightsError(f'{source}: expected exactly one head, {" or ".join(p + ".weight" for p in HEAD_PREFIXES)}'
                           f'; found {heads or "none"} (keys start with {sorted(sd)[:5]})')
    head = heads[0]
    for key in ('backbone.data_bn.weight', 'backbone.gcn.0.gcn.conv.weight', 'backbone.gcn.0.gcn.A'):
        if key not in sd:
            raise WeightsError(f'{source}: not a PYSKL ST-GCN state_dict (no key {key!r}); keys start with '
                               f'{sorted(sd)[:5]}')
    if sd[f'{head}.weight'].ndim != 2:
        raise WeightsError(f'{source}: {head}.weight has shape {sd[f"{head}.weight"].shape}; PYSKL\'s head is a '
                           f'Linear (classes, channels)')
    file_class = sd[f'{head}.weight'].shape[0]
    if num_class is not None and num_class != file_class:
        raise WeightsError(f'{source}: the weights have {file_class} classes but num_class={num_class} was asked; '
                           f'pass num_class={file_class} or None')
    graph = sd['backbone.gcn.0.gcn.A']
    if graph.ndim != 3 or graph.shape[-1] not in LAYOUT_BY_NUM_NODE:
        raise WeightsError(f'{source}: backbone.gcn.0.gcn.A has shape {graph.shape}; expected (K, V, V) with V in '
                           f'{sorted(LAYOUT_BY_NUM_NODE)} ({", ".join(LAYOUT_BY_NUM_NODE.values())})')
    layout = LAYOUT_BY_NUM_NODE[graph.shape[-1]]
    in_channels = sd['backbone.gcn.0.gcn.conv.weight'].shape[1]
    model = build_model('pyskl', num_class=file_class, layout=layout, in_channels=in_channels)

    for i in range(len(model.blocks)):
        key = f'backbone.gcn.{i}.gcn.A'
        if key in sd and (sd[key].shape != model.A.shape or not np.allclose(sd[key], model.A, atol=1e-6)):
            raise WeightsError(f'{source}: {key} differs from the {layout}/{model.config.partition} graph this model '
                               f'uses (max |diff| {_max_diff(sd[key], model.A)}); these weights were trained on '
                               f'another graph')
    targets = _targets(model, head)
    graphs = {f'backbone.gcn.{i}.gcn.A' for i in range(len(model.blocks))}
    missing = sorted((set(targets) | graphs) - set(sd))
    if missing:
        raise WeightsError(f'{source}: {len(missing)} expected key(s) missing, e.g. {missing[:4]}; pass a PYSKL '
                           f'ST-GCN (10 blocks, unit_gcn with adaptive=\'importance\', unit_tcn)')
    unexpected = sorted(k for k in set(sd) - set(targets) - graphs if not k.endswith(OPTIONAL_SUFFIX))
    if unexpected:
        raise WeightsError(f'{source}: {len(unexpected)} key(s) not in PYSKL\'s ST-GCN, e.g. {unexpected[:4]}; '
                           f'these weights come from another architecture (ST-GCN++, CTR-GCN, ...)')
    for key, (variable, to_keras) in targets.items():
        value = to_keras(sd[key])
        if tuple(value.shape) != tuple(variable.shape):
            # The head is a Linear (O, I), not the official 1x1 conv.
            expected = tuple(variable.shape)[::-1] if to_keras is _linear_to_dense else _torch_shape(variable.shape)
            raise WeightsError(f'{source}: {key} has shape {sd[key].shape} (as Keras {value.shape}); the model '
                               f'expects {tuple(variable.shape)} (as PyTorch {expected}); '
                               f'the file is not a PYSKL ST-GCN with channels {model.config.channels}')
        variable.assign(value.astype(np.float32))
    model.meta = {'preset': 'pyskl', 'data_mode': DATA_MODE_BY_LAYOUT[layout], 'max_frame': PYSKL_MAX_FRAME,
                  'layout': layout, 'source': str(source)}
    return model


def _targets(model, head):
    """state_dict key -> (Keras variable, numpy transform from the PyTorch layout)."""
    targets = {}
    _add_bn(targets, 'backbone.data_bn', model.data_bn)
    for i, block in enumerate(model.blocks):
        prefix = f'backbone.gcn.{i}'
        targets[f'{prefix}.gcn.PA'] = (block.edge_importance, _same)  # (K, V, V)
        targets[f'{prefix}.gcn.conv.weight'] = (block.gcn_conv.kernel, _conv1x1_to_dense)  # (I, K*O)
        targets[f'{prefix}.gcn.conv.bias'] = (block.gcn_conv.bias, _same)
        _add_bn(targets, f'{prefix}.gcn.bn', block.tcn_bn1)
        targets[f'{prefix}.tcn.conv.weight'] = (block.tcn_conv.kernel, _conv_to_keras)  # (9, 1, C, C)
        targets[f'{prefix}.tcn.conv.bias'] = (block.tcn_conv.bias, _same)
        _add_bn(targets, f'{prefix}.tcn.bn', block.tcn_bn2)
        if block.residual == 'conv':
            targets[f'{prefix}.residual.conv.weight'] = (block.residual_conv.kernel, _conv_to_keras)  # (1, 1, I, O)
            targets[f'{prefix}.residual.conv.bias'] = (block.residual_conv.bias, _same)
            _add_bn(targets, f'{prefix}.residual.bn', block.residual_bn)
    targets[f'{head}.weight'] = (model.fcn.kernel, _linear_to_dense)  # (256, classes)
    targets[f'{head}.bias'] = (model.fcn.bias, _same)
    return targets


def _linear_to_dense(w):
    """torch.nn.Linear (O, I) -> Keras Dense (I, O)."""
    return w.T


# ---------------------------------------------------------------------------------------------------------
# A torch zip checkpoint read without torch's unpickler: for raw mmengine files, which weights_only refuses.


class _Opaque:
    """Whatever a checkpoint names besides tensors (mmengine's HistoryBuffer, numpy scalars): built from any
    arguments, filled by nothing, holding nothing. No code of the named class ever runs."""

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):  # a stand-in that is itself called (getattr(module, name)(...))
        return _Opaque()

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):  # dict subclasses are filled by SETITEMS
        pass

    def append(self, value):  # list subclasses by APPENDS
        pass

    def extend(self, values):
        pass


_Storage = collections.namedtuple('_Storage', 'dtype key numel')
_TensorRef = collections.namedtuple('_TensorRef', 'storage offset shape strides')


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    """Stands for torch._utils._rebuild_tensor_v2: a reference to the bytes, read later from the zip."""
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, *unused):  # torch._utils._rebuild_parameter: a Parameter is its data
    return data


class _CheckpointUnpickler(pickle.Unpickler):
    """Unpickles a torch zip file's data.pkl: tensors become _TensorRef, OrderedDict stays itself, every other
    global becomes _Opaque, so that nothing the file names is imported or run."""

    GLOBALS = {('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
               ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
               ('collections', 'OrderedDict'): collections.OrderedDict}

    def find_class(self, module, name):
        if module == 'torch' and name in STORAGE_DTYPES:
            return np.dtype(STORAGE_DTYPES[name])
        return self.GLOBALS.get((module, name), _Opaque)

    def persistent_load(self, pid):
        # torch.serialization._save's persistent_id: ('storage', storage type, key, location, numel)
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage'):
            raise pickle.UnpicklingError(f'unknown persistent id {pid!r:.80}')
        _, dtype, key, _, numel = pid
        if not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError(f'storage {key}: unsupported storage type')
        return _Storage(dtype, str(key), int(numel))


def _read_zip_pickle(path):
    """(the unpickled object, the open ZipFile's entry prefix, the byte order) of a torch zip checkpoint."""
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name == 'data.pkl' or name.endswith('/data.pkl')]
        if len(pickles) != 1:
            raise zipfile.BadZipFile('not a torch.save zip file (no single data.pkl)')
        prefix = pickles[0][:-len('data.pkl')]
        obj = _CheckpointUnpickler(archive.open(pickles[0])).load()
        names = set(archive.namelist())
        byteorder = archive.read(f'{prefix}byteorder').decode() if f'{prefix}byteorder' in names else 'little'
    return obj, prefix, byteorder


def _read_zip_state_dict(path):
    """The {name: numpy array} state_dict of a torch zip checkpoint whatever else it holds."""
    try:
        obj, prefix, byteorder = _read_zip_pickle(path)
    except (OSError,) + UNPICKLE_ERRORS as e:
        raise WeightsError(f'{path}: not a readable torch checkpoint ({e.__class__.__name__}: {_first_line(e)})') \
            from None
    state = obj.get('state_dict') if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise WeightsError(f'{path}: holds no {{"state_dict": ...}} (top level: {_describe(obj)}); a PYSKL or '
                           f'mmaction2 checkpoint keeps its weights there')
    bad = [k for k, v in state.items() if not isinstance(v, _TensorRef)]
    if bad:
        raise WeightsError(f'{path}: state_dict[{bad[0]!r}] is not a tensor')
    order = '<' if byteorder == 'little' else '>'
    with zipfile.ZipFile(path) as archive:
        return {k: _tensor(archive, prefix, ref, order, path, k) for k, ref in state.items()}


def _tensor(archive, prefix, ref, order, path, key):
    """The numpy array a _TensorRef points at (a copy, native byte order)."""
    try:
        raw = archive.read(f'{prefix}data/{ref.storage.key}')
    except KeyError:
        raise WeightsError(f'{path}: {key}: its storage {prefix}data/{ref.storage.key} is missing from the zip') \
            from None
    flat = np.frombuffer(raw, ref.storage.dtype.newbyteorder(order))
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.strides))
    if min(ref.shape, default=1) > 0 and not 0 <= ref.offset <= last < flat.size:
        raise WeightsError(f'{path}: {key} points outside its storage ({flat.size} elements)')
    view = np.lib.stride_tricks.as_strided(flat[ref.offset:], ref.shape,
                                           [s * flat.itemsize for s in ref.strides], writeable=False)
    return np.array(view, dtype=ref.storage.dtype)


def _describe(obj):
    return f'keys {sorted(map(str, obj))[:6]}' if isinstance(obj, dict) else f'a {type(obj).__name__}'


def _first_line(error):
    lines = str(error).splitlines()
    return lines[0][:300] if lines else error.__class__.__name__
