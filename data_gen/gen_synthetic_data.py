"""Write a small synthetic NTU RGB+D dataset: realistic `.skeleton` files for demos and tests.

    python data_gen/gen_synthetic_data.py --out data/synthetic/nturgb+d_skeletons [--num-classes 10]
        [--num-performers 8] [--replications 2] [--seed 0] [--min-frames 40] [--max-frames 300] [--crlf]

Every file carries every field of the Kinect v2 format (docs/reference.md section 1): frame count, body count, the ten
body fields (64-bit body IDs, hand states, lean), and 25 joint lines of x y z (camera space, metres),
depth and colour pixel coordinates, the joint orientation quaternion (zeros at the leaf joints, as the
SDK writes) and a tracking state, numbers printed with 7 significant digits like the SDK's.

Each take is a forward-kinematics body with its own bone lengths performing one of the articulated
ACTIONS (one or two people), seen by three cameras at -45, 0 and +45 degrees around the scene (C001,
C002, C003) as in NTU; in R001 the performer faces camera 1 and in R002 camera 3. Classes differ in how
the limbs move, not in where the body is: position, facing, height, camera height and distance, tempo
and amplitude vary per take, and joints carry sensor noise. Names are SsssCcccPpppRrrrAaaa, A being the
nearest NTU-60 action's number (label = A - 1, as in NTU); performers alternate between the NTU-60 cross-subject training and test sets and setups between
even and odd, so every NTU benchmark has a training and a test part. Same --seed, same bytes.
"""
import argparse
import os
import pathlib
import sys

import numpy as np
from scipy.spatial.transform import Rotation

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from storage import files  # noqa: E402

NUM_JOINT = 25
FPS = 30
CAMERA_YAW = {1: -45.0, 2: 0.0, 3: 45.0}  # degrees about the vertical axis through the scene centre
FACING_YAW = {1: -45.0, 2: 45.0}  # replication -> performer facing camera 1 or camera 3
# NTU-60 cross-subject performers (docs/reference.md section 2), taken alternately so any two performers span the split.
TRAIN_PERFORMERS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
TEST_PERFORMERS = (3, 6, 7, 10, 11, 12, 20, 21, 22, 23, 24, 26, 29, 30, 32, 33, 36, 37, 39, 40)
BODY_ID_BASE = 72057594037927936  # 2**56: Kinect body IDs in the release are 2**56 + a small counter
# Kinect v2 pinhole projections fitted on the released files (pixels): depth 512x424, colour 1920x1080.
DEPTH_CAMERA = (365.0, 366.0, 256.4, 208.5)  # fx, fy, cx, cy
COLOR_CAMERA = (1035.0, 1056.0, 977.0, 567.0)

# Forward-kinematics tree (0-based joints, docs/reference.md section 3 numbering): the parent used to place each joint,
# rooted at the base of the spine (the ST-GCN edge list is rooted at the shoulder centre instead).
FK_PARENT = (-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 7, 7, 11, 11)
# Rest pose offsets from the parent in metres, body frame: +x the performer's right, +y up, -z forward.
REST_OFFSET = np.array([
    (0, 0, 0), (0, 0.26, 0), (0, 0.09, 0), (0, 0.12, 0),                       # spine base, mid, neck, head
    (-0.16, -0.04, 0), (0, -0.27, 0), (0, -0.25, 0), (0, -0.07, 0),            # left arm
    (0.16, -0.04, 0), (0, -0.27, 0), (0, -0.25, 0), (0, -0.07, 0),             # right arm
    (-0.08, -0.04, 0), (0, -0.42, 0), (0, -0.40, 0), (0, -0.06, -0.10),        # left leg
    (0.08, -0.04, 0), (0, -0.42, 0), (0, -0.40, 0), (0, -0.06, -0.10),         # right leg
    (0, 0.24, 0), (0, -0.07, 0), (0, -0.02, -0.04), (0, -0.07, 0), (0, -0.02, -0.04),  # shoulder centre, hands
])
SEGMENTS = {'torso': (1, 2, 3, 20), 'shoulders': (4, 8, 12, 16), 'arms': (5, 6, 7, 9, 10, 11, 21, 22, 23, 24),
            'legs': (13, 14, 15, 17, 18, 19)}
