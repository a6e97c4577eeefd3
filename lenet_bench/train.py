"""Training: LeNet-5 runs one after another, one JSON per run per finished epoch.

Each run shuffles its (uint8, in-memory) training set with its own seed every
epoch and trains with a compiled `tf.function` step (XLA by default: measured
about 2x faster than `model.fit` for one model on a 2-core CPU, see
BUILD_NOTES.md). Learning rate at epoch e (from 0) is start_lr * decay**e.
After every epoch the run's JSON under `<workdir>/<experiment>/runs/` is
rewritten atomically with the history so far; a rerun skips finished runs.
"""

import dataclasses
import hashlib
import json
import logging
import math
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import lenet_bench
from lenet_bench import data, models
from lenet_bench.config import ExperimentConfig, validate
from lenet_bench.errors import InputError
from lenet_bench.files import atomic_write_json, read_json

logger = logging.getLogger("lenet_bench")

RESULTS_FORMAT = 1  # Bump when a change makes old run files incomparable.
EVAL_BATCH_SIZE = 1000
FINISHED_STATUSES = ("done", "diverged")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Everything that changes one run's result; its hash names the run."""

    dataset: str
    train_size: int | None
    data_seed: int
    initializer: str
    activation: str
    first_conv_padding: str
    optimizer: str
    learning_rate: float
    lr_decay: float
    epochs: int
    batch_size: int
    seed: int

    @property
    def key(self) -> str:
        """Readable name plus a short hash of every field, e.g.
        'glorot_normal_lr0.005_decay0.9_seed0_3f9a1c2e'."""
        fields = json.dumps([RESULTS_FORMAT, dataclasses.asdict(self)], sort_keys=True)
        digest = hashlib.sha256(fields.encode()).hexdigest()[:8]
        return (f"{self.initializer}_lr{self.learning_rate:g}_decay{self.lr_decay:g}"
                f"_seed{self.seed}_{digest}")

    def learning_rate_at(self, epoch: int) -> float:
        return self.learning_rate * self.lr_decay ** epoch


def run_specs(config: ExperimentConfig) -> list[RunSpec]:
    """The runs of an experiment: its setting repeated over `seeds` seeds."""
    shared = {field.name: getattr(config, field.name) for field in dataclasses.fields(RunSpec)
              if field.name != "seed"}
    return [RunSpec(**shared, seed=config.first_seed + i) for i in range(config.seeds)]


def check_runnable(config: ExperimentConfig, dataset: data.Dataset) -> None:
    """Raises InputError for any value that would fail later, before anything is written."""
    validate(config)
    models.make_initializer(config.initializer, 0)
    models.make_optimizer(config.optimizer, config.learning_rate)
    models.check_activation(config.activation)
    train_count = config.train_size or len(dataset.train_labels)
    if config.batch_size > train_count:
        raise InputError(f"--batch_size={config.batch_size} is invalid: expected at most "
                         f"{train_count} (the training images used)")


def run_experiment(config: ExperimentConfig, dataset: data.Dataset, workdir: str | Path,
                   *, jit_compile: bool = True, command: str | None = None) -> Path:
    """Trains every run of `config` not already finished in `workdir`.

    Args:
      config: the experiment.
      dataset: the full dataset; `config.train_size` picks a subset here.
      workdir: results go to `<workdir>/<config.name>/`.
      jit_compile: compile the train and eval steps with XLA.
      command: the command line, recorded in config.json.

    Returns:
      The experiment directory.

    Raises:
      InputError: an invalid config value or an unwritable workdir; raised
        before anything in the workdir is written.
    """
    check_runnable(config, dataset)
    dataset = data.take_train_subset(dataset, config.train_size, config.data_seed)
    specs = run_specs(config)
    experiment_dir = Path(workdir) / config.name
    runs_dir = experiment_dir / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--workdir={workdir}: cannot create {runs_dir} ({error.strerror})") from None
    if not os.access(runs_dir, os.W_OK):
        raise InputError(f"--workdir={workdir}: {runs_dir} is not writable")
    atomic_write_json(experiment_dir / "config.json", {
        "experiment": config.name,
        "config": config.to_dict(),
        "run_keys": [spec.key for spec in specs],
        "dataset": describe_dataset(dataset),
        "command": command,
        "machine": describe_machine(),
        "versions": library_versions(),
        "results_format": RESULTS_FORMAT,
    })
    for index, spec in enumerate(specs, start=1):
        run_path = runs_dir / f"{spec.key}.json"
        previous = read_json(run_path)
        if previous and previous.get("status") in FINISHED_STATUSES:
            logger.info("run %d/%d %s: already %s, skipped", index, len(specs), spec.key,
                        previous["status"])
            continue
        logger.info("run %d/%d %s", index, len(specs), spec.key)
        best_weights = runs_dir / f"{spec.key}.weights.h5" if config.keep_best else None
        train_run(spec, dataset, jit_compile=jit_compile, experiment=config.name,
                  on_epoch=lambda record, path=run_path: atomic_write_json(path, record),
                  best_weights_path=best_weights)
    return experiment_dir


