"""Official PyTorch ST-GCN weights (st-gcn / mmskeleton `.pth`/`.pt`) -> a built Keras STGCN, preset `paper`.

Key layout: docs/reference.md section 4. torch is imported only here, lazily; it is an optional dependency.
"""
import numpy as np

from model.config import DEFAULT_MAX_FRAME
from model.errors import WeightsError
from model.stgcn import build_model

# V of the state_dict's graph -> the layout that produced it.
LAYOUT_BY_NUM_NODE = {25: 'ntu-rgb+d', 18: 'openpose'}
# Written by torch >= 0.4.1 BatchNorms, absent from older files; the Keras BN has no counterpart.
OPTIONAL_SUFFIX = '.num_batches_tracked'


def load_torch_weights(path, num_class=None):
    """Read an official `.pth`/`.pt` file (zip or legacy format) into a new STGCN (preset `paper`).

    The file holds a state_dict, bare or as {'state_dict': ...}, keys optionally prefixed 'module.'.
    """
    torch = _import_torch(path)
    try:
        obj = torch.load(str(path), map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f'{path}: no such file') from None
    except Exception as e:  # torch raises pickle, zip and runtime errors alike for a file it cannot read
        raise WeightsError(f'{path}: not a PyTorch state_dict torch.load can read safely ({e.__class__.__name__}: '
                           f'{str(e).splitlines()[0] if str(e) else ""}); save the weights with '
                           f'torch.save(model.state_dict(), path)') from None
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f'{path}: holds a {type(obj).__name__}, not a state_dict of tensors; save the weights '
                           f'with torch.save(model.state_dict(), path)')
    state_dict = {k: v.detach().cpu().numpy() for k, v in obj.items()}
    return state_dict_to_model(state_dict, num_class=num_class, source=path)


def state_dict_to_model(state_dict, num_class=None, source='state_dict'):
    """An official state_dict (name -> numpy array or tensor) as a built STGCN with model.meta set.

    num_class, the layout (V = 25 or 18) and in_channels come from the tensor shapes; a given num_class must
    agree with the file.
    """
    sd = {_strip_module(k): np.asarray(v) for k, v in state_dict.items()}
    for key in ('A', 'fcn.weight', 'data_bn.weight', 'st_gcn_networks.0.gcn.conv.weight'):
        if key not in sd:
            raise WeightsError(f'{source}: not an official ST-GCN state_dict (no key {key!r}); '
                               f'keys start with {sorted(sd)[:5]}')
    file_class = sd['fcn.weight'].shape[0]
    if num_class is not None and num_class != file_class:
        raise WeightsError(f'{source}: the weights have {file_class} classes but num_class={num_class} was asked; '
                           f'pass num_class={file_class} or None')
    num_node = sd['A'].shape[-1]
    if num_node not in LAYOUT_BY_NUM_NODE:
        raise WeightsError(f'{source}: A has shape {sd["A"].shape}; expected V in {sorted(LAYOUT_BY_NUM_NODE)} '
                           f'joints ({", ".join(LAYOUT_BY_NUM_NODE.values())})')
    in_channels = sd['st_gcn_networks.0.gcn.conv.weight'].shape[1]
    model = build_model('paper', num_class=file_class, layout=LAYOUT_BY_NUM_NODE[num_node],
                        in_channels=in_channels)

    if sd['A'].shape != model.A.shape or not np.allclose(sd['A'], model.A, atol=1e-6):
        raise WeightsError(f'{source}: its graph A differs from the {model.config.layout}/{model.config.partition} '
                           f'graph this model uses (max |diff| {_max_diff(sd["A"], model.A)}); these weights were '
                           f'trained on another graph')
    targets = _targets(model)
    missing = sorted(set(targets) - set(sd))
    if missing:
        raise WeightsError(f'{source}: {len(missing)} expected key(s) missing, e.g. {missing[:4]}; pass the '
                           f'state_dict of the official st-gcn Model with edge_importance_weighting=True')
    unexpected = sorted(k for k in set(sd) - set(targets) - {'A'} if not k.endswith(OPTIONAL_SUFFIX))
    if unexpected:
        raise WeightsError(f'{source}: {len(unexpected)} key(s) not in the official model, e.g. {unexpected[:4]}; '
                           f'these weights come from another architecture')
    for key, (variable, to_keras) in targets.items():
        value = to_keras(sd[key])
        if tuple(value.shape) != tuple(variable.shape):
            raise WeightsError(f'{source}: {key} has shape {sd[key].shape} (as Keras {value.shape}); the model '
                               f'expects {tuple(variable.shape)} (as PyTorch {_torch_shape(variable.shape)}); '
                               f'the file is not an official ST-GCN with channels {model.config.channels}')
        variable.assign(value.astype(np.float32))
    # The official NTU models take raw camera coordinates, the Kinetics one (openpose layout) the official
    # Kinetics feeder's centred (x, y, score).
    data_mode = 'kinetics' if model.config.layout == 'openpose' else 'raw'
    model.meta = {'preset': 'paper', 'data_mode': data_mode, 'max_frame': DEFAULT_MAX_FRAME, 'source': str(source)}
    return model


