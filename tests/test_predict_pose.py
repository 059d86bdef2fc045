"""predict on 2D pose files with Kinetics weights (real OpenPose, AlphaPose and Kinetics-skeleton fixtures), and
bad input through main.py: one `error:` line last on stderr, exit 2, no result printed for the failed input."""
import json
import pathlib
import re
import shutil

import numpy as np
import pytest
from scipy.special import softmax

import main
from data_gen.class_names import kinetics_names
from data_gen.pose_readers import read_pose
from model.stgcn import build_model
from model.weights import save_weights
from tests.responsive import responsive

FIXTURES = pathlib.Path(__file__).parent / 'fixtures'
OPENPOSE = FIXTURES / 'pose' / 'openpose_body25_openposer_du_wohn_wo'  # 175 frames, BODY_25, no frame size
ALPHAPOSE = FIXTURES / 'pose' / 'alphapose_coco17_upfall' / 'alphapose-results.json'  # COCO-17
KINETICS = FIXTURES / 'kinetics' / 'kinetics_val' / '--33Lscn6sk.json'  # up to 3 people, the last at frame 184
MAX_FRAME = 300


@pytest.fixture(scope='module')
def kinetics(tmp_path_factory):
    """Kinetics-layout weights (OpenPose's 18 joints), recording data mode kinetics."""
    example = np.zeros((1, 3, MAX_FRAME, 18, 2), np.float32)
    example[0, :, :185] = read_pose(KINETICS)[0][:, :185]
    model = responsive(build_model('paper', layout='openpose', channels=(8, 8, 8), num_class=400), example, seed=1)
    model.meta = {'data_mode': 'kinetics', 'max_frame': MAX_FRAME, 'preset': 'paper'}
    path = str(tmp_path_factory.mktemp('weights') / 'kinetics.weights.h5')
    save_weights(model, path)
    return model, path


