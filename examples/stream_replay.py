"""Replay a recording frame by frame through serving.StreamingRecognizer and print each window's top-1, beside
what the batch call serving.windows.window_predictions gives for the same file (they are equal).

    python examples/stream_replay.py --weights W --input FILE [--window 32] [--stride 8] [--frame-size W H]

FILE is an NTU `.skeleton` file (preprocessed as the weights record) or anything data_gen.pose_readers.read_pose
reads: an OpenPose --write_json folder, a COCO-17 keypoint list, a Kinetics-skeleton JSON. Prints one line per
window, `start-end  label  prob  action`, then the merged segments; exits 2 with `error: ...` on bad input.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

from data_gen.pose_readers import PoseError, read_pose  # noqa: E402
from data_gen.preprocess import skeleton_to_sample  # noqa: E402
from data_gen.skeleton import SkeletonError, read_skeleton  # noqa: E402
from serving import ServingError, StreamingRecognizer  # noqa: E402
from serving.windows import merge_segments, window_predictions  # noqa: E402


def read_recording(path, data_mode, frame_size):
    """Shape: float32 (C, T, V, M), T the recording's own length."""
    if path.endswith('.skeleton'):
        return skeleton_to_sample(path, mode=data_mode, max_frame=read_skeleton(path).num_frames)
    return read_pose(path, frame_size)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--weights', required=True)
    parser.add_argument('--input', required=True)
    parser.add_argument('--window', type=int, default=32)
    parser.add_argument('--stride', type=int, default=8)
    parser.add_argument('--frame-size', type=float, nargs=2, metavar=('WIDTH', 'HEIGHT'))
    args = parser.parse_args(argv)
    try:
        stream = StreamingRecognizer(args.weights, window=args.window, stride=args.stride)
        sample = read_recording(args.input, stream.model.meta['data_mode'], args.frame_size)
        streamed = [p for p in (stream.push(sample[:, t]) for t in range(sample.shape[1])) if p is not None]
        streamed += [p for p in [stream.flush()] if p is not None]
        batch = window_predictions(stream.model, sample, args.window, args.stride, stream.max_frame)
    except (ServingError, PoseError, SkeletonError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    for w in streamed:
        best = w['top_k'][0]
        print(f'{w["start"]:>5}-{w["end"]:<5} {best["label"]:>4}  {best["prob"]:.4f}  {best["action"]}')
    print(f'stream == batch: {streamed == batch}')
    for s in merge_segments(streamed):
        print(f'segment {s["start"]}-{s["end"]}: {s["label"]} {s["action"]} ({s["num_windows"]} windows)')
    return 0 if streamed == batch else 1


if __name__ == '__main__':
    sys.exit(main())
