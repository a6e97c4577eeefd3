"""The fused JAX trainer: a group's runs as replicas of the Keras model itself.

Speed: 3,429 replica-images/s with 12 replicas at batch 128, 1.09x one lone replica on the
    per-run JAX trainer (3,132) and 5.14x the vmapped Keras model (667), formulation
    'matmul', 2 epochs of 1,280 images (the second timed), on a 2-core AMD EPYC CPU
    (benchmarks/jax_cpu_speed.txt, run 4)
Speed: not yet measured on a GPU: `bash benchmarks/gpu/run.sh` times this trainer there.
Speed: the probe that preceded this trainer (a standalone script, the same vmap of the Keras
    model's step) reached 1,375,113 replica-images/s at R=180 and batch 128 on 28x28x1
    images, 14.3x plain Keras fit on the same GPU (96,300 images/s), on one NVIDIA H200
    (benchmarks/gpu/2026-11-30-probe.log)

On a CPU the TensorFlow fused trainer stays faster than either formulation, and one run of
one command is a thin basis for the 1.09x; the table and the machine's load:
benchmarks/RESULTS.md#fused-jax-on-a-cpu-batched-matrix-products.
"""

import functools

import jax
import jax.numpy as jnp
import keras
import numpy as np

from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.runs import RunSpec
from lenet_bench import machine
from lenet_bench.errors import InputError
from lenet_bench.trainers.lenet_matmul_jax import make_batched_eval_step, make_batched_train_step
from lenet_bench.trainers.lenet_matmul_jax import in_chunks, network_of, supports
from lenet_bench.trainers.evaluation import EVAL_BATCH_SIZE
from lenet_bench.trainers.steps_jax import (full_precision, make_eval_step, make_train_step,
                                            read_state)

DEVICE_ARRAYS_KEPT = 4  # Image arrays kept on the device: training, test, validation, one spare.
FORMULATIONS = ("auto", "vmap", "matmul")
# The faster formulation per device kind, where lenet_matmul_jax supports the model
# (BUILD_NOTES.md, "Fused JAX formulations"; benchmarks/jax_cpu_speed.txt for the CPU).
# A GPU keeps vmap until the batched products are measured there.
FASTER_FORMULATION = {"cpu": "matmul", "gpu": "vmap"}
# Replicas per batched product, one chunk after another (None: all at once). On a CPU
# 2 at a time trained 1.55x all 12 at once (benchmarks/profile/jax_replica_chunks.txt).
REPLICA_CHUNK = {"cpu": 2, "gpu": None}