LEAF_JOINTS = (3, 15, 19, 21, 22, 23, 24)  # the SDK writes a zero orientation for these
NOISY_JOINTS = (7, 11, 15, 19, 21, 22, 23, 24)  # hands and feet: noisier, sometimes only "inferred"
L_SHOULDER, L_ELBOW, R_SHOULDER, R_ELBOW = 4, 5, 8, 9
L_HIP, L_KNEE, R_HIP, R_KNEE, MID_SPINE, NECK = 12, 13, 16, 17, 1, 2


def bump(u, center=0.5, width=0.5):
    """A smooth 0 -> 1 -> 0 pulse (raised cosine) of the phase u, `width` wide around `center`."""
    x = np.clip((u - center) / width, -1.0, 1.0)
    return 0.5 + 0.5 * np.cos(np.pi * x)


def hold(u, ramp=0.2):
    """Rise smoothly over the first `ramp` of the action, hold 1, fall over the last `ramp`."""
    x = np.minimum(np.clip(u / ramp, 0, 1), np.clip((1 - u) / ramp, 0, 1))
    return x * x * (3 - 2 * x)


def _rotvec(axis, deg):
    """Rotation vectors about one body axis. Shape: deg (T,) degrees -> (T, 3) radians."""
    out = np.zeros(np.shape(deg) + (3,))
    out[..., axis] = np.radians(deg)
    return out


def rx(deg):
    return _rotvec(0, deg)


def ry(deg):
    return _rotvec(1, deg)


def rz(deg):
    return _rotvec(2, deg)


# Each action maps the phase u (T,) in [0, 1] (0 and 1 = standing still) and a random generator to a
# list with {joint: local rotation vector (T, 3)} for each performer, optionally followed by a list of
# per-performer root motion (T, 3) in metres along (right, up, back) of that performer (or None) and a
# list of per-performer yaw (T,) in degrees. Flexion about +x swings an
# arm or thigh forward; abduction is +z for the right arm and -z for the left; -x bends the trunk forward.
def act_wave(u, rng):
    e, cycles = hold(u), rng.uniform(2, 4)
    swing = np.sin(2 * np.pi * cycles * u)
    return [{R_SHOULDER: rz(e * (130 + 15 * swing)), R_ELBOW: rz(e * 35 * swing) + rx(e * 30)}]


def act_raise_both(u, rng):
    a = 160 * bump(u, 0.5, 0.5) ** 0.7
    return [{R_SHOULDER: rz(a), L_SHOULDER: rz(-a)}]


def act_squat(u, rng):
    d = hold(u, 0.35) * rng.uniform(0.8, 1.0)
    return [{L_HIP: rx(100 * d), R_HIP: rx(100 * d), L_KNEE: rx(-120 * d), R_KNEE: rx(-120 * d),
             MID_SPINE: rx(-30 * d), L_SHOULDER: rx(60 * d), R_SHOULDER: rx(60 * d)}]


def act_kick(u, rng):
    hip, knee = 85 * bump(u, 0.55, 0.3), -70 * bump(u, 0.4, 0.25)
    return [{R_HIP: rx(hip), R_KNEE: rx(knee), L_SHOULDER: rz(-20 * hold(u)), R_SHOULDER: rz(20 * hold(u))}]


def act_punch(u, rng):
    guard, count = hold(u, 0.15), rng.integers(2, 5)
    pulses = [bump(u, (i + 1) / (count + 1), 0.5 / (count + 1)) for i in range(count)]
    right, left = sum(pulses[0::2]), sum(pulses[1::2])  # alternating fists
    return [{R_SHOULDER: rx(guard * (30 + 55 * right)), R_ELBOW: rx(guard * 110 * (1 - right)),
             L_SHOULDER: rx(guard * (30 + 55 * left)), L_ELBOW: rx(guard * 110 * (1 - left))}]


