"""feeders/: the tf.data pipelines over TFRecord shards and .npy/.pkl pairs."""
import json
import pickle

import numpy as np
import pytest
import tensorflow as tf

from data_gen import gen_tfrecord_data
from feeders.npy_feeder import make_npy_dataset
from feeders.tfrecord_feeder import make_tfrecord_dataset, read_dataset_meta

N, SHAPE, SHARDS = 10, (3, 8, 25, 2), 4


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """A .npy/.pkl pair of N samples and its TFRecord folder (4 shards, shuffled with seed 0)."""
    folder = tmp_path_factory.mktemp('feeders')
    data = np.random.default_rng(1).standard_normal((N,) + SHAPE).astype(np.float32)
    names = [f'S001C001P{i + 1:03d}R001A001' for i in range(N)]
    np.save(folder / 'train_data_joint.npy', data)
    with open(folder / 'train_label.pkl', 'wb') as f:
        pickle.dump((names, list(range(N))), f)  # label i for sample i: identifies the sample
    gen_tfrecord_data.main(['--data-path', str(folder / 'train_data_joint.npy'), '--label-path',
                            str(folder / 'train_label.pkl'), '--dest-folder', str(folder / 'tfr'),
                            '--num-shards', str(SHARDS)])
    return folder, data, names


def _make(kind, source, batch_size, training, **kwargs):
    folder = source[0]
    if kind == 'tfrecord':
        return make_tfrecord_dataset(folder / 'tfr', batch_size, training, **kwargs)
    return make_npy_dataset(str(folder / 'train_data_joint.npy'), str(folder / 'train_label.pkl'), batch_size,
                            training, **kwargs)


def _labels(ds):
    return [int(v) for batch in ds for v in batch[1]]


@pytest.mark.parametrize('kind', ['tfrecord', 'npy'])
def test_eval_yields_every_sample_with_its_name_and_keeps_the_remainder(kind, source):
    _, data, names = source
    ds = _make(kind, source, 4, training=False)
    spec = ds.element_spec
    assert [s.dtype for s in spec] == [tf.float32, tf.int64, tf.string]
    assert spec[0].shape.as_list() == [None, *SHAPE]
    batches = list(ds)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = []
    for x, label, name in batches:
        for i in range(len(label)):
            k = int(label[i])
            np.testing.assert_array_equal(x[i].numpy(), data[k])
            assert name[i].numpy().decode() == names[k]
            seen.append(k)
    assert sorted(seen) == list(range(N))
    assert _labels(ds) == seen  # evaluation order is fixed


