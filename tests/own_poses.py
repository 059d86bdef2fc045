"""A folder of a user's own pose files, as gen_pose_data reads it: ACTION/SAMPLE.json COCO-style keypoint lists of
the 10-joint hand of tests/test_layouts.py, two actions that move the hand differently."""
import json

import numpy as np

# Joint positions of the hand at rest, pixels (x, y) in a 640 x 480 frame: the wrist low, five fingers above.
REST = np.array([[320, 400], [260, 360], [230, 330], [290, 300], [290, 250], [320, 290], [320, 230],
                 [350, 300], [350, 250], [380, 310]], np.float64)
WIDTH, HEIGHT = 640, 480
ACTIONS = ('wave', 'nod')  # wave: sideways; nod: up and down


def hand_frames(action, num_frames, phase, people=1):
    """(T, P, 10, 3) pixel x, y and score of `people` hands doing `action`."""
    t = np.arange(num_frames)[:, None]
    swing = 60 * np.sin(2 * np.pi * t / 12 + phase)  # (T, 1)
    xy = np.repeat(REST[None], num_frames, axis=0)  # (T, 10, 2)
    xy[..., 0 if action == 'wave' else 1] += swing
    frames = np.concatenate([xy, np.full((num_frames, 10, 1), 0.9)], axis=-1)  # (T, 10, 3)
    hands = [frames + [[[40.0 * p, 0, -0.1 * p]]] for p in range(people)]
    return np.stack(hands, axis=1)


def write_coco_list(path, frames, size=True):
    """frames (T, P, V, 3) -> one detection per person and frame, image_id the frame number."""
    detections = []
    for t, people in enumerate(frames):
        for person in people:
            det = {'image_id': t, 'keypoints': [round(float(v), 3) for v in person.reshape(-1)]}
            if size:
                det.update(width=WIDTH, height=HEIGHT)
            detections.append(det)
    path.write_text(json.dumps(detections))


def write_pose_folder(root, per_action=5, num_frames=24, seed=0):
    """root/ACTION/ACTION_k.json for each action: per_action samples of random phase and length."""
    rng = np.random.default_rng(seed)
    for action in ACTIONS:
        (root / action).mkdir(parents=True)
        for k in range(per_action):
            frames = hand_frames(action, num_frames + int(rng.integers(0, 8)), rng.uniform(0, 2 * np.pi),
                                 people=1 + k % 2)
            write_coco_list(root / action / f'{action}_{k}.json', frames)
    return root
