"""Training: an experiment's runs in groups, one JSON per run per finished epoch.

The runs (grid points x seeds) are packed into groups that train together:
on the fused path (lenet_bench.fused) a group is one graph of R LeNet-5
replicas, on the Keras path the runs of a group train one after another,
each a plain Keras model with a compiled step. Either way each run shuffles
the (uint8, in-memory) training set with its own seed every epoch, trains on
its own (possibly noisy) labels, and its learning rate at epoch e (from 0) is
start_lr * decay**e. After every epoch each run's JSON under
`<workdir>/<experiment>/runs/` is rewritten atomically with the history so
far; a rerun skips finished runs.
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
from lenet_bench import (analysis, architectures, augmentation, cost, data, early_stopping,
                         engines, hooks, inspection, models, noise)
from lenet_bench.config import ExperimentConfig, validate
from lenet_bench.errors import InputError
from lenet_bench.files import atomic_write_json, atomic_write_npz, read_json

logger = logging.getLogger("lenet_bench")

RESULTS_FORMAT = 3  # Bump when a change makes old run files incomparable.
EVAL_BATCH_SIZE = 1000
FINISHED_STATUSES = ("done", "diverged")
TRAINERS = ("auto", "fused", "keras")
DEFAULT_GROUP_SIZE = 12
# RunSpec fields left out of its key's hash when they have their default value.
HASH_OPTIONAL_FIELDS = ("precision", "validation_split", "patience", "monitor",
                        "augment_translation", "augment_rotation", "augment_zoom",
                        "augment_flip", "split", "architecture", "dropout", "l2", "batch_norm")
PARAMETER_COUNTS_FILE = "parameter_counts.json"
HISTORY_METRICS = ("epoch", "learning_rate", "train_loss", "train_accuracy",
                   "train_clean_accuracy", "test_loss", "test_accuracy", "epoch_seconds",
                   "test_soft_accuracy")


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
    label_noise: float
    noise_mode: str
    epochs: int
    batch_size: int
    seed: int
    precision: str = "float32"
    validation_split: float = 0.0
    patience: int = 0
    monitor: str = "val_loss"
    augment_translation: float = 0.0
    augment_rotation: float = 0.0
    augment_zoom: float = 0.0
    augment_flip: bool = False
    split: str = ""  # Validation split evaluated instead of the test set (data.parse_split).
    architecture: str = "lenet5"
    dropout: float = 0.0
    l2: float = 0.0
    batch_norm: bool = False

    @property
    def key(self) -> str:
        """Readable name plus a short hash of every field, e.g.
        'glorot_normal_lr0.005_decay0.9_seed0_3f9a1c2e'. Fields added later are
        left out of the hash at their defaults (float32, no validation split, no
        augmentation, no search split, plain LeNet-5), so runs written before they
        existed keep their keys. A non-default architecture leads the name
        ('mlp_glorot_normal_...'), its knobs follow the decay ('_drop0.5_l20.0001_bn')."""
        hashed = dataclasses.asdict(self)
        for field in dataclasses.fields(self):
            if field.name in HASH_OPTIONAL_FIELDS and hashed[field.name] == field.default:
                del hashed[field.name]
        fields = json.dumps([RESULTS_FORMAT, hashed], sort_keys=True)
        digest = hashlib.sha256(fields.encode()).hexdigest()[:8]
        noise = ""
        if self.label_noise:
            noise = f"_noise{self.label_noise:g}" + ("_exact" if self.noise_mode == "exact" else "")
        precision = "" if self.precision == "float32" else f"_{self.precision}"
        architecture = "" if self.architecture == "lenet5" else f"{self.architecture}_"
        knobs = ((f"_drop{self.dropout:g}" if self.dropout else "")
                 + (f"_l2{self.l2:g}" if self.l2 else "") + ("_bn" if self.batch_norm else ""))
        extras = ""
        if self.validation_split:
            extras += f"_val{self.validation_split:g}"
            extras += f"_es{self.patience}{self.monitor[4:]}" if self.patience else ""
        if augmentation.AugmentSettings.of(self).on:
            extras += "_aug"
        extras += "".join(f"_{step.replace(':', '-')}" for step in self.split.split("/") if step)
        return (f"{architecture}{self.initializer}_lr{self.learning_rate:g}"
                f"_decay{self.lr_decay:g}{knobs}{noise}{precision}{extras}_seed{self.seed}_{digest}")

    @property
    def group_key(self) -> tuple:
        """Runs with equal group keys can train together in one fused group."""
        return (self.dataset, self.train_size, self.data_seed, self.activation,
                self.first_conv_padding, self.optimizer, self.epochs, self.batch_size,
                self.precision, self.validation_split, self.split, self.architecture,
                self.dropout, self.l2, self.batch_norm)

    @property
    def is_plain_lenet5(self) -> bool:
        """True for the model the fused trainer implements (LeNet-5, no regularization)."""
        return architectures.is_plain_lenet5(self.architecture, self.dropout, self.l2,
                                             self.batch_norm)

    def learning_rate_at(self, epoch: int) -> float:
        return self.learning_rate * self.lr_decay ** epoch


def run_specs(config: ExperimentConfig) -> list[RunSpec]:
    """The runs of an experiment: every grid point, repeated over `seeds` seeds.

    Seed-major: all grid points of the first seed come first, so a study cut
    short still covers the whole grid.
    """
    names = [field.name for field in dataclasses.fields(RunSpec) if field.name != "seed"]
    specs = []
    for seed in range(config.first_seed, config.first_seed + config.seeds):
        for point in config.grid_points():
            fields = {name: getattr(point, name) for name in names}
            if not fields["label_noise"]:
                fields["noise_mode"] = "sampled"  # eps = 0 is the same run in either mode.
            if not fields["patience"]:
                fields["monitor"] = "val_loss"  # Without early stopping nothing is monitored.
            specs.append(RunSpec(**fields, seed=seed))
    return specs


def dataset_key(spec: RunSpec) -> tuple:
    """Runs with equal dataset keys train and evaluate on the same arrays: the same
    training subset, and the same validation split of it (the search's) or the test set."""
    return (spec.train_size, spec.data_seed, spec.split)


def make_groups(specs: list[RunSpec], group_size: int) -> list[list[RunSpec]]:
    """Packs runs into groups of at most `group_size` that train together.

    Runs of one seed and one group key go together, so they share their data
    order and the fused path shares conv1 over one batch (the fastest layout
    measured). Runs that would be alone that way (a single configuration
    repeated over seeds, or the one left over when a seed's runs do not fill
    the last group) are packed across seeds instead: 5 replicas with their
    own orders measured 2.8x faster than one run at a time with oneDNN on
    (group scan in benchmarks/fused_speed.txt). The packing depends only on
    the list given, so the same runs always make the same groups.
    """
    by_key: dict[tuple, list[RunSpec]] = {}
    for spec in specs:
        by_key.setdefault((spec.group_key, spec.seed), []).append(spec)
    groups, lone_by_group_key = [], {}
    for (group_key, _), members in by_key.items():
        for start in range(0, len(members), group_size):
            chunk = members[start:start + group_size]
            if len(chunk) == 1:
                lone_by_group_key.setdefault(group_key, []).append(chunk[0])
            else:
                groups.append(chunk)
    for lone in lone_by_group_key.values():
        groups += [lone[start:start + group_size] for start in range(0, len(lone), group_size)]
    return groups


def check_runnable(config: ExperimentConfig, dataset: data.Dataset) -> None:
    """Raises InputError for any value that would fail later, before anything is written."""
    validate(config)
    for point in config.grid_points():
        models.make_initializer(point.initializer, 0)
        models.make_optimizer(point.optimizer, point.learning_rate)
        models.check_activation(point.activation)
        data.parse_split(point.split)
        train_count = point.train_size or len(dataset.train_labels)
        train_count -= early_stopping.validation_count(train_count, point.validation_split)
        if point.batch_size > train_count:
            raise InputError(f"--batch_size={point.batch_size} is invalid: expected at most "
                             f"{train_count} (the training images used)")


def check_workdir(config: ExperimentConfig, dataset: data.Dataset, workdir: str | Path) -> None:
    """Raises InputError when `workdir` cannot take this experiment's results:
    it is a file, it is itself an experiment folder, or `<workdir>/<name>/`
    holds the results of another experiment or dataset."""
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise InputError(f"--workdir={workdir} is a file: expected a directory")
    own = read_json(workdir / "config.json")
    if own and "experiment" in own:
        raise InputError(f"--workdir={workdir} is the results folder of experiment "
                         f"{own['experiment']!r}: expected the folder above it ({workdir.parent})")
    existing = read_json(workdir / config.name / "config.json")
    if existing:
        theirs = (existing.get("experiment"), (existing.get("dataset") or {}).get("name"))
        if theirs != (config.name, dataset.name):
            raise InputError(f"--workdir={workdir}: {workdir / config.name} holds results of "
                             f"experiment {theirs[0]!r} on {theirs[1]!r}: expected "
                             f"{config.name!r} on {dataset.name!r}; use another --workdir")


def run_experiment(config: ExperimentConfig, dataset: data.Dataset, workdir: str | Path,
                   *, trainer: str = "auto", group_size: int = DEFAULT_GROUP_SIZE,
                   jit_compile: bool | None = None, command: str | None = None,
                   tensorboard: bool = False, save_models: bool = False, callbacks=None,
                   progress: hooks.Observer | None = None, engine=None,
                   specs: list[RunSpec] | None = None,
                   ood_dataset: data.Dataset | None = None) -> Path:
    """Trains every run of `config` not already finished in `workdir`.

    Args:
      config: the experiment.
      dataset: the full dataset; `config.train_size` picks a subset here.
      workdir: results go to `<workdir>/<config.name>/`.
      trainer: 'fused' trains up to `group_size` runs together in one graph
        (lenet_bench.fused); 'keras' trains one Keras model at a time; 'auto'
        is fused where it supports the optimizer.
      group_size: the most runs in one fused group.
      jit_compile: XLA for the train and eval steps; None: each trainer's
        measured default for the device.
      command: the command line, recorded in config.json.
      tensorboard: write TensorBoard scalars and HParams summaries under
        `<experiment>/tb/` (lenet_bench.tensorboard_logging).
      save_models: write each finished run's `<key>.final.keras` and
        `<key>.best.keras` (hooks.KerasModelSaver).
      callbacks: Keras callbacks, or a function spec -> callbacks, called per
        run at epoch ends (hooks.KerasCallbacks says which hooks, and when).
      progress: a progress.Progress (or any hooks.Observer with an
        `experiment_begin(name, groups)` method) told about every group.
      engine: trains the groups (lenet_bench.engines): LocalEngine (None) in
        this process, or RayEngine on a Ray cluster; the workdir comes out the
        same either way.
      specs: the runs to train instead of `run_specs(config)` (the search's trials).
      ood_dataset: the dataset `config.ood_dataset` names (its test images are
        the out-of-distribution set); needed when that is set.

    At the end (see lenet_bench.inspection): the test labels, the model
    internals of the best grid point's median run, and, with an OOD dataset,
    each finished run's OOD metrics (in its JSON) are written.

    Returns:
      The experiment directory.

    Raises:
      InputError: an invalid config value or an unwritable workdir; raised
        before anything in the workdir is written.
    """
    check_runnable(config, dataset)
    check_workdir(config, dataset, workdir)
    if config.ood_dataset is not None:
        if ood_dataset is None or ood_dataset.name != config.ood_dataset:
            raise InputError(f"--ood_dataset={config.ood_dataset!r}: that dataset was not "
                             "loaded: expected it passed to run_experiment")
        inspection.check_ood_dataset(dataset, ood_dataset)
    if trainer not in TRAINERS:
        raise InputError(f"--trainer={trainer!r} is invalid: expected one of {', '.join(TRAINERS)}")
    specs = run_specs(config) if specs is None else specs
    if trainer == "fused":
        for spec in specs:
            check_fused_supports(spec)
    experiment_dir = Path(workdir) / config.name
    runs_dir = experiment_dir / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--workdir={workdir}: cannot create {runs_dir} ({error.strerror})") from None
    if not os.access(runs_dir, os.W_OK):
        raise InputError(f"--workdir={workdir}: {runs_dir} is not writable")
    subsets = {}  # (train_size, data_seed) -> dataset
    for spec in specs:
        if (spec.train_size, spec.data_seed) not in subsets:
            subsets[spec.train_size, spec.data_seed] = data.take_train_subset(
                dataset, spec.train_size, spec.data_seed)
    splits = {}  # dataset_key(spec) -> the dataset a run trains and evaluates on
    for spec in specs:
        if dataset_key(spec) not in splits:
            splits[dataset_key(spec)] = data.apply_split(
                subsets[spec.train_size, spec.data_seed], spec.split)
    atomic_write_json(experiment_dir / "config.json", {
        "experiment": config.name,
        "config": config.to_dict(),
        "run_keys": [spec.key for spec in specs],
        "dataset": describe_dataset(next(iter(subsets.values()))),
        "command": command,
        "machine": describe_machine(),
        "versions": library_versions(),
        "results_format": RESULTS_FORMAT,
    })
    counts_path = experiment_dir / PARAMETER_COUNTS_FILE
    if not counts_path.is_file() and not all(spec.is_plain_lenet5 for spec in specs):
        # Varied models: show their scale. Once per experiment (VGG-19 takes seconds to build).
        atomic_write_json(counts_path, {
            "rows": models.parameter_count_rows(dataset.image_shape, dataset.num_classes)})
    finished = {spec.key for spec in specs if _is_finished(runs_dir / f"{spec.key}.json")}
    logger.info("%s: %d runs, %d already finished, %d to train", config.name, len(specs),
                len(finished), len(specs) - len(finished))
    # Groups are made from all runs, not just the pending ones, so a rerun after
    # a kill rebuilds the same groups and finds their checkpoints.
    groups = [group for group in make_groups(specs, group_size if trainer != "keras" else 1)
              if any(spec.key not in finished for spec in group)]
    observers = []
    if tensorboard:
        from lenet_bench.tensorboard_logging import TB_FOLDER, TensorBoardLogger

        observers.append(TensorBoardLogger(experiment_dir / TB_FOLDER, specs, config.grid))
        observers[-1].write_experiment_config()
    if progress is not None:
        progress.experiment_begin(config.name, len(groups))
        observers.append(progress)
    (engine or engines.LocalEngine()).train_groups(
        groups, splits, runs_dir, finished=finished,
        options=engines.GroupOptions(trainer=trainer, jit_compile=jit_compile,
                                     experiment=config.name, keep_best=config.keep_best,
                                     save_models=save_models),
        observers=observers, callbacks=callbacks)
    records = [read_json(runs_dir / f"{spec.key}.json") for spec in specs if not spec.split]
    analysis.write_confusion_examples(experiment_dir / "confusion_examples.npz",
                                      [record for record in records if record], runs_dir,
                                      dataset.test_images, dataset.test_labels)
    inspection.write_test_labels(experiment_dir / inspection.TEST_LABELS_FILE, dataset.test_labels)
    if config.ood_dataset is not None:
        inspection.evaluate_ood([record for record in records if record], runs_dir, dataset,
                                ood_dataset)
    inspection.write_model_internals(experiment_dir / inspection.MODEL_INTERNALS_FILE,
                                     [record for record in records if record], runs_dir, dataset,
                                     config.rank_runs_by)
    return experiment_dir


def check_fused_supports(spec: RunSpec) -> None:
    """Raises InputError when the fused trainer cannot train `spec`'s model."""
    if not spec.is_plain_lenet5:
        raise InputError(f"--trainer=fused trains plain LeNet-5 only, not --architecture="
                         f"{spec.architecture} --dropout={spec.dropout:g} --l2={spec.l2:g} "
                         f"--batch_norm={str(spec.batch_norm).lower()}: expected "
                         "--trainer=keras (or auto)")


def build_run_model(spec: RunSpec, dataset: data.Dataset) -> keras.Model:
    """The Keras model of a run: its architecture with its initial weights and dropout seeds.

    The one place a run's model is built, for both trainers' initial weights and
    for the Keras replicas themselves.
    """
    architecture = architectures.resolve(spec.architecture, activation=spec.activation,
                                         dropout=spec.dropout, l2=spec.l2,
                                         batch_norm=spec.batch_norm)
    return models.build_model(architecture, dataset.image_shape, dataset.num_classes,
                              initializer=spec.initializer, seed=spec.seed,
                              first_conv_padding=spec.first_conv_padding,
                              precision=spec.precision, name=spec.architecture)


def make_trainer(kind: str, specs: list[RunSpec], initial_weights: list, dataset: data.Dataset,
                 jit_compile: bool | None):
    """The replica trainer for a group: fused when asked, or with 'auto' when the fused
    path supports the optimizer and the model (plain LeNet-5), except for a lone run
    with oneDNN not asked for (then one XLA-compiled Keras model measured faster on
    CPU; with oneDNN on, the fused path was: benchmarks/fused_speed.txt); else Keras.

    Raises:
      InputError: 'fused' for an optimizer or a model the fused path lacks.
    """
    optimizer = specs[0].optimizer
    if kind == "fused":
        check_fused_supports(specs[0])
    if specs[0].is_plain_lenet5 and (
            kind == "fused" or (kind == "auto" and (len(specs) > 1 or onednn_setting() == "on"))):
        from lenet_bench import fused

        if optimizer in fused.SUPPORTED_OPTIMIZERS:
            return fused.FusedLeNet5(initial_weights, dataset.image_shape, dataset.num_classes,
                                     optimizer=optimizer, activation=specs[0].activation,
                                     first_conv_padding=specs[0].first_conv_padding,
                                     precision=specs[0].precision, jit_compile=jit_compile,
                                     augment=[augmentation.AugmentSettings.of(spec)
                                              for spec in specs])
        if kind == "fused":
            raise InputError(f"--optimizer={optimizer!r} is not supported by --trainer=fused: "
                             f"expected one of {', '.join(fused.SUPPORTED_OPTIMIZERS)} "
                             "(or --trainer=keras)")
    return KerasReplicas(initial_weights, specs, dataset,
                         jit_compile=True if jit_compile is None else jit_compile)


def _is_finished(run_path: Path) -> bool:
    record = read_json(run_path)
    return bool(record) and record.get("status") in FINISHED_STATUSES and \
        record.get("results_format") == RESULTS_FORMAT


def checkpoint_path(runs_dir: Path, specs: list[RunSpec]) -> Path:
    """One checkpoint per group, named by a hash of its runs' keys."""
    digest = hashlib.sha256("\n".join(spec.key for spec in specs).encode()).hexdigest()[:12]
    return Path(runs_dir) / f"group-{digest}.ckpt.npz"


def save_checkpoint(path: Path, epochs_done: int, records: list[dict], state: dict) -> None:
    """Trainer state (weights, optimizer slots, step counters) and the records, atomically."""
    atomic_write_npz(path, **{f"state/{name}": value for name, value in state.items()},
                     epochs_done=np.int64(epochs_done), records=np.array(json.dumps(records)),
                     results_format=np.int64(RESULTS_FORMAT))


def load_checkpoint(path: Path, specs: list[RunSpec]) -> tuple[int, list[dict], dict] | None:
    """(epochs done, records, trainer state) of a group's checkpoint, or None if there is
    none or it does not belong to these runs (a torn or foreign file is ignored)."""
    try:
        with np.load(path) as stored:
            if int(stored["results_format"]) != RESULTS_FORMAT:
                return None
            records = json.loads(str(stored["records"]))
            state = {name.split("/", 1)[1]: stored[name] for name in stored.files
                     if name.startswith("state/")}
            epochs_done = int(stored["epochs_done"])
    except (OSError, ValueError, KeyError, EOFError):
        return None
    if [record["key"] for record in records] != [spec.key for spec in specs]:
        return None
    return epochs_done, records, state


def train_group(specs: list[RunSpec], dataset: data.Dataset, runs_dir: Path | None, *,
                trainer: str = "auto", jit_compile: bool | None = None, experiment: str = "",
                keep_best: bool = True, finished: set[str] = frozenset(),
                save_models: bool = False, callbacks=None,
                observers: list[hooks.Observer] = ()) -> list[dict]:
    """Trains runs that share a group key together; returns their run records.

    After every epoch each run's record is written to `runs_dir/<key>.json`
    (atomically), then the group's checkpoint (trainer state and records), so
    a killed group resumes from its last finished epoch; the checkpoint is
    removed when the group ends. A run whose loss is not finite is marked
    diverged and its record stops there, while the others go on. At the end
    each finished run's test predictions go to `<key>.predictions.npz` and
    its confusion matrix into the record. With a validation split each epoch
    also evaluates the hold-out, and with patience a run stops early and ends
    with its best validation epoch's weights (lenet_bench.early_stopping;
    they are kept in memory and in the checkpoint).

    Args:
      specs: runs with one group key; `dataset` is already reduced to their
        train_size.
      dataset: training and test arrays.
      runs_dir: where run files go, or None to keep records in memory only.
      trainer, jit_compile: see `run_experiment`.
      experiment: the experiment name, recorded in each record.
      keep_best: save the best-test-epoch weights of each run
        (`<key>.weights.h5`): chosen on the test set, unlike early stopping's
        restored best-validation-epoch weights.
      finished: keys of runs already finished in `runs_dir`; they train
        along (the group needs them) but their files are left as they are.
      save_models: write each finished run's `<key>.final.keras` and
        `<key>.best.keras` into `runs_dir` (hooks.KerasModelSaver).
      callbacks: Keras callbacks (see hooks.KerasCallbacks).
      observers: told about the group's epochs (see hooks.Observer).
    """
    validation = None
    if specs[0].validation_split:
        dataset, validation = early_stopping.split_validation(
            dataset, specs[0].validation_split, specs[0].data_seed)
    num_classes = dataset.num_classes
    clean_labels = dataset.train_labels
    noisy_labels = np.stack([noise.corrupt_labels(clean_labels, num_classes, spec.label_noise,
                                                  spec.noise_mode, spec.seed) for spec in specs])
    template = None
    initial_weights = []
    for spec in specs:
        template = build_run_model(spec, dataset)
        initial_weights.append(template.get_weights())
    replicas = make_trainer(trainer, specs, initial_weights, dataset, jit_compile)
    meters = []  # One cost.CostMeter, made when the first run finishes.

    def measure_cost(index: int) -> dict:
        """Run `index`'s cost figures (lenet_bench.cost), with its current weights."""
        template.set_weights(replicas.get_weights(index))
        if not meters:
            meters.append(cost.CostMeter(template, dataset.test_images))
        return meters[0].measure(records[index])

    records = [new_record(spec, experiment, template.count_params(), len(clean_labels),
                          type(replicas).__name__, len(specs)) for spec in specs]
    for record, labels in zip(records, noisy_labels):
        record["noise"]["transition_counts"] = noise.transition_counts(
            clean_labels, labels, num_classes).tolist()
        if validation is not None:
            record.update(early_stopping.new_fields(len(validation[1])))
            record["history"].update(val_loss=[], val_accuracy=[])
    best_val_weights = {}  # Replica -> its best validation epoch's weights (early stopping).
    active = [index for index, spec in enumerate(specs) if spec.key not in finished]
    first_epoch = 0
    checkpoint = checkpoint_path(runs_dir, specs) if runs_dir is not None else None
    restored = load_checkpoint(checkpoint, specs) if checkpoint is not None else None
    if restored is not None:
        first_epoch, records, state = restored
        best_val_weights = early_stopping.pop_from_state(state)
        replicas.set_state(state)
        active = [index for index in active if records[index]["status"] == "running"]
        logger.info("resumed %d runs from %s after epoch %d", len(specs), checkpoint.name,
                    first_epoch)
    observers = ([hooks.KerasCallbacks(callbacks)] if callbacks else []) + list(observers)
    if save_models and runs_dir is not None:
        observers.append(hooks.KerasModelSaver(runs_dir))
    for observer in observers:
        observer.group_begin(specs, records, first_epoch, list(active), template,
                             replicas.get_weights)
    started = time.perf_counter()
    for epoch in range(first_epoch, specs[0].epochs):
        epoch_started = time.perf_counter()
        learning_rates = [spec.learning_rate_at(epoch) for spec in specs]
        orders = np.stack([np.random.default_rng([spec.seed, epoch]).permutation(len(clean_labels))
                           for spec in specs])
        train = replicas.train_epoch(dataset.train_images, noisy_labels, orders,
                                     specs[0].batch_size, learning_rates, clean_labels,
                                     seeds=[spec.seed for spec in specs], epoch=epoch)
        test = replicas.evaluate(dataset.test_images, dataset.test_labels)
        val = replicas.evaluate(*validation) if validation is not None else None
        restoring = []  # Runs that end now with their best validation epoch's weights.
        seconds = (time.perf_counter() - epoch_started) / len(specs)
        last_epoch = epoch + 1 == specs[0].epochs
        for index in list(active):
            spec, record = specs[index], records[index]
            metrics = {"epoch": epoch + 1, "learning_rate": learning_rates[index],
                       "train_loss": train["loss"][index],
                       "train_accuracy": train["accuracy"][index],
                       "train_clean_accuracy": train["clean_accuracy"][index],
                       "test_loss": test["loss"][index], "test_accuracy": test["accuracy"][index],
                       "epoch_seconds": seconds,
                       "test_soft_accuracy": test["soft_accuracy"][index]}
            if val is not None:
                metrics.update(val_loss=val["loss"][index], val_accuracy=val["accuracy"][index])
            for name, value in metrics.items():
                value = float(value) if name != "epoch" else value
                # A checkpoint from before a metric existed: earlier epochs have no value.
                history = record["history"].setdefault(name, [None] * epoch)
                history.append(value if math.isfinite(value) else None)
            record["epochs_done"] = epoch + 1
            record["wall_seconds"] += seconds
            logger.info("%s epoch %d/%d lr %.2e  train loss %.4f acc %.4f  test loss %.4f "
                        "acc %.4f", spec.key, epoch + 1, spec.epochs, learning_rates[index],
                        metrics["train_loss"], metrics["train_accuracy"], metrics["test_loss"],
                        metrics["test_accuracy"])
            if not (math.isfinite(metrics["train_loss"]) and math.isfinite(metrics["test_loss"])):
                record["status"], record["diverged_epoch"] = "diverged", epoch + 1
                active.remove(index)
                logger.warning("%s diverged at epoch %d (loss is not finite); stopped",
                               spec.key, epoch + 1)
            elif (record["best_test_accuracy"] is None
                  or metrics["test_accuracy"] > record["best_test_accuracy"]):
                record["best_epoch"] = epoch + 1
                record["best_test_accuracy"] = float(metrics["test_accuracy"])
                if keep_best and runs_dir is not None:
                    template.set_weights(replicas.get_weights(index))
                    _save_weights_atomically(template, runs_dir / f"{spec.key}.weights.h5")
            stopping = False
            if record["status"] == "running" and val is not None:
                improved, stopping = early_stopping.update(
                    record, epoch + 1, metrics["val_loss"], metrics["val_accuracy"],
                    spec.monitor, spec.patience)
                if improved and spec.patience:
                    best_val_weights[index] = replicas.get_weights(index)
                if stopping and not last_epoch:
                    record["stopped_epoch"] = epoch + 1
                    logger.info("%s stopped early at epoch %d: no %s improvement since epoch %d",
                                spec.key, epoch + 1, spec.monitor, record["best_val_epoch"])
            if record["status"] == "running" and (last_epoch or stopping):
                if spec.patience:
                    restoring.append(index)
                    continue  # Finished below, once its best weights are back.
                _finish_run(record, spec, test, index, dataset, runs_dir)
                record["cost"] = measure_cost(index)
            if record["status"] != "running":
                record["finished"] = _now()
            for observer in observers:
                observer.run_epoch_end(index, spec, record)
            if runs_dir is not None:
                atomic_write_json(runs_dir / f"{spec.key}.json", record)
        if restoring:
            _finish_restoring(restoring, specs, records, replicas, best_val_weights, test, epoch,
                              dataset, runs_dir, measure_cost)
            for index in restoring:
                for observer in observers:
                    observer.run_epoch_end(index, specs[index], records[index])
            active = [index for index in active if index not in restoring]
        for observer in observers:
            observer.group_epoch_end(epoch + 1, specs[0].epochs)
        if not active or last_epoch:
            break
        if checkpoint is not None:
            best_val_weights = {index: best_val_weights[index] for index in active
                                if index in best_val_weights}
            save_checkpoint(checkpoint, epoch + 1, records,
                            {**replicas.get_state(), **early_stopping.to_state(best_val_weights)})
    for observer in observers:
        observer.group_end(records)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    logger.info("group of %d runs: %.1f s", len(specs), time.perf_counter() - started)
    return records


def _finish_run(record: dict, spec: RunSpec, test: dict, index: int, dataset: data.Dataset,
                runs_dir: Path | None) -> None:
    """Marks a run done with the test predictions of replica `index` in `test`: its
    confusion matrix and soft confusion matrix into the record, its predictions to `<key>.predictions.npz`."""
    record["status"] = "done"
    predicted, confidence = test["predictions"][index], test["confidence"][index]
    record["confusion_matrix"] = analysis.confusion_matrix(
        dataset.test_labels, predicted, dataset.num_classes).tolist()
    record["soft_confusion"] = np.round(analysis.soft_confusion_from_sums(
        test["soft_confusion_sums"][index]), 6).tolist()
    if runs_dir is not None:
        save_predictions(runs_dir / f"{spec.key}.predictions.npz", predicted, confidence)


def _finish_restoring(indices: list[int], specs: list[RunSpec], records: list[dict], replicas,
                      best_val_weights: dict, test: dict, epoch: int, dataset: data.Dataset,
                      runs_dir: Path | None, measure_cost) -> None:
    """Ends early-stopping runs: restores each one's best-validation weights, evaluates
    the test set with them (once for all, skipped when every one's best epoch is this
    one) and records that as the run's final test result, and the restored model's
    cost figures (`measure_cost(index)`)."""
    if any(records[index]["best_val_epoch"] != epoch + 1 for index in indices):
        for index in indices:
            replicas.set_weights(index, best_val_weights[index])
        test = replicas.evaluate(dataset.test_images, dataset.test_labels)
    for index in indices:
        spec, record = specs[index], records[index]
        record["final_test_loss"] = float(test["loss"][index])
        record["final_test_accuracy"] = float(test["accuracy"][index])
        record["final_test_soft_accuracy"] = float(test["soft_accuracy"][index])
        _finish_run(record, spec, test, index, dataset, runs_dir)
        record["cost"] = measure_cost(index)
        record["finished"] = _now()
        logger.info("%s: best validation epoch %d restored: test acc %.4f", spec.key,
                    record["best_val_epoch"], record["final_test_accuracy"])
        if runs_dir is not None:
            atomic_write_json(runs_dir / f"{spec.key}.json", record)


def new_record(spec: RunSpec, experiment: str, num_params: int, train_size: int,
               trainer: str, group_size: int) -> dict:
    return {
        "results_format": RESULTS_FORMAT,
        "key": spec.key,
        "experiment": experiment,
        "spec": dataclasses.asdict(spec),
        "status": "running",
        "epochs_done": 0,
        "history": {name: [] for name in HISTORY_METRICS},
        "best_epoch": None,
        "best_test_accuracy": None,
        "diverged_epoch": None,
        "noise": {"eps": spec.label_noise, "mode": spec.noise_mode},
        "num_params": num_params,
        "train_size": train_size,
        "trainer": trainer,
        "group_size": group_size,
        "device": describe_device(),
        "onednn": onednn_setting(),
        "versions": library_versions(),
        "started": _now(),
        "wall_seconds": 0.0,
    }


def save_predictions(path: Path, predicted: np.ndarray, confidence: np.ndarray) -> None:
    """The final model's test predictions: class (uint8) and max probability (float16)."""
    atomic_write_npz(path, compressed=True, predicted=np.asarray(predicted, dtype=np.uint8),
                     confidence=np.asarray(confidence, dtype=np.float16))


def train_run(spec: RunSpec, dataset: data.Dataset, **kwargs) -> dict:
    """Trains one run alone (see `train_group`) and returns its record."""
    return train_group([spec], dataset, kwargs.pop("runs_dir", None), **kwargs)[0]


class KerasReplicas:
    """Runs of a group trained one after another, each a plain Keras LeNet-5.

    The same interface as `fused.FusedLeNet5`, so `train_group` treats both
    alike; each model has its own Keras optimizer and compiled steps.
    """

    def __init__(self, initial_weights: list, specs: list[RunSpec], dataset: data.Dataset,
                 *, jit_compile: bool = True):
        self.models, self.optimizers, self.steps = [], [], []
        for weights, spec in zip(initial_weights, specs):
            model = build_run_model(spec, dataset)
            model.set_weights(weights)
            optimizer = models.make_optimizer(spec.optimizer, spec.learning_rate)
            self.models.append(model)
            self.optimizers.append(optimizer)
            settings = augmentation.AugmentSettings.of(spec)
            augmenter = augmentation.Augmenter([settings]) if settings.on else None
            self.steps.append(make_step_functions(model, optimizer, dataset.num_classes,
                                                  jit_compile, augmenter))

    @property
    def num_replicas(self) -> int:
        return len(self.models)

    def train_epoch(self, images, labels, orders, batch_size, learning_rates, clean_labels=None,
                    *, seeds=None, epoch=0):
        results = []
        for index, (train_epoch, _) in enumerate(self.steps):
            self.optimizers[index].learning_rate = learning_rates[index]
            results.append(train_epoch(images, labels[index], orders[index], batch_size,
                                       clean_labels, seed=seeds[index] if seeds else 0,
                                       epoch=epoch))
        loss, accuracy, clean_accuracy = (np.array(column, dtype=np.float64)
                                          for column in zip(*results))
        return {"loss": loss, "accuracy": accuracy, "clean_accuracy": clean_accuracy}

    def evaluate(self, images, labels):
        results = [evaluate(images, labels) for _, evaluate in self.steps]
        return {"loss": np.array([r[0] for r in results]),
                "accuracy": np.array([r[1] for r in results]),
                "predictions": np.stack([r[2] for r in results]),
                "confidence": np.stack([r[3] for r in results]),
                "soft_accuracy": np.array([r[4] for r in results]),
                "soft_confusion_sums": np.stack([r[5] for r in results])}

    def get_weights(self, replica: int) -> list[np.ndarray]:
        return self.models[replica].get_weights()

    def set_weights(self, replica: int, weights: list[np.ndarray]) -> None:
        self.models[replica].set_weights(weights)

    def get_state(self) -> dict[str, np.ndarray]:
        """Every variable: weights, batch-norm statistics, dropout seed states, optimizer."""
        state = {}
        for index, (model, optimizer) in enumerate(zip(self.models, self.optimizers)):
            for number, variable in enumerate(model.variables + optimizer.variables):
                state[f"{index}/{number}"] = np.asarray(variable.numpy())
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        for index, (model, optimizer) in enumerate(zip(self.models, self.optimizers)):
            for number, variable in enumerate(model.variables + optimizer.variables):
                variable.assign(state[f"{index}/{number}"])


def make_step_functions(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                        num_classes: int, jit_compile: bool,
                        augmenter: augmentation.Augmenter | None = None):
    """Returns (train_epoch, evaluate) closures over compiled steps for `model`.

    train_epoch(images, labels, order, batch_size, clean_labels=None, seed=0,
    epoch=0) -> (mean loss, accuracy, accuracy on clean_labels) over the
    epoch's batches, as Keras `fit` reports them; with an `augmenter`, batch i
    is augmented with `augmentation.step_seed(seed, epoch, i)`. evaluate(images, labels) -> (mean loss, accuracy,
    predicted classes, max probabilities, soft accuracy, KxK sums of
    one_hot(labels)^T @ probabilities; see analysis.soft_confusion). Images are
    uint8; each batch is
    scaled to [0, 1] inside the step, so no float copy of the dataset is kept.
    The step minimizes the cross-entropy plus the model's own losses (L2 weight
    decay); the loss it reports is the cross-entropy alone, comparable across
    models with and without decay.
    """
    optimizer.build(model.trainable_variables)
    loss_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)
    correct_sum = tf.Variable(0, dtype=tf.int64, trainable=False)
    clean_correct_sum = tf.Variable(0, dtype=tf.int64, trainable=False)

    def loss_and_correct(probabilities, labels):
        one_hot = tf.one_hot(labels, num_classes)
        losses = keras.losses.categorical_crossentropy(one_hot, probabilities)
        correct = tf.equal(tf.argmax(probabilities, axis=-1, output_type=labels.dtype), labels)
        return losses, tf.reduce_sum(tf.cast(correct, tf.int64))

    @tf.function(jit_compile=jit_compile)
    def train_step(images, labels, clean_labels):
        if images.dtype.is_floating:  # Augmented batches come in float, scaled.
            inputs = images
        else:
            inputs = tf.cast(images, tf.float32) / 255.0
        with tf.GradientTape() as tape:
            probabilities = model(inputs, training=True)
            losses, correct = loss_and_correct(probabilities, labels)
            loss = tf.reduce_mean(losses)
            if model.losses:
                loss += tf.add_n(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        loss_sum.assign_add(tf.cast(tf.reduce_sum(losses), tf.float64))
        correct_sum.assign_add(correct)
        clean_correct_sum.assign_add(loss_and_correct(probabilities, clean_labels)[1])

    @tf.function(jit_compile=jit_compile)
    def eval_step(images, labels):
        probabilities = model(tf.cast(images, tf.float32) / 255.0, training=False)
        losses, correct = loss_and_correct(probabilities, labels)
        one_hot = tf.one_hot(labels, num_classes)
        return (tf.reduce_sum(tf.cast(losses, tf.float64)), correct,
                tf.argmax(probabilities, axis=-1), tf.reduce_max(probabilities, axis=-1),
                tf.reduce_sum(one_hot * probabilities),
                tf.matmul(one_hot, probabilities, transpose_a=True))

    def train_epoch(images, labels, order, batch_size, clean_labels=None, seed=0, epoch=0):
        clean_labels = labels if clean_labels is None else clean_labels
        for variable in (loss_sum, correct_sum, clean_correct_sum):
            variable.assign(tf.zeros_like(variable))
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            batch_images = images[batch]
            if augmenter is not None:
                batch_images = augmenter.augment(
                    batch_images, augmentation.step_seed(seed, epoch, start // batch_size))
            train_step(batch_images, labels[batch], clean_labels[batch])
        return (float(loss_sum.numpy()) / len(order), int(correct_sum.numpy()) / len(order),
                int(clean_correct_sum.numpy()) / len(order))

    def evaluate(images, labels):
        total_loss, total_correct, predicted, confidence = 0.0, 0, [], []
        soft_true, soft_sums = 0.0, np.zeros((num_classes, num_classes))
        for start in range(0, len(labels), EVAL_BATCH_SIZE):
            (batch_loss, batch_correct, batch_predicted, batch_confidence, batch_soft_true,
             batch_soft_sums) = eval_step(images[start:start + EVAL_BATCH_SIZE],
                                          labels[start:start + EVAL_BATCH_SIZE])
            total_loss += float(batch_loss)
            total_correct += int(batch_correct)
            predicted.append(batch_predicted.numpy())
            confidence.append(batch_confidence.numpy())
            soft_true += float(batch_soft_true)
            soft_sums += batch_soft_sums.numpy()
        return (total_loss / len(labels), total_correct / len(labels),
                np.concatenate(predicted), np.concatenate(confidence),
                soft_true / len(labels), soft_sums)

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


def onednn_setting() -> str:
    """TensorFlow's oneDNN CPU kernels as this process asked for them: 'on', 'off', or
    'tf default' (on only for CPUs with AVX-512 VNNI/BF16/AMX)."""
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if value is None:
        return "tf default"
    return "on" if value.strip().lower() in ("1", "true") else "off"


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
