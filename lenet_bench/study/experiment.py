"""One experiment, from config to run files: plan -> train -> post-passes.

`run_experiment` trains an experiment that passed the preflight
(lenet_bench.study.plan; a bare config is checked there first, once), plans the
runs (grid points x seeds) and packs them into groups, hands the groups with
unfinished runs to an engine (lenet_bench.study.engines: here, or on Ray), and at
the end writes what the report needs beside the runs: confusion examples, test
labels, model internals and, with an OOD dataset, each run's OOD metrics.
Everything lands in `<workdir>/<config.name>/`; a rerun skips what is done.
"""

import logging
from pathlib import Path

from lenet_bench import machine
from lenet_bench import runs as runs_module
from lenet_bench.artifacts import (CONFIG_FILE, CONFUSION_EXAMPLES_FILE, MODEL_INTERNALS_FILE,
                                   PARAMETER_COUNTS_FILE, RUNS_FOLDER, TEST_LABELS_FILE)
from lenet_bench.config import ExperimentConfig
from lenet_bench.files import atomic_write_json, read_json
from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.observers import hooks
from lenet_bench.records import analysis
from lenet_bench.options import RunOptions
from lenet_bench.runs import RunSpec
from lenet_bench.study import engines, inspection
from lenet_bench.study.plan import as_checked
from lenet_bench.study.workdir import experiment_lock
from lenet_bench.trainers import default_group_size, packs_across_seeds

logger = logging.getLogger("lenet_bench")


def run_experiment(experiment, dataset: data.Dataset | None = None, workdir=None,
                   options: RunOptions | None = None, *, ood_dataset: data.Dataset | None = None,
                   specs: list[RunSpec] | None = None, command: str | None = None,
                   callbacks=None, progress: hooks.Observer | None = None, engine=None) -> Path:
    """Trains every run of an experiment not already finished in its workdir.

    Args:
      experiment: a plan.CheckedExperiment (from the preflight: trained as it is,
        nothing is checked again; it carries the four arguments below), or an
        ExperimentConfig, checked here first (plan.check_experiment).
      dataset: the full dataset; `config.train_size` picks a subset here.
      workdir: results go to `<workdir>/<config.name>/`.
      options: the run options (trainer, group_size, jit, tensorboard, keras_models);
        None: options.LIBRARY_OPTIONS. Every group's trainer gets this object.
      ood_dataset: the dataset `config.ood_dataset` names (its test images are
        the out-of-distribution set); needed when that is set.
      specs: the runs to train instead of `runs.run_specs(config)` (a race's look,
        a search's phase).
      command: the command line, recorded in config.json.
      callbacks: Keras callbacks, or a function spec -> callbacks, called per
        run at epoch ends (keras_callbacks.KerasCallbacks says which hooks, and when).
      progress: a progress.Progress (or any hooks.Observer with an
        `experiment_begin(name, groups)` method) told about every group.
      engine: trains the groups (lenet_bench.study.engines): LocalEngine (None) in
        this process, or RayEngine on a Ray cluster; the workdir comes out the
        same either way.

    Returns:
      The experiment directory.

    Raises:
      InputError: an invalid config value, an unwritable workdir, or another
        process training the same experiment folder; raised before anything
        in the workdir is written.
    """
    checked = as_checked(experiment, dataset, workdir, options, ood_dataset)
    config, dataset, options = checked.config, checked.dataset, checked.options
    specs = runs_module.run_specs(config) if specs is None else specs
    experiment_dir = checked.workdir / config.name
    runs_module.check_experiment_files(experiment_dir, specs)
    with experiment_lock(experiment_dir, checked.workdir) as runs_dir:
        subsets, datasets = group_datasets(specs, dataset)
        write_experiment_files(experiment_dir, config, specs, subsets, dataset, command)
        finished = {spec.key for spec in specs
                    if runs_module.is_finished(runs_module.run_path(runs_dir, spec))}
        logger.info("%s: %d runs, %d already finished, %d to train", config.name, len(specs),
                    len(finished), len(specs) - len(finished))
        # Groups are made from all runs, not just the pending ones, so a rerun after
        # a kill rebuilds the same groups and finds their checkpoints.
        group_size = 1 if options.trainer == "keras" else (options.group_size
                                                           or default_group_size())
        groups = [group for group in runs_module.make_groups(
                      specs, group_size, packs_across_seeds(options.trainer))
                  if any(spec.key not in finished for spec in group)]
        observers = make_observers(experiment_dir, config, specs, groups, options.tensorboard,
                                   progress)
        (engine or engines.LocalEngine()).train_groups(
            groups, datasets, runs_dir, finished=finished, options=options,
            experiment=config.name, keep_best=config.keep_best, observers=observers,
            callbacks=callbacks)
        write_post_passes(experiment_dir, config, specs, dataset, checked.ood_dataset)
    return experiment_dir


