"""tools/visualize.py: projection, drawing (pixel checks on a known pose), window labels, and the CLI."""
import json
import pickle
import re
import sys

import numpy as np
import pytest
from PIL import Image

from graphs import LAYOUTS, ntu_rgb_d, openpose
from model.stgcn import build_model
from storage import files
from tests.conftest import ROOT
from tools import visualize as vis
from tools import visualize_inputs as vis_inputs

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


def test_stored_samples_windows_pad_as_the_data_mode():
    clip = np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1) + 1
    assert vis.pad_window(clip, 7, 'prenorm')[0, :, 0, 0].tolist() == [1, 2, 3, 1, 2, 3, 1]
    assert vis.pad_window(clip, 7, 'raw')[0, :, 0, 0].tolist() == [1, 2, 3, 0, 0, 0, 0]
    assert vis.pad_window(clip, 2, 'kinetics')[0, :, 0, 0].tolist() == [1, 2]


def test_frame_labels_follow_the_window_predictions():
    names = ['wave', 'jump', 'sit', 'run']
    probabilities = np.array([[0.7, 0.2, 0.1, 0.0],   # window at 0: wave
                              [0.1, 0.1, 0.0, 0.8]])  # window at 4: run
    labels = vis.frame_labels([(0, 8), (4, 12)], probabilities, 12, names)
    assert labels[0] == ['1. wave  70%', '2. jump  20%', '3. sit  10%']
    assert labels[5] == ['1. run  40%', '2. wave  40%', '3. jump  15%']  # mean of both; tie: lower label first
    assert labels[10] == ['1. run  80%', '2. wave  10%', '3. jump  10%']
    changed = probabilities.copy()
    changed[1] = [0.0, 0.9, 0.1, 0.0]
    assert vis.frame_labels([(0, 8), (4, 12)], changed, 12, names)[10][0] == '1. jump  90%'


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
    monkeypatch.setitem(sys.modules, 'imageio_ffmpeg', None)  # and no imageio-ffmpeg: its import fails
    assert vis.find_ffmpeg() is None
    assert vis.main(['--skeleton', str(NTU_FILE), '--out', str(tmp_path / 'c.mp4')]) == 2
    assert capsys.readouterr().err.strip() == (f'error: --out {tmp_path / "c.mp4"}: MP4 needs ffmpeg: pip install '
                                               'imageio-ffmpeg (it bundles one), or put ffmpeg on PATH; or write '
                                               'a .gif')
    assert not (tmp_path / 'c.mp4').exists()


def test_mp4_round_trip_keeps_frames_size_and_picture(tmp_path, monkeypatch):
    import imageio_ffmpeg  # requirements-dev.txt: its bundled ffmpeg writes and reads the file

    monkeypatch.setenv('PATH', str(tmp_path))  # imageio-ffmpeg's own binary, not a system one
    images = vis.render(_pose(5), 'raw', labels=[['a'], ['b'], ['c'], ['d'], ['e']])
    path = tmp_path / 'c.mp4'
    vis.write_mp4(images, str(path))
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = [np.frombuffer(f, np.uint8).reshape(vis.HEIGHT, vis.WIDTH, 3) for f in reader]
    assert meta['size'] == (vis.WIDTH, vis.HEIGHT) and meta['codec'] == 'h264' and meta['fps'] == vis.FPS
    assert len(frames) == 5
    for frame, image in zip(frames, images):  # H.264 is lossy: the same picture, within a few levels
        assert np.abs(frame.astype(int) - np.asarray(image, int)).mean() < 3
    assert np.abs(frames[0].astype(int) - frames[4].astype(int)).mean() > 3  # and not one picture five times
    assert not [p for p in tmp_path.iterdir() if p.name != 'c.mp4']  # no temporary left


def test_npy_needs_an_index(tmp_path, capsys):
    np.save(tmp_path / 'val_data_joint.npy', _pose(2)[None])
    assert vis.main(['--skeleton', str(tmp_path / 'val_data_joint.npy')]) == 2
    assert 'pick one with --index K' in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------
# PYSKL annotation pickles and users' layouts

STAR_LAYOUT = """\
name: my-star
num_node: 5
base: 0
joints: [centre, left, right, down, foot]
edges: [[1, 0], [2, 0], [3, 0], [4, 3]]
center: 0
"""


def _write_annotations(tmp_path, annotations, name='ann.pkl'):
    """A PYSKL pickle of `annotations`, all in split 'val' (written with pickle; read only by the restricted
    loader)."""
    path = tmp_path / name
    with open(path, 'wb') as f:
        pickle.dump({'split': {'val': [a['frame_dir'] for a in annotations]}, 'annotations': annotations}, f)
    return path


