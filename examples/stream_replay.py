"""Replay a recording frame by frame through serving.StreamingRecognizer, as a live source would feed it: each
window's prediction as it completes, then the merged segments.

    python examples/stream_replay.py --weights W --input PATH [--window 32] [--stride 8] [--top-k 5] [--json]
        [--frame-size WIDTH HEIGHT] [--num-clips N] [--test-split SPLIT]

PATH is anything `main.py --phase predict` reads (serving/pose_input.py: an NTU .skeleton file, an OpenPose
folder, a COCO-17 list, a Kinetics-skeleton JSON, a PYSKL pickle), read the same way; its frames are then pushed
one at a time. It prints what `main.py --phase predict --window W --stride S` prints for the same file (with
--json: one {"file", "start", "end", "top_k"} line per window, then {"file", "frames", "people", "segments"}),
computed from the stream. Exits 2 with `error: ...` on bad input.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

from serving import ServingError, StreamingRecognizer, load_model  # noqa: E402
from serving.pose_input import Reader, input_paths  # noqa: E402
from serving.predict import show_windows  # noqa: E402
from serving.protocol import Protocol  # noqa: E402


def replay(stream, frames):
    """Every window the stream yields for frames (C, T, V, M) pushed one at a time, the flushed tail included."""
    windows = [w for w in (stream.push(frames[:, t]) for t in range(frames.shape[1])) if w is not None]
    return windows + [w for w in [stream.flush()] if w is not None]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--weights', required=True)
    parser.add_argument('--input', required=True)
    parser.add_argument('--window', type=int, default=32)
    parser.add_argument('--stride', type=int, default=8)
    parser.add_argument('--top-k', type=int, default=5)
    parser.add_argument('--json', action='store_true')
    parser.add_argument('--frame-size', type=int, nargs=2, metavar=('WIDTH', 'HEIGHT'))
    parser.add_argument('--num-clips', type=int, help="PYSKL weights: clips a window (default: PYSKL's 10)")
    parser.add_argument('--test-split', help='PYSKL pickles: the split to replay (default: every sample)')
    parser.add_argument('--class-names', help="text file of action names, one a line (default: the weights')")
    parser.set_defaults(phase='predict', num_class=None)  # what serving.load_model reads of main.py's settings
    args = parser.parse_args(argv)
    try:
        inputs = input_paths([args.input], '--input')
        protocol = Protocol(load_model(args), args.num_clips, source=f'--weights {args.weights}')
        reader = Reader(protocol, args.weights, args.frame_size, args.test_split)
        for kind, path in inputs:
            for recording in reader.read(kind, path):
                stream = StreamingRecognizer(protocol, args.window, args.stride, min(args.top_k, protocol.num_class))
                windows = replay(stream, recording.frames)
                show_windows(recording, windows, args.window, args.stride, args.json)
    except ServingError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