def act_jump(u, rng):
    crouch = bump(u, 0.25, 0.2) + bump(u, 0.8, 0.15)
    flight = np.clip(np.sin(np.pi * (u - 0.4) / 0.3), 0, None) * ((u > 0.4) & (u < 0.7))
    arms = 150 * bump(u, 0.55, 0.25) - 30 * bump(u, 0.25, 0.15)
    legs = {L_HIP: rx(70 * crouch), R_HIP: rx(70 * crouch), L_KNEE: rx(-100 * crouch), R_KNEE: rx(-100 * crouch)}
    body = {**legs, L_SHOULDER: rx(arms), R_SHOULDER: rx(arms), MID_SPINE: rx(-20 * crouch)}
    return [body], [np.stack([0 * u, rng.uniform(0.25, 0.4) * flight, 0 * u], -1)]


def act_bow(u, rng):
    b = hold(u, 0.3) * rng.uniform(50, 75)
    return [{MID_SPINE: rx(-b), NECK: rx(-0.3 * b), L_HIP: rx(0.3 * b), R_HIP: rx(0.3 * b)}]


def act_clap(u, rng):
    e, cycles = hold(u, 0.15), rng.uniform(3, 6)
    close = 0.5 + 0.5 * np.cos(2 * np.pi * cycles * u)
    return [{R_SHOULDER: ry(e * (10 + 30 * close)) + rx(e * 70), L_SHOULDER: ry(-e * (10 + 30 * close)) + rx(e * 70),
             R_ELBOW: rx(e * 60), L_ELBOW: rx(e * 60)}]


def act_handshake(u, rng):
    e, cycles = hold(u, 0.25), rng.uniform(2, 4)
    shake = 10 * np.sin(2 * np.pi * cycles * u)
    arm = {R_SHOULDER: rx(e * (45 + shake)) + rz(-10 * e), R_ELBOW: rx(e * (45 - shake))}
    return [arm, dict(arm)]


def act_push(u, rng):
    reach, push = hold(u, 0.3), bump(u, 0.55, 0.2)
    pusher = {R_SHOULDER: rx(80 * reach), L_SHOULDER: rx(80 * reach), R_ELBOW: rx(90 * reach * (1 - push)),
              L_ELBOW: rx(90 * reach * (1 - push)), MID_SPINE: rx(-15 * push)}
    pushed = {MID_SPINE: rx(20 * bump(u, 0.65, 0.25)), L_SHOULDER: rz(-35 * bump(u, 0.65, 0.25)),
              R_SHOULDER: rz(35 * bump(u, 0.65, 0.25)), L_HIP: rx(-15 * bump(u, 0.7, 0.2))}
    step = np.clip((u - 0.5) / 0.3, 0, 1)
    return [pusher, pushed], [np.stack([0 * u, 0 * u, -0.25 * step], -1), np.stack([0 * u, 0 * u, 0.45 * step], -1)]


def act_touch_head(u, rng):
    e = hold(u, 0.3)
    return [{R_SHOULDER: rz(100 * e) + rx(30 * e), R_ELBOW: rx(125 * e), NECK: rx(-10 * e)}]


# (name, function, base duration in frames at tempo 1, number of people, NTU action number). Files carry
# the number of the nearest NTU-60 action (docs/reference.md section 1: label = A - 1), so a model trained on them names
# its predictions with the real action list; squatting is filed as A008 "sitting down" and a single
# person's punch as A050 "punching/slapping other person", the closest NTU-60 classes.
ACTIONS = (
    ('waving', act_wave, 80, 1, 23), ('raising both arms', act_raise_both, 60, 1, 22),
    ('squatting', act_squat, 75, 1, 8), ('kicking', act_kick, 45, 1, 24), ('punching', act_punch, 70, 1, 50),
    ('jumping', act_jump, 55, 1, 27), ('bowing', act_bow, 65, 1, 35), ('clapping', act_clap, 70, 1, 10),
    ('handshaking', act_handshake, 80, 2, 58), ('pushing other person', act_push, 60, 2, 52),
    ('touching head', act_touch_head, 60, 1, 44),
)


