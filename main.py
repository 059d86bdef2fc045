"""ST-GCN on NTU RGB+D and Kinetics-skeleton: train, test, predict or export.

    python main.py --train-data-path DIR --test-data-path DIR [--config config/....yaml] [flags]
    python main.py --phase test --test-data-path DIR --weights PATH
    python main.py --phase predict --weights PATH --skeleton FILE [...]
    python main.py --phase export --weights PATH --export-dir DIR

This file is the command line only: it resolves the config (training/config.py), dispatches by phase
(training/loop.py, training/evaluation.py, serving/) and is the one place that turns errors into one
`error: ...` line on stderr and exit code 2. TensorFlow is imported once, after the config is resolved, so a
config error is reported before TensorFlow starts.
"""
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from training.config import DEFAULT_NUM_CLASS, ConfigError, dump_config, format_config, resolve_config  # noqa: E402


def run(cfg):
    """Run the train or test phase of a resolved config: the trained model (train) or the metrics (test)."""
    from training import evaluation, loop, strategy as strategies
    from training.inputs import check_outputs

    check_outputs(cfg)
    strategy = strategies.make_strategy(cfg)
    chief = strategies.is_chief(strategy)
    if chief:
        os.makedirs(cfg.log_dir, exist_ok=True)
        dump_config(cfg, os.path.join(cfg.log_dir, 'config.yaml'))
    strategies.seed_and_precision(cfg)
    if cfg.phase == 'train':
        return loop.train(cfg, strategy, chief)
    return evaluation.test(cfg, strategy, chief)


def serve(cfg):
    """--phase predict or export: one process, float32, nothing written but the results (stdout stays clean
    for --json); the resolved config goes to stderr with --verbose."""
    import serving
    from serving import export, predict

    if cfg.verbose:
        print(format_config(cfg), file=sys.stderr, flush=True)
    try:
        return (predict if cfg.phase == 'predict' else export).run(cfg)
    except serving.ServingError as err:
        return fail(err)


def main(argv=None):
    try:
        cfg = resolve_config(argv)
    except ConfigError as err:
        return fail(err)
    if cfg.phase in ('predict', 'export'):
        return serve(cfg)
    print(format_config(cfg), flush=True)
    import tensorflow as tf

    from feeders.tfrecord_feeder import RECORD_CHECK, find_corrupt_shard
    from model.errors import WeightsError
    from training.errors import LABEL_CHECK, NonFiniteLoss, Preempted, UsageError
    from training.evaluation import NAME_CHECK

    try:
        run(cfg)
    except (UsageError, WeightsError) as err:
        return fail(err)
    except tf.errors.DataLossError:
        return fail(corrupt_shard_message(cfg, find_corrupt_shard))
    except tf.errors.InvalidArgumentError as err:
        # The in-graph checks of the input pipeline and the steps: their message is in TensorFlow's.
        if LABEL_CHECK in err.message:
            return fail(f'--train-data-path {cfg.train_data_path}: {LABEL_CHECK} '
                        f'{cfg.num_class or DEFAULT_NUM_CLASS}; give the number of classes in the data')
        if NAME_CHECK in err.message:
            return fail(f'--test-data-path {cfg.test_data_path}: {NAME_CHECK}')
        line = next((line for line in err.message.splitlines() if RECORD_CHECK in line), None)
        if line is None:
            raise
        return fail(line.strip().strip('[]') + '; regenerate the shards with data_gen/gen_tfrecord_data.py')
    except NonFiniteLoss as err:
        return fail(err, code=1)
    except Preempted as err:
        print(err, file=sys.stderr, flush=True)
        return 143
    return 0


def corrupt_shard_message(cfg, find_corrupt_shard):
    """After a DataLossError (which names no file): which shard is corrupt, and what to do."""
    for folder in (cfg.train_data_path, cfg.test_data_path):
        found = folder and os.path.isdir(folder) and find_corrupt_shard(folder)
        if found:
            return f'{found[0]}: corrupted TFRecord ({found[1]}); regenerate it with data_gen/gen_tfrecord_data.py'
    return 'a TFRecord shard is corrupted (TensorFlow did not say which, and no shard fails on a re-read)'


def fail(message, code=2):
    """Print the one `error:` line, last on stderr; returns the exit code."""
    print(f'error: {message}', file=sys.stderr, flush=True)
    return code


if __name__ == '__main__':
    sys.exit(main())
