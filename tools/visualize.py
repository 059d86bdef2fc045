"""Render a skeleton sequence as a GIF or MP4, optionally with a model's top-3 actions over time.

    python tools/visualize.py --skeleton S001C001P001R001A001.skeleton [--out clip.gif|clip.mp4]
        [--azimuth A --elevation E] [--after-preprocess] [--frames START:END] [--weights W [--num-clips N]]
        [--layout-file my_layout.yaml] [--frame-size WIDTH HEIGHT]
    python tools/visualize.py --skeleton openpose_json/ --frame-size 1280 720 ...
    python tools/visualize.py --skeleton alphapose-results.json --frame-size 1280 720 ...
    python tools/visualize.py --skeleton kinetics_val/VIDEO.json ...
    python tools/visualize.py --skeleton data/ntu/xsub/val_data_joint.npy --index K ...
    python tools/visualize.py --skeleton data/nturgbd/ntu60_3danno.pkl --index K ...

Inputs (tools/visualize_inputs.py), every one `main.py --phase predict` reads, told apart as it tells them:
  * NTU `.skeleton` (3D, Kinect camera metres): the first two bodies listed per frame (the official 'raw'
    sample), or with --after-preprocess the sample of the data mode the model is trained on (--weights'
    data_mode; 'prenorm' without weights: 2s-AGCN's body selection, centring and rotation). With PYSKL weights,
    ntu_preproc's tracks, as the model reads them.
  * OpenPose --write_json folders (BODY_25 mapped to the 18 joints of layout openpose, or COCO-18) and
    COCO-style keypoint lists (COCO-17, or the joints of --layout-file's or the weights' layout), read by
    data_gen/pose_readers.py: drawn in the estimator's pixels within the frame (--frame-size where the files
    do not record it, its border in grey), the two most confident people of each frame; with
    --after-preprocess the model's input (x / W - 0.5 centred, or PreNormalize2D for PYSKL weights) in the
    square the model sees.
  * Kinetics-skeleton `.json` (2D OpenPose, x y in [0, 1], score; told from a COCO-style list by its content):
    every person of the file's first 5 slots as stored, or with --after-preprocess the two most confident
    per frame, centred (gen_kinetics_data).
  * `.npy` of stored samples (N, C, T, V, M): sample --index K, drawn as stored (already preprocessed); its
    data mode comes from the meta.json beside it.
  * PYSKL annotation `.pkl`: annotation --index K of its 'annotations' list. 3D keypoints (NTU, Kinect camera
    space) are projected as NTU files are, or with --after-preprocess after PreNormalize3D; 2D ones (COCO 17,
    OpenPose 18, score 0 missing) are drawn in the image (img_shape, its border in grey), or after
    PreNormalize2D in its [-1, 1] square.
Bones are the edges of --layout-file's layout, else of the layout stored with --weights, else of the input's
own (NTU files: ntu-rgb+d, Kinetics and OpenPose: openpose, COCO lists: coco, PYSKL: ntu-rgb+d-pyskl, coco or
openpose); an input whose joint count no shipped layout has needs one of the first two.
3D joints are drawn by an orthographic projection: azimuth turns the view about the vertical axis, elevation
tilts it (degrees). At 0, 0 a raw NTU sample is seen from the Kinect (x right, y up) and a pre-normalised one
from the front of the person (x, the shoulder line, right; z, the spine, up).

With --weights, a WINDOW-frame window slides over the recording STRIDE frames at a time and each frame shows
the top-3 of the mean softmax of the windows covering it. The recording and its windows are predict's: the
input is read by serving/pose_input.py's Reader and each window classified by serving/protocol.py as `main.py
--phase predict --window` classifies it, a recording of its own (PYSKL weights: --num-clips test clips, PYSKL's
10 by default). A stored .npy sample is the model's input already: its windows are brought to max_frame as
its data mode does (pad_window: prenorm repeats the clip, PYSKL modes take UniformSample's first clip, the
others zero-fill).
"""
import argparse
import io
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from serving import ServingError  # noqa: E402
from storage import files  # noqa: E402
from tools.visualize_inputs import (PYSKL_MODES, VisualizeError, choose_layout, list_joints_of,  # noqa: E402
                                    read_input)

