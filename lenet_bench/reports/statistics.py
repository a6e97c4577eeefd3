"""Which differences between grid points are real: intervals, ties with the best,
main effects and ANOVA over grid factors, split outcomes, seeds needed.

Pure numpy and scipy on seed-level results (one final test accuracy per finished
run, as fractions); nothing here reads run files. The report modules group runs
into points and factors and call these functions. Method choices and why:
BUILD_NOTES.md, "Statistics".
"""

import itertools
import math
import warnings

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.8
# A run "stayed at chance" when its final test accuracy is within this many
# accuracy units (2 percentage points) of 1/K.
CHANCE_MARGIN = 0.02
# A point's outcomes "split" when some runs stayed at chance and some reached at
# least this far above chance (10 percentage points).
SPLIT_GAP = 0.10
DETECTABLE_DIFFERENCES = (0.005, 0.01)  # 0.5 and 1 percentage point.
TIE_METHOD = ("one-sided Welch t-test and one-sided Mann-Whitney U test of each point "
              f"against the best, each Holm-corrected at {ALPHA:g} over the comparisons; a "
              "point is worse when either rejects, and at a point with split outcomes the "
              "Welch test compares its learned runs (those not at chance) with the best's")
SEEDS_METHOD = (f"two-sided two-sample t-test at {ALPHA:g}, {POWER:.0%} power, exact "
                "(noncentral t), from the pooled within-point std")


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
    """The t confidence interval of the mean: mean ± t(n-1) · s/√n (NaN for n < 2)."""
    values = _finite(values)
    if len(values) < 2:
        return math.nan, math.nan
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(
        len(values))
    return float(values.mean() - half), float(values.mean() + half)


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
      split (is_split) and learned_mean (mean of the runs not at chance). NaN where
      a statistic needs more runs than there are.
    """
    values = _finite(values)
    nan = math.nan
    ci_low, ci_high = rate_interval(values)
    q1, median, q3 = np.percentile(values, [25, 50, 75]) if len(values) else (nan, nan, nan)
    rest = learned(values, num_classes)
    return {"n": len(values), "mean": float(values.mean()) if len(values) else nan,
            "std": float(values.std(ddof=1)) if len(values) > 1 else nan,
            "ci_low": ci_low, "ci_high": ci_high, "median": float(median),
            "q1": float(q1), "q3": float(q3), "iqr": float(q3 - q1),
            "min": float(values.min()) if len(values) else nan,
            "max": float(values.max()) if len(values) else nan,
            "diverged": int(diverged), "at_chance": int(at_chance(values, num_classes).sum()),
            "split": is_split(values, num_classes),
            "learned_mean": float(rest.mean()) if len(rest) else nan}


def holm(p_values, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction: (adjusted p-values, rejected at `alpha`).

    NaN p-values (untestable comparisons) stay NaN, are never rejected and do not
    count in the number of comparisons.
    """
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full(p_values.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p_values))
    order = tested[np.argsort(p_values[tested], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted, np.nan_to_num(adjusted, nan=1.0) <= alpha


def welch_less_p(values, best) -> float:
    """One-sided Welch t-test p-value for mean(values) < mean(best) (NaN for n < 2)."""
    values, best = _finite(values), _finite(best)
    if len(values) < 2 or len(best) < 2:
        return math.nan
    if values.std() == 0 and best.std() == 0:
        return 0.0 if values.mean() < best.mean() else 1.0
    with warnings.catch_warnings():  # Runs all at one value (e.g. at chance) warn; p is right.
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(values, best, equal_var=False, alternative="less").pvalue)


def rank_less_p(values, best) -> float:
    """One-sided Mann-Whitney U p-value for values tending below best (scipy's
    method 'auto': exact for small samples without ties; NaN for n < 2)."""
    values, best = _finite(values), _finite(best)
    if len(values) < 2 or len(best) < 2:
        return math.nan
    return float(stats.mannwhitneyu(values, best, alternative="less").pvalue)


def ties_with_best(groups: list, num_classes: int, alpha: float = ALPHA) -> dict:
    """Which points are not significantly worse than the one with the highest mean.

    Args:
      groups: per point, its finished runs' final test accuracies.
      num_classes: K, to find runs at chance.
      alpha: the family-wise error rate of each test's Holm correction.

    Returns:
      best (index of the highest mean among points with 2+ runs, which can be
      tested; among all points when none has), and per point (`points`, in input order):
      welch_p, welch_p_holm, rank_p, rank_p_holm, welch_on ('all' or 'learned'),
      worse (either Holm-corrected test rejects) and tied (not worse; None for the
      best itself and for points with fewer than 2 runs, which cannot be tested),
      plus tested and tied counts. See TIE_METHOD.
    """
    sizes = [len(_finite(group)) for group in groups]
    enough = max(sizes) >= 2
    means = [float(np.mean(_finite(group))) if size and (size >= 2 or not enough) else -math.inf
             for group, size in zip(groups, sizes)]
    best = int(np.argmax(means))
    best_values = _finite(groups[best])
    welch, rank, welch_on = [], [], []
    for index, group in enumerate(groups):
        values = _finite(group)
        if index == best:
            welch.append(math.nan)
            rank.append(math.nan)
            welch_on.append("")
            continue
        use_learned = is_split(values, num_classes) and len(learned(values, num_classes)) >= 2
        welch_on.append("learned" if use_learned else "all")
        welch.append(welch_less_p(learned(values, num_classes), learned(best_values, num_classes))
                     if use_learned else welch_less_p(values, best_values))
        rank.append(rank_less_p(values, best_values))
    welch_holm, welch_reject = holm(welch, alpha)
    rank_holm, rank_reject = holm(rank, alpha)
    points = []
    for index in range(len(groups)):
        testable = index != best and (np.isfinite(welch[index]) or np.isfinite(rank[index]))
        worse = bool(welch_reject[index] or rank_reject[index])
        points.append({"welch_p": welch[index], "welch_p_holm": float(welch_holm[index]),
                       "rank_p": rank[index], "rank_p_holm": float(rank_holm[index]),
                       "welch_on": welch_on[index], "worse": worse,
                       "tied": (not worse) if testable else None})
    return {"best": best, "points": points,
            "tested": sum(point["tied"] is not None for point in points),
            "tied": sum(bool(point["tied"]) for point in points)}


def _dummies(levels: np.ndarray) -> np.ndarray:
    """Treatment-coded columns of a factor (first level dropped)."""
    values = list(dict.fromkeys(levels.tolist()))
    return np.column_stack([levels == value for value in values[1:]]).astype(float) \
        if len(values) > 1 else np.zeros((len(levels), 0))


def _term_columns(term: tuple, coded: dict) -> np.ndarray:
    columns = [coded[name] for name in term]
    product = columns[0]
    for other in columns[1:]:
        product = np.column_stack([product[:, i] * other[:, j] for i in range(product.shape[1])
                                   for j in range(other.shape[1])]) \
            if product.shape[1] and other.shape[1] else np.zeros((len(product), 0))
    return product


def _fit(y: np.ndarray, terms: list, coded: dict) -> tuple[float, int]:
    """Residual sum of squares and rank of the least-squares model with `terms`."""
    design = np.column_stack([np.ones(len(y))] + [_term_columns(term, coded) for term in terms])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    return float(residual @ residual), int(np.linalg.matrix_rank(design))


def cell_model(values, factors: dict) -> dict:
    """The full cell-means model (one mean per combination of factor levels): each
    cell's mean and n, the pooled within-cell error (sse, df, mse)."""
    y = np.asarray(values, dtype=float)
    keys = list(zip(*[np.asarray(levels).tolist() for levels in factors.values()]))
    cells: dict[tuple, list[float]] = {}
    for key, value in zip(keys, y):
        cells.setdefault(key, []).append(value)
    sse = sum(float(((np.array(v) - np.mean(v)) ** 2).sum()) for v in cells.values())
    df = len(y) - len(cells)
    return {"cells": {key: (float(np.mean(v)), len(v)) for key, v in cells.items()},
            "sse": sse, "df": df, "mse": sse / df if df > 0 else math.nan}


def anova(values, factors: dict) -> list[dict]:
    """ANOVA of a linear model on seed-level results: main effects and two-factor
    interactions with Type II sums of squares (each term against the model of every
    term that does not contain it), plus one pooled row for the higher-order
    interactions when there are 3+ factors. The error term is the within-cell
    (between-seed) variation of the full cell-means model, so seeds are the replicates.

    Args:
      values: one final test accuracy per finished run.
      factors: factor name -> its level per run (same length as values); factors
        with one level are left out.

    Returns:
      One dict per term (term, df, ss, f, p, partial_eta_squared), then the error
      row (term 'residual', df, ss). [] when no factor varies or no cell has 2 runs.
    """
    y = np.asarray(values, dtype=float)
    factors = {name: np.asarray(levels, dtype=object) for name, levels in factors.items()
               if len(set(np.asarray(levels).tolist())) > 1}
    error = cell_model(y, factors) if factors else None
    if not factors or error["df"] <= 0 or error["sse"] <= 0:
        return []
    coded = {name: _dummies(levels) for name, levels in factors.items()}
    names = list(factors)
    terms = [(name,) for name in names] + list(itertools.combinations(names, 2))
    rows = []
    for term in terms:
        others = [other for other in terms if not set(term) <= set(other)]
        reduced, reduced_rank = _fit(y, others, coded)
        full, full_rank = _fit(y, others + [term], coded)
        rows.append(_anova_row(" × ".join(term), reduced - full, full_rank - reduced_rank, error))
    if len(names) > 2:
        order_two, rank_two = _fit(y, terms, coded)
        cells = len(error["cells"])
        rows.append(_anova_row("higher-order interactions", order_two - error["sse"],
                               cells - rank_two, error))
    return rows + [{"term": "residual", "df": error["df"], "ss": error["sse"], "f": math.nan,
                    "p": math.nan, "partial_eta_squared": math.nan}]


def _anova_row(term: str, ss: float, df: int, error: dict) -> dict:
    ss = max(ss, 0.0)
    f = (ss / df) / error["mse"] if df > 0 else math.nan
    return {"term": term, "df": df, "ss": ss, "f": f,
            "p": float(stats.f.sf(f, df, error["df"])) if df > 0 else math.nan,
            "partial_eta_squared": ss / (ss + error["sse"])}


def marginal_means(values, factors: dict, names: tuple) -> list[dict]:
    """Estimated marginal means of the factors `names` (one factor: main effect; two:
    interaction): per level (combination), the mean of the cell means at that level,
    so each other factor's levels weigh equally, with a 95% t interval from the
    within-cell error (seeds as replicates; df of the cell model).

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


def seeds_needed(std: float, difference: float, alpha: float = ALPHA, power: float = POWER,
                 limit: int = 1_000_000) -> int | None:
    """Seeds per point for a two-sided two-sample t-test at `alpha` to detect a true
    difference of means `difference` with probability `power`, when each point's
    runs spread with standard deviation `std`: the smallest n whose exact power
    (noncentral t, df 2n-2) reaches `power`. None when std is not finite or n
    would exceed `limit`."""
    if not (math.isfinite(std) and std > 0 and difference > 0):
        return None if not math.isfinite(std) else 2
    normal = 2 * ((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * std / difference) ** 2
    n = np.arange(2, min(limit, 2 * math.ceil(normal) + 20) + 1)
    df = 2 * n - 2
    critical = stats.t.ppf(1 - alpha / 2, df)
    shift = difference / (std * np.sqrt(2 / n))
    achieved = stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift)
    enough = np.flatnonzero(achieved >= power)
    return int(n[enough[0]]) if len(enough) else None


def rate_interval(rates) -> tuple[float, float]:
    """The 95% t interval of a mean rate over seeds, clipped to [0, 1]."""
    low, high = t_interval(rates)
    return (max(0.0, low), min(1.0, high)) if math.isfinite(low) else (low, high)
