"""Pose-estimator readers: OpenPose folders (BODY_25, COCO-18), COCO-17 lists, Kinetics JSON; every bad input."""
import json
import os
import pathlib
import re

import numpy as np
import pytest

from data_gen import gen_kinetics_data, pose_readers
from data_gen.pose_readers import PoseError, frame_from_people, read_coco_list, read_openpose_folder, read_pose

FIXTURES = pathlib.Path(__file__).parent / 'fixtures'
OPENPOSE_REAL = FIXTURES / 'pose' / 'openpose_body25_openposer_du_wohn_wo'
ALPHAPOSE_REAL = FIXTURES / 'pose' / 'alphapose_coco17_upfall' / 'alphapose-results.json'
SIZE = (640, 480)

# OpenPose's part names (CMU-Perceptual-Computing-Lab/openpose:src/openpose/pose/poseParameters.cpp).
BODY_25 = ['Nose', 'Neck', 'RShoulder', 'RElbow', 'RWrist', 'LShoulder', 'LElbow', 'LWrist', 'MidHip', 'RHip',
           'RKnee', 'RAnkle', 'LHip', 'LKnee', 'LAnkle', 'REye', 'LEye', 'REar', 'LEar', 'LBigToe', 'LSmallToe',
           'LHeel', 'RBigToe', 'RSmallToe', 'RHeel']
COCO_18 = ['Nose', 'Neck', 'RShoulder', 'RElbow', 'RWrist', 'LShoulder', 'LElbow', 'LWrist', 'RHip', 'RKnee',
           'RAnkle', 'LHip', 'LKnee', 'LAnkle', 'REye', 'LEye', 'REar', 'LEar']


def reference_sample(frames, size, num_person=2):
    """st-gcn's demo normalisation and the Kinetics feeder's person rule, frame by frame.

    frames: T lists of (V, 3) pixel x, y, score per person -> (3, T, V, num_person).
    """
    V = len(frames[0][0]) if frames and frames[0] else len(next(f for f in frames if f)[0])
    out = np.zeros((3, len(frames), V, num_person))
    for t, people in enumerate(frames):
        poses = []
        for person in people:
            p = np.array(person, np.float64)
            p[:, 0] = p[:, 0] / size[0] - 0.5
            p[:, 1] = p[:, 1] / size[1] - 0.5
            p[p[:, 2] == 0, :2] = 0
            poses.append(p)
        ranked = sorted(range(len(poses)), key=lambda m: -poses[m][:, 2].sum())  # sorted() is stable
        for slot, m in enumerate(ranked[:num_person]):
            out[:, t, :, slot] = poses[m].T
    return out.astype(np.float32)


def person(rng, num_joint, missing=()):
    p = np.column_stack([rng.uniform(0, SIZE[0], num_joint), rng.uniform(0, SIZE[1], num_joint),
                         rng.uniform(0.05, 1, num_joint)])
    p[list(missing)] = 0
    return p