WIDTH, HEIGHT = 480, 480
TOP_BAND = 24  # pixels above the skeleton for the frame number
LABEL_BAND = 66  # pixels below it for the top-3 lines
MARGIN = 16
FONT_SIZE = 15
JOINT_RADIUS = 4
BONE_WIDTH = 3
BACKGROUND = (255, 255, 255)
TEXT_COLOR = (0, 0, 0)
IMAGE_BORDER = (190, 190, 190)  # the image 2D points lie in (PYSKL 2D)
PERSON_COLORS = [(220, 20, 60), (30, 110, 220), (20, 160, 60), (240, 140, 0), (140, 40, 180)]
FPS = 30  # NTU and Kinetics are recorded at 30 frames per second
WINDOW, STRIDE, TOP_K = 32, 8, 3


# ---------------------------------------------------------------------------------------------------------
# Projection


def view_rotation(azimuth, elevation):
    """The rotation turning view coordinates (X right, Y up, Z depth away from the viewer) by azimuth about
    Y, then elevation about X (degrees): elevation 90 looks down from above, so depth runs up the screen.
    Shape: -> (3, 3)."""
    a, e = np.radians(azimuth), np.radians(elevation)
    about_y = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    about_x = np.array([[1, 0, 0], [0, np.cos(e), np.sin(e)], [0, -np.sin(e), np.cos(e)]])
    return about_x @ about_y


# Data axes -> view axes (X right, Y up, Z depth): Kinect camera space is already so; a pre-normalised sample
# (2s-AGCN's prenorm, PYSKL's PreNormalize3D) has its spine on +z, so z goes up and y into depth (a proper
# rotation: det +1).
TO_VIEW = {'raw': np.eye(3), 'prenorm': np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], np.float64)}
TO_VIEW['pyskl3d'] = TO_VIEW['prenorm']
IMAGE_MODES = ('kinetics', 'pyskl2d')  # 2D (x, y, score) in image axes: y grows downward


def project(sample, data_mode, azimuth=0.0, elevation=0.0):
    """Image-plane points (u right, v down) and which joints are present.

    3D samples (data modes raw, prenorm, pyskl3d: x, y, z; a body with every coordinate zero in a frame is
    missing) are rotated into view and projected orthographically; 2D samples (IMAGE_MODES: x, y, score; score
    0 is missing) are taken as they are (image y already grows downward).
    Shape: sample (C, T, V, M) -> points (T, V, M, 2) float64, visible (T, V, M) bool.
    """
    sample = np.asarray(sample, np.float64)
    xyz = sample.transpose(1, 2, 3, 0)  # (T, V, M, C)
    if data_mode in IMAGE_MODES:
        return xyz[..., :2].copy(), xyz[..., 2] > 0
    # Kinect lists all 25 joints of a tracked body, so a body is present or not as a whole; per joint, zero
    # would hide the joint that pre-normalisation centres on the origin.
    visible = np.broadcast_to(np.any(xyz != 0, axis=(1, 3))[:, None, :], xyz.shape[:3])  # (T, V, M)
    view = xyz @ (view_rotation(azimuth, elevation) @ TO_VIEW[data_mode]).T  # (T, V, M, 3)
    return np.stack([view[..., 0], -view[..., 1]], axis=-1), visible


def fit_to_canvas(points, visible, extent=None, width=WIDTH, height=HEIGHT):
    """Scale and shift all frames' points together (one scale, aspect kept) into the drawing area between the
    bands: the box of the visible points fills it, or the box `extent` ((u0, v0), (u1, v1)) when given (an
    image the points lie in).
    Shape: points (T, V, M, 2), visible (T, V, M) -> pixels (T, V, M, 2) float64.
    """
    if extent is None and not visible.any():
        return np.zeros_like(points)
    low, high = (np.asarray(e, np.float64) for e in extent) if extent is not None else (
        points[visible].min(axis=0), points[visible].max(axis=0))  # (2,) each
    scale, centre, target = _canvas_map(low, high, width, height)
    return (points - centre) * scale + target


