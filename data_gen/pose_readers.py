"""Pose-estimator output -> one float32 (3, T, V, 2) sample of (x, y, score), normalised as Kinetics is trained.

Readers, each returning (sample, PoseReport):
  read_openpose_folder  OpenPose --write_json output: one `{video}_{frame}_keypoints.json` per frame, people[]
                        .pose_keypoints_2d of BODY_25 (75 values) or COCO-18 (54); layout 'openpose' (18 joints).
  read_coco_list        one JSON list of COCO-17 detections [{"image_id", "keypoints": 51 values, ...}] (HRNet,
                        MMPose's COCO results, AlphaPose); layout 'coco'.
  read_kinetics_json    ST-GCN's Kinetics-skeleton per-video JSON (data_gen/gen_kinetics_data.py's reader).
  read_pose             any of them, by what the path is.

Normalisation is that of the Kinetics-skeleton data and of st-gcn's demo (yysijie/st-gcn:processor/
demo_offline.py:DemoOffline.pose_estimation): x / width - 0.5, y / height - 0.5, the joint's score kept as the
third channel, undetected joints (score 0) at 0. People: per frame, the two with the highest summed joint score
(gen_kinetics_data.select_people, the official feeder's rule); unlike the official feeder, which looks only at
the first 5 listed, every person of the frame competes. Bad input raises PoseError 'path: [where: ]what'.
"""
import dataclasses
import os
import re

import numpy as np

from data_gen import gen_kinetics_data
from data_gen.gen_kinetics_data import CENTER_SHIFT, KineticsError, select_people

NUM_PERSON = 2
MAX_FRAMES = 108_000  # an hour at 30 fps: a frame number span beyond it is a numbering error, not a video
# OpenPose's BODY_25 joints in the order of its COCO-18 model (layout 'openpose'), matched by name in
# CMU-Perceptual-Computing-Lab/openpose:src/openpose/pose/poseParameters.cpp (POSE_BODY_25_BODY_PARTS,
# POSE_COCO_BODY_PARTS): COCO-18 is BODY_25 without MidHip (8) and the six foot joints (19-24).
BODY25_TO_OPENPOSE18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
OPENPOSE_MODELS = {75: 'BODY_25', 54: 'COCO'}  # values per person -> OpenPose --model_pose
OPENPOSE_SUFFIX = '_keypoints.json'
OPENPOSE_NAME = re.compile(r'^(?P<video>.*)_(?P<frame>\d+)_keypoints\.json$')
COCO_JOINTS = 17


class PoseError(ValueError):
    """A bad pose file or folder; str() is 'path: [where: ]what'."""


@dataclasses.dataclass(frozen=True)
class PoseReport:
    """What a reader saw. num_frames: T of the sample; max_people: most people in one frame; crowded_frames:
    frames with more people than the sample keeps; skipped: messages of the frame files left out (skip mode);
    frame_size: the (width, height) in pixels the coordinates were divided by (None: Kinetics' are stored so)."""
    source: str
    format: str
    layout: str
    num_frames: int
    frames_with_people: int
    max_people: int
    crowded_frames: int
    skipped: tuple = ()
    frame_size: tuple = None


def frame_from_people(people, frame_size, num_person=NUM_PERSON):
    """One frame's detections as the readers store it: what a stream pushes.

    Shape: people (P, V, 3) pixel x, y and score -> (3, V, num_person) float32.
    """
    return _to_sample([np.asarray(people, np.float64)], frame_size, num_person)[:, 0]


def _to_sample(frames, frame_size, num_person):
    """Shape: T arrays (P_t, V, 3) of pixel x, y, score -> (3, T, V, num_person) float32."""
    width, height = frame_size
    num_joint = frames[0].shape[1] if frames else 0
    slots = max([num_person] + [len(people) for people in frames])
    data = np.zeros((3, len(frames), num_joint, slots))
    for t, people in enumerate(frames):
        data[:, t, :, :len(people)] = people.transpose(2, 1, 0)  # (P, V, 3) -> (3, V, P)
    data[0] /= width
    data[1] /= height
    return select_people(data, num_person)  # -0.5, undetected joints to 0, the most confident num_person


