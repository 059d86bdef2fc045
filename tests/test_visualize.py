"""tools/visualize.py: projection, drawing (pixel checks on a known pose), window labels, and the CLI."""
import re

import numpy as np
import pytest
from PIL import Image

from graphs import ntu_rgb_d, openpose
from model.stgcn import build_model
from storage import files
from tests.conftest import ROOT
from tools import visualize as vis

NTU_FILE = ROOT / 'tests/fixtures/ntu/skeletons/S001C001P001R001A001.skeleton'  # 103 frames, one body
KINETICS_FILE = ROOT / 'tests/fixtures/kinetics/kinetics_train/cU1fyH2QssA.json'


def _pose(frames=3, seed=0):
    """Two bodies in camera space, person 1 two metres to the right of person 0: (3, T, 25, 2)."""
    rng = np.random.default_rng(seed)
    body = np.stack([rng.uniform(-0.3, 0.3, 25), rng.uniform(-0.9, 0.9, 25), rng.uniform(2.5, 3.5, 25)])
    sample = np.zeros((3, frames, 25, 2), np.float32)
    for t in range(frames):
        sample[:, t, :, 0] = body + [[0.02 * t], [0], [0]]
        sample[:, t, :, 1] = body + [[2.0], [0], [0]]
    return sample


def test_camera_view_is_x_right_y_up_and_azimuth_turns_about_the_vertical():
    sample = _pose()
    points, visible = vis.project(sample, 'raw')
    assert points.shape == (3, 25, 2, 2) and visible.all()
    np.testing.assert_allclose(points[..., 0], sample[0])  # u = x
    np.testing.assert_allclose(points[..., 1], -sample[1])  # v = -y: up on screen
    side, _ = vis.project(sample, 'raw', azimuth=90)
    np.testing.assert_allclose(side[..., 0], sample[2], atol=1e-6)  # from the side, depth runs across
    np.testing.assert_allclose(side[..., 1], -sample[1], atol=1e-6)
    top, _ = vis.project(sample, 'raw', elevation=90)
    np.testing.assert_allclose(top[..., 1], -sample[2], atol=1e-6)  # from above, the far side is at the top


def test_prenorm_samples_stand_on_z_and_a_missing_body_is_hidden():
    sample = _pose()
    sample[:, 1, :, 1] = 0  # person 1 absent in frame 1
    points, visible = vis.project(sample, 'prenorm')
    np.testing.assert_allclose(points[..., 1], -sample[2])  # the spine (z) goes up
    np.testing.assert_allclose(points[..., 0], sample[0])
    assert visible[:, :, 0].all() and not visible[1, :, 1].any() and visible[[0, 2], :, 1].all()


def test_openpose_2d_is_taken_as_it_is_and_score_zero_is_missing():
    sample = np.random.default_rng(0).uniform(0.1, 0.9, (3, 2, 18, 1)).astype(np.float32)
    sample[2, 0, 5, 0] = 0
    points, visible = vis.project(sample, 'kinetics', azimuth=45)
    np.testing.assert_allclose(points[..., 0], sample[0])
    np.testing.assert_allclose(points[..., 1], sample[1])
    assert visible.sum() == 2 * 18 - 1 and not visible[0, 5, 0]


def test_joints_and_bones_are_drawn_in_the_persons_colour():
    sample = _pose()
    images = vis.render(sample, 'raw', start=5, labels=[['a'], ['b'], ['c']])
    assert [im.size for im in images] == [(vis.WIDTH, vis.HEIGHT)] * 3
    points, visible = vis.project(sample, 'raw')
    pixels = vis.fit_to_canvas(points, visible)
    assert pixels[..., 0].min() >= vis.MARGIN - 1e-9 and pixels[..., 0].max() <= vis.WIDTH - vis.MARGIN + 1e-9
    for t, image in enumerate(images):
        rgb = np.asarray(image)
        for m, color in enumerate(vis.PERSON_COLORS[:2]):
            for v in range(25):
                x, y = np.round(pixels[t, v, m]).astype(int)
                assert tuple(rgb[y, x]) == color, (t, v, m)
            child, parent = ntu_rgb_d.INWARD[3]  # neck -> head: a bone's midpoint is on the line
            x, y = np.round((pixels[t, child, m] + pixels[t, parent, m]) / 2).astype(int)
            assert tuple(rgb[y, x]) == color
        assert tuple(rgb[vis.HEIGHT - 2, vis.WIDTH - 2]) == vis.BACKGROUND
    assert not np.array_equal(np.asarray(images[0])[:vis.TOP_BAND], np.asarray(images[1])[:vis.TOP_BAND])


def test_openpose_frames_use_the_openpose_bones():
    sample = np.zeros((3, 1, 18, 1), np.float32)
    sample[0, 0, :, 0] = np.linspace(0.1, 0.9, 18)
    sample[1, 0, :, 0] = np.linspace(0.2, 0.8, 18) ** 2
    sample[2] = 1.0
    rgb = np.asarray(vis.render(sample, 'kinetics')[0])
    points, visible = vis.project(sample, 'kinetics')
    pixels = vis.fit_to_canvas(points, visible)[0, :, 0]
    for child, parent in openpose.INWARD:
        x, y = np.round((pixels[child] + pixels[parent]) / 2).astype(int)
        assert tuple(rgb[y, x]) == vis.PERSON_COLORS[0]