class FusedKerasReplicas:
    """A group's runs trained together as replicas of one Keras model on JAX.

    One Keras model (models.build_run_model of the group's first spec) and one
    Keras optimizer describe the arithmetic; the replicas' values are stacked
    on a leading replica axis: trainable weights (from each run's
    `initial_weights`, so each keeps its own initializer and seed),
    non-trainable variables, and the optimizer's variables, whose
    `learning_rate` entry is set per replica each epoch (each run's own rate
    and decay). One step is `jax.vmap` of steps_jax.make_train_step, the
    per-run trainer's own step (`stateless_call` + cross-entropy + the
    optimizer's `stateless_apply`), so replica r does what the run does alone
    on the Keras trainer, up to float rounding; each replica takes its batch
    from its own data order and its own (noisy) labels.

    A whole epoch is one jitted `lax.scan` over the full batches, which are
    gathered on the device from the uint8 images put there once (kept per
    images array, by identity), then one jitted step for the last, smaller
    batch: the host only starts the epoch and reads its sums. Evaluation runs
    vmapped on the device too, in batches of evaluation.EVAL_BATCH_SIZE.

    Why: one LeNet-5 leaves a GPU mostly idle; vmapped, XLA lowers the
    replicas' convolutions to grouped convolutions and a whole grid trains in
    one step (the module docstring gives the measured speed and where it comes
    from). Matmuls run at float32 precision (no TF32), so
    a replica matches its lone run on a GPU too. Replicas share no arithmetic:
    one whose loss goes NaN leaves the others as they would be without it.
    On a CPU, XLA runs the vmapped convolutions slowly
    (benchmarks/jax_cpu_speed.txt), and their gradients slower still.

    formulation='matmul' computes the same steps with the replicas' layers as
    batched matrix products (trainers.lenet_matmul_jax: the same weights, the
    same optimizer, a different order of float additions); 'auto' picks it
    where FASTER_FORMULATION says so and the model allows (no batch
    normalization, no dropout, float32).
    """

    def __init__(self, initial_weights: list, specs: list[RunSpec], dataset: data.Dataset,
                 formulation: str = "auto"):
        self.model = models.build_run_model(specs[0], dataset)
        self.optimizer = models.make_optimizer(specs[0].optimizer, specs[0].learning_rate)
        self.optimizer.build(self.model.trainable_variables)
        self.num_classes = dataset.num_classes
        self.formulation = choose_formulation(formulation, specs[0])
        self._weight_places = _weight_places(self.model)
        self._learning_rate_index = _learning_rate_index(self.optimizer)
        self.state = _stacked_state(self.model, self.optimizer, initial_weights,
                                    self._weight_places)
        step, eval_step = self._steps(specs[0], dataset.image_shape)
        self._epoch = jax.jit(functools.partial(_scan_epoch, step), static_argnums=4,
                              donate_argnums=0)
        self._last_batch = jax.jit(functools.partial(_gathered_step, step), donate_argnums=0)
        self._eval_step = jax.jit(eval_step)
        self._device_images = {}

    def _steps(self, spec: RunSpec, image_shape) -> tuple:
        """(train step, eval step) over the replica axis, in self.formulation."""
        if self.formulation == "matmul":
            network = network_of(spec, image_shape)
            step = make_batched_train_step(network, self.optimizer, self.num_classes)
            chunk = REPLICA_CHUNK["gpu" if machine.accelerators() else "cpu"]
            if chunk:
                step = in_chunks(step, self.num_replicas, chunk)
            return (full_precision(step),
                    full_precision(make_batched_eval_step(network, self.num_classes)))
        return (jax.vmap(make_train_step(self.model, self.optimizer, self.num_classes)),
                jax.vmap(make_eval_step(self.model, self.num_classes),
                         in_axes=(0, 0, None, None)))

    @property
    def num_replicas(self) -> int:
        return len(self.state[0][0])

    def train_epoch(self, images, labels, orders, batch_size, learning_rates, clean_labels=None,
                    *, seeds=None, epoch=0):
        """One epoch: replica r trains on batches orders[r][i*b:(i+1)*b] of (images,
        labels[r]), the last smaller batch too. Returns float64 arrays (R,): 'loss'
        (mean training cross-entropy over the epoch's samples), 'accuracy' (against
        labels[r]) and 'clean_accuracy' (against clean_labels; 'accuracy' if None)."""
        labels = jnp.asarray(np.asarray(labels, dtype=np.int32))
        clean = labels if clean_labels is None else jnp.broadcast_to(
            jnp.asarray(np.asarray(clean_labels, dtype=np.int32)), labels.shape)
        orders = np.asarray(orders, dtype=np.int32)
        self._set_learning_rates(learning_rates)
        device_images = self._on_device(images)
        full = orders.shape[1] // batch_size * batch_size
        sums = []
        if full:
            self.state, epoch_sums = self._epoch(self.state, device_images, labels, clean,
                                                 batch_size, jnp.asarray(orders[:, :full]))
            sums.append([np.asarray(column, dtype=np.float64).sum(axis=0)
                         for column in epoch_sums])
        if full < orders.shape[1]:
            self.state, batch_sums = self._last_batch(self.state, device_images, labels, clean,
                                                      jnp.asarray(orders[:, full:]))
            sums.append([np.asarray(column, dtype=np.float64) for column in batch_sums])
        loss, correct, clean_correct = (np.sum(column, axis=0) / orders.shape[1]
                                        for column in zip(*sums))
        return {"loss": loss, "accuracy": correct, "clean_accuracy": clean_correct}

    def evaluate(self, images, labels) -> dict[str, np.ndarray]:
        """Per replica: 'loss', 'accuracy', 'predictions' (R, N), 'confidence' (R, N),
        'soft_accuracy', 'soft_confusion_sums' (R, K, K), as the Keras trainer gives them."""
        device_images = self._on_device(images)
        labels = jnp.asarray(np.asarray(labels, dtype=np.int32))
        trainable, non_trainable, _ = self.state
        outputs = [self._eval_step(trainable, non_trainable,
                                   device_images[start:start + EVAL_BATCH_SIZE],
                                   labels[start:start + EVAL_BATCH_SIZE])
                   for start in range(0, len(labels), EVAL_BATCH_SIZE)]
        loss, correct, predicted, confidence, soft_true, soft_sums = (
            [np.asarray(value) for value in column] for column in zip(*outputs))
        count = len(labels)
        return {"loss": np.sum(loss, axis=0, dtype=np.float64) / count,
                "accuracy": np.sum(correct, axis=0, dtype=np.int64) / count,
                "predictions": np.concatenate(predicted, axis=1),
                "confidence": np.concatenate(confidence, axis=1),
                "soft_accuracy": np.sum(soft_true, axis=0, dtype=np.float64) / count,
                "soft_confusion_sums": np.sum(np.asarray(soft_sums, dtype=np.float64), axis=0)}

    def get_weights(self, replica: int) -> list[np.ndarray]:
        """Replica `replica`'s weights in Keras `get_weights` order."""
        return [np.array(self.state[group][index][replica])
                for group, index in self._weight_places]

    def set_weights(self, replica: int, weights: list[np.ndarray]) -> None:
        groups = [list(values) for values in self.state]
        for (group, index), value in zip(self._weight_places, weights):
            groups[group][index] = groups[group][index].at[replica].set(value)
        self.state = tuple(groups)

    def get_state(self) -> dict[str, np.ndarray]:
        """Every stacked variable (weights, non-trainable, optimizer), for a checkpoint."""
        return {f"{group}/{index}": np.array(value)
                for group, values in zip(STATE_GROUPS, self.state)
                for index, value in enumerate(values)}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.state = tuple([jnp.asarray(state[f"{group}/{index}"]) for index in range(len(values))]
                           for group, values in zip(STATE_GROUPS, self.state))

    def _set_learning_rates(self, learning_rates) -> None:
        trainable, non_trainable, optimizer_values = self.state
        optimizer_values = list(optimizer_values)
        rate = optimizer_values[self._learning_rate_index]
        optimizer_values[self._learning_rate_index] = jnp.asarray(
            np.asarray(learning_rates, dtype=np.float32).reshape(rate.shape), rate.dtype)
        self.state = (trainable, non_trainable, optimizer_values)

    def _on_device(self, images: np.ndarray) -> jax.Array:
        """`images` (uint8) on the device, put there once per array object."""
        kept = self._device_images.get(id(images))
        if kept is None or kept[0] is not images:
            if len(self._device_images) >= DEVICE_ARRAYS_KEPT:
                self._device_images.pop(next(iter(self._device_images)))
            kept = (images, jax.device_put(np.asarray(images)))
            self._device_images[id(images)] = kept
        return kept[1]


