"""A reference of the 2019 TF port's ST-GCN (docs/reference.md section 5), written for the parity tests.

The port was Keras-2 code (tf.keras.Model subclasses and Sequentials, channels_first). Keras 3 no longer writes
Keras-2 checkpoint names, so this reference rebuilds the port from `tf.Module`s whose attribute names are the
port's: `tf.train.Checkpoint(model=reference, optimizer=ReferenceSGD(reference)).save(prefix)` writes the
object graph of the Dropbox checkpoints, `model/STGCN_layers/{i}/tgcn/layer_with_weights-{k}/...` included,
plus Keras-2 style optimizer hyper-parameters and momentum slots.

The forward pass uses raw TF ops only (einsum, explicit padding, VALID convolutions), independent of the
project's Keras layers, and computes channels_first like the port: (N*M, C, T, V).
"""
import numpy as np
import tensorflow as tf

from graphs import Graph

BN_EPSILON = 1e-3  # Keras 2 BatchNormalization default; the port never changed it
TEMPORAL_KERNEL = 9
# The ten blocks as the port lists them: (C_in, C_out, stride, residual).
BLOCKS = [
    (3, 64, 1, 'none'),
    (64, 64, 1, 'identity'),
    (64, 64, 1, 'identity'),
    (64, 64, 1, 'identity'),
    (64, 128, 2, 'conv'),
    (128, 128, 1, 'identity'),
    (128, 128, 1, 'identity'),
    (128, 256, 2, 'conv'),
    (256, 256, 1, 'identity'),
    (256, 256, 1, 'identity'),
]


class BatchNorm(tf.Module):
    """Inference-mode BatchNormalization(axis=1) with the Keras variable names.

    Shape: input (N, C, ...) -> same shape.
    """

    def __init__(self, channels, rng):
        super().__init__()
        self.gamma = tf.Variable(rng.uniform(0.5, 1.5, channels).astype(np.float32), name='gamma')
        self.beta = tf.Variable(rng.normal(0.0, 0.1, channels).astype(np.float32), name='beta')
        self.moving_mean = tf.Variable(np.zeros(channels, np.float32), trainable=False, name='moving_mean')
        self.moving_variance = tf.Variable(np.ones(channels, np.float32), trainable=False,
                                           name='moving_variance')
        self._rng = rng
        self.calibrating = False

    def __call__(self, x):
        if self.calibrating:
            self._calibrate(x)
        stat_shape = [1, -1] + [1] * (len(x.shape) - 2)  # broadcast over every axis but channels
        scale = self.gamma * tf.math.rsqrt(self.moving_variance + BN_EPSILON)
        shift = self.beta - self.moving_mean * scale
        return x * tf.reshape(scale, stat_shape) + tf.reshape(shift, stat_shape)

    def _calibrate(self, x):
        """Set the moving statistics near those of `x`, so every layer sees O(1) activations."""
        axes = [0] + list(range(2, len(x.shape)))
        mean, variance = tf.nn.moments(x, axes)
        channels = mean.shape[0]
        # Perturbed so that the statistics are not exactly the batch's; the floor keeps channels that are
        # constant in the calibration batch (e.g. an absent second person) positive, as training leaves them.
        self.moving_mean.assign(mean + 0.05 * tf.sqrt(variance) * self._rng.normal(size=channels))
        self.moving_variance.assign(variance * self._rng.uniform(0.8, 1.25, channels) + 1e-2)


