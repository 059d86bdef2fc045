"""Turn a parsed skeleton into one stored sample (C, T, V, M): raw, or 2s-AGCN body selection + pre-normalisation.

'prenorm' follows 2s-AGCN's ntu_gendata.read_xyz + preprocess.pre_normalization (docs/reference.md section 6) exactly, per
sample and vectorised over frames: the same predicates ("empty" means the coordinates sum to zero, as there),
the same float64 energies and argsort for body selection, the same float32 arithmetic for padding and
centring, and the same degenerate-case rules for the two rotations. 'raw' follows the official ST-GCN
ntu_gendata: the first two bodies listed in each frame, raw camera coordinates, zero padded.
"""
import numpy as np
from scipy.spatial.transform import Rotation

from data_gen.skeleton import read_skeleton

MODES = ('prenorm', 'raw')
MAX_BODY_KINECT = 4  # bodies read per frame before selection (2s-AGCN max_body_kinect)
MAX_BODY_TRUE = 2  # bodies stored (M)
CENTER_JOINT = 1  # joint 2, middle of spine
Z_AXIS_JOINTS = (0, 1)  # base of spine -> middle of spine of person 0, frame 0, is turned onto +z
X_AXIS_JOINTS = (8, 4)  # right shoulder - left shoulder of person 0, frame 0, is then turned onto +x
# 2s-AGCN rotation.py: a vector, axis or angle whose absolute sum is below this gives no rotation. So a
# zero-length bone, or one already (anti)parallel to the target axis, leaves the sequence unrotated.
ROTATION_EPS = 1e-6


def skeleton_to_sample(path, mode='prenorm', max_frame=300):
    """Read a `.skeleton` file and preprocess it exactly as gen_joint_data does.

    Shape: returns float32 (3, max_frame, 25, 2).
    """
    return sample_from_skeleton(read_skeleton(path, max_body=MAX_BODY_KINECT), mode, max_frame)


def sample_from_skeleton(skeleton, mode='prenorm', max_frame=300):
    """Preprocess a SkeletonData read with max_body >= 2 (4 for 'prenorm').

    Frames beyond max_frame are dropped (after body selection, which sees the whole file as in 2s-AGCN).
    Shape: returns float32 (3, max_frame, 25, 2).
    """
    return bodies_to_sample(kept_bodies(skeleton, mode), mode, max_frame)


def kept_bodies(skeleton, mode='prenorm'):
    """The MAX_BODY_TRUE bodies a sample keeps, chosen over the whole file: 'raw' the first two listed in each
    frame, 'prenorm' the two with the most motion energy.

    Shape: returns (MAX_BODY_TRUE, T, 25, 3) float64, T = skeleton.num_frames.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    needed = MAX_BODY_KINECT if mode == 'prenorm' else MAX_BODY_TRUE
    if skeleton.xyz.shape[1] < needed:
        raise ValueError(f'mode {mode!r} needs a skeleton read with max_body >= {needed}, '
                         f'got {skeleton.xyz.shape[1]}')
    bodies = skeleton.xyz.transpose(1, 0, 2, 3)  # (max_body, T, V, C)
    if mode == 'prenorm':
        bodies = select_bodies(bodies)
    return bodies[:MAX_BODY_TRUE]


def bodies_to_sample(bodies, mode='prenorm', max_frame=300):
    """The kept bodies as one stored sample: cut or zero-padded to max_frame frames, then for 'prenorm'
    2s-AGCN's pre_normalization, whose first frame sets the rotation.

    Shape: bodies (B, T, V, C), B <= MAX_BODY_TRUE (fewer: the others are empty)
        -> float32 (C, max_frame, V, MAX_BODY_TRUE).
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    kept, num_frames = bodies[:MAX_BODY_TRUE], min(bodies.shape[1], max_frame)
    sample = np.zeros((MAX_BODY_TRUE, max_frame) + bodies.shape[2:], np.float32)  # (M, T, V, C)
    sample[:len(kept), :num_frames] = kept[:, :num_frames]
    if mode == 'prenorm':
        pre_normalize(sample)
    return np.ascontiguousarray(sample.transpose(3, 1, 2, 0))  # (C, T, V, M)


