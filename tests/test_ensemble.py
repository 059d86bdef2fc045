"""ensemble.py: exact accuracies on a hand-made example, fusion by name (not position), each error."""
import pickle
import subprocess
import sys

import numpy as np
import pytest

import ensemble
from training.metrics import topk_accuracy

NAMES = ['a', 'b', 'c', 'd']
LABELS = [0, 1, 2, 1]
# Hand-checked, no ties. Joint: top-1 a only (25 %), top-2 all (100 %). Bone: top-1 b, c (50 %), top-2 all but
# a (75 %). Sum: argmax [1, 1, 2, 1] -> b, c, d right (75 %); top-2 all (100 %).
JOINT = {'a': [2, 1, 0], 'b': [0, 1, 3], 'c': [1, 0, 0.5], 'd': [3, 2, 1]}
BONE = {'a': [0, 3, 1], 'b': [0, 2.5, 0], 'c': [0, 0, 2.5], 'd': [0, 1.5, 2]}


def _dump(path, obj):
    with open(path, 'wb') as f:
        pickle.dump(obj, f)
    return str(path)


@pytest.fixture
def files(tmp_path):
    shuffled_bone = {name: np.asarray(BONE[name], np.float32) for name in reversed(NAMES)}  # saved in another order
    return {'joint': _dump(tmp_path / 'joint.pkl', {k: np.asarray(v, np.float32) for k, v in JOINT.items()}),
            'bone': _dump(tmp_path / 'bone.pkl', shuffled_bone),
            'label': _dump(tmp_path / 'val_label.pkl', (NAMES, LABELS)), 'dir': tmp_path}


def _table(capsys, argv):
    assert ensemble.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return {line.split()[0]: [float(v) for v in line.split()[-2:]] for line in lines[1:]}, lines[0]


def test_exact_accuracies_and_fusion_by_name(files, capsys):
    table, header = _table(capsys, ['--scores', files['joint'], files['bone'], '--label-path', files['label'],
                                    '--top-k', '2'])
    assert header.split()[:5] == ['stream', 'weight', 'top-1', 'top-2', '(4']
    assert table == {files['joint']: [25.0, 100.0], files['bone']: [50.0, 75.0], 'fusion': [75.0, 100.0]}


def test_position_wise_fusion_would_differ(files):
    """The bone file lists its samples in reverse: zipping by position pairs a with d, and scores 25 %."""
    names, labels = ensemble.load_labels(files['label'])
    joint, bone = ensemble.load_scores(files['joint']), ensemble.load_scores(files['bone'])
    by_position = np.stack(list(joint.values())) + np.stack(list(bone.values()))
    assert topk_accuracy(by_position, labels, 1) == 0.25
    assert topk_accuracy(ensemble.fuse([joint, bone], [1, 1], names), labels, 1) == 0.75


def test_bytes_names_match_str_names(files, capsys):
    as_bytes = _dump(files['dir'] / 'bytes.pkl', {k.encode(): v for k, v in BONE.items()})
    table, _ = _table(capsys, ['--scores', files['joint'], as_bytes, '--label-path', files['label'], '--top-k', '2'])
    assert table['fusion'] == [75.0, 100.0]


def test_weights(files, capsys):
    # joint + 0.5 bone: a [2, 2.5, .5], b [0, 2.25, 3], c [1, 0, 1.5], d [3, 2.75, 2] -> only c right.
    table, _ = _table(capsys, ['--scores', files['joint'], files['bone'], '--weights', '1', '0.5',
                               '--label-path', files['label'], '--top-k', '2'])
    assert table['fusion'][0] == 25.0


def _fails(capsys, argv, *fragments):
    assert ensemble.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
    for fragment in fragments:
        assert fragment in err, err


def test_sample_sets_differ(files, capsys):
    other = dict(JOINT)
    del other['d']
    other['e'] = [0, 0, 1]
    path = _dump(files['dir'] / 'other.pkl', other)
    _fails(capsys, ['--scores', files['joint'], path, '--label-path', files['label']],
           f'{path}: samples differ from {files["joint"]}', '1 missing (e.g. d)', '1 extra (e.g. e)')


def test_label_names_not_covered(files, capsys):
    labels = _dump(files['dir'] / 'more_label.pkl', (NAMES + ['e', 'f'], LABELS + [0, 0]))
    _fails(capsys, ['--scores', files['joint'], files['bone'], '--label-path', labels],
           f'{labels}: the score files do not cover its samples', '2 missing (e.g. e, f)')


def test_weight_count(files, capsys):
    _fails(capsys, ['--scores', files['joint'], files['bone'], '--weights', '1', '--label-path', files['label']],
           '--weights: 1 weights for 2 score files')


def test_class_counts_differ(files, capsys):
    wide = _dump(files['dir'] / 'wide.pkl', {k: v + [0] for k, v in BONE.items()})
    _fails(capsys, ['--scores', files['joint'], wide, '--label-path', files['label']],
           'class counts differ', f'{files["joint"]}: 3', f'{wide}: 4')


def test_malformed_inputs(files, capsys):
    ragged = _dump(files['dir'] / 'ragged.pkl', {'a': [1, 2, 3], 'b': [1, 2]})
    _fails(capsys, ['--scores', ragged, '--label-path', files['label']], 'ragged.pkl', 'same length')
    as_list = _dump(files['dir'] / 'list.pkl', list(JOINT.values()))
    _fails(capsys, ['--scores', as_list, '--label-path', files['label']], 'list.pkl', 'expected a non-empty dict')
    _fails(capsys, ['--scores', str(files['dir'] / 'nope.pkl'), '--label-path', files['label']],
           'nope.pkl: no such file')
    (files['dir'] / 'text.pkl').write_text('not a pickle')
    _fails(capsys, ['--scores', str(files['dir'] / 'text.pkl'), '--label-path', files['label']],
           'text.pkl: not a data pickle')
    _fails(capsys, ['--scores', files['joint'], '--label-path', files['label']], '--top-k: 5 is not in [1, 3]')
    text_labels = _dump(files['dir'] / 'text_label.pkl', (NAMES, ['drink', 'eat', 'walk', 'eat']))
    _fails(capsys, ['--scores', files['joint'], '--label-path', text_labels], 'labels must be integer class indices')
    out_of_range = _dump(files['dir'] / 'bad_label.pkl', (NAMES, [0, 1, 2, 3]))
    _fails(capsys, ['--scores', files['joint'], '--label-path', out_of_range, '--top-k', '1'],
           'bad_label.pkl: labels span [0, 3] but scores have 3 classes')


def test_runs_as_a_script(files):
    result = subprocess.run([sys.executable, 'ensemble.py', '--scores', files['joint'], files['bone'],
                             '--label-path', files['label'], '--top-k', '1'], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ['fusion', '75.00', '75.00']