class Conv(tf.Module):
    """Keras-2 Conv2D(data_format='channels_first', padding='same') over (T, V) with a (k, 1) kernel.

    Shape: input (N, C_in, T, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(self, c_in, c_out, kernel_size, stride, rng):
        super().__init__()
        fan_in = kernel_size * c_in
        self.kernel = tf.Variable(
            rng.normal(0.0, np.sqrt(2.0 / fan_in), (kernel_size, 1, c_in, c_out)).astype(np.float32),
            name='kernel')
        self.bias = tf.Variable(rng.normal(0.0, 0.1, c_out).astype(np.float32), name='bias')
        self.stride = stride

    def __call__(self, x):
        kernel_size, t = self.kernel.shape[0], x.shape[2]
        before, after = same_padding(t, kernel_size, self.stride)
        x = tf.transpose(x, [0, 2, 3, 1])  # (N, T, V, C_in)
        x = tf.pad(x, [[0, 0], [before, after], [0, 0], [0, 0]])
        y = tf.nn.conv2d(x, self.kernel, strides=[1, self.stride, 1, 1], padding='VALID')  # (N, T', V, C_out)
        return tf.transpose(y + self.bias, [0, 3, 1, 2])  # (N, C_out, T', V)


def same_padding(length, kernel_size, stride):
    """Keras/TF "same" padding (before, after) of one axis: the odd pad goes after, e.g. (3, 4) at stride 2."""
    out = -(-length // stride)
    total = max((out - 1) * stride + kernel_size - length, 0)
    return total // 2, total - total // 2


class Sequential(tf.Module):
    """A Keras-2 Sequential as its checkpoint sees it: the k-th layer holding weights is `layer_with_weights-k`.

    `layers` may mix modules and plain functions (the Activation layers, which hold no weights).
    """

    def __init__(self, layers):
        super().__init__()
        self._layers = self._no_dependency(list(layers))
        weighted = [layer for layer in layers if isinstance(layer, tf.Module)]
        for k, layer in enumerate(weighted):
            setattr(self, f'layer_with_weights-{k}', layer)

    def __call__(self, x):
        for layer in self._layers:
            x = layer(x)
        return x


class SGCN(tf.Module):
    """The port's spatial graph conv: 1x1 conv to K*C_out channels (k-major), then einsum with A.

    Shape: input (N, C_in, T, V), A (K, V, V) -> (N, C_out, T, V).
    """

    def __init__(self, c_in, c_out, num_subsets, rng):
        super().__init__()
        self.conv = Conv(c_in, num_subsets * c_out, 1, 1, rng)
        self.num_subsets = num_subsets

    def __call__(self, x, A):
        x = self.conv(x)  # (N, K*C_out, T, V)
        n, kc, t, v = x.shape
        x = tf.reshape(x, [n, self.num_subsets, kc // self.num_subsets, t, v])  # (N, K, C_out, T, V)
        return tf.einsum('nkctv,kvw->nctw', x, A)


class STGCNBlock(tf.Module):
    """One port block: residual from the input, sgcn -> tgcn (BN, ReLU, 9x1 conv, BN), add, ReLU.

    Shape: input (N, C_in, T, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(self, c_in, c_out, stride, residual, num_subsets, rng):
        super().__init__()
        self.sgcn = SGCN(c_in, c_out, num_subsets, rng)
        self.tgcn = Sequential([BatchNorm(c_out, rng), tf.nn.relu,
                                Conv(c_out, c_out, TEMPORAL_KERNEL, stride, rng), BatchNorm(c_out, rng)])
        if residual == 'conv':
            self.residual = Sequential([Conv(c_in, c_out, 1, stride, rng), BatchNorm(c_out, rng)])
        elif residual == 'identity':
            self.residual = lambda x: x
        else:
            self.residual = lambda x: 0.0  # the first block has none

    def __call__(self, x, A):
        res = self.residual(x)
        x = self.tgcn(self.sgcn(x, A))
        return tf.nn.relu(x + res)


class TF2019Reference(tf.Module):
    """The 2019 port's Model: data_bn over V*C, ten blocks, pooling, mean over persons, 1x1 conv logits.

    Shape: input (N, C, T, V, M) -> logits (N, num_class).
    """

    def __init__(self, num_class=60, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        A = Graph('ntu-rgb+d', 'agcn').A
        num_subsets, num_node = A.shape[0], A.shape[1]
        self.A = tf.Variable(A, trainable=False, name='A')
        self.data_bn = BatchNorm(BLOCKS[0][0] * num_node, rng)
        self.STGCN_layers = [STGCNBlock(c_in, c_out, stride, residual, num_subsets, rng)
                             for c_in, c_out, stride, residual in BLOCKS]
        self.logits = Conv(BLOCKS[-1][1], num_class, 1, 1, rng)

    def block_outputs(self, x):
        """Every block's output, (N*M, C_i, T_i, V) each; the last one feeds the head."""
        n, c, t, v, m = x.shape
        x = tf.transpose(x, [0, 4, 3, 1, 2])  # (N, M, V, C, T)
        x = tf.reshape(x, [n * m, v * c, t])  # (N*M, V*C, T): data_bn channel index v*C + c
        x = self.data_bn(x)
        x = tf.reshape(x, [n, m, v, c, t])  # (N, M, V, C, T)
        x = tf.transpose(x, [0, 1, 3, 4, 2])  # (N, M, C, T, V)
        x = tf.reshape(x, [n * m, c, t, v])  # (N*M, C, T, V)
        outputs = []
        for block in self.STGCN_layers:
            x = block(x, self.A)
            outputs.append(x)
        return outputs

    def __call__(self, x):
        n, m = x.shape[0], x.shape[4]
        features = self.block_outputs(x)[-1]  # (N*M, C, T', V)
        pooled = tf.reduce_mean(features, axis=[2, 3])  # (N*M, C)
        pooled = tf.reshape(pooled, [n, m, -1, 1, 1])  # (N, M, C, 1, 1)
        pooled = tf.reduce_mean(pooled, axis=1)  # (N, C, 1, 1)
        return tf.reshape(self.logits(pooled), [n, -1])  # (N, num_class)

    def calibrate(self, x):
        """Set every BatchNorm's moving statistics from a forward pass on `x` (N, C, T, V, M)."""
        norms = [module for module in self.submodules if isinstance(module, BatchNorm)]
        for norm in norms:
            norm.calibrating = True
        self(x)
        for norm in norms:
            norm.calibrating = False


class ReferenceSGD(tf.Module):
    """What a Keras-2 SGD(momentum) adds to a checkpoint: `optimizer/{iter,decay,learning_rate,momentum}` and a
    momentum slot per trainable variable, written by tf.train.Checkpoint as
    `<variable key>/.OPTIMIZER_SLOT/optimizer/momentum`. The slot values are random: a loader must ignore them.
    """

    def __init__(self, model, seed=1):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.iter = tf.Variable(np.int64(31250), trainable=False, name='iter')
        self.decay = tf.Variable(0.0, trainable=False, name='decay')
        self.learning_rate = tf.Variable(0.01, trainable=False, name='learning_rate')
        self.momentum = tf.Variable(0.9, trainable=False, name='momentum')
        # Slots are found through get_slot(), not as dependencies: a tracked slot would be saved twice.
        self._slots = self._no_dependency({
            variable.ref(): tf.Variable(rng.normal(0.0, 1e-3, variable.shape).astype(np.float32),
                                        trainable=False)
            for variable in model.trainable_variables})

    def get_slot_names(self):
        return ['momentum']

    def get_slot(self, variable, slot_name):
        if slot_name != 'momentum' or not isinstance(variable, tf.Variable):
            return None
        return self._slots.get(variable.ref())
