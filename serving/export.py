"""Export trained weights for deployment: a SavedModel, a TFLite file and meta.json in one folder.

    python main.py --phase export --weights W --export-dir DIR

DIR/saved_model.pb, variables/  signature `serving_default`: x float32 (batch, C, T, V, M), batch and T dynamic
                                -> {'logits': (batch, num_class), 'probabilities': softmax of the logits}
DIR/model.tflite                the same signature; batch and T stay dynamic (the interpreter's signature
                                runner resizes the input to each call)
DIR/meta.json                   {"preset", "data_mode", "num_class", "source"}: inputs are
                                data_gen.preprocess.skeleton_to_sample(path, mode=data_mode)

The folder is built under a temporary name beside DIR and renamed into place when complete; an existing DIR
is moved aside first and deleted afterwards, so DIR holds a complete export (briefly none between the renames).
"""
import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from serving import ServingError, load_model

SIGNATURE = 'serving_default'
TFLITE_NAME = 'model.tflite'
META_NAME = 'meta.json'


def run(cfg):
    """The export phase: write --export-dir from --weights. Returns the exit code (0)."""
    dest = os.path.abspath(cfg.export_dir)
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ServingError(f'--export-dir {cfg.export_dir}: exists and is not a folder')
    model = load_model(cfg)
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    # os.mkdir, not tempfile.mkdtemp: the export keeps the umask's permissions instead of mkdtemp's 0700.
    tmp = os.path.join(parent, f'.{os.path.basename(dest)}.tmp-{os.getpid()}')
    shutil.rmtree(tmp, ignore_errors=True)  # left by a killed run of the same pid
    os.mkdir(tmp)
    try:
        tflite_bytes = export_to(model, tmp)
        replace_folder(tmp, dest)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    config = model.config
    print(f'wrote {cfg.export_dir}: SavedModel (signature {SIGNATURE}: x float32 (batch, {config.in_channels}, T, '
          f'{model.num_node}, {config.num_person}), batch and T dynamic -> logits, probabilities), {TFLITE_NAME} '
          f'({len(tflite_bytes) / 2 ** 20:.1f} MiB, same signature), {META_NAME} '
          f'(data mode {model.meta["data_mode"]})', flush=True)
    return 0


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
    write_bytes(os.path.join(folder, TFLITE_NAME), tflite_bytes)
    meta = {'preset': model.meta['preset'], 'data_mode': model.meta['data_mode'], 'num_class': config.num_class,
            'source': model.meta['source']}
    write_bytes(os.path.join(folder, META_NAME), (json.dumps(meta, indent=2) + '\n').encode())
    return tflite_bytes


def serve(model, x):
    """Shape: x (batch, C, T, V, M) -> {'logits', 'probabilities'}, each (batch, num_class) float32."""
    logits = model(x, training=False)
    return {'logits': logits, 'probabilities': tf.nn.softmax(logits)}


def write_bytes(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def replace_folder(src, dest):
    """Rename the finished folder `src` to `dest`. An existing `dest` is first moved into a temporary folder
    beside it (a rename cannot replace a non-empty folder) and deleted once `src` is in place."""
    if not os.path.exists(dest):
        os.rename(src, dest)
        return
    trash = tempfile.mkdtemp(prefix=f'.{os.path.basename(dest)}-old-', dir=os.path.dirname(dest))
    old = os.path.join(trash, 'old')
    os.rename(dest, old)
    try:
        os.rename(src, dest)
    except BaseException:
        os.rename(old, dest)  # keep the previous export when the new one cannot take its place
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)
