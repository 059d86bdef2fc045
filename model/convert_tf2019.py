"""The 2019 TF port's checkpoints (the Dropbox weights) -> a built Keras STGCN, preset `tf2019`.

Those files are `tf.train.Checkpoint(model=, optimizer=)` object graphs; the key layout is docs/reference.md section 5. The
port's kernels are already Keras (kh, kw, I, O); only its 1x1 convs become this model's Dense kernels.
"""
import os
import re

import numpy as np
import tensorflow as tf

from graphs import Graph
from model.config import DEFAULT_MAX_FRAME
from model.errors import WeightsError
from model.stgcn import build_model

VALUE_SUFFIX = '/.ATTRIBUTES/VARIABLE_VALUE'
# Keras-2 optimizers file their slots under the variable's own key: `<key>/.OPTIMIZER_SLOT/optimizer/momentum`.
SLOT_MARKER = '/.OPTIMIZER_SLOT/'
LAYOUT_KEY = 'model/STGCN_layers/'
# The port trained on NTU RGB+D only, with 2s-AGCN's identity / inward / outward graph.
LAYOUT, PARTITION = 'ntu-rgb+d', 'agcn'


def checkpoint_prefix(path):
    """The TF checkpoint prefix `path` names, or None when it names none.

    Accepts a prefix (`.../ckpt-50`), one of its files (`ckpt-50.index`, `ckpt-50.data-00000-of-00001`), or a
    directory holding a `checkpoint` file (its latest checkpoint).
    """
    path = str(path)
    if os.path.isdir(path):
        return tf.train.latest_checkpoint(path)
    path = re.sub(r'\.(index|data-\d+-of-\d+)$', '', path)
    return path if os.path.isfile(path + '.index') else None


def is_tf2019_checkpoint(variable_names):
    """True when a checkpoint's variable names follow the port's layout."""
    return any(name.startswith(LAYOUT_KEY) for name in variable_names)


def load_tf2019_checkpoint(path, num_class=None):
    """Read a 2019 port checkpoint (prefix or directory) into a new STGCN (preset `tf2019`).

    num_class and in_channels come from the tensor shapes; a given num_class must agree with the file.
    Optimizer hyper-parameters and slots in the file are ignored.
    """
    prefix = checkpoint_prefix(path)
    if prefix is None:
        raise WeightsError(f'{path}: not a TF checkpoint (no {path}.index, and no directory with a `checkpoint` '
                           f'file); pass the ckpt-N prefix or its directory')
    reader = tf.train.load_checkpoint(prefix)
    shapes = {_strip_suffix(name): tuple(shape) for name, shape in reader.get_variable_to_shape_map().items()
              if name.startswith('model/') and SLOT_MARKER not in name}
    for key in ('model/A', 'model/logits/kernel', 'model/STGCN_layers/0/sgcn/conv/kernel'):
        if key not in shapes:
            raise WeightsError(f'{prefix}: not a 2019 TF port checkpoint (no variable {key!r}); its model '
                               f'variables start with {sorted(shapes)[:4]}')
    file_class = shapes['model/logits/kernel'][-1]
    if num_class is not None and num_class != file_class:
        raise WeightsError(f'{prefix}: the weights have {file_class} classes but num_class={num_class} was asked; '
                           f'pass num_class={file_class} or None')
    in_channels = shapes['model/STGCN_layers/0/sgcn/conv/kernel'][2]
    model = build_model('tf2019', num_class=file_class, in_channels=in_channels, layout=LAYOUT, partition=PARTITION)

    A = reader.get_tensor('model/A' + VALUE_SUFFIX)
    expected_A = Graph(LAYOUT, PARTITION).A
    if A.shape != expected_A.shape or not np.allclose(A, expected_A, atol=1e-6):
        raise WeightsError(f'{prefix}: its graph model/A {A.shape} differs from the {LAYOUT}/{PARTITION} graph '
                           f'{expected_A.shape} the port used; these weights were trained on another graph')
    targets = _targets(model)
    missing = sorted(set(targets) - set(shapes))
    if missing:
        raise WeightsError(f'{prefix}: {len(missing)} expected variable(s) missing, e.g. {missing[:4]}')
    unexpected = sorted(set(shapes) - set(targets) - {'model/A'})
    if unexpected:
        raise WeightsError(f'{prefix}: {len(unexpected)} variable(s) not in the 2019 port\'s model, e.g. '
                           f'{unexpected[:4]}; this checkpoint is another architecture')
    for key, (variable, to_keras) in targets.items():
        if shapes[key] != _port_shape(variable.shape, to_keras):
            raise WeightsError(f'{prefix}: {key} has shape {shapes[key]}; the model expects '
                               f'{_port_shape(variable.shape, to_keras)}')
        variable.assign(to_keras(reader.get_tensor(key + VALUE_SUFFIX)).astype(np.float32))
    model.meta = {'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': DEFAULT_MAX_FRAME, 'source': str(prefix)}
    return model


def _targets(model):
    """Checkpoint key (without VALUE_SUFFIX) -> (Keras variable, numpy transform from the port's layout)."""
    targets = {}
    _add_bn(targets, 'model/data_bn', model.data_bn)
    for i, block in enumerate(model.blocks):
        prefix = f'model/STGCN_layers/{i}'
        targets[f'{prefix}/sgcn/conv/kernel'] = (block.gcn_conv.kernel, _conv1x1_to_dense)  # (I, K*O), k-major
        targets[f'{prefix}/sgcn/conv/bias'] = (block.gcn_conv.bias, _same)
        # The port's tgcn Sequential is BN, Activation, Conv2D, BN: the Activation holds no weights, so the
        # checkpoint numbers the other three layer_with_weights-0, -1, -2.
        _add_bn(targets, f'{prefix}/tgcn/layer_with_weights-0', block.tcn_bn1)
        targets[f'{prefix}/tgcn/layer_with_weights-1/kernel'] = (block.tcn_conv.kernel, _same)  # (9, 1, C, C)
        targets[f'{prefix}/tgcn/layer_with_weights-1/bias'] = (block.tcn_conv.bias, _same)
        _add_bn(targets, f'{prefix}/tgcn/layer_with_weights-2', block.tcn_bn2)
        if block.residual == 'conv':
            targets[f'{prefix}/residual/layer_with_weights-0/kernel'] = (block.residual_conv.kernel, _same)
            targets[f'{prefix}/residual/layer_with_weights-0/bias'] = (block.residual_conv.bias, _same)
            _add_bn(targets, f'{prefix}/residual/layer_with_weights-1', block.residual_bn)
    targets['model/logits/kernel'] = (model.fcn.kernel, _conv1x1_to_dense)  # (256, classes)
    targets['model/logits/bias'] = (model.fcn.bias, _same)
    return targets


def _add_bn(targets, prefix, bn):
    for name in ('gamma', 'beta', 'moving_mean', 'moving_variance'):
        targets[f'{prefix}/{name}'] = (getattr(bn, name), _same)


def _same(w):
    return w


def _conv1x1_to_dense(w):
    """The port's 1x1 Conv2D kernel (1, 1, I, O) -> Keras Dense (I, O)."""
    return w[0, 0]


def _port_shape(keras_shape, to_keras):
    """The shape the port stores for a variable of `keras_shape`."""
    keras_shape = tuple(keras_shape)
    return (1, 1) + keras_shape if to_keras is _conv1x1_to_dense else keras_shape


def _strip_suffix(name):
    return name[:-len(VALUE_SUFFIX)] if name.endswith(VALUE_SUFFIX) else name
