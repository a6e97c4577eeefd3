"""What `trainers.group_loop.train_group` tells the world at epoch ends: the Observer hooks.

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

Two observers that need Keras live in lenet_bench.observers.keras_callbacks:
`KerasCallbacks` maps the hooks onto user `keras.callbacks.Callback` objects and
`KerasModelSaver` writes each finished run's `.keras` models. TensorBoard
(lenet_bench.observers.tensorboard_logging) and the progress display
(lenet_bench.observers.progress) are observers too. This module imports no
Keras, so an observer that needs none (and the reports) stays light.
"""

import copy
from typing import Callable, Sequence


class Observer:
    """Base class: every hook does nothing. See the module docstring for when each runs.

    `weights(index)` (given to group_begin) returns run `index`'s current
    weights in `models.build_lenet5(...).get_weights()` order; `model` is a
    Keras LeNet-5 of the group's architecture that an observer may load
    weights into (it is shared: set its weights before each use).
    """

    def group_begin(self, specs: list, records: list[dict], first_epoch: int,
                    active: list[int], model,
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
