"""The strict resolved config: precedence, every kind of error (naming key and file:line), dump -> load,
and every shipped YAML in config/."""
import pathlib
import textwrap

import pytest

from model.config import make_config
from training.config import (OPTIONS, ConfigError, RunConfig, build_parser, dump_config, format_config,
                             model_config, resolve_config)

ROOT = pathlib.Path(__file__).resolve().parents[1]
PATHS = ['--train-data-path', 'tr', '--test-data-path', 'te']


def write(tmp_path, text, name='run.yaml'):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip('\n'))
    return str(path)


def error_of(argv):
    with pytest.raises(ConfigError) as info:
        resolve_config(argv)
    message = str(info.value)
    assert '\n' not in message  # one line
    return message


def test_table_is_consistent():
    names = [o.name for o in OPTIONS]
    yaml_keys = [o.yaml for o in OPTIONS]
    flags = [o.flag for o in OPTIONS if o.flag]
    assert len(set(names)) == len(names) and len(set(yaml_keys)) == len(yaml_keys) and len(set(flags)) == len(flags)
    # The flags of the 2019 port and of this project.
    for flag in ('--train-data-path', '--test-data-path', '--base-lr', '--num-classes', '--batch-size',
                 '--num-epochs', '--steps', '--save-freq', '--checkpoint-path', '--log-dir', '--gpus', '--phase',
                 '--weights', '--model-preset', '--weight-decay', '--seed', '--mixed-precision', '--jit',
                 '--sync-bn', '--eval-freq', '--save-scores', '--no-progress', '--channels', '--skeleton',
                 '--top-k', '--json', '--export-dir'):
        assert flag in flags, flag
    # The original st-gcn key names.
    for key in ('base_lr', 'step', 'weight_decay', 'batch_size', 'num_epoch', 'model_args.num_class', 'phase',
                'weights', 'device', 'save_interval', 'eval_interval', 'train_feeder_args.data_path',
                'model_args.graph_args.layout', 'model_args.edge_importance_weighting'):
        assert key in yaml_keys, key


def test_defaults_are_the_official_recipe():
    cfg = resolve_config(PATHS)
    assert (cfg.base_lr, cfg.lr_step_epochs, cfg.num_epochs, cfg.batch_size, cfg.weight_decay) == (0.1, (10, 50), 80, 64, 1e-4)
    assert (cfg.model_preset, cfg.num_class, cfg.phase, cfg.config) == ('paper', None, 'train', None)
    assert model_config(cfg).num_class == 60 and model_config(cfg, 120).num_class == 120  # the data's, else 60
    assert (cfg.save_freq, cfg.eval_freq, cfg.mixed_precision, cfg.gpus) == (10, 1, 'none', None)
    assert (cfg.in_channels, cfg.dropout, cfg.edge_importance, cfg.layout, cfg.partition, cfg.channels) == (None,) * 6
    assert cfg.augment == {'valid_crop': False, 'random_shift': False, 'random_choose': 0,
                                     'random_move': False}


def test_precedence_default_yaml_flag(tmp_path):
    path = write(tmp_path, '''
        base_lr: 0.05
        batch_size: 32
        num_epoch: 30
        step: [5, 20]
        model_args:
          num_class: 120
    ''')
    cfg = resolve_config(['--config', path, '--batch-size', '8', '--num-classes', '60'] + PATHS)
    assert cfg.base_lr == 0.05          # YAML over default
    assert cfg.batch_size == 8          # flag over YAML
    assert cfg.num_class == 60        # flag over a nested YAML key
    assert (cfg.num_epochs, cfg.lr_step_epochs) == (30, (5, 20))
    assert cfg.weight_decay == 1e-4     # neither: default
    assert cfg.config == path
    # A flag equal to the default still overrides the YAML: flags are seen by presence, not by value.
    assert resolve_config(['--config', path, '--base-lr', '0.1'] + PATHS).base_lr == 0.1


