"""The preflight: every check that can fail before a backend starts, run once, into a plan.

A study is checked in two steps, both before any backend (TensorFlow, JAX, PyTorch)
is imported and before anything is written:

1. `preflight(configs, workdir, options)`: the run options, each config's values, the
   trainer against each config's model and backend, one backend per command. Returns
   a frozen `StudyPlan`.
2. `StudyPlan.check_data(datasets)`, once the datasets are loaded: the workdir's
   experiment folder, batch sizes against the training images, validation splits,
   the OOD dataset, a search's trials. Returns one frozen `CheckedExperiment` each.

`study.experiment.run_experiment` (and the race and the search, which train through
it) trains a `CheckedExperiment` as it is and checks nothing again; given a bare
`ExperimentConfig` instead, it calls `check_experiment`, both steps for that one
experiment. Nothing here imports TensorFlow or Keras.
"""

import dataclasses
from pathlib import Path

from lenet_bench import backends
from lenet_bench.config import ExperimentConfig, validate
from lenet_bench.errors import InputError
from lenet_bench.inputs import data
from lenet_bench.options import LIBRARY_OPTIONS, RunOptions, check_options
from lenet_bench.study.search_space import sample_trials, selection_splits, trial_config
from lenet_bench.study.workdir import check_workdir
from lenet_bench.trainers import check_trainer_fits, early_stopping


@dataclasses.dataclass(frozen=True)
class CheckedExperiment:
    """One experiment that passed every check: train it as it is.

    Attributes:
      config: the experiment.
      dataset: its full dataset (`config.train_size` picks a subset when it trains).
      workdir: results go to `workdir / config.name`.
      options: the study's run options, handed unchanged to every group's trainer.
      ood_dataset: the dataset `config.ood_dataset` names, or None.
      trials: a search's trials (search_space.sample_trials), each checked; () otherwise.
    """

    config: ExperimentConfig
    dataset: data.Dataset
    workdir: Path
    options: RunOptions
    ood_dataset: data.Dataset | None = None
    trials: tuple = ()


@dataclasses.dataclass(frozen=True)
class StudyPlan:
    """The experiments of one command or `run_study` call, checked as far as they can be
    without their data.

    Attributes:
      configs: the experiments, in order.
      workdir: where their folders go.
      options: the run options.
      backend: the one Keras backend they train on (None with `options.report_only`).
    """

    configs: tuple[ExperimentConfig, ...]
    workdir: Path
    options: RunOptions
    backend: str | None

    def check_data(self, datasets: dict, skipped=()) -> tuple[CheckedExperiment, ...]:
        """Step 2 for each experiment not in `skipped` ({dataset name: Dataset} holds
        its dataset and its OOD dataset)."""
        return tuple(check_data(config, datasets[config.dataset], self.workdir, self.options,
                                datasets.get(config.ood_dataset))
                     for config in self.configs if config.name not in skipped)


def preflight(configs, workdir, options: RunOptions) -> StudyPlan:
    """Step 1: checks the options and the configs (with `options.report_only`, only the
    options: a report is rebuilt from what the workdir holds).

    Raises:
      InputError: the first invalid value, named as its flag; or experiments that
        ask for different backends.
    """
    check_options(options)
    configs = tuple(configs)
    if options.report_only:
        return StudyPlan(configs, Path(workdir), options, backend=None)
    for config in configs:
        check_config(config, options)
    names = sorted({config.backend for config in configs})
    if len(names) > 1:
        raise InputError(f"--experiment={','.join(config.name for config in configs)}: the "
                         f"experiments ask for backends {', '.join(names)}: expected one "
                         "backend per command (--backend)")
    return StudyPlan(configs, Path(workdir), options,
                     backend=names[0] if names else backends.DEFAULT_BACKEND)


def check_config(config: ExperimentConfig, options: RunOptions) -> None:
    """The config's values, and whether `options.trainer` can train its every grid point
    on its backend: by name alone, before Keras is imported."""
    if config.search:
        check_search_settings(config)
    validate(config)
    check_trainer_fits(options.trainer, config)


