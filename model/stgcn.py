"""ST-GCN (Yan, Xiong, Lin, AAAI 2018) in Keras 3, computing channels_last.

The official PyTorch model computes (N*M, C, T, V); this one transposes the stored (N, C, T, V, M) input once
to (N*M, T, V, C) and stays there, so every conv is a plain channels_last op. One class serves the `paper`
preset (the official model), the `tf2019` preset (the 2019 TF port) and the `pyskl` preset (PYSKL's and
mmaction2 1.x's ST-GCN, the same computation on another graph); see model/config.py.
"""
import keras
import numpy as np
import tensorflow as tf
from keras import ops

from graphs import Graph
from model.config import STGCNConfig, make_config

TEMPORAL_KERNEL = 9
# PyTorch's padding=4 pads both sides by (9 - 1) // 2, also at stride 2; Keras "same" would pad (3, 4) there.
SYMMETRIC_PAD = (TEMPORAL_KERNEL - 1) // 2
# What model.meta records about the weights (model/weights.py) and what get_config carries into a `.keras` file.
META_KEYS = ('preset', 'data_mode', 'max_frame', 'class_names', 'stream')


def _conv_init(init, fan_in):
    """(kernel, bias) initialisers of a conv (or the Dense standing for a 1x1 conv) with `fan_in` inputs per
    output: in_channels x kernel taps, as torch counts it."""
    if init == 'official':  # the official weights_init: every conv N(0, 0.02), bias 0
        return keras.initializers.RandomNormal(0.0, 0.02), 'zeros'
    if init == 'pyskl':
        # torch.nn.Conv2d.reset_parameters, which PYSKL keeps: kaiming_uniform(a=sqrt(5)) is U(+-1/sqrt(fan_in))
        # (gain sqrt(1/3), bound sqrt(3) * gain / sqrt(fan_in)), and the bias U(+-1/sqrt(fan_in)).
        bound = 1.0 / np.sqrt(fan_in)
        return (keras.initializers.VarianceScaling(1.0 / 3.0, 'fan_in', 'uniform'),
                keras.initializers.RandomUniform(-bound, bound))
    return 'glorot_uniform', 'zeros'


def _head_init(init):
    if init == 'official':  # the official weights_init on the 1x1 conv head
        return keras.initializers.RandomNormal(0.0, 0.02)
    if init == 'pyskl':  # kennymckormick/pyskl:pyskl/models/heads/simple_head.py:SimpleHead.init_weights
        return keras.initializers.RandomNormal(0.0, 0.01)
    return 'glorot_uniform'


def _gamma_init(init):
    # The official weights_init: every BatchNorm weight N(1, 0.02), bias 0.
    return keras.initializers.RandomNormal(1.0, 0.02) if init == 'official' else 'ones'


