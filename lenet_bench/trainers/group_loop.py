"""The group loop: runs that share a group key train together, epoch by epoch.

Each run shuffles the (uint8, in-memory) training set with its own seed every
epoch, trains on its own (possibly noisy) labels, and its learning rate at
epoch e (from 0) is start_lr * decay**e. A replica trainer (lenet_bench.trainers)
does the arithmetic for all runs of the group at once; this module keeps each
run's record and state. After every epoch each run's record is written to
`runs_dir/<key>.json` (atomically), then the group's checkpoint (trainer state
and records), so a killed group resumes from its last finished epoch.

A run's state (`RunState`) moves through named phases:

    training --(loss not finite)--> diverged
    training --(last epoch)--> done
    training --(last epoch, or stopped early: patience ran out)--> restoring --> done

`restoring` is for early-stopping runs: they end with their best validation
epoch's weights, evaluated once for all such runs of the epoch. Runs finished
before this process started are `kept`: they train along (the group needs
them) but their files are left as they are.
"""

import dataclasses
import logging
import math
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from lenet_bench import machine, runs
from lenet_bench.files import atomic_write_json, atomic_write_npz, atomic_write_with
from lenet_bench.inputs import data, noise
from lenet_bench.networks import models
from lenet_bench.observers import cost, hooks
from lenet_bench.observers.keras_callbacks import KerasCallbacks, KerasModelSaver
from lenet_bench.records import analysis
from lenet_bench.options import LIBRARY_OPTIONS, RunOptions
from lenet_bench.runs import RunSpec
from lenet_bench.trainers import early_stopping, make_trainer

logger = logging.getLogger("lenet_bench")
# A group checkpoint names the trainer whose state it holds (the trainers' layouts differ).
CHECKPOINT_TRAINER_KEY = "trainer"

TRAINING, RESTORING, DONE, DIVERGED, KEPT = "training", "restoring", "done", "diverged", "kept"


@dataclasses.dataclass
class RunState:
    """One run of a group: its record (what is written) and its phase (what happens next)."""

    index: int  # Its replica in the group's trainer.
    spec: RunSpec
    record: dict
    phase: str = TRAINING
    best_val_weights: list | None = None  # Early stopping: its best validation epoch's weights.

    def diverge(self, epoch: int) -> None:
        self.phase = DIVERGED
        self.record["status"], self.record["diverged_epoch"] = "diverged", epoch
        self.stamp_finished()
        logger.warning("%s diverged at epoch %d (loss is not finite); stopped", self.spec.key,
                       epoch)

    def stop_early(self, epoch: int) -> None:
        self.record["stopped_epoch"] = epoch
        logger.info("%s stopped early at epoch %d: no %s improvement since epoch %d",
                    self.spec.key, epoch, self.spec.monitor, self.record["best_val_epoch"])

    def start_restoring(self) -> None:
        self.phase = RESTORING

    def finish(self) -> None:
        """Marks the run done; the caller adds its final results, then `stamp_finished`."""
        self.phase = DONE
        self.record["status"] = "done"

    def stamp_finished(self) -> None:
        self.record["finished"] = _now()


def new_record(spec: RunSpec, experiment: str, num_params: int, train_size: int,
               trainer: str, group_size: int, data_record: dict | None = None) -> dict:
    """A run's record before its first epoch. `data_record`: what the run trains on
    (inputs.data.describe_data: files and their hashes, counts, published release or
    not); outside the run key, which it must not change."""
    return {
        "results_format": runs.RESULTS_FORMAT,
        "key": spec.key,
        "experiment": experiment,
        "spec": dataclasses.asdict(spec),
        "status": "running",
        "epochs_done": 0,
        "history": {name: [] for name in runs.HISTORY_METRICS},
        "best_epoch": None,
        "best_test_accuracy": None,
        "diverged_epoch": None,
        "noise": {"eps": spec.label_noise, "mode": spec.noise_mode},
        "num_params": num_params,
        "train_size": train_size,
        "data": data_record,
        "trainer": trainer,
        "group_size": group_size,
        "device": machine.describe_device(),
        "onednn": machine.onednn_setting(),
        "threads": machine.training_threads(),
        "versions": machine.library_versions(),
        "started": _now(),
        "wall_seconds": 0.0,
    }


