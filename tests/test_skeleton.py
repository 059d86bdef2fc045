"""data_gen.skeleton (fast reader) and data_gen.ntu (names, splits, lists) on the real NTU files."""
import pathlib
import re

import numpy as np
import pytest

from data_gen import ntu
from data_gen.skeleton import NUM_JOINT, SkeletonError, read_skeleton
from tests import reference_ntu

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'ntu'
SKELETONS = sorted((FIXTURES / 'skeletons').glob('*.skeleton'))
BAD_FILE = FIXTURES / 'bad' / 'S001C001P001R001A002_field_count.skeleton'

# (frames, bodies per frame, CRLF line endings) of each real file, from the data README.
EXPECTED = {
    'S001C001P001R001A001': (103, 1, True),
    'S001C001P001R001A002': (158, 1, False), 'S001C001P001R001A003': (104, 1, False),
    'S001C001P001R001A004': (99, 1, False), 'S001C001P001R001A005': (54, 1, False),
    'S001C001P001R001A006': (75, 1, True), 'S001C001P001R001A007': (86, 1, True),
    'S001C001P001R001A008': (71, 1, True), 'S001C001P001R001A009': (67, 1, True),
    'S001C001P001R001A010': (69, 1, True), 'S001C001P001R001A011': (82, 1, True),
    'S002C001P003R001A003': (100, 1, True), 'S003C001P015R001A034': (71, 1, True),
    'S004C002P003R001A017': (124, 1, True), 'S001C003P008R002A058': (70, 2, True),
    'S001C001P001R001A050': (74, 2, False),
    'S017C003P020R002A054': (42, 2, False), 'S017C003P020R002A055': (66, 2, False),
    'S017C003P020R002A056': (80, 2, False), 'S017C003P020R002A057': (76, 2, False),
    'S017C003P020R002A058': (65, 2, False),
}
MESSAGE = re.compile(r'^.+\.skeleton:\d+: expected .+, found .+$')


def test_fixture_set_is_complete():
    assert sorted(p.stem for p in SKELETONS) == sorted(EXPECTED)


@pytest.mark.parametrize('path', SKELETONS, ids=lambda p: p.stem)
def test_real_file_matches_line_by_line_reader(path):
    frames, bodies, crlf = EXPECTED[path.stem]
    assert (b'\r\n' in path.read_bytes()) == crlf
    skeleton = read_skeleton(path)
    assert skeleton.num_frames == frames
    assert skeleton.body_counts.tolist() == [bodies] * frames
    assert skeleton.xyz.shape == (frames, 4, NUM_JOINT, 3) and skeleton.xyz.dtype == np.float64
    # Bit-exact with float() on every x y z, bodies in listed order, empty slots zero.
    np.testing.assert_array_equal(skeleton.xyz.transpose(1, 0, 2, 3), reference_ntu.read_bodies(path, 4))
    assert [len(ids) for ids in skeleton.body_ids] == [bodies] * frames


def test_body_ids_are_exact_integers():
    path = FIXTURES / 'skeletons' / 'S001C003P008R002A058.skeleton'
    first_id, second_id = read_skeleton(path).body_ids[0]
    lines = path.read_text().splitlines()  # line 3 is the first body of frame 0, line 30 the second
    assert (first_id, second_id) == (int(lines[2].split()[0]), int(lines[29].split()[0]))
    assert first_id != second_id
    assert float(first_id) == float(second_id)  # why they must not go through float64


def test_bodies_not_in_id_order_keep_listed_order():
    skeleton = read_skeleton(FIXTURES / 'skeletons' / 'S001C001P001R001A050.skeleton')
    assert skeleton.body_ids[0][0] > skeleton.body_ids[0][1]


def test_scientific_notation_and_crlf(tmp_path):
    lines = (FIXTURES / 'skeletons' / 'S001C001P001R001A002.skeleton').read_text().splitlines()
    fields = lines[4].split()
    fields[0], fields[2] = '-9.276937E-05', '3.5e+00'
    lines[4] = ' '.join(fields)
    lf, crlf = tmp_path / 'lf.skeleton', tmp_path / 'crlf.skeleton'
    lf.write_text('\n'.join(lines) + '\n')
    crlf.write_bytes(('\r\n'.join(lines) + '\r\n').encode())
    skeleton = read_skeleton(lf)
    assert skeleton.xyz[0, 0, 0, 0] == -9.276937e-05 and skeleton.xyz[0, 0, 0, 2] == 3.5
    np.testing.assert_array_equal(read_skeleton(crlf).xyz, skeleton.xyz)


