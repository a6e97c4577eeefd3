"""The per-run Keras trainer's compiled steps on the JAX backend.

`make_step_functions` keeps the contract of steps_tensorflow.make_step_functions
(the same closures, the same numbers up to float rounding). A step is a pure
function of the run's variable values: `jax.value_and_grad` over the model's
`stateless_call`, then the Keras optimizer's `stateless_apply`. The same pure
step, vmapped over a replica axis, is the fused JAX trainer's
(trainers.fused_jax), so a replica there and a run here do the same arithmetic.

Every traced function runs at float32 matmul precision: JAX's default lets a
GPU use TF32 in convolutions and matmuls, and a vmapped (grouped) convolution
then rounds differently from a single one (5e-3 apart in the weights after 3
steps on an H200, 2e-7 at float32: benchmarks/gpu/README.md).
"""

import functools

import jax
import jax.numpy as jnp
import keras
import numpy as np

from lenet_bench import backends
from lenet_bench.trainers.evaluation import evaluate_in_batches

MATMUL_PRECISION = "float32"


def full_precision(function):
    """`function` traced at MATMUL_PRECISION (no TF32 on a GPU)."""

    @functools.wraps(function)
    def traced(*args, **kwargs):
        with jax.default_matmul_precision(MATMUL_PRECISION):
            return function(*args, **kwargs)

    return traced


def read_state(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> tuple:
    """(trainable, non_trainable, optimizer) variable values: a step's state."""
    return ([v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in optimizer.variables])


def write_state(model: keras.Model, optimizer: keras.optimizers.Optimizer, state) -> None:
    """Assigns a step's state back to the model's and the optimizer's variables."""
    variables = (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
    for group, values in zip(variables, state):
        for variable, value in zip(group, values):
            variable.assign(value)


def scaled_images(images):
    """uint8 images as float32 in [0, 1], inside the compiled step."""
    return images.astype(jnp.float32) / 255.0


def cross_entropy(probabilities, labels, num_classes: int):
    """Keras's categorical cross-entropy of each sample (any leading axes)."""
    return keras.losses.categorical_crossentropy(jax.nn.one_hot(labels, num_classes),
                                                 probabilities)


def correct_count(probabilities, labels):
    """How many samples' argmax is their label, over the last axis (per replica where
    a replica axis leads)."""
    return jnp.sum(jnp.argmax(probabilities, axis=-1) == labels, axis=-1, dtype=jnp.int32)


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    num_classes: int):
    """A pure, untraced train step of one run.

    step(state, images uint8 (B, H, W, C), labels (B,), clean_labels (B,)) ->
    (state, (cross-entropy sum, correct, clean correct)); state is `read_state`'s.
    The step minimizes the batch's mean cross-entropy plus the model's own losses
    (L2); the non-trainable variables (batch-norm statistics, dropout seed states)
    come back updated from `stateless_call`.
    """

    def step(state, images, labels, clean_labels):
        trainable, non_trainable, optimizer_values = state
        inputs = scaled_images(images)

        def objective(trainable):
            probabilities, new_non_trainable, model_losses = model.stateless_call(
                trainable, non_trainable, inputs, training=True, return_losses=True)
            losses = cross_entropy(probabilities, labels, num_classes)
            loss = jnp.mean(losses) + sum(model_losses)
            return loss, (probabilities, new_non_trainable, jnp.sum(losses))

        (_, (probabilities, non_trainable, loss_sum)), gradients = jax.value_and_grad(
            objective, has_aux=True)(trainable)
        trainable, optimizer_values = optimizer.stateless_apply(optimizer_values, gradients,
                                                                trainable)
        return ((trainable, non_trainable, optimizer_values),
                (loss_sum, correct_count(probabilities, labels), correct_count(probabilities, clean_labels)))

    return full_precision(step)


def make_eval_step(model: keras.Model, num_classes: int):
    """A pure, untraced eval step of one run.

    eval_step(trainable, non_trainable, images uint8, labels) -> (cross-entropy
    sum, correct, predicted classes, max probabilities, sum of the probabilities
    at the true labels, KxK one_hot(labels)^T @ probabilities).
    """

    def eval_step(trainable, non_trainable, images, labels):
        probabilities, _ = model.stateless_call(trainable, non_trainable, scaled_images(images),
                                                training=False)
        one_hot = jax.nn.one_hot(labels, num_classes)
        return (jnp.sum(cross_entropy(probabilities, labels, num_classes)),
                correct_count(probabilities, labels), jnp.argmax(probabilities, axis=-1),
                jnp.max(probabilities, axis=-1), jnp.sum(one_hot * probabilities),
                one_hot.T @ probabilities)

    return full_precision(eval_step)


def make_step_functions(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                        num_classes: int, jit_compile: bool, augmenter=None):
    """Returns (train_epoch, evaluate) closures for `model`, as
    steps_tensorflow.make_step_functions does.

    train_epoch reads the model's and the optimizer's variables when it starts
    (the caller may have set `optimizer.learning_rate`) and writes them back
    when it ends; batches are sliced on the host. jit_compile=False runs the
    steps op by op (for debugging).

    Raises:
      InputError: an `augmenter` (augmentation runs TensorFlow ops).
    """
    if augmenter is not None:
        backends.require_tensorflow("--augment_translation/rotation/zoom/flip")
    optimizer.build(model.trainable_variables)
    compile_ = jax.jit if jit_compile else (lambda function: function)
    train_step = compile_(make_train_step(model, optimizer, num_classes))
    eval_step = compile_(make_eval_step(model, num_classes))

    def train_epoch(images, labels, order, batch_size, clean_labels=None, seed=0, epoch=0):
        clean_labels = labels if clean_labels is None else clean_labels
        state, sums = read_state(model, optimizer), []
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            state, batch_sums = train_step(state, images[batch], labels[batch],
                                           clean_labels[batch])
            sums.append(batch_sums)
        write_state(model, optimizer, state)
        loss_sum, correct, clean_correct = (np.asarray(column, dtype=np.float64).sum()
                                            for column in zip(*sums))
        return (loss_sum / len(order), correct / len(order), clean_correct / len(order))

    def evaluate(images, labels):
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        return evaluate_in_batches(functools.partial(eval_step, trainable, non_trainable),
                                   images, labels, num_classes)

    return train_epoch, evaluate