def train_group(specs: list[RunSpec], dataset: data.Dataset, runs_dir: Path | None,
                options: RunOptions = LIBRARY_OPTIONS, *, experiment: str = "",
                keep_best: bool = True, finished: set[str] = frozenset(), callbacks=None,
                observers: list[hooks.Observer] = ()) -> list[dict]:
    """Trains runs that share a group key together; returns their run records.

    A run whose loss is not finite is marked diverged and its record stops
    there, while the others go on. At the end each finished run's test
    predictions go to `<key>.predictions.npz` and its confusion matrix into the
    record. With a validation split each epoch also evaluates the hold-out, and
    with patience a run stops early and ends with its best validation epoch's
    weights (lenet_bench.trainers.early_stopping; kept in memory and in the checkpoint).
    The checkpoint is removed when the group ends.

    Args:
      specs: runs with one group key; `dataset` is already reduced to their
        train_size (and split).
      dataset: training and test arrays.
      runs_dir: where run files go, or None to keep records in memory only.
      options: the study's run options, as the command line or `run_study` made them
        (this function reads `trainer`, `jit` and `keras_models`: each finished run's
        `<key>.final.keras` and `<key>.best.keras` into `runs_dir`, by
        keras_callbacks.KerasModelSaver).
      experiment: the experiment name, recorded in each record.
      keep_best: save the best-test-epoch weights of each run
        (`<key>.weights.h5`): chosen on the test set, unlike early stopping's
        restored best-validation-epoch weights.
      finished: keys of runs already finished in `runs_dir`; they train
        along but their files are left as they are.
      callbacks: Keras callbacks (see keras_callbacks.KerasCallbacks).
      observers: told about the group's epochs (see hooks.Observer).
    """
    group = GroupTraining(specs, dataset, runs_dir, options, experiment=experiment,
                          keep_best=keep_best, finished=finished)
    observers = ([KerasCallbacks(callbacks)] if callbacks else []) + list(observers)
    if options.keras_models and runs_dir is not None:
        observers.append(KerasModelSaver(runs_dir))
    return group.run(observers)


def train_run(spec: RunSpec, dataset: data.Dataset, **kwargs) -> dict:
    """Trains one run alone (see `train_group`) and returns its record."""
    return train_group([spec], dataset, kwargs.pop("runs_dir", None), **kwargs)[0]


