"""A user's action names (--class-names) in a text file -> a list of str, every error naming the file and line.

    drink water
    wave hand
    ...

UTF-8, one name per line in label order (line 1 names label 0); whitespace around a name is stripped. A blank
line is an error, not skipped: a forgotten name would shift every later one onto the wrong label.
"""
from storage.files import StorageError, read_small_text

MAX_NAMES_BYTES = 1 << 20  # Kinetics-400's 400 names take 6 kB


def load_class_names(path, num_class=None):
    """The names in the file at `path`, one per label; with num_class, exactly that many. StorageError
    'path:line: ...' (or 'path: ...' for the file as a whole) when the file is not such a list."""
    lines = {}  # name -> its line number
    for number, line in enumerate(read_small_text(path, MAX_NAMES_BYTES, 'a names file', encoding='utf-8-sig')
                                  .splitlines(), start=1):
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
