"""training.metrics on hand-computed examples: top-k, per-class accuracy, confusion matrix, CSVs, image, scores."""
import csv
import pickle

import numpy as np
import pytest

from training import metrics

# 6 samples, 4 classes. Top-1 predictions: 0, 1, 1, 2, 3, 0 against labels 0, 1, 2, 2, 2, 3.
LOGITS = np.array([[5.0, 1.0, 0.0, 0.5],
                   [0.0, 4.0, 3.0, 1.0],
                   [0.0, 2.0, 1.5, 1.0],   # label 2 is 2nd
                   [0.0, 0.0, 3.0, 1.0],
                   [2.0, 0.5, 1.0, 3.0],   # label 2 is 3rd
                   [3.0, 2.0, 1.0, 0.0]],  # label 3 is 4th (last)
                  np.float32)
LABELS = np.array([0, 1, 2, 2, 2, 3])


def test_topk():
    assert metrics.topk_accuracy(LOGITS, LABELS, 1) == pytest.approx(3 / 6)
    assert metrics.topk_accuracy(LOGITS, LABELS, 2) == pytest.approx(4 / 6)
    assert metrics.topk_accuracy(LOGITS, LABELS, 3) == pytest.approx(5 / 6)
    assert metrics.topk_accuracy(LOGITS, LABELS, 5) == 1.0  # k capped at num_class


def test_ties_go_to_the_lower_class_index_as_argmax_does():
    logits = np.array([[1.0, 1.0, 0.0]])
    assert metrics.topk_accuracy(logits, [0], 1) == 1.0 and metrics.topk_accuracy(logits, [1], 1) == 0.0
    assert metrics.confusion_matrix(logits, [1])[1, 0] == 1


def test_confusion_and_per_class():
    confusion = metrics.confusion_matrix(LOGITS, LABELS)
    expected = np.array([[1, 0, 0, 0],
                         [0, 1, 0, 0],
                         [0, 1, 1, 1],
                         [1, 0, 0, 0]])
    np.testing.assert_array_equal(confusion, expected)
    assert confusion.dtype == np.int64
    np.testing.assert_allclose(metrics.per_class_accuracy(confusion), [1.0, 1.0, 1 / 3, 0.0])


def test_evaluate_and_classes_without_samples():
    logits = np.concatenate([LOGITS, np.zeros((6, 1), np.float32)], axis=1)  # a 5th class nobody has
    result = metrics.evaluate(logits, LABELS, num_class=5)
    assert result['top1'] == pytest.approx(0.5) and result['top5'] == 1.0 and result['num_samples'] == 6
    assert np.isnan(result['per_class_acc'][4])
    assert result['mean_class_acc'] == pytest.approx((1 + 1 + 1 / 3 + 0) / 4)  # over the 4 classes present
    assert result['confusion'].shape == (5, 5)


@pytest.mark.parametrize('logits,labels', [(LOGITS, LABELS[:5]), (LOGITS, LABELS + 1), (LOGITS[0], LABELS[:1]),
                                           (LOGITS[:0], LABELS[:0])])
def test_rejects_bad_input(logits, labels):
    with pytest.raises(ValueError):
        metrics.evaluate(logits, labels)


def test_evaluate_checks_num_class():
    with pytest.raises(ValueError, match='4 classes, expected 60'):
        metrics.evaluate(LOGITS, LABELS, num_class=60)


def test_per_class_csv(tmp_path):
    per_class = np.array([1.0, 0.5, np.nan])
    metrics.write_per_class_csv(per_class, tmp_path / 'a.csv')
    assert (tmp_path / 'a.csv').read_text() == 'class,accuracy\n0,1.000000\n1,0.500000\n2,\n'
    metrics.write_per_class_csv(per_class, tmp_path / 'b.csv', class_names=['drink water', 'eat, meal', 'x'],
                                counts=[3, 2, 0])
    rows = list(csv.reader(open(tmp_path / 'b.csv')))
    assert rows == [['class', 'name', 'num_samples', 'accuracy'], ['0', 'drink water', '3', '1.000000'],
                    ['1', 'eat, meal', '2', '0.500000'], ['2', 'x', '0', '']]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.csv', 'b.csv']  # no temporary files left


