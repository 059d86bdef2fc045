"""Reading back what a run wrote to TensorBoard."""
import tensorflow as tf


def scalars(log_dir, tag):
    """{step: value} of one scalar in a run's TensorBoard event files (log_dir a pathlib.Path)."""
    values = {}
    for path in sorted(log_dir.glob('events.out.tfevents.*')):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return values