def sample_pixels(sample, frame_size):
    """The inverse of the readers' normalisation: a sample's x, y back in the estimator's pixels,
    x = (v + 0.5) * width for a detected joint, 0 for an undetected one (score 0).

    Shape: sample (3, T, V, M) -> float64 (2, T, V, M).
    """
    size = np.asarray(frame_size, np.float64).reshape(2, 1, 1, 1)  # (width, height) per channel
    return np.where(sample[2] > 0, (sample[:2].astype(np.float64) + CENTER_SHIFT) * size, 0.0)


def _report(source, fmt, layout, counts, num_person, skipped=(), frame_size=None):
    """counts: (T,) people seen in each frame."""
    counts = np.asarray(counts)
    return PoseReport(str(source), fmt, layout, len(counts), int((counts > 0).sum()), int(counts.max(initial=0)),
                      int((counts > num_person).sum()), tuple(skipped), frame_size)


def _load_json(path):
    try:
        return gen_kinetics_data._load_json(path)  # regular file, size bound, line and column of a syntax error
    except KineticsError as e:
        raise PoseError(str(e)) from None


def _keypoints(raw, count, where):
    """A list of ``count`` finite numbers -> (count // 3, 3) float64."""
    if not isinstance(raw, list) or len(raw) != count:
        size = len(raw) if isinstance(raw, list) else type(raw).__name__
        raise PoseError(f'{where} has {size} values, expected {count}')
    if not set(map(type, raw)) <= {int, float}:  # bools, strings and null are not coordinates
        raise PoseError(f'{where} holds a value that is not a number')
    values = np.asarray(raw, np.float64).reshape(-1, 3)
    with np.errstate(over='ignore'):  # as stored: 1e308 is finite in float64 only
        finite = np.isfinite(values.astype(np.float32)).all()
    if not finite:
        raise PoseError(f'{where} holds NaN, infinity or a value beyond float32')
    return values


def _frame_size(given, recorded, source):
    """The user's (width, height), else the one the files record; PoseError if neither or if they disagree."""
    sizes = sorted(set(recorded))
    if len(sizes) > 1:
        raise PoseError(f'{source}: the files record different frame sizes {sizes[0]} and {sizes[1]}')
    size = given if given is not None else (sizes[0] if sizes else None)
    if size is None:
        raise PoseError(f'{source}: the files do not record the frame size; give it (width, height in pixels)')
    if len(size) != 2 or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in size):
        raise PoseError(f'{source}: frame size {size!r} is not two positive numbers (width, height)')
    return tuple(float(s) for s in size)


def _recorded_size(record, where):
    """(width, height) if ``record`` carries both keys, else None."""
    if not isinstance(record, dict) or 'width' not in record or 'height' not in record:
        return None
    size = (record['width'], record['height'])
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in size):
        raise PoseError(f'{where}: "width" and "height" {size!r} are not two positive numbers')
    return size


# --- OpenPose ---

