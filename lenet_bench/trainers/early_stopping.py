"""Early stopping on a validation hold-out, restoring the best validation epoch's weights.

A run with `validation_split` > 0 trains on the training images minus a
seeded, class-stratified hold-out (split off after the `train_size` subset)
and evaluates that hold-out after every epoch (history: val_loss,
val_accuracy). With `patience` > 0 it also stops: after `patience` epochs in
a row without a strict improvement of `monitor` (val_loss down or
val_accuracy up), at epoch best_val_epoch + patience, or at its last epoch.
Either way its final model is the one of its best validation epoch: those
weights are restored and the final test metrics, predictions and confusion
matrix come from them. The record keeps `best_val_epoch`, `stopped_epoch`
(None when it ran to its last epoch) and `final_test_accuracy/loss`.

This is not keep-best (`keep_best`): keep-best saves the weights of the
best *test* epoch, a figure chosen on the test set and so optimistic;
early stopping chooses on the validation hold-out only, and never looks at
the test set.
"""

import dataclasses

import numpy as np

from lenet_bench.errors import InputError
from lenet_bench.inputs import data

BEST_WEIGHTS_PREFIX = "best_val/"  # Checkpoint state entries: best_val/<replica>/<weight>.


def split_validation(dataset: data.Dataset, fraction: float, seed: int
                     ) -> tuple[data.Dataset, tuple[np.ndarray, np.ndarray]]:
    """(the dataset without its hold-out, (hold-out images, labels)).

    The hold-out is the first round(fraction * n) of the seeded stratified
    order of the training labels (`data.stratified_order`), so every class
    gives its share; the test split is left as it is.
    """
    order = data.stratified_order(dataset.train_labels, seed + 1)  # Not train_size's order.
    count = max(1, int(round(fraction * len(order))))
    held_out, kept = np.sort(order[:count]), np.sort(order[count:])
    reduced = dataclasses.replace(dataset, train_images=dataset.train_images[kept],
                                  train_labels=dataset.train_labels[kept])
    return reduced, (dataset.train_images[held_out], dataset.train_labels[held_out])


def validation_count(train_count: int, fraction: float) -> int:
    """How many of `train_count` images `split_validation` holds out (0 without a split)."""
    return max(1, int(round(fraction * train_count))) if fraction else 0


def check_batch_size(config, dataset: data.Dataset) -> None:
    """Raises InputError when a grid point of `config` (an ExperimentConfig) asks for a
    batch larger than the training images it uses (its train_size, or the dataset's,
    less its validation hold-out). Needs the dataset, not Keras: checked before
    TensorFlow is imported."""
    for point in config.grid_points():
        train_count = point.train_size or len(dataset.train_labels)
        train_count -= validation_count(train_count, point.validation_split)
        if point.batch_size > train_count:
            raise InputError(f"--batch_size={point.batch_size} is invalid: expected at most "
                             f"{train_count} (the training images used)")


def new_fields(validation_size: int) -> dict:
    """The record fields of a run with a validation hold-out."""
    return {"validation_size": validation_size, "best_val_epoch": None, "best_val_loss": None,
            "best_val_accuracy": None, "stopped_epoch": None}


def update(record: dict, epoch: int, val_loss: float, val_accuracy: float, monitor: str,
           patience: int) -> tuple[bool, bool]:
    """Records epoch `epoch` (from 1) of a run's validation metrics.

    Returns (improved: this is the new best validation epoch, stop: `patience`
    > 0 epochs have passed without improvement).
    """
    value = val_loss if monitor == "val_loss" else val_accuracy
    best = record[f"best_{monitor}"]
    improved = best is None or (value < best if monitor == "val_loss" else value > best)
    if improved:
        record["best_val_epoch"] = epoch
        record["best_val_loss"], record["best_val_accuracy"] = float(val_loss), float(val_accuracy)
    stop = bool(patience) and epoch - record["best_val_epoch"] >= patience
    return improved, stop


def to_state(best_weights: dict[int, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Best-validation weights per replica as checkpoint state entries."""
    return {f"{BEST_WEIGHTS_PREFIX}{replica}/{number}": value
            for replica, weights in best_weights.items() for number, value in enumerate(weights)}


def pop_from_state(state: dict[str, np.ndarray]) -> dict[int, list[np.ndarray]]:
    """The best-validation weights `to_state` put into `state`, removed from it."""
    entries = {}
    for name in [name for name in state if name.startswith(BEST_WEIGHTS_PREFIX)]:
        replica, number = map(int, name[len(BEST_WEIGHTS_PREFIX):].split("/"))
        entries.setdefault(replica, {})[number] = state.pop(name)
    return {replica: [weights[number] for number in sorted(weights)]
            for replica, weights in entries.items()}
