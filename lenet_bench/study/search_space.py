"""The TensorFlow-free half of a hyperparameter search (lenet_bench.study.search): the
space, the trials drawn from it, the validation splits they are scored on, the
scores and the choice. The search report reads a finished search with these
alone; `search.run_search` adds the training.
"""

import dataclasses
import itertools
import math

import numpy as np

from lenet_bench.config import GRID_FIELDS, ExperimentConfig
from lenet_bench.errors import InputError

SEARCH_METHODS = ("random", "grid")
RANGE_KINDS = ("log_uniform", "uniform", "int_uniform")
DISTRIBUTIONS = RANGE_KINDS + ("choice",)
GRID_POINTS = 3  # Values a range takes in a grid search unless its spec says "points".
SIGNIFICANT_DIGITS = 3  # Drawn floats are rounded to this, for readable run names.


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
    """Config fields a search may vary: those a grid may vary, every field of a run's
    spec but the dataset, the seed, the split and the backend (so fields added later are
    too)."""
    return GRID_FIELDS


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