def openpose_frames(folder):
    """The frame files of one OpenPose --write_json folder: [(frame number, path)], by frame number."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise PoseError(f'{folder}: not a folder of OpenPose *{OPENPOSE_SUFFIX} files')
    names = sorted(name for name in os.listdir(folder) if name.endswith(OPENPOSE_SUFFIX))
    if not names:
        raise PoseError(f'{folder}: no *{OPENPOSE_SUFFIX} files (OpenPose --write_json output)')
    frames, videos = {}, {}
    for name in names:
        match = OPENPOSE_NAME.match(name)
        if match is None:
            raise PoseError(f'{os.path.join(folder, name)}: no frame number in the name (expected '
                            f'VIDEO_000000000000{OPENPOSE_SUFFIX})')
        number = int(match['frame'])
        videos.setdefault(match['video'], name)
        if len(videos) > 1:
            first, second = videos.values()
            raise PoseError(f'{folder}: files of two videos ({first}, {second}); give one video per folder')
        if number in frames:
            raise PoseError(f'{os.path.join(folder, name)}: frame {number} is also {os.path.basename(frames[number])}')
        frames[number] = os.path.join(folder, name)
    span = max(frames) - min(frames) + 1
    if span > MAX_FRAMES:
        raise PoseError(f'{folder}: frame numbers {min(frames)}..{max(frames)} span {span} frames, more than '
                        f'{MAX_FRAMES} (an hour at 30 fps)')
    return sorted(frames.items())


def read_openpose_frame(path, num_values=None):
    """One OpenPose frame file -> ((P, 18, 3) pixel x, y, score in layout 'openpose', recorded frame size or
    None, values per person).

    num_values: 75 (BODY_25) or 54 (COCO-18) when known; None takes the first person's count.
    """
    frame = _load_json(path)
    if not isinstance(frame, dict) or not isinstance(frame.get('people'), list):
        raise PoseError(f'{path}: expected an object with a "people" list (OpenPose --write_json)')
    people = []
    for m, person in enumerate(frame['people']):
        # OpenPose 1.0 and 1.1 wrote the key without the _2d suffix.
        key = 'pose_keypoints_2d' if isinstance(person, dict) and 'pose_keypoints_2d' in person else 'pose_keypoints'
        if not isinstance(person, dict) or key not in person:
            raise PoseError(f'{path}: people[{m}]: missing key "pose_keypoints_2d"')
        raw = person[key]
        if num_values is None and isinstance(raw, list) and len(raw) in OPENPOSE_MODELS:
            num_values = len(raw)
        if num_values is None:
            raise PoseError(f'{path}: people[{m}]: "{key}" has {len(raw) if isinstance(raw, list) else raw!r} '
                            'values, expected 75 (BODY_25) or 54 (COCO-18)')
        joints = _keypoints(raw, num_values, f'{path}: people[{m}]: "{key}"')
        people.append(joints[list(BODY25_TO_OPENPOSE18)] if num_values == 75 else joints)
    return np.asarray(people).reshape(-1, 18, 3), _recorded_size(frame, path), num_values


def read_openpose_folder(folder, frame_size=None, num_person=NUM_PERSON, on_error='fail'):
    """One video's OpenPose folder -> ((3, T, 18, num_person) float32, PoseReport), T from the frame numbers
    (a missing frame number is an empty frame). on_error 'skip': a bad frame file becomes an empty frame and
    its message goes to report.skipped; folder-level errors still raise."""
    if on_error not in ('fail', 'skip'):
        raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    numbered = openpose_frames(folder)
    first = numbered[0][0]
    frames = [np.zeros((0, 18, 3))] * (numbered[-1][0] - first + 1)
    recorded, skipped, num_values = [], [], None
    for number, path in numbered:
        try:
            # The first person fixes the model (BODY_25 or COCO-18) for the whole folder.
            people, size, num_values = read_openpose_frame(path, num_values)
        except PoseError as e:
            if on_error == 'fail':
                raise  # the caller says what its own skip mode would do
            skipped.append(str(e))
            continue
        frames[number - first] = people
        if size is not None:
            recorded.append(size)
    if len(skipped) == len(numbered):
        raise PoseError(f'{folder}: every frame file is bad, the last: {skipped[-1]}')
    size = _frame_size(frame_size, recorded, folder)
    model = OPENPOSE_MODELS.get(num_values, 'no people')
    counts = [len(people) for people in frames]
    return _to_sample(frames, size, num_person), _report(folder, f'openpose {model}', 'openpose', counts,
                                                          num_person, skipped, size)


# --- COCO-17 keypoint lists ---

def _frame_order(ids, path):
    """Frame position of each distinct image_id: integers are frame numbers (gaps stay empty frames), names are
    ordered naturally ('img2' before 'img10'; AlphaPose leaves frames without detections out, so names give
    order, not gaps). Returns ({image_id: t}, T)."""
    kinds = {type(i) for i in ids}
    if kinds == {int}:
        first, last = min(ids), max(ids)
        if last - first + 1 > MAX_FRAMES:
            raise PoseError(f'{path}: image_id {first}..{last} spans {last - first + 1} frames, more than '
                            f'{MAX_FRAMES} (an hour at 30 fps)')
        return {i: i - first for i in ids}, last - first + 1
    if kinds == {str}:
        ordered = sorted(ids, key=lambda name: [int(p) if p.isdigit() else p for p in re.split(r'(\d+)', name)])
        return {name: t for t, name in enumerate(ordered)}, len(ordered)
    raise PoseError(f'{path}: image_id values mix {" and ".join(sorted(k.__name__ for k in kinds))}; '
                    'expected all integers (frame numbers) or all names')


def read_coco_list(path, frame_size=None, num_person=NUM_PERSON, num_joints=COCO_JOINTS, layout='coco'):
    """A COCO-17 result list -> ((3, T, 17, num_person) float32, PoseReport), frames ordered by image_id.

    The same list format with another body model (a user's layout: MMPose writes every model's results so)
    gives num_joints joints per detection; the report names its `layout`.
    """
    return _coco_sample(_load_json(path), path, frame_size, num_person, num_joints, layout)


def _coco_sample(detections, path, frame_size, num_person, num_joints=COCO_JOINTS, layout='coco'):
    if not isinstance(detections, list):
        raise PoseError(f'{path}: expected a JSON list of detections [{{"image_id", "keypoints"}}, ...]')
    if not detections:
        raise PoseError(f'{path}: the list holds no detection')
    ids, poses, recorded = [], [], []
    for i, det in enumerate(detections):
        for key in ('image_id', 'keypoints'):
            if not isinstance(det, dict) or key not in det:
                raise PoseError(f'{path}: [{i}]: missing key "{key}"')
        if type(det['image_id']) not in (int, str):
            raise PoseError(f'{path}: [{i}]: "image_id" {det["image_id"]!r} is not an integer or a name')
        ids.append(det['image_id'])
        raw = det['keypoints']
        if isinstance(raw, list) and len(raw) != 3 * num_joints and len(raw) % 3 == 0:
            # Another body model's list: the joint count comes from its layout, which only the user can give.
            raise PoseError(f'{path}: [{i}]: "keypoints" has {len(raw)} values, expected {3 * num_joints} '
                            f'({num_joints} joints of layout {layout}); a list of {len(raw) // 3}-joint poses '
                            'needs its layout (--layout-file)')
        poses.append(_keypoints(raw, 3 * num_joints, f'{path}: [{i}]: "keypoints"'))
        size = _recorded_size(det, f'{path}: [{i}]')
        if size is not None:
            recorded.append(size)
    order, num_frames = _frame_order(list(dict.fromkeys(ids)), path)
    people = [[] for _ in range(num_frames)]
    for image_id, pose in zip(ids, poses):  # detections of a frame in the listed order (ties keep it)
        people[order[image_id]].append(pose)
    frames = [np.asarray(p).reshape(-1, num_joints, 3) for p in people]
    size = _frame_size(frame_size, recorded, path)
    counts = [len(p) for p in people]
    fmt = 'coco-17 list' if layout == 'coco' else f'coco-style list of {num_joints} joints'
    return _to_sample(frames, size, num_person), _report(path, fmt, layout, counts, num_person, frame_size=size)


# --- Kinetics-skeleton JSON ---

def read_kinetics_json(path, num_person=NUM_PERSON):
    """ST-GCN's Kinetics-skeleton JSON -> ((3, 300, 18, num_person) float32, PoseReport). Coordinates are
    already in [0, 1]; people are counted among the first 5 listed, the official reader's cap."""
    try:
        data, _ = gen_kinetics_data.read_clip(path)  # (3, 300, 18, 5) float64
    except KineticsError as e:
        raise PoseError(str(e)) from None
    counts = (data[2] > 0).any(axis=1).sum(axis=1)  # (T,): listed people with a detected joint
    return select_people(data, num_person), _report(path, 'kinetics json', 'openpose', counts, num_person)


def read_pose(path, frame_size=None, num_person=NUM_PERSON, on_error='fail', num_joints=COCO_JOINTS, layout='coco'):
    """Any supported pose file: a folder is an OpenPose video, a .json a COCO-17 list (or one of num_joints
    joints of `layout`, see read_coco_list) or a Kinetics JSON."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return read_openpose_folder(path, frame_size, num_person, on_error)
    if not path.endswith('.json'):
        raise PoseError(f'{path}: not a pose file (an OpenPose folder, a COCO-17 .json list or a Kinetics .json)')
    if path.endswith(OPENPOSE_SUFFIX):
        raise PoseError(f'{path}: one OpenPose frame; give its folder, which holds the whole video')
    content = _load_json(path)
    if isinstance(content, dict) and 'data' in content:
        return read_kinetics_json(path, num_person)  # parses again: read_clip takes a path
    return _coco_sample(content, path, frame_size, num_person, num_joints, layout)
