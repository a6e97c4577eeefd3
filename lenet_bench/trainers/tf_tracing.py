"""One trace of a TensorFlow step for every batch size.

`tf.function` traces a function again for each new input shape, so an epoch whose
last batch is smaller than the others traced its train step twice, and every group
of runs (every run, on the Keras path) paid that second trace: a quarter to a third
of the CPU time of its first epoch and evaluation on a small study
(`benchmarks/profile/tf_step_traces.txt`). `AnyBatchSize` traces the step once per
input dtypes, with the batch dimension left unknown, and calls that one graph for
every batch. The graph holds the same ops, so the results are bit for bit those of a
trace per shape (the same file checks it); under XLA (`jit_compile=True`) each
shape is still compiled on its own.
"""

import tensorflow as tf


class AnyBatchSize:
    """Calls the tf.function `function` through one concrete function per input dtypes and
    per shape outside the batch dimension, whose batch dimension is unknown.

    Args:
      function: a `tf.function`.
      batch_axes: per positional argument, its batch axis (images (B, H, W, C): 0;
        per-replica labels (R, B): 1).
    """

    def __init__(self, function, batch_axes: tuple[int, ...]):
        self.function, self.batch_axes = function, batch_axes
        self.traced = {}  # (dtype, shape without the batch axis) per argument -> graph

    def __call__(self, *arrays):
        shapes = [tuple(array.shape) for array in arrays]
        dtypes = [tf.as_dtype(array.dtype) for array in arrays]
        key = tuple((dtype.name, shape[:axis] + shape[axis + 1:])
                    for dtype, shape, axis in zip(dtypes, shapes, self.batch_axes))
        if key not in self.traced:
            self.traced[key] = self.function.get_concrete_function(*[
                tf.TensorSpec(shape[:axis] + (None,) + shape[axis + 1:], dtype)
                for dtype, shape, axis in zip(dtypes, shapes, self.batch_axes)])
        return self.traced[key](*arrays)
