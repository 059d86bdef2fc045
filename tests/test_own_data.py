"""The README's "Your own data" path end to end: a folder of COCO-style keypoint lists of a custom 10-joint hand
-> gen_pose_data's annotation pickle -> main.py training with --layout-file and --class-names -> the test phase
and predict (whole files and windows) from the checkpoint alone (its layout and names stored with the weights)."""
import pytest

import main
from data_gen import gen_pose_data
from model.weights import load_pretrained
from tests.own_poses import write_pose_folder
from tests.test_layouts import HAND_YAML


# main.py runs set a mixed-precision policy for the process: each test here leaves it float32 again.
pytestmark = pytest.mark.usefixtures('float32_policy')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('own')
    (root / 'hand.yaml').write_text(HAND_YAML)
    write_pose_folder(root / 'poses', per_action=10, seed=1)
    pickle_path = root / 'hand.pkl'
    assert gen_pose_data.main(['--data-path', str(root / 'poses'), '--out', str(pickle_path), '--layout-file',
                               str(root / 'hand.yaml')]) == 0
    argv = ['--train-data-path', pickle_path, '--train-split', 'train', '--test-data-path', pickle_path,
            '--test-split', 'val', '--model-preset', 'pyskl', '--layout-file', root / 'hand.yaml', '--channels', 8,
            8, 8, '--clip-len', 24, '--batch-size', 4, '--num-epochs', 12, '--steps', '--lr-policy', 'cosine',
            '--base-lr', 0.05, '--eval-freq', 12, '--class-names', root / 'hand_classes.txt', '--checkpoint-path',
            root / 'ckpt', '--log-dir', root / 'logs', '--no-progress']
    assert main.main([str(a) for a in argv]) == 0
    return root


def test_training_on_a_custom_layout_learns_the_two_actions(trained, capsys):
    model = load_pretrained(trained / 'ckpt')
    assert model.config.layout['name'] == 'hand-10' and model.num_node == 10
    assert model.meta['data_mode'] == 'pyskl2d' and model.meta['class_names'] == ['nod', 'wave']
    # the checkpoint alone says how to read the data: no --layout-file, no --clip-len (it was trained on 24)
    code = main.main(['--phase', 'test', '--weights', str(trained / 'ckpt'), '--test-data-path',
                      str(trained / 'hand.pkl'), '--test-split', 'val', '--log-dir', str(trained / 'test_logs'),
                      '--no-progress'])
    assert code == 0
    line = [text for text in capsys.readouterr().out.splitlines() if text.startswith('eval on 4 samples')]
    top1 = float(line[0].split('top-1 ')[1].split('%')[0])
    assert top1 >= 75.0, line  # wave and nod move the hand along different axes: learnable in 12 short epochs


def test_the_layout_must_fit_the_data(trained, tmp_path, capsys):
    common = ['--phase', 'test', '--weights', str(trained / 'ckpt'), '--test-data-path', str(trained / 'hand.pkl'),
              '--test-split', 'val', '--log-dir', str(tmp_path / 'logs'), '--no-progress']
    assert main.main(common + ['--layout-file', str(tmp_path / 'nope.yaml')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('error: --layout-file: ') and 'nope.yaml: not a regular file' in err[-1], err
    config = tmp_path / 'openpose.yaml'
    config.write_text('model_args:\n  graph_args:\n    layout: openpose\n')
    assert main.main(common + ['--config', str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith('hand.pkl: 2d keypoints with V = 10 joints, but layout openpose has 18'), err


def test_pyskl_clips_default_to_the_length_the_weights_were_trained_on(trained):
    from training.config import resolve_config
    from training.inputs import open_data

    weights = load_pretrained(trained / 'ckpt')
    base = ['--phase', 'test', '--weights', str(trained / 'ckpt'), '--test-data-path', str(trained / 'hand.pkl'),
            '--test-split', 'val']
    assert open_data(resolve_config(base), 'test', weights)['sample_shape'][1] == 24  # the checkpoint's clips
    assert open_data(resolve_config(base + ['--clip-len', '50']), 'test', weights)['sample_shape'][1] == 50
    layout = ['--layout-file', str(trained / 'hand.yaml')]
    assert open_data(resolve_config(base + layout), 'test')['sample_shape'][1] == 100  # no weights: PYSKL's


def test_predict_names_the_user_s_actions_on_the_pose_files(trained, capsys):
    import json

    val = [trained / 'poses' / action / f'{action}_9.json' for action in ('nod', 'wave')]  # the val samples
    assert main.main(['--phase', 'predict', '--weights', str(trained / 'ckpt'), '--skeleton', *map(str, val),
                      '--json', '--top-k', '2']) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line['file'] for line in lines] == ['nod_9.json', 'wave_9.json']
    assert all({e['action'] for e in line['top_k']} == {'nod', 'wave'} for line in lines)  # the names file's
    # windows over one recording: start, end and top-k each, then the merged segments
    assert main.main(['--phase', 'predict', '--weights', str(trained / 'ckpt'), '--skeleton', str(val[1]),
                      '--window', '12', '--stride', '6', '--json']) == 0
    windows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    *per_window, summary = windows
    assert [w['start'] for w in per_window[:2]] == [0, 6] and all(w['end'] - w['start'] == 12 for w in per_window)
    assert per_window[-1]['end'] == summary['frames'] and summary['segments'][0]['start'] == 0
    assert {s['action'] for s in summary['segments']} <= {'nod', 'wave'}
