"""Bad input at every entry point, as a hostile user gives it: one `error:` line last on stderr, exit 2, no
traceback, no output that looks complete, nothing of the user's lost, and no pickle that runs code."""
import errno
import json
import os
import pickle
import shutil
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import ensemble
import main
from data_gen import gen_bone_data, gen_joint_data, gen_kinetics_data, gen_tfrecord_data
from model import weights as weights_cli
from model.stgcn import build_model
from model.weights import save_weights
from tests.tiny_data import TINY_MODEL, write_tiny_records

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKELETONS = os.path.join(ROOT, 'tests', 'fixtures', 'ntu', 'skeletons')
KINETICS = os.path.join(ROOT, 'tests', 'fixtures', 'kinetics')


def one_error_line(capsys, code, *fragments, prog=''):
    """The run exited 2 with exactly one `error:` line, last on stderr, holding every fragment."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and lines, err
    assert lines[-1].startswith(f'{prog}error: ') and 'Traceback' not in err, err
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])
    return lines[-1]


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.fixture(scope='module')
def records(tiny_records):
    return tiny_records


def train(tmp_path, *args):
    argv = TINY_MODEL + ['--checkpoint-path', tmp_path / 'ckpt', '--log-dir', tmp_path / 'logs', '--num-epochs', 1,
                         '--steps'] + list(args)
    return main.main([str(a) for a in argv])


# ---------------------------------------------------------------------------------------------------------
# gen_tfrecord_data: what training would choke on later is refused at write time; a failure keeps the old set


def _pair(folder, data=None, names=None, labels=None, num_class=3):
    folder.mkdir(exist_ok=True)
    data = np.random.default_rng(0).standard_normal((6, 3, 8, 25, 2)).astype(np.float32) if data is None else data
    names = [f'S001C001P00{i + 1}R001A001' for i in range(6)] if names is None else names
    labels = [i % 3 for i in range(6)] if labels is None else labels
    np.save(folder / 'train_data_joint.npy', data)
    with open(folder / 'train_label.pkl', 'wb') as f:
        pickle.dump((names, labels), f)
    (folder / 'meta.json').write_text(json.dumps({'data_mode': 'raw', 'num_class': num_class}))
    return folder / 'train_data_joint.npy'


def _convert(data_path, dest):
    return gen_tfrecord_data.main(['--data-path', str(data_path), '--dest-folder', str(dest), '--num-shards', '2'])


@pytest.mark.parametrize('change,fragments', [
    (dict(labels=[0, 1, 2, 0, 1, 3]), ['sample 5 (S001C001P006R001A001): label 3 is >= num_class 3']),
    (dict(labels=[0, 1, -1, 0, 1, 2]), ['sample 2', 'label -1 is not an integer >= 0']),
    (dict(labels=[0, 1, 2.0, 0, 1, 2]), ['sample 2', 'label 2.0 is not an integer >= 0']),
    (dict(labels=[0, '1', 2, 0, 1, 2]), ['sample 1', "label '1' is not an integer"]),
    (dict(labels=[0, None, 2, 0, 1, 2]), ['sample 1', 'label None']),
    (dict(labels=[0, True, 2, 0, 1, 2]), ['sample 1', 'label True']),
    (dict(names=['a', 'b', 'c', 'a', 'e', 'f']), ["sample 3: the name 'a' repeats"]),
    (dict(data=np.zeros((6, 3, 8, 25, 2), bool)), ['expected a float (N, C, T, V, M) array, found bool']),
    (dict(data=np.zeros((6, 3, 8, 25, 2), np.complex64)), ['found complex64']),
    (dict(data=np.concatenate([np.zeros((4, 3, 8, 25, 2)), np.full((1, 3, 8, 25, 2), 1e300),
                               np.zeros((1, 3, 8, 25, 2))])),  # finite in float64, not in float32
     ['sample 4 (S001C001P005R001A001) holds NaN or infinite values (after the float32 cast)']),
])
def test_tfrecord_writer_refuses_what_training_would_choke_on(tmp_path, capsys, change, fragments):
    dest = tmp_path / 'out'
    assert _convert(_pair(tmp_path / 'good'), dest) == 0
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    one_error_line(capsys, _convert(_pair(tmp_path / 'bad', **change), dest), *fragments)
    # The earlier set is untouched: same files, same bytes, its meta.json in place, no temporary files.
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before


def test_label_pickles_never_run_code(tmp_path, capsys):
    marker = tmp_path / 'ran'
    data_path = _pair(tmp_path / 'in')
    with open(tmp_path / 'in' / 'train_label.pkl', 'wb') as f:
        pickle.dump(([f'n{i}' for i in range(6)], [0, 1, 2, 0, 1, Payload(marker)]), f)
    one_error_line(capsys, _convert(data_path, tmp_path / 'out'), 'train_label.pkl: not a data pickle',
                   'refusing to load posix.system')
    assert not marker.exists() and not (tmp_path / 'out').exists()
    scores = tmp_path / 'scores.pkl'
    scores.write_bytes(pickle.dumps({'a': Payload(marker)}))
    code = ensemble.main(['--scores', str(scores), '--label-path', str(tmp_path / 'in' / 'train_label.pkl')])
    one_error_line(capsys, code, 'not a data pickle', prog='ensemble.py: ')
    assert not marker.exists()


def test_a_folder_of_our_shards_without_meta_is_refused(records, tmp_path, capsys):
    partial = tmp_path / 'partial'
    shutil.copytree(records / 'train', partial, ignore=shutil.ignore_patterns('src'))
    (partial / 'meta.json').unlink()  # what a run killed among its renames leaves
    one_error_line(capsys, train(tmp_path, '--train-data-path', partial, '--test-data-path', records / 'val'),
                   'no meta.json beside shards written by data_gen/gen_tfrecord_data.py: the set is incomplete')


def test_stale_temporaries_of_killed_runs_are_removed(tmp_path):
    dest = tmp_path / 'out'
    dest.mkdir()
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True,
                          text=True).stdout.strip()
    (dest / f'.train-0.tfrecord.{dead}.tmp').write_bytes(b'x' * 100)
    (dest / f'.train-0.tfrecord.{os.getpid()}.tmp.keep').write_bytes(b'')  # this live process's: kept
    assert _convert(_pair(tmp_path / 'in'), dest) == 0
    names = sorted(p.name for p in dest.iterdir())
    assert f'.train-0.tfrecord.{dead}.tmp' not in names and f'.train-0.tfrecord.{os.getpid()}.tmp.keep' in names
    assert {'meta.json', 'train-0.tfrecord', 'train-1.tfrecord'} < set(names)


# ---------------------------------------------------------------------------------------------------------
# The 2019 port's shards: no names, no meta.json, the first shards empty


def _port_shards(folder, x, labels, empty_first=2):
    folder.mkdir()
    for k in range(empty_first):
        with tf.io.TFRecordWriter(str(folder / f'train-{k}.tfrecord')):
            pass
    with tf.io.TFRecordWriter(str(folder / f'train-{empty_first}.tfrecord')) as writer:
        for sample, label in zip(x, labels):
            feature = {'features': tf.train.Feature(bytes_list=tf.train.BytesList(
                           value=[tf.io.serialize_tensor(sample).numpy()])),
                       'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def test_port_shards_get_stable_names_and_their_shape_from_a_non_empty_shard(records, tmp_path, capsys):
    x = np.random.default_rng(0).standard_normal((5, 3, 16, 25, 2)).astype(np.float32)
    _port_shards(tmp_path / 'port', x, [0, 1, 2, 0, 1])
    assert train(tmp_path, '--train-data-path', records / 'train', '--test-data-path', tmp_path / 'port',
                 '--save-scores', tmp_path / 'scores.pkl') == 0
    with open(tmp_path / 'scores.pkl', 'rb') as f:
        names = list(pickle.load(f))
    assert sorted(names) == [f'train-2.tfrecord:{i}' for i in range(5)]


# ---------------------------------------------------------------------------------------------------------
# main.py: outputs checked before the first step, corrupted checkpoints named, bad TF_CONFIG, bad weights


@pytest.mark.parametrize('flag,make,fragment', [
    ('--checkpoint-path', lambda p: p.write_text('x'), 'exists and is not a folder'),
    ('--log-dir', lambda p: p.write_text('x'), 'exists and is not a folder'),
    ('--save-scores', lambda p: p.mkdir(), 'is a folder; give the file to write'),
])
def test_output_paths_are_checked_before_the_first_step(records, tmp_path, capsys, flag, make, fragment):
    target = tmp_path / 'target'
    make(target)
    argv = ['--train-data-path', records / 'train', '--test-data-path', records / 'val']
    if flag == '--save-scores':
        argv += ['--save-scores', target]
    code = train(tmp_path, *argv) if flag == '--save-scores' else main.main([str(a) for a in TINY_MODEL + [
        '--checkpoint-path', tmp_path / 'c' if flag != '--checkpoint-path' else target,
        '--log-dir', tmp_path / 'l' if flag != '--log-dir' else target] + argv])
    one_error_line(capsys, code, flag, fragment)
    assert not (tmp_path / 'c').exists()  # nothing trained


def test_corrupted_checkpoints_are_named(records, tmp_path, capsys):
    assert train(tmp_path, '--train-data-path', records / 'train', '--test-data-path', records / 'val') == 0
    index = next((tmp_path / 'ckpt').glob('ckpt-1.index'))
    index.write_bytes(index.read_bytes()[:20])  # truncated
    capsys.readouterr()
    one_error_line(capsys, train(tmp_path, '--train-data-path', records / 'train', '--test-data-path',
                                 records / 'val', '--num-epochs', 2), '--checkpoint-path', 'cannot resume from',
                   'ckpt-1')
    code = main.main(['--phase', 'test', '--weights', str(tmp_path / 'ckpt'), '--test-data-path',
                      str(records / 'val'), '--log-dir', str(tmp_path / 'tl'), '--no-progress'])
    one_error_line(capsys, code, 'ckpt', 'cannot be read')


@pytest.mark.parametrize('tf_config,fragment', [
    ('{not json', 'TF_CONFIG is not valid JSON'),
    ('[1, 2]', 'TF_CONFIG needs "cluster"'),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}', 'TF_CONFIG needs "task"'),
])
def test_malformed_tf_config(records, tmp_path, capsys, monkeypatch, tf_config, fragment):
    monkeypatch.setenv('TF_CONFIG', tf_config)
    one_error_line(capsys, train(tmp_path, '--train-data-path', records / 'train', '--test-data-path',
                                 records / 'val'), fragment)


def test_bad_weight_files(records, tmp_path, capsys):
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'PK\x03\x04' + b'\x00' * 100)  # a zip header over garbage
    code = main.main(['--phase', 'test', '--weights', str(garbage), '--test-data-path', str(records / 'val'),
                      '--log-dir', str(tmp_path / 'l')])
    one_error_line(capsys, code, 'garbage.pth')
    model = build_model('tf2019', num_class=3, channels=(4, 8, 8))
    model.blocks[3].tcn_conv.kernel.assign(np.full(model.blocks[3].tcn_conv.kernel.shape, np.nan, np.float32))
    save_weights(model, tmp_path / 'nan.weights.h5', data_mode='prenorm')
    code = weights_cli.main(['--weights', str(tmp_path / 'nan.weights.h5'), '--out', str(tmp_path / 'o.weights.h5')])
    one_error_line(capsys, code, 'nan.weights.h5', 'holds NaN or infinite values', 'kernel')
    assert not (tmp_path / 'o.weights.h5').exists()


def test_export_never_deletes_what_it_did_not_write(records, tmp_path, capsys, monkeypatch):
    assert train(tmp_path, '--train-data-path', records / 'train', '--test-data-path', records / 'val') == 0
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'notes.txt').write_text('mine')
    for export_dir, fragment in ((work, 'a non-empty folder that is not an earlier export'),
                                 (tmp_path / 'ckpt', 'holds or is inside --weights'),
                                 (tmp_path, 'holds or is inside --weights')):
        code = main.main(['--phase', 'export', '--weights', str(tmp_path / 'ckpt'), '--export-dir', str(export_dir)])
        one_error_line(capsys, code, fragment)
    assert (work / 'notes.txt').read_text() == 'mine' and (tmp_path / 'ckpt' / 'checkpoint').is_file()


# ---------------------------------------------------------------------------------------------------------
# The data tools: special files, values beyond float32, absurd counts, nested JSON, non-boolean flags


def test_special_files_are_written_directly_or_refused(tmp_path, capsys):
    np.save(tmp_path / 'x.npy', np.zeros((2, 3, 4, 25, 2), np.float32))
    code = gen_bone_data.main(['--data-path', str(tmp_path / 'x.npy'), '--out', '/dev/null'])
    one_error_line(capsys, code, '/dev/null: not a regular file name', prog='gen_bone_data: ')
    assert stat.S_ISCHR(os.stat('/dev/null').st_mode)


def _ntu_run(tmp_path, folder, *extra):
    return gen_joint_data.main(['--data-path', str(folder), '--out-folder', str(tmp_path / 'out'), '--workers', '1',
                                '--no-progress', '--benchmark', 'xsub'] + list(extra))


@pytest.mark.parametrize('edit,fragment', [
    # 10^12 frames declared: read as far as the file goes (no allocation of 10^12 rows), naming where it ends
    (lambda lines: ['1000000000000'] + lines[1:], '.skeleton:2886: expected 1 field (the body count of frame 103), '
                                                  'found end of file'),
    (lambda lines: lines[:4] + ['1e300 ' + ' '.join(lines[4].split()[1:])] + lines[5:],  # frame 0's first joint
     '.skeleton:5: expected finite x y z'),
])
def test_ntu_reader_bounds_counts_and_checks_float32(tmp_path, capsys, edit, fragment):
    folder = tmp_path / 'raw'
    folder.mkdir()
    name = 'S001C001P001R001A001.skeleton'
    lines = open(os.path.join(SKELETONS, name)).read().splitlines()
    (folder / name).write_text('\n'.join(edit(lines)) + '\n')
    one_error_line(capsys, _ntu_run(tmp_path, folder, '--ignored-sample-path', ''), name, fragment,
                   prog='gen_joint_data: ')
    assert not (tmp_path / 'out' / 'xsub' / 'meta.json').exists()


def test_ntu_reader_reads_regular_files_only(tmp_path, capsys):
    folder = tmp_path / 'raw'
    folder.mkdir()
    os.mkfifo(folder / 'S001C001P001R001A001.skeleton')  # would block a plain open().read()
    one_error_line(capsys, _ntu_run(tmp_path, folder, '--ignored-sample-path', ''), 'a regular .skeleton file',
                   prog='gen_joint_data: ')


def test_ignored_sample_list_binary_or_dev_null(tmp_path, capsys):
    folder = tmp_path / 'raw'
    folder.mkdir()
    shutil.copy(os.path.join(SKELETONS, 'S001C001P001R001A001.skeleton'), folder)
    (tmp_path / 'list.bin').write_bytes(b'\xff\xfe\x00\x01' * 10)
    one_error_line(capsys, _ntu_run(tmp_path, folder, '--ignored-sample-path', str(tmp_path / 'list.bin')),
                   'list.bin: not a text list of sample names', '--ignored-sample-path', prog='gen_joint_data: ')
    assert _ntu_run(tmp_path, folder, '--ignored-sample-path', '/dev/null', '--part', 'train') == 0  # empty list


def _kinetics_copy(tmp_path, edit_video=None, edit_labels=None):
    root = tmp_path / 'kin'
    shutil.copytree(KINETICS, root)
    video = sorted((root / 'kinetics_val').glob('*.json'))[0]
    if edit_video:
        video.write_text(edit_video(video.read_text()))
    if edit_labels:
        path = root / 'kinetics_val_label.json'
        labels = json.loads(path.read_text())
        edit_labels(labels, video.stem)
        path.write_text(json.dumps(labels))
    return root, video.name


@pytest.mark.parametrize('kind', ['nested', 'float32', 'has_skeleton'])
def test_kinetics_bad_inputs(tmp_path, capsys, kind):
    edits = {'nested': dict(edit_video=lambda text: '[' * 50000 + ']' * 50000),
             'float32': {},  # edited below
             'has_skeleton': dict(edit_labels=lambda labels, stem: labels[stem].update(has_skeleton='no'))}
    root, name = _kinetics_copy(tmp_path, **edits[kind])
    if kind == 'float32':  # a pose value finite in float64, not in float32
        path = root / 'kinetics_val' / name
        video = json.loads(path.read_text())
        frame = next(f for f in video['data'] if f['skeleton'])
        frame['skeleton'][0]['pose'][0] = 1e308
        path.write_text(json.dumps(video))
    fragment = {'nested': 'JSON nested too deeply', 'float32': 'a value beyond float32',
                'has_skeleton': "has_skeleton 'no' is not true or false"}[kind]
    for on_error in ('fail', 'skip'):
        code = gen_kinetics_data.main(['--data-path', str(root), '--out-folder', str(tmp_path / f'out_{on_error}'),
                                       '--parts', 'val', '--on-error', on_error])
        if kind == 'has_skeleton' or on_error == 'fail':
            one_error_line(capsys, code, fragment, prog='gen_kinetics_data: ')
        else:  # skip mode goes on, listing the file
            assert code == 0
            assert fragment in (tmp_path / f'out_{on_error}' / 'skipped.txt').read_text()


def test_ensemble_nan_rows_and_upstream_suffixes(tmp_path, capsys):
    names = ['S001C001P001R001A001', 'S001C001P001R001A002']
    with open(tmp_path / 'labels.pkl', 'wb') as f:  # the upstream tools keep the file suffix
        pickle.dump(([n + '.skeleton' for n in names], [0, 1]), f)
    with open(tmp_path / 'good.pkl', 'wb') as f:
        pickle.dump({names[0]: np.array([2.0, 0.0]), names[1]: np.array([0.0, 2.0])}, f)
    assert ensemble.main(['--scores', str(tmp_path / 'good.pkl'), '--label-path', str(tmp_path / 'labels.pkl'),
                          '--top-k', '1']) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[1:] == ['100.00', '100.00']  # fusion: every sample right
    with open(tmp_path / 'nan.pkl', 'wb') as f:
        pickle.dump({names[0]: np.array([np.nan, 0.0]), names[1]: np.array([0.0, 2.0])}, f)
    code = ensemble.main(['--scores', str(tmp_path / 'nan.pkl'), '--label-path', str(tmp_path / 'labels.pkl'),
                          '--top-k', '1'])
    one_error_line(capsys, code, f'the scores of {names[0]} are NaN or infinite', prog='ensemble.py: ')


def test_a_fresh_process_ends_with_the_error_line(tmp_path):
    """TensorFlow's start-up lines come first; the error line is last, and predict prints no config."""
    proc = subprocess.run([sys.executable, 'main.py', '--phase', 'predict', '--weights', str(tmp_path / 'none'),
                           '--skeleton', os.path.join(SKELETONS, 'S001C001P001R001A001.skeleton')],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and lines[-1].startswith('error: ') and 'none' in lines[-1], proc.stderr
    assert 'config file:' not in proc.stderr and 'Traceback' not in proc.stderr


# ---------------------------------------------------------------------------------------------------------
# A full disk, a worker that dies


def _die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # what SIGBUS on a memmap write into a full disk does to a worker


def test_full_disk_is_named_before_the_work_starts(tmp_path, capsys, monkeypatch):
    folder = tmp_path / 'raw'
    folder.mkdir()
    shutil.copy(os.path.join(SKELETONS, 'S001C001P001R001A001.skeleton'), folder)

    def no_space(fd, offset, length):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'posix_fallocate', no_space)
    line = one_error_line(capsys, _ntu_run(tmp_path, folder, '--ignored-sample-path', ''),
                          'train_data_joint.npy', 'cannot reserve', 'No space left on device', prog='gen_joint_data: ')
    assert '.tmp' in line  # the temporary file it was reserving, removed since
    assert not [p for p in (tmp_path / 'out' / 'xsub').iterdir()]


