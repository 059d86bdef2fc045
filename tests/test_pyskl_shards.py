"""One split of a PYSKL annotation pickle as TFRecord shards (data_gen/gen_tfrecord_data.py --ann-file,
feeders/pyskl_records.py): the records keep every sample as the pickle holds it, and the PYSKL feeder's batches
from the shards equal those from the pickle bit for bit (test clips, seeded training clips, each input pipeline
of two), through main.py too; bad input is a one-line error naming the file.

The pickles are tests/test_pyskl_feeder.py's: the real NTU fixtures made into PYSKL's 3D annotations (plus
edited samples that reach PreNormalize3D's branches) and a small float16 HRNet-style 2D set.
"""
import json
import pickle
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

import main
from data_gen import gen_tfrecord_data as gen
from feeders import pyskl_feeder, pyskl_records
from feeders.distributed import open_source
from storage import files
from tests.test_pyskl_feeder import ALL, CLIP_LEN, hrnet_pickle, ntu_pickle  # noqa: F401 (fixtures)


def _convert(ann_file, split, dest, *extra):
    return gen.main(['--ann-file', str(ann_file), '--split', split, '--dest-folder', str(dest), *map(str, extra)])


@pytest.fixture(scope='module')
def shards(ntu_pickle, hrnet_pickle, tmp_path_factory):  # noqa: F811
    """{name: folder}: the 3D 'all' split (24 samples) in 4 and in 3 shards, and the 2D xsub_val in 2."""
    root = tmp_path_factory.mktemp('shards')
    for name, (pickle_path, split, num_shards) in {'all4': (ntu_pickle[0], 'all', 4), 'all3': (ntu_pickle[0], 'all', 3),
                                                   'hrnet': (hrnet_pickle[0], 'xsub_val', 2)}.items():
        assert _convert(pickle_path, split, root / name, '--num-shards', num_shards) == 0
    return {name: root / name for name in ('all4', 'all3', 'hrnet')}


def _batches(dataset):
    return [tuple(t.numpy() for t in batch) for batch in dataset]


def _assert_bitwise_equal(ours, theirs):
    assert len(ours) == len(theirs)
    for batch, expected in zip(ours, theirs):
        assert len(batch) == len(expected)
        for a, b in zip(batch, expected):  # x, label[, name]
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tolist() == b.tolist() if a.dtype == object else a.tobytes() == b.tobytes()


# ---- the records ----

def test_records_hold_every_sample_as_the_pickle_does(ntu_pickle, shards):  # noqa: F811
    """Parsed with plain TF ops, as docs/files.md documents the schema: true T and M, float16 kept."""
    _, by_name, split = ntu_pickle
    meta = json.loads((shards['all4'] / 'meta.json').read_text())
    assert {k: v for k, v in meta.items() if k != 'shards'} == {
        'format': 'pyskl-shards', 'kind': '3d', 'num_node': 25, 'num_class': 58, 'split': 'all', 'num_samples': 24,
        'num_shards': 4, 'max_person': 2, 'layout': 'ntu-rgb+d-pyskl'}
    spec = {'keypoint': tf.io.FixedLenFeature([], tf.string), 'label': tf.io.FixedLenFeature([], tf.int64),
            'name': tf.io.FixedLenFeature([], tf.string), 'total_frames': tf.io.FixedLenFeature([], tf.int64),
            'index': tf.io.FixedLenFeature([], tf.int64)}
    seen = []
    for k in range(4):
        path = shards['all4'] / f'all-{k}.tfrecord'
        assert meta['shards'][path.name] == {'num_records': 6, 'num_bytes': path.stat().st_size}
        for record in tf.data.TFRecordDataset(str(path)):
            example = tf.io.parse_single_example(record, spec)
            name, index = example['name'].numpy().decode(), int(example['index'])
            keypoint = tf.io.parse_tensor(example['keypoint'], tf.float16).numpy()  # (M, T, V, C)
            annotation = by_name[name]
            assert split['all'][index] == name and index % 4 == k  # sample i in shard i % num_shards
            assert keypoint.shape == annotation['keypoint'].shape and int(example['total_frames']) == keypoint.shape[1]
            assert keypoint.tobytes() == annotation['keypoint'].tobytes()
            assert int(example['label']) == annotation['label']
            seen.append(index)
    assert sorted(seen) == list(range(24))
    assert {a['keypoint'].shape[0] for a in by_name.values()} == {1, 2}  # one- and two-person samples both met


