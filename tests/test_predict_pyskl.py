"""predict with PYSKL weights: a real NTU .skeleton file gives what gen_pyskl_data and PYSKL's test pipeline
(feeders/pyskl_feeder.py, 10 clips) give; a PYSKL pickle's samples get the scores `--phase test` saves; a 2D
pose file gets PYSKL's pipeline on its pixels. Tiny responsive pyskl-preset models, clips of CLIP_LEN frames."""
import dataclasses
import json
import pathlib

import numpy as np
import pytest

import main
from data_gen import gen_pose_data, gen_pyskl_data
from data_gen.pose_readers import read_pose
from feeders import pyskl_feeder
from graphs import get_layout
from model.stgcn import build_model
from model.weights import save_weights
from serving import ServingError, predict
from serving.pose_input import Reader
from serving.protocol import PYSKL_TEST_CLIPS, Protocol
from storage import files
from training.config import resolve_config
from training.metrics import average_clip_probabilities
from tests.responsive import responsive

SKELETONS = pathlib.Path(__file__).parent / 'fixtures' / 'ntu' / 'skeletons'
TWO_BODIES = SKELETONS / 'S001C003P008R002A058.skeleton'
FIXTURES = pathlib.Path(__file__).parent / 'fixtures'
ALPHAPOSE = FIXTURES / 'pose' / 'alphapose_coco17_upfall' / 'alphapose-results.json'
KINETICS = FIXTURES / 'kinetics' / 'kinetics_val' / '--33Lscn6sk.json'  # its last person at frame 184 of 300
CLIP_LEN = 24
NUM_CLASS_3D = 58  # the fixtures' highest action is A058: the pickle's num_class, which --phase test checks
NUM_CLASS_2D = 5


def _weights(folder, name, data_mode, num_class, example_input, layout=None):
    """Responsive pyskl-preset weights (tests/responsive.py) for inputs like the test clips of example_input."""
    overrides = {'layout': layout} if layout else {}
    model = build_model('pyskl', channels=(8, 8, 8), num_class=num_class, **overrides)
    model.meta = {'data_mode': data_mode, 'max_frame': CLIP_LEN, 'preset': 'pyskl'}
    protocol = Protocol(model, num_clips=2)
    kind, path, frame_size = example_input
    responsive(model, protocol.inputs(Reader(protocol, name, frame_size).read(kind, str(path))[0].frames), seed=3)
    path = str(folder / f'{name}.weights.h5')
    save_weights(model, path)
    return model, path


@pytest.fixture(scope='module')
def pyskl3d(tmp_path_factory):
    return _weights(tmp_path_factory.mktemp('w3d'), 'j3d', 'pyskl3d', NUM_CLASS_3D, ('ntu', TWO_BODIES, None))


@pytest.fixture(scope='module')
def pyskl2d(tmp_path_factory):
    return _weights(tmp_path_factory.mktemp('w2d'), 'j2d', 'pyskl2d', NUM_CLASS_2D, ('json', ALPHAPOSE, (640, 480)),
                    layout='coco')


@pytest.fixture(scope='module')
def pickle3d(tmp_path_factory):
    """gen_pyskl_data's annotations of six real files (one and two bodies), split 'val' = four of them."""
    paths = sorted(SKELETONS.glob('*.skeleton'))[9:15]
    annotations = [gen_pyskl_data.annotate_file((p.stem, p))[1] for p in paths]
    names = [a['frame_dir'] for a in annotations]
    path = tmp_path_factory.mktemp('pyskl') / 'ntu_3danno.pkl'
    files.write_pickle({'split': {'val': names[1:5], 'all': names}, 'annotations': annotations}, path)
    return path, names