STATE_GROUPS = ("trainable", "non_trainable", "optimizer")


def choose_formulation(formulation: str, spec: RunSpec) -> str:
    """'vmap' or 'matmul' for a group whose first run is `spec`.

    Raises:
      InputError: an unknown formulation, or 'matmul' for a model it lacks.
    """
    if formulation not in FORMULATIONS:
        raise InputError(f"formulation={formulation!r} is invalid: expected one of "
                         f"{', '.join(FORMULATIONS)}")
    supported = supports(spec)
    if formulation == "matmul" and not supported:
        raise InputError(f"formulation='matmul' cannot train --architecture={spec.architecture} "
                         f"--dropout={spec.dropout:g} --batch_norm={str(spec.batch_norm).lower()}"
                         f" --precision={spec.precision}: expected no batch normalization, no "
                         "dropout and float32 (or formulation='vmap')")
    if formulation == "auto":
        device = "gpu" if machine.accelerators() else "cpu"
        return FASTER_FORMULATION[device] if supported else "vmap"
    return formulation


def _weight_places(model: keras.Model) -> list[tuple[int, int]]:
    """For each of `model.weights` (get_weights order): (0, i) for trainable variable
    i, (1, i) for non-trainable variable i."""
    places = {id(v): (0, i) for i, v in enumerate(model.trainable_variables)}
    places.update({id(v): (1, i) for i, v in enumerate(model.non_trainable_variables)})
    return [places[id(v)] for v in model.weights]


def _learning_rate_index(optimizer: keras.optimizers.Optimizer) -> int:
    """Where the learning rate is among the optimizer's variables."""
    indices = [i for i, v in enumerate(optimizer.variables) if v.path.endswith("/learning_rate")]
    if len(indices) != 1:
        raise ValueError(f"{type(optimizer).__name__} has {len(indices)} learning_rate variables "
                         f"({[v.path for v in optimizer.variables][:4]}...): expected one")
    return indices[0]


def _stacked_state(model, optimizer, initial_weights: list, weight_places) -> tuple:
    """(trainable, non_trainable, optimizer) values with a leading replica axis:
    each replica's weights from `initial_weights`, everything else as the model and
    the optimizer start."""
    trainable, non_trainable, optimizer_values = read_state(model, optimizer)
    count = len(initial_weights)
    groups = [[np.repeat(np.asarray(value)[None], count, axis=0) for value in values]
              for values in (trainable, non_trainable)]
    for replica, weights in enumerate(initial_weights):
        for (group, index), value in zip(weight_places, weights):
            groups[group][index][replica] = value
    stacked_optimizer = [jnp.repeat(jnp.asarray(value)[None], count, axis=0)
                         for value in optimizer_values]
    return ([jnp.asarray(value) for value in groups[0]],
            [jnp.asarray(value) for value in groups[1]], stacked_optimizer)


def _gathered_step(step, state, images, labels, clean_labels, batch):
    """`step` (vmapped) on each replica's batch: rows batch (R, B) of images and labels."""
    return step(state, images[batch], jnp.take_along_axis(labels, batch, axis=1),
                jnp.take_along_axis(clean_labels, batch, axis=1))


def _scan_epoch(step, state, images, labels, clean_labels, batch_size, orders):
    """The full batches of orders (R, steps * batch_size), one `lax.scan`; returns the
    state and the per-step sums, each (steps, R)."""

    def body(state, start):
        batch = jax.lax.dynamic_slice_in_dim(orders, start, batch_size, axis=1)
        return _gathered_step(step, state, images, labels, clean_labels, batch)

    starts = jnp.arange(0, orders.shape[1], batch_size)
    return jax.lax.scan(body, state, starts)
