"""Fast, strict reader for NTU RGB+D `.skeleton` files (docs/reference.md section 1).

The file is parsed in one go: numpy finds line and token boundaries on the raw bytes, and `np.fromstring`
converts the x y z fields of all joint lines in one C call. Python only walks the frame and body headers
(a few hundred steps per file), never individual values. Every structural fact is checked, so a malformed
file raises `SkeletonError` naming the line instead of silently shifting every later joint.
"""
import dataclasses
import functools
import os

import numpy as np

NUM_JOINT = 25  # Kinect v2 joints per body
# The largest NTU RGB+D 120 file is about 1.5 MB (4 bodies, 300 frames): anything far larger is not one.
MAX_FILE_BYTES = 64 * 2 ** 20
# bodyID clipedEdges handLeftConfidence handLeftState handRightConfidence handRightState isRestricted leanX
# leanY trackingState
BODY_FIELDS = 10
JOINT_FIELDS = 12  # x y z depthX depthY colorX colorY orientation{W,X,Y,Z} trackingState; x y z come first
BODY_LINES = 2 + NUM_JOINT  # body line, joint count, joint lines


def _unexpected_bytes(b):
    """Bytes that are neither part of a number (digits + - . e E) nor a separator (space tab CR LF).

    Shape: b (n,) uint8 -> (n,) bool.
    """
    bad = (b > ord('9')) & (b != ord('e')) & (b != ord('E'))
    bad |= (b < ord('0')) & (b != ord('+')) & (b != ord('-')) & (b != ord('.'))
    return bad & (b != ord(' ')) & (b != ord('\t')) & (b != ord('\r')) & (b != ord('\n'))


class SkeletonError(ValueError):
    """A malformed skeleton file; str() is 'path:line: expected X, found Y' (line is 1-based)."""

    def __init__(self, path, line, msg):
        self.path, self.line, self.msg = str(path), line, msg
        super().__init__(f'{path}:{line}: {msg}')


@dataclasses.dataclass(frozen=True)
class SkeletonData:
    """One parsed file.

    Shape:
        body_counts: (T,) int64, bodies listed in each frame (may exceed max_body).
        body_ids: T lists of Python ints, the IDs of the bodies kept in xyz (they exceed float64 precision).
        xyz: (T, max_body, 25, 3) float64, camera-space metres, bodies in the order listed in the frame,
             zero where a frame lists fewer bodies. float64 because the reference selects bodies by an
             energy computed on float64 coordinates; float32 would change near-ties.
    """
    num_frames: int
    body_counts: np.ndarray
    body_ids: list
    xyz: np.ndarray