@pytest.fixture(scope='module')
def pickle2d(tmp_path_factory):
    """2D poses as in PYSKL's HRNet pickles: float16 pixels and scores, 1 to 3 persons, two image shapes."""
    rng = np.random.default_rng(0)
    annotations = []
    for i, (persons, frames, img_shape) in enumerate([(1, 30, (1080, 1920)), (3, 20, (480, 640)),
                                                      (2, 12, (1080, 1920))]):
        h, w = img_shape
        annotations.append({'frame_dir': f'S001C001P001R001A{i + 1:03d}', 'label': i + 2, 'total_frames': frames,
                            'img_shape': img_shape,
                            'keypoint': (rng.uniform(0, 1, (persons, frames, 17, 2)) * [w, h]).astype(np.float16),
                            'keypoint_score': rng.uniform(0, 1, (persons, frames, 17)).astype(np.float16)})
    path = tmp_path_factory.mktemp('pyskl') / 'ntu_hrnet.pkl'
    files.write_pickle({'split': {'val': [a['frame_dir'] for a in annotations]}, 'annotations': annotations}, path)
    return path


def _predict(capsys, cfg_changes=None, *args):
    cfg = resolve_config(['--phase', 'predict', '--json', '--top-k', '100', *map(str, args)])
    assert predict.run(dataclasses.replace(cfg, **(cfg_changes or {}))) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _by_label(line):
    return np.array([e['prob'] for e in sorted(line['top_k'], key=lambda e: e['label'])])


def _pipeline_probabilities(model, annotation_path, split, layout, num_clips):
    """PYSKL's test pipeline (make_pyskl_dataset) then the model, clips' softmax averaged: {name: (num_class,)}."""
    dataset = pyskl_feeder.make_pyskl_dataset(annotation_path, split, 2, training=False, clip_len=CLIP_LEN,
                                              num_clips=num_clips, layout=layout)
    out = {}
    for x, _, names in dataset:  # x (B, num_clips, C, L, V, M)
        clips = x.numpy().reshape((-1,) + tuple(x.shape[2:]))
        probabilities = average_clip_probabilities(np.asarray(model(clips, training=False)), num_clips)
        out.update(zip([n.decode() for n in names.numpy()], probabilities))
    return out


def test_ntu_file_is_gen_pyskl_data_then_pyskl_s_test_pipeline(pyskl3d, tmp_path, capsys):
    """Not giving --num-clips takes PYSKL's 10 test clips."""
    model, weights = pyskl3d
    annotation = gen_pyskl_data.annotate_file((TWO_BODIES.stem, TWO_BODIES))[1]
    path = tmp_path / 'one.pkl'
    files.write_pickle({'split': {'all': [TWO_BODIES.stem]}, 'annotations': [annotation]}, path)
    want = _pipeline_probabilities(model, path, 'all', 'ntu-rgb+d-pyskl', PYSKL_TEST_CLIPS)[TWO_BODIES.stem]
    [line] = _predict(capsys, None, '--weights', weights, '--skeleton', TWO_BODIES)
    assert line['file'] == TWO_BODIES.name and line['frames'] == annotation['total_frames']
    assert line['people'] == {'max_per_frame': 2, 'kept': 2, 'crowded_frames': 0}
    np.testing.assert_allclose(_by_label(line), want, rtol=0, atol=1e-5)
    assert np.abs(want - 1 / NUM_CLASS_3D).max() > 1e-2  # the model tells the classes apart
    # The clips are what is averaged: one clip is another prediction.
    [one_clip] = _predict(capsys, None, '--weights', weights, '--skeleton', TWO_BODIES, '--num-clips', 1)
    assert np.abs(_by_label(one_clip) - want).max() > 1e-3


def test_pyskl_weights_default_to_ten_clips_and_others_to_one(pyskl3d):
    model, _ = pyskl3d
    assert Protocol(model).num_clips == PYSKL_TEST_CLIPS == 10 and Protocol(model, 3).num_clips == 3
    assert Protocol(model).inputs(np.zeros((3, 40, 25, 1), np.float16)).shape == (10, 3, CLIP_LEN, 25, 2)