def test_2d_records_keep_scores_and_image_shapes(hrnet_pickle, shards):  # noqa: F811
    _, by_name = hrnet_pickle
    meta = files.read_meta(shards['hrnet'])
    annotations = pyskl_records.read_shards(shards['hrnet'], meta)
    assert [a['frame_dir'] for a in annotations] == sorted(by_name)  # xsub_val lists them in name order
    for annotation in annotations:
        original = by_name[annotation['frame_dir']]
        assert annotation['keypoint'].dtype == np.float16 and annotation['keypoint_score'].dtype == np.float16
        assert annotation['keypoint'].tobytes() == original['keypoint'].tobytes()
        assert annotation['keypoint_score'].tobytes() == original['keypoint_score'].tobytes()
        assert annotation['img_shape'] == original['img_shape']
    assert (meta['kind'], meta['num_node'], meta['max_person'], meta['layout']) == ('2d', 17, 3, 'coco')


# ---- batches: shards against the pickle ----

def test_test_batches_equal_the_pickles_bit_for_bit_3d(ntu_pickle, shards):  # noqa: F811
    kwargs = dict(training=False, clip_len=CLIP_LEN, num_clips=3, feats=ALL)
    ours = _batches(pyskl_feeder.make_pyskl_dataset(shards['all4'], None, 4, **kwargs))
    theirs = _batches(pyskl_feeder.make_pyskl_dataset(ntu_pickle[0], 'all', 4, **kwargs))
    _assert_bitwise_equal(ours, theirs)
    assert [n.decode() for _, _, names in ours for n in names] == ntu_pickle[2]['all']  # the split's order


def test_test_batches_equal_the_pickles_bit_for_bit_2d(hrnet_pickle, shards):  # noqa: F811
    kwargs = dict(training=False, clip_len=CLIP_LEN, num_clips=2, feats=ALL, layout='coco')
    _assert_bitwise_equal(_batches(pyskl_feeder.make_pyskl_dataset(shards['hrnet'], 'xsub_val', 2, **kwargs)),
                          _batches(pyskl_feeder.make_pyskl_dataset(hrnet_pickle[0], 'xsub_val', 2, **kwargs)))


def test_training_batches_with_the_same_seed_equal_the_pickles(ntu_pickle, shards):  # noqa: F811
    def epochs(path, split, seed):
        dataset = pyskl_feeder.make_pyskl_dataset(path, split, 4, training=True, seed=seed, clip_len=CLIP_LEN,
                                                  feats=('j', 'jm'))
        return [batch for _ in range(2) for batch in _batches(dataset)]  # two epochs: the reshuffle too
    _assert_bitwise_equal(epochs(shards['all3'], 'all', 3), epochs(ntu_pickle[0], 'all', 3))


def _context(pipeline):
    return tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)


def test_two_input_pipelines_read_their_own_shards_and_get_the_pickles_samples(ntu_pickle, shards):  # noqa: F811
    """With 4 shards, pipeline p reads shards p and p + 2, which hold the samples p, p + 2, ...: what it takes
    of the pickle, so its batches (test ones of pipeline 0, training ones of pipeline 1) are the pickle's."""
    for pipeline, training in ((0, False), (1, True)):
        kwargs = dict(training=training, input_context=_context(pipeline), seed=1, clip_len=CLIP_LEN)
        ours = _batches(pyskl_feeder.make_pyskl_dataset(shards['all4'], None, 4, **kwargs))
        _assert_bitwise_equal(ours, _batches(pyskl_feeder.make_pyskl_dataset(ntu_pickle[0], 'all', 4, **kwargs)))
        assert [len(batch[1]) for batch in ours] == [2] * 6