def test_yaml_paths_satisfy_the_phase(tmp_path):
    path = write(tmp_path, '''
        train_feeder_args: {data_path: a, random_choose: 150, random_move: true}
        test_feeder_args: {data_path: b}
    ''')
    cfg = resolve_config(['--config', path])
    assert (cfg.train_data_path, cfg.test_data_path) == ('a', 'b')
    assert cfg.augment == {'valid_crop': False, 'random_shift': False, 'random_choose': 150,
                                     'random_move': True}
    assert resolve_config(['--config', path, '--train-data-path', 'c']).train_data_path == 'c'


def test_yaml_reads_exponent_floats_and_accepts_ints_for_floats(tmp_path):
    cfg = resolve_config(['--config', write(tmp_path, 'weight_decay: 1e-4\nbase_lr: 1\n')] + PATHS)
    assert cfg.weight_decay == 1e-4 and isinstance(cfg.base_lr, float) and cfg.base_lr == 1.0


def test_model_args_map_to_stgcn_config(tmp_path):
    path = write(tmp_path, '''
        model_preset: paper
        model_args:
          num_class: 120
          dropout: 0.0
          edge_importance_weighting: false
          channels: [16, 32, 64]
          graph_args:
            strategy: uniform
    ''')
    cfg = resolve_config(['--config', path] + PATHS)
    assert (cfg.dropout, cfg.edge_importance, cfg.partition) == (0.0, False, 'uniform')
    built = model_config(cfg)
    assert built == make_config('paper', num_class=120, channels=(16, 32, 64), dropout=0.0, edge_importance=False,
                                partition='uniform')
    assert resolve_config(['--channels', '8', '8', '16'] + PATHS).channels == (8, 8, 16)


def test_gpus_flag_takes_indices_or_device_names(tmp_path):
    assert resolve_config(['--gpus', '0', '/gpu:1', 'GPU:2'] + PATHS).gpus == (0, 1, 2)
    assert resolve_config(['--config', write(tmp_path, 'device: 1\n')] + PATHS).gpus == (1,)  # original's form
    assert resolve_config(['--config', write(tmp_path, 'device: [0, 3]\n')] + PATHS).gpus == (0, 3)
    assert '--gpus' in error_of(['--gpus', 'cuda'] + PATHS)
    assert 'distinct' in error_of(['--gpus', '1', '1'] + PATHS)


def test_steps_without_value_means_no_decay():
    assert resolve_config(['--steps', '--num-epochs', '3'] + PATHS).lr_step_epochs == ()


@pytest.mark.parametrize('text,line,expected', [
    ('base_lr: 0.1\nnum_epochs: 5\n', 2, 'unknown key num_epochs; did you mean num_epoch?'),
    ('steps: [1]\n', 1, 'unknown key steps; did you mean step?'),
    ('model_args:\n  num_clas: 5\n', 2, 'unknown key model_args.num_clas; did you mean model_args.num_class?'),
    ('num_classes: 5\n', 1, 'did you mean model_args.num_class?'),
    ('save_freq: 5\n', 1, 'did you mean save_interval?'),
    ('base_lr: fast\n', 1, "base_lr must be a number, got 'fast' (str)"),
    ('batch_size: 6.5\n', 1, 'batch_size must be an integer'),
    ('batch_size: true\n', 1, 'batch_size must be an integer'),
    ('jit: 1\n', 1, 'jit must be true or false'),
    ('step: 10\n', 1, 'step must be a list of integers'),
    ('model_args: 5\n', 1, 'model_args must be a mapping'),
    ('base_lr: 0\n', 1, 'base_lr 0.0: must be a finite number > 0'),
    ('base_lr: .nan\n', 1, 'base_lr nan: must be a finite number > 0'),
    ('weight_decay: -1.0e-4\n', 1, 'weight_decay -0.0001: must be a finite number >= 0'),
    ('batch_size: 0\n', 1, 'batch_size 0: must be >= 1'),
    ('eval_interval: 0\n', 1, 'eval_interval 0: must be >= 1'),
    ('save_interval: 0\n', 1, 'save_interval 0: must be >= 1'),
    ('num_epoch: 0\n', 1, 'num_epoch 0: must be >= 1'),
    ('step: [50, 10]\n', 1, 'step 50 10: must be strictly increasing'),
    ('step: [0, 10]\n', 1, 'must be strictly increasing epoch numbers >= 1'),
    ('mixed_precision: fp8\n', 1, 'mixed_precision fp8: must be one of none, bf16, fp16'),
    ('model_preset: big\n', 1, 'must be one of paper, tf2019'),
    ('model_args:\n  graph_args:\n    layout: kinect\n', 3, 'model_args.graph_args.layout kinect: must be one of'),
    ('model_args:\n  channels: [16, 32]\n', 2, 'must be three positive ints'),
    ('model_args:\n  dropout: 1.0\n', 2, 'must be in [0, 1)'),
    ('base_lr: 0.1\nbase_lr: 0.2\n', 2, 'base_lr is given twice'),
    ('log_dir: ""\n', 1, 'log_dir must be a non-empty string'),
    ('- base_lr\n', 1, 'must be a mapping of settings'),
    ('base_lr: [0.1\n', 2, 'not valid YAML'),
])
def test_yaml_errors_name_file_line_and_key(tmp_path, text, line, expected):
    path = write(tmp_path, text)
    message = error_of(['--config', path] + PATHS)
    assert message.startswith(f'{path}:{line}: '), message
    assert expected in message, message


