"""Every entry point walked with bad inputs: exit 2, one `error:` line last on stderr, no traceback, and no output
left that looks complete. (Each class of bad input is tested in depth beside its code; this is the walk.)"""
import importlib
import os
import pickle

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKELETON = os.path.join(ROOT, 'tests', 'fixtures', 'ntu', 'skeletons', 'S001C001P001R001A001.skeleton')


def _inputs(tmp):
    """Bad inputs built in `tmp`: a FIFO, garbage weights, a float64 .npy, a label pickle naming a module, a
    truncated JSON."""
    os.mkfifo(tmp / 'fifo.skeleton')
    (tmp / 'garbage.pth').write_bytes(b'PK\x03\x04' + bytes(64))
    np.save(tmp / 'train_data_joint.npy', np.zeros((2, 3, 4, 25, 2), np.float64))
    (tmp / 'train_label.pkl').write_bytes(b'cos\nsystem\n.')  # GLOBAL os.system
    (tmp / 'meta.json').write_text('{"layout": "kinect-v1"}')
    (tmp / 'raw').mkdir()
    os.symlink(tmp / 'fifo.skeleton', tmp / 'raw' / 'S001C001P001R001A001.skeleton')
    with open(tmp / 'scores.pkl', 'wb') as f:
        pickle.dump({'a': np.array([np.nan, 1.0])}, f)
    (tmp / 'file').write_text('not a folder')
    (tmp / 'results.json').write_text('[{"image_id": 0, "keypoints": [1, 2, 0.5,')  # a COCO-style list cut short


# (module, argv with {tmp} for the test's folder, output that must not exist afterwards)
CASES = [
    ('main', ['--config', '{tmp}/none.yaml'], None),
    ('main', ['--train-data-path', '{tmp}/train_data_joint.npy', '--test-data-path', '{tmp}/train_data_joint.npy',
              '--checkpoint-path', '{tmp}/ckpt', '--log-dir', '{tmp}/logs'], '{tmp}/ckpt'),
    ('main', ['--train-data-path', '/dev/null', '--checkpoint-path', '{tmp}/ckpt', '--log-dir', '{tmp}/logs'],
     '{tmp}/ckpt'),
    ('main', ['--phase', 'predict', '--weights', '{tmp}/garbage.pth', '--skeleton', SKELETON], None),
    ('main', ['--phase', 'predict', '--weights', '{tmp}/garbage.pth', '--skeleton', '{tmp}/fifo.skeleton'], None),
    ('main', ['--phase', 'export', '--weights', '{tmp}/garbage.pth', '--export-dir', '{tmp}/export'],
     '{tmp}/export'),
    ('data_gen.gen_joint_data', ['--data-path', '{tmp}/raw', '--out-folder', '{tmp}/ntu', '--workers', '1',
                                 '--ignored-sample-path', '', '--benchmark', 'xsub'], '{tmp}/ntu/xsub/meta.json'),
    ('data_gen.gen_joint_data', ['--data-path', '{tmp}/raw', '--out-folder', '{tmp}/file'], None),
    ('data_gen.gen_tfrecord_data', ['--data-path', '{tmp}/train_data_joint.npy', '--dest-folder', '{tmp}/tfr'],
     '{tmp}/tfr'),
    ('data_gen.gen_tfrecord_data', ['--data-path', '/dev/null', '--dest-folder', '{tmp}/tfr'], '{tmp}/tfr'),
    ('data_gen.gen_bone_data', ['--data-path', '{tmp}/train_data_joint.npy', '--out', '{tmp}/bone.npy'],
     '{tmp}/bone.npy'),
    ('data_gen.gen_bone_data', ['--data-path', '/dev/null', '--out', '{tmp}/bone.npy'], '{tmp}/bone.npy'),
    ('data_gen.gen_motion_data', ['--data-dir', '{tmp}/file'], None),
    ('data_gen.gen_kinetics_data', ['--data-path', '{tmp}/none', '--out-folder', '{tmp}/kin'], '{tmp}/kin'),
    ('data_gen.gen_pyskl_data', ['--data-path', '{tmp}/raw', '--out', '{tmp}/ann.pkl', '--workers', '1',
                                 '--ignored-sample-path', ''], '{tmp}/ann.pkl'),
    ('ensemble', ['--scores', '{tmp}/scores.pkl', '--label-path', '{tmp}/train_label.pkl'], None),
    ('ensemble', ['--scores', '/dev/null', '--label-path', '/dev/null'], None),
    ('model.weights', ['--weights', '{tmp}/garbage.pth', '--out', '{tmp}/w.weights.h5'], '{tmp}/w.weights.h5'),
    ('tools.plot_run', ['{tmp}/file', '--out', '{tmp}/curves.png'], '{tmp}/curves.png'),
    ('tools.visualize', ['--skeleton', '{tmp}/fifo.skeleton', '--out', '{tmp}/clip.gif'], '{tmp}/clip.gif'),
    ('tools.visualize', ['--skeleton', '{tmp}/train_label.pkl', '--index', '0', '--out', '{tmp}/clip.gif'],
     '{tmp}/clip.gif'),
    ('tools.visualize', ['--skeleton', '{tmp}/results.json', '--out', '{tmp}/clip.gif'], '{tmp}/clip.gif'),
]


@pytest.mark.parametrize('module,argv,output', CASES, ids=[f'{m}:{i}' for i, (m, _, _) in enumerate(CASES)])
def test_bad_input_is_one_error_line(tmp_path, capsys, module, argv, output):
    _inputs(tmp_path)
    code = importlib.import_module(module).main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and lines, err
    assert 'error: ' in lines[-1] and lines[-1].index('error: ') <= len('gen_kinetics_data: '), lines[-1]
    assert 'Traceback' not in err, err
    if output:
        assert not os.path.exists(output.format(tmp=tmp_path)), output
    assert (tmp_path / 'file').read_text() == 'not a folder'  # nothing of the user's replaced