def performer_ids(count):
    """NTU-60 performer IDs, alternating cross-subject training and test performers."""
    ids = [p for pair in zip(TRAIN_PERFORMERS, TEST_PERFORMERS) for p in pair]
    if count > len(ids):
        raise ValueError(f'--num-performers must be <= {len(ids)}, got {count}')
    return ids[:count]


def body_offsets(rng):
    """One person's rest offsets (25, 3): overall height and per-segment proportions vary."""
    offsets = REST_OFFSET * rng.normal(1.0, 0.05)
    for joints in SEGMENTS.values():
        offsets[list(joints)] *= rng.normal(1.0, 0.04)
    return offsets


def forward_kinematics(offsets, local, root_pos, root_rot):
    """Joint positions and global orientations of one person.

    Args:
        offsets: (25, 3) rest offsets; local: {joint: Rotation of T} local rotations;
        root_pos: (T, 3) world position of the base of the spine; root_rot: Rotation of T (body -> world).
    Returns:
        xyz (T, 25, 3) world metres, list of 25 Rotation of T (global orientation of each joint's frame).
    """
    num_frames = len(root_pos)
    xyz = np.zeros((num_frames, NUM_JOINT, 3))
    glob = [None] * NUM_JOINT
    for j in (0, 1, 20, 2, 3, 4, 5, 6, 7, 21, 22, 8, 9, 10, 11, 23, 24, 12, 13, 14, 15, 16, 17, 18, 19):
        parent = FK_PARENT[j]
        if parent < 0:
            xyz[:, j], frame = root_pos, root_rot
        else:
            xyz[:, j] = xyz[:, parent] + glob[parent].apply(offsets[j])
            frame = glob[parent]
        glob[j] = frame * local[j] if j in local else frame
    return xyz, glob


def scene(rng, action, facing, offsets_list, min_frames, max_frames, tempo):
    """One take in world coordinates (floor y = 0, scene centre at the origin).

    Returns:
        xyz (P, T, 25, 3) metres and orientations [P][25] Rotation of T, P = people in the take.
    """
    _, fn, base, people, _ = ACTIONS[action]
    slow = rng.uniform(1.6, 2.8) if rng.random() < 0.15 else 1.0  # a few long takes, as in NTU's tail
    length = int(round(base * tempo * slow * rng.uniform(0.5, 1.5)))
    before, after = rng.integers(2, 30), rng.integers(2, 30)
    num_frames = int(np.clip(before + length + after, min_frames, max_frames))
    length = min(length, num_frames - 2)
    before = min(before, num_frames - length - 1)
    u = np.clip((np.arange(num_frames) - before) / max(length - 1, 1), 0, 1)  # (T,) phase
    out = fn(u, rng)
    out = (out,) if isinstance(out, list) else out  # actions may leave out root motion and yaw
    locals_, moves, yaws = out + (None,) * (3 - len(out))
    amplitude = rng.uniform(0.85, 1.15)
    centre = np.array([rng.uniform(-0.3, 0.3), 0, rng.uniform(-0.3, 0.3)])
    pair_axis = Rotation.from_euler('y', facing, degrees=True).apply([0, 0, -1])  # person 0 faces person 1
    separation = rng.uniform(0.85, 1.05)
    xyz, orient = [], []
    for p in range(people):
        # Two people face each other one arm's length apart; one faces the camera of this replication.
        yaw0 = facing + rng.normal(0, 8) + (180 * p if people == 2 else 0)
        yaw = yaw0 + (yaws[p] if yaws else 0) + 1.5 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * u
                                                               + rng.uniform(0, 6.3))
        heading = Rotation.from_euler('y', yaw[:, None], degrees=True)  # T rotations
        forward = heading.apply([0, 0, -1])  # (T, 3)
        sway = 0.01 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * np.arange(num_frames) / FPS
                             + rng.uniform(0, 6.3))[:, None]
        local = {j: Rotation.from_rotvec(amplitude * r + rng.normal(0, 0.03, 3)) for j, r in locals_[p].items()}
        for j in (L_SHOULDER, R_SHOULDER):  # arms never hang exactly straight
            rest = Rotation.from_rotvec(rz(np.full(num_frames, rng.uniform(4, 10) * (1 if j == R_SHOULDER else -1))))
            local[j] = rest * local[j] if j in local else rest
        root = centre + (p - 0.5) * separation * pair_axis * (people == 2) + forward * sway  # (T, 3)
        if moves and moves[p] is not None:
            root = root + heading.apply(moves[p])
        pos, glob = forward_kinematics(offsets_list[p], local, root, heading)
        floor = pos[:, :, 1].min(axis=1, keepdims=True)  # keep the lowest joint on the floor ...
        lift = moves[p][:, 1:2] if moves and moves[p] is not None else 0
        pos[:, :, 1] += lift - floor + 0.03  # ... except while jumping
        xyz.append(pos)
        orient.append(glob)
    return np.stack(xyz), orient