def test_steps_must_be_below_num_epoch(tmp_path):
    message = error_of(['--num-epochs', '40'] + PATHS)
    assert message.startswith('default step: step [10, 50] must all be < num_epoch 40 (from --num-epochs)')
    path = write(tmp_path, 'num_epoch: 50\nstep: [10, 50]\n')
    assert error_of(['--config', path] + PATHS).startswith(f'{path}:2: step: step [10, 50] must all be < num_epoch 50')
    assert resolve_config(['--config', path, '--steps', '10', '40'] + PATHS).lr_step_epochs == (10, 40)


@pytest.mark.parametrize('argv,expected', [
    (['--base-lr', '-0.1'], '--base-lr -0.1: must be a finite number > 0'),
    (['--base-lr', 'x'], "argument --base-lr: invalid float value: 'x'"),
    (['--batch-size', '0'], '--batch-size 0: must be >= 1'),
    (['--steps', '50', '10'], '--steps 50 10: must be strictly increasing'),
    (['--eval-freq', '0'], '--eval-freq 0: must be >= 1'),
    (['--phase', 'serve'], "argument --phase: invalid choice: 'serve'"),
    (['--mixed-precision', 'fp8'], 'argument --mixed-precision: invalid choice'),
    (['--channels', '16', '32'], '--channels 16 32: must be three positive ints'),
    (['--lr', '0.1'], 'unrecognized arguments: --lr 0.1'),
    (['--weights', ''], '--weights : must not be empty'),
])
def test_flag_errors_name_the_flag(argv, expected):
    assert expected in error_of(argv + PATHS)


@pytest.mark.parametrize('argv,expected', [
    (['--phase', 'predict'], '--phase predict needs --skeleton'),
    (['--phase', 'export'], '--phase export needs --export-dir'),
])
def test_phase_requirements(argv, expected):
    assert error_of(argv).startswith(expected)


def test_data_paths_default_to_the_2019_ports():
    cfg = resolve_config([])
    assert (cfg.train_data_path, cfg.test_data_path) == ('data/ntu/xview/train_data', 'data/ntu/xview/val_data')


def test_missing_config_file(tmp_path):
    assert error_of(['--config', str(tmp_path / 'nope.yaml')]).startswith(f'{tmp_path / "nope.yaml"}: cannot read')


def test_empty_yaml_is_all_defaults(tmp_path):
    cfg = resolve_config(['--config', write(tmp_path, '# nothing\n')] + PATHS)
    assert cfg.base_lr == 0.1 and cfg.lr_step_epochs == (10, 50)


