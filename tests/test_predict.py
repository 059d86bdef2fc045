"""predict on NTU .skeleton files with raw/prenorm weights: real fixtures through a small model, exactly as
gen_joint_data preprocesses them; the output, the people report, the names, the errors."""
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
from serving.pose_input import Reader
from serving.protocol import Protocol
from training.config import resolve_config
from tests.skeleton_text import frames_of, write_frames
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
        assert set(line) == {'file', 'frames', 'people', 'top_k'}
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


def test_batches_give_the_probabilities_of_single_recordings(model):
    model.meta = {'data_mode': 'raw', 'max_frame': 300}
    protocol = Protocol(model)
    reader = Reader(protocol, 'the model')
    paths = sorted(os.path.join(SKELETONS, name) for name in os.listdir(SKELETONS))[:6]
    frames = [reader.read('ntu', path)[0].frames for path in paths]
    together = protocol.batch_probabilities(frames)
    single = np.stack([protocol.probabilities(f) for f in frames])
    assert together.shape == (6, 60) and together.dtype == np.float64
    np.testing.assert_allclose(together, single, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(single[0], expected_probabilities(model, paths[0], 'raw'), rtol=1e-6)


def test_people_are_reported(weights, capsys):
    lines = {line['file']: line for line in json_lines(capsys, '--weights', weights['raw'], '--skeleton', SKELETONS)}
    assert lines['S001C001P001R001A001.skeleton']['people'] == {'max_per_frame': 1, 'kept': 1, 'crowded_frames': 0}
    assert lines['S001C003P008R002A058.skeleton']['people'] == {'max_per_frame': 2, 'kept': 2, 'crowded_frames': 0}
    assert lines['S001C001P001R001A001.skeleton']['frames'] == 103


def test_a_crowded_file_reports_the_bodies_left_out(weights, tmp_path, capsys):
    """A third body listed in some frames: the model sees two, and the line says how many frames had more."""
    two, one = frames_of(TWO_BODIES), frames_of(ONE)
    crowded = [frame[:] for frame in two]
    for t in range(5):  # frames 0-4 list a third body, ONE's first
        crowded[t] = [str(3)] + two[t][1:] + one[t][1:]
    path = write_frames(tmp_path / 'S001C003P008R002A058.skeleton', crowded)
    [line] = json_lines(capsys, '--weights', weights['raw'], '--skeleton', str(path))
    assert line['people'] == {'max_per_frame': 3, 'kept': 2, 'crowded_frames': 5}
    assert run_predict('--weights', weights['raw'], '--skeleton', str(path), '--top-k', '1') == 0
    assert capsys.readouterr().err.splitlines()[-1] == ('S001C003P008R002A058.skeleton: 70 frames, up to 3 people '
                                                        'in a frame, the model sees 2 (5 frames had more)')


def test_top_k_is_capped_at_the_class_count(weights, capsys):
    [line] = json_lines(capsys, '--weights', weights['raw'], '--skeleton', ONE, '--top-k', '500')
    assert sorted(e['label'] for e in line['top_k']) == list(range(60))
    assert abs(sum(e['prob'] for e in line['top_k']) - 1.0) < 1e-9


def test_default_output_is_a_table_per_file(weights, capsys):
    [line] = json_lines(capsys, '--weights', weights['raw'], '--skeleton', TWO_BODIES, '--top-k', '3')
    assert run_predict('--weights', weights['raw'], '--skeleton', TWO_BODIES, '--top-k', '3') == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == 4 and out[0] == 'S001C003P008R002A058.skeleton'
    assert captured.err.splitlines() == ['S001C003P008R002A058.skeleton: 70 frames, up to 2 people in a frame, '
                                         'the model sees 2']
    for rank, (row, entry) in enumerate(zip(out[1:], line['top_k']), 1):
        match = re.fullmatch(r'  +(\d+)\. +([\d.]+)%  +(\d+)  (.+)', row)
        assert match, row
        assert (int(match[1]), int(match[3]), match[4]) == (rank, entry['label'], entry['action'])
        assert float(match[2]) == pytest.approx(100 * entry['prob'], abs=0.005)


def test_actions_are_named_as_the_weights_name_them(model):
    """NTU-120's names (NTU-60 uses the first 60), 'class N' past them, the user's names when stored."""
    model.meta = {'data_mode': 'raw', 'max_frame': 300}
    protocol = Protocol(model)
    assert protocol.names[:60] == list(ACTION_NAMES[:60]) and protocol.names[0] == 'drink water'
    names = [f'my action {c}' for c in range(60)]
    model.meta = {'data_mode': 'raw', 'max_frame': 300, 'class_names': names}
    probabilities = Protocol(model).probabilities(Reader(Protocol(model), 'the model').read('ntu', ONE)[0].frames)
    assert [e['action'] for e in Protocol(model).top_k(probabilities, 3)] == [
        names[c] for c in np.argsort(-probabilities, kind='stable')[:3]]
    assert predict.top_k(np.array([0.2, 0.5, 0.3]), 2) == [{'label': 1, 'action': 'class 1', 'prob': 0.5},
                                                         {'label': 2, 'action': 'class 2', 'prob': 0.3}]


def test_malformed_file_names_file_and_line(weights):
    with pytest.raises(ServingError, match=r'S001C001P001R001A002_field_count\.skeleton:6: '):
        run_predict('--weights', weights['raw'], '--skeleton', BAD)


def test_missing_or_empty_skeleton_paths(weights, tmp_path):
    with pytest.raises(ServingError, match=r'^--skeleton nope\.skeleton: no such file or folder$'):
        run_predict('--weights', weights['raw'], '--skeleton', 'nope.skeleton')
    with pytest.raises(ServingError, match=r'the folder holds no \.skeleton files and no OpenPose '
                                           r'\*_keypoints\.json files$'):
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
    with pytest.raises(ServingError, match=r"records data_mode 'normalized', expected one of raw, prenorm, kinetics, "
                                           r"pyskl3d, pyskl2d; re-save"):
        run_predict('--weights', str(unknown), '--skeleton', ONE)


def test_weights_for_another_skeleton_layout_are_refused(tmp_path):
    path = str(tmp_path / 'kinetics.weights.h5')
    save_weights(build_model('paper', layout='openpose', channels=(4, 4, 4)), path, data_mode='raw')
    with pytest.raises(ServingError, match=rf'^{ONE}: an NTU \.skeleton file gives 3D joints \(x, y, z\), V = 25, '
                                           rf'M = 2; the weights {path} take 3D joints \(x, y, z\), V = 18, M = 2 '
                                           r'\(layout openpose, data mode raw\)$'):
        run_predict('--weights', path, '--skeleton', ONE)
    one_person = str(tmp_path / 'one_person.weights.h5')
    save_weights(build_model('paper', num_person=1, channels=(4, 4, 4)), one_person, data_mode='prenorm')
    with pytest.raises(ServingError, match=r'gives 3D joints \(x, y, z\), V = 25, M = 2; .* take 3D joints '
                                           r'\(x, y, z\), V = 25, M = 1 '):
        run_predict('--weights', one_person, '--skeleton', ONE)


def test_flags_that_do_not_apply_are_refused(weights):
    with pytest.raises(ServingError, match=r'^--num-clips 10: weights trained on raw data classify a recording whole'):
        run_predict('--weights', weights['raw'], '--skeleton', ONE, '--num-clips', '10')
    with pytest.raises(ServingError, match=r'^--stride 8: needs --window'):
        run_predict('--weights', weights['raw'], '--skeleton', ONE, '--stride', '8')
    with pytest.raises(ServingError, match=r'^--test-split xsub_val: only PYSKL annotation pickles'):
        run_predict('--weights', weights['raw'], '--skeleton', ONE, '--test-split', 'xsub_val')
    with pytest.raises(ServingError, match=r'^--window 301: the weights \(raw\) see at most max_frame = 300 frames'):
        run_predict('--weights', weights['raw'], '--skeleton', ONE, '--window', '301')
