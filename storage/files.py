"""The project's on-disk contract: file names, meta.json, the .npy + label pair, and the one atomic writer.

numpy and json only, so every tool (and main.py before TensorFlow starts) can read and write it. The formats
are described in docs/files.md.

- Names: `{part}_data_{stream}.npy` (N, C, T, V, M) float32 beside `{part}_label.pkl` (a pickle of
  (names, labels), 2s-AGCN's layout), and a `meta.json` describing the folder. The official st-gcn tools
  write `{part}_data.npy` for the joint stream; that name is read too.
- meta.json: one reader (`read_meta`, errors name file:line) and one writer (`write_meta`). Keys, all optional
  unless a caller asks for them: see META_SCHEMA.
- Pickles (labels, scores, annotations) are read by `load_pickle`, which refuses any global but numpy's
  arrays: a planted payload stops the load instead of running.
- Every output of the project is written through `atomic_path` / `atomic_open` (a hidden temporary name beside
  the target, renamed when complete) or `atomic_folder` (a whole folder built aside, then swapped in): an
  interrupted run never leaves a truncated file under its final name. The temporary file is made with open(),
  so the output gets the user's umask mode (tempfile.mkstemp's 0600 would carry over to it). A special file
  (/dev/null, a FIFO) given as the output is written directly: renaming over it would replace it.
"""
import contextlib
import errno
import json
import os
import pathlib
import pickle
import re
import shutil
import stat

import numpy as np

META_NAME = 'meta.json'
DATA_INFIX = '_data'
LABEL_SUFFIX = '_label.pkl'
# '{part}_data_{stream}.npy', or the official tools' '{part}_data.npy' (the joint stream).
_DATA_NAME = re.compile(r'(?P<part>.+?)_data(?:_(?P<stream>.+))?\.npy')


class StorageError(ValueError):
    """A file that breaks the on-disk contract; the message names the file (and line) and what is wrong."""


# ---------------------------------------------------------------------------------------------------------
# Names


def data_file(part, stream='joint'):
    """'train', 'bone' -> 'train_data_bone.npy'."""
    return f'{part}_data_{stream}.npy'


def label_file(part):
    """'train' -> 'train_label.pkl'."""
    return f'{part}{LABEL_SUFFIX}'


def parse_data_name(path):
    """(part, stream) of a data file name: 'val_data_bone_motion.npy' -> ('val', 'bone_motion'),
    'val_data.npy' (official tools) -> ('val', 'joint'); any other 'x.npy' -> ('x', None)."""
    name = pathlib.Path(path).name
    match = _DATA_NAME.fullmatch(name)
    if match:
        return match['part'], match['stream'] or 'joint'
    return name.removesuffix('.npy'), None


def default_label_path(data_path):
    """The label pickle beside a data file: '{part}_label.pkl' for '{part}_data[_{stream}].npy'."""
    part, _ = parse_data_name(data_path)
    return pathlib.Path(data_path).with_name(label_file(part))


def stream_name(path):
    """'val_data_bone_motion.npy' -> 'bone_motion': the stream a file holds (its stem for other names)."""
    part, stream = parse_data_name(path)
    return stream or part


# ---------------------------------------------------------------------------------------------------------
# meta.json


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_ints(v):
    return isinstance(v, list) and all(_is_int(d) and d >= 1 for d in v)


