"""A user's skeleton layout through every part: the YAML and --layout-file, the model's config, the weights files
that rebuild the model from themselves (.weights.h5, .keras, training checkpoints) and the export."""
import json
import os

import keras
import numpy as np
import pytest

from graphs import Graph, get_layout
from model.config import STGCNConfig
from model.stgcn import build_model
from model.weights import load_pretrained, save_weights
from serving import export
from tests.test_layouts import HAND_YAML, hand_dict
from tests.trained_scale import randomize
from training.config import ConfigError, dump_config, format_config, model_config, resolve_config

PATHS = ['--train-data-path', 'a', '--test-data-path', 'b']
SMALL = dict(channels=(8, 8, 8), num_class=4, in_channels=3)


def hand_yaml_mapping(indent='    '):
    """HAND_YAML nested under model_args.graph_args.layout."""
    body = ''.join(f'{indent}  {line}\n' for line in HAND_YAML.splitlines() if not line.startswith('#'))
    return f'model_args:\n  graph_args:\n{indent}layout:\n{body}'


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def hand_file(tmp_path):
    return write(tmp_path, 'hand.yaml', HAND_YAML)


def test_yaml_mapping_and_layout_file_give_the_same_0_based_layout(tmp_path, hand_file):
    from_mapping = resolve_config(['--config', write(tmp_path, 'run.yaml', hand_yaml_mapping())] + PATHS)
    from_file = resolve_config(['--layout-file', hand_file] + PATHS)
    expected = get_layout(hand_dict()).to_dict()
    assert from_mapping.layout == from_file.layout == expected
    assert expected['base'] == 0 and expected['center'] == 5 and expected['edges'][0] == [1, 0]
    config = model_config(from_file)
    assert config.layout == expected
    assert Graph(config.layout, config.partition).A.shape == (3, 10, 10)
    assert 'hand-10 (custom, 10 joints)' in format_config(from_file)


def test_layout_file_key_in_the_yaml_is_read_relative_to_nothing_but_the_path(tmp_path, hand_file):
    cfg = resolve_config(['--config', write(tmp_path, 'run.yaml', f'model_args:\n  graph_args:\n    layout_file: '
                                                                  f'{hand_file}\n')] + PATHS)
    assert cfg.layout['name'] == 'hand-10' and cfg.layout_file == hand_file


def test_the_written_config_holds_the_layout_itself(tmp_path, hand_file):
    cfg = resolve_config(['--layout-file', hand_file] + PATHS)
    dumped = str(tmp_path / 'config.yaml')
    dump_config(cfg, dumped)
    os.remove(hand_file)  # the run's record does not depend on the user's file
    again = resolve_config(['--config', dumped])
    assert again.layout == cfg.layout and again.layout_file is None


@pytest.mark.parametrize('text,needle', [
    # the bad key's own line inside the mapping
    (hand_yaml_mapping().replace('center: 6', 'center: 11'),
     "run.yaml:18: model_args.graph_args.layout: layout key 'center': joint 11 is out of range"),
    ('model_args:\n  graph_args:\n    layout: kinect\n', 'run.yaml:3: model_args.graph_args.layout kinect: must be '
                                                        'one of ntu-rgb+d'),
    ('model_args:\n  graph_args:\n    layout: [1, 2]\n', 'run.yaml:3: model_args.graph_args.layout 1 2: must be '
                                                       'one of'),
])
def test_bad_layout_in_the_yaml_names_the_line(tmp_path, text, needle):
    path = write(tmp_path, 'run.yaml', text)
    with pytest.raises(ConfigError) as info:
        resolve_config(['--config', path] + PATHS)
    assert needle in str(info.value), str(info.value)


def test_layout_and_layout_file_together_or_a_bad_file_are_errors(tmp_path, hand_file):
    both = write(tmp_path, 'run.yaml', 'model_args:\n  graph_args:\n    layout: openpose\n')
    with pytest.raises(ConfigError, match='--layout-file .*hand.yaml and .*run.yaml:3: model_args.graph_args.layout: '
                                          'give one layout, not both'):
        resolve_config(['--config', both, '--layout-file', hand_file] + PATHS)
    bad = write(tmp_path, 'bad.yaml', HAND_YAML.replace('[10, 8]', '[11, 8]'))
    with pytest.raises(ConfigError, match=r'--layout-file: .*bad.yaml:\d+: layout key \'edges\''):
        resolve_config(['--layout-file', bad] + PATHS)


def test_stgcn_config_keeps_a_custom_layout_0_based_and_round_trips():
    config = STGCNConfig(layout=hand_dict(), **SMALL)
    assert config.layout == get_layout(hand_dict()).to_dict()
    assert STGCNConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="layout key 'center'"):
        STGCNConfig(layout=hand_dict(center=0))


def clip(num_node=10, seed=0):
    return np.random.default_rng(seed).standard_normal((2, 3, 12, num_node, 2)).astype(np.float32)


@pytest.fixture(scope='module')
def hand_model():
    return randomize(build_model('pyskl', layout=hand_dict(), **SMALL), seed=3)


def test_weights_files_rebuild_a_custom_layout_model_alone(tmp_path, hand_model):
    expected = np.asarray(hand_model(clip(), training=False))
    h5 = tmp_path / 'hand.weights.h5'
    save_weights(hand_model, h5, data_mode='pyskl2d')
    keras_file = str(tmp_path / 'hand.keras')
    hand_model.save(keras_file)
    for path in (h5, keras_file):
        loaded = load_pretrained(path)
        assert loaded.config.layout['name'] == 'hand-10' and loaded.num_node == 10
        np.testing.assert_array_equal(loaded.A, hand_model.A)
        np.testing.assert_allclose(loaded(clip(), training=False), expected, rtol=0, atol=1e-6)
    assert isinstance(keras.models.load_model(keras_file), type(hand_model))


def test_export_of_a_custom_layout_model_records_it(tmp_path, hand_model):
    weights = str(tmp_path / 'hand.weights.h5')
    save_weights(hand_model, weights, data_mode='prenorm')
    dest = tmp_path / 'export'
    assert export.run(resolve_config(['--phase', 'export', '--weights', weights, '--export-dir', str(dest)])) == 0
    with open(dest / 'meta.json') as f:
        meta = json.load(f)
    assert meta['config']['layout']['name'] == 'hand-10', meta
