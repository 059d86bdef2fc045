"""predict: real NTU .skeleton fixtures through a small model, with the preprocessing its weights record."""
import json
import os
import re

import h5py
import numpy as np
import pytest
from scipy.special import softmax

from data_gen.ntu import ACTION_NAMES
from data_gen.preprocess import skeleton_to_sample
from model.stgcn import build_model
from model.weights import META_ATTR, save_weights
from serving import ServingError
from serving import predict
from training.config import resolve_config
from tests.trained_scale import randomize

SKELETONS = 'tests/fixtures/ntu/skeletons'
BAD = 'tests/fixtures/ntu/bad'
ONE = f'{SKELETONS}/S001C001P001R001A001.skeleton'
TWO_BODIES = f'{SKELETONS}/S001C003P008R002A058.skeleton'


@pytest.fixture(scope='module')
def model():
    return randomize(build_model('tf2019', channels=(4, 8, 8)), seed=0)


@pytest.fixture(scope='module')
def weights(model, tmp_path_factory):
    """The same weights saved twice, recording 'prenorm' and 'raw' preprocessing."""
    folder = tmp_path_factory.mktemp('weights')
    paths = {mode: str(folder / f'{mode}.weights.h5') for mode in ('prenorm', 'raw')}
    for mode, path in paths.items():
        save_weights(model, path, data_mode=mode)
    return paths


def run_predict(*args):
    return predict.run(resolve_config(['--phase', 'predict', *args]))


def json_lines(capsys, *args):
    assert run_predict(*args, '--json') == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def expected_probabilities(model, path, mode):
    x = skeleton_to_sample(path, mode=mode, max_frame=300)[None]  # (1, 3, 300, 25, 2)
    return softmax(np.asarray(model(x, training=False), np.float64)[0])


def test_folder_gives_one_json_line_per_file_in_sorted_order(model, weights, capsys):
    lines = json_lines(capsys, '--weights', weights['prenorm'], '--skeleton', SKELETONS, '--top-k', '5')
    files = sorted(name for name in os.listdir(SKELETONS) if name.endswith('.skeleton'))
    assert len(files) == 21 and [line['file'] for line in lines] == files
    for line in lines:
        assert set(line) == {'file', 'top_k'}
        entries = line['top_k']
        assert len(entries) == 5 and all(set(e) == {'label', 'action', 'prob'} for e in entries)
        probs = [e['prob'] for e in entries]
        assert all(type(p) is float for p in probs)
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0
        assert [e['action'] for e in entries] == [ACTION_NAMES[e['label']] for e in entries]
        want = expected_probabilities(model, os.path.join(SKELETONS, line['file']), 'prenorm')
        assert [e['label'] for e in entries] == list(np.argsort(-want, kind='stable')[:5])
        np.testing.assert_allclose(probs, want[[e['label'] for e in entries]], rtol=1e-5)


def test_preprocessing_is_the_one_recorded_with_the_weights(model, weights, capsys):
    """Identical weights recording 'raw' and 'prenorm' see different inputs, each the gen_joint_data one."""
    top = {}
    for mode in ('raw', 'prenorm'):
        [line] = json_lines(capsys, '--weights', weights[mode], '--skeleton', TWO_BODIES, '--top-k', '60')
        top[mode] = np.array([e['prob'] for e in sorted(line['top_k'], key=lambda e: e['label'])])
        np.testing.assert_allclose(top[mode], expected_probabilities(model, TWO_BODIES, mode), rtol=1e-5)
    assert np.abs(top['raw'] - top['prenorm']).max() > 1e-3


def test_batches_give_the_logits_of_single_samples(model):
    paths = sorted(os.path.join(SKELETONS, name) for name in os.listdir(SKELETONS))[:6]
    batches = list(predict.predict_logits(model, paths, 'raw', 300, batch_size=4))
    assert [batch for batch, _ in batches] == [paths[:4], paths[4:]]
    logits = np.concatenate([logits for _, logits in batches])
    single = np.concatenate([np.asarray(model(skeleton_to_sample(p, 'raw')[None], training=False)) for p in paths])
    assert logits.shape == (6, 60) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, single, rtol=1e-5, atol=1e-5)


def test_top_k_is_capped_at_the_class_count(weights, capsys):
    [line] = json_lines(capsys, '--weights', weights['raw'], '--skeleton', ONE, '--top-k', '500')
    assert sorted(e['label'] for e in line['top_k']) == list(range(60))
    assert abs(sum(e['prob'] for e in line['top_k']) - 1.0) < 1e-9


def test_default_output_is_a_table_per_file(weights, capsys):
    [line] = json_lines(capsys, '--weights', weights['raw'], '--skeleton', TWO_BODIES, '--top-k', '3')
    assert run_predict('--weights', weights['raw'], '--skeleton', TWO_BODIES, '--top-k', '3') == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out[0] == 'S001C003P008R002A058.skeleton'
    for rank, (row, entry) in enumerate(zip(out[1:], line['top_k']), 1):
        match = re.fullmatch(r'  +(\d+)\. +([\d.]+)%  +(\d+)  (.+)', row)
        assert match, row
        assert (int(match[1]), int(match[3]), match[4]) == (rank, entry['label'], entry['action'])
        assert float(match[2]) == pytest.approx(100 * entry['prob'], abs=0.005)


def test_action_names_are_ntu120_with_a_fallback_past_them():
    assert predict.action_name(0) == 'drink water'
    assert predict.action_name(59) == ACTION_NAMES[59] and predict.action_name(119) == ACTION_NAMES[119]
    assert predict.action_name(120) == 'class 120'


def test_malformed_file_names_file_and_line(weights):
    with pytest.raises(ServingError, match=r'S001C001P001R001A002_field_count\.skeleton:6: '):
        run_predict('--weights', weights['raw'], '--skeleton', BAD)


def test_missing_or_empty_skeleton_paths(weights, tmp_path):
    with pytest.raises(ServingError, match=r'^--skeleton nope\.skeleton: no such file or folder$'):
        run_predict('--weights', weights['raw'], '--skeleton', 'nope.skeleton')
    with pytest.raises(ServingError, match=r'the folder holds no \.skeleton files'):
        run_predict('--weights', weights['raw'], '--skeleton', str(tmp_path))


def test_weights_problems_are_serving_errors(weights, tmp_path):
    with pytest.raises(ServingError, match='needs --weights'):
        run_predict('--skeleton', ONE)
    with pytest.raises(ServingError, match='no such file'):
        run_predict('--weights', str(tmp_path / 'none.weights.h5'), '--skeleton', ONE)
    unknown = tmp_path / 'unknown.weights.h5'
    unknown.write_bytes(open(weights['raw'], 'rb').read())
    with h5py.File(unknown, 'a') as f:
        meta = json.loads(f.attrs[META_ATTR])
        f.attrs[META_ATTR] = json.dumps(dict(meta, data_mode='normalized'))
    with pytest.raises(ServingError, match=r"records data_mode 'normalized', expected one of prenorm, raw"):
        run_predict('--weights', str(unknown), '--skeleton', ONE)


def test_weights_for_another_skeleton_layout_are_refused(tmp_path):
    path = str(tmp_path / 'kinetics.weights.h5')
    save_weights(build_model('paper', layout='openpose', channels=(4, 4, 4)), path, data_mode='raw')
    with pytest.raises(ServingError, match=r'takes \(C, V, M\) = \(3, 18, 2\), but NTU \.skeleton files give '
                                           r'\(3, 25, 2\)'):
        run_predict('--weights', path, '--skeleton', ONE)
