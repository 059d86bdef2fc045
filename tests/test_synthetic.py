"""data_gen/gen_synthetic_data.py: NTU-format files the real reader parses, splits, and a learnable signal."""
import pathlib
import re

import numpy as np
import pytest

from data_gen import gen_synthetic_data as syn
from data_gen import ntu
from data_gen.skeleton import read_skeleton

REAL = pathlib.Path('tests/fixtures/ntu/skeletons/S001C003P008R002A058.skeleton')  # a real two-person file
NUMBER = re.compile(r'-?\d+(\.\d+)?(E[-+]\d\d)?')  # how the Kinect SDK prints every value
NUM_CLASSES, NUM_PERFORMERS, MAX_FRAMES = 10, 4, 90
NTU_ACTIONS = {23, 22, 8, 24, 50, 27, 35, 10, 58, 52}  # the first ten ACTIONS, filed under NTU numbers


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('synthetic')
    assert syn.main(['--out', str(out), '--num-classes', str(NUM_CLASSES), '--num-performers', str(NUM_PERFORMERS),
                     '--replications', '1', '--max-frames', str(MAX_FRAMES), '--seed', '3', '--crlf']) == 0
    return out


def _files(folder):
    return sorted(folder.glob('*.skeleton'))


def test_file_count_and_names_decode(dataset):
    names = [path.stem for path in _files(dataset)]
    assert len(names) == NUM_CLASSES * NUM_PERFORMERS * 3
    decoded = [ntu.parse_name(name) for name in names]
    assert {d[1] for d in decoded} == {1, 2, 3}
    assert {d[4] for d in decoded} == NTU_ACTIONS
    assert {d[2] for d in decoded} == {1, 3, 2, 6}  # alternating cross-subject train / test performers


@pytest.mark.parametrize('dataset_name, benchmark', [('ntu60', 'xsub'), ('ntu60', 'xview'),
                                                     ('ntu120', 'xsub'), ('ntu120', 'xset')])
def test_every_benchmark_has_both_parts_with_every_class(dataset, dataset_name, benchmark):
    names = [path.stem for path in _files(dataset)]
    for part in (True, False):
        labels = {ntu.label_of(n) for n in names if ntu.is_training(n, benchmark, dataset_name) == part}
        assert labels == {a - 1 for a in NTU_ACTIONS}


def test_real_reader_parses_every_file(dataset):
    two_person = {'A058', 'A052'}  # handshaking, pushing
    for path in _files(dataset):
        skeleton = read_skeleton(path)
        assert 40 <= skeleton.num_frames <= MAX_FRAMES
        assert set(skeleton.body_counts.tolist()) == {2 if path.stem[-4:] in two_person else 1}
        z = skeleton.xyz[..., 2][skeleton.xyz[..., 2] != 0]
        assert 1.5 < z.min() and z.max() < 5.0  # metres in front of the camera


def _lines(path):
    return path.read_bytes().decode().split('\r\n')


def test_every_field_formatted_like_the_release(dataset):
    lines = _lines(dataset / 'S001C002P001R001A058.skeleton')
    assert lines[-1] == '' and not any('\n' in line for line in lines)  # CRLF throughout with --crlf
    body, joints = lines[2].split(), [line.split() for line in lines[4:29]]
    assert len(body) == 10 and int(body[0]) >= 2 ** 56 and body[-1] == '2'  # 64-bit body ID, tracked
    assert all(len(j) == 12 for j in joints) and lines[3] == '25'
    assert {j[-1] for j in joints} <= {'1', '2'}  # tracking state: inferred or tracked
    real_tokens = {bool(NUMBER.fullmatch(t)) for t in REAL.read_text().split()}
    ours = [t for line in lines for t in line.split()]
    assert real_tokens == {True} and all(NUMBER.fullmatch(t) for t in ours)
    digits = [len(t.lstrip('-').split('E')[0].replace('.', '').lstrip('0')) for j in joints for t in j]
    assert max(digits) == 7  # 7 significant digits