def train_run(spec: RunSpec, dataset: data.Dataset, *, jit_compile: bool = True,
              experiment: str = "", on_epoch=None,
              best_weights_path: Path | None = None) -> dict:
    """Trains one LeNet-5 and returns its run record.

    Args:
      spec: the run; `dataset` must already be reduced to `spec.train_size`.
      dataset: training and test arrays.
      jit_compile: compile steps with XLA.
      experiment: the experiment name, recorded in the run record.
      on_epoch: called with the run record after every finished epoch.
      best_weights_path: where to save the weights of the best test epoch
        (a `.weights.h5` name), or None.

    Returns:
      The run record: spec, per-epoch history, best epoch, status, timings.
    """
    model = models.build_lenet5(dataset.image_shape, dataset.num_classes,
                                initializer=spec.initializer, seed=spec.seed,
                                activation=spec.activation,
                                first_conv_padding=spec.first_conv_padding)
    optimizer = models.make_optimizer(spec.optimizer, spec.learning_rate)
    train_epoch, evaluate = make_step_functions(model, optimizer, dataset.num_classes, jit_compile)
    record = {
        "results_format": RESULTS_FORMAT,
        "key": spec.key,
        "experiment": experiment,
        "spec": dataclasses.asdict(spec),
        "status": "running",
        "epochs_done": 0,
        "history": {name: [] for name in ("epoch", "learning_rate", "train_loss",
                                          "train_accuracy", "test_loss", "test_accuracy",
                                          "epoch_seconds")},
        "best_epoch": None,
        "best_test_accuracy": None,
        "diverged_epoch": None,
        "num_params": model.count_params(),
        "train_size": int(len(dataset.train_labels)),
        "device": describe_device(),
        "versions": library_versions(),
        "started": _now(),
        "wall_seconds": 0.0,
    }
    started = time.perf_counter()
    history = record["history"]
    for epoch in range(spec.epochs):
        epoch_started = time.perf_counter()
        learning_rate = spec.learning_rate_at(epoch)
        optimizer.learning_rate = learning_rate
        order = np.random.default_rng([spec.seed, epoch]).permutation(len(dataset.train_labels))
        train_loss, train_accuracy = train_epoch(dataset.train_images, dataset.train_labels,
                                                 order, spec.batch_size)
        test_loss, test_accuracy = evaluate(dataset.test_images, dataset.test_labels)
        seconds = time.perf_counter() - epoch_started
        for name, value in (("epoch", epoch + 1), ("learning_rate", learning_rate),
                            ("train_loss", train_loss), ("train_accuracy", train_accuracy),
                            ("test_loss", test_loss), ("test_accuracy", test_accuracy),
                            ("epoch_seconds", seconds)):
            history[name].append(value if math.isfinite(value) else None)
        record["epochs_done"] = epoch + 1
        record["wall_seconds"] = time.perf_counter() - started
        logger.info("%s epoch %d/%d lr %.2e  train loss %.4f acc %.4f  test loss %.4f acc %.4f  %.1fs",
                    spec.key, epoch + 1, spec.epochs, learning_rate, train_loss, train_accuracy,
                    test_loss, test_accuracy, seconds)
        if not (math.isfinite(train_loss) and math.isfinite(test_loss)):
            record["status"], record["diverged_epoch"] = "diverged", epoch + 1
            logger.warning("%s diverged at epoch %d (loss is not finite); stopped", spec.key, epoch + 1)
        elif record["best_test_accuracy"] is None or test_accuracy > record["best_test_accuracy"]:
            record["best_epoch"], record["best_test_accuracy"] = epoch + 1, test_accuracy
            if best_weights_path is not None:
                _save_weights_atomically(model, Path(best_weights_path))
        if record["status"] == "running" and epoch + 1 == spec.epochs:
            record["status"] = "done"
        if record["status"] != "running":
            record["finished"] = _now()
        if on_epoch is not None:
            on_epoch(record)
        if record["status"] == "diverged":
            break
    return record


