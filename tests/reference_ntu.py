"""Straightforward loop-based NTU preprocessing, written the way 2s-AGCN's data_gen tools are
(docs/reference.md sections 1 and 6).

The oracle for data_gen's fast path (tests) and the baseline for bench/bench_datagen.py: a readline parser
that turns every value into a float() in a dict, frame/body/joint Python loops, and the frame-by-frame,
joint-by-joint pre-normalisation with its own Euler-Rodrigues rotation matrix. Deliberately independent of
data_gen (nothing imported from it). The one addition to the 2s-AGCN tools: files longer than max_frame are
cut to their first max_frame frames (the original crashes there).
"""
import math

import numpy as np

JOINT_KEYS = ('x', 'y', 'z', 'depthX', 'depthY', 'colorX', 'colorY', 'orientationW', 'orientationX',
              'orientationY', 'orientationZ', 'trackingState')
BODY_KEYS = ('bodyID', 'clipedEdges', 'handLeftConfidence', 'handLeftState', 'handRightConfidence',
             'handRightState', 'isRestricted', 'leanX', 'leanY', 'trackingState')


def read_skeleton_dicts(path):
    """The whole file as nested dicts of floats, one readline at a time."""
    with open(path) as f:
        sequence = {'numFrame': int(f.readline()), 'frameInfo': []}
        for _ in range(sequence['numFrame']):
            frame = {'numBody': int(f.readline()), 'bodyInfo': []}
            for _ in range(frame['numBody']):
                body = {k: float(v) for k, v in zip(BODY_KEYS, f.readline().split())}
                body['numJoint'] = int(f.readline())
                body['jointInfo'] = []
                for _ in range(body['numJoint']):
                    body['jointInfo'].append({k: float(v) for k, v in zip(JOINT_KEYS, f.readline().split())})
                frame['bodyInfo'].append(body)
            sequence['frameInfo'].append(frame)
    return sequence


def read_bodies(path, max_body):
    """(max_body, T, 25, 3) float64: the first max_body bodies listed in each frame."""
    sequence = read_skeleton_dicts(path)
    data = np.zeros((max_body, sequence['numFrame'], 25, 3))
    for t, frame in enumerate(sequence['frameInfo']):
        for m, body in enumerate(frame['bodyInfo']):
            for j, joint in enumerate(body['jointInfo']):
                if m < max_body and j < 25:
                    data[m, t, j, :] = [joint['x'], joint['y'], joint['z']]
    return data


def nonzero_std(body):
    """(T, V, C): summed per-channel std over frames whose coordinates do not sum to zero."""
    body = body[body.sum(-1).sum(-1) != 0]
    if len(body) == 0:
        return 0
    return body[:, :, 0].std() + body[:, :, 1].std() + body[:, :, 2].std()


def euler_rodrigues(axis, theta):
    """Counter-clockwise rotation by theta about axis; identity for a tiny axis or angle."""
    if np.abs(axis).sum() < 1e-6 or np.abs(theta) < 1e-6:
        return np.eye(3)
    axis = np.asarray(axis) / math.sqrt(np.dot(axis, axis))
    a = math.cos(theta / 2.0)
    b, c, d = -axis * math.sin(theta / 2.0)
    return np.array([
        [a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
        [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
        [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c]])


def angle_between(v1, v2):
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0
    u1 = v1 / np.linalg.norm(v1)
    u2 = np.asarray(v2) / np.linalg.norm(v2)
    return np.arccos(np.clip(np.dot(u1, u2), -1.0, 1.0))


def pre_normalization(data, zaxis=(0, 1), xaxis=(8, 4)):
    """(N, C, T, V, M) float32, modified through a (N, M, T, V, C) view and returned."""
    N, C, T, V, M = data.shape
    s = np.transpose(data, [0, 4, 2, 3, 1])  # (N, M, T, V, C) view
    for i_s, skeleton in enumerate(s):
        for i_p, person in enumerate(skeleton):
            if person.sum() == 0:
                continue
            if person[0].sum() == 0:
                index = person.sum(-1).sum(-1) != 0
                tmp = person[index].copy()
                person *= 0
                person[:len(tmp)] = tmp
            for i_f, frame in enumerate(person):
                if frame.sum() == 0 and person[i_f:].sum() == 0:
                    rest = len(person) - i_f
                    repeats = int(np.ceil(rest / i_f))
                    s[i_s, i_p, i_f:] = np.concatenate([person[0:i_f]] * repeats, 0)[:rest]
                    break
    for i_s, skeleton in enumerate(s):
        if skeleton.sum() == 0:
            continue
        center = skeleton[0][:, 1:2, :].copy()
        for i_p, person in enumerate(skeleton):
            if person.sum() == 0:
                continue
            mask = (person.sum(-1) != 0).reshape(T, V, 1)
            s[i_s, i_p] = (s[i_s, i_p] - center) * mask
    for (j0, j1), target in (((zaxis[0], zaxis[1]), [0, 0, 1]), ((xaxis[1], xaxis[0]), [1, 0, 0])):
        for i_s, skeleton in enumerate(s):
            if skeleton.sum() == 0:
                continue
            bone = skeleton[0, 0, j1] - skeleton[0, 0, j0]
            matrix = euler_rodrigues(np.cross(bone, target), angle_between(bone, target))
            for i_p, person in enumerate(skeleton):
                if person.sum() == 0:
                    continue
                for i_f, frame in enumerate(person):
                    if frame.sum() == 0:
                        continue
                    for i_j, joint in enumerate(frame):
                        s[i_s, i_p, i_f, i_j] = np.dot(matrix, joint)
    return np.transpose(s, [0, 4, 2, 3, 1])  # (N, C, T, V, M)


def reference_sample(path, mode='prenorm', max_frame=300):
    """(3, max_frame, 25, 2) float32 as 2s-AGCN ('prenorm') or the official ST-GCN tools ('raw') make it."""
    if mode == 'prenorm':
        data = read_bodies(path, max_body=4)
        energy = np.array([nonzero_std(body) for body in data])
        data = data[energy.argsort()[::-1][0:2]]
    else:
        data = read_bodies(path, max_body=2)
    data = data.transpose(3, 1, 2, 0)[:, :max_frame]  # (C, T, V, M)
    fp = np.zeros((1, 3, max_frame, 25, 2), dtype=np.float32)
    fp[0, :, 0:data.shape[1], :, :] = data
    if mode == 'prenorm':
        fp = pre_normalization(fp)
    return fp[0]
