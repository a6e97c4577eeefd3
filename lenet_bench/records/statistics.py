"""Descriptive statistics of seed-level results and the ANOVA over grid factors:
intervals, failure rates as outcomes, split outcomes, main effects and interactions.

Numpy, scipy and statsmodels on seed-level results (one final test accuracy per
finished run, as fractions); nothing here reads run files. Each point's verdict
against the best (best, worse, equivalent, undecided) is `lenet_bench.records.decision`'s.
Method choices and why: BUILD_NOTES.md, "Statistics".
"""

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm

from lenet_bench.records.decision import ALPHA, CHANCE_MARGIN

CONFIDENCE = 0.95
# A point's outcomes "split" when some runs stayed at chance and some reached at
# least this far above chance (10 percentage points).
SPLIT_GAP = 0.10


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    return values[np.isfinite(values)]


def chance_accuracy(num_classes: int) -> float:
    """1/K: the accuracy of a constant or random guess on K balanced classes."""
    return 1.0 / num_classes


def at_chance(values, num_classes: int) -> np.ndarray:
    """Per value: within CHANCE_MARGIN of 1/K (NaN values are not at chance)."""
    values = np.asarray(values, dtype=float)
    return np.abs(values - chance_accuracy(num_classes)) <= CHANCE_MARGIN


def is_split(values, num_classes: int) -> bool:
    """True when some runs stayed at chance and some learned (reached at least
    SPLIT_GAP above chance): a bimodal outcome that a mean ± std hides."""
    values = _finite(values)
    stuck = at_chance(values, num_classes)
    return bool(stuck.any() and (values >= chance_accuracy(num_classes) + SPLIT_GAP).any())


