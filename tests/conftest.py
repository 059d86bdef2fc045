"""Test-wide setup: run from the repository root, quiet TensorFlow, CPU only."""
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.chdir(ROOT)


@pytest.fixture(scope='module')
def tiny_records(tmp_path_factory):
    """Tiny TFRecord folders {root}/train (16 samples) and {root}/val (7: the last evaluation batch is partial)."""
    from tests.tiny_data import write_tiny_records

    root = tmp_path_factory.mktemp('records')
    write_tiny_records(root / 'train', 16, seed=0)
    write_tiny_records(root / 'val', 7, seed=1, stem='val')
    return root


@pytest.fixture
def float32_policy():
    """Leave Keras' global dtype policy float32 after a test that may change it (main.py --mixed-precision)."""
    import keras

    yield
    keras.mixed_precision.set_global_policy('float32')