def test_windows_cover_every_frame_and_pad_as_the_data_mode():
    assert vis.window_starts(70, 32, 8) == [0, 8, 16, 24, 32, 38]
    assert vis.window_starts(20, 32, 8) == [0]
    clip = np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1) + 1
    assert vis.pad_window(clip, 7, 'prenorm')[0, :, 0, 0].tolist() == [1, 2, 3, 1, 2, 3, 1]
    assert vis.pad_window(clip, 7, 'raw')[0, :, 0, 0].tolist() == [1, 2, 3, 0, 0, 0, 0]
    assert vis.pad_window(clip, 2, 'kinetics')[0, :, 0, 0].tolist() == [1, 2]


def test_frame_labels_follow_the_window_predictions():
    names = ['wave', 'jump', 'sit', 'run']
    probabilities = np.array([[0.7, 0.2, 0.1, 0.0],   # window at 0: wave
                              [0.1, 0.1, 0.0, 0.8]])  # window at 4: run
    labels = vis.frame_labels([0, 4], probabilities, 12, 8, names)
    assert labels[0] == ['1. wave  70%', '2. jump  20%', '3. sit  10%']
    assert labels[5] == ['1. run  40%', '2. wave  40%', '3. jump  15%']  # mean of both; tie: lower label first
    assert labels[10] == ['1. run  80%', '2. wave  10%', '3. jump  10%']
    changed = probabilities.copy()
    changed[1] = [0.0, 0.9, 0.1, 0.0]
    assert vis.frame_labels([0, 4], changed, 12, 8, names)[10][0] == '1. jump  90%'


def test_write_gif_keeps_every_frame(tmp_path):
    images = vis.render(_pose(4), 'raw')
    vis.write_gif(images, str(tmp_path / 'c.gif'))
    with Image.open(tmp_path / 'c.gif') as gif:
        assert gif.n_frames == 4 and gif.size == (vis.WIDTH, vis.HEIGHT)


def test_cli_draws_an_ntu_file_with_the_models_labels(tmp_path, capsys):
    model = build_model('tf2019', channels=(4, 8, 8), num_class=3)
    model.meta = {'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': 32}
    model.save(str(tmp_path / 'tiny.keras'))
    out = tmp_path / 'clip.gif'
    assert vis.main(['--skeleton', str(NTU_FILE), '--weights', str(tmp_path / 'tiny.keras'), '--out', str(out),
                     '--frames', '40:46', '--after-preprocess']) == 0
    assert 'wrote' in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.n_frames == 6
        gif.seek(0)
        band = np.asarray(gif.convert('RGB'))[vis.HEIGHT - vis.LABEL_BAND:]
    assert (band.min(axis=-1) < 100).sum() > 50  # the top-3 lines are written


def test_cli_draws_kinetics_and_npy_samples(tmp_path):
    assert vis.main(['--skeleton', str(KINETICS_FILE), '--out', str(tmp_path / 'k.gif'), '--frames', '0:3']) == 0
    data = _pose(5)[None]  # (1, 3, T, 25, 2)
    np.save(tmp_path / 'val_data_joint.npy', data)
    files.write_meta({'data_mode': 'raw'}, str(tmp_path))
    assert vis.main(['--skeleton', str(tmp_path / 'val_data_joint.npy'), '--index', '0',
                     '--out', str(tmp_path / 'n.gif')]) == 0
    with Image.open(tmp_path / 'n.gif') as gif:
        assert gif.n_frames == 5


@pytest.mark.parametrize('args, message', [
    (['--skeleton', 'missing.skeleton'], r'--skeleton missing.skeleton: no such file'),
    (['--skeleton', str(NTU_FILE), '--frames', '200:'], r'--frames 200:: the clip has frames 0..102'),
    (['--skeleton', str(NTU_FILE), '--frames', 'x'], r'--frames x: expected START:END'),
    (['--skeleton', str(NTU_FILE), '--out', 'c.png'], r'--out c.png: expected a .gif or .mp4 name'),
])
def test_cli_errors_are_one_line(args, message, capsys):
    assert vis.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: ')
    assert re.search(message, err[0]), err[0]


def test_mp4_without_ffmpeg_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('PATH', str(tmp_path))  # a PATH without ffmpeg
    assert vis.main(['--skeleton', str(NTU_FILE), '--out', str(tmp_path / 'c.mp4')]) == 2
    assert capsys.readouterr().err.strip() == (f'error: --out {tmp_path / "c.mp4"}: MP4 needs ffmpeg on PATH '
                                               f'(apt-get install ffmpeg); or write a .gif')
    assert not (tmp_path / 'c.mp4').exists()


def test_npy_needs_an_index(tmp_path, capsys):
    np.save(tmp_path / 'val_data_joint.npy', _pose(2)[None])
    assert vis.main(['--skeleton', str(tmp_path / 'val_data_joint.npy')]) == 2
    assert 'pick one with --index K' in capsys.readouterr().err