def test_shards_not_a_multiple_of_the_pipelines_are_read_whole(ntu_pickle, shards, tmp_path):  # noqa: F811
    """With 3 shards, pipeline 0 reads shards 0 and 2 (samples i with i % 3 in {0, 2}), pipeline 1 shard 1:
    other samples than a pickle's pipelines take, but each pipeline's batches are the pickle's over exactly
    its samples, in split order."""
    _, by_name, split = ntu_pickle
    parts = {0: [n for i, n in enumerate(split['all']) if i % 3 != 1], 1: split['all'][1::3]}
    part_pickle = tmp_path / 'parts.pkl'
    files.write_pickle({'split': {f'part{p}': names for p, names in parts.items()},
                        'annotations': list(by_name.values())}, part_pickle)
    for pipeline, names in parts.items():
        kwargs = dict(training=False, clip_len=CLIP_LEN, num_clips=2)
        ours = _batches(pyskl_feeder.make_pyskl_dataset(shards['all3'], 'all', 4, input_context=_context(pipeline),
                                                        **kwargs))
        assert [n.decode() for _, _, batch in ours for n in batch] == names
        # the per-replica batch (2) of the pickle over the same samples, read by one pipeline
        _assert_bitwise_equal(ours, _batches(pyskl_feeder.make_pyskl_dataset(part_pickle, f'part{pipeline}', 2,
                                                                             **kwargs)))


def test_open_source_gives_the_pickles_meta(ntu_pickle, shards):  # noqa: F811
    ours = open_source(str(shards['all4']), clip_len=CLIP_LEN, feats=('j', 'b'))
    theirs = open_source(str(ntu_pickle[0]), split='all', clip_len=CLIP_LEN, feats=('j', 'b'))
    assert ours.pop('source') == ('pyskl', str(shards['all4']), None)
    assert theirs.pop('source') == ('pyskl', str(ntu_pickle[0]), 'all') and ours == theirs
    with pytest.raises(ValueError, match=re.escape("holds split 'all' (meta.json), not 'xsub_val'")):
        open_source(str(shards['all4']), split='xsub_val')


def test_main_trains_and_tests_from_shards(ntu_pickle, tmp_path, capsys):  # noqa: F811
    """The demo recipe trains one epoch from the xsub shards, evaluating on the xsub_val shards; the test phase
    of its checkpoint on the pickle's xsub_val then gives the same scores, to the bit."""
    path = ntu_pickle[0]
    for split in ('xsub_train', 'xsub_val'):
        assert _convert(path, split, tmp_path / split, '--num-shards', 2) == 0
    ckpt, trained, tested = tmp_path / 'ckpt', tmp_path / 'trained.pkl', tmp_path / 'tested.pkl'
    assert main.main([str(a) for a in [
        '--config', 'config/pyskl/demo.yaml', '--train-data-path', tmp_path / 'xsub_train', '--test-data-path',
        tmp_path / 'xsub_val', '--num-epochs', 1, '--checkpoint-path', ckpt, '--log-dir', tmp_path / 'logs',
        '--save-scores', trained, '--no-progress']]) == 0
    out = capsys.readouterr().out
    train_samples = len(ntu_pickle[2]['xsub_train'])
    assert f'steps per epoch: {train_samples // 8}, train samples: {train_samples}' in out
    assert 'eval on 7 samples' in out
    assert main.main([str(a) for a in [
        '--phase', 'test', '--weights', ckpt, '--test-data-path', path, '--test-split', 'xsub_val', '--clip-len', 32,
        '--batch-size', 8, '--log-dir', tmp_path / 'test_logs', '--save-scores', tested, '--no-progress']]) == 0
    with open(trained, 'rb') as f, open(tested, 'rb') as g:
        trained, tested = pickle.load(f), pickle.load(g)
    assert list(trained) == list(tested) == ntu_pickle[2]['xsub_val']
    for name, logits in tested.items():
        assert logits.tobytes() == trained[name].tobytes()


# ---- errors ----

def _bad_pickle(tmp_path, edit, split_names=None):
    keypoint = np.ones((1, 4, 25, 3), np.float16)
    annotations = [{'frame_dir': f's{i}', 'label': i, 'keypoint': keypoint, 'total_frames': 4} for i in range(3)]
    edit(annotations)
    path = tmp_path / 'bad.pkl'
    names = [a['frame_dir'] for a in annotations]
    files.write_pickle({'split': {'train': names, 'empty': []}, 'annotations': annotations}, path)
    return path


