"""Export a model to ONNX with tf2onnx (optional: pip install -r requirements-onnx.txt).

    export_onnx(model, 'model.onnx')   # input x float32 (batch, C, T, V, M) -> logits, probabilities

The graph is traced from serving.export.serve, the function behind the SavedModel's `serving_default`, so
the ONNX file has the same input and outputs; batch and T stay dynamic (named `batch` and `T`). The Keras
variables are frozen into the graph as constants. tests/test_onnx_export.py compares onnxruntime to Keras.
"""
import tensorflow as tf

from serving.export import serve
from storage import files

DEFAULT_OPSET = 17  # an opset every onnxruntime since 1.11 runs; tf2onnx 1.17 converts up to 18
DYNAMIC_AXES = {'x': ('batch', None, 'T', None, None), 'logits': ('batch', None),
                'probabilities': ('batch', None)}


def export_onnx(model, path, opset=DEFAULT_OPSET):
    """Write `model` as an ONNX file at `path` (atomically); returns the ModelProto.

    Shape: input x float32 (batch, C, T, V, M) -> logits, probabilities (batch, num_class) float32.
    """
    import tf2onnx  # optional dependency: imported only when exporting

    config = model.config
    spec = (tf.TensorSpec((None, config.in_channels, None, model.num_node, config.num_person), tf.float32,
                          name='x'),)
    function = tf.function(lambda x: serve(model, x))
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=opset)
    for value in list(proto.graph.input) + list(proto.graph.output):
        # tf2onnx names unknown dimensions unk__N; readable names tell a user which ones are free
        for dim, name in zip(value.type.tensor_type.shape.dim, DYNAMIC_AXES[value.name]):
            if name is not None:
                dim.dim_param = name
    files.write_bytes(proto.SerializeToString(), path)
    return proto