def test_pickle_samples_get_the_scores_phase_test_saves(pyskl3d, pickle3d, tmp_path, capsys):
    """--phase test on PYSKL data saves the clips' mean softmax probabilities, for one clip too (its test batches
    always have a clip axis): predict prints them, in the split's order."""
    model, weights = pyskl3d
    path, names = pickle3d
    scores = tmp_path / 'scores.pkl'
    assert main.main(['--phase', 'test', '--weights', weights, '--test-data-path', str(path), '--test-split', 'val',
                      '--clip-len', str(CLIP_LEN), '--num-clips', '1', '--batch-size', '3', '--log-dir',
                      str(tmp_path / 'logs'), '--save-scores', str(scores), '--no-progress']) == 0
    saved = files.load_pickle(scores)
    capsys.readouterr()
    lines = _predict(capsys, None, '--weights', weights, '--skeleton', path, '--test-split', 'val', '--num-clips', 1)
    assert [line['sample'] for line in lines] == names[1:5] and {line['file'] for line in lines} == {path.name}
    for line in lines:
        assert abs(saved[line['sample']].sum() - 1) < 1e-5
        np.testing.assert_allclose(_by_label(line), saved[line['sample']], rtol=0, atol=1e-5)
    # No split: every sample of the file, in its order.
    everything = _predict(capsys, None, '--weights', weights, '--skeleton', path, '--num-clips', 1)
    assert [line['sample'] for line in everything] == names
    assert [line['top_k'] for line in everything[1:5]] == [line['top_k'] for line in lines]


def test_2d_pickle_samples_get_the_clip_averaged_scores_phase_test_saves(pyskl2d, pickle2d, tmp_path, capsys):
    """Three clips: --phase test saves the clips' mean probabilities."""
    _, weights = pyskl2d
    scores = tmp_path / 'scores.pkl'
    assert main.main(['--phase', 'test', '--weights', weights, '--test-data-path', str(pickle2d), '--test-split',
                      'val', '--clip-len', str(CLIP_LEN), '--num-clips', '3', '--log-dir', str(tmp_path / 'logs'),
                      '--save-scores', str(scores), '--no-progress']) == 0
    saved = files.load_pickle(scores)
    capsys.readouterr()
    lines = _predict(capsys, None, '--weights', weights, '--skeleton', pickle2d, '--num-clips', 3)
    assert [line['sample'] for line in lines] == list(saved)
    assert lines[1]['people'] == {'max_per_frame': 3, 'kept': 2, 'crowded_frames': 20}
    for line in lines:
        np.testing.assert_allclose(_by_label(line), saved[line['sample']], rtol=0, atol=1e-5)


def test_2d_pose_file_is_what_training_on_its_gen_pose_data_annotation_tests(pyskl2d, tmp_path, capsys):
    """The AlphaPose list as data_gen/gen_pose_data.py stores it for training (pixels of the kept people,
    img_shape), through PYSKL's test pipeline."""
    model, weights = pyskl2d
    sample, report = read_pose(ALPHAPOSE, (640, 480))  # (3, T, 17, 2): x / W - 0.5, y / H - 0.5, score
    annotation = gen_pose_data.to_annotation(sample, report.frame_size, 'upfall', 0)
    path = tmp_path / 'upfall.pkl'
    files.write_pickle({'split': {'all': ['upfall']}, 'annotations': [annotation]}, path)
    want = _pipeline_probabilities(model, path, 'all', 'coco', 4)['upfall']
    [line] = _predict(capsys, None, '--weights', weights, '--skeleton', ALPHAPOSE, '--frame-size', 640, 480,
                      '--num-clips', 4)
    np.testing.assert_allclose(_by_label(line), want, rtol=0, atol=1e-5)
    assert line['people'] == {'max_per_frame': 3, 'kept': 2, 'crowded_frames': 1} and line['frames'] == 195