def extent_box(extent, width=WIDTH, height=HEIGHT):
    """The pixel rectangle [x0, y0, x1, y1] that fit_to_canvas maps `extent` to, rounded (Pillow would
    truncate)."""
    low, high = (np.asarray(e, np.float64) for e in extent)
    scale, centre, target = _canvas_map(low, high, width, height)
    corners = np.concatenate([(low - centre) * scale + target, (high - centre) * scale + target])  # (4,)
    return [int(c) for c in np.round(corners)]


def _canvas_map(low, high, width, height):
    """(scale, centre (2,), target (2,)): pixels = (points - centre) * scale + target."""
    area_w, area_h = width - 2 * MARGIN, height - TOP_BAND - LABEL_BAND - 2 * MARGIN
    scale = min(area_w / max(high[0] - low[0], 1e-9), area_h / max(high[1] - low[1], 1e-9))
    return scale, (low + high) / 2, np.array([width / 2, TOP_BAND + MARGIN + area_h / 2])


# ---------------------------------------------------------------------------------------------------------
# Drawing


def _font():
    return ImageFont.load_default(size=FONT_SIZE)


def draw_frame(pixels, visible, frame_number, edges, label_lines=(), box=None, width=WIDTH, height=HEIGHT):
    """One frame: the image border `box` ([x0, y0, x1, y1] or None), each person's bones (the layout's
    (child, parent) `edges`) and joints in its colour, the frame number, the label lines.

    Shape: pixels (V, M, 2) float, visible (V, M) bool -> an RGB PIL image (width, height).
    """
    image = Image.new('RGB', (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if box is not None:
        draw.rectangle(box, outline=IMAGE_BORDER)
    for m in range(pixels.shape[1]):
        color = PERSON_COLORS[m % len(PERSON_COLORS)]
        for child, parent in edges:
            if visible[child, m] and visible[parent, m]:
                draw.line([tuple(pixels[child, m]), tuple(pixels[parent, m])], fill=color, width=BONE_WIDTH)
        for v in np.flatnonzero(visible[:, m]):
            x, y = pixels[v, m]
            draw.ellipse([x - JOINT_RADIUS, y - JOINT_RADIUS, x + JOINT_RADIUS, y + JOINT_RADIUS], fill=color)
    font = _font()
    draw.text((6, 4), f'frame {frame_number}', fill=TEXT_COLOR, font=font)
    for i, line in enumerate(label_lines):
        draw.text((6, height - LABEL_BAND + 2 + i * (FONT_SIZE + 5)), line, fill=TEXT_COLOR, font=font)
    return image


def render(sample, data_mode, start=0, labels=None, azimuth=0.0, elevation=0.0, layout=None, extent=None):
    """Frames of a sample (C, T, V, M) whose first frame is number `start`; labels: one list of lines per
    frame, or None; layout: the graphs.Layout whose bones are drawn (None: the first shipped one with V
    joints); extent: the image the 2D points lie in (see fit_to_canvas), drawn as a grey border.
    Returns a list of T RGB PIL images."""
    layout = layout or choose_layout(sample.shape[2], None)
    points, visible = project(sample, data_mode, azimuth, elevation)
    pixels = fit_to_canvas(points, visible, extent)  # (T, V, M, 2)
    box = extent_box(extent) if extent is not None else None
    return [draw_frame(pixels[t], visible[t], start + t, layout.edges, labels[t] if labels else (), box)
            for t in range(len(pixels))]


# ---------------------------------------------------------------------------------------------------------
# Predictions over time


def pad_window(clip, max_frame, data_mode):
    """A window of a stored .npy sample brought to the T the model was trained at, as its data mode does:
    'prenorm' repeats the clip (2s-AGCN's pad_null_frames), PYSKL's modes take UniformSample's first test clip
    of max_frame frames (feeders/pyskl_sampling.py: a short window looped, a long one sampled per segment), the
    others zero-fill (the official feeders).

    Shape: clip (C, w, V, M) -> (C, max_frame, V, M) (zero-fill cuts when w > max_frame).
    """
    w = clip.shape[1]
    if data_mode == 'prenorm':
        return clip[:, np.arange(max_frame) % w]
    if data_mode in PYSKL_MODES:
        from feeders.pyskl_sampling import test_clip_indices

        return clip[:, test_clip_indices(w, max_frame, num_clips=1)[0]]
    out = np.zeros(clip.shape[:1] + (max_frame,) + clip.shape[2:], np.float32)
    out[:, :min(w, max_frame)] = clip[:, :max_frame]
    return out


def stored_window_probabilities(model, sample, data_mode, max_frame, window=WINDOW, stride=STRIDE, batch_size=16):
    """Softmax of the model on each sliding window of a stored .npy sample (C, T, V, M), already the model's
    input (predict reads recordings, not stored samples: serving.windows.window_probabilities classifies those).

    Returns bounds [(start, end)] (W pairs, end exclusive), probabilities (W, num_class) float64.
    """
    from scipy.special import softmax

    from serving.windows import window_bounds

    bounds = window_bounds(sample.shape[1], window, stride)
    logits = []
    for i in range(0, len(bounds), batch_size):
        x = np.stack([pad_window(sample[:, s:e], max_frame, data_mode)
                      for s, e in bounds[i:i + batch_size]])  # (B, C, max_frame, V, M)
        logits.append(np.asarray(model(x, training=False), np.float64))
    return bounds, softmax(np.concatenate(logits), axis=-1)


def frame_labels(bounds, probabilities, num_frames, names, k=TOP_K):
    """The top-k lines of each frame: the mean of the probabilities of the windows covering it.

    Shape: bounds [(start, end)] (W pairs, end exclusive), probabilities (W, num_class)
        -> num_frames lists of k strings 'rank. name  p%'.
    """
    from serving.predict import top_k

    probabilities = np.asarray(probabilities, np.float64)
    labels = []
    for t in range(num_frames):
        covering = [i for i, (start, end) in enumerate(bounds) if start <= t < end]
        if not covering:
            labels.append([])
            continue
        best = top_k(probabilities[covering].mean(axis=0), k)
        labels.append([f'{rank}. {names[e["label"]]}  {100 * e["prob"]:.0f}%' for rank, e in enumerate(best, 1)])
    return labels


# ---------------------------------------------------------------------------------------------------------
# The command line


def parse_frames(text, num_frames):
    """--frames START:END (either may be empty, END exclusive) -> (start, end) within the clip."""
    try:
        start, end = text.split(':')
        start = int(start) if start else 0
        end = int(end) if end else num_frames
    except ValueError:
        raise VisualizeError(f'--frames {text}: expected START:END, e.g. 0:64') from None
    if not 0 <= start < min(end, num_frames):
        raise VisualizeError(f'--frames {text}: the clip has frames 0..{num_frames - 1}')
    return start, min(end, num_frames)


# ---------------------------------------------------------------------------------------------------------
# Writing


def write_gif(images, path, fps=FPS):
    buffer = io.BytesIO()
    images[0].save(buffer, format='GIF', save_all=True, append_images=images[1:], duration=round(1000 / fps),
                   loop=0)
    files.write_bytes(buffer.getvalue(), path)


def find_ffmpeg():
    """The ffmpeg binary: imageio-ffmpeg's bundled one (requirements-dev.txt; it honours IMAGEIO_FFMPEG_EXE
    and falls back to the system's), else the ffmpeg on PATH; None when there is neither."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return shutil.which('ffmpeg')
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # it found none
        return shutil.which('ffmpeg')


def _no_ffmpeg(path):
    return VisualizeError(f'--out {path}: MP4 needs ffmpeg: pip install imageio-ffmpeg (it bundles one), or put '
                          'ffmpeg on PATH; or write a .gif')


def write_mp4(images, path, fps=FPS):
    """H.264 (yuv420p, so even width and height) through find_ffmpeg's binary, fed raw RGB frames on stdin."""
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        raise _no_ffmpeg(path)
    width, height = images[0].size
    with files.atomic_path(path, suffix='.mp4') as tmp:
        command = [ffmpeg, '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s',
                   f'{width}x{height}', '-r', str(fps), '-i', '-', '-pix_fmt', 'yuv420p', '-vcodec', 'libx264',
                   str(tmp)]
        proc = subprocess.run(command, input=b''.join(image.tobytes() for image in images), capture_output=True)
        if proc.returncode != 0:
            message = proc.stderr.decode(errors='replace').strip().splitlines()
            raise VisualizeError(f'--out {path}: ffmpeg failed ({message[-1] if message else proc.returncode})')


def main(argv=None):
    parser = argparse.ArgumentParser(prog='tools/visualize.py', description=__doc__.split('\n')[0])
    parser.add_argument('--skeleton', required=True,
                        help='an NTU .skeleton, an OpenPose --write_json folder, a COCO-style keypoint list or a '
                             'Kinetics .json, a .npy of samples or a PYSKL annotation .pkl')
    parser.add_argument('--index', type=int, default=None,
                        help='the sample of a .npy, or the annotation of a .pkl (its place in "annotations")')
    parser.add_argument('--weights', default=None, help='weights to show the top-3 actions over time')
    parser.add_argument('--layout-file', default=None,
                        help='YAML file of the skeleton layout whose bones are drawn (format: storage/layout_file.py)')
    parser.add_argument('--out', default='clip.gif', help='.gif (Pillow) or .mp4 (needs ffmpeg: imageio-ffmpeg)')
    parser.add_argument('--azimuth', type=float, default=0.0, help='degrees about the vertical axis (3D only)')
    parser.add_argument('--elevation', type=float, default=0.0, help='degrees of tilt (3D only)')
    parser.add_argument('--after-preprocess', action='store_true',
                        help="draw the sample after the data mode's preprocessing, as the model sees it")
    parser.add_argument('--frames', default=None, help='START:END, the frames to draw (END exclusive)')
    parser.add_argument('--window', type=int, default=WINDOW, help='frames per prediction window')
    parser.add_argument('--stride', type=int, default=STRIDE, help='frames between prediction windows')
    parser.add_argument('--frame-size', type=int, nargs=2, default=None, metavar=('WIDTH', 'HEIGHT'),
                        help='pixels of the frames of OpenPose folders and COCO-style lists that do not record them')
    parser.add_argument('--num-clips', type=int, default=None,
                        help="PYSKL weights' test clips a window (default PYSKL's 10, as predict)")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except VisualizeError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2


def _run(args):
    suffix = pathlib.Path(args.out).suffix
    if suffix not in ('.gif', '.mp4'):
        raise VisualizeError(f'--out {args.out}: expected a .gif or .mp4 name')
    if suffix == '.mp4' and find_ffmpeg() is None:  # before any work
        raise _no_ffmpeg(args.out)
    if args.window < 1 or args.stride < 1:
        raise VisualizeError('--window and --stride must be >= 1')
    frame_size = _frame_size(args.frame_size)
    protocol = load_protocol(args.weights, args.num_clips, args.window) if args.weights else None
    reader = None
    if protocol is not None:
        from serving.pose_input import Reader

        reader = Reader(protocol, args.weights, frame_size)  # what predict reads of the input, for the labels
    list_joints = reader.list_joints if reader is not None else list_joints_of(args.layout_file)
    clip = read_input(args.skeleton, args.index, args.after_preprocess, reader, frame_size, list_joints)
    model = protocol.model if protocol is not None else None
    layout = choose_layout(clip.drawn.shape[2], clip.layout, args.layout_file, model, args.skeleton)
    labels = drawn_labels(protocol, clip, args.window, args.stride) if protocol is not None else None
    num_frames = clip.drawn.shape[1]
    start, end = parse_frames(args.frames, num_frames) if args.frames else (0, num_frames)
    images = render(clip.drawn[:, start:end], clip.data_mode, start, labels[start:end] if labels else None,
                    args.azimuth, args.elevation, layout, clip.extent)
    (write_mp4 if suffix == '.mp4' else write_gif)(images, args.out)
    print(f'wrote {args.out}: {len(images)} frames {WIDTH}x{HEIGHT}, layout {layout.name}' +
          (f', {clip.note}' if clip.note else '') +
          (f', top-{TOP_K} of {args.window}-frame windows every {args.stride}' if labels else ''))
    return 0


def clip_windows(protocol, clip, window=WINDOW, stride=STRIDE):
    """The windows of a clip and their softmax under the weights' serving.protocol.Protocol.

    A recording (every input predict reads) is classified window by window exactly as `main.py --phase
    predict --window` classifies it (serving.windows.window_probabilities: each window a recording of its own);
    a stored .npy sample, already the model's input, is padded as its data mode is (stored_window_probabilities).
    Returns bounds [(start, end)] over the recording's (or sample's) frames, probabilities (W, num_class) float64.
    """
    if clip.recording is not None:
        from serving.windows import window_probabilities

        try:
            return window_probabilities(protocol, clip.recording.frames, window, stride)
        except ServingError as err:
            raise VisualizeError(str(err)) from None
    model = protocol.model
    takes = (model.config.in_channels, model.num_node, model.config.num_person)
    gives = (clip.drawn.shape[0], clip.drawn.shape[2], clip.drawn.shape[3])
    if takes != gives:
        raise VisualizeError(f'{protocol.source}: the model takes (C, V, M) = {takes}, the input gives {gives}')
    return stored_window_probabilities(model, clip.drawn, protocol.data_mode, protocol.max_frame, window, stride)


def drawn_labels(protocol, clip, window=WINDOW, stride=STRIDE):
    """The top-3 lines of each drawn frame: those of the recording frame it shows (Clip.drawn_frames)."""
    bounds, probabilities = clip_windows(protocol, clip, window, stride)
    num_frames = (clip.recording.frames if clip.recording is not None else clip.drawn).shape[1]
    labels = frame_labels(bounds, probabilities, num_frames, protocol.names)
    shown = clip.drawn_frames if clip.drawn_frames is not None else np.arange(num_frames)  # (num_frames,)
    drawn = [[] for _ in range(clip.drawn.shape[1])]
    for lines, t in zip(labels, shown):
        # -1: a frame PreNormalize3D drops; past the drawing: Kinetics JSON's 300 steps, which PYSKL weights
        # keep, drawn up to the last person only
        if 0 <= t < len(drawn):
            drawn[t] = lines
    return drawn


def _frame_size(given):
    """--frame-size WIDTH HEIGHT as predict takes it (training/config.py), or None."""
    if given is not None and not all(p >= 1 for p in given):
        raise VisualizeError(f'--frame-size {" ".join(map(str, given))}: must be two pixel counts >= 1: width height')
    return tuple(given) if given is not None else None


def load_protocol(weights, num_clips=None, window=WINDOW):
    """The test protocol (serving/protocol.py) predict runs for these weights and --num-clips, checked to take
    windows of `window` frames."""
    from model.weights import WeightsError, load_pretrained
    from serving.protocol import Protocol

    try:
        model = load_pretrained(weights)
    except WeightsError as err:
        raise VisualizeError(str(err)) from None
    try:
        protocol = Protocol(model, num_clips, source=f'--weights {weights}')
        protocol.check_window(window)
    except ServingError as err:
        raise VisualizeError(str(err)) from None
    return protocol


if __name__ == '__main__':
    sys.exit(main())
