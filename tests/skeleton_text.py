"""NTU .skeleton files cut and joined by frames, as text: recordings of chosen frames for the predict tests.

A file is its frame count, then per frame the body count and per body an info line, the joint count and one
line per joint (docs/reference.md section 1).
"""


def frames_of(path):
    """The frames of a .skeleton file, each the list of its lines."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    frames, i = [], 1
    for _ in range(int(lines[0])):
        end = i + 1
        for _ in range(int(lines[i])):  # bodies: info line, joint count, joints
            end += 2 + int(lines[end + 1])
        frames.append(lines[i:end])
        i = end
    assert i == len(lines), f'{path}: {len(lines) - i} lines after the last frame'
    return frames


def write_frames(path, frames):
    """Write frames (lists of lines, as frames_of gives them) as one .skeleton file; returns the path."""
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join([str(len(frames))] + [line for frame in frames for line in frame]) + '\n')
    return path
