"""SGD with exactly torch.optim.SGD's update rule, as the official ST-GCN was trained (docs/reference.md section 4).

For every trainable variable p with gradient g, learning rate lr (read once per step, e.g. from a
LearningRateSchedule), momentum mu and weight decay wd, torch.optim.SGD(momentum=mu, nesterov=True,
weight_decay=wd, dampening=0) does:

    g <- g + wd * p            coupled decay: it enters the momentum buffer like any gradient
    b <- mu * b + g            torch starts with b = g; with dampening 0 a zero buffer gives the same
    p <- p - lr * (g + mu * b) Nesterov; plain momentum uses p <- p - lr * b

scale_learning_rate(variables, x) makes lr x * lr for those variables (torch: a parameter group with its own lr,
which the schedule scales with the others); fine-tuning uses it for the backbone (--backbone-lr-mult).

keras.optimizers.SGD is a different optimizer on two counts, which is why this class exists:
- Its weight_decay is decoupled: p <- p - lr * wd * p is applied outside the gradient, so the decay term
  never goes through the momentum buffer and is not amplified by ~1 / (1 - mu) as in torch.
- It keeps v <- mu * v - lr * g, with lr folded into the buffer. When lr drops 10x, Keras' buffer still
  carries the old lr's steps and decays over ~1 / (1 - mu) steps; torch's buffer is lr-free, so the new lr
  applies at once to the whole accumulated direction.
tests/test_optimizer.py shows both: this class matches torch to 1e-6, Keras' SGD does not.
"""
import keras
from keras import ops

# The official recipe (docs/reference.md section 4): SGD(momentum=0.9, nesterov=True, weight_decay=1e-4).
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4


@keras.saving.register_keras_serializable(package='stgcn')
class TorchSGD(keras.optimizers.Optimizer):
    """torch.optim.SGD semantics (dampening 0) as a Keras 3 optimizer; works under tf.distribute strategies,
    with LearningRateSchedules and inside keras.optimizers.LossScaleOptimizer.

    `weight_decay` here is torch's coupled decay, applied to every variable the optimizer is given (the
    official code decays biases and BatchNorm parameters too). The base class's own, decoupled
    `weight_decay` is always None so Keras never applies a second decay.

    Under a tf.distribute strategy, construct it inside strategy.scope() (Keras binds the current strategy
    at construction) and call build(model.trainable_variables) there before the first tf.function step:
    creating the momentum buffers inside a distributed step fails.
    """

    def __init__(self, learning_rate=0.1, momentum=MOMENTUM, nesterov=True, weight_decay=WEIGHT_DECAY,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=None, name=name, **kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'momentum must be in [0, 1), got {momentum!r}')
        if nesterov and momentum == 0.0:
            raise ValueError('Nesterov momentum requires momentum > 0 (as in torch.optim.SGD)')
        if weight_decay is None or weight_decay < 0.0:
            raise ValueError(f'weight_decay must be >= 0, got {weight_decay!r}')
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.coupled_weight_decay = float(weight_decay)
        self._lr_factors = {}  # variable key -> learning-rate multiplier; 1 for the others

    def scale_learning_rate(self, variables, factor):
        """Update `variables` with factor * the learning rate (the schedule still applies). factor >= 0."""
        if not factor >= 0.0:
            raise ValueError(f'a learning-rate factor must be >= 0, got {factor!r}')
        for variable in variables:
            self._lr_factors[self._var_key(variable)] = float(factor)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentum_buffers = []
        if self.momentum > 0.0:
            self.momentum_buffers = self.add_optimizer_variables(variables, 'momentum_buffer')

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        factor = self._lr_factors.get(self._var_key(variable), 1.0)
        if factor != 1.0:  # factor 1 leaves the graph, and so every bit of the update, as without one
            lr = ops.multiply(lr, ops.cast(factor, variable.dtype))
        g = ops.cast(gradient, variable.dtype)
        if self.coupled_weight_decay > 0.0:
            g = ops.add(g, ops.multiply(ops.cast(self.coupled_weight_decay, variable.dtype), variable))
        if self.momentum == 0.0:
            self.assign_sub(variable, ops.multiply(lr, g))
            return
        mu = ops.cast(self.momentum, variable.dtype)
        buf = self.momentum_buffers[self._get_variable_index(variable)]
        new_buf = ops.add(ops.multiply(mu, buf), g)
        self.assign(buf, new_buf)
        direction = ops.add(g, ops.multiply(mu, new_buf)) if self.nesterov else new_buf
        self.assign_sub(variable, ops.multiply(lr, direction))

    def get_config(self):
        config = super().get_config()
        # 'weight_decay' round-trips as the coupled decay this class applies (the base's is always None).
        config.update({'momentum': self.momentum, 'nesterov': self.nesterov,
                       'weight_decay': self.coupled_weight_decay})
        return config