# Every key any meta.json of this project holds, with its check. Data folders (gen_joint_data, gen_kinetics_data,
# gen_bone_data, gen_motion_data) write dataset, benchmark, data_mode, max_frame, num_class, layout, parts and
# streams; TFRecord folders (gen_tfrecord_data) num_samples, num_shards, sample_shape, data_mode, max_frame,
# num_class and shards; PYSKL shard folders (gen_tfrecord_data --ann-file) format 'pyskl-shards', kind, num_node,
# num_class, split, num_samples, num_shards, max_person, layout (when one ships for kind and V) and shards;
# export folders format, preset, data_mode, max_frame, num_class, source.
META_SCHEMA = {
    'dataset': (lambda v: isinstance(v, str), 'a string'),
    'benchmark': (lambda v: isinstance(v, str), 'a string'),
    'data_mode': (lambda v: v is None or isinstance(v, str), 'a string or null'),
    'max_frame': (lambda v: v is None or (_is_int(v) and v >= 1), 'an integer >= 1 or null'),
    'num_class': (lambda v: v is None or (_is_int(v) and v >= 1), 'an integer >= 1 or null'),
    'layout': (lambda v: isinstance(v, str), 'a string'),
    'parts': (lambda v: isinstance(v, dict), 'an object'),
    'streams': (lambda v: isinstance(v, dict), 'an object'),
    'num_samples': (lambda v: _is_int(v) and v >= 0, 'an integer >= 0'),
    'num_shards': (lambda v: _is_int(v) and v >= 1, 'an integer >= 1'),
    'sample_shape': (lambda v: _positive_ints(v) and len(v) == 4, 'a list [C, T, V, M] of integers >= 1'),
    'shards': (lambda v: isinstance(v, dict) and all(
        isinstance(s, dict) and _is_int(s.get('num_records')) and _is_int(s.get('num_bytes')) for s in v.values()),
        'an object {file name: {"num_records": int, "num_bytes": int}}'),
    'kind': (lambda v: v in ('2d', '3d'), '"2d" or "3d"'),
    'num_node': (lambda v: _is_int(v) and v >= 1, 'an integer >= 1'),
    'split': (lambda v: isinstance(v, str), 'a string'),
    'max_person': (lambda v: _is_int(v) and v >= 1, 'an integer >= 1'),
    'preset': (lambda v: isinstance(v, str), 'a string'),
    'format': (lambda v: isinstance(v, str), 'a string'),
    'source': (lambda v: isinstance(v, str), 'a string'),
    'class_names': (lambda v: isinstance(v, list) and all(isinstance(n, str) and n for n in v),
                    'a list of non-empty strings'),
    'stream': (lambda v: isinstance(v, str), 'a string'),
}


def meta_path(folder_or_file):
    """The meta.json of a folder, or the one beside a file."""
    path = pathlib.Path(folder_or_file)
    return path / META_NAME if path.is_dir() else path.with_name(META_NAME)


def read_meta(folder_or_file, required=(), missing_ok=True):
    """The meta.json of a folder (or beside a file) as a dict, checked against META_SCHEMA.

    `required` keys must be present. Without a meta.json: {} when missing_ok, else StorageError. Errors name
    the file and, for JSON syntax, the line and column.
    """
    path = meta_path(folder_or_file)
    if not path.is_file():
        if missing_ok:
            return {}
        raise StorageError(f'{path}: no such file')
    try:
        text = path.read_text(encoding='utf-8')
        meta = json.loads(text)
    except UnicodeDecodeError:
        raise StorageError(f'{path}: not a UTF-8 text file') from None
    except json.JSONDecodeError as err:
        raise StorageError(f'{path}:{err.lineno}:{err.colno}: not valid JSON ({err.msg})') from None
    except RecursionError:
        raise StorageError(f'{path}: JSON nested too deeply') from None
    if not isinstance(meta, dict):
        raise StorageError(f'{path}: expected a JSON object, found {type(meta).__name__}')
    for key in required:
        if key not in meta:
            raise StorageError(f'{path}: missing key "{key}"')
    for key, value in meta.items():
        check = META_SCHEMA.get(key)
        if check is not None and not check[0](value):
            raise StorageError(f'{path}:{_line_of(text, key)}: "{key}" must be {check[1]}, found {value!r}')
    return meta


def _line_of(text, key):
    """The line of the first occurrence of `"key":` in a JSON text (1 when not found)."""
    index = text.find(f'"{key}"')
    return text.count('\n', 0, index) + 1 if index >= 0 else 1


def write_meta(meta, folder):
    """Write `meta` as `{folder}/meta.json`, atomically; checked against META_SCHEMA first."""
    for key, value in meta.items():
        check = META_SCHEMA.get(key)
        if check is not None and not check[0](value):
            raise ValueError(f'meta.json "{key}" must be {check[1]}, got {value!r}')
    write_json(meta, pathlib.Path(folder) / META_NAME)


# ---------------------------------------------------------------------------------------------------------
# Pickles: read without running code

# The only globals a data pickle may name: numpy's array and scalar reconstruction (numpy 1.x and 2.x paths)
# and the helpers that protocols 2 and 5 use for bytes and buffers. Everything else a pickle can carry is
# built in (dict, list, tuple, set, str, bytes, int, float, bool, None) and needs no global.
SAFE_GLOBALS = frozenset({
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
    ('_codecs', 'encode'), ('collections', 'OrderedDict'),
    *((module, name) for module in ('builtins', '__builtin__') for name in ('set', 'frozenset', 'complex')),
})