def make_step_functions(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                        num_classes: int, jit_compile: bool):
    """Returns (train_epoch, evaluate) closures over compiled steps for `model`.

    train_epoch(images, labels, order, batch_size) -> (mean loss, accuracy) over
    the epoch's batches, as Keras `fit` reports them. evaluate(images, labels)
    -> (mean loss, accuracy). Images are uint8; each batch is scaled to [0, 1]
    inside the step, so no float copy of the dataset is kept.
    """
    optimizer.build(model.trainable_variables)
    loss_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)
    correct_sum = tf.Variable(0, dtype=tf.int64, trainable=False)

    def loss_and_correct(probabilities, labels):
        one_hot = tf.one_hot(labels, num_classes)
        losses = keras.losses.categorical_crossentropy(one_hot, probabilities)
        correct = tf.equal(tf.argmax(probabilities, axis=-1, output_type=labels.dtype), labels)
        return losses, tf.reduce_sum(tf.cast(correct, tf.int64))

    @tf.function(jit_compile=jit_compile)
    def train_step(images, labels):
        inputs = tf.cast(images, tf.float32) / 255.0
        with tf.GradientTape() as tape:
            probabilities = model(inputs, training=True)
            losses, correct = loss_and_correct(probabilities, labels)
            loss = tf.reduce_mean(losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        loss_sum.assign_add(tf.cast(tf.reduce_sum(losses), tf.float64))
        correct_sum.assign_add(correct)

    @tf.function(jit_compile=jit_compile)
    def eval_step(images, labels):
        probabilities = model(tf.cast(images, tf.float32) / 255.0, training=False)
        losses, correct = loss_and_correct(probabilities, labels)
        return tf.reduce_sum(tf.cast(losses, tf.float64)), correct

    def train_epoch(images, labels, order, batch_size):
        loss_sum.assign(0.0)
        correct_sum.assign(0)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            train_step(images[batch], labels[batch])
        return float(loss_sum.numpy()) / len(order), int(correct_sum.numpy()) / len(order)

    def evaluate(images, labels):
        total_loss, total_correct = 0.0, 0
        for start in range(0, len(labels), EVAL_BATCH_SIZE):
            batch_loss, batch_correct = eval_step(images[start:start + EVAL_BATCH_SIZE],
                                                  labels[start:start + EVAL_BATCH_SIZE])
            total_loss += float(batch_loss)
            total_correct += int(batch_correct)
        return total_loss / len(labels), total_correct / len(labels)

    return train_epoch, evaluate


def _save_weights_atomically(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(f".tmp{os.getpid()}.{path.name}")
    model.save_weights(tmp)
    os.replace(tmp, path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def describe_dataset(dataset: data.Dataset) -> dict:
    return {"name": dataset.name, "source": dataset.source,
            "train_size": int(len(dataset.train_labels)),
            "test_size": int(len(dataset.test_labels)),
            "image_shape": list(dataset.image_shape),
            "class_names": list(dataset.class_names)}


def describe_device() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)} x{len(gpus)}"
    return f"CPU: {describe_machine()['cpu']}"


def describe_machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "gpus": [gpu.name for gpu in tf.config.list_physical_devices("GPU")]}


def library_versions() -> dict:
    return {"lenet_bench": lenet_bench.__version__, "python": sys.version.split()[0],
            "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}