@pytest.mark.parametrize('kind', ['tfrecord', 'npy'])
def test_training_shuffles_samples_and_drops_the_remainder(kind, source):
    ds = _make(kind, source, 4, training=True, seed=3)
    assert len(ds.element_spec) == 2 and ds.element_spec[0].shape.as_list() == [4, *SHAPE]
    epochs = [_labels(ds) for _ in range(4)]
    assert all(len(e) == 8 and len(set(e)) == 8 for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled every epoch
    again = _make(kind, source, 4, training=True, seed=3)
    assert [_labels(again) for _ in range(4)] == epochs  # reproducible given the seed


def test_samples_are_shuffled_across_shards_before_batching(source):
    """Batches mix samples of different shards in varying combinations, not whole shards in turn."""
    folder = source[0]
    meta = json.loads((folder / 'tfr' / 'meta.json').read_text())
    shard_of = {}
    for k, name in enumerate(meta['shards']):
        for record in tf.data.TFRecordDataset(str(folder / 'tfr' / name)):
            label = tf.io.parse_single_example(record, {'label': tf.io.FixedLenFeature([], tf.int64)})['label']
            shard_of[int(label)] = k
    pairs = set()
    for seed in range(6):
        for _, label in make_tfrecord_dataset(folder / 'tfr', 2, True, seed=seed):
            pairs.add(tuple(sorted(int(v) for v in label)))
    same_shard = [p for p in pairs if shard_of[p[0]] == shard_of[p[1]]]
    assert len(pairs) > 12 and len(same_shard) < len(pairs)


@pytest.mark.parametrize('kind', ['tfrecord', 'npy'])
def test_distribute_input_context_shards_and_splits_the_batch(kind, source):
    parts = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        ds = _make(kind, source, 4, training=False, input_context=context)
        assert max(len(b[1]) for b in ds) == 2  # per-replica batch = global 4 / 2 replicas
        parts.append(set(_labels(ds)))
    assert not parts[0] & parts[1] and parts[0] | parts[1] == set(range(N))


def test_too_few_shards_for_the_input_pipelines(source):
    context = tf.distribute.InputContext(num_input_pipelines=SHARDS + 1, input_pipeline_id=0)
    with pytest.raises(ValueError, match='4 shards cannot feed 5 input pipelines'):
        make_tfrecord_dataset(source[0] / 'tfr', 4, True, input_context=context)


@pytest.mark.parametrize('kind', ['tfrecord', 'npy'])
def test_augment_runs_per_sample_before_batching(kind, source):
    ds = _make(kind, source, 2, training=True, seed=0, augment={'random_choose': 5, 'random_shift': True})
    assert ds.element_spec[0].shape.as_list() == [2, 3, 5, 25, 2]
    x, _ = next(iter(ds))
    assert x.shape == (2, 3, 5, 25, 2)
    with pytest.raises(ValueError, match='unknown key'):
        _make(kind, source, 2, training=True, augment={'flip': True})


def _write_records(path, samples, with_name=True):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i, sample in enumerate(samples):
            feature = {'features': tf.train.Feature(bytes_list=tf.train.BytesList(value=[sample])),
                       'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))}
            if with_name:
                feature['name'] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'S001C001P001R001A001']))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def _tensor(shape):
    return tf.io.serialize_tensor(tf.ones(shape, tf.float32)).numpy()


def test_records_without_name_or_meta_json_as_the_2019_port_wrote(tmp_path):
    _write_records(tmp_path / 'train-0.tfrecord', [_tensor(SHAPE)] * 3, with_name=False)
    _write_records(tmp_path / 'train-1.tfrecord', [_tensor(SHAPE)] * 2, with_name=False)
    meta = read_dataset_meta(tmp_path)
    assert meta['num_samples'] == 5 and meta['sample_shape'] == list(SHAPE) and meta['num_shards'] == 2
    batches = list(make_tfrecord_dataset(tmp_path, 4, training=False))
    assert [len(b[2]) for b in batches] == [4, 1]
    # Unnamed records get stable names from their shard and position, so score files can key them.
    assert sorted(n for b in batches for n in b[2].numpy()) == [
        b'train-0.tfrecord:0', b'train-0.tfrecord:1', b'train-0.tfrecord:2', b'train-1.tfrecord:0',
        b'train-1.tfrecord:1']


@pytest.mark.parametrize('payload', [_tensor((3, 7, 25, 2)), b'not a tensor', _tensor(SHAPE)[:-4]])
def test_a_wrong_or_corrupt_record_names_the_file_and_the_shape(tmp_path, payload):
    _write_records(tmp_path / 'good-0.tfrecord', [_tensor(SHAPE)] * 2, with_name=False)  # the 2019 port's: no
    _write_records(tmp_path / 'bad-1.tfrecord', [_tensor(SHAPE), payload], with_name=False)  # meta.json needed
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        list(make_tfrecord_dataset(tmp_path, 2, training=False))
    assert 'bad-1.tfrecord' in error.value.message and '[3, 8, 25, 2]' in error.value.message


def test_a_truncated_shard_is_named(source, tmp_path):
    folder = tmp_path / 'tfr'
    folder.mkdir()
    for path in (source[0] / 'tfr').iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    shard = folder / 'train-2.tfrecord'
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(ValueError, match='train-2.tfrecord.*truncated'):
        make_tfrecord_dataset(folder, 2, training=True)


def test_npy_pair_mismatch_is_an_error(source, tmp_path):
    with open(tmp_path / 'short_label.pkl', 'wb') as f:
        pickle.dump((['S001C001P001R001A001'], [0]), f)
    with pytest.raises(ValueError, match='short_label.pkl.*1 labels.*10 samples'):
        make_npy_dataset(str(source[0] / 'train_data_joint.npy'), str(tmp_path / 'short_label.pkl'), 2, True)