def _annotation_3d(keypoint, name='S001C001P001R001A001', label=0):
    """keypoint (M, T, V, 3), stored float16 as PYSKL's ntu*_3danno.pkl."""
    return {'frame_dir': name, 'label': label, 'total_frames': keypoint.shape[1],
            'keypoint': np.asarray(keypoint, np.float16)}


def _annotation_2d(keypoint, score, img_shape, name='video', label=1):
    """keypoint (M, T, V, 2) pixels, score (M, T, V), img_shape (h, w), as PYSKL's ntu*_hrnet.pkl."""
    return {'frame_dir': name, 'label': label, 'total_frames': keypoint.shape[1],
            'keypoint': np.asarray(keypoint, np.float16), 'keypoint_score': np.asarray(score, np.float16),
            'img_shape': img_shape}


def _ntu_keypoint(frames=20, empty=2):
    """The fixture's body as PYSKL keypoints (1, frames, 25, 3) float16, absent in the first `empty` frames."""
    from data_gen.skeleton import read_skeleton

    xyz = read_skeleton(str(NTU_FILE), max_body=1).xyz  # (T, 1, 25, 3)
    keypoint = xyz.transpose(1, 0, 2, 3)[:, :frames].astype(np.float16)  # (1, frames, 25, 3)
    keypoint[:, :empty] = 0
    return keypoint


def _image_pixels(points, img_shape):
    """Where a point (x, y) of an image (h, w) must land: the image fills the drawing area, aspect kept."""
    height, width = img_shape
    area_w = vis.WIDTH - 2 * vis.MARGIN
    area_h = vis.HEIGHT - vis.TOP_BAND - vis.LABEL_BAND - 2 * vis.MARGIN
    scale = min(area_w / width, area_h / height)
    centre = np.array([vis.WIDTH / 2, vis.TOP_BAND + vis.MARGIN + area_h / 2])
    return (np.asarray(points, np.float64) - [width / 2, height / 2]) * scale + centre


def _around(rgb, point):
    """The colours of the 3 x 3 pixels around `point` (x, y): a 3-pixel bone covers one of them wherever its
    anti-aliasing-free edge falls."""
    x, y = np.round(point).astype(int)
    return {tuple(c) for c in rgb[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3)}


def test_pyskl_3d_pickle_is_projected_as_ntu_files_with_pyskls_bones(tmp_path):
    keypoint = _pose(3).transpose(3, 1, 2, 0)  # (M, T, V, 3)
    path = _write_annotations(tmp_path, [_annotation_3d(keypoint[:1], 'other'), _annotation_3d(keypoint)])
    clip = vis_inputs.read_input(str(path), 1, False, None)
    stored = keypoint.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(clip.drawn, stored.transpose(3, 1, 2, 0))  # (C, T, V, M)
    assert (clip.data_mode, clip.layout, clip.recording) == ('raw', 'ntu-rgb+d-pyskl', None)
    assert clip.note == "frame_dir 'S001C001P001R001A001', label 0"
    rgb = np.asarray(vis.render(clip.drawn, 'raw', layout=LAYOUTS['ntu-rgb+d-pyskl'])[0])
    official = np.asarray(vis.render(clip.drawn, 'raw', layout=LAYOUTS['ntu-rgb+d'])[0])
    pixels = vis.fit_to_canvas(*vis.project(clip.drawn, 'raw'))[0]  # (V, M, 2)
    for m, color in enumerate(vis.PERSON_COLORS[:2]):
        for v in range(25):
            x, y = np.round(pixels[v, m]).astype(int)
            assert tuple(rgb[y, x]) == color
        for child, parent in [(21, 7), (23, 11)]:  # PYSKL wires the hand tips to the hands, not to the thumbs
            middle = (pixels[child, m] + pixels[parent, m]) / 2
            assert color in _around(rgb, middle) and _around(official, middle) == {vis.BACKGROUND}, (m, child)


def test_pyskl_3d_after_preprocess_is_pre_normalize_3d_standing_upright(tmp_path):
    from feeders.pyskl_transforms import format_gcn_input, pre_normalize_3d

    keypoint = _ntu_keypoint(frames=20, empty=2)
    clip = vis_inputs.read_input(str(_write_annotations(tmp_path, [_annotation_3d(keypoint)])), 0, True, None)
    np.testing.assert_array_equal(clip.drawn, format_gcn_input(pre_normalize_3d(keypoint), 2).numpy())
    assert clip.drawn.shape == (3, 18, 25, 2) and clip.data_mode == 'pyskl3d'  # the empty frames dropped
    points, visible = vis.project(clip.drawn, clip.data_mode)
    assert visible[:, :, 0].all() and not visible[:, :, 1].any()  # FormatGCNInput's zero second person
    first = points[0, :, 0]  # (V, 2) in the first kept frame, which PreNormalize3D turns
    assert first[3, 1] < first[20, 1] < first[0, 1]  # head above the top of the spine above its base: z up
    shoulders = first[8] - first[4]  # left (5) to right (9) shoulder, 1-based: onto +x
    assert shoulders[0] > 0.1 and abs(shoulders[1]) < 1e-4