def select_bodies(bodies):
    """Keep the MAX_BODY_TRUE bodies with the most motion energy, highest first.

    Shape: (B, T, V, C) float64 -> (MAX_BODY_TRUE, T, V, C).
    """
    bodies = np.ascontiguousarray(bodies)
    energy = np.array([body_energy(body) for body in bodies])
    # argsort()[::-1] as in 2s-AGCN, so equal energies (e.g. all-zero slots) resolve the same way.
    return bodies[energy.argsort()[::-1][:MAX_BODY_TRUE]]


def body_energy(body):
    """Sum over x, y, z of the std of the body's coordinates over its non-empty frames (0 if none).

    Shape: body (T, V, C).
    """
    if not body.any():  # an unused slot: the reference's answer (0) without the work
        return 0.0
    body = body[body.sum(-1).sum(-1) != 0]
    if len(body) == 0:
        return 0.0
    return body[:, :, 0].std() + body[:, :, 1].std() + body[:, :, 2].std()


def pre_normalize(sample):
    """2s-AGCN pre_normalization steps 1-4 on one sample, in place.

    Shape: sample float32 (M, T, V, C).
    """
    pad_null_frames(sample)
    if sample.sum() == 0:  # no body in any frame: the reference leaves the zeros alone
        return
    center_on_spine(sample)
    rotate(sample, rotation_onto(sample[0, 0, Z_AXIS_JOINTS[1]] - sample[0, 0, Z_AXIS_JOINTS[0]], (0, 0, 1)))
    rotate(sample, rotation_onto(sample[0, 0, X_AXIS_JOINTS[0]] - sample[0, 0, X_AXIS_JOINTS[1]], (1, 0, 0)))


def pad_null_frames(sample):
    """Step 1, per person: if frame 0 is empty, move the non-empty frames to the front; then fill every frame
    after the last non-empty one by repeating the clip from its start.

    Shape: sample (M, T, V, C), modified in place.
    """
    num_frames = sample.shape[1]
    for person in sample:
        if person.sum() == 0:
            continue
        if person[0].sum() == 0:
            present = person[person.sum(-1).sum(-1) != 0]
            person[:] = 0
            person[:len(present)] = present
        end = np.flatnonzero(person.sum(-1).sum(-1) != 0)[-1] + 1
        if end < num_frames:
            person[end:] = person[np.arange(end, num_frames) % end]


def center_on_spine(sample):
    """Step 2: subtract person 0's middle-of-spine joint, frame by frame, from every non-empty person; joints
    that are missing (all zero) stay zero.

    Shape: sample (M, T, V, C), modified in place.
    """
    center = sample[0, :, CENTER_JOINT:CENTER_JOINT + 1].copy()  # (T, 1, C)
    for person in sample:
        if person.sum() == 0:
            continue
        present = (person.sum(-1) != 0)[..., None]  # (T, V, 1)
        person[:] = (person - center) * present


def rotation_onto(vector, target):
    """The rotation turning `vector` onto the direction `target`, with 2s-AGCN's degenerate cases.

    The angle is computed from `vector` normalised in its own dtype (float32 here), as the reference does;
    the matrix itself comes from scipy (the same axis-angle rotation as 2s-AGCN's Euler-Rodrigues formula).
    Shape: vector (3,), target (3,) -> (3, 3) float64.
    """
    target = np.asarray(target, np.float64)
    axis = np.cross(vector, target)
    if np.abs(vector).sum() < ROTATION_EPS:
        angle = 0.0
    else:
        cosine = np.dot(vector / np.linalg.norm(vector), target / np.linalg.norm(target))
        angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    if np.abs(axis).sum() < ROTATION_EPS or abs(angle) < ROTATION_EPS:
        return np.eye(3)
    return Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()


def rotate(sample, matrix):
    """Apply one rotation to every joint of every frame. All-zero joints stay zero, which is why this equals
    the reference's loop over non-empty persons and frames only.

    Shape: sample (M, T, V, C) float32, modified in place; matrix (C, C).
    """
    joints = sample.reshape(-1, sample.shape[-1]).astype(np.float64)  # (M*T*V, C)
    # float64 products rounded back to float32, as np.dot(matrix, joint) there.
    sample[...] = (joints @ matrix.T).reshape(sample.shape)  # (M, T, V, C)