def test_projection_and_orientation_fields_are_consistent(dataset):
    lines = _lines(dataset / 'S002C003P003R001A022.skeleton')
    joints = np.array([line.split() for line in lines[4:29]], dtype=float)  # (25, 12)
    x, y, z = joints[:, :3].T
    np.testing.assert_allclose(joints[:, 3], 256.4 + 365.0 * x / z, atol=0.01)  # depthX
    np.testing.assert_allclose(joints[:, 6], 567.0 - 1056.0 * y / z, atol=0.01)  # colorY
    quat = joints[:, 7:11]
    leaf = list(syn.LEAF_JOINTS)
    assert not quat[leaf].any()  # the SDK writes zero orientations for head, feet, hand tips, thumbs
    np.testing.assert_allclose(np.linalg.norm(np.delete(quat, leaf, axis=0), axis=1), 1, atol=1e-5)


def test_bone_lengths_are_human_and_the_same_in_every_view(dataset):
    from graphs.ntu_rgb_d import INWARD
    child, parent = np.array(INWARD).T
    lengths = []
    for camera in (1, 2, 3):
        xyz = read_skeleton(dataset / f'S001C00{camera}P001R001A023.skeleton').xyz[:, 0]  # (T, 25, 3)
        lengths.append(np.median(np.linalg.norm(xyz[:, child] - xyz[:, parent], axis=-1), axis=0))
    upper_arm, thigh, shin = lengths[0][[5, 13, 14]]  # bones 6-5, 14-13, 15-14 (1-based)
    assert 0.2 < upper_arm < 0.35 and 0.33 < thigh < 0.5 and 0.3 < shin < 0.48
    # Three cameras film the same take: same frame count, bone lengths equal up to sensor noise.
    np.testing.assert_allclose(lengths[0], lengths[1], atol=0.02)
    np.testing.assert_allclose(lengths[0], lengths[2], atol=0.02)


def test_deterministic_given_seed(tmp_path):
    args = ['--num-classes', '2', '--num-performers', '1', '--replications', '1', '--max-frames', '60']
    for folder, seed in (('a', '5'), ('b', '5'), ('c', '6')):
        syn.main(['--out', str(tmp_path / folder), '--seed', seed] + args)
    name = 'S001C002P001R001A022.skeleton'
    assert (tmp_path / 'a' / name).read_bytes() == (tmp_path / 'b' / name).read_bytes()
    assert (tmp_path / 'a' / name).read_bytes() != (tmp_path / 'c' / name).read_bytes()
    assert b'\r' not in (tmp_path / 'a' / name).read_bytes()  # LF unless --crlf


def _features(path):
    """Velocity statistics and the mean position of person 0, in raw camera coordinates.

    Shape: -> (150,), (75,)
    """
    xyz = read_skeleton(path).xyz[:, 0]  # (T, 25, 3)
    velocity = np.diff(xyz, axis=0)
    return (np.concatenate([velocity.std(axis=0).ravel(), np.abs(velocity).mean(axis=0).ravel()]),
            xyz.mean(axis=0).ravel())


def _nearest_centroid_accuracy(train_x, train_y, test_x, test_y):
    centroids = np.stack([train_x[train_y == k].mean(axis=0) for k in range(NUM_CLASSES)])
    predicted = np.argmin(((test_x[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    return (predicted == test_y).mean()


def test_learnable_from_motion_but_not_from_one_coordinate(dataset):
    paths = _files(dataset)
    motion, position = map(np.array, zip(*[_features(p) for p in paths]))
    # NTU labels -> 0..K-1 for the centroid table
    labels = np.unique([ntu.label_of(p.stem) for p in paths], return_inverse=True)[1]
    train = np.array([ntu.is_training(p.stem, 'xsub') for p in paths])
    mean, std = motion[train].mean(0), motion[train].std(0) + 1e-9
    z = (motion - mean) / std
    motion_acc = _nearest_centroid_accuracy(z[train], labels[train], z[~train], labels[~train])
    assert motion_acc >= 0.6  # chance is 0.1: unseen performers are recognised from their limb motion
    best_single = max(_nearest_centroid_accuracy(position[train][:, [j]], labels[train],
                                                 position[~train][:, [j]], labels[~train])
                      for j in range(position.shape[1]))
    assert best_single <= 0.5  # no coordinate's mean gives the class away
