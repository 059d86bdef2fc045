"""Fine-tuning given weights: the backbone (data_bn and the ten blocks) and the head (the classifier fcn).

    transplant(source, target)   # every weight of `source` but fcn's into `target` (another class count)
    freeze_backbone(model)       # only fcn trains; data_bn and the blocks run in inference mode

The split follows the model's own structure (model/stgcn.py STGCN): fcn is the only layer whose shape depends on
the class count, so it is the one a new task replaces.
"""
from model.errors import WeightsError


def head_variables(model):
    """The classifier's variables: fcn's kernel (C_last, num_class) and bias (num_class,)."""
    return list(model.fcn.weights)


def backbone_variables(model):
    """Every trainable variable but fcn's: data_bn's scale and offset and the ten blocks' weights."""
    return _outside_head(model, model.trainable_variables)


def transplant(source, target):
    """Copy every weight of the built STGCN `source` but fcn's, moving BatchNorm statistics included, into the
    built STGCN `target`, which must have the same architecture up to num_class. fcn keeps the initialisation
    target was built with (its config's initialiser). Raises WeightsError naming the first mismatch."""
    kept = _outside_head(target, target.weights)
    given = _outside_head(source, source.weights)
    if len(kept) != len(given):
        raise WeightsError(f'the weights hold {len(given)} variables outside the classifier, the model '
                           f'{len(kept)}: not the same architecture')
    for to, value in zip(kept, given):
        # Paths start with the model's unique name (stgcn_3/block0/...): compare what follows.
        if _local_path(to) != _local_path(value) or tuple(to.shape) != tuple(value.shape):
            raise WeightsError(f'the weights\' {_local_path(value)} {tuple(value.shape)} does not fit the model\'s '
                               f'{_local_path(to)} {tuple(to.shape)}')
        to.assign(value)


def freeze_backbone(model):
    """Make data_bn and the ten blocks non-trainable: model.trainable_variables is then fcn's alone, so the
    optimizer neither updates nor decays the rest. A non-trainable BatchNormalization runs in inference mode
    (Keras' rule: it normalises with, and never updates, its moving statistics) and a non-trainable block drops
    no units (STGCNBlock.call), so the frozen backbone computes in training exactly what it computes at test
    time (docs/departures.md)."""
    model.data_bn.trainable = False
    for block in model.blocks:
        block.trainable = False


def _outside_head(model, variables):
    head = {id(v) for v in head_variables(model)}
    return [v for v in variables if id(v) not in head]


def _local_path(variable):
    return variable.path.split('/', 1)[1]