def test_more_bodies_than_max_body_keeps_the_first_listed(tmp_path):
    # One frame listing 5 bodies: the joint blocks of 5 real frames of one file.
    lines = (FIXTURES / 'skeletons' / 'S001C001P001R001A002.skeleton').read_text().splitlines()
    blocks = [lines[2 + 28 * t:2 + 28 * t + 27] for t in range(5)]  # body line, joint count, 25 joints
    path = tmp_path / 'five.skeleton'
    path.write_text('\n'.join(['1', '5'] + sum(blocks, [])) + '\n')
    skeleton = read_skeleton(path, max_body=4)
    assert skeleton.body_counts.tolist() == [5] and len(skeleton.body_ids[0]) == 4
    full = read_skeleton(FIXTURES / 'skeletons' / 'S001C001P001R001A002.skeleton', max_body=1)
    np.testing.assert_array_equal(skeleton.xyz[0], full.xyz[:4, 0])


def _broken(tmp_path, edit, source='S001C001P001R001A002.skeleton'):
    """A real file with `edit(lines)` applied, written to tmp_path (line i of the list is line i+1)."""
    lines = (FIXTURES / 'skeletons' / source).read_text().splitlines()
    lines = edit(lines)
    path = tmp_path / source
    path.write_text(''.join(f'{line}\n' for line in lines))
    return path


def _replace_field(line_index, field, value):
    def edit(lines):
        fields = lines[line_index].split()
        fields[field] = value
        lines[line_index] = ' '.join(fields)
        return lines
    return edit


def test_real_corrupted_file_names_line_6():
    with pytest.raises(SkeletonError) as info:
        read_skeleton(BAD_FILE)
    assert str(info.value).startswith(f'{BAD_FILE}:6: expected 12 joint fields (frame 0, body 0, joint 1), '
                                      'found 13 fields')
    assert info.value.line == 6 and MESSAGE.match(str(info.value))


# Frame 0 is lines 2-29 (1-based): body count, body line, joint count, 25 joints; frame 1 starts at line 30.
BROKEN = {
    'truncated_in_joints': (lambda lines: lines[:100], 101, 'expected 12 joint fields (frame 3, body 0, joint 12), '
                                                           'found end of file'),
    'truncated_before_frame': (lambda lines: lines[:29], 30, 'expected 1 field (the body count of frame 1), '
                                                             'found end of file'),
    'field_count_body_line': (_replace_field(2, 9, '2 7'), 3, 'expected 10 body fields (frame 0, body 0), '
                                                              'found 11 fields'),
    'missing_field': (lambda lines: lines[:10] + [' '.join(lines[10].split()[:11])] + lines[11:], 11,
                      'expected 12 joint fields (frame 0, body 0, joint 6), found 11 fields'),
    'non_numeric_x': (_replace_field(7, 0, 'abc'), 8, "expected a number, found 'abc'"),
    'non_numeric_unused_field': (_replace_field(7, 5, '12.5x'), 8, "expected a number, found '12.5x'"),
    'malformed_number': (_replace_field(7, 1, '0.1.2'), 8, "expected a number, found '0.1.2'"),
    'joint_count_24': (lambda lines: lines[:3] + ['24'] + lines[4:], 4, 'expected 25 joints, found 24'),
    'more_frames_than_declared': (lambda lines: ['157'] + lines[1:], 1 + 157 * 28 + 1,
                                  'expected end of file after the 157 declared frames, found 1 fields'),
    'zero_frames': (lambda lines: ['0'], 1, 'expected at least 1 frame, found 0'),
    'empty_file': (lambda lines: [], 1, 'expected 1 field (the frame count), found end of file'),
    'fractional_body_count': (lambda lines: lines[:1] + ['1.0'] + lines[2:], 2,
                              "expected the body count of frame 0 as a non-negative integer, found '1.0'"),
    'nan_coordinate': (_replace_field(9, 1, 'NaN'), 10, "expected a finite number, found 'NaN'"),
    'infinite_coordinate': (_replace_field(9, 2, '1e999'), 10, "expected finite x y z, found"),
}