# The layers are registered so that a `.keras` file (model.save) names them by package; their configs are
# plain JSON, so keras.models.load_model rebuilds them without custom_objects.
@keras.saving.register_keras_serializable(package='stgcn')
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization computed by TensorFlow's fused kernel on (B, H, W, C) inputs.

    Keras 3 has no fused batch norm; its moments + normalise path costs ~3x the fused kernel in a CPU training
    step (measured: 0.096 s vs 0.035 s forward+backward on (16, 300, 25, 64)). Same variables, same
    inference; in training the moving variance is updated with the unbiased batch variance, as PyTorch's
    BatchNorm (and the 2019 port's tf.keras fused BN) do. Other ranks use the Keras path.
    """

    def call(self, inputs, training=None, mask=None):
        if len(inputs.shape) != 4 or self.axis not in (-1, 3) or mask is not None or not (self.center and self.scale):
            return super().call(inputs, training=training, mask=mask)
        update = bool(training) and self.trainable
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=self.gamma, offset=self.beta, mean=self.moving_mean, variance=self.moving_variance,
            epsilon=self.epsilon, exponential_avg_factor=1.0 - self.momentum, data_format='NHWC',
            is_training=update)
        if update:  # with exponential_avg_factor the kernel returns the updated moving statistics
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
        return ops.cast(y, self.compute_dtype)


def _cross_replica_sum(x):
    """Sum of `x` over the replicas in sync, differentiable: the gradient is the cross-replica sum of dy.

    Every replica's loss depends on every replica's contribution to the global statistics, so each replica
    must receive the sum of all upstream gradients (ReplicaContext.all_reduce alone gives only its own).
    """
    ctx = tf.distribute.get_replica_context()

    @tf.custom_gradient
    def reduce(value):
        def grad(dy):
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, dy)
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, value), grad
    return reduce(x)


@keras.saving.register_keras_serializable(package='stgcn')
class SyncBatchNormalization(keras.layers.BatchNormalization):
    """BatchNormalization whose training statistics are taken over the global batch (--sync-bn).

    Keras' own `synchronized=True` all-reduces the moments but not their gradients: measured here, one
    training step on two replicas moved the layers below a synchronised BN by up to 4.4e-4 away from the
    single-device step; with this layer the two agree to 1.2e-7 (tests/test_distributed.py). The moving
    variance is updated with the biased batch variance, as Keras does.
    """

    def _moments(self, inputs, mask):
        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1 or mask is not None:
            return super()._moments(inputs, mask)
        x = ops.cast(inputs, 'float32')  # statistics in float32 under mixed precision
        axes = list(range(len(x.shape) - 1))
        count = _cross_replica_sum(ops.cast(ops.prod(ops.shape(x)[:-1]), 'float32'))
        mean = _cross_replica_sum(ops.sum(x, axes)) / count  # (C,)
        variance = _cross_replica_sum(ops.sum(ops.square(x - mean), axes)) / count  # two passes: no cancellation
        return ops.cast(mean, inputs.dtype), ops.cast(variance, inputs.dtype)


def _batch_norm(config, **kwargs):
    args = dict(momentum=config.bn_momentum, epsilon=config.bn_epsilon, gamma_initializer=_gamma_init(config.init),
                **kwargs)
    if config.sync_bn:
        # Statistics over the global batch (all-reduced across replicas): the fused kernel cannot do that.
        return SyncBatchNormalization(**args)
    return FusedBatchNormalization(**args)  # statistics per replica, like the official DataParallel


@keras.saving.register_keras_serializable(package='stgcn')
class STGCNBlock(keras.layers.Layer):
    """One spatial-temporal unit: graph conv -> BN -> ReLU -> 9x1 temporal conv -> BN -> dropout, + residual.

    The graph conv is the official ConvTemporalGraphical: a 1x1 conv to K*C_out channels (k-major), then
    out[w] = sum_k sum_v A_k[v, w] * y_k[v], with A multiplied by the block's learnable edge importance
    (computed in the cheaper aggregate-then-conv order, see _graph_conv).

    Shape:
        Input: (N*M, T, V, C_in)
        Output: (N*M, ceil(T / stride), V, C_out)
    """

    def __init__(self, A, config, in_channels, out_channels, stride=1, residual=True, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.A = np.asarray(A, np.float32)  # (K, V, V)
        self.config = config
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.dropout_rate, self.has_residual = dropout, residual
        self.num_subset, self.num_node = A.shape[0], A.shape[1]
        self.use_edge_importance = config.edge_importance
        gcn_kernel, gcn_bias = _conv_init(config.init, in_channels)
        self.gcn_conv = keras.layers.Dense(self.num_subset * out_channels, kernel_initializer=gcn_kernel,
                                           bias_initializer=gcn_bias, name='gcn_conv')
        self.tcn_bn1 = _batch_norm(config, name='tcn_bn1')
        if config.temporal_padding == 'symmetric':
            self.tcn_pad = keras.layers.ZeroPadding2D(((SYMMETRIC_PAD, SYMMETRIC_PAD), (0, 0)), name='tcn_pad')
            conv_padding = 'valid'
        else:
            self.tcn_pad = None
            conv_padding = 'same'
        tcn_kernel, tcn_bias = _conv_init(config.init, TEMPORAL_KERNEL * out_channels)
        self.tcn_conv = keras.layers.Conv2D(out_channels, (TEMPORAL_KERNEL, 1), strides=(stride, 1),
                                            padding=conv_padding, kernel_initializer=tcn_kernel,
                                            bias_initializer=tcn_bias, name='tcn_conv')
        self.tcn_bn2 = _batch_norm(config, name='tcn_bn2')
        self.tcn_dropout = keras.layers.Dropout(dropout, name='tcn_dropout')

        if not residual:
            self.residual = 'none'
        elif in_channels == out_channels and stride == 1:
            self.residual = 'identity'
        else:
            self.residual = 'conv'
            # Stride 1 on every stride-th frame, not strides=(stride, 1): the same numbers, and oneDNN's backward
            # pass of a strided 1x1 conv with fewer than 16 input channels corrupts the heap on CPU (TF 2.21;
            # --channels 8 8 8 crashed the first training step).
            residual_kernel, residual_bias = _conv_init(config.init, in_channels)
            self.residual_conv = keras.layers.Conv2D(out_channels, 1, kernel_initializer=residual_kernel,
                                                     bias_initializer=residual_bias, name='residual_conv')
            self.residual_bn = _batch_norm(config, name='residual_bn')

    def build(self, input_shape):
        in_shape = (None, None, self.num_node, self.in_channels)
        out_shape = (None, None, self.num_node, self.out_channels)
        if self.use_edge_importance:
            self.edge_importance = self.add_weight(shape=self.A.shape, initializer='ones',
                                                   name='edge_importance')
        self.gcn_conv.build(in_shape)
        self.tcn_bn1.build(out_shape)
        self.tcn_conv.build(out_shape)
        self.tcn_bn2.build(out_shape)
        if self.residual == 'conv':
            self.residual_conv.build(in_shape)
            self.residual_bn.build(out_shape)

    def call(self, x, training=False):
        # A frozen block (model/finetune.py freeze_backbone) is a fixed function: its BatchNorms already run in
        # inference mode (Keras' rule for non-trainable BN), and its dropout is off too, as mmaction2 keeps frozen
        # stages in eval mode (open-mmlab/mmaction2:mmaction/models/backbones/resnet.py:ResNet._freeze_stages).
        training = training and self.trainable
        if self.residual == 'none':
            res = 0.0
        elif self.residual == 'identity':
            res = x
        else:
            res = self.residual_bn(self.residual_conv(x[:, ::self.stride]), training=training)  # (N*M, T/s, V, C)

        x = self._graph_conv(x)
        x = ops.relu(self.tcn_bn1(x, training=training))
        if self.tcn_pad is not None:
            x = self.tcn_pad(x)  # (N*M, T + 8, V, C_out)
        x = self.tcn_bn2(self.tcn_conv(x), training=training)
        x = self.tcn_dropout(x, training=training)
        return ops.relu(x + res)

    def _graph_conv(self, x):
        """Shape: (N*M, T, V, C_in) -> (N*M, T, V, C_out).

        Aggregates over the graph first and applies the 1x1 conv after, which is the official conv-then-aggregate
        reordered (both are linear): the graph step then runs on C_in channels instead of K*C_out, and the
        conv becomes one matmul over K*C_in. The official bias is added before the aggregation, so it reaches
        joint w as sum_k bias_k * (column sum of A_k)[w]; that term is added explicitly.
        """
        K, V, C_in, C_out = self.num_subset, self.num_node, self.in_channels, self.out_channels
        T = ops.shape(x)[1]
        A = ops.cast(self.A, self.compute_dtype)
        if self.use_edge_importance:
            A = A * ops.cast(self.edge_importance, self.compute_dtype)
        # aggregate[w*K + k, v] = A[k, v, w]: row (w, k) gathers subset k's messages into joint w.
        aggregate = ops.reshape(ops.transpose(A, (2, 0, 1)), (V * K, V))  # (V*K, V)
        x = ops.reshape(x, (-1, V, C_in))  # (N*M*T, V, C_in)
        x = ops.matmul(aggregate, x)  # (N*M*T, V*K, C_in), row w*K + k
        x = ops.reshape(x, (-1, T, V, K * C_in))  # (N*M, T, V, K*C_in), channel k*C_in + c
        kernel = ops.cast(self.gcn_conv.kernel, self.compute_dtype)  # (C_in, K*C_out), output k*C_out + o
        kernel = ops.transpose(ops.reshape(kernel, (C_in, K, C_out)), (1, 0, 2))  # (K, C_in, C_out)
        kernel = ops.reshape(kernel, (K * C_in, C_out))  # (K*C_in, C_out), row k*C_in + c
        bias = ops.reshape(ops.cast(self.gcn_conv.bias, self.compute_dtype), (K, C_out))  # (K, C_out)
        bias = ops.matmul(ops.transpose(ops.sum(A, axis=1)), bias)  # (V, C_out): column sums (V, K) @ (K, C_out)
        return ops.matmul(x, kernel) + bias  # (N*M, T, V, C_out)

    def get_config(self):
        # A travels as nested lists: a block may hold any graph, not only its config's layout.
        return {**super().get_config(), 'A': self.A.tolist(), 'config': self.config.to_dict(),
                'in_channels': self.in_channels, 'out_channels': self.out_channels, 'stride': self.stride,
                'residual': self.has_residual, 'dropout': self.dropout_rate}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(np.asarray(config.pop('A'), np.float32), STGCNConfig.from_dict(config.pop('config')), **config)


@keras.saving.register_keras_serializable(package='stgcn')
class STGCN(keras.Model):
    """Spatial temporal graph convolutional network.

    Persons are folded into the batch exactly as in the official code: data_bn normalises the V*C features of
    each (person, frame), blocks see N*M independent skeletons, and the head averages over T, V, then M.

    Shape:
        Input: (N, C, T, V, M) float32, the stored layout; N and T dynamic.
        Output: (N, num_class) float32 logits, also under a mixed-precision policy.
    """

    def __init__(self, config=None, **kwargs):
        super().__init__(**kwargs)
        self.config = config if config is not None else STGCNConfig()
        cfg = self.config
        self.A = Graph(cfg.layout, cfg.partition).A  # (K, V, V) float32 constant, not a variable
        self.num_node = self.A.shape[1]
        # Raw coordinates are metres: data_bn runs in float32 (bfloat16 would round 3 m to ~1 cm).
        self.data_bn = _batch_norm(cfg, dtype='float32', name='data_bn')

        A, d = self.A, cfg.dropout
        c1, c2, c3 = cfg.channels
        self.blocks = [  # (graph, config, C_in, C_out, stride): the paper's ten units
            STGCNBlock(A, cfg, cfg.in_channels, c1, 1, residual=False, name='block0'),  # no dropout here
            STGCNBlock(A, cfg, c1, c1, 1, dropout=d, name='block1'),
            STGCNBlock(A, cfg, c1, c1, 1, dropout=d, name='block2'),
            STGCNBlock(A, cfg, c1, c1, 1, dropout=d, name='block3'),
            STGCNBlock(A, cfg, c1, c2, 2, dropout=d, name='block4'),
            STGCNBlock(A, cfg, c2, c2, 1, dropout=d, name='block5'),
            STGCNBlock(A, cfg, c2, c2, 1, dropout=d, name='block6'),
            STGCNBlock(A, cfg, c2, c3, 2, dropout=d, name='block7'),
            STGCNBlock(A, cfg, c3, c3, 1, dropout=d, name='block8'),
            STGCNBlock(A, cfg, c3, c3, 1, dropout=d, name='block9'),
        ]
        # tf.train.Checkpoint does not follow Keras 3's tracked lists: without this, checkpoints would hold
        # only data_bn and fcn, and a resumed run would silently restart the ten blocks from scratch.
        for i, block in enumerate(self.blocks):
            self._track_trackable(block, name=f'block{i}')
        # The logits stay float32 under mixed precision.
        self.fcn = keras.layers.Dense(cfg.num_class, kernel_initializer=_head_init(cfg.init), dtype='float32',
                                      name='fcn')

    @property
    def input_dtype(self):
        # Keep the raw input float32 up to data_bn instead of autocasting it to the compute dtype.
        return 'float32'

    def build(self, input_shape=None):
        V, C = self.num_node, self.config.in_channels
        self.data_bn.build((None, None, 1, V * C))
        for block in self.blocks:
            block.build((None, None, V, block.in_channels))
        self.fcn.build((None, self.config.channels[-1]))

    def call(self, x, training=False):
        x = self._normalize_input(x, training)
        for block in self.blocks:
            x = block(x, training=training)
        return self._head(x)

    def block_outputs(self, x, training=False):
        """The ten blocks' outputs, each (N*M, T_i, V, C_i), for tests that point at one layer."""
        x = self._normalize_input(ops.convert_to_tensor(x, 'float32'), training)
        outputs = []
        for block in self.blocks:
            x = block(x, training=training)
            outputs.append(x)
        return outputs

    def _normalize_input(self, x, training):
        """Shape: (N, C, T, V, M) -> (N*M, T, V, C), data_bn applied, in the compute dtype."""
        C, V = self.config.in_channels, self.num_node
        T = ops.shape(x)[2]
        x = ops.transpose(x, (0, 4, 2, 3, 1))  # (N, M, T, V, C)
        # A unit W axis lets data_bn use the fused kernel, as the other batch norms do.
        x = ops.reshape(x, (-1, T, 1, V * C))  # (N*M, T, 1, V*C), feature v*C + c as in the official data_bn
        x = self.data_bn(x, training=training)
        x = ops.reshape(x, (-1, T, V, C))  # (N*M, T, V, C)
        return ops.cast(x, self.compute_dtype)

    def _head(self, x):
        """Shape: (N*M, T, V, C) -> (N, num_class)."""
        x = ops.mean(x, axis=(1, 2))  # (N*M, C)
        x = ops.reshape(x, (-1, self.config.num_person, ops.shape(x)[-1]))  # (N, M, C)
        x = ops.mean(x, axis=1)  # (N, C)
        return self.fcn(ops.cast(x, 'float32'))

    def get_config(self):
        """The STGCNConfig and, when set, model.meta without its `source` (a `.keras` file is its own source):
        a model saved with model.save keeps its preset, data mode, max_frame, class names and stream."""
        config = {'name': self.name, 'trainable': self.trainable, 'config': self.config.to_dict()}
        meta = getattr(self, 'meta', None)
        if meta:
            # list(): a list held by a Keras attribute comes back wrapped for tracking; JSON wants a plain one.
            config['meta'] = {key: list(meta[key]) if key == 'class_names' else meta[key]
                              for key in META_KEYS if key in meta}
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        meta = config.pop('meta', None)
        model = cls(STGCNConfig.from_dict(config.pop('config')), **config)
        if meta is not None:
            model.meta = dict(meta)
        return model


def build_model(preset='paper', **overrides):
    """A built STGCN (variables exist) for `preset` with config `overrides`, e.g. num_class=120."""
    model = STGCN(make_config(preset, **overrides))
    model.build((None, model.config.in_channels, None, model.num_node, model.config.num_person))
    return model
