"""The errors a run reports as one line: main.py prints `error: <message>` and exits with the code below."""


class UsageError(Exception):
    """Bad input found after the config was parsed (data folders, GPUs, class counts): exit code 2."""


class NonFiniteLoss(Exception):
    """The loss, the gradients or a weight became NaN or infinite: training stops, keeping the last good
    checkpoint; exit code 1."""


class Preempted(Exception):
    """SIGTERM during training: a mid-epoch checkpoint was saved; exit code 143 (128 + SIGTERM)."""


# The message of the in-graph label check of the train step; main.py recognises it in TensorFlow's error.
LABEL_CHECK = 'a training label is >= --num-classes'
