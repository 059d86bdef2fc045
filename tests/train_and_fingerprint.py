"""`python tests/train_and_fingerprint.py MAIN_FLAGS...`: main.py's train phase, then print the weights'
fingerprint, so that a test can compare the weights several workers end with (only the chief saves them)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import main  # noqa: E402
from training.config import resolve_config  # noqa: E402


def fingerprint(model):
    """Sums and sums of squares of the trainable and the other weights, in float64: equal weights print equal
    fingerprints. Without --sync-bn each replica keeps its own BatchNorm statistics, so only the first pair
    must agree across workers."""
    def sums(variables):
        values = [np.asarray(v, np.float64) for v in variables]
        return f'{sum(v.sum() for v in values):.17g} {sum((v * v).sum() for v in values):.17g}'
    return f'trainable {sums(model.trainable_weights)}, statistics {sums(model.non_trainable_weights)}'


if __name__ == '__main__':
    model = main.run(resolve_config(sys.argv[1:]))
    print(f'weights fingerprint {fingerprint(model)}', flush=True)