def learned(values, num_classes: int) -> np.ndarray:
    """The finite values that are not at chance."""
    values = _finite(values)
    return values[~at_chance(values, num_classes)]


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The t confidence interval of the mean (scipy's t.interval; NaN for n < 2)."""
    values = _finite(values)
    if len(values) < 2:
        return math.nan, math.nan
    if values.std() == 0:
        return float(values.mean()), float(values.mean())
    low, high = stats.t.interval(confidence, len(values) - 1, loc=values.mean(),
                                 scale=stats.sem(values))
    return float(low), float(high)


def group_summary(values, num_classes: int, diverged: int = 0) -> dict:
    """One point's final test accuracies summarized.

    Args:
      values: the finished runs' final test accuracies (fractions; NaN ignored).
      num_classes: K, for the chance level.
      diverged: how many runs of the point diverged (counted, never averaged in).

    Returns:
      n, mean, std (ddof=1), ci_low/ci_high (95% t interval of the mean, clipped to
      [0, 1]: a split point's interval would reach past them), median,
      q1, q3, iqr, min, max, diverged, at_chance (runs within CHANCE_MARGIN of 1/K),
      failed (at chance or diverged) with its Clopper-Pearson interval
      (failed_low, failed_high, as rates), split (is_split) and learned_mean (mean of
      the runs not at chance). NaN where a statistic needs more runs than there are.
    """
    values = _finite(values)
    nan = math.nan
    ci_low, ci_high = rate_interval(values)
    q1, median, q3 = np.percentile(values, [25, 50, 75]) if len(values) else (nan, nan, nan)
    rest = learned(values, num_classes)
    stuck = int(at_chance(values, num_classes).sum())
    failed_low, failed_high = failure_interval(stuck + int(diverged), len(values) + int(diverged))
    return {"n": len(values), "mean": float(values.mean()) if len(values) else nan,
            "std": float(values.std(ddof=1)) if len(values) > 1 else nan,
            "ci_low": ci_low, "ci_high": ci_high, "median": float(median),
            "q1": float(q1), "q3": float(q3), "iqr": float(q3 - q1),
            "min": float(values.min()) if len(values) else nan,
            "max": float(values.max()) if len(values) else nan,
            "diverged": int(diverged), "at_chance": stuck, "failed": stuck + int(diverged),
            "failed_low": failed_low, "failed_high": failed_high,
            "split": is_split(values, num_classes),
            "learned_mean": float(rest.mean()) if len(rest) else nan}


def failure_interval(failed: int, runs: int,
                     confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Clopper-Pearson (exact) interval of a failure rate (scipy's binomtest)."""
    if not runs:
        return math.nan, math.nan
    interval = stats.binomtest(int(failed), int(runs)).proportion_ci(confidence, "exact")
    return float(interval.low), float(interval.high)


def _factor_frame(values, factors: dict) -> tuple[pd.DataFrame, str, dict]:
    """A data frame (y and one column per factor, safe names), the full-factorial
    formula over them and the column -> factor name map."""
    names = {f"f{i}": name for i, name in enumerate(factors)}
    frame = pd.DataFrame({"y": np.asarray(values, dtype=float),
                          **{column: [str(level) for level in factors[name]]
                             for column, name in names.items()}})
    return frame, "y ~ " + " * ".join(f"C({column})" for column in names), names


def anova(values, factors: dict) -> list[dict]:
    """ANOVA of the full-factorial linear model on seed-level results (statsmodels'
    ols and anova_lm, Type II sums of squares: each term against every term that
    does not contain it). Its error is the spread between the seeds of one grid
    point (the full model is the cell-means model), so seeds are the replicates.

    Args:
      values: one final test accuracy per finished run.
      factors: factor name -> its level per run (same length as values); factors
        with one level are left out.

    Returns:
      One dict per term (term, df, ss, f, p, partial_eta_squared): main effects,
      then interactions by order ('a × b'), then the error row (term 'residual',
      df, ss). [] when no factor varies or no cell has 2 runs.
    """
    factors = {name: list(levels) for name, levels in factors.items()
               if len(set(map(str, levels))) > 1}
    if not factors:
        return []
    error = cell_model(values, factors)
    if error["df"] <= 0 or error["sse"] <= 0:
        return []
    frame, formula, names = _factor_frame(values, factors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = anova_lm(ols(formula, frame).fit(), typ=2)
    residual = table.loc["Residual"]
    rows = []
    for term, row in table.drop(index="Residual").iterrows():
        label = " × ".join(names[part[2:-1]] for part in term.split(":"))
        ss = max(float(row["sum_sq"]), 0.0)
        rows.append({"term": label, "df": int(round(row["df"])), "ss": ss,
                     "f": float(row["F"]), "p": float(row["PR(>F)"]),
                     "partial_eta_squared": ss / (ss + float(residual["sum_sq"]))})
    rows.sort(key=lambda row: row["term"].count(" × "))
    return rows + [{"term": "residual", "df": int(round(residual["df"])),
                    "ss": float(residual["sum_sq"]), "f": math.nan, "p": math.nan,
                    "partial_eta_squared": math.nan}]


def cell_model(values, factors: dict) -> dict:
    """The full cell-means model (one mean per combination of factor levels): each
    cell's mean and n, the pooled within-cell error (sse, df, mse)."""
    y = np.asarray(values, dtype=float)
    keys = list(zip(*[np.asarray(levels, dtype=object).tolist() for levels in factors.values()]))
    cells: dict[tuple, list[float]] = {}
    for key, value in zip(keys, y):
        cells.setdefault(key, []).append(value)
    sse = sum(float(((np.array(v) - np.mean(v)) ** 2).sum()) for v in cells.values())
    df = len(y) - len(cells)
    return {"cells": {key: (float(np.mean(v)), len(v)) for key, v in cells.items()},
            "sse": sse, "df": df, "mse": sse / df if df > 0 else math.nan}


def marginal_means(values, factors: dict, names: tuple) -> list[dict]:
    """Estimated marginal means of the factors `names` (one factor: main effect; two:
    interaction): per level (combination), the mean of the cell means at that level,
    so each other factor's levels weigh equally, with a 95% t interval from the
    within-cell error (seeds as replicates; df of the cell model). Hand-written:
    statsmodels has no estimated marginal means.

    Returns:
      One dict per level combination, in first-seen order: levels (tuple), mean,
      ci_low, ci_high, cells, n (runs).
    """
    model = cell_model(values, factors)
    positions = [list(factors).index(name) for name in names]
    grouped: dict[tuple, list[tuple[float, int]]] = {}
    for key, cell in model["cells"].items():
        grouped.setdefault(tuple(key[p] for p in positions), []).append(cell)
    quantile = stats.t.ppf((1 + CONFIDENCE) / 2, model["df"]) if model["df"] > 0 else math.nan
    rows = []
    for levels, cells in grouped.items():
        mean = float(np.mean([m for m, _ in cells]))
        se = math.sqrt(model["mse"] * sum(1 / n for _, n in cells)) / len(cells)
        rows.append({"levels": levels, "mean": mean, "ci_low": mean - quantile * se,
                     "ci_high": mean + quantile * se, "cells": len(cells),
                     "n": sum(n for _, n in cells)})
    return rows


def pooled_std(groups: list) -> tuple[float, int]:
    """The pooled within-group standard deviation and its degrees of freedom (groups
    with fewer than 2 values add nothing)."""
    groups = [_finite(group) for group in groups]
    sse = sum(float(((g - g.mean()) ** 2).sum()) for g in groups if len(g) > 1)
    df = sum(len(g) - 1 for g in groups if len(g) > 1)
    return (math.sqrt(sse / df), df) if df else (math.nan, 0)


def rate_interval(rates) -> tuple[float, float]:
    """The 95% t interval of a mean rate over seeds, clipped to [0, 1]."""
    low, high = t_interval(rates)
    return (max(0.0, low), min(1.0, high)) if math.isfinite(low) else (low, high)