class _Tokens:
    """Line and token layout of a whole file, found with numpy on the raw bytes.

    Only the values the reader needs (x y z of the kept bodies) are converted to floats; every other
    field is checked for its count and its characters (digits, sign, point, exponent: so 'nan' is rejected
    anywhere), and header integers are read with int() as the reference reader does.
    """

    def __init__(self, path, raw):
        self.path, self.raw = path, raw
        b = np.frombuffer(raw, np.uint8)
        self.line_start = np.concatenate(([0], np.flatnonzero(b == ord('\n')) + 1))
        self.num_lines = len(self.line_start)
        unexpected = _unexpected_bytes(b)
        if unexpected.any():
            self._raise_bad_token(int(np.argmax(unexpected)))
        space = b <= 32
        starts = ~space
        starts[1:] &= space[:-1]
        self.token_pos = np.flatnonzero(starts)
        self.first = np.searchsorted(self.token_pos, self.line_start)  # index of each line's first token
        self.count = np.diff(self.first, append=len(self.token_pos))
        self.end = int(np.flatnonzero(self.count)[-1]) + 1 if len(self.token_pos) else 0  # start of blank tail

    def text(self, line):
        """The text of 0-based `line`, without its line ending."""
        if line >= self.num_lines:
            return ''
        end = self.line_start[line + 1] - 1 if line + 1 < self.num_lines else len(self.raw)
        return self.raw[self.line_start[line]:end].decode('latin-1').rstrip('\r')

    @functools.cached_property
    def _counts(self):
        return self.count.tolist()  # Python ints: the line-by-line walk indexes them one at a time

    def fields(self, line):
        """Number of tokens on 0-based `line` (0 past the end of the file)."""
        return self._counts[line] if line < self.num_lines else 0

    def fail(self, line, expected):
        """Raise 'expected <expected>, found <what 0-based line holds>'."""
        if line >= self.end:
            line, found = self.end, 'end of file'
        elif self.count[line] == 0:
            found = 'an empty line'
        else:
            found = f'{self.count[line]} fields {self.text(line)!r}'
        raise SkeletonError(self.path, line + 1, f'expected {expected}, found {found}')

    def integer(self, line, what):
        """The single non-negative integer on 0-based `line`, read with int() like the reference."""
        if self.fields(line) != 1:
            self.fail(line, f'1 field ({what})')
        end = self.line_start[line + 1] if line + 1 < self.num_lines else None
        token = self.raw[self.line_start[line]:end].strip()
        if not token.isdigit():
            raise SkeletonError(self.path, line + 1,
                                f'expected {what} as a non-negative integer, found {token.decode("latin-1")!r}')
        return int(token)

    def first_three(self, lines):
        """Float values of the first three tokens of each line (lines have more than three tokens).

        The bytes from each line's first token to its fourth are gathered and converted in one C call.
        Shape: lines (...,) -> (..., 3) float64.
        """
        first = self.first[lines].ravel()
        span_start, span_length = self.token_pos[first], self.token_pos[first + 3] - self.token_pos[first]
        # Byte positions of all spans back to back: span start + offset within the span.
        out_start = np.cumsum(span_length) - span_length
        positions = np.repeat(span_start - out_start, span_length) + np.arange(span_length.sum())
        text = np.frombuffer(self.raw, np.uint8)[positions].tobytes().decode('latin-1')
        try:
            values = np.fromstring(text, sep=' ')
        except ValueError:
            values = None
        if values is None or len(values) != 3 * len(first):
            self._raise_bad_number(np.asarray(lines).ravel())
        return values.reshape(np.shape(lines) + (3,))

    def _raise_bad_token(self, pos):
        # Error path only: report the whole token around the first byte that cannot be part of a number.
        line = int(np.searchsorted(self.line_start, pos, side='right')) - 1
        text, col = self.text(line), pos - self.line_start[line]
        if text[col] <= ' ':
            raise SkeletonError(self.path, line + 1, f'expected a number or a separator, found {text[col]!r}')
        start = text.rfind(' ', 0, col) + 1
        token = text[start:].split(None, 1)[0]
        try:
            float(token)  # 'nan', 'inf': numbers, but not usable ones
            expected = 'a finite number'
        except ValueError:
            expected = 'a number'
        raise SkeletonError(self.path, line + 1, f'expected {expected}, found {token!r}')

    def _raise_bad_number(self, lines):
        # Error path only: find the first x y z token Python cannot read as a number.
        for line in lines.tolist():
            for token in self.text(line).split()[:3]:
                try:
                    float(token)
                except ValueError:
                    raise SkeletonError(self.path, line + 1, f'expected a number, found {token!r}') from None
        raise SkeletonError(self.path, int(lines[0]) + 1, 'expected numbers, found text numpy cannot parse')


def read_skeleton(path, max_body=4):
    """Read one `.skeleton` file, keeping the first `max_body` bodies listed in each frame (None: all of them).

    Raises SkeletonError for a truncated file, a line with the wrong number of fields, a non-numeric value,
    a joint count other than 25, data after the declared frames, zero frames or non-finite coordinates.
    """
    tok = _Tokens(path, _read_bytes(path))
    num_frames = tok.integer(0, 'the frame count')
    if num_frames == 0:
        raise SkeletonError(path, 1, 'expected at least 1 frame, found 0')
    if num_frames > tok.num_lines:
        # Every frame takes a line at least, so the file is cut short (or the count absurd, 10^12): walk only as
        # many frames as it has lines, never allocating num_frames; the walk names the line where it ends.
        _walk_layout(tok, tok.num_lines)
    # The vectorised check accepts exactly the well-formed files; any other goes through the line-by-line
    # walk, which raises at the first line that is wrong.
    body_counts, frame, slot, body_line = _check_layout(tok, num_frames) or _walk_layout(tok, num_frames)

    if max_body is None:
        max_body = int(body_counts.max())
    keep = slot < max_body
    frame, slot, body_line = frame[keep], slot[keep], body_line[keep]
    xyz = np.zeros((num_frames, max_body, NUM_JOINT, 3))
    body_ids = [[] for _ in range(num_frames)]
    if len(body_line):
        joint_lines = body_line.reshape(-1, 1) + 2 + np.arange(NUM_JOINT)  # (K, V)
        block = tok.first_three(joint_lines)  # (K, V, 3)
        # Checked after the float32 cast the samples are stored with: 1e300 is finite in float64 only.
        finite = np.isfinite(block.astype(np.float32)).all(-1)
        if not finite.all():
            bad_line = int(joint_lines[~finite][0])
            raise SkeletonError(path, bad_line + 1,
                                f'expected finite x y z, found {" ".join(tok.text(bad_line).split()[:3])!r}')
        xyz[frame, slot] = block
        for t, line in zip(frame.tolist(), body_line.tolist()):
            body_ids[t].append(_body_id(tok, line))
    return SkeletonData(num_frames, body_counts, body_ids, xyz)


