"""A Keras model's forward pass in inference mode, on whichever Keras backend runs.

- `predict`: one eager call, outputs as numpy, with no gradient recorded
  (`torch.no_grad` on PyTorch): for the post-passes that run each model once
  (lenet_bench.study.inspection), so nothing is compiled per model.
- `compiled_forward`: a forward pass compiled once per model object and
  reused with whatever weights the model holds, for timing
  (lenet_bench.observers.cost): `tf.function` on TensorFlow (what cost always timed),
  `jax.jit` of `model.stateless_call` on JAX (the variables are arguments,
  so weights set into the model later are seen without retracing), and the
  eager call under `torch.no_grad` on PyTorch (see trainers.steps_torch on
  torch.compile).

Each backend's library is imported inside the function that runs on it, so
importing this module imports no TensorFlow.
"""

import contextlib

import keras
import numpy as np


def scaled(images: np.ndarray):
    """uint8 images as a float32 tensor in [0, 1] on the backend's default device."""
    return keras.ops.convert_to_tensor(np.asarray(images, dtype=np.float32) / np.float32(255))


def no_gradients():
    """A context in which the backend records no gradients (PyTorch's autograd)."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def predict(model: keras.Model, images: np.ndarray):
    """`model`'s outputs (numpy, in its output structure) for uint8 `images`, in
    inference mode, eagerly."""
    with no_gradients():
        outputs = model(scaled(images), training=False)
    return keras.tree.map_structure(keras.ops.convert_to_numpy, outputs)


def compiled_forward(model: keras.Model):
    """A function inputs -> outputs (a backend tensor) running `model` in inference
    mode, compiled for the backend (see the module docstring)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda inputs: model(inputs, training=False))
    if backend == "jax":
        import jax

        @jax.jit
        def stateless_forward(trainable, non_trainable, inputs):
            return model.stateless_call(trainable, non_trainable, inputs, training=False)[0]

        return lambda inputs: stateless_forward(
            [variable.value for variable in model.trainable_variables],
            [variable.value for variable in model.non_trainable_variables], inputs)

    def eager_forward(inputs):
        with no_gradients():
            return model(inputs, training=False)

    return eager_forward
