"""Export trained weights for deployment: a SavedModel, a TFLite file and meta.json in one folder.

    python main.py --phase export --weights W --export-dir DIR

DIR/saved_model.pb, variables/  signature `serving_default`: x float32 (batch, C, T, V, M), batch and T dynamic
                                -> {'logits': (batch, num_class), 'probabilities': softmax of the logits}
DIR/model.tflite                the same signature; batch and T stay dynamic (the interpreter's signature
                                runner resizes the input to each call)
DIR/meta.json                   {"format": "stgcn-export", "preset", "data_mode", "max_frame", "num_class",
                                "config" (the model's, its layout included), "source"}, plus "class_names" and
                                "stream" when the weights record them: inputs are
                                data_gen.preprocess.skeleton_to_sample(path, mode=data_mode)

The folder is built under a temporary name beside DIR and swapped into place when complete
(storage.files.atomic_folder), so DIR holds a complete export (briefly none between the renames).
"""
import os

import keras
import tensorflow as tf

from serving import ServingError, load_model
from storage import files

SIGNATURE = 'serving_default'
TFLITE_NAME = 'model.tflite'
ONNX_NAME = 'model.onnx'
META_NAME = files.META_NAME
EXPORT_FORMAT = 'stgcn-export'  # meta.json's `format`: the marker of a folder this phase may replace


def run(cfg):
    """The export phase: write --export-dir from --weights. Returns the exit code (0)."""
    dest = os.path.abspath(cfg.export_dir)
    check_destination(dest, cfg)
    model = load_model(cfg)
    if cfg.export_format == 'onnx':
        return export_onnx_folder(cfg, model, dest)
    with files.atomic_folder(dest) as tmp:
        tflite_bytes = export_to(model, str(tmp))
    config = model.config
    print(f'wrote {cfg.export_dir}: SavedModel (signature {SIGNATURE}: x float32 (batch, {config.in_channels}, T, '
          f'{model.num_node}, {config.num_person}), batch and T dynamic -> logits, probabilities), {TFLITE_NAME} '
          f'({len(tflite_bytes) / 2 ** 20:.1f} MiB, same signature), {META_NAME} '
          f'(data mode {model.meta["data_mode"]})', flush=True)
    return 0


def export_onnx_folder(cfg, model, dest):
    """--format onnx: DIR/model.onnx (input x (batch, C, T, V, M), batch and T dynamic -> logits,
    probabilities) and meta.json."""
    try:
        from serving.onnx_export import export_onnx
        import tf2onnx  # noqa: F401 (the optional extra: say so before any work)
    except ImportError:
        raise ServingError('--format onnx needs the optional extra: pip install -r requirements-onnx.txt') from None
    with files.atomic_folder(dest) as tmp:
        export_onnx(model, os.path.join(tmp, ONNX_NAME), cfg.opset)
        files.write_meta(dict(export_meta(model), opset=cfg.opset), tmp)
    print(f'wrote {cfg.export_dir}: {ONNX_NAME} (opset {cfg.opset}; x float32 (batch, {model.config.in_channels}, '
          f'T, {model.num_node}, {model.config.num_person}), batch and T dynamic -> logits, probabilities), '
          f'{META_NAME} (data mode {model.meta["data_mode"]})', flush=True)
    return 0


def check_destination(dest, cfg):
    """The export replaces `dest` whole: refuse a folder that is not an earlier export, and any folder that
    holds the weights being exported."""
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ServingError(f'--export-dir {cfg.export_dir}: exists and is not a folder')
    if cfg.weights:
        weights = os.path.abspath(cfg.weights)
        if os.path.commonpath([weights, dest]) in (weights, dest):
            raise ServingError(f'--export-dir {cfg.export_dir}: holds or is inside --weights {cfg.weights}; '
                               'the export replaces the whole folder: give another one')
    if os.path.isdir(dest) and os.listdir(dest) and not is_export(dest):
        raise ServingError(f'--export-dir {cfg.export_dir}: a non-empty folder that is not an earlier export; the '
                           'export replaces the whole folder: give a new or empty one')


def is_export(folder):
    """Whether `folder` is one this phase wrote: its meta.json says so (older exports: the three files)."""
    try:
        meta = files.read_meta(folder)
    except files.StorageError:
        return False
    if meta.get('format') == EXPORT_FORMAT:
        return True
    return bool(meta) and all(os.path.exists(os.path.join(folder, name)) for name in ('saved_model.pb', TFLITE_NAME))


def export_to(model, folder):
    """Write the SavedModel, model.tflite and meta.json into the existing empty `folder`; returns the TFLite
    flatbuffer."""
    config = model.config
    archive = keras.export.ExportArchive()
    # ExportArchive tracks the Keras variables so that the TFLite converter folds them into constants; a plain
    # tf.Module wrapper (tf.saved_model.save) left READ_VARIABLE ops that TFLite ran on uninitialised values.
    archive.track(model)
    spec = tf.TensorSpec((None, config.in_channels, None, model.num_node, config.num_person), tf.float32, name='x')
    archive.add_endpoint(SIGNATURE, lambda x: serve(model, x), input_signature=[spec])
    archive.write_out(folder, verbose=False)

    tflite_bytes = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
    files.write_bytes(tflite_bytes, os.path.join(folder, TFLITE_NAME))
    files.write_meta(export_meta(model), folder)
    return tflite_bytes


def export_meta(model):
    meta = {'format': EXPORT_FORMAT, 'preset': model.meta['preset'], 'data_mode': model.meta['data_mode'],
            'max_frame': model.meta['max_frame'], 'num_class': model.config.num_class,
            'config': model.config.to_dict(), 'source': model.meta['source']}
    if model.meta.get('class_names'):  # the user's names of the labels (--class-names), one per class
        meta['class_names'] = list(model.meta['class_names'])
    if model.meta.get('stream'):  # the PYSKL feature stream the weights take
        meta['stream'] = model.meta['stream']
    return meta


def serve(model, x):
    """Shape: x (batch, C, T, V, M) -> {'logits', 'probabilities'}, each (batch, num_class) float32."""
    logits = model(x, training=False)
    return {'logits': logits, 'probabilities': tf.nn.softmax(logits)}