def write_openpose(folder, frames, video='clip', numbers=None):
    """frames: T lists of (V, 3) people -> {video}_{n}_keypoints.json files, OpenPose's key layout."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, people in zip(numbers or range(len(frames)), frames):
        doc = {'version': 1.3, 'people': [{'person_id': [-1], 'pose_keypoints_2d': np.ravel(p).tolist(),
                                           'face_keypoints_2d': []} for p in people]}
        (folder / f'{video}_{n:012d}_keypoints.json').write_text(json.dumps(doc))
    return folder


def test_body25_folder(tmp_path):
    rng = np.random.default_rng(0)
    frames = [[person(rng, 25, missing=(3, 20))], [person(rng, 25), person(rng, 25), person(rng, 25)], [],
              [person(rng, 25)]]
    sample, report = read_openpose_folder(write_openpose(tmp_path / 'v', frames), SIZE)
    mapped = [[p[[BODY_25.index(name) for name in COCO_18]] for p in people] for people in frames]
    assert sample.dtype == np.float32 and sample.shape == (3, 4, 18, 2)
    np.testing.assert_array_equal(sample, reference_sample(mapped, SIZE))
    assert sample[0, 0, 3, 0] == 0 and sample[2, 0, 3, 0] == 0  # undetected joint at 0
    assert report.num_frames == 4 and report.max_people == 3 and report.crowded_frames == 1
    assert report.frames_with_people == 3 and report.format == 'openpose BODY_25' and report.layout == 'openpose'


def test_body25_mapping_is_by_name():
    assert [BODY_25[i] for i in pose_readers.BODY25_TO_OPENPOSE18] == COCO_18


def test_coco18_folder_and_numeric_frame_order(tmp_path):
    rng = np.random.default_rng(1)
    frames = [[person(rng, 18)] for _ in range(3)]
    folder = tmp_path / 'v'
    folder.mkdir()
    for n, people in zip((9, 10, 12), frames):  # unpadded numbers: 10 sorts before 9 as text; 11 is missing
        doc = {'people': [{'pose_keypoints_2d': np.ravel(people[0]).tolist()}]}
        (folder / f'clip_{n}_keypoints.json').write_text(json.dumps(doc))
    sample, report = read_openpose_folder(folder, SIZE)
    expected = reference_sample([frames[0], frames[1], [], frames[2]], SIZE)
    np.testing.assert_array_equal(sample, expected)
    assert report.num_frames == 4 and report.frames_with_people == 3 and report.format == 'openpose COCO'


def test_frame_size_recorded_in_the_files(tmp_path):
    rng = np.random.default_rng(2)
    folder = write_openpose(tmp_path / 'v', [[person(rng, 25)]])
    path = next(folder.iterdir())
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(dict(doc, width=SIZE[0], height=SIZE[1])))
    np.testing.assert_array_equal(read_openpose_folder(folder)[0], read_openpose_folder(folder, SIZE)[0])
    path.write_text(json.dumps(doc))
    with pytest.raises(PoseError, match=re.escape(f'{folder}: the files do not record the frame size')):
        read_openpose_folder(folder)


def test_real_openpose_body25():
    sample, report = read_pose(OPENPOSE_REAL, frame_size=(720, 576))
    assert sample.shape == (3, 175, 18, 2) and report.num_frames == 175
    assert report.max_people == 1 and report.frames_with_people == 175 and report.crowded_frames == 0
    assert not sample[..., 1].any()  # one person: the second slot stays empty
    first = json.loads((OPENPOSE_REAL / 'du_wohn_wo_000000000000_keypoints.json').read_text())
    body = np.reshape(first['people'][0]['pose_keypoints_2d'], (25, 3))
    expected = reference_sample([[body[[BODY_25.index(n) for n in COCO_18]]]], (720, 576))
    np.testing.assert_array_equal(sample[:, :1], expected)
    assert sample[2, 0, COCO_18.index('LKnee'), 0] == 0  # written as 0,0,0 by OpenPose
    last = json.loads((OPENPOSE_REAL / 'du_wohn_wo_000000000174_keypoints.json').read_text())
    body = np.reshape(last['people'][0]['pose_keypoints_2d'], (25, 3))
    np.testing.assert_array_equal(sample[:, 174:], reference_sample([[body[pose_readers.BODY25_TO_OPENPOSE18,]]],
                                                                    (720, 576)))


def test_real_alphapose_coco17():
    sample, report = read_pose(ALPHAPOSE_REAL, frame_size=SIZE)
    detections = json.loads(ALPHAPOSE_REAL.read_text())
    names = sorted({d['image_id'] for d in detections})  # timestamps: text order is time order
    assert sample.shape == (3, 195, 17, 2) and report.num_frames == len(names) == 195
    assert report.max_people == 3 and report.crowded_frames == 1 and report.layout == 'coco'
    frames = [[np.reshape(d['keypoints'], (17, 3)) for d in detections if d['image_id'] == name] for name in names]
    np.testing.assert_array_equal(sample, reference_sample(frames, SIZE))
    assert sum(len(f) == 2 for f in frames) == 49


def test_coco_list_orders_by_image_id(tmp_path):
    rng = np.random.default_rng(3)
    a, b, c, d = (person(rng, 17) for _ in range(4))
    dets = [{'image_id': 7, 'keypoints': np.ravel(b).tolist(), 'score': 2.5},
            {'image_id': 5, 'keypoints': np.ravel(a).tolist(), 'score': 1.0},
            {'image_id': 7, 'keypoints': np.ravel(c).tolist(), 'score': 1.2}]
    path = tmp_path / 'ids.json'
    path.write_text(json.dumps(dets))
    sample, report = read_coco_list(path, SIZE)
    np.testing.assert_array_equal(sample, reference_sample([[a], [], [b, c]], SIZE))  # frame 6: no detection
    assert report.num_frames == 3 and report.max_people == 2
    named = [{'image_id': 'img10.png', 'keypoints': np.ravel(d).tolist()},
             {'image_id': 'img9.png', 'keypoints': np.ravel(a).tolist()}]
    path.write_text(json.dumps(named))
    np.testing.assert_array_equal(read_coco_list(path, SIZE)[0], reference_sample([[a], [d]], SIZE))


def test_stream_frame_equals_the_file(tmp_path):
    rng = np.random.default_rng(4)
    people = np.stack([person(rng, 18), person(rng, 18, missing=(2,)), person(rng, 18)])
    sample, _ = read_openpose_folder(write_openpose(tmp_path / 'v', [list(people)]), SIZE)
    np.testing.assert_array_equal(frame_from_people(people, SIZE), sample[:, 0])
    assert frame_from_people(np.zeros((0, 18, 3)), SIZE).shape == (3, 18, 2)


def test_kinetics_json_is_the_kinetics_reader():
    path = sorted((FIXTURES / 'kinetics' / 'kinetics_val').glob('*.json'))[0]
    sample, report = read_pose(path)
    data, _ = gen_kinetics_data.read_clip(path)
    np.testing.assert_array_equal(sample, gen_kinetics_data.select_people(data))
    assert sample.shape == (3, 300, 18, 2) and report.format == 'kinetics json'
    assert report.max_people == 3 and report.frames_with_people == 163


# --- bad input ---

def _one_frame(tmp_path, doc, name='clip_000000000000_keypoints.json'):
    folder = tmp_path / 'bad'
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return folder, folder / name


GOOD = [1.0, 2.0, 0.5] * 25


@pytest.mark.parametrize('doc,message', [
    ({'version': 1.3}, 'expected an object with a "people" list'),
    ({'people': [{'face_keypoints_2d': []}]}, 'people[0]: missing key "pose_keypoints_2d"'),
    ({'people': [{'pose_keypoints_2d': [1.0] * 74}]}, 'people[0]: "pose_keypoints_2d" has 74 values, expected 75 '
                                                      '(BODY_25) or 54 (COCO-18)'),
    ({'people': [{'pose_keypoints_2d': GOOD}, {'pose_keypoints_2d': [1.0] * 54}]},
     'people[1]: "pose_keypoints_2d" has 54 values, expected 75'),
    ({'people': [{'pose_keypoints_2d': GOOD[:-1] + ['0.5']}]}, 'people[0]: "pose_keypoints_2d" holds a value that '
                                                               'is not a number'),
    ({'people': [{'pose_keypoints_2d': GOOD[:-1] + [True]}]}, 'holds a value that is not a number'),
    ({'people': [{'pose_keypoints_2d': GOOD[:-1] + [None]}]}, 'holds a value that is not a number'),
    ({'people': [{'pose_keypoints_2d': GOOD[:-1] + [1e300]}]}, 'holds NaN, infinity or a value beyond float32'),
    ('{"people": [{"pose_keypoints_2d": [NaN' + ', 1' * 74 + ']}]}', 'holds NaN'),
    ('{"people": [', 'malformed JSON'),
])
def test_bad_openpose_frame(tmp_path, doc, message):
    folder, path = _one_frame(tmp_path, doc)
    with pytest.raises(PoseError, match=re.escape(message)) as err:
        read_openpose_folder(folder, SIZE)
    assert str(err.value).startswith(f'{path}:') and '\n' not in str(err.value)


def test_bad_openpose_folder(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(PoseError, match=re.escape(f'{empty}: no *_keypoints.json files')):
        read_openpose_folder(empty, SIZE)
    folder, _ = _one_frame(tmp_path, {'people': []})
    (folder / 'other_000000000001_keypoints.json').write_text('{"people": []}')
    with pytest.raises(PoseError, match='files of two videos'):
        read_openpose_folder(folder, SIZE)
    folder, _ = _one_frame(tmp_path / 'a', {'people': []}, name='image_keypoints.json')
    with pytest.raises(PoseError, match='no frame number in the name'):
        read_openpose_folder(folder, SIZE)
    folder, _ = _one_frame(tmp_path / 'b', {'people': []})
    (folder / 'clip_999999999_keypoints.json').write_text('{"people": []}')
    with pytest.raises(PoseError, match=re.escape('frame numbers 0..999999999 span 1000000000 frames, more than')):
        read_openpose_folder(folder, SIZE)
    folder, _ = _one_frame(tmp_path / 'c', {'people': []})
    (folder / 'clip_0_keypoints.json').write_text('{"people": []}')
    with pytest.raises(PoseError, match='frame 0 is also'):
        read_openpose_folder(folder, SIZE)
    folder, _ = _one_frame(tmp_path / 'd', {'people': []})
    with pytest.raises(PoseError, match=re.escape('frame size (640, 0) is not two positive numbers')):
        read_openpose_folder(folder, (640, 0))


def test_special_file(tmp_path):
    folder = tmp_path / 'fifo'
    folder.mkdir()
    os.mkfifo(folder / 'clip_000000000000_keypoints.json')
    with pytest.raises(PoseError, match='not a regular file'):
        read_openpose_folder(folder, SIZE)
    with pytest.raises(PoseError, match='not a folder'):
        read_openpose_folder(folder / 'clip_000000000000_keypoints.json', SIZE)


def test_skip_mode_reports_bad_frames(tmp_path):
    rng = np.random.default_rng(5)
    folder = write_openpose(tmp_path / 'v', [[person(rng, 25)], [person(rng, 25)], [person(rng, 25)]])
    bad = folder / 'clip_000000000001_keypoints.json'
    bad.write_text('{"people": [{"pose_keypoints_2d": [1, 2]}]}')
    with pytest.raises(PoseError, match=re.escape(f'{bad}: people[0]: "pose_keypoints_2d" has 2 values')):
        read_openpose_folder(folder, SIZE)
    sample, report = read_openpose_folder(folder, SIZE, on_error='skip')
    assert len(report.skipped) == 1 and report.skipped[0].startswith(f'{bad}: people[0]')
    assert not sample[:, 1].any() and sample[:, 0].any() and sample[:, 2].any()
    assert report.frames_with_people == 2
    for path in folder.iterdir():
        path.write_text('[]')
    with pytest.raises(PoseError, match='every frame file is bad'):
        read_openpose_folder(folder, SIZE, on_error='skip')


KP = [1.0, 2.0, 0.5] * 17


@pytest.mark.parametrize('doc,message', [
    ({'image_id': 1}, 'expected a JSON list of detections'),
    ([], 'the list holds no detection'),
    ([{'keypoints': KP}], '[0]: missing key "image_id"'),
    ([{'image_id': 1, 'keypoints': KP}, {'image_id': 2}], '[1]: missing key "keypoints"'),
    ([{'image_id': 1, 'keypoints': KP[:-3]}], '[0]: "keypoints" has 48 values, expected 51'),
    ([{'image_id': 1, 'keypoints': KP[:-1] + ['x']}], '[0]: "keypoints" holds a value that is not a number'),
    ([{'image_id': 1.5, 'keypoints': KP}], '[0]: "image_id" 1.5 is not an integer or a name'),
    ([{'image_id': 1, 'keypoints': KP}, {'image_id': 'a.png', 'keypoints': KP}], 'image_id values mix int and str'),
    ([{'image_id': 0, 'keypoints': KP}, {'image_id': 10 ** 9, 'keypoints': KP}], 'spans 1000000001 frames'),
    ([{'image_id': 0, 'keypoints': KP, 'width': 'wide', 'height': 3}], '[0]: "width" and "height"'),
])
def test_bad_coco_list(tmp_path, doc, message):
    path = tmp_path / 'dets.json'
    path.write_text(json.dumps(doc))
    with pytest.raises(PoseError, match=re.escape(message)) as err:
        read_coco_list(path, SIZE)
    assert str(err.value).startswith(f'{path}:')


def test_nan_in_a_coco_list(tmp_path):
    path = tmp_path / 'dets.json'
    path.write_text('[{"image_id": 1, "keypoints": [NaN' + ', 1' * 50 + ']}]')
    with pytest.raises(PoseError, match=re.escape(f'{path}: [0]: "keypoints" holds NaN')):
        read_coco_list(path, SIZE)


def test_read_pose_refuses_other_paths(tmp_path):
    frame = tmp_path / 'clip_000000000000_keypoints.json'
    frame.write_text('{"people": []}')
    with pytest.raises(PoseError, match='one OpenPose frame; give its folder'):
        read_pose(frame, SIZE)
    with pytest.raises(PoseError, match='not a pose file'):
        read_pose(tmp_path / 'x.skeleton', SIZE)
