"""gen_pose_data: a folder of the user's pose files -> a PYSKL 2D annotation pickle: pixels kept, splits,
labels, action names, people, and every bad input as one line."""
import json

import numpy as np
import pytest

from data_gen import gen_pose_data
from feeders import pyskl_annotations
from storage.files import load_pickle
from tests.own_poses import HEIGHT, WIDTH, hand_frames, write_coco_list, write_pose_folder
from tests.test_layouts import HAND_YAML


@pytest.fixture
def hand_file(tmp_path):
    path = tmp_path / 'hand.yaml'
    path.write_text(HAND_YAML)
    return str(path)


def run(capsys, *args):
    code = gen_pose_data.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_folder_to_pickle_keeps_pixels_scores_labels_and_splits(tmp_path, hand_file, capsys):
    root = write_pose_folder(tmp_path / 'poses', per_action=5)
    out = tmp_path / 'hand.pkl'
    code, stdout, _ = run(capsys, '--data-path', root, '--out', out, '--layout-file', hand_file)
    assert code == 0
    assert f'wrote {out}: 10 samples of 2 actions (10 joints, layout hand-10), train 8, val 2' in stdout
    assert 'up to 2 people in a frame, 2 kept' in stdout
    data = load_pickle(out)
    # sorted action folders: nod 0, wave 1; the last of each action by name is val
    assert data['split'] == {'train': [f'nod/nod_{k}.json' for k in range(4)] + [f'wave/wave_{k}.json'
                                                                                  for k in range(4)],
                             'val': ['nod/nod_4.json', 'wave/wave_4.json']}
    assert (tmp_path / 'hand_classes.txt').read_text() == 'nod\nwave\n'
    first = data['annotations'][0]
    assert first['frame_dir'] == 'nod/nod_0.json' and first['label'] == 0 and first['img_shape'] == (HEIGHT, WIDTH)
    written = json.loads((root / 'nod' / 'nod_0.json').read_text())
    xy = np.array([d['keypoints'] for d in written]).reshape(-1, 10, 3)  # (T, 10, 3): one person a frame
    assert first['keypoint'].shape == (1, len(xy), 10, 2) and first['keypoint'].dtype == np.float32
    np.testing.assert_allclose(first['keypoint'][0], xy[..., :2], rtol=0, atol=1e-4)  # pixels, back from x/W-0.5
    np.testing.assert_allclose(first['keypoint_score'][0], xy[..., 2], rtol=0, atol=1e-6)
    # two hands: the more confident first (the readers' rule)
    second = data['annotations'][1]
    assert second['keypoint'].shape[0] == 2 and (second['keypoint_score'][0] > second['keypoint_score'][1]).all()
    # and main.py's reader takes it as it is
    info = pyskl_annotations.describe(str(out))
    assert info['kind'] == '2d' and info['num_node'] == 10 and info['splits'] == {'train': 8, 'val': 2}


def test_coco_17_lists_need_no_layout(tmp_path, capsys):
    root = tmp_path / 'poses'
    (root / 'jump').mkdir(parents=True)
    frames = np.concatenate([hand_frames('wave', 6, 0.0)] * 2, axis=2)[:, :, :17]  # (T, 1, 17, 3)
    write_coco_list(root / 'jump' / 'a.json', frames, size=False)
    code, stdout, _ = run(capsys, '--data-path', root, '--out', tmp_path / 'c.pkl', '--frame-size', 1280, 720,
                          '--val-fraction', 0)
    assert code == 0 and '(17 joints, layout coco), train 1, val 0' in stdout
    assert load_pickle(tmp_path / 'c.pkl')['annotations'][0]['img_shape'] == (720, 1280)


@pytest.mark.parametrize('setup,args,needle', [
    (lambda root: None, [], 'no such folder'),
    (lambda root: root.mkdir(), [], 'no action folders (expected'),
    (lambda root: (root / 'empty').mkdir(parents=True), [], 'empty: the action holds no samples'),
    (lambda root: write_pose_folder(root, per_action=1), ['--layout', 'openpose'],
     '"keypoints" has 30 values, expected 54'),  # 10 joints a detection are not openpose's 18
    (lambda root: write_pose_folder(root, per_action=1), [], '"keypoints" has 30 values, expected 51'),
])
def test_bad_inputs_are_one_line_and_write_nothing(tmp_path, capsys, setup, args, needle):
    root = tmp_path / 'poses'
    setup(root)
    code, stdout, err = run(capsys, '--data-path', root, '--out', tmp_path / 'o.pkl', *args)
    assert code == 2 and stdout == '', stdout
    assert len(err.strip().splitlines()) == 1 and err.startswith('gen_pose_data: error: ') and needle in err, err
    assert not (tmp_path / 'o.pkl').exists() and not (tmp_path / 'o_classes.txt').exists()


def test_skip_mode_leaves_bad_samples_out_and_lists_them(tmp_path, hand_file, capsys):
    root = write_pose_folder(tmp_path / 'poses', per_action=3)
    (root / 'wave' / 'wave_1.json').write_text('[{"image_id": 0, "keypoints": [1, 2]')
    code, stdout, _ = run(capsys, '--data-path', root, '--out', tmp_path / 'h.pkl', '--layout-file', hand_file,
                          '--on-error', 'skip')
    assert code == 0 and '5 samples of 2 actions' in stdout and '1 bad samples left out' in stdout
    listed = (tmp_path / 'h.pkl.skipped.txt').read_text().splitlines()
    assert len(listed) == 1 and 'wave_1.json:1:37: malformed JSON' in listed[0], listed
    assert 'wave/wave_1.json' not in sum(load_pickle(tmp_path / 'h.pkl')['split'].values(), [])