def test_dump_then_load_round_trip(tmp_path):
    path = write(tmp_path, '''
        model_preset: tf2019
        model_args: {num_class: 120, channels: [16, 32, 64], graph_args: {layout: ntu-rgb+d}}
        train_feeder_args: {random_choose: 64}
        step: [10, 40]
        num_epoch: 50
    ''')
    cfg = resolve_config(['--config', path, '--gpus', '0', '1', '--jit', '--no-progress', '--weight-decay', '0',
                          '--save-scores', 's.pkl'] + PATHS)
    out = tmp_path / 'logs' / 'config.yaml'
    dump_config(cfg, str(out))
    assert sorted(p.name for p in out.parent.iterdir()) == ['config.yaml']  # written atomically, no leftovers
    again = resolve_config(['--config', str(out)])
    assert again == RunConfig(**{**cfg.__dict__, 'config': str(out)})
    assert out.read_text().startswith('# Resolved settings of this run')


def test_format_config_lists_every_setting_under_its_yaml_name():
    cfg = resolve_config(['--base-lr', '0.05'] + PATHS)
    text = format_config(cfg)
    assert text.splitlines()[0] == 'config file: (none)'
    assert len(text.splitlines()) == 1 + len(OPTIONS)
    assert any(line.split() == ['base_lr', '0.05'] for line in text.splitlines())
    assert any(line.split() == ['step', '10', '50'] for line in text.splitlines())


def test_help_says_batch_size_is_per_replica():
    assert 'PER REPLICA' in build_parser().format_help()


# Every shipped config, through the strict loader; the recipes' numbers checked exactly.
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'config').rglob('*.yaml'))


def test_all_benchmark_configs_exist():
    for recipe in ('st_gcn', 'tf2019'):
        for bench in ('ntu-xsub', 'ntu-xview', 'ntu120-xsub', 'ntu120-xset'):
            for part in ('train', 'test'):
                assert f'config/{recipe}/{bench}/{part}.yaml' in CONFIGS
    assert 'config/demo.yaml' in CONFIGS


