"""What `trainers.group_loop.train_group` tells the world at epoch ends, and two uses of it.

Our trainers do not call `model.fit`: on the fused path a group's runs are
replicas inside one graph, on the Keras path each run has its own compiled
step. So instead of Keras's per-batch callback machinery, `train_group`
calls an `Observer` at four points, once per epoch of the whole group (the
loop runs once per epoch for all replicas anyway):

- `group_begin`: after the group is built (or restored from its checkpoint);
- `run_epoch_end`: per active run, after its record has the epoch's metrics
  and its status ('running', 'done' or 'diverged'), before the record is
  written;
- `group_epoch_end`: once per epoch, after every run's record;
- `group_end`: when the group stops.

`KerasCallbacks` maps that onto user `keras.callbacks.Callback` objects;
`KerasModelSaver` writes each finished run's `.keras` models. TensorBoard
(lenet_bench.observers.tensorboard_logging) and the progress display
(lenet_bench.observers.progress) are observers too.
"""

import copy
from pathlib import Path
from typing import Callable, Sequence

import keras

from lenet_bench.files import atomic_write_with


class Observer:
    """Base class: every hook does nothing. See the module docstring for when each runs.

    `weights(index)` (given to group_begin) returns run `index`'s current
    weights in `models.build_lenet5(...).get_weights()` order; `model` is a
    Keras LeNet-5 of the group's architecture that an observer may load
    weights into (it is shared: set its weights before each use).
    """

    def group_begin(self, specs: list, records: list[dict], first_epoch: int,
                    active: list[int], model: keras.Model,
                    weights: Callable[[int], list]) -> None:
        pass

    def run_epoch_end(self, index: int, spec, record: dict) -> None:
        pass

    def group_epoch_end(self, epochs_done: int, epochs: int) -> None:
        pass

    def group_end(self, records: list[dict]) -> None:
        pass


def epoch_logs(record: dict) -> dict:
    """The last epoch of a record under Keras `fit`'s log names: `loss`, `accuracy`
    (training), `clean_accuracy` (on the clean labels), `test_loss`, `test_accuracy`,
    `learning_rate`, and, for runs with a validation split, `val_loss` and
    `val_accuracy`. As in run histories, `val_*` is only ever the validation
    hold-out of the training set, never the test set."""
    history = record["history"]
    names = {"loss": "train_loss", "accuracy": "train_accuracy",
             "clean_accuracy": "train_clean_accuracy", "test_loss": "test_loss",
             "test_accuracy": "test_accuracy", "val_loss": "val_loss",
             "val_accuracy": "val_accuracy", "learning_rate": "learning_rate"}
    return {name: history[metric][-1] for name, metric in names.items()
            if history.get(metric) and history[metric][-1] is not None}


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


def record_at_epoch(record: dict, epoch: int) -> dict:
    """`record` as it was after `epoch` (from 1): history cut there, best test accuracy so
    far, and status 'running' before its last epoch."""
    past = copy.deepcopy(record)
    past["history"] = {name: values[:epoch] for name, values in record["history"].items()}
    past["epochs_done"] = epoch
    accuracies = [value for value in past["history"].get("test_accuracy", []) if value is not None]
    past["best_test_accuracy"] = max(accuracies) if accuracies else None
    if epoch < record["epochs_done"]:
        past["status"] = "running"
    return past


def replay_group(observers: Sequence[Observer], specs: list, records: list[dict],
                 finished: set[str]) -> None:
    """Tells `observers` about a group that trained elsewhere (a Ray task), epoch by
    epoch from its finished records, as `trainers.group_loop.train_group` would have; runs in
    `finished` (trained before) are left out. No model or weights are given."""
    if not observers:
        return
    active = [index for index, spec in enumerate(specs)
              if spec.key not in finished and records[index]]
    for observer in observers:
        observer.group_begin(specs, records, 0, list(active), None, None)
    epochs = max((records[index]["epochs_done"] for index in active), default=0)
    for epoch in range(1, epochs + 1):
        for index in active:
            if records[index]["epochs_done"] >= epoch:
                past = record_at_epoch(records[index], epoch)
                for observer in observers:
                    observer.run_epoch_end(index, specs[index], past)
        for observer in observers:
            observer.group_epoch_end(epoch, specs[0].epochs)
    for observer in observers:
        observer.group_end(records)
