"""Kinetics-skeleton: ST-GCN's per-video OpenPose JSON -> (N, 3, 300, 18, 2) float32 .npy of (x, y, score).

    python data_gen/gen_kinetics_data.py --data-path data/kinetics-skeleton --out-folder data/kinetics \
        [--parts train val] [--on-error fail|skip]

reads {data-path}/kinetics_{part}/*.json and {data-path}/kinetics_{part}_label.json and writes, per part,
{out}/{part}_data_joint.npy, {out}/{part}_label.pkl (pickle of (video ids, labels), sorted by id) and
{out}/meta.json; with --on-error skip, bad files are left out and listed in {out}/skipped.txt.

The sample is what the official st-gcn feeder_kinetics builds (tools/kinetics_gendata.py runs that feeder
with window_size 300):
  * a person's slot is its position in its frame's ``skeleton`` list; only the first 5 slots are observed;
  * ``frame_index`` k is written at time step k as given (the files count from 1, so step 0 stays empty);
  * x and y are shifted by -0.5, and zeroed wherever the joint's score is 0;
  * in each frame the slots are sorted by their summed joint score and the two highest kept.
Videos whose label entry says ``has_skeleton: false`` are left out, as the official feeder does. Unlike the
official tool (os.listdir order, names with '.json'), samples are sorted and named by video id, so every
stream's files and score pickles list the same names in the same order.
"""
import argparse
import json
import os
import pathlib
import sys

import numpy as np
from tqdm import tqdm

if __package__ in (None, ''):  # run as a script: make the repository root importable, as gen_joint_data does
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_gen import streaming  # noqa: E402
from storage import files  # noqa: E402

PROG = 'gen_kinetics_data'
NUM_JOINT = 18  # OpenPose COCO keypoints (graphs.openpose)
MAX_FRAME = 300  # Kinetics clips are 10 s at 30 fps
NUM_PERSON_IN = 5  # official: observe the first 5 people listed in a frame...
NUM_PERSON_OUT = 2  # ...and keep the 2 with the highest summed score in each frame
NUM_CLASS = 400
CENTER_SHIFT = 0.5  # OpenPose coordinates are normalised to [0, 1]; the feeder centres them on 0


class KineticsError(ValueError):
    """A bad input file; str() is 'path[:line:col]: [where: ]what', the where a frame_index and person."""


MAX_JSON_BYTES = 256 * 2 ** 20  # far above any Kinetics-skeleton file (the largest are a few MB)


def _load_json(path):
    if not os.path.isfile(path):  # a FIFO or a device would hang the read or never end
        raise KineticsError(f'{path}: not a regular file')
    if os.path.getsize(path) > MAX_JSON_BYTES:
        raise KineticsError(f'{path}: {os.path.getsize(path)} bytes, larger than any skeleton file '
                            f'({MAX_JSON_BYTES} at most)')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except RecursionError:
        raise KineticsError(f'{path}: JSON nested too deeply to be a skeleton file') from None
    except json.JSONDecodeError as e:
        raise KineticsError(f'{path}:{e.lineno}:{e.colno}: malformed JSON: {e.msg}') from None
    except UnicodeDecodeError as e:
        raise KineticsError(f'{path}: not UTF-8 text ({e.reason} at byte {e.start})') from None
    except OSError as e:
        raise KineticsError(f'{path}: cannot read ({e.strerror})') from None


def _check_values(person, key, count, path, t, m):
    """person[key], which must be a list of ``count`` numbers (finiteness is checked per file, at once)."""
    where = f'{path}: frame_index {t}: person {m}'
    if not isinstance(person, dict) or key not in person:
        raise KineticsError(f'{where}: missing key "{key}"')
    raw = person[key]
    if not isinstance(raw, list) or len(raw) != count:
        size = len(raw) if isinstance(raw, list) else type(raw).__name__
        raise KineticsError(f'{where}: "{key}" has {size} values, expected {count}')
    if not set(map(type, raw)) <= {int, float}:  # bools and quoted numbers are not coordinates
        raise KineticsError(f'{where}: "{key}" holds a value that is not a number')
    return raw


