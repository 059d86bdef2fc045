"""PYSKL's recipe end to end on the CPU (config/pyskl/demo.yaml): synthetic skeletons -> gen_pyskl_data's
annotation pickle -> main.py training from the pickle with the cosine LR -> the 10-clip test phase."""
import pickle

import numpy as np
import pytest
import tensorflow as tf

import ensemble
import main
from data_gen import gen_pyskl_data, gen_synthetic_data
from tests.events import scalars
from training import metrics
from training.schedule import CosineLR


# main.py runs set a mixed-precision policy for the process: each test here leaves it float32 again.
pytestmark = pytest.mark.usefixtures('float32_policy')


@pytest.fixture(scope='module')
def annotations(tmp_path_factory):
    root = tmp_path_factory.mktemp('pyskl')
    assert gen_synthetic_data.main(['--out', str(root / 'skeletons'), '--num-classes', '4', '--num-performers', '4',
                                    '--replications', '1', '--max-frames', '48', '--seed', '1']) == 0
    out = root / 'ntu60_3danno.pkl'
    assert gen_pyskl_data.main(['--data-path', str(root / 'skeletons'), '--dataset', 'ntu60', '--out', str(out),
                                '--ignored-sample-path', '', '--workers', '1', '--no-progress']) == 0
    return out


def test_demo_config_trains_from_the_pickle_then_tests_on_ten_clips(annotations, tmp_path, capsys):
    ckpt, logs = tmp_path / 'ckpt', tmp_path / 'logs'
    paths = ['--train-data-path', annotations, '--test-data-path', annotations, '--checkpoint-path', ckpt,
             '--log-dir', logs, '--no-progress']
    assert main.main([str(a) for a in ['--config', 'config/pyskl/demo.yaml'] + paths]) == 0
    out = capsys.readouterr().out
    # 24 training samples (the synthetic xsub training performers), global batch 8: 3 steps an epoch.
    assert 'replicas: 1, global batch: 8 (8 per replica), steps per epoch: 3, train samples: 24' in out
    assert 'lr: 0.1 for a global batch of 128, scaled linearly to 0.00625' in out
    assert out.count('eval on 24 samples') == 2  # every epoch, one clip
    lr = scalars(logs, 'train/lr')
    expected = CosineLR(0.1 * 8 / 128, 6)
    assert [lr[s] for s in range(6)] == pytest.approx([float(expected(s)) for s in range(6)], rel=1e-6)
    assert lr[0] == pytest.approx(0.00625) and lr[5] < lr[3] < lr[0]
    assert all(np.isfinite(v) for v in scalars(logs, 'train/loss').values())

    scores = tmp_path / 'scores.pkl'
    assert main.main(['--phase', 'test', '--weights', str(ckpt), '--test-data-path', str(annotations),
                      '--test-split', 'xsub_val', '--clip-len', '32', '--num-clips', '10', '--log-dir',
                      str(tmp_path / 'test_logs'), '--save-scores', str(scores), '--no-progress']) == 0
    assert 'eval on 24 samples' in capsys.readouterr().out
    with open(scores, 'rb') as f:
        saved = pickle.load(f)
    probabilities = np.stack(list(saved.values()))  # PYSKL saves the clip-averaged probabilities
    # The class count is the pickle's (its highest label + 1: the synthetic actions are filed under NTU numbers).
    assert probabilities.shape == (24, 24) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # Fusing streams against the pickle's own labels (here one stream twice, weights 2 : 1).
    assert ensemble.main(['--scores', str(scores), str(scores), '--weights', '2', '1', '--label-path',
                          str(annotations), '--split', 'xsub_val']) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith('fusion')


def test_clip_averaging_in_the_graph_equals_the_numpy_one():
    """evaluation.predict_dataset averages softmax probabilities over clips in TF; metrics does it in numpy."""
    logits = np.random.default_rng(0).standard_normal((3 * 10, 5)).astype(np.float32)
    in_graph = tf.reduce_mean(tf.reshape(tf.nn.softmax(logits), [3, 10, 5]), axis=1).numpy()
    np.testing.assert_allclose(in_graph, metrics.average_clip_probabilities(logits, 10), atol=1e-6)


def test_a_pickle_without_its_split_is_a_one_line_error(annotations, tmp_path, capsys):
    code = main.main(['--config', 'config/pyskl/demo.yaml', '--train-data-path', str(annotations),
                      '--test-data-path', str(annotations), '--train-split', 'xsub_trian',
                      '--checkpoint-path', str(tmp_path / 'c'), '--log-dir', str(tmp_path / 'l')])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith('error: --train-data-path') and "no split 'xsub_trian'" in err[-1]
    assert 'xsub_train' in err[-1]  # the file's splits are listed
