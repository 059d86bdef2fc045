"""Recognise the actions in pose recordings with trained weights.

    python main.py --phase predict --weights W --skeleton PATH [PATH ...] [--top-k 5] [--json]
        [--window W [--stride S]] [--frame-size WIDTH HEIGHT] [--num-clips N] [--test-split SPLIT]

Each path is read by what it is (serving/pose_input.py: NTU .skeleton files or folders of them, OpenPose
--write_json folders, COCO-17 keypoint lists, Kinetics-skeleton JSON, PYSKL annotation pickles) and each
recording is classified as the weights' recipe tests it (serving/protocol.py, by model.meta['data_mode']):
NTU files exactly as gen_joint_data or gen_pyskl_data stores them, PYSKL weights on --num-clips test clips
(PYSKL's 10 when not given), their softmax probabilities averaged. Labels are 0-based, probabilities those of
the softmax, highest first, actions named as the weights name them (data_gen/class_names.model_class_names).

Whole recordings are classified BATCH_SIZE at a time; per recording a small table (and on stderr how many
people were seen), or with --json one line
    {"file": "S001C001P001R001A001.skeleton", "frames": 103, "people": {"max_per_frame": 1, "kept": 1,
     "crowded_frames": 0}, "top_k": [{"label": 0, "action": "drink water", "prob": 0.93}, ...]}
(a pickle's samples add "sample": frame_dir). With --window, every window of each recording is classified as a
recording of its own (serving/windows.py): a table, or one JSON line per window {"file", "start", "end",
"top_k"} (end exclusive), then the recording's line {"file", "frames", "people", "segments": [{"start", "end",
"label", "action", "num_windows", "mean_prob"}]}, the runs of windows whose top-1 stays the same. Results are
printed as they are classified: when an input cannot be read, the ones before it are printed, nothing of it.
"""
import json
import sys

from serving import ServingError, load_model
from serving.pose_input import Reader, input_paths
from serving.protocol import Protocol, top_k  # noqa: F401 (tools/visualize.py takes top_k from here)
from serving.windows import merge_segments, window_predictions

BATCH_SIZE = 16


def run(cfg):
    """The predict phase: print the top-k actions of every recording under --skeleton. Returns the exit code (0)."""
    inputs = input_paths(cfg.skeleton)
    if cfg.test_split is not None and not any(kind == 'pickle' for kind, _ in inputs):
        raise ServingError(f'--test-split {cfg.test_split}: only PYSKL annotation pickles (.pkl) have splits, and '
                           '--skeleton names none')
    if cfg.stride is not None and cfg.window is None:
        raise ServingError(f'--stride {cfg.stride}: needs --window (the stride is the step between windows)')
    model = load_model(cfg)
    protocol = Protocol(model, cfg.num_clips, source=f'--weights {cfg.weights}')
    if cfg.window is not None:
        protocol.check_window(cfg.window)
    reader = Reader(protocol, cfg.weights, cfg.frame_size, cfg.test_split)
    recordings = (recording for kind, path in inputs for recording in reader.read(kind, path))
    k = min(cfg.top_k, protocol.num_class)
    if cfg.window is None:
        whole_recordings(protocol, recordings, k, cfg.json)
    else:
        windowed_recordings(protocol, recordings, k, cfg.window, cfg.stride or cfg.window, cfg.json)
    return 0


def whole_recordings(protocol, recordings, k, as_json, batch_size=BATCH_SIZE):
    """Print each recording's top-k, classifying batch_size recordings a model call. When an input cannot be
    read, the ones read before it are printed first."""
    recordings, batch = iter(recordings), []
    while True:
        try:
            recording = next(recordings, None)
        except ServingError:
            print_results(protocol, batch, k, as_json)
            raise
        if recording is None:
            break
        batch.append(recording)
        if len(batch) == batch_size:
            print_results(protocol, batch, k, as_json)
            batch = []
    print_results(protocol, batch, k, as_json)


def print_results(protocol, batch, k, as_json):
    """Classify the recordings of one batch (one model call) and print them."""
    if not batch:
        return
    for recording, probabilities in zip(batch, protocol.batch_probabilities([r.frames for r in batch])):
        result = protocol.top_k(probabilities, k)
        if as_json:
            emit({**recording.identity(), 'frames': recording.frames.shape[1], 'people': recording.people,
                  'top_k': result})
        else:
            report_people(recording)
            emit(format_table(recording.name, result))


def windowed_recordings(protocol, recordings, k, window, stride, as_json):
    """Print each recording's windows and their merged segments."""
    for recording in recordings:
        show_windows(recording, window_predictions(protocol, recording.frames, window, stride, k), window, stride,
                     as_json)


def show_windows(recording, windows, window, stride, as_json):
    """One recording's windows, then its segments: JSON lines, or a table (and the people line on stderr)."""
    segments = merge_segments(windows)
    if as_json:
        for w in windows:
            emit({**recording.identity(), **w})
        emit({**recording.identity(), 'frames': recording.frames.shape[1], 'people': recording.people,
              'segments': segments})
    else:
        report_people(recording)
        emit(format_windows(recording, window, stride, windows, segments))


def emit(result):
    """One result on stdout, at once: a dict as a JSON line, or text."""
    print(json.dumps(result) if isinstance(result, dict) else result, flush=True)


def report_people(recording):
    """The people line of text mode, on stderr (stdout keeps the results)."""
    people = recording.people
    most, crowded = people['max_per_frame'], people['crowded_frames']
    line = (f'{recording.name}: {recording.frames.shape[1]} frames, up to {most} '
            f'{"person" if most == 1 else "people"} in a frame, the model sees {people["kept"]}')
    if crowded:
        line += f' ({crowded} frame{"s" if crowded > 1 else ""} had more)'
    print(line, file=sys.stderr, flush=True)


def format_table(name, result):
    """A recording's result as readable lines: its name, then rank, probability, label and action."""
    lines = [name]
    lines += [f'  {rank:>2}. {entry["prob"]:7.2%}  {entry["label"]:>3}  {entry["action"]}'
              for rank, entry in enumerate(result, 1)]
    return '\n'.join(lines)


def format_windows(recording, window, stride, windows, segments):
    """A recording's windows (start-end, then its top-k) and segments as readable lines."""
    lines = [f'{recording.name} ({recording.frames.shape[1]} frames; windows of {window} every {stride})']
    for w in windows:
        best = '  |  '.join(f'{e["prob"]:7.2%} {e["label"]:>3}  {e["action"]}' for e in w['top_k'])
        lines.append(f'  {w["start"]:>6}-{w["end"]:<6} {best}')
    lines.append('  segments:')
    lines += [f'  {s["start"]:>6}-{s["end"]:<6} {s["label"]:>3}  {s["action"]}  ({s["num_windows"]} windows, '
              f'mean {s["mean_prob"]:.2%})' for s in segments]
    return '\n'.join(lines)