def run(capsys, *args):
    """main.py --phase predict: (exit code, stdout lines, stderr lines)."""
    code = main.main(['--phase', 'predict', *map(str, args)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def expected(model, sample):
    """The model on a reader's sample zero-padded to MAX_FRAME. Shape: (3, T, 18, 2) -> (400,) float64."""
    x = np.zeros((1, 3, MAX_FRAME, 18, 2), np.float32)
    x[0, :, :sample.shape[1]] = sample
    return softmax(np.asarray(model(x, training=False), np.float64)[0])


def by_label(line):
    return np.array([e['prob'] for e in sorted(line['top_k'], key=lambda e: e['label'])])


def test_openpose_folder_normalised_by_the_frame_size(kinetics, capsys):
    model, weights = kinetics
    code, out, _ = run(capsys, '--weights', weights, '--skeleton', OPENPOSE, '--frame-size', 1280, 720, '--json',
                       '--top-k', 400)
    assert code == 0
    [line] = map(json.loads, out)
    assert (line['file'], line['frames']) == (OPENPOSE.name, 175)
    assert line['people'] == {'max_per_frame': 1, 'kept': 1, 'crowded_frames': 0}
    want = expected(model, read_pose(OPENPOSE, (1280, 720))[0])
    np.testing.assert_allclose(by_label(line), want, rtol=1e-5, atol=1e-7)
    assert [e['action'] for e in line['top_k']] == [kinetics_names()[e['label']] for e in line['top_k']]
    # Another frame size is another input.
    code, out, _ = run(capsys, '--weights', weights, '--skeleton', OPENPOSE, '--frame-size', 640, 480, '--json',
                       '--top-k', 400)
    assert np.abs(by_label(json.loads(out[0])) - want).max() > 1e-3


def test_kinetics_json_is_the_stored_sample_and_reports_its_people(kinetics, capsys):
    model, weights = kinetics
    code, out, err = run(capsys, '--weights', weights, '--skeleton', KINETICS, '--json', '--top-k', 400)
    [line] = map(json.loads, out)
    assert code == 0 and line['frames'] == 185  # the 300 stored frames end at the last person
    assert line['people'] == {'max_per_frame': 3, 'kept': 2, 'crowded_frames': 4}
    np.testing.assert_allclose(by_label(line), expected(model, read_pose(KINETICS)[0]), rtol=1e-5, atol=1e-7)
    code, out, err = run(capsys, '--weights', weights, '--skeleton', KINETICS, '--top-k', 2)
    assert code == 0 and out[0] == KINETICS.name and len(out) == 3
    assert err[-1] == f'{KINETICS.name}: 185 frames, up to 3 people in a frame, the model sees 2 (4 frames had more)'


def test_a_window_longer_than_the_recording_is_one_window(kinetics, capsys):
    _, weights = kinetics
    code, out, _ = run(capsys, '--weights', weights, '--skeleton', KINETICS, '--window', 250, '--json')
    windows, summary = [json.loads(line) for line in out]
    assert code == 0 and (windows['start'], windows['end']) == (0, 185)
    assert summary['segments'] == [{'start': 0, 'end': 185, 'label': windows['top_k'][0]['label'],
                                    'action': windows['top_k'][0]['action'], 'num_windows': 1,
                                    'mean_prob': windows['top_k'][0]['prob']}]


def _openpose_copy(tmp_path, frames=3, edit=None):
    """The first `frames` OpenPose frame files in a folder of their own; edit(i, text) -> text changes file i."""
    folder = tmp_path / 'video'
    folder.mkdir()
    for i, path in enumerate(sorted(OPENPOSE.glob('*_keypoints.json'))[:frames]):
        text = path.read_text()
        (folder / path.name).write_text(edit(i, text) if edit else text)
    return folder


def _empty_people(i, text):
    frame = json.loads(text)
    frame['people'] = []
    return json.dumps(frame)


def _short_keypoints(i, text):
    frame = json.loads(text)
    if i == 1:
        frame['people'][0]['pose_keypoints_2d'] = frame['people'][0]['pose_keypoints_2d'][:30]
    return json.dumps(frame)


BAD = {  # name -> (make(tmp_path) -> the --skeleton path, extra flags, the error line's pattern)
    'missing file': (lambda tmp: tmp / 'none.json', [], r'--skeleton \S+none\.json: no such file or folder'),
    'bad JSON': (lambda tmp: _openpose_copy(tmp, edit=lambda i, t: t[:40] if i == 2 else t), ['--frame-size', 640, 480],
                 r'\S+_000000000002_keypoints\.json:1:27: malformed JSON: [^(]*$'),  # predict has no skip mode
    'bad COCO list': (lambda tmp: _write(tmp / 'coco.json', '[{"image_id": 1,\n "keypoints": [1, 2, }]'),
                      ['--frame-size', 640, 480], r'\S+coco\.json:2:22: malformed JSON'),
    'joint count': (lambda tmp: _openpose_copy(tmp, edit=_short_keypoints), ['--frame-size', 640, 480],
                    r'\S+_000000000001_keypoints\.json: people\[0\]: "pose_keypoints_2d" has 30 values, expected 75'),
    'wrong layout': (lambda tmp: ALPHAPOSE, ['--frame-size', 640, 480],
                     r'\S+alphapose-results\.json: coco-17 list \(layout coco\) gives 2D joints \(x, y, score\), '
                     r'V = 17; the weights \S+ take 2D joints \(x, y, score\), V = 18 \(layout openpose, data mode '
                     r'kinetics\)'),
    'empty recording': (lambda tmp: _openpose_copy(tmp, edit=_empty_people), ['--frame-size', 640, 480],
                        r'\S+video: no person in any of its 3 frames; nothing to classify'),
    'frame size': (lambda tmp: _openpose_copy(tmp), [],
                   r'\S+video: the files do not record the frame size; give it \(width, height in pixels\) with '
                   r'--frame-size WIDTH HEIGHT'),
    'NTU file': (lambda tmp: FIXTURES / 'ntu' / 'skeletons' / 'S001C001P001R001A001.skeleton', [],
                 r'\S+\.skeleton: an NTU \.skeleton file gives 3D joints \(x, y, z\), V = 25; the weights \S+ take '
                 r'2D joints'),
}


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize('case', list(BAD))
def test_bad_input_is_one_error_line_after_the_good_results(kinetics, tmp_path, capsys, case):
    """The good input given first is printed whole (unless a path is missing: paths are checked before any is
    read); the bad one prints nothing but the error, last on stderr."""
    _, weights = kinetics
    make, flags, pattern = BAD[case]
    code, out, err = run(capsys, '--weights', weights, '--skeleton', KINETICS, make(tmp_path), *flags, '--json')
    assert code == 2
    assert [json.loads(line)['file'] for line in out] == ([] if case == 'missing file' else [KINETICS.name])
    assert err and 'Traceback' not in '\n'.join(err)
    assert re.match('error: ' + pattern, err[-1]), err[-1]


def test_a_folder_of_openpose_frames_is_one_video_even_with_other_files(kinetics, tmp_path, capsys):
    _, weights = kinetics
    folder = _openpose_copy(tmp_path)
    shutil.copy(ALPHAPOSE, folder / 'notes.json')  # not a frame file: left out by its name
    code, out, _ = run(capsys, '--weights', weights, '--skeleton', folder, '--frame-size', 640, 480, '--json')
    assert code == 0 and [json.loads(line)['frames'] for line in out] == [3]
