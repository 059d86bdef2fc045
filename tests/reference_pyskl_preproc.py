"""A loop-by-loop re-statement of kennymckormick/pyskl:tools/data/ntu_preproc.py, the oracle for
data_gen/pyskl_preproc.py and data_gen/gen_pyskl_data.py (docs/reference.md section 8).

Independent of data_gen (nothing imported from it): the file is split into lines, every body ID goes into
a dict in order of first appearance, every frame is a Python loop. Scalar arithmetic follows numpy 1.x, the
numpy the script was written for: a float32 scalar times a Python float is a float64 (written out below,
since numpy 2 would keep it in float32).
"""
import copy

import numpy as np

EPS = 1e-3
TRAINING_SUBJECTS = [1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46, 47, 49,
                     50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93,
                     94, 95, 97, 98, 100, 103]


def read_lines(path):
    """The file's lines, split at '\\n' only, trailing empty lines dropped (pyskl.smp.mrlines)."""
    with open(path) as f:
        lines = f.read().split('\n')
    while lines and lines[-1] == '':
        lines.pop()
    return lines


def parse_bodies(path):
    """{body ID: {'kpt': (n, 25, 3) float32, 'start': int, 'motion': float32}} (parse_skeleton_file)."""
    lines = read_lines(path)
    pos = 0
    num_frames = int(lines[pos])
    pos += 1
    bodies = {}
    listed_frame = 0  # counts only the frames that list a body
    for _ in range(num_frames):
        count = int(lines[pos])
        pos += 1
        if count == 0:
            continue
        for _ in range(count):
            body_id = int(lines[pos].split()[0])
            if body_id not in bodies:
                bodies[body_id] = {'kpt': [], 'start': listed_frame}
            pos += 1
            assert int(lines[pos]) == 25
            pos += 1
            joints = np.zeros((25, 3), np.float32)
            for j in range(25):
                joints[j] = np.array(lines[pos].split()[:3], dtype=np.float32)
                pos += 1
            bodies[body_id]['kpt'].append(joints)
        listed_frame += 1
    assert pos == len(lines)
    for body in bodies.values():
        body['motion'] = np.sum(np.var(np.vstack(body['kpt']), axis=0))
        body['kpt'] = np.stack(body['kpt'])
    return bodies


def denoise_by_spread(bodies):
    """spread_denoising, or None where the original stops at its assertion."""
    for body in bodies:
        valid = []
        for t in range(body['kpt'].shape[0]):
            x, y = body['kpt'][t, :, 0], body['kpt'][t, :, 1]
            if np.float64(x.max() - x.min()) <= 0.8 * np.float64(y.max() - y.min()):
                valid.append(t)
        if len(valid) == body['kpt'].shape[0]:
            body['keep'] = True
            continue
        if 1 - len(valid) / body['kpt'].shape[0] >= 0.69754:
            body['keep'] = False
        else:
            body['keep'] = True
            body['motion'] = min(body['motion'], np.sum(np.var(body['kpt'][valid].reshape(-1, 3), axis=0)))
    bodies = [b for b in bodies if b['keep']]
    if not bodies:
        return None
    bodies.sort(key=lambda b: -b['motion'])
    return bodies


def cut_empty_ends(keypoint):
    """non_zero, or None where the original runs past the end."""
    first, last = 0, keypoint.shape[1]
    while np.float64(np.sum(np.abs(keypoint[:, first]))) < EPS:
        first += 1
        if first == keypoint.shape[1]:
            return None
    while np.float64(np.sum(np.abs(keypoint[:, last - 1]))) < EPS:
        last -= 1
    return keypoint[:, first:last]


def keypoint_of(bodies):
    """gen_keypoint_array: float32 (M, T, 25, 3), or None where the original stops or stores None."""
    bodies = copy.deepcopy(list(bodies.values()))
    if not bodies:
        return None
    bodies.sort(key=lambda b: -b['motion'])
    if len(bodies) == 1:
        return bodies[0]['kpt'][None]
    bodies = [b for b in bodies if b['kpt'].shape[0] > 11]
    if len(bodies) == 1:
        return bodies[0]['kpt'][None]
    bodies = denoise_by_spread(bodies)
    if bodies is None:
        return None
    if len(bodies) == 1:
        return bodies[0]['kpt'][None]
    length = max(b['start'] + b['kpt'].shape[0] for b in bodies)
    keypoint = np.zeros((2, length, 25, 3), np.float32)
    a0, a1 = bodies[0]['start'], bodies[0]['start'] + bodies[0]['kpt'].shape[0]
    b0, b1 = 0, 0
    keypoint[0, a0:a1] = bodies[0]['kpt']
    for body in bodies[1:]:
        s, e = body['start'], body['start'] + body['kpt'].shape[0]
        if max(a0, s) >= min(a1, e):
            keypoint[0, s:e] = body['kpt']
            a0, a1 = min(s, a0), max(e, a1)
        elif max(b0, s) >= min(b1, e):
            keypoint[1, s:e] = body['kpt']
            b0, b1 = min(s, b0), max(e, b1)
    keypoint = cut_empty_ends(keypoint)
    if keypoint is None:
        return None
    if (np.float64(np.sum(np.abs(keypoint[0, 0, 1]))) < EPS
            and np.float64(np.sum(np.abs(keypoint[1, 0, 1]))) > EPS):
        keypoint = keypoint[::-1]
    return keypoint


def annotation(path, name):
    """gen_anno: the annotation dict, or None where the original stores None or stops."""
    keypoint = keypoint_of(parse_bodies(path))
    if keypoint is None:
        return None
    keypoint = keypoint.astype(np.float16)
    return {'frame_dir': name, 'label': int(name.split('A')[-1]) - 1, 'keypoint': keypoint,
            'total_frames': keypoint.shape[1]}


def split_lists(names, dataset):
    """The split dict ntu_preproc.py dumps, for names already sorted and filtered."""
    xsub_train = [n for n in names if int(n.split('P')[1][:3]) in TRAINING_SUBJECTS]
    xsub_val = [n for n in names if int(n.split('P')[1][:3]) not in TRAINING_SUBJECTS]
    if dataset == 'ntu120':
        return {'xsub_train': xsub_train, 'xsub_val': xsub_val,
                'xset_train': [n for n in names if int(n.split('S')[1][:3]) % 2 == 0],
                'xset_val': [n for n in names if int(n.split('S')[1][:3]) % 2 == 1]}
    return {'xsub_train': xsub_train, 'xsub_val': xsub_val,
            'xview_train': [n for n in names if 'C001' not in n], 'xview_val': [n for n in names if 'C001' in n]}