def test_a_dead_worker_ends_the_run_with_an_error(tmp_path, capsys, monkeypatch):
    folder = tmp_path / 'raw'
    folder.mkdir()
    for name in sorted(os.listdir(SKELETONS))[:4]:
        shutil.copy(os.path.join(SKELETONS, name), folder)
    monkeypatch.setattr(gen_joint_data, 'convert_file', _die)
    code = gen_joint_data.main(['--data-path', str(folder), '--out-folder', str(tmp_path / 'out'), '--workers', '2',
                                '--no-progress', '--benchmark', 'xsub', '--ignored-sample-path', ''])
    one_error_line(capsys, code, 'a worker process died', prog='gen_joint_data: ')
    assert not [p for p in (tmp_path / 'out' / 'xsub').iterdir()]


# ---------------------------------------------------------------------------------------------------------
# The 2019 port's commands verbatim


def test_port_defaults_resolve_against_the_repository_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # as `cd data_gen; python3 gen_joint_data.py` would, from another folder
    args = gen_joint_data.parse_args([])
    assert args.data_path == [os.path.join(ROOT, 'data', 'nturgbd_raw', 'nturgb+d_skeletons')]
    assert args.out_folder == os.path.join(ROOT, 'data', 'ntu')


def test_gen_tfrecord_data_without_arguments_writes_what_main_reads_by_default(tmp_path, monkeypatch):
    for benchmark in ('xsub', 'xview'):
        for part in ('val', 'train'):  # _pair writes the train pair: the val one is moved aside first
            folder = tmp_path / 'data' / 'ntu' / benchmark
            folder.mkdir(parents=True, exist_ok=True)
            data_path = _pair(folder)
            os.replace(data_path, folder / f'{part}_data_joint.npy')
            os.replace(folder / 'train_label.pkl', folder / f'{part}_label.pkl')
    monkeypatch.setattr(gen_tfrecord_data, 'DEFAULT_DATA_FOLDER', tmp_path / 'data' / 'ntu')
    assert gen_tfrecord_data.main(['--shuffle', 'False']) == 0  # the port's --shuffle takes a value
    for benchmark in ('xsub', 'xview'):
        for part in ('train', 'val'):
            meta = json.loads((tmp_path / 'data' / 'ntu' / benchmark / f'{part}_data' / 'meta.json').read_text())
            assert meta['num_samples'] == 6
    monkeypatch.chdir(tmp_path)
    assert main.main([str(a) for a in TINY_MODEL + ['--num-epochs', 1, '--steps', '--batch-size', 2,
                                                      '--checkpoint-path', tmp_path / 'c', '--log-dir',
                                                      tmp_path / 'l']]) == 0  # data/ntu/xview/{train,val}_data


def test_save_every_minutes_checkpoints_inside_an_epoch(tmp_path):
    write_tiny_records(tmp_path / 'train', 128, seed=0, num_shards=4)  # 32 steps an epoch at batch 4
    assert train(tmp_path, '--train-data-path', tmp_path / 'train', '--test-data-path', tmp_path / 'train',
                 '--save-every-minutes', '1e-9') == 0
    # Checked after each group of 20 steps: step 20 is inside the epoch; at its end the epoch checkpoint follows.
    assert tf.train.latest_checkpoint(str(tmp_path / 'ckpt' / 'interrupted')).endswith('ckpt-20')
    assert tf.train.latest_checkpoint(str(tmp_path / 'ckpt')).endswith('ckpt-1')