class _DataUnpickler(pickle.Unpickler):
    """pickle.Unpickler that refuses every global outside SAFE_GLOBALS: a planted `os.system` or `eval` stops
    the load instead of running."""

    def find_class(self, module, name):
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'refusing to load {module}.{name}: a data pickle holds only containers, '
                                     'strings, numbers and numpy arrays')


def load_pickle(path):
    """The object in a data pickle (labels, scores, annotations), read without running any code it names.

    Raises StorageError naming the file for anything else (a class, a function, a truncated file).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise StorageError(f'{path}: no such file')
    try:
        with open(path, 'rb') as f:
            return _DataUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
            KeyError, MemoryError, RecursionError) as err:
        raise StorageError(f'{path}: not a data pickle ({_first_line(err)})') from None


# ---------------------------------------------------------------------------------------------------------
# The .npy + label pair


def load_samples(path):
    """Memory-map a stored (N, C, T, V, M) float array, read-only.

    Shape:
        Output: (N, C, T, V, M) memmap.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise StorageError(f'{path}: no such file')
    try:
        data = np.load(path, mmap_mode='r', allow_pickle=False)
    except (ValueError, OSError) as err:  # not a .npy file, or an object array that cannot be mapped
        raise StorageError(f'{path}: not a readable .npy array ({_first_line(err)})') from None
    if data.ndim != 5 or not np.issubdtype(data.dtype, np.floating):
        raise StorageError(f'{path}: expected a float (N, C, T, V, M) array, found {data.dtype} {data.shape}')
    return data


def load_labels(path):
    """(names list of str, labels int64 (N,)) from a label pickle of (names, labels)."""
    obj = load_pickle(path)
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2 and all(hasattr(v, '__len__') for v in obj)):
        raise StorageError(f'{path}: expected a pickle of (names, labels), found {type(obj).__name__}')
    names, labels = obj
    if len(names) != len(labels):
        raise StorageError(f'{path}: {len(names)} names but {len(labels)} labels')
    seen = set()
    for i, (name, label) in enumerate(zip(names, labels)):
        if not isinstance(name, str) or not name:
            raise StorageError(f'{path}: sample {i}: the name {name!r} is not a non-empty string')
        if name in seen:
            raise StorageError(f'{path}: sample {i}: the name {name!r} repeats (scores are kept by name)')
        seen.add(name)
        if not (isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)) and label >= 0):
            raise StorageError(f'{path}: sample {i} ({name}): label {label!r} is not an integer >= 0')
    return list(names), np.asarray(labels, dtype=np.int64).reshape(len(names))


def load_npy_pair(data_path, label_path=None):
    """The data memmap and its (names, labels), checked against each other. label_path defaults to the
    `{part}_label.pkl` beside the data.

    Returns:
        data: memmap (N, C, T, V, M), names: list of N str, labels: int64 (N,)
    """
    label_path = label_path or default_label_path(data_path)
    data = load_samples(data_path)
    names, labels = load_labels(label_path)
    if len(labels) != data.shape[0]:
        raise StorageError(f'{label_path}: {len(labels)} labels but {data_path} holds {data.shape[0]} samples')
    return data, names, labels


# ---------------------------------------------------------------------------------------------------------
# The atomic writer



def read_small_text(path, max_bytes, what, error=StorageError, encoding='utf-8'):
    """The text of the regular file at `path` (a FIFO would hang the read; a huge file is not what was meant).

    what: what the file should be ('a layout file'), for the messages. error: the exception class raised as
    error('path[:line]: what is wrong'); an undecodable byte names its line. encoding 'utf-8-sig' drops a
    byte-order mark.
    """
    if not os.path.isfile(path):
        raise error(f'{path}: not a regular file ({what} is a text file)')
    try:
        with open(path, 'rb') as f:
            raw = f.read(max_bytes + 1)
    except OSError as problem:
        raise error(f'{path}: cannot read {what}: {problem.strerror}') from None
    if len(raw) > max_bytes:
        raise error(f'{path}: larger than any {what.split(" ", 1)[-1]} ({max_bytes} bytes at most)')
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as problem:
        line = raw[:problem.start].count(b'\n') + 1
        raise error(f'{path}:{line}: not UTF-8 text') from None


