"""Hyperparameter search, selected on validation data only; the test set is used once.

An experiment with a `search` space (config.ExperimentConfig) runs as:

1. Trials: `search_trials` configurations drawn from the space with
   `search_seed` (random), or taken from the product of each dimension's
   values (grid; a seeded subset when the product exceeds the budget).
2. Selection runs: every trial on every validation split of the training
   set (stratified k-fold with `cv_folds` folds, or one stratified hold-out
   of `holdout_fraction` when cv_folds is 1), over the config's seeds. Each
   is an ordinary run whose "test" split is its held-out fold
   (data.apply_split), so it goes through experiment.run_experiment like any
   grid: fused groups, one JSON per run, resume after a kill.
3. The chosen trial: the highest mean final-epoch validation accuracy
   (trials with a diverged or unfinished run are not chosen; ties go to
   the earlier trial).
4. The final run(s): the chosen trial trained on the whole training set
   and evaluated on the test set, the only runs that see it.

With `nested_folds` = O >= 2, steps 2-3 also run inside each of O outer
folds (selection on the inner folds of the outer-training part), and the
trial chosen there is trained on the outer-training part and scored on the
outer fold: the O outer scores estimate the accuracy of the whole
procedure (search + selection) without bias.

The plan (trials, run keys per trial and split, the choices) is written to
`<experiment>/search.json`; search_report builds REPORT.md from it and the
run JSONs.
"""

import dataclasses
import itertools
import logging
import math
from pathlib import Path

import numpy as np

from lenet_bench import data, experiment, runs
from lenet_bench.config import ExperimentConfig
from lenet_bench.errors import InputError
from lenet_bench.files import atomic_write_json, read_json
from lenet_bench.workdir import check_workdir

logger = logging.getLogger("lenet_bench")