def read_clip(path, num_person_in=NUM_PERSON_IN, max_frame=MAX_FRAME):
    """Parse one video's JSON, every person checked, the first ``num_person_in`` of each frame kept.

    Returns (data, label_index); label_index is None when the file does not carry one.

    Shape:
        data: (3, max_frame, 18, num_person_in) float64, channels (x, y, score) as stored, zero where absent.
    """
    video = _load_json(path)
    if not isinstance(video, dict) or not isinstance(video.get('data'), list):
        raise KineticsError(f'{path}: expected an object with a "data" list of frames')
    # Every person of the file is gathered first and converted in one call: per-person numpy calls would
    # cost more than parsing the JSON.
    poses, scores, slots = [], [], []  # slots: (frame_index, position in the frame) of each person
    for position, frame in enumerate(video['data']):
        if not isinstance(frame, dict) or 'frame_index' not in frame or 'skeleton' not in frame:
            raise KineticsError(f'{path}: data[{position}]: expected keys "frame_index" and "skeleton"')
        t = frame['frame_index']
        if type(t) is not int or not 0 <= t < max_frame:
            raise KineticsError(f'{path}: data[{position}]: frame_index {t!r} is not an integer in '
                                f'[0, {max_frame}) (frame k is stored at time step k)')
        if not isinstance(frame['skeleton'], list):
            raise KineticsError(f'{path}: frame_index {t}: "skeleton" is not a list')
        for m, person in enumerate(frame['skeleton']):
            poses.append(_check_values(person, 'pose', 2 * NUM_JOINT, path, t, m))
            scores.append(_check_values(person, 'score', NUM_JOINT, path, t, m))
            slots.append((t, m))
    data = np.zeros((3, max_frame, NUM_JOINT, num_person_in))
    if slots:
        pose = np.asarray(poses, dtype=np.float64).reshape(-1, NUM_JOINT, 2)  # (P, V, xy)
        score = np.asarray(scores, dtype=np.float64)  # (P, V)
        # Checked after the float32 cast the sample is stored with: 1e308 is finite in float64, not in float32.
        finite = (np.isfinite(pose.astype(np.float32)).all(axis=(1, 2))
                  & np.isfinite(score.astype(np.float32)).all(axis=1))  # (P,)
        if not finite.all():
            t, m = slots[int(np.argmin(finite))]
            raise KineticsError(f'{path}: frame_index {t}: person {m}: "pose" or "score" holds NaN, infinity or '
                                'a value beyond float32')
        t, m = np.asarray(slots).T  # (P,) each
        observed = m < num_person_in
        t, m = t[observed], m[observed]
        # Listed order: a frame given twice keeps its last listing, as the official loop's overwrites do.
        data[0, t, :, m] = pose[observed, :, 0]
        data[1, t, :, m] = pose[observed, :, 1]
        data[2, t, :, m] = score[observed]
    label = video.get('label_index')
    if label is not None and type(label) is not int:
        raise KineticsError(f'{path}: "label_index" is {label!r}, not an integer')
    return data, label


def select_people(data, num_person_out=NUM_PERSON_OUT):
    """Centre x, y and keep the ``num_person_out`` most confident people of each frame (official feeder).

    Shape:
        Input: (3, T, V, M_in) float64 from read_clip.  Output: (3, T, V, num_person_out) float32.
    """
    data = data.copy()
    data[0:2] -= CENTER_SHIFT
    data[0:2][:, data[2] == 0] = 0  # undetected joints (score 0) sit at the origin, not at -0.5
    # Per frame, slots by decreasing summed joint score. The official argsort (default kind) sorts 5 keys by
    # insertion sort, which is stable: ties keep the listed order, as kind='stable' does.
    order = np.argsort(-data[2].sum(axis=1), axis=1, kind='stable')  # (T, M_in)
    data = np.take_along_axis(data, order[None, :, None, :], axis=3)  # (3, T, V, M_in), sorted per frame
    return data[..., :num_person_out].astype(np.float32)


def read_labels(path):
    """{video_id: entry} from a kinetics_{part}_label.json; each entry checked for the keys used."""
    labels = _load_json(path)
    if not isinstance(labels, dict):
        raise KineticsError(f'{path}: expected an object {{video_id: {{"has_skeleton", "label_index"}}}}')
    for video_id, entry in labels.items():
        for key in ('has_skeleton', 'label_index'):
            if not isinstance(entry, dict) or key not in entry:
                raise KineticsError(f'{path}: entry "{video_id}": missing key "{key}"')
        if not isinstance(entry['has_skeleton'], bool):  # "no" would count as true
            raise KineticsError(f'{path}: entry "{video_id}": has_skeleton {entry["has_skeleton"]!r} is not true '
                                'or false')
        if type(entry['label_index']) is not int or not 0 <= entry['label_index'] < NUM_CLASS:
            raise KineticsError(f'{path}: entry "{video_id}": label_index {entry["label_index"]!r} is not '
                                f'in [0, {NUM_CLASS})')
    return labels


def clip_to_sample(path, label_entry, label_path):
    """One video file and its label entry -> (float32 (3, 300, 18, 2) sample, label); KineticsError if bad."""
    if label_entry is None:
        raise KineticsError(f'{path}: no entry "{path.stem}" in {label_path}')
    data, label = read_clip(path)
    if label is not None and label != label_entry['label_index']:
        raise KineticsError(f'{path}: label_index {label} differs from {label_entry["label_index"]} in {label_path}')
    return select_people(data), label_entry['label_index']