def temporary_path(path, tag=''):
    """A hidden name beside `path`, unique to this process: '.{name}{tag}.{pid}.tmp'."""
    path = pathlib.Path(path)
    return path.with_name(f'.{path.name}{tag}.{os.getpid()}.tmp')


_TEMPORARY = re.compile(r'\..+\.(?P<pid>\d+)\.tmp(\..*)?')


def remove_stale_temporaries(folder):
    """Delete the temporary files and folders (temporary_path's names) that killed runs left in `folder`: those
    whose process is gone. Returns the names removed."""
    folder = pathlib.Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = _TEMPORARY.fullmatch(path.name)
        if match is None or _process_alive(int(match['pid'])):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def invalidate_meta(folder):
    """Remove `{folder}/meta.json` before an output set in `folder` is replaced file by file, so that a run
    killed between two renames leaves a folder the readers refuse (no meta.json), never a mix under an old one."""
    (pathlib.Path(folder) / META_NAME).unlink(missing_ok=True)


def is_special_file(path):
    """True for an existing path that is neither a regular file nor a folder (/dev/null, a FIFO, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def preallocate(path):
    """Reserve the disk blocks of the file at `path` (a sparse .npy that open_memmap just created), so a full
    disk is an OSError naming the file now, not a SIGBUS in whichever process writes a page into it later."""
    with open(path, 'r+b') as f:
        size = os.fstat(f.fileno()).st_size
        try:
            os.posix_fallocate(f.fileno(), 0, size)
        except OSError as err:
            if err.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without fallocate: write as usual
                return
            raise OSError(err.errno, f'cannot reserve {size} bytes ({err.strerror})', str(path)) from None


@contextlib.contextmanager
def atomic_path(path, suffix=''):
    """Yield a temporary path beside `path`; rename it to `path` on success, delete it on failure.

    `suffix` is appended to the temporary name for libraries that insist on one (Keras: '.weights.h5'). A
    special file is yielded as it is, to be written directly.
    """
    path = pathlib.Path(path)
    if is_special_file(path):
        yield path
        return
    if path.is_dir():
        raise IsADirectoryError(21, 'is a folder, expected a file name', str(path))
    tmp = temporary_path(path).with_name(temporary_path(path).name + suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_open(path, mode='w'):
    """`open(path, mode)` that leaves `path` untouched until the file is complete ('w' text is UTF-8)."""
    with atomic_path(path) as tmp:
        kwargs = {'encoding': 'utf-8', 'newline': ''} if 'b' not in mode else {}
        with open(tmp, mode, **kwargs) as f:
            yield f


def write_bytes(data, path):
    with atomic_open(path, 'wb') as f:
        f.write(data)


def write_text(text, path):
    """Write a string, or an iterable of lines (a newline after each)."""
    with atomic_open(path) as f:
        f.write(text if isinstance(text, str) else ''.join(f'{line}\n' for line in text))


def write_json(obj, path):
    write_text(json.dumps(obj, indent=2) + '\n', path)


def write_pickle(obj, path):
    with atomic_open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


@contextlib.contextmanager
def atomic_folder(dest):
    """Yield an empty temporary folder beside `dest`; when the block completes, it replaces `dest`.

    A rename cannot replace a non-empty folder, so an existing `dest` is first renamed aside and deleted once
    the new folder is in place (a reader briefly finds no `dest`, never a half-written one). On failure the
    temporary folder is removed and `dest` is left as it was.
    """
    dest = pathlib.Path(dest).absolute()
    tmp = temporary_path(dest)
    shutil.rmtree(tmp, ignore_errors=True)  # left by a killed run that had the same pid
    os.makedirs(dest.parent, exist_ok=True)
    os.mkdir(tmp)  # os.mkdir, not tempfile.mkdtemp: the umask's permissions, not mkdtemp's 0700
    try:
        yield tmp
        if not dest.exists():
            os.rename(tmp, dest)
            return
        old = temporary_path(dest, '.old')
        os.rename(dest, old)
        try:
            os.rename(tmp, dest)
        except BaseException:
            os.rename(old, dest)  # keep the previous folder when the new one cannot take its place
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _first_line(error):
    lines = str(error).splitlines()
    return lines[0][:300] if lines else type(error).__name__