SEARCH_FILE = "search.json"
SEARCH_METHODS = ("random", "grid")
RANGE_KINDS = ("log_uniform", "uniform", "int_uniform")
DISTRIBUTIONS = RANGE_KINDS + ("choice",)
GRID_POINTS = 3  # Values a range takes in a grid search unless its spec says "points".
SIGNIFICANT_DIGITS = 3  # Drawn floats are rounded to this, for readable run names.
NOT_SEARCHABLE = ("dataset", "seed", "split")


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched field: a range (lo, hi) of `kind`, or the values of a choice."""

    field: str
    kind: str
    values: tuple
    points: int = GRID_POINTS

    @property
    def log_scale(self) -> bool:
        return self.kind == "log_uniform"


def searchable_fields() -> tuple[str, ...]:
    """Config fields a search may vary: every field of a run's spec but the dataset,
    the seed and the split (so fields added to RunSpec later are searchable too)."""
    config_fields = {field.name for field in dataclasses.fields(ExperimentConfig)}
    return tuple(field.name for field in dataclasses.fields(runs.RunSpec)
                 if field.name in config_fields and field.name not in NOT_SEARCHABLE)


def parse_space(search: dict) -> list[Dimension]:
    """The search space from the config's `search` dict.

    Raises:
      InputError: not a dict, an unknown field, or a bad distribution spec.
    """
    if not isinstance(search, dict):
        raise InputError(f"--search={search!r} is invalid: expected a dict field -> "
                         "{'log_uniform'|'uniform'|'int_uniform': [lo, hi]} or {'choice': [...]}")
    fields = searchable_fields()
    dimensions = []
    for field, spec in search.items():
        where = f"--search: {field}={spec!r}"
        if field not in fields:
            raise InputError(f"--search: {field!r} cannot be searched: expected one of "
                             + ", ".join(fields))
        kinds = [key for key in (spec if isinstance(spec, dict) else {}) if key != "points"]
        if len(kinds) != 1 or kinds[0] not in DISTRIBUTIONS:
            raise InputError(f"{where} is invalid: expected one of {', '.join(DISTRIBUTIONS)} "
                             "as its only key (and 'points' for a grid)")
        kind, values, points = kinds[0], spec[kinds[0]], spec.get("points", GRID_POINTS)
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not values:
            raise InputError(f"{where} is invalid: expected a non-empty list")
        if kind == "choice" and len({repr(value) for value in values}) < len(values):
            raise InputError(f"{where} is invalid: expected distinct values")
        if not (isinstance(points, int) and points >= 1):
            raise InputError(f"{where} is invalid: expected 'points' an integer >= 1")
        if kind in RANGE_KINDS:
            numbers = (int,) if kind == "int_uniform" else (int, float)
            if not (len(values) == 2 and all(isinstance(v, numbers) and not isinstance(v, bool)
                                              and math.isfinite(v) for v in values)
                    and values[0] < values[1]):
                kind_text = "integers" if kind == "int_uniform" else "numbers"
                raise InputError(f"{where} is invalid: expected [lo, hi], two {kind_text} "
                                 "with lo < hi")
            if kind == "log_uniform" and values[0] <= 0:
                raise InputError(f"{where} is invalid: expected lo > 0 on a log scale")
        dimensions.append(Dimension(field, kind, tuple(values), points))
    return dimensions


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def draw(dimension: Dimension, rng: np.random.Generator):
    """One value of a dimension; floats rounded to SIGNIFICANT_DIGITS, within bounds."""
    if dimension.kind == "choice":
        return dimension.values[int(rng.integers(len(dimension.values)))]
    lo, hi = dimension.values
    if dimension.kind == "int_uniform":
        return int(rng.integers(lo, hi + 1))
    if dimension.kind == "log_uniform":
        value = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        value = rng.uniform(lo, hi)
    return min(max(_round(value), lo), hi)


def grid_values(dimension: Dimension) -> list:
    """A dimension's values in a grid search: a choice's values, or `points` values
    evenly spaced over a range (geometrically for log_uniform)."""
    if dimension.kind == "choice":
        return list(dimension.values)
    lo, hi = dimension.values
    if dimension.kind == "int_uniform":
        return sorted({int(round(v)) for v in np.linspace(lo, hi, dimension.points)})
    spaced = np.geomspace if dimension.log_scale else np.linspace
    return [min(max(_round(float(v)), lo), hi) for v in spaced(lo, hi, dimension.points)]


def sample_trials(config: ExperimentConfig) -> list[dict]:
    """The trials of a search: up to `search_trials` distinct {field: value} dicts.

    Random: drawn with `search_seed`, each dimension independently; a draw
    equal to an earlier trial is redrawn (a small discrete space may give
    fewer trials than the budget). Grid: the product of grid_values; when it
    is larger than the budget, a seeded subset of it, in product order.
    The same config always gives the same trials.

    Raises:
      InputError: a bad space, method or budget.
    """
    dimensions = parse_space(config.search)
    if config.search_method not in SEARCH_METHODS:
        raise InputError(f"--search_method={config.search_method!r} is invalid: expected one "
                         f"of {', '.join(SEARCH_METHODS)}")
    if not (isinstance(config.search_trials, int) and config.search_trials >= 1):
        raise InputError(f"--search_trials={config.search_trials!r} is invalid: expected an "
                         "integer >= 1")
    if not isinstance(config.search_seed, int):
        raise InputError(f"--search_seed={config.search_seed!r} is invalid: expected an integer")
    rng = np.random.default_rng(config.search_seed)
    fields = [dimension.field for dimension in dimensions]
    if config.search_method == "grid":
        points = list(itertools.product(*(grid_values(d) for d in dimensions)))
        if len(points) > config.search_trials:
            points = [points[i] for i in sorted(rng.permutation(len(points))[:config.search_trials])]
        return [dict(zip(fields, values)) for values in points]
    trials, seen = [], set()
    for _ in range(100 * config.search_trials):
        if len(trials) == config.search_trials:
            break
        trial = {d.field: draw(d, rng) for d in dimensions}
        if repr(trial) not in seen:
            seen.add(repr(trial))
            trials.append(trial)
    return trials


def trial_config(config: ExperimentConfig, params: dict, split: str = "") -> ExperimentConfig:
    """The single-setting config of one trial on one split."""
    return dataclasses.replace(config, grid={}, search={}, split=split, **params)


def outer_split(config: ExperimentConfig, outer: int) -> str:
    return f"kfold:{config.nested_folds}:{outer}:{config.search_seed}"


def selection_splits(config: ExperimentConfig, outer: int | None = None) -> list[str]:
    """The validation splits a trial is scored on: k folds or one hold-out of the
    training set, or of outer fold `outer`'s training part."""
    prefix = "" if outer is None else outer_split(config, outer) + "/"
    if config.cv_folds >= 2:
        return [f"{prefix}kfold:{config.cv_folds}:{fold}:{config.search_seed}"
                for fold in range(config.cv_folds)]
    return [f"{prefix}holdout:{config.holdout_fraction:g}:{config.search_seed}"]


def trial_specs(config: ExperimentConfig, params: dict, splits: list[str]) -> list[runs.RunSpec]:
    return [spec for split in splits for spec in runs.run_specs(trial_config(config, params, split))]


def check_search(config: ExperimentConfig, dataset: data.Dataset) -> list[dict]:
    """Validates a search before anything is written; returns its trials.

    Raises:
      InputError: a bad space, method, budget, fold count, or a trial value that
        would fail (named with its trial).
    """
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
    trials = sample_trials(config)
    for number, params in enumerate(trials, start=1):
        try:
            experiment.check_runnable(trial_config(config, params), dataset)
        except InputError as error:
            raise InputError(f"--search: trial {number} {params}: {error}") from None
    subset = data.take_train_subset(dataset, config.train_size, config.data_seed)
    splits = selection_splits(config)
    for outer in range(config.nested_folds):
        splits += selection_splits(config, outer)
    for split in splits:
        data.apply_split(subset, split)
    return trials