def camera_pose(rng, camera, setup):
    """World -> camera rotation and camera centre for camera 1..3 of a setup (height and distance vary)."""
    setup_rng = np.random.default_rng([setup, 7])
    height, distance = setup_rng.uniform(0.8, 1.3), setup_rng.uniform(3.0, 3.5)
    tilt = np.degrees(np.arctan2(height - 0.9, distance)) + rng.normal(0, 0.5)
    yaw = Rotation.from_euler('y', CAMERA_YAW[camera] + rng.normal(0, 1), degrees=True)
    centre = yaw.apply([0, height + rng.normal(0, 0.01), -distance])
    # Camera axes in the world: x = yaw(+x), y = up tilted, z = towards the scene (depth).
    to_camera = Rotation.from_euler('x', -tilt, degrees=True) * yaw.inv()
    return to_camera, centre


def project(xyz, camera):
    fx, fy, cx, cy = camera
    return cx + fx * xyz[..., 0] / xyz[..., 2], cy - fy * xyz[..., 1] / xyz[..., 2]


def body_lines(rng, body_id, xyz, orient, to_camera, centre):
    """The text lines of one person across frames: list over T of lists of 27 strings.

    xyz (T, 25, 3) world metres; orient [25] Rotation of T.
    """
    num_frames = len(xyz)
    cam = to_camera.apply((xyz - centre).reshape(-1, 3)).reshape(num_frames, NUM_JOINT, 3)
    state = np.full((num_frames, NUM_JOINT), 2)
    inferred = rng.random((num_frames, len(NOISY_JOINTS))) < 0.05
    state[:, list(NOISY_JOINTS)] = np.where(inferred, 1, 2)
    sigma = np.where(state == 1, 0.03, 0.004)
    sigma[:, list(NOISY_JOINTS)] += 0.006
    cam = cam + rng.normal(0, 1, cam.shape) * sigma[..., None]
    depth_x, depth_y = project(cam, DEPTH_CAMERA)
    color_x, color_y = project(cam, COLOR_CAMERA)
    quat = np.zeros((num_frames, NUM_JOINT, 4))
    for j in range(NUM_JOINT):
        if j not in LEAF_JOINTS:
            xyzw = (to_camera * orient[j]).as_quat()  # (T, 4) scalar last
            quat[:, j] = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)  # (T, 4) w x y z
    values = np.concatenate([cam, depth_x[..., None], depth_y[..., None], color_x[..., None],
                             color_y[..., None], quat], axis=-1)  # (T, 25, 11)
    spine = cam[:, 20] - cam[:, 0]
    lean = np.clip(np.stack([spine[:, 0], -spine[:, 2]], -1) / np.linalg.norm(spine, axis=1, keepdims=True) * 2,
                   -1, 1)
    hands = rng.choice([0, 1, 2, 3], size=(num_frames, 2), p=[0.1, 0.3, 0.4, 0.2])
    frames = []
    for t in range(num_frames):
        header = (f'{body_id} 0 {int(hands[t, 0] > 0)} {hands[t, 0]} {int(hands[t, 1] > 0)} {hands[t, 1]} 0 '
                  f'{lean[t, 0]:.7G} {lean[t, 1]:.7G} 2')
        joints = [' '.join(f'{v:.7G}' for v in values[t, j]) + f' {state[t, j]}' for j in range(NUM_JOINT)]
        frames.append([header, str(NUM_JOINT)] + joints)
    return frames