def test_kinetics_json_keeps_its_300_frames_for_pyskl_weights(pyskl2d, tmp_path, capsys):
    """As gen_pose_data stores it (a Kinetics JSON is x / W, y / H of a 1 x 1 frame), with a user's 18-joint
    layout: the COCO-style lists and the JSON of that layout are read with its joints."""
    openpose18 = dict(get_layout('openpose').to_dict(), name='my-openpose')
    model = build_model('pyskl', channels=(8, 8, 8), num_class=NUM_CLASS_2D, layout=openpose18)
    model.meta = {'data_mode': 'pyskl2d', 'max_frame': CLIP_LEN, 'preset': 'pyskl'}
    responsive(model, np.random.default_rng(0).uniform(-1, 1, (1, 3, CLIP_LEN, 18, 2)).astype(np.float32))
    weights = str(tmp_path / 'my.weights.h5')
    save_weights(model, weights)
    sample, report = read_pose(KINETICS)
    annotation = gen_pose_data.to_annotation(sample, report.frame_size or (1.0, 1.0), 'kin', 0)
    path = tmp_path / 'kin.pkl'
    files.write_pickle({'split': {'all': ['kin']}, 'annotations': [annotation]}, path)
    want = _pipeline_probabilities(model, path, 'all', openpose18, 2)['kin']
    [line] = _predict(capsys, None, '--weights', weights, '--skeleton', KINETICS, '--num-clips', 2)
    assert line['frames'] == 300
    np.testing.assert_allclose(_by_label(line), want, rtol=0, atol=1e-5)
    # A COCO-style list of the layout's 18 joints, frame size recorded, read as gen_pose_data reads it.
    rng = np.random.default_rng(1)
    detections = [{'image_id': t, 'width': 640, 'height': 480,
                   'keypoints': np.column_stack([rng.uniform(0, 640, 18), rng.uniform(0, 480, 18),
                                                 rng.uniform(0.1, 1, 18)]).ravel().tolist()} for t in range(5)]
    listed = tmp_path / 'list18.json'
    listed.write_text(json.dumps(detections))
    [line] = _predict(capsys, None, '--weights', weights, '--skeleton', listed, '--num-clips', 2)
    assert line['frames'] == 5 and line['people']['kept'] == 1


def test_pyskl_inputs_that_do_not_fit(pyskl3d, pyskl2d, pickle3d, tmp_path):
    (model3d, _), (model2d, _) = pyskl3d, pyskl2d
    read3d = Reader(Protocol(model3d), 'W3D', test_split='xsub_val').read
    read2d = Reader(Protocol(model2d), 'W2D', frame_size=(640, 480)).read
    path, _ = pickle3d
    with pytest.raises(ServingError, match=rf'^{path}: a PYSKL annotation pickle gives 3D joints \(x, y, z\), V = 25; '
                                           r'the weights W2D take 2D joints \(x, y, score\), V = 17 '
                                           r'\(layout coco, data mode pyskl2d\)$'):
        read2d('pickle', str(path))
    with pytest.raises(ServingError, match=rf"^{path}: no split 'xsub_val' \(the file has: val, all\)$"):
        read3d('pickle', str(path))
    with pytest.raises(ServingError, match=rf'^{ALPHAPOSE}: a pose file gives 2D joints \(x, y, score\); the '
                                           r'weights W3D take 3D joints \(x, y, z\), V = 25 \(layout '
                                           r'ntu-rgb\+d-pyskl, data mode pyskl3d\)$'):
        Reader(Protocol(model3d), 'W3D').read('json', str(ALPHAPOSE))  # no frame size asked for
    with pytest.raises(ServingError, match=rf'^{TWO_BODIES}: an NTU \.skeleton file gives 3D joints \(x, y, z\), '
                                           r'V = 25; the weights W2D take 2D joints'):
        read2d('ntu', str(TWO_BODIES))
    empty = tmp_path / 'empty.pkl'
    files.write_pickle({'split': {'xsub_val': []}, 'annotations': []}, empty)
    with pytest.raises(ServingError, match=rf"^{empty}: split 'xsub_val' is empty$"):
        read3d('pickle', str(empty))
    with pytest.raises(ServingError, match=rf'^{empty}: no annotations$'):
        Reader(Protocol(model3d), 'W3D').read('pickle', str(empty))
    nobody = tmp_path / 'S001C001P001R001A001.skeleton'
    nobody.write_text('2\n0\n0\n')
    with pytest.raises(ServingError, match=rf'^{nobody}: no body in any of its 2 frames'):
        read3d('ntu', str(nobody))