def score_trials(keys_per_trial: list[list[str]], records: dict[str, dict]) -> list[dict]:
    """Per trial: the final-epoch validation accuracy of each of its runs (folds x seeds),
    their mean and sample std, runs done / diverged / expected, and training seconds."""
    rows = []
    for index, keys in enumerate(keys_per_trial):
        runs = [records.get(key) for key in keys]
        runs = [run for run in runs if run]
        accuracies = [run["history"]["test_accuracy"][-1] for run in runs
                      if run["status"] == "done" and run["history"]["test_accuracy"][-1] is not None]
        mean = float(np.mean(accuracies)) if accuracies else math.nan
        std = float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else math.nan
        rows.append({"trial": index, "accuracies": accuracies, "mean": mean, "std": std,
                     "done": len(accuracies), "expected": len(keys),
                     "diverged": sum(run["status"] == "diverged" for run in runs),
                     "seconds": sum(run["wall_seconds"] for run in runs)})
    return rows


def choose(rows: list[dict]) -> int | None:
    """The trial with the highest mean validation accuracy among those whose runs all
    finished without diverging (ties: the earlier trial); None if there is none."""
    complete = [row for row in rows if row["done"] == row["expected"] and not row["diverged"]]
    if not complete:
        return None
    return max(complete, key=lambda row: (row["mean"], -row["trial"]))["trial"]


def _records(runs_dir: Path, keys) -> dict[str, dict]:
    return {key: record for key in keys if (record := read_json(runs_dir / f"{key}.json"))}


def run_search(config: ExperimentConfig, dataset: data.Dataset, workdir: str | Path,
               **run_options) -> Path:
    """Runs a search (see the module docstring); trains only what is not yet finished.

    Args:
      config: an experiment with a `search` space.
      dataset: the full dataset; `config.train_size` picks a subset first.
      workdir: results go to `<workdir>/<config.name>/`.
      run_options: keyword arguments of experiment.run_experiment (trainer, group_size,
        jit_compile, command, tensorboard, save_models, progress, engine, ...).

    Returns:
      The experiment directory.

    Raises:
      InputError: a bad search or workdir; raised before anything is written.
    """
    trials = check_search(config, dataset)
    check_workdir(config.name, dataset.name, workdir)
    # Keep-best picks an epoch by the evaluated split: the test set for the final run.
    config = dataclasses.replace(config, keep_best=False)
    experiment_dir = Path(workdir) / config.name
    runs_dir = experiment_dir / "runs"
    splits = selection_splits(config)
    selection = [trial_specs(config, params, splits) for params in trials]
    nested = []
    for outer in range(config.nested_folds):
        inner_splits = selection_splits(config, outer)
        nested.append({"outer_split": outer_split(config, outer), "splits": inner_splits,
                       "specs": [trial_specs(config, params, inner_splits) for params in trials]})
    plan = {"method": config.search_method, "trials": trials, "splits": splits,
            "selection_keys": [[spec.key for spec in specs] for specs in selection],
            "nested": [{"outer_split": level["outer_split"], "splits": level["splits"],
                        "keys": [[spec.key for spec in specs] for specs in level["specs"]]}
                       for level in nested],
            "chosen": None, "final_keys": []}
    first_phase = [spec for specs in selection for spec in specs]
    first_phase += [spec for level in nested for specs in level["specs"] for spec in specs]
    experiment_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(experiment_dir / SEARCH_FILE, plan)
    logger.info("%s: %d trials x %d validation splits%s", config.name, len(trials), len(splits),
                f", nested over {config.nested_folds} outer folds" if nested else "")
    experiment.run_experiment(config, dataset, workdir, specs=first_phase, **run_options)

    records = _records(runs_dir, [spec.key for spec in first_phase])
    chosen = choose(score_trials(plan["selection_keys"], records))
    second_phase = []
    if chosen is None:
        logger.warning("%s: no trial finished on every split without diverging; nothing "
                       "chosen, the test set is not evaluated", config.name)
    else:
        final = runs.run_specs(trial_config(config, trials[chosen]))
        plan.update(chosen=chosen, final_keys=[spec.key for spec in final])
        second_phase += final
        logger.info("%s: chose trial %d %s on validation", config.name, chosen + 1, trials[chosen])
    for level, level_plan in zip(nested, plan["nested"]):
        inner_chosen = choose(score_trials(level_plan["keys"], records))
        level_plan["chosen"] = inner_chosen
        outer_specs = [] if inner_chosen is None else runs.run_specs(
            trial_config(config, trials[inner_chosen], level["outer_split"]))
        level_plan["outer_keys"] = [spec.key for spec in outer_specs]
        second_phase += outer_specs
    atomic_write_json(experiment_dir / SEARCH_FILE, plan)
    # An outer fold's run is the top-level selection run itself when the folds coincide.
    planned = {spec.key for spec in first_phase}
    second_phase = [spec for spec in dict.fromkeys(second_phase) if spec.key not in planned]
    if second_phase:
        experiment.run_experiment(config, dataset, workdir, specs=first_phase + second_phase,
                             **run_options)
    return experiment_dir