def skeleton_text(rng, xyz, orient, to_camera, centre, newline):
    """The whole file for one camera: xyz (P, T, 25, 3), orient [P][25]."""
    people, num_frames = xyz.shape[:2]
    body_ids = [BODY_ID_BASE + int(rng.integers(3000, 90000)) for _ in range(people)]
    per_body = [body_lines(rng, body_ids[p], xyz[p], orient[p], to_camera, centre) for p in range(people)]
    lines = [str(num_frames)]
    for t in range(num_frames):
        lines.append(str(people))
        for p in range(people):
            lines.extend(per_body[p][t])
    return newline.join(lines) + newline


def sample_name(setup, camera, performer, replication, action):
    """The NTU name of a take of ACTIONS[action], filed under that action's NTU number."""
    return f'S{setup:03d}C{camera:03d}P{performer:03d}R{replication:03d}A{ACTIONS[action][4]:03d}'


def generate(out, num_classes, num_performers, replications, seed, min_frames, max_frames, newline):
    """Write every take; returns the list of file names written."""
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for index, performer in enumerate(performer_ids(num_performers)):
        body_rng = np.random.default_rng([seed, performer, 1])
        offsets = body_offsets(body_rng)
        partner = body_offsets(body_rng)  # the second person of this performer's interactions
        tempo = body_rng.uniform(0.8, 1.25)
        setup = 1 + index % 4  # even and odd setups: NTU-120 cross-setup
        for replication in range(1, replications + 1):
            for action in range(num_classes):
                rng = np.random.default_rng([seed, performer, replication, action])
                xyz, orient = scene(rng, action, FACING_YAW[1 + (replication - 1) % 2], [offsets, partner],
                                    min_frames, max_frames, tempo)
                for camera in (1, 2, 3):
                    cam_rng = np.random.default_rng([seed, performer, replication, action, camera])
                    to_camera, centre = camera_pose(cam_rng, camera, setup)
                    name = sample_name(setup, camera, performer, replication, action)
                    path = out / f'{name}.skeleton'
                    files.write_bytes(skeleton_text(cam_rng, xyz, orient, to_camera, centre, newline).encode(), path)
                    names.append(name)
    return names


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='folder for the .skeleton files')
    parser.add_argument('--num-classes', type=int, default=10, help=f'1..{len(ACTIONS)}')
    parser.add_argument('--num-performers', type=int, default=8,
                        help='performers, alternating NTU-60 cross-subject train/test IDs (>= 2 for both parts)')
    parser.add_argument('--replications', type=int, default=2, choices=[1, 2])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--min-frames', type=int, default=40)
    parser.add_argument('--max-frames', type=int, default=300)
    parser.add_argument('--crlf', action='store_true', help='end lines with CR LF like the released files')
    args = parser.parse_args(argv)
    if not 1 <= args.num_classes <= len(ACTIONS):
        parser.error(f'--num-classes must be in 1..{len(ACTIONS)}, got {args.num_classes}')
    if not 1 <= args.num_performers <= 2 * len(TRAIN_PERFORMERS):
        parser.error(f'--num-performers must be in 1..{2 * len(TRAIN_PERFORMERS)}, got {args.num_performers}')
    if not 10 <= args.min_frames <= args.max_frames:
        parser.error(f'need 10 <= --min-frames <= --max-frames, got {args.min_frames} and {args.max_frames}')
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        names = generate(pathlib.Path(args.out), args.num_classes, args.num_performers, args.replications,
                         args.seed, args.min_frames, args.max_frames, '\r\n' if args.crlf else '\n')
    except OSError as err:
        print(f'error: --out {args.out}: cannot write ({err.strerror})', file=sys.stderr)
        return 2
    print(f'wrote {len(names)} files ({args.num_classes} classes x {args.num_performers} performers x '
          f'{args.replications} replications x 3 cameras) to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
