"""Give a model weights of a trained-looking scale for tests that compare outputs.

The initial weights (N(0, 0.02) convs) give logits near zero and near-uniform softmaxes: an export would match
them to 1e-5 and a wrong preprocessing would go unnoticed.
"""
import numpy as np


def randomize(model, seed):
    """Assign every weight of `model` in place from `seed`; returns the model."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        if w.path.endswith('moving_variance'):
            value = rng.uniform(0.5, 2.0, shape)
        elif len(shape) > 1:  # conv/dense kernels and edge importance: unit-variance outputs
            value = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[:-1])), shape)
        else:
            value = rng.normal(0.0, 0.2, shape) + (1.0 if w.path.endswith('gamma') else 0.0)
        w.assign(value.astype(np.float32))
    return model