@pytest.mark.parametrize('case', sorted(BROKEN))
def test_broken_file_names_line_and_what_was_found(tmp_path, case):
    edit, line, message = BROKEN[case]
    path = _broken(tmp_path, edit)
    with pytest.raises(SkeletonError) as info:
        read_skeleton(path)
    assert info.value.line == line, str(info.value)
    assert str(info.value).startswith(f'{path}:{line}: {message}')
    assert MESSAGE.match(str(info.value))


# ---------------------------------------------------------------------------------------------- ntu.py

def test_parse_name():
    assert ntu.parse_name('S001C002P003R004A005') == (1, 2, 3, 4, 5)
    assert ntu.parse_name('some/dir/S017C003P020R002A058.skeleton') == (17, 3, 20, 2, 58)
    assert ntu.label_of('S001C001P001R001A060') == 59


@pytest.mark.parametrize('name', ['S001C001P001R001A02', 'S001C001P001R001A002_field_count', 'x.skeleton',
                                  'S001C001P001R001A0020', 's001c001p001r001a002'])
def test_parse_name_rejects(name):
    with pytest.raises(ValueError, match=r'expected a sample name like S001C001P001R001A001'):
        ntu.parse_name(name)


def test_split_rules():
    assert ntu.is_training('S001C001P001R001A001', 'xsub', 'ntu60')
    assert not ntu.is_training('S001C001P003R001A001', 'xsub', 'ntu60')
    assert [ntu.is_training(f'S001C00{c}P003R001A001', 'xview', 'ntu60') for c in (1, 2, 3)] == [False, True, True]
    assert ntu.is_training('S018C001P045R001A061', 'xsub', 'ntu120')
    assert not ntu.is_training('S018C001P044R001A061', 'xsub', 'ntu120')
    assert not ntu.is_training('S018C001P045R001A061', 'xsub', 'ntu60')  # 45 trains only in NTU-120
    assert [ntu.is_training(f'S0{s:02d}C001P001R001A001', 'xset', 'ntu120') for s in (1, 2, 31, 32)] == \
        [False, True, False, True]
    with pytest.raises(ValueError, match='unknown benchmark'):
        ntu.is_training('S001C001P001R001A001', 'xset', 'ntu60')


def test_training_subject_lists():
    assert len(ntu.TRAINING_SUBJECTS_60) == 20 and len(ntu.TRAINING_SUBJECTS_120) == 53
    assert sorted(ntu.TRAINING_SUBJECTS_120 - ntu.TRAINING_SUBJECTS_60)[:3] == [45, 46, 47]
    assert max(ntu.TRAINING_SUBJECTS_120) == 103


def test_missing_lists_and_xview_sizes():
    missing60 = ntu.load_missing(ntu.MISSING_LISTS['ntu60'])
    missing120 = ntu.load_missing(ntu.MISSING_LISTS['ntu120'])
    assert len(missing60) == 302 and len(missing120) == 535 and missing60 <= missing120
    # NTU-60 has 56,880 files, 18,960 per camera; the camera rule and the list give docs/reference.md section 2's sizes.
    val = sum(ntu.parse_name(name)[1] == 1 for name in missing60)
    assert (2 * 18960 - (302 - val), 18960 - val) == (37646, 18932)
    assert all(not ntu.is_training(n, 'xview') for n in missing60 if ntu.parse_name(n)[1] == 1)


def test_load_missing_is_robust(tmp_path):
    path = tmp_path / 'list.txt'
    path.write_bytes(b'302 of the captured samples have missing skeletons.\r\nPlease ignore them.\r\n\r\n'
                     b'S001C002P005R002A008\r\n  S001C002P006R001A008  \r\n\r\n\n')
    assert ntu.load_missing(path) == {'S001C002P005R002A008', 'S001C002P006R001A008'}


def test_action_names():
    assert len(ntu.ACTION_NAMES) == 120
    assert ntu.ACTION_NAMES[0] == 'drink water'
    assert ntu.ACTION_NAMES[59] == 'walking apart from each other'
    assert ntu.ACTION_NAMES[119] == 'finger-guessing game (playing rock-paper-scissors)'


def test_in_dataset():
    assert ntu.in_dataset('S017C001P001R001A060', 'ntu60')
    assert not ntu.in_dataset('S018C001P001R001A001', 'ntu60')
    assert ntu.in_dataset('S032C001P106R002A120', 'ntu120')