def gendata(data_dir, label_path, out_dir, part, skipped=None):
    """Convert one part; returns its meta.json entry.

    KineticsError on the first bad input, unless ``skipped`` is a list: then bad inputs are left out and
    their messages appended to it.
    """
    labels = read_labels(label_path)
    clips = sorted(pathlib.Path(data_dir).glob('*.json'))
    if not clips:
        raise KineticsError(f'{data_dir}: no .json files')
    # A file without a label entry stays in, to be reported as bad input.
    has_skeleton = [labels.get(f.stem, {}).get('has_skeleton', True) for f in clips]
    num_no_skeleton = has_skeleton.count(False)
    clips = [f for f, keep in zip(clips, has_skeleton) if keep]
    if not clips:
        raise KineticsError(f'{label_path}: no video of {data_dir} has a skeleton')
    names, label_list = [], []

    def samples():
        for path in tqdm(clips, desc=f'{part}: {data_dir}', unit='video', disable=None):
            try:
                sample, label = clip_to_sample(path, labels.get(path.stem), label_path)
            except KineticsError as e:
                if skipped is None:
                    raise KineticsError(f'{e} (--on-error skip would leave this file out)') from None
                skipped.append(str(e))
                continue
            names.append(path.stem)
            label_list.append(label)
            yield sample

    out_dir = pathlib.Path(out_dir)
    npy = out_dir / files.data_file(part)
    count = streaming.write_rows(samples(), len(clips), npy, (3, MAX_FRAME, NUM_JOINT, NUM_PERSON_OUT))
    if count == 0:
        npy.unlink()
        raise KineticsError(f'{data_dir}: every video was skipped, the last: {skipped[-1]}')
    files.write_pickle((names, label_list), out_dir / files.label_file(part))
    return {'num_samples': count, 'num_skipped': len(clips) - count, 'num_no_skeleton': num_no_skeleton}


def write_folder_files(out_dir, parts, skipped):
    """meta.json for the parts of this run, as gen_joint_data writes it, and skipped.txt in skip mode
    (removed in fail mode, where nothing can have been skipped)."""
    out_dir = pathlib.Path(out_dir)
    meta = {'dataset': 'kinetics', 'data_mode': 'kinetics', 'num_class': NUM_CLASS, 'max_frame': MAX_FRAME,
            'layout': 'openpose', 'num_person_in': NUM_PERSON_IN, 'num_person_out': NUM_PERSON_OUT,
            'parts': parts}
    files.write_meta(meta, out_dir)
    if skipped is not None:
        files.write_text(skipped, out_dir / 'skipped.txt')
    elif (out_dir / 'skipped.txt').exists():
        (out_dir / 'skipped.txt').unlink()


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    parser.add_argument('--data-path', '--data_path', type=pathlib.Path, required=True,
                        help='folder with kinetics_{part}/ and kinetics_{part}_label.json')
    parser.add_argument('--out-folder', '--out_folder', type=pathlib.Path, required=True)
    parser.add_argument('--parts', '--part', nargs='+', default=['train', 'val'])
    parser.add_argument('--on-error', choices=['fail', 'skip'], default='fail',
                        help='fail: stop at the first bad file; skip: leave it out and list it in {out}/skipped.txt')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    inputs = {part: (args.data_path / f'kinetics_{part}', args.data_path / f'kinetics_{part}_label.json')
              for part in args.parts}
    missing = [path for pair in inputs.values() for path in pair if not path.exists()]
    if missing:
        print(f'{PROG}: error: {missing[0]}: no such file or folder', file=sys.stderr)
        return 2
    if args.out_folder.exists() and not args.out_folder.is_dir():
        print(f'{PROG}: error: --out-folder {args.out_folder}: exists and is not a folder', file=sys.stderr)
        return 2
    args.out_folder.mkdir(parents=True, exist_ok=True)
    files.remove_stale_temporaries(args.out_folder)
    parts, skipped = {}, ([] if args.on_error == 'skip' else None)
    files.invalidate_meta(args.out_folder)  # rewritten below for the parts converted; never left over a mix
    try:
        for part, (data_dir, label_path) in inputs.items():
            parts[part] = gendata(data_dir, label_path, args.out_folder, part, skipped)
            print(f'{part}: {parts[part]["num_samples"]} samples, {parts[part]["num_skipped"]} skipped, '
                  f'{parts[part]["num_no_skeleton"]} without skeleton -> {args.out_folder}')
    except KineticsError as e:
        print(f'{PROG}: error: {e}', file=sys.stderr)
        return 2
    finally:
        if parts:  # the parts converted before a failure are complete and usable
            write_folder_files(args.out_folder, parts, skipped)
    return 0


if __name__ == '__main__':
    sys.exit(main())