def group_datasets(specs: list[RunSpec], dataset: data.Dataset) -> tuple[dict, dict]:
    """({(train_size, data_seed): training subset}, {runs.dataset_key(spec): the arrays
    the spec's group trains and evaluates on: its subset, split as its `split` says})."""
    subsets, datasets = {}, {}
    for spec in specs:
        subset_key = (spec.train_size, spec.data_seed)
        if subset_key not in subsets:
            subsets[subset_key] = data.take_train_subset(dataset, spec.train_size, spec.data_seed)
        if runs_module.dataset_key(spec) not in datasets:
            datasets[runs_module.dataset_key(spec)] = data.apply_split(subsets[subset_key],
                                                                       spec.split)
    return subsets, datasets


def write_experiment_files(experiment_dir: Path, config: ExperimentConfig, specs: list[RunSpec],
                           subsets: dict, dataset: data.Dataset, command: str | None) -> None:
    """config.json (the resolved config, run keys, the first run's training subset,
    machine and versions) and, for varied models, the parameter-count table."""
    subset = next(iter(subsets.values()), dataset)
    atomic_write_json(experiment_dir / CONFIG_FILE, {
        "experiment": config.name,
        "config": config.to_dict(),
        "run_keys": [spec.key for spec in specs],
        "dataset": describe_dataset(subset),
        "command": command,
        "machine": machine.describe_machine(),
        "versions": machine.library_versions(),
        "results_format": runs_module.RESULTS_FORMAT,
    })
    counts_path = experiment_dir / PARAMETER_COUNTS_FILE
    if not counts_path.is_file() and not all(spec.is_plain_lenet5 for spec in specs):
        # Varied models: show their scale. Once per experiment (VGG-19 takes seconds to build).
        atomic_write_json(counts_path, {
            "rows": models.parameter_count_rows(dataset.image_shape, dataset.num_classes)})


def make_observers(experiment_dir: Path, config: ExperimentConfig, specs: list[RunSpec],
                   groups: list, tensorboard: bool, progress) -> list[hooks.Observer]:
    observers = []
    if tensorboard:
        from lenet_bench.observers.tensorboard_logging import TB_FOLDER, TensorBoardLogger

        observers.append(TensorBoardLogger(experiment_dir / TB_FOLDER, specs, config.grid))
        observers[-1].write_experiment_config()
    if progress is not None:
        progress.experiment_begin(config.name, len(groups))
        observers.append(progress)
    return observers


def write_post_passes(experiment_dir: Path, config: ExperimentConfig, specs: list[RunSpec],
                      dataset: data.Dataset, ood_dataset: data.Dataset | None) -> None:
    """What the report needs from the models and the test set, written beside the runs
    (runs with a search split are left out: they evaluate on a validation split)."""
    runs_dir = experiment_dir / RUNS_FOLDER
    records = [read_json(runs_module.run_path(runs_dir, spec)) for spec in specs if not spec.split]
    records = [record for record in records if record]
    analysis.write_confusion_examples(experiment_dir / CONFUSION_EXAMPLES_FILE, records, runs_dir,
                                      dataset.test_images, dataset.test_labels)
    inspection.write_test_labels(experiment_dir / TEST_LABELS_FILE, dataset.test_labels)
    if config.ood_dataset is not None:
        inspection.evaluate_ood(records, runs_dir, dataset, ood_dataset)
    inspection.write_model_internals(experiment_dir / MODEL_INTERNALS_FILE, records,
                                     runs_dir, dataset, config.rank_runs_by)


def describe_dataset(dataset: data.Dataset) -> dict:
    return {"name": dataset.name, "source": dataset.source,
            "train_size": int(len(dataset.train_labels)),
            "test_size": int(len(dataset.test_labels)),
            "image_shape": list(dataset.image_shape),
            "class_names": list(dataset.class_names)}