# Every shipped config's resolved values: (phase, preset, num_class, layout, batch_size, base_lr, weight_decay,
# num_epoch, step, random_choose, random_move, the data it reads (train: training set; test: test set), and the
# weights it tests (test) or the scores it keeps for ensembling (train), and the model's dropout as upstream's
# files resolve it: 0.5 in the official NTU configs, none (st_gcn.Model's default 0) in its Kinetics ones, none in
# the 2019 port). The official recipe: paper, lr 0.1,
# wd 1e-4, 80 epochs, steps [10, 50]; the 2019 port's: tf2019, 50 epochs, steps [10, 40]; the paper's Kinetics:
# batch 256, 50 epochs, steps [20, 30, 40], window 150 with random_move (docs/reference.md section 4, docs/departures.md).
SHIPPED = {
    'config/demo.yaml': ('train', 'paper', 60, None, 8, 0.1, 0.0001, 15, (11,), 0, False,
        'demo_out/tfrecord/xsub/train', None, 0.5),
    'config/st_gcn/kinetics/test.yaml': ('test', 'paper', 400, 'openpose', 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/kinetics/val_data_joint', None, 0.0),
    'config/st_gcn/kinetics/train.yaml': ('train', 'paper', 400, 'openpose', 256, 0.1, 0.0001, 50, (20, 30, 40), 150, True,
        'data/kinetics/train_data_joint', None, 0.0),
    'config/st_gcn/ntu-xsub/test.yaml': ('test', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xsub/val_data_joint', 'models/st_gcn.ntu-xsub-300b57d4.pth', 0.5),
    'config/st_gcn/ntu-xsub/train.yaml': ('train', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xsub/train_data_joint', None, 0.5),
    'config/st_gcn/ntu-xsub/train_bone.yaml': ('train', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xsub/train_data_bone', 'logs/st_gcn/ntu-xsub_bone/scores_val.pkl', 0.5),
    'config/st_gcn/ntu-xsub/train_bone_motion.yaml': ('train', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xsub/train_data_bone_motion', 'logs/st_gcn/ntu-xsub_bone_motion/scores_val.pkl', 0.5),
    'config/st_gcn/ntu-xsub/train_joint_motion.yaml': ('train', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xsub/train_data_joint_motion', 'logs/st_gcn/ntu-xsub_joint_motion/scores_val.pkl', 0.5),
    'config/st_gcn/ntu-xview/test.yaml': ('test', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xview/val_data_joint', 'models/st_gcn.ntu-xview-9ba67746.pth', 0.5),
    'config/st_gcn/ntu-xview/train.yaml': ('train', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xview/train_data_joint', None, 0.5),
    'config/st_gcn/ntu-xview/train_bone.yaml': ('train', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xview/train_data_bone', 'logs/st_gcn/ntu-xview_bone/scores_val.pkl', 0.5),
    'config/st_gcn/ntu-xview/train_bone_motion.yaml': ('train', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xview/train_data_bone_motion', 'logs/st_gcn/ntu-xview_bone_motion/scores_val.pkl', 0.5),
    'config/st_gcn/ntu-xview/train_joint_motion.yaml': ('train', 'paper', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu_raw/xview/train_data_joint_motion', 'logs/st_gcn/ntu-xview_joint_motion/scores_val.pkl', 0.5),
    'config/st_gcn/ntu120-xset/test.yaml': ('test', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xset/val_data_joint', 'checkpoints/st_gcn/ntu120-xset', 0.5),
    'config/st_gcn/ntu120-xset/train.yaml': ('train', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xset/train_data_joint', None, 0.5),
    'config/st_gcn/ntu120-xset/train_bone.yaml': ('train', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xset/train_data_bone', 'logs/st_gcn/ntu120-xset_bone/scores_val.pkl', 0.5),
    'config/st_gcn/ntu120-xset/train_bone_motion.yaml': ('train', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xset/train_data_bone_motion', 'logs/st_gcn/ntu120-xset_bone_motion/scores_val.pkl', 0.5),
    'config/st_gcn/ntu120-xset/train_joint_motion.yaml': ('train', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xset/train_data_joint_motion', 'logs/st_gcn/ntu120-xset_joint_motion/scores_val.pkl', 0.5),
    'config/st_gcn/ntu120-xsub/test.yaml': ('test', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xsub/val_data_joint', 'checkpoints/st_gcn/ntu120-xsub', 0.5),
    'config/st_gcn/ntu120-xsub/train.yaml': ('train', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xsub/train_data_joint', None, 0.5),
    'config/st_gcn/ntu120-xsub/train_bone.yaml': ('train', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xsub/train_data_bone', 'logs/st_gcn/ntu120-xsub_bone/scores_val.pkl', 0.5),
    'config/st_gcn/ntu120-xsub/train_bone_motion.yaml': ('train', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xsub/train_data_bone_motion', 'logs/st_gcn/ntu120-xsub_bone_motion/scores_val.pkl', 0.5),
    'config/st_gcn/ntu120-xsub/train_joint_motion.yaml': ('train', 'paper', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120_raw/xsub/train_data_joint_motion', 'logs/st_gcn/ntu120-xsub_joint_motion/scores_val.pkl', 0.5),
    'config/tf2019/ntu-xsub/test.yaml': ('test', 'tf2019', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu/xsub/val_data_joint', 'models/tf2019/xsub', 0.0),
    'config/tf2019/ntu-xsub/train.yaml': ('train', 'tf2019', 60, None, 64, 0.1, 0.0001, 50, (10, 40), 0, False,
        'data/ntu/xsub/train_data_joint', None, 0.0),
    'config/tf2019/ntu-xview/test.yaml': ('test', 'tf2019', 60, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu/xview/val_data_joint', 'models/tf2019/xview', 0.0),
    'config/tf2019/ntu-xview/train.yaml': ('train', 'tf2019', 60, None, 64, 0.1, 0.0001, 50, (10, 40), 0, False,
        'data/ntu/xview/train_data_joint', None, 0.0),
    'config/tf2019/ntu120-xset/test.yaml': ('test', 'tf2019', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120/xset/val_data_joint', 'checkpoints/tf2019/ntu120-xset', 0.0),
    'config/tf2019/ntu120-xset/train.yaml': ('train', 'tf2019', 120, None, 64, 0.1, 0.0001, 50, (10, 40), 0, False,
        'data/ntu120/xset/train_data_joint', None, 0.0),
    'config/tf2019/ntu120-xsub/test.yaml': ('test', 'tf2019', 120, None, 64, 0.1, 0.0001, 80, (10, 50), 0, False,
        'data/ntu120/xsub/val_data_joint', 'checkpoints/tf2019/ntu120-xsub', 0.0),
    'config/tf2019/ntu120-xsub/train.yaml': ('train', 'tf2019', 120, None, 64, 0.1, 0.0001, 50, (10, 40), 0, False,
        'data/ntu120/xsub/train_data_joint', None, 0.0),
    'config/pyskl/demo.yaml': ('train', 'pyskl', None, None, 8, 0.1, 0.0005, 2, (), 0, False,
        'demo_out/pyskl/ntu60_3danno.pkl', None, 0.0),
}


PYSKL_CONFIGS = [p for p in CONFIGS if p.startswith('config/pyskl/') and p != 'config/pyskl/demo.yaml']
# PYSKL's recipe (kennymckormick/pyskl:configs/stgcn/stgcn_pyskl_*/{j,b,jm,bm}.py, docs/reference.md section 8).
PYSKL_RECIPE = dict(phase='train', model_preset='pyskl', base_lr=0.1, lr_reference_batch=128, lr_policy='cosine',
                    lr_step_epochs=(), weight_decay=5e-4, batch_size=16, num_epochs=80, clip_len=100, eval_freq=1)


def test_every_shipped_config_is_in_a_table():
    assert len(PYSKL_CONFIGS) == 4 * 2 * 4  # NTU-60 xsub/xview, NTU-120 xsub/xset; 3D and HRNet 2D; 4 streams
    assert sorted(list(SHIPPED) + PYSKL_CONFIGS) == CONFIGS


@pytest.mark.parametrize('path', PYSKL_CONFIGS)
def test_pyskl_configs_resolve_to_pyskls_recipe(path):
    cfg = resolve_config(['--config', path])
    text = pathlib.Path(ROOT, path).read_text()
    assert 'python main.py --config ' + path in text and 'Expected' in text and '--num-clips 10' in text
    benchmark, stream = pathlib.Path(path).parent.name, pathlib.Path(path).stem  # e.g. ntu60-xsub-3d, j
    dataset, split, kind = benchmark.split('-')
    assert {key: getattr(cfg, key) for key in PYSKL_RECIPE} == PYSKL_RECIPE
    pickle_name = f'{dataset}_3danno.pkl' if kind == '3d' else f'{dataset}_hrnet.pkl'
    assert (cfg.train_data_path, cfg.test_data_path) == (f'data/nturgbd/{pickle_name}',) * 2
    assert (cfg.train_split, cfg.test_split, cfg.stream) == (f'{split}_train', f'{split}_val', stream)
    model = model_config(cfg)
    assert (model.num_class, model.dropout, model.partition, model.init) == (
        60 if dataset == 'ntu60' else 120, 0.0, 'stgcn_spatial', 'pyskl')
    assert model.layout == ('ntu-rgb+d-pyskl' if kind == '3d' else 'coco')


@pytest.mark.parametrize('path', sorted(SHIPPED))
def test_shipped_config_resolves_to_its_recipe(path):
    cfg = resolve_config(['--config', path])
    text = pathlib.Path(ROOT, path).read_text()
    assert 'python main.py --config ' + path in text and 'Expected' in text  # says how it is run and what it reaches
    data = cfg.train_data_path if cfg.phase == 'train' else cfg.test_data_path
    other = cfg.weights if cfg.phase == 'test' else cfg.save_scores
    assert (cfg.phase, cfg.model_preset, cfg.num_class, cfg.layout, cfg.batch_size, cfg.base_lr, cfg.weight_decay,
            cfg.num_epochs, cfg.lr_step_epochs, cfg.random_choose, cfg.random_move, data, other,
            model_config(cfg).dropout) == SHIPPED[path]
