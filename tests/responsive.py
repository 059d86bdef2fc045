"""A small model whose softmax follows its input, for tests that check an input's preprocessing through it.

trained_scale.randomize gives every BatchNorm a random mean and shift: for inputs of a tenth of a unit (2D poses
normalised by the frame size, PYSKL's) those constants dominate, and zeroing the input moves the softmax by
1e-5. Here the constants are zero, data_bn scales the input to unit size and the head to logits of unit size,
so the network is positively homogeneous (f(a x) = a f(x), f(0) = 0) and a wrong input shows.
"""
import numpy as np

from tests.trained_scale import randomize

LOGIT_STD = 2.0  # logits of this spread on the example input: probabilities far from uniform, not one-hot


def responsive(model, example, seed=0):
    """Give `model` weights (in place) that respond to inputs like `example`; returns the model.

    Shape: example (N, C, T, V, M) float32, inputs of the size the tests feed.
    """
    randomize(model, seed)
    for w in model.weights:
        if len(w.shape) == 1 and not w.path.endswith(('gamma', 'moving_variance')):
            w.assign(np.zeros(w.shape, np.float32))  # biases, BN betas and means
    bn = model.data_bn
    scale = float(np.std(example)) or 1.0
    bn.moving_variance.assign(np.full(bn.moving_variance.shape, scale ** 2, np.float32))
    logits = np.asarray(model(np.asarray(example, np.float32), training=False))
    model.fcn.kernel.assign(np.asarray(model.fcn.kernel) * np.float32(LOGIT_STD / logits.std()))
    return model