def _check_layout(tok, num_frames):
    """The layout of a well-formed file, checked with whole-array operations; None if anything is off.

    Returns (body count per frame (T,), then per body listed: frame, slot in its frame, 0-based body line).
    A well-formed file is: the frame count, then per frame a body count and per body a 10-field line, the
    joint count 25 and 25 lines of 12 fields, and nothing after. Single-field lines that do not follow a
    body line are the body counts; from their values the line of every body follows.
    """
    count = tok.count[:tok.end]
    count_lines = np.flatnonzero((count[1:] == 1) & (count[:-1] != BODY_FIELDS)) + 1
    if len(count_lines) != num_frames:
        return None
    starts = tok.line_start
    try:
        body_counts = np.array([int(tok.raw[starts[i]:starts[i + 1]]) for i in count_lines.tolist()], np.int64)
    except ValueError:
        return None
    frame_lines = 1 + BODY_LINES * body_counts  # lines of each frame
    if body_counts.min() < 0 or 1 + frame_lines.sum() != tok.end:
        return None
    if not (count_lines == 1 + np.cumsum(frame_lines) - frame_lines).all():
        return None
    frame = np.repeat(np.arange(num_frames), body_counts)  # (B,)
    slot = np.arange(len(frame)) - np.repeat(np.cumsum(body_counts) - body_counts, body_counts)
    body_line = count_lines[frame] + 1 + BODY_LINES * slot
    joint_count_pos = tok.token_pos[tok.first[body_line + 1]]
    b = np.frombuffer(tok.raw, np.uint8)
    joint_lines = body_line.reshape(-1, 1) + 2 + np.arange(NUM_JOINT)  # (B, V)
    if not ((count[body_line] == BODY_FIELDS).all() and (count[body_line + 1] == 1).all()
            and (b[joint_count_pos] == ord('2')).all() and (b[joint_count_pos + 1] == ord('5')).all()
            and (b[joint_count_pos + 2] <= 32).all() and (count[joint_lines] == JOINT_FIELDS).all()):
        return None
    return body_counts, frame, slot, body_line


def _walk_layout(tok, num_frames):
    """The layout, line by line as the reference reads it; raises SkeletonError at the first bad line."""
    body_counts = np.zeros(num_frames, np.int64)
    bodies = []  # (frame, slot, 0-based body line)
    line = 1
    for t in range(num_frames):
        body_counts[t] = tok.integer(line, f'the body count of frame {t}')
        line += 1
        for m in range(body_counts[t]):
            if tok.fields(line) != BODY_FIELDS:
                tok.fail(line, f'{BODY_FIELDS} body fields (frame {t}, body {m})')
            num_joint = tok.integer(line + 1, f'the joint count of frame {t}, body {m}')
            if num_joint != NUM_JOINT:
                raise SkeletonError(tok.path, line + 2, f'expected {NUM_JOINT} joints, found {num_joint}')
            for j in range(NUM_JOINT):
                if tok.fields(line + 2 + j) != JOINT_FIELDS:
                    tok.fail(line + 2 + j, f'{JOINT_FIELDS} joint fields (frame {t}, body {m}, joint {j})')
            bodies.append((t, m, line))
            line += BODY_LINES
    if line < tok.end:
        extra = line + int(np.argmax(tok.count[line:] > 0))
        tok.fail(extra, f'end of file after the {num_frames} declared frames')
    frame, slot, body_line = (np.asarray(c, np.int64).reshape(-1) for c in zip(*bodies)) if bodies else \
        (np.zeros(0, np.int64),) * 3
    return body_counts, frame, slot, body_line


def _read_bytes(path):
    """The file's bytes; only a regular file of a plausible size is read (a FIFO or /dev/zero would hang or
    exhaust memory)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SkeletonError(path, 1, 'a regular .skeleton file, found a special file or folder')
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise SkeletonError(path, 1, f'a .skeleton file of at most {MAX_FILE_BYTES} bytes, found {size}')
    with open(path, 'rb') as f:
        return f.read()


def _body_id(tok, line):
    token = tok.raw[tok.line_start[line]:tok.token_pos[tok.first[line] + 1]].strip()
    try:
        return int(token)
    except ValueError:
        raise SkeletonError(tok.path, line + 1,
                            f'expected an integer body ID, found {token.decode("latin-1")!r}') from None
