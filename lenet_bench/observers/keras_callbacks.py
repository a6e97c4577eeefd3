"""The observers that need Keras: user Keras callbacks, and the `.keras` model files.

See lenet_bench.observers.hooks for when `trainers.group_loop.train_group` calls
an observer's hooks.
"""

from pathlib import Path
from typing import Callable, Sequence

import keras

from lenet_bench.files import atomic_write_with
from lenet_bench.observers.hooks import Observer, epoch_logs


class KerasCallbacks(Observer):
    """Calls user Keras callbacks per run: `on_train_begin(logs={})` when the run
    starts (or resumes from a checkpoint), `on_epoch_end(epoch, logs)` after each
    epoch (epoch from 0, logs from `epoch_logs`), `on_train_end(logs)` when it is
    done or diverged. Before each call `callback.model` is a Keras LeNet-5
    holding that run's current weights, and `callback.params` holds `epochs`,
    `run_key` and `seed`. Batch hooks and `on_epoch_begin` are not called, and
    `model.stop_training` is ignored.

    Args:
      callbacks: Callback objects shared by every run (on the fused path the
        calls of a group's runs interleave: epoch 1 of each run, then epoch
        2, ...), or a function spec -> callbacks giving each run its own.
    """

    def __init__(self, callbacks: Sequence[keras.callbacks.Callback]
                 | Callable[[object], Sequence[keras.callbacks.Callback]]):
        self.callbacks = callbacks
        self.per_run: dict[int, list] = {}

    def _prepare(self, index: int) -> list:
        self.model.set_weights(self.weights(index))
        for callback in self.per_run[index]:
            callback.set_model(self.model)
            callback.set_params(self.params[index])
        return self.per_run[index]

    def group_begin(self, specs, records, first_epoch, active, model, weights):
        self.model, self.weights = model, weights
        self.params = {index: {"epochs": spec.epochs, "run_key": spec.key, "seed": spec.seed,
                               "verbose": 0} for index, spec in enumerate(specs)}
        for index in active:
            self.per_run[index] = list(self.callbacks(specs[index]) if callable(self.callbacks)
                                       else self.callbacks)
            for callback in self._prepare(index):
                callback.on_train_begin(logs={})

    def run_epoch_end(self, index, spec, record):
        logs = epoch_logs(record)
        for callback in self._prepare(index):
            callback.on_epoch_end(record["epochs_done"] - 1, logs)
        if record["status"] != "running":
            for callback in self.per_run[index]:
                callback.on_train_end(logs=logs)


class KerasModelSaver(Observer):
    """Writes `<key>.final.keras` (the last epoch's model; 'done' runs) and
    `<key>.best.keras` (the best-test-epoch weights, from `<key>.weights.h5`)
    into `runs_dir` when a run finishes: plain functional LeNet-5 models that
    `keras.models.load_model` opens without custom objects. They take float
    images scaled to [0, 1] (the trainers divide the uint8 pixels by 255).
    Each is written to a temporary name and renamed."""

    def __init__(self, runs_dir: Path):
        self.runs_dir = Path(runs_dir)

    def group_begin(self, specs, records, first_epoch, active, model, weights):
        self.model, self.weights = model, weights

    def run_epoch_end(self, index, spec, record):
        if record["status"] == "running":
            return
        if record["status"] == "done":
            self.model.set_weights(self.weights(index))
            save_model_atomically(self.model, self.runs_dir / f"{spec.key}.final.keras")
        best_weights = self.runs_dir / f"{spec.key}.weights.h5"
        if best_weights.is_file():
            self.model.load_weights(best_weights)
            save_model_atomically(self.model, self.runs_dir / f"{spec.key}.best.keras")


def save_model_atomically(model: keras.Model, path: Path) -> None:
    """`model.save(path)` atomically (files.atomic_write_with: the temporary name still
    ends in `.keras`)."""
    atomic_write_with(path, model.save)