def test_pyskl_2d_pickle_is_drawn_in_the_image_with_coco_bones(tmp_path):
    rng = np.random.default_rng(1)
    img_shape = (100, 200)  # (h, w)
    # three persons side by side in the image's middle, so that neither the points' box nor the people overlap
    x = rng.uniform(20, 60, (3, 2, 17)) + np.array([0, 60, 120])[:, None, None]
    keypoint = np.stack([x, rng.uniform(30, 70, (3, 2, 17))], -1)  # (M, T, V, 2) pixels
    score = rng.uniform(0.2, 1.0, (3, 2, 17))
    score[0, 0, 5] = 0
    path = _write_annotations(tmp_path, [_annotation_2d(keypoint, score, img_shape)])
    clip = vis_inputs.read_input(str(path), 0, False, None)
    assert (clip.data_mode, clip.layout, clip.extent) == ('pyskl2d', 'coco', ((0, 0), (200, 100)))
    rgb = np.asarray(vis.render(clip.drawn, clip.data_mode, layout=LAYOUTS['coco'], extent=clip.extent)[0])
    stored = keypoint.astype(np.float16).astype(np.float64)[:, 0]  # (M, V, 2) of frame 0
    pixels = _image_pixels(stored, img_shape)
    visible = vis.project(clip.drawn, clip.data_mode)[1][0]  # (V, M)
    assert visible.sum() == 3 * 17 - 1 and not visible[5, 0]  # score 0: not drawn
    for m, color in enumerate(vis.PERSON_COLORS[:3]):
        for v in np.flatnonzero(visible[:, m]):
            px, py = np.round(pixels[m, v]).astype(int)
            assert tuple(rgb[py, px]) == color, (m, v)
        for child, parent in LAYOUTS['coco'].edges:
            if visible[child, m] and visible[parent, m]:
                assert color in _around(rgb, (pixels[m, child] + pixels[m, parent]) / 2), (m, child, parent)
    left, top = np.round(_image_pixels([0, 0], img_shape)).astype(int)
    right, bottom = np.round(_image_pixels([200, 100], img_shape)).astype(int)
    assert tuple(rgb[(top + bottom) // 2, left]) == vis.IMAGE_BORDER == tuple(rgb[top, (left + right) // 2])
    assert tuple(rgb[(top + bottom) // 2, left + 3]) == vis.BACKGROUND


def test_pyskl_2d_after_preprocess_is_pre_normalize_2d_of_the_persons_kept(tmp_path):
    from feeders.pyskl_transforms import pre_normalize_2d

    rng = np.random.default_rng(2)
    keypoint = rng.uniform(0, 1000, (3, 4, 17, 2))
    score = rng.uniform(0.1, 1.0, (3, 4, 17))
    path = _write_annotations(tmp_path, [_annotation_2d(keypoint, score, (1000, 1000))])
    clip = vis_inputs.read_input(str(path), 0, True, None)
    assert clip.drawn.shape == (3, 4, 17, 2) and clip.extent == ((-1, -1), (1, 1))  # FormatGCNInput keeps 2
    stored = keypoint.astype(np.float16)
    normalised = pre_normalize_2d(stored[:2], (1000, 1000)).numpy()  # (2, T, V, 2)
    np.testing.assert_array_equal(clip.drawn[:2], normalised.transpose(3, 1, 2, 0))
    np.testing.assert_array_equal(clip.drawn[2], score[:2].astype(np.float16).astype(np.float32).transpose(1, 2, 0))
    box = vis.extent_box(clip.extent)
    assert box[2] - box[0] == box[3] - box[1]  # the model's square, as the model sees the image


def test_pyskl_windows_are_uniform_sample_test_clips():
    clip = np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1) + 1
    assert vis.pad_window(clip, 7, 'pyskl3d')[0, :, 0, 0].tolist() == [1, 2, 3, 1, 2, 3, 1]  # short: looped
    long = np.arange(250, dtype=np.float32).reshape(1, 250, 1, 1)
    frames = vis.pad_window(long, 100, 'pyskl2d')[0, :, 0, 0]
    segments = np.arange(101) * 250 // 100  # one frame from each of 100 equal segments
    assert ((segments[:-1] <= frames) & (frames < segments[1:])).all()


def _written(gif_path):
    """Whether each frame of a GIF has text in its label band."""
    with Image.open(gif_path) as gif:
        written = []
        for t in range(gif.n_frames):
            gif.seek(t)
            band = np.asarray(gif.convert('RGB'))[vis.HEIGHT - vis.LABEL_BAND:]
            written.append(int((band.min(axis=-1) < 100).sum()) > 50)
    return written


def test_pyskl_3d_labels_are_predicts_windows_over_the_raw_frames(tmp_path, capsys):
    from serving.pose_input import Reader
    from serving.protocol import Protocol
    from tests.responsive import responsive

    keypoint = _ntu_keypoint(frames=12, empty=2)
    keypoint[:, 4:8] *= 0.3  # smaller in the second window, smaller still in the third: a responsive model's
    keypoint[:, 8:] *= 0.1  # softmax flattens (tests/responsive.py), so each window has its own label lines
    path = _write_annotations(tmp_path, [_annotation_3d(keypoint)])
    model = build_model('pyskl', channels=(8, 8, 8), num_class=3)
    model.meta = {'preset': 'pyskl', 'data_mode': 'pyskl3d', 'max_frame': 16}
    protocol = Protocol(model, num_clips=2)
    [recording] = Reader(protocol, 'tiny', None).read('pickle', str(path))
    responsive(model, protocol.inputs(recording.frames), seed=2)
    model.save(str(tmp_path / 'tiny.keras'))
    args = ['--skeleton', str(path), '--index', '0', '--weights', str(tmp_path / 'tiny.keras'), '--window', '4',
            '--stride', '4', '--num-clips', '2']
    assert vis.main(args + ['--out', str(tmp_path / 'raw.gif')]) == 0
    assert "layout ntu-rgb+d-pyskl, frame_dir 'S001C001P001R001A001', label 0" in capsys.readouterr().out
    assert _written(tmp_path / 'raw.gif') == [True] * 12  # drawn raw: every frame, each in a window of predict's
    protocol = vis.load_protocol(str(tmp_path / 'tiny.keras'), num_clips=2, window=4)
    reader = Reader(protocol, 'tiny', None)
    raw = vis.drawn_labels(protocol, vis_inputs.read_input(str(path), 0, False, reader), 4, 4)
    kept = vis.drawn_labels(protocol, vis_inputs.read_input(str(path), 0, True, reader), 4, 4)
    assert raw[0] == raw[3] and len({tuple(lines) for lines in raw}) == 3  # the windows 0-4, 4-8, 8-12 differ
    assert kept == raw[2:]  # PreNormalize3D drops the two empty frames; a drawn frame shows its raw frame's windows


def test_a_layout_file_draws_its_bones_and_an_unknown_joint_count_needs_one(tmp_path, capsys):
    (tmp_path / 'star.yaml').write_text(STAR_LAYOUT)
    # centre, left, right, down, foot in a 200 x 100 image
    points = np.array([[100, 50], [40, 20], [160, 20], [100, 90], [140, 90]], np.float64)
    keypoint = np.broadcast_to(points, (1, 2, 5, 2))
    path = _write_annotations(tmp_path, [_annotation_2d(keypoint, np.ones((1, 2, 5)), (100, 200))])
    args = ['--skeleton', str(path), '--index', '0', '--out', str(tmp_path / 'star.gif')]
    assert vis.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f'error: --skeleton {path}: samples have 5 joints and no shipped '
                                               'layout has 5') and err[0].endswith('--layout-file my_layout.yaml')
    assert not (tmp_path / 'star.gif').exists()
    assert vis.main(args + ['--layout-file', str(tmp_path / 'star.yaml')]) == 0
    assert 'layout my-star' in capsys.readouterr().out
    clip = vis_inputs.read_input(str(path), 0, False, None)
    layout = vis_inputs.choose_layout(5, clip.layout, str(tmp_path / 'star.yaml'))
    rgb = np.asarray(vis.render(clip.drawn, clip.data_mode, layout=layout, extent=clip.extent)[0])
    pixels = _image_pixels(points, (100, 200))
    color = vis.PERSON_COLORS[0]
    for child, parent in [(1, 0), (2, 0), (3, 0), (4, 3)]:
        assert color in _around(rgb, (pixels[child] + pixels[parent]) / 2)
    for a, b in [(1, 2), (2, 4)]:  # no such bones
        assert _around(rgb, (pixels[a] + pixels[b]) / 2) == {vis.BACKGROUND}


def test_the_weights_layout_draws_the_bones_and_labels_a_2d_pickle(tmp_path, capsys):
    from storage.layout_file import load_layout_file

    (tmp_path / 'star.yaml').write_text(STAR_LAYOUT)
    star = load_layout_file(str(tmp_path / 'star.yaml'))
    model = build_model('pyskl', channels=(8, 8, 8), num_class=3, layout=star.to_dict())
    model.meta = {'preset': 'pyskl', 'data_mode': 'pyskl2d', 'max_frame': 16}
    model.save(str(tmp_path / 'star.keras'))
    rng = np.random.default_rng(4)
    annotation = _annotation_2d(rng.uniform(0, 100, (1, 10, 5, 2)), rng.uniform(0.5, 1, (1, 10, 5)), (100, 100))
    path = _write_annotations(tmp_path, [annotation])
    assert vis.main(['--skeleton', str(path), '--index', '0', '--weights', str(tmp_path / 'star.keras'),
                     '--out', str(tmp_path / 'star.gif'), '--window', '4', '--stride', '2']) == 0
    assert 'layout my-star' in capsys.readouterr().out  # the layout saved with the weights
    assert vis_inputs.choose_layout(5, None, model=model) == star
    with pytest.raises(vis.VisualizeError, match=r'--weights \(its layout\): layout my-star has 5 joints, '
                                                 r'--skeleton x.pkl has 17'):
        vis_inputs.choose_layout(17, 'coco', model=model, source='x.pkl')


def test_pyskl_pickle_errors_are_one_line(tmp_path, capsys):
    path = _write_annotations(tmp_path, [_annotation_3d(_pose(2).transpose(3, 1, 2, 0))])
    model = build_model('tf2019', channels=(4, 8, 8), num_class=3)
    model.meta = {'preset': 'tf2019', 'data_mode': 'prenorm', 'max_frame': 32}
    model.save(str(tmp_path / 'prenorm.keras'))
    for args, message in [
            ([], f'--skeleton {path}: a PYSKL pickle holds many samples; pick one with --index K'),
            (['--index', '1'], f'--index 1: {path} holds annotations 0..0'),
            (['--index', '0', '--weights', str(tmp_path / 'prenorm.keras')],
             f"{path}: a PYSKL annotation pickle; the weights {tmp_path / 'prenorm.keras'} were trained on prenorm "
             "data, not on PYSKL's (data mode pyskl3d or pyskl2d)"),
            (['--index', '0', '--layout-file', str(tmp_path / 'none.yaml')],
             f'--layout-file: {tmp_path / "none.yaml"}: not a regular file')]:
        assert vis.main(['--skeleton', str(path), '--out', str(tmp_path / 'c.gif')] + args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f'error: {message}'), err
    assert not (tmp_path / 'c.gif').exists()


# ---------------------------------------------------------------------------------------------------------
# Pose-estimator files (OpenPose folders, COCO-style lists), and labels that are predict's

POSE_FIXTURES = ROOT / 'tests/fixtures/pose'
OPENPOSE_FOLDER = POSE_FIXTURES / 'openpose_body25_openposer_du_wohn_wo'  # 175 frames, BODY_25, no frame size
ALPHAPOSE_LIST = POSE_FIXTURES / 'alphapose_coco17_upfall' / 'alphapose-results.json'  # COCO-17, no frame size
KINETICS_VAL = ROOT / 'tests/fixtures/kinetics/kinetics_val/--33Lscn6sk.json'  # up to 3 people, 185 frames
FRAME = (400, 200)  # (width, height) of the pose files written here


def _people(rng, num_joint, scores, dropped=()):
    """(P, num_joint, 3) pixel x, y, score: person p in its own band of x (80 pixels from 20 + 90 p), joint
    score scores[p]; the joints in `dropped` (BODY_25's MidHip and feet) far right, away from every person."""
    people = np.zeros((len(scores), num_joint, 3))
    for p, score in enumerate(scores):
        people[p, :, 0] = rng.uniform(20 + 90 * p, 100 + 90 * p, num_joint)
        people[p, :, 1] = rng.uniform(30, 170, num_joint)
        people[p, :, 2] = score
        people[p, list(dropped), 0] = rng.uniform(340, 390, len(dropped))
    return people


def _write_openpose(folder, frames):
    """frames: T arrays (P, V, 3) -> folder/clip_{t:012d}_keypoints.json as OpenPose --write_json writes them."""
    folder.mkdir()
    for t, people in enumerate(frames):
        frame = {'version': 1.3, 'people': [{'pose_keypoints_2d': [float(v) for v in p.reshape(-1)]}
                                            for p in people]}
        (folder / f'clip_{t:012d}_keypoints.json').write_text(json.dumps(frame))
    return folder


def _write_coco(path, frames, size=FRAME):
    """frames: T arrays (P, V, 3) -> a COCO-style list, image_id the frame number, the frame size recorded."""
    detections = [{'image_id': t, 'category_id': 1, 'keypoints': [float(v) for v in p.reshape(-1)], 'score': 1.0,
                   'width': size[0], 'height': size[1]} for t, people in enumerate(frames) for p in people]
    path.write_text(json.dumps(detections))
    return path


def _pose_input(tmp_path, kind):
    """A pose input of `kind` with 3 people in frame 0 listed least confident first, one undetected joint, and
    BODY_25's extra joints apart. Returns (path, extra flags, layout, the drawn people's joints (2, V, 3) of
    frame 0, the left-out person's (V, 3), the drawn people's BODY_25 joints that are not OpenPose's 18 (k, 2)).
    """
    from data_gen.pose_readers import BODY25_TO_OPENPOSE18

    rng = np.random.default_rng(5)
    dropped = sorted(set(range(25)) - set(BODY25_TO_OPENPOSE18)) if kind == 'body25' else []  # MidHip, feet
    num_joint = {'body25': 25, 'coco18': 18, 'coco17': 17}[kind]
    frames = [_people(rng, num_joint, [0.3, 0.9, 0.6], dropped), _people(rng, num_joint, [0.8], dropped)]
    frames[0][1, 4] = [360, 100, 0]  # undetected (OpenPose writes 0 0 0; any position with score 0 is)
    drawn, left_out = frames[0][[1, 2]], frames[0][0]  # most confident first
    extra = drawn[:, dropped, :2].reshape(-1, 2)
    if kind == 'body25':
        drawn, left_out = drawn[:, list(BODY25_TO_OPENPOSE18)], left_out[list(BODY25_TO_OPENPOSE18)]
    if kind == 'coco17':
        return _write_coco(tmp_path / 'results.json', frames), [], 'coco', drawn, left_out, extra
    folder = _write_openpose(tmp_path / 'video', frames)
    return folder, ['--frame-size', *map(str, FRAME)], 'openpose', drawn, left_out, extra


@pytest.mark.parametrize('kind', ['body25', 'coco18', 'coco17'])
def test_pose_files_are_drawn_in_the_frame_as_the_readers_keep_the_people(tmp_path, capsys, kind):
    path, flags, layout_name, drawn, left_out, extra = _pose_input(tmp_path, kind)
    assert vis.main(['--skeleton', str(path), '--out', str(tmp_path / 'c.gif')] + flags) == 0
    assert f'2 frames {vis.WIDTH}x{vis.HEIGHT}, layout {layout_name}' in capsys.readouterr().out
    clip = vis_inputs.read_input(str(path), None, False, frame_size=FRAME)
    assert (clip.layout, clip.extent, clip.drawn.shape[1:]) == (layout_name, ((0, 0), FRAME), (2, len(drawn[0]), 2))
    layout = LAYOUTS[layout_name]
    rgb = np.asarray(vis.render(clip.drawn, clip.data_mode, layout=layout, extent=clip.extent)[0])
    image = (FRAME[1], FRAME[0])  # (h, w)
    for m, color in enumerate(vis.PERSON_COLORS[:2]):
        pixels, visible = _image_pixels(drawn[m, :, :2], image), drawn[m, :, 2] > 0  # (V, 2), (V,)
        for v in np.flatnonzero(visible):
            px, py = np.round(pixels[v]).astype(int)
            assert tuple(rgb[py, px]) == color, (m, v)
        for child, parent in layout.edges:
            if visible[child] and visible[parent]:
                assert color in _around(rgb, (pixels[child] + pixels[parent]) / 2), (m, child, parent)
    assert _around(rgb, _image_pixels([360, 100], image)) == {vis.BACKGROUND}  # the undetected joint
    for x, y, _ in left_out:  # the least confident of three, alone in its band: the readers keep two
        assert _around(rgb, _image_pixels([x, y], image)) == {vis.BACKGROUND}
    left, middle = np.round(_image_pixels([0, FRAME[1] / 2], image)).astype(int)
    assert tuple(rgb[middle, left]) == vis.IMAGE_BORDER  # the frame's left edge
    assert len(extra) == (14 if kind == 'body25' else 0)  # MidHip and the feet are not OpenPose's 18 joints:
    assert all(_around(rgb, p) == {vis.BACKGROUND} for p in _image_pixels(extra, image))  # drawn nowhere


def test_a_users_coco_style_list_draws_its_layouts_bones(tmp_path, capsys):
    from tests import own_poses
    from tests.test_layouts import HAND_YAML

    (tmp_path / 'hand.yaml').write_text(HAND_YAML)
    path = tmp_path / 'wave.json'
    own_poses.write_coco_list(path, own_poses.hand_frames('wave', 3, 0.0))  # frame 0 at rest, 640 x 480 recorded
    args = ['--skeleton', str(path), '--out', str(tmp_path / 'hand.gif')]
    assert vis.main(args) == 2  # read as COCO-17 without the layout
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: {path}: [0]: "keypoints" has 30 values, expected 51 (17 joints of layout coco); a list '
                   'of 10-joint poses needs its layout (--layout-file)']
    assert vis.main(args + ['--layout-file', str(tmp_path / 'hand.yaml')]) == 0
    assert 'layout hand-10' in capsys.readouterr().out
    clip = vis_inputs.read_input(str(path), None, False, list_joints=(10, 'hand-10'))
    layout = vis_inputs.choose_layout(10, clip.layout, str(tmp_path / 'hand.yaml'))
    rgb = np.asarray(vis.render(clip.drawn, clip.data_mode, layout=layout, extent=clip.extent)[0])
    pixels = _image_pixels(own_poses.REST, (own_poses.HEIGHT, own_poses.WIDTH))  # (10, 2)
    color = vis.PERSON_COLORS[0]
    assert len(layout.edges) == 9
    for child, parent in layout.edges:
        assert color in _around(rgb, (pixels[child] + pixels[parent]) / 2), (child, parent)
    for a, b in [(0, 9), (2, 9)]:  # wrist - little finger, thumb tip - little finger: no such bones
        assert _around(rgb, (pixels[a] + pixels[b]) / 2) == {vis.BACKGROUND}


def _one_error_line(capsys, argv):
    assert vis.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: '), err
    return err[0]


def test_pose_files_without_a_frame_size_need_the_flag(tmp_path, capsys):
    path = _pose_input(tmp_path, 'coco18')[0]
    coco = tmp_path / 'no_size.json'
    coco.write_text(json.dumps([{'image_id': 0, 'keypoints': [1.0] * 51}]))
    for given in (path, coco):
        line = _one_error_line(capsys, ['--skeleton', str(given), '--out', str(tmp_path / 'c.gif')])
        assert line == (f'error: {given}: the files do not record the frame size; give it (width, height in pixels) '
                        'with --frame-size WIDTH HEIGHT')
    line = _one_error_line(capsys, ['--skeleton', str(path), '--frame-size', '0', '480'])
    assert line == 'error: --frame-size 0 480: must be two pixel counts >= 1: width height'
    assert not (tmp_path / 'c.gif').exists()


def test_bad_json_is_one_line_naming_file_line_and_column(tmp_path, capsys):
    coco = tmp_path / 'coco.json'
    coco.write_text('[{"image_id": 1,\n "keypoints": [1, 2, }]')
    line = _one_error_line(capsys, ['--skeleton', str(coco), '--frame-size', '640', '480'])
    assert line.startswith(f'error: {coco}:2:22: malformed JSON')
    path, flags = _pose_input(tmp_path, 'body25')[:2]
    frame = path / 'clip_000000000001_keypoints.json'
    frame.write_text(frame.read_text()[:30])
    line = _one_error_line(capsys, ['--skeleton', str(path), '--out', str(tmp_path / 'c.gif')] + flags)
    assert re.match(rf'error: {re.escape(str(frame))}:1:\d+: malformed JSON', line), line
    assert not (tmp_path / 'c.gif').exists()


# The labels of each input predict reads, with weights of each data mode: (input, data mode). Responsive models
# (tests/responsive.py), so that a different input shows in the probabilities.
PREDICT_CASES = {
    'openpose folder, kinetics': ('openpose', 'kinetics'),
    'kinetics json, kinetics': ('kinetics', 'kinetics'),
    'kinetics json, pyskl2d': ('kinetics', 'pyskl2d-openpose'),  # all 300 steps read, drawn to the last person
    'coco-17 list, pyskl2d': ('coco17', 'pyskl2d-coco'),
    "a user's list, pyskl2d": ('hand', 'pyskl2d-hand'),
    '2d pickle, pyskl2d': ('pickle2d', 'pyskl2d-coco'),
    'ntu file, prenorm': ('ntu', 'prenorm'),
    'ntu file, pyskl3d': ('ntu', 'pyskl3d'),
    '3d pickle, pyskl3d': ('pickle3d', 'pyskl3d'),
}
PYSKL_CLIP_LEN = 24


def _predict_input(folder, name):
    """(path, --index, --frame-size) of a test input, written to `folder` where it is not a fixture."""
    if name == 'openpose':
        return OPENPOSE_FOLDER, None, (1280, 720)
    if name == 'kinetics':
        return KINETICS_VAL, None, None
    if name == 'coco17':
        return ALPHAPOSE_LIST, None, (640, 480)
    if name == 'ntu':
        return NTU_FILE, None, None
    if name == 'hand':
        from tests import own_poses

        path = folder / 'wave.json'
        if not path.exists():
            own_poses.write_coco_list(path, own_poses.hand_frames('wave', 30, 0.5, people=2))
        return path, None, None
    rng = np.random.default_rng(6)
    if name == 'pickle2d':
        annotations = [_annotation_2d(rng.uniform(0, 640, (m, 20, 17, 2)), rng.uniform(0.2, 1, (m, 20, 17)),
                                      (480, 640), name=f'v{m}') for m in (1, 3)]
    else:
        annotations = [_annotation_3d(_ntu_keypoint(frames=f, empty=2), name=f'S001C001P001R001A00{f % 9}')
                       for f in (20, 30)]
    return _write_annotations(folder, annotations, f'{name}.pkl'), 1, None


@pytest.fixture(scope='module')
def predict_weights(tmp_path_factory):
    """data mode -> responsive weights saved as .keras (built on first use)."""
    from serving.pose_input import Reader
    from serving.protocol import Protocol
    from storage.layout_file import load_layout_file
    from tests.responsive import responsive
    from tests.test_layouts import HAND_YAML

    folder = tmp_path_factory.mktemp('predict')
    (folder / 'hand.yaml').write_text(HAND_YAML)
    specs = {  # data mode -> (preset, overrides, max_frame, an input like those it classifies)
        'kinetics': ('paper', {'layout': 'openpose', 'num_class': 7}, 300, 'openpose'),
        'pyskl2d-hand': ('pyskl', {'layout': load_layout_file(str(folder / 'hand.yaml')).to_dict(), 'num_class': 5},
                    PYSKL_CLIP_LEN, 'hand'),
        'pyskl2d-coco': ('pyskl', {'layout': 'coco', 'num_class': 5}, PYSKL_CLIP_LEN, 'coco17'),
        'pyskl2d-openpose': ('pyskl', {'layout': 'openpose', 'num_class': 5}, PYSKL_CLIP_LEN, 'kinetics'),
        'prenorm': ('tf2019', {'num_class': 6, 'channels': (4, 8, 8)}, 300, 'ntu'),
        'pyskl3d': ('pyskl', {'num_class': 6}, PYSKL_CLIP_LEN, 'ntu'),
    }
    built = {}

    def weights(mode):
        if mode not in built:
            preset, overrides, max_frame, example = specs[mode]
            model = build_model(preset, **{'channels': (8, 8, 8), **overrides})
            model.meta = {'preset': preset, 'data_mode': mode.split('-')[0], 'max_frame': max_frame}
            protocol = Protocol(model, num_clips=2 if preset == 'pyskl' else None)
            path, _, frame_size = _predict_input(folder, example)
            kind = vis_inputs.input_paths(str(path))[0][0]
            responsive(model, protocol.inputs(Reader(protocol, mode, frame_size).read(kind, str(path))[0].frames))
            built[mode] = str(folder / f'{mode}.keras')
            model.save(built[mode])
        return built[mode]

    return folder, weights


@pytest.mark.parametrize('case', list(PREDICT_CASES))
def test_a_window_of_the_whole_recording_is_what_predict_prints(predict_weights, tmp_path, capsys, case):
    import main
    from serving.pose_input import Reader

    folder, weights_of = predict_weights
    name, mode = PREDICT_CASES[case]
    weights = weights_of(mode)
    path, index, frame_size = _predict_input(folder, name)
    size_flags = ['--frame-size', *map(str, frame_size)] if frame_size else []
    assert main.main(['--phase', 'predict', '--weights', weights, '--skeleton', str(path), '--json', '--top-k', '10']
                     + size_flags) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [line] = [lines[index]] if index is not None else lines
    frames = line['frames']
    protocol = vis.load_protocol(weights, window=frames)
    reader = Reader(protocol, weights, frame_size)
    clip = vis_inputs.read_input(str(path), index, False, reader, frame_size, reader.list_joints)
    bounds, probabilities = vis.clip_windows(protocol, clip, window=frames, stride=frames)
    assert bounds == [(0, frames)]  # one window: the whole recording
    by_label = np.array([e['prob'] for e in sorted(line['top_k'], key=lambda e: e['label'])])
    np.testing.assert_allclose(probabilities[0], by_label, rtol=1e-5, atol=1e-7)
    assert int(np.argmax(probabilities[0])) == line['top_k'][0]['label']
    assert by_label.max() - by_label.min() > 0.05  # responsive: the input shows in the probabilities
    labels = vis.drawn_labels(protocol, clip, frames, frames)
    assert labels[0][0].startswith(f'1. {line["top_k"][0]["action"]}  ')
    # and through the command line, a few frames drawn
    out = tmp_path / 'c.gif'
    assert vis.main(['--skeleton', str(path), '--weights', weights, '--window', str(frames), '--stride',
                     str(frames), '--frames', '0:2', '--out', str(out)] + size_flags
                    + (['--index', str(index)] if index is not None else [])) == 0
    assert _written(out) == [True, True]