class GroupTraining:
    """One group's training: its data, its replica trainer, and each run's state."""

    def __init__(self, specs: list[RunSpec], dataset: data.Dataset, runs_dir: Path | None,
                 options: RunOptions, *, experiment: str, keep_best: bool, finished: set[str]):
        self.specs, self.runs_dir, self.keep_best = specs, runs_dir, keep_best
        self.validation = None
        if specs[0].validation_split:
            dataset, self.validation = early_stopping.split_validation(
                dataset, specs[0].validation_split, specs[0].data_seed)
        self.dataset = dataset
        self.noisy_labels = np.stack([
            noise.corrupt_labels(dataset.train_labels, dataset.num_classes, spec.label_noise,
                                 spec.noise_mode, spec.seed) for spec in specs])
        initial_weights = []
        for spec in specs:
            self.template = models.build_run_model(spec, dataset)
            initial_weights.append(self.template.get_weights())
        self.replicas = make_trainer(options.trainer, specs, initial_weights, dataset,
                                     options.jit_compile)
        self.trainer_name = type(self.replicas).__name__
        self.cost_meter = None  # Made when the first run finishes.
        self.checkpoint = runs.checkpoint_path(runs_dir, specs) if runs_dir is not None else None
        self.first_epoch = 0
        self.states = [RunState(index, spec, self._new_record(index, experiment),
                                KEPT if spec.key in finished else TRAINING)
                       for index, spec in enumerate(specs)]
        self._resume()

    def _new_record(self, index: int, experiment: str) -> dict:
        record = new_record(self.specs[index], experiment, self.template.count_params(),
                            len(self.dataset.train_labels), type(self.replicas).__name__,
                            len(self.specs), data.describe_data(self.dataset))
        record["noise"]["transition_counts"] = noise.transition_counts(
            self.dataset.train_labels, self.noisy_labels[index], self.dataset.num_classes).tolist()
        if self.validation is not None:
            record.update(early_stopping.new_fields(len(self.validation[1])))
            record["history"].update(val_loss=[], val_accuracy=[])
        return record

    def _resume(self) -> None:
        """Continues from the group's checkpoint, if it has one for these runs."""
        restored = runs.load_checkpoint(self.checkpoint, self.specs) if self.checkpoint else None
        if restored is None:
            return
        first_epoch, records, state = restored
        written_by = str(state.pop(CHECKPOINT_TRAINER_KEY, ""))
        if written_by and written_by != self.trainer_name:
            # Its state has another trainer's layout (--trainer, or what auto picked, changed).
            logger.warning("%s was written by the %s trainer, not %s: its %d epochs are trained "
                           "again", self.checkpoint.name, written_by, self.trainer_name,
                           first_epoch)
            return
        self.first_epoch = first_epoch
        best_val_weights = early_stopping.pop_from_state(state)
        self.replicas.set_state(state)
        for run, record in zip(self.states, records):
            run.record = record
            run.best_val_weights = best_val_weights.get(run.index)
            if run.phase == TRAINING and record["status"] != "running":
                run.phase = DONE if record["status"] == "done" else DIVERGED
        logger.info("resumed %d runs from %s after epoch %d", len(self.specs),
                    self.checkpoint.name, self.first_epoch)

    @property
    def training(self) -> list[RunState]:
        return [run for run in self.states if run.phase == TRAINING]

    def run(self, observers: list[hooks.Observer]) -> list[dict]:
        records = [run.record for run in self.states]
        for observer in observers:
            observer.group_begin(self.specs, records, self.first_epoch,
                                 [run.index for run in self.training], self.template,
                                 self.replicas.get_weights)
        started = time.perf_counter()
        epochs = self.specs[0].epochs
        for epoch in range(self.first_epoch, epochs):
            self._epoch(epoch, observers)
            for observer in observers:
                observer.group_epoch_end(epoch + 1, epochs)
            if not self.training or epoch + 1 == epochs:
                break
            if self.checkpoint is not None:
                runs.save_checkpoint(self.checkpoint, epoch + 1, records,
                                     {**self.replicas.get_state(),
                                      **early_stopping.to_state(self._best_val_weights()),
                                      CHECKPOINT_TRAINER_KEY: np.str_(self.trainer_name)})
        records = [run.record for run in self.states]
        for observer in observers:
            observer.group_end(records)
        if self.checkpoint is not None:
            self.checkpoint.unlink(missing_ok=True)
        logger.info("group of %d runs: %.1f s", len(self.specs), time.perf_counter() - started)
        return records

    def _best_val_weights(self) -> dict[int, list]:
        return {run.index: run.best_val_weights for run in self.training
                if run.best_val_weights is not None}

    def _epoch(self, epoch: int, observers: list[hooks.Observer]) -> None:
        """Trains and evaluates every replica for one epoch, then updates the runs still
        training: their records, their phases, their files."""
        epoch_started = time.perf_counter()
        learning_rates = [spec.learning_rate_at(epoch) for spec in self.specs]
        orders = np.stack([np.random.default_rng([spec.seed, epoch]).permutation(
            len(self.dataset.train_labels)) for spec in self.specs])
        train = self.replicas.train_epoch(
            self.dataset.train_images, self.noisy_labels, orders, self.specs[0].batch_size,
            learning_rates, self.dataset.train_labels, seeds=[spec.seed for spec in self.specs],
            epoch=epoch)
        test = self.replicas.evaluate(self.dataset.test_images, self.dataset.test_labels)
        val = self.replicas.evaluate(*self.validation) if self.validation is not None else None
        seconds = (time.perf_counter() - epoch_started) / len(self.specs)
        restoring = []
        for run in self.training:
            metrics = {"epoch": epoch + 1, "learning_rate": learning_rates[run.index],
                       "epoch_seconds": seconds,
                       **{f"train_{name}": train[name][run.index]
                          for name in ("loss", "accuracy", "clean_accuracy")},
                       **{f"test_{name}": test[name][run.index]
                          for name in ("loss", "accuracy", "soft_accuracy")}}
            if val is not None:
                metrics.update(val_loss=val["loss"][run.index],
                               val_accuracy=val["accuracy"][run.index])
            self._record_epoch(run, metrics, seconds)
            self._advance(run, metrics, test)
            if run.phase == RESTORING:
                restoring.append(run)  # Finished below, once its best weights are back.
                continue
            self._publish(run, observers)
        if restoring:
            self._restore_and_finish(restoring, test, epoch)
            for run in restoring:
                self._publish(run, observers, write=False)

    def _record_epoch(self, run: RunState, metrics: dict, seconds: float) -> None:
        record, epoch = run.record, metrics["epoch"]
        for name, value in metrics.items():
            value = float(value) if name != "epoch" else value
            # A checkpoint from before a metric existed: earlier epochs have no value.
            history = record["history"].setdefault(name, [None] * (epoch - 1))
            history.append(value if math.isfinite(value) else None)
        record["epochs_done"] = epoch
        record["wall_seconds"] += seconds
        logger.info("%s epoch %d/%d lr %.2e  train loss %.4f acc %.4f  test loss %.4f "
                    "acc %.4f", run.spec.key, epoch, run.spec.epochs, metrics["learning_rate"],
                    metrics["train_loss"], metrics["train_accuracy"], metrics["test_loss"],
                    metrics["test_accuracy"])

    def _advance(self, run: RunState, metrics: dict, test: dict) -> None:
        """Moves `run` to its next phase after an epoch with `metrics`."""
        record, spec, epoch = run.record, run.spec, metrics["epoch"]
        if not (math.isfinite(metrics["train_loss"]) and math.isfinite(metrics["test_loss"])):
            run.diverge(epoch)
            return
        if record["best_test_accuracy"] is None or \
                metrics["test_accuracy"] > record["best_test_accuracy"]:
            record["best_epoch"] = epoch
            record["best_test_accuracy"] = float(metrics["test_accuracy"])
            if self.keep_best and self.runs_dir is not None:
                self._save_best_weights(run)
        last_epoch = epoch == spec.epochs
        stopping = False
        if self.validation is not None:
            improved, stopping = early_stopping.update(
                record, epoch, metrics["val_loss"], metrics["val_accuracy"], spec.monitor,
                spec.patience)
            if improved and spec.patience:
                run.best_val_weights = self.replicas.get_weights(run.index)
            if stopping and not last_epoch:
                run.stop_early(epoch)
        if last_epoch or stopping:
            if spec.patience:
                run.start_restoring()
            else:
                self._finish(run, test)

    def _save_best_weights(self, run: RunState) -> None:
        self.template.set_weights(self.replicas.get_weights(run.index))
        atomic_write_with(runs.run_path(self.runs_dir, run.spec, ".weights.h5"),
                          self.template.save_weights)

    def _finish(self, run: RunState, test: dict) -> None:
        """Ends `run` as done with the test results of its replica in `test`: its
        confusion matrices into the record, its predictions to `<key>.predictions.npz`,
        its cost figures (with its current weights)."""
        run.finish()
        record, index = run.record, run.index
        predicted, confidence = test["predictions"][index], test["confidence"][index]
        record["confusion_matrix"] = analysis.confusion_matrix(
            self.dataset.test_labels, predicted, self.dataset.num_classes).tolist()
        record["soft_confusion"] = np.round(analysis.soft_confusion_from_sums(
            test["soft_confusion_sums"][index]), 6).tolist()
        if self.runs_dir is not None:
            save_predictions(runs.run_path(self.runs_dir, run.spec, ".predictions.npz"),
                             predicted, confidence)
        record["cost"] = self._measure_cost(run)
        run.stamp_finished()

    def _measure_cost(self, run: RunState) -> dict:
        """The run's cost figures (lenet_bench.observers.cost): its own training times and
        its model's figures, measured on the group's first finished run."""
        if self.cost_meter is None:
            self.template.set_weights(self.replicas.get_weights(run.index))
            self.cost_meter = cost.CostMeter(self.template, self.dataset.test_images)
        return self.cost_meter.measure(run.record)

    def _restore_and_finish(self, restoring: list[RunState], test: dict, epoch: int) -> None:
        """Ends early-stopping runs: restores each one's best-validation weights, evaluates
        the test set with them (once for all, skipped when every one's best epoch is this
        one) and records that as the run's final test result."""
        if any(run.record["best_val_epoch"] != epoch + 1 for run in restoring):
            for run in restoring:
                self.replicas.set_weights(run.index, run.best_val_weights)
            test = self.replicas.evaluate(self.dataset.test_images, self.dataset.test_labels)
        for run in restoring:
            record = run.record
            record["final_test_loss"] = float(test["loss"][run.index])
            record["final_test_accuracy"] = float(test["accuracy"][run.index])
            record["final_test_soft_accuracy"] = float(test["soft_accuracy"][run.index])
            self._finish(run, test)
            logger.info("%s: best validation epoch %d restored: test acc %.4f", run.spec.key,
                        record["best_val_epoch"], record["final_test_accuracy"])
            if self.runs_dir is not None:
                atomic_write_json(runs.run_path(self.runs_dir, run.spec), record)

    def _publish(self, run: RunState, observers: list[hooks.Observer], write: bool = True):
        """Tells the observers about `run`'s epoch, then writes its record."""
        for observer in observers:
            observer.run_epoch_end(run.index, run.spec, run.record)
        if write and self.runs_dir is not None:
            atomic_write_json(runs.run_path(self.runs_dir, run.spec), run.record)


def save_predictions(path: Path, predicted: np.ndarray, confidence: np.ndarray) -> None:
    """The final model's test predictions: class (uint8) and max probability (float16)."""
    atomic_write_npz(path, compressed=True, predicted=np.asarray(predicted, dtype=np.uint8),
                     confidence=np.asarray(confidence, dtype=np.float16))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