def check_data(config: ExperimentConfig, dataset: data.Dataset, workdir, options: RunOptions,
               ood_dataset: data.Dataset | None = None) -> CheckedExperiment:
    """Step 2 for one experiment whose config passed step 1."""
    check_workdir(config.name, dataset.name, workdir)
    check_on_data(config, dataset)
    if config.ood_dataset is not None:
        if ood_dataset is None or ood_dataset.name != config.ood_dataset:
            raise InputError(f"--ood_dataset={config.ood_dataset!r}: that dataset was not "
                             "loaded: expected it passed to run_experiment")
        check_ood_dataset(dataset, ood_dataset)
    trials = tuple(check_search(config, dataset, options)) if config.search else ()
    return CheckedExperiment(config, dataset, Path(workdir), options, ood_dataset, trials)


def check_experiment(config: ExperimentConfig, dataset: data.Dataset, workdir,
                     options: RunOptions = LIBRARY_OPTIONS,
                     ood_dataset: data.Dataset | None = None) -> CheckedExperiment:
    """Both steps for one experiment, for a direct call of run_experiment; Keras must
    run (or be about to start) on the config's backend."""
    check_options(options)
    check_config(config, options)
    backends.check_running(config.backend)
    return check_data(config, dataset, workdir, options, ood_dataset)


def as_checked(experiment, dataset=None, workdir=None, options=None,
               ood_dataset=None) -> CheckedExperiment:
    """`experiment` as it is when it is a CheckedExperiment (then the other arguments
    must be None: it carries them); an ExperimentConfig checked with them (`options`
    None: LIBRARY_OPTIONS)."""
    if isinstance(experiment, CheckedExperiment):
        if any(value is not None for value in (dataset, workdir, options, ood_dataset)):
            raise TypeError("a CheckedExperiment carries its dataset, workdir, options and "
                            "ood_dataset: expected none of them passed beside it")
        return experiment
    return check_experiment(experiment, dataset, workdir, options or LIBRARY_OPTIONS,
                            ood_dataset)


def check_on_data(config: ExperimentConfig, dataset: data.Dataset) -> None:
    """What a config's grid points need of the data: batches no larger than their
    training images, validation splits that parse."""
    early_stopping.check_batch_size(config, dataset)
    for point in config.grid_points():
        data.parse_split(point.split)


def check_ood_dataset(dataset: data.Dataset, ood_dataset: data.Dataset) -> None:
    """Raises InputError unless the OOD images have the training images' shape."""
    if tuple(ood_dataset.image_shape) != tuple(dataset.image_shape):
        raise InputError(f"--ood_dataset={ood_dataset.name}: its images are "
                         f"{tuple(ood_dataset.image_shape)}: expected "
                         f"{tuple(dataset.image_shape)}, the shape of {dataset.name}'s")


def check_search(config: ExperimentConfig, dataset: data.Dataset,
                 options: RunOptions = LIBRARY_OPTIONS) -> list[dict]:
    """Validates a search (lenet_bench.study.search) on its data before anything is
    written; returns its trials.

    Raises:
      InputError: a bad space, method or budget, or a trial value that would fail
        (named with its trial), or folds the training set cannot give.
    """
    trials = sample_trials(config)
    for number, params in enumerate(trials, start=1):
        try:
            trial = trial_config(config, params)
            check_config(trial, options)
            check_on_data(trial, dataset)
        except InputError as error:
            raise InputError(f"--search: trial {number} {params}: {error}") from None
    subset = data.take_train_subset(dataset, config.train_size, config.data_seed)
    splits = selection_splits(config)
    for outer in range(config.nested_folds):
        splits += selection_splits(config, outer)
    for split in splits:
        data.apply_split(subset, split)
    return trials


def check_search_settings(config: ExperimentConfig) -> None:
    """A search's own settings, which no other field check covers."""
    if config.grid:
        raise InputError("--grid cannot be combined with a search: expected the searched "
                         "fields in `search` only")
    if config.split:
        raise InputError(f"--split={config.split!r} is invalid with a search: expected '' "
                         "(the search makes the splits)")
    if not (isinstance(config.cv_folds, int) and config.cv_folds >= 1):
        raise InputError(f"--cv_folds={config.cv_folds!r} is invalid: expected an integer >= 1 "
                         "(1: one hold-out split)")
    if not (isinstance(config.holdout_fraction, (int, float)) and 0 < config.holdout_fraction < 1):
        raise InputError(f"--holdout_fraction={config.holdout_fraction!r} is invalid: expected "
                         "a number in (0, 1)")
    if not (isinstance(config.nested_folds, int) and config.nested_folds != 1
            and config.nested_folds >= 0):
        raise InputError(f"--nested_folds={config.nested_folds!r} is invalid: expected 0 (off) "
                         "or an integer >= 2")