def _targets(model):
    """state_dict key -> (Keras variable, numpy transform from the PyTorch layout)."""
    targets = {}
    _add_bn(targets, 'data_bn', model.data_bn)
    for i, block in enumerate(model.blocks):
        prefix = f'st_gcn_networks.{i}'
        targets[f'{prefix}.gcn.conv.weight'] = (block.gcn_conv.kernel, _conv1x1_to_dense)  # (I, K*O)
        targets[f'{prefix}.gcn.conv.bias'] = (block.gcn_conv.bias, _same)
        _add_bn(targets, f'{prefix}.tcn.0', block.tcn_bn1)
        targets[f'{prefix}.tcn.2.weight'] = (block.tcn_conv.kernel, _conv_to_keras)  # (9, 1, C, C)
        targets[f'{prefix}.tcn.2.bias'] = (block.tcn_conv.bias, _same)
        _add_bn(targets, f'{prefix}.tcn.3', block.tcn_bn2)
        if block.residual == 'conv':
            targets[f'{prefix}.residual.0.weight'] = (block.residual_conv.kernel, _conv_to_keras)  # (1, 1, I, O)
            targets[f'{prefix}.residual.0.bias'] = (block.residual_conv.bias, _same)
            _add_bn(targets, f'{prefix}.residual.1', block.residual_bn)
        targets[f'edge_importance.{i}'] = (block.edge_importance, _same)
    targets['fcn.weight'] = (model.fcn.kernel, _conv1x1_to_dense)  # (256, classes)
    targets['fcn.bias'] = (model.fcn.bias, _same)
    return targets


def _add_bn(targets, prefix, bn):
    targets[f'{prefix}.weight'] = (bn.gamma, _same)
    targets[f'{prefix}.bias'] = (bn.beta, _same)
    targets[f'{prefix}.running_mean'] = (bn.moving_mean, _same)
    targets[f'{prefix}.running_var'] = (bn.moving_variance, _same)


def _same(w):
    return w


def _conv_to_keras(w):
    """PyTorch conv (O, I, kh, kw) -> Keras Conv2D (kh, kw, I, O); other ranks pass through for the shape check."""
    return w.transpose(2, 3, 1, 0) if w.ndim == 4 else w


def _conv1x1_to_dense(w):
    """PyTorch 1x1 conv (O, I, 1, 1) -> Keras Dense (I, O); other shapes pass through for the shape check."""
    return w[:, :, 0, 0].T if w.ndim == 4 and w.shape[2:] == (1, 1) else w


def _torch_shape(keras_shape):
    keras_shape = tuple(keras_shape)
    if len(keras_shape) == 4:
        kh, kw, i, o = keras_shape
        return (o, i, kh, kw)
    if len(keras_shape) == 2:  # the 1x1 convs held as Dense kernels
        i, o = keras_shape
        return (o, i, 1, 1)
    return keras_shape


def _strip_module(key):
    # nn.DataParallel saves every key as 'module.<key>'.
    return key[len('module.'):] if key.startswith('module.') else key


def _max_diff(a, b):
    return float(np.abs(a - b).max()) if a.shape == b.shape else f'shapes {a.shape} vs {b.shape}'


def _import_torch(path):
    try:
        import torch
    except ImportError:
        raise WeightsError(f'{path}: reading PyTorch weights needs torch; install the pinned CPU build with '
                           f'`pip install -r requirements-torch.txt`') from None
    return torch