@pytest.mark.parametrize('edit,split,needle', [
    (lambda a: None, None, "give --split, one of the file's splits: train, empty"),
    (lambda a: None, 'val', "no split 'val' (the file has: train, empty)"),
    (lambda a: None, 'empty', "split 'empty' is empty"),
    (lambda a: a[1].update(total_frames=5), 'train', "frame_dir 's1': total_frames is 5 but keypoint has T = 4"),
    (lambda a: a[2].update(keypoint=np.ones((1, 4, 24, 3), np.float16)), 'train',
     "frame_dir 's2': keypoint has V = 24 joints, expected 25"),
    (lambda a: [x.update(keypoint=np.ones((1, 4, 17, 3), np.float16)) for x in a], 'train',
     "3D keypoints with V = 17 joints; PYSKL's 3D pipeline (PreNormalize3D) takes NTU's 25"),
    (lambda a: a[0].update(keypoint=np.ones((3, 4, 25, 3), np.float16)), 'train',
     "frame_dir 's0': 3 persons; PreNormalize3D takes 1 or 2"),
])
def test_conversion_errors_are_one_line_naming_the_file(tmp_path, capsys, edit, split, needle):
    path = _bad_pickle(tmp_path, edit)
    args = ['--ann-file', str(path), '--dest-folder', str(tmp_path / 'out')] + (['--split', split] if split else [])
    assert gen.main(args) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith(f'error: {path}: ') and needle in err, err
    assert not (tmp_path / 'out').exists()


def test_npy_options_with_an_ann_file_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        gen.main(['--ann-file', 'x.pkl', '--split', 'train', '--dest-folder', str(tmp_path), '--shuffle'])
    assert exit_info.value.code == 2 and '--shuffle goes with --data-path, not --ann-file' in capsys.readouterr().err


def test_a_failed_conversion_leaves_the_earlier_set_and_a_smaller_one_replaces_it(ntu_pickle, tmp_path):  # noqa: F811
    dest = tmp_path / 'out'
    assert _convert(ntu_pickle[0], 'all', dest, '--num-shards', 5) == 0
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    assert _convert(_bad_pickle(tmp_path, lambda a: a[1].update(total_frames=5)), 'train', dest) == 2
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert _convert(ntu_pickle[0], 'all', dest, '--num-shards', 2) == 0
    assert sorted(p.name for p in dest.iterdir()) == ['all-0.tfrecord', 'all-1.tfrecord', 'meta.json']


def test_reading_errors_name_the_shard(ntu_pickle, shards, tmp_path):  # noqa: F811
    folder = tmp_path / 'copy'
    shutil.copytree(shards['all4'], folder)
    shard = folder / 'all-1.tfrecord'
    five = tf.distribute.InputContext(num_input_pipelines=5, input_pipeline_id=0, num_replicas_in_sync=5)
    with pytest.raises(ValueError, match=re.escape(f'{folder}: 4 shards cannot feed 5 input pipelines')):
        pyskl_records.read_shards(folder, files.read_meta(folder), five)
    # A record whose keypoint has another V than meta.json's, with the shard's recorded size fixed up.
    annotation = dict(ntu_pickle[1][ntu_pickle[2]['all'][1]])
    annotation['keypoint'] = annotation['keypoint'][:, :, :24]
    with tf.io.TFRecordWriter(str(shard)) as writer:
        writer.write(pyskl_records.serialize_annotation(annotation, 1, np.float16))
    meta = files.read_meta(folder)
    meta['shards'][shard.name] = {'num_records': 1, 'num_bytes': shard.stat().st_size}
    files.write_meta(meta, folder)
    with pytest.raises(ValueError, match=re.escape(f"{shard}: frame_dir '{annotation['frame_dir']}': keypoint has "
                                                   'V = 24 joints, expected 25')):
        pyskl_feeder.make_pyskl_dataset(folder, None, 4, training=False)
    shard.write_bytes(shard.read_bytes()[:-10])  # truncated: named before anything is read
    with pytest.raises(ValueError, match=re.escape(f'{shard}: {shard.stat().st_size} bytes but meta.json records')):
        open_source(str(folder))
