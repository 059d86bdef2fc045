"""A user's action names (--class-names) in a text file -> a list of str, every error naming the file and line.

    drink water
    wave hand
    ...

UTF-8, one name per line in label order (line 1 names label 0); whitespace around a name is stripped. A blank
line is an error, not skipped: a forgotten name would shift every later one onto the wrong label.
"""
import os

from storage.files import StorageError

MAX_NAMES_BYTES = 1 << 20  # Kinetics-400's 400 names take 6 kB


def load_class_names(path, num_class=None):
    """The names in the file at `path`, one per label; with num_class, exactly that many. StorageError
    'path:line: ...' (or 'path: ...' for the file as a whole) when the file is not such a list."""
    lines = {}  # name -> its line number
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        name = line.strip()
        if not name:
            raise StorageError(f'{path}:{number}: a blank line; give one name per line, label 0 first')
        if name in lines:
            raise StorageError(f'{path}:{number}: {name!r} repeats line {lines[name]}; two labels with one name '
                               'could not be told apart')
        lines[name] = number
    names = list(lines)  # in line order
    if not names:
        raise StorageError(f'{path}: holds no names; give one per line, label 0 first')
    if num_class is not None and len(names) != num_class:
        raise StorageError(f'{path}: {len(names)} names for a model of {num_class} classes; give one name per '
                           'class, in label order')
    return names


def _read_text(path):
    if not os.path.isfile(path):  # a FIFO would hang the read
        raise StorageError(f'{path}: not a regular file (give a text file of names, one per line)')
    try:
        with open(path, 'rb') as f:
            raw = f.read(MAX_NAMES_BYTES + 1)
    except OSError as error:
        raise StorageError(f'{path}: cannot read the names file: {error.strerror}') from None
    if len(raw) > MAX_NAMES_BYTES:
        raise StorageError(f'{path}: larger than any names file ({MAX_NAMES_BYTES} bytes at most)')
    try:
        return raw.decode('utf-8-sig')  # a byte-order mark (Windows editors) is not part of the first name
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b'\n') + 1
        raise StorageError(f'{path}:{line}: not UTF-8 text') from None