def test_confusion_csv(tmp_path):
    metrics.write_confusion_csv(np.array([[2, 1], [0, 3]]), tmp_path / 'c.csv')
    assert (tmp_path / 'c.csv').read_text() == 'true\\predicted,0,1\n0,2,1\n1,0,3\n'


def test_save_scores(tmp_path):
    names = [f'S001C001P001R001A00{i}' for i in range(1, 7)]
    metrics.save_scores(names, LOGITS, tmp_path / 'scores.pkl')
    with open(tmp_path / 'scores.pkl', 'rb') as f:
        scores = pickle.load(f)
    assert list(scores) == names  # sample order kept, as 2s-AGCN's ensemble reads .items() in order
    for name, row in zip(names, LOGITS):
        assert scores[name].dtype == np.float32
        np.testing.assert_array_equal(scores[name], row)
    with pytest.raises(ValueError, match='repeat'):
        metrics.save_scores(names[:1] * 6, LOGITS, tmp_path / 'dup.pkl')
    with pytest.raises(ValueError):
        metrics.save_scores(names[:5], LOGITS, tmp_path / 'short.pkl')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['scores.pkl']


# ---- PYSKL's multi-clip test: average_clips='prob' ----

def _pyskl_average_clip(cls_score, average_clips):
    """kennymckormick/pyskl:pyskl/models/recognizers/base.py:average_clip on (batch, num_clips, num_class)."""
    if average_clips == 'prob':
        exp = np.exp(cls_score - cls_score.max(axis=2, keepdims=True))
        return (exp / exp.sum(axis=2, keepdims=True)).mean(axis=1)
    return cls_score.mean(axis=1)  # 'score'


def test_average_clip_probabilities_equals_pyskl():
    logits = np.random.default_rng(0).standard_normal((3 * 10, 7)) * 5  # 3 samples x 10 clips
    ours = metrics.average_clip_probabilities(logits, 10)
    assert ours.shape == (3, 7)
    np.testing.assert_allclose(ours, _pyskl_average_clip(logits.reshape(3, 10, 7), 'prob'), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.sum(axis=1), 1, atol=1e-12)
    np.testing.assert_allclose(metrics.average_clip_probabilities(logits, 1),  # one clip: the softmax
                               _pyskl_average_clip(logits[:, None], 'prob'), atol=1e-12)
    big = metrics.average_clip_probabilities(np.array([[1000.0, 0.0], [0.0, 1000.0]]), 2)
    np.testing.assert_allclose(big, [[0.5, 0.5]])  # no overflow


def test_probabilities_and_averaged_logits_disagree():
    """One confident clip for class 0 outweighs four mild ones for class 1 in the logits, not in probabilities
    (mean probability of class 0: (1 + 4 x 0.269) / 5 = 0.415)."""
    logits = np.array([[10.0, 0.0]] + [[0.0, 1.0]] * 4)  # one sample, 5 clips, 2 classes
    prob = metrics.average_clip_probabilities(logits, 5)
    score = _pyskl_average_clip(logits[None], 'score')
    assert np.argmax(score[0]) == 0 and np.argmax(prob[0]) == 1
    assert metrics.topk_accuracy(prob, [1], 1) == 1.0 and metrics.topk_accuracy(score, [1], 1) == 0.0


def test_average_clip_probabilities_rejects_a_partial_sample():
    with pytest.raises(ValueError, match=r'need logits \(N \* num_clips, num_class\) with num_clips = 10'):
        metrics.average_clip_probabilities(np.zeros((25, 4)), 10)


def test_evaluations_of_a_run_share_one_traced_step(tiny_records):
    """Each evaluation used to wrap a new tf.function and trace the model again; the step is cached per model."""
    import tensorflow as tf

    from feeders.distributed import open_source
    from model.stgcn import build_model
    from training import evaluation

    meta = open_source(str(tiny_records / 'val'))
    model = build_model('paper', num_class=3, channels=(8, 8, 8))
    strategy = tf.distribute.get_strategy()
    first = evaluation.predict_dataset(strategy, model, meta, global_batch=4)
    (step,) = evaluation._EVAL_STEPS[model].values()
    traces = step.experimental_get_tracing_count()
    second = evaluation.predict_dataset(strategy, model, meta, global_batch=4)
    assert step.experimental_get_tracing_count() == traces <= 2  # a full and the partial last batch
    np.testing.assert_array_equal(first[0], second[0])
    assert first[2] == second[2] and len(first[2]) == 7
