"""Serving trained weights: classify pose recordings (serving.predict; inputs read by serving.pose_input,
classified by the weights' protocol, serving.protocol), export a SavedModel and a TFLite file (serving.export),
classify a long recording window by window or as a stream (serving.windows). All read any weights
model.weights.load_pretrained accepts."""
from model.errors import WeightsError
from storage.class_names_file import load_class_names
from storage.files import StorageError


class ServingError(Exception):
    """Bad input to predict or export (missing file, malformed skeleton, unusable weights); main prints
    `error: <message>` and exits with code 2."""


def load_model(cfg):
    """The model at --weights, checked to record the preprocessing (data_mode) its inputs need.

    Returns a built STGCN with model.meta = {'preset', 'data_mode', 'max_frame', 'source'} (and 'class_names',
    'stream' when recorded); --class-names, when given, replaces the weights' names for this run.
    """
    from model.weights import load_pretrained  # imports TensorFlow: only when a phase runs
    from serving.protocol import MODES

    if cfg.weights is None:
        raise ServingError(f'--phase {cfg.phase} needs --weights (a .pth, a 2019 TF checkpoint, this project\'s '
                           f'checkpoint or .weights.h5)')
    try:
        model = load_pretrained(cfg.weights, cfg.num_class)  # --num-classes, when given, must be the weights'
    except WeightsError as err:
        raise ServingError(str(err)) from None
    mode = model.meta.get('data_mode')
    if mode not in MODES:
        raise ServingError(f'--weights {cfg.weights}: records data_mode {mode!r}, expected one of '
                           f'{", ".join(MODES)}; re-save the weights with python -m model.weights')
    if cfg.class_names:
        try:
            model.meta['class_names'] = load_class_names(cfg.class_names, model.config.num_class)
        except StorageError as err:
            raise ServingError(f'--class-names {err}') from None
    return model


# After ServingError, which serving.windows imports.
from serving.windows import StreamingRecognizer  # noqa: E402

__all__ = ['ServingError', 'StreamingRecognizer', 'load_model']
