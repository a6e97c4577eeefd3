"""Which differences between grid points are real: a verdict per grid point against
the best (worse, equivalent or undecided), failure rates as outcomes, probability of
improvement, intervals, the ANOVA over grid factors, main effects, seeds needed.

Numpy, scipy and statsmodels on seed-level results (one final test accuracy per
finished run, as fractions); nothing here reads run files. The report modules group
runs into points and factors and call these functions. Method choices and why:
BUILD_NOTES.md, "Statistics".
"""

import functools
import math
import warnings

import numpy as np
import pandas as pd
from scipy import special, stats
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.8
# The equivalence margin: a point within this many accuracy units (0.5 percentage
# points) of the best, shown by two one-sided tests, is "equivalent" to it.
MARGIN = 0.005
# A run "stayed at chance" when its final test accuracy is within this many
# accuracy units (2 percentage points) of 1/K.
CHANCE_MARGIN = 0.02
# A point's outcomes "split" when some runs stayed at chance and some reached at
# least this far above chance (10 percentage points).
SPLIT_GAP = 0.10
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
VERDICTS = ("worse", "equivalent", "undecided")
SEEDS_LIMIT = 100_000


def verdict_method(margin: float = MARGIN, alpha: float = ALPHA) -> str:
    """How the verdicts are reached, in one paragraph for the reports."""
    return (f"every point against the best (the highest mean), on all finished runs (a run at "
            f"chance counts at its accuracy); **worse**: below the best by a one-sided Welch "
            f"t-test or a higher failure rate by a one-sided Fisher exact test (the smaller p "
            f"doubled, Bonferroni within the point), Holm-corrected at {alpha:g} over the grid, "
            f"and outside the best set; **equivalent**: within ±{100 * margin:g} points of the "
            f"best by two one-sided Welch tests (TOST), Holm-corrected at {alpha:g} over the "
            f"grid as a family of its own, and no higher failure rate than the best's; "
            f"**undecided**: neither. The best set guards against the winner's curse (the best "
            f"is picked from many noisy means and tested on the same runs): it holds every "
            f"point not shown below any other point by the same one-sided test at "
            f"{alpha:g}/(points - 1), so it holds the truly best point with probability at least "
            f"{1 - alpha:.0%}, and a point in it is never called worse")


SEEDS_METHOD = (f"one-sided two-sample t-test at {ALPHA:g}/(points - 1) (Holm's first and "
                f"strictest step), {POWER:.0%} power, statsmodels' TTestIndPower")


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


def holm(p_values, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction: (adjusted p-values, rejected at `alpha`).

    NaN p-values (untestable comparisons) stay NaN, are never rejected and do not
    count in the number of comparisons. The same numbers as statsmodels'
    multipletests(method='holm') (the tests check it), kept by hand because that
    function calls gc.collect() on every call: about 0.1 s in a process that has
    scipy, pandas and statsmodels loaded, minutes over the verdict simulation.
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
    """One-sided Welch t-test p-value for mean(values) < mean(best) (NaN for n < 2);
    scipy's ttest_ind on the same numbers (see welch_pairs)."""
    return float(welch_less_matrix([values, best])[0, 1])


def _moments(groups: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group: n, mean, squared standard error (NaN where n < 2)."""
    n = np.array([len(g) for g in groups], dtype=float)
    means = np.array([g.mean() if len(g) else np.nan for g in groups])
    se2 = np.array([g.var(ddof=1) / len(g) if len(g) > 1 else np.nan for g in groups])
    return n, means, se2


def welch_pairs(groups: list, rows, columns) -> dict:
    """The Welch quantities of mean(groups[i]) - mean(groups[j]) for the index arrays
    `rows` (i) and `columns` (j), vectorized: difference, se, df, and `constant`
    (both groups without spread, where se is 0). NaN where a group has < 2 runs.

    Hand-written because it is every test of the verdicts at once: scipy's
    ttest_ind and statsmodels' ttost_ind cost 1-3 ms a call, the best set needs every
    ordered pair (1,260 for 36 points) and the simulation 10^4 studies. The tests
    check every figure against scipy's and statsmodels' functions.
    """
    groups = [_finite(group) for group in groups]
    n, means, se2 = _moments(groups)
    rows, columns = np.asarray(rows), np.asarray(columns)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = se2[rows] + se2[columns]
        df = total ** 2 / (se2[rows] ** 2 / (n[rows] - 1) + se2[columns] ** 2 / (n[columns] - 1))
    return {"difference": means[rows] - means[columns], "se": np.sqrt(total), "df": df,
            "constant": total == 0}


def _t_cdf(x: np.ndarray, df: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """P(T <= x) for Student's t with df; where `constant`, 1 if x > 0 else 0 (x is
    then +-inf or NaN: a difference over a zero standard error)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = special.stdtr(np.where(constant, 1.0, df), x)  # stats.t.cdf without its overhead.
    return np.where(constant, np.where(x > 0, 1.0, 0.0), p)


def welch_less_matrix(groups: list) -> np.ndarray:
    """p[i, j]: the one-sided Welch t-test p-value for mean(groups[i]) < mean(groups[j]),
    for every ordered pair at once (NaN on the diagonal and where a group has < 2 runs):
    scipy.stats.ttest_ind(equal_var=False, alternative='less') (see welch_pairs).
    Two groups that are each constant: p is 0 or 1 by which mean is higher."""
    count = len(groups)
    rows, columns = np.divmod(np.arange(count * count), count)
    pairs = welch_pairs(groups, rows, columns)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = pairs["difference"] / pairs["se"]
    p = _t_cdf(np.where(pairs["constant"], pairs["difference"], t), pairs["df"],
               pairs["constant"]).reshape(count, count)
    p[~np.isfinite(pairs["se"].reshape(count, count))] = np.nan
    np.fill_diagonal(p, np.nan)
    return p


def _against(groups: list, best: int, margin: float, confidence: float) -> dict:
    """Every group against groups[best] (vectorized): difference best - group with its
    Welch interval, and the TOST p-value for |group - best| < margin."""
    others = np.arange(len(groups))
    pairs = welch_pairs(groups, others, np.full(len(groups), best))
    se, df, constant, d = pairs["se"], pairs["df"], pairs["constant"], pairs["difference"]
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = 1 - _t_cdf(np.where(constant, d + margin, (d + margin) / se), df, constant)
        upper = _t_cdf(np.where(constant, d - margin, (d - margin) / se), df, constant)
        half = np.where(constant, 0.0, special.stdtrit(np.where(constant, 1.0, df),
                                                       (1 + confidence) / 2) * se)
    tost = np.maximum(lower, upper)
    if constant.any():  # Exactly at the margin counts as outside it.
        tost = np.where(constant, np.where(np.abs(d) < margin, 0.0, 1.0), tost)
    tested = np.isfinite(se)
    return {"difference": -d, "low": np.where(tested, -d - half, np.nan),
            "high": np.where(tested, -d + half, np.nan),
            "tost": np.where(tested, tost, np.nan)}


def unseen_failure_rate(runs: int, alpha: float = ALPHA) -> float:
    """The highest failure rate that `runs` runs without a failure do not rule out:
    the one-sided Clopper-Pearson upper bound for 0 of runs, 1 - alpha^(1/runs)."""
    return 1 - alpha ** (1 / runs) if runs else 1.0


def tost_p(values, best, margin: float = MARGIN) -> float:
    """Two one-sided Welch tests that mean(values) - mean(best) lies within ±margin:
    the larger p-value, as statsmodels' ttost_ind(usevar='unequal') (NaN for n < 2).
    Both groups constant: 0 when the difference is inside the margin, else 1."""
    return float(_against([values, best], 1, margin, CONFIDENCE)["tost"][0])


def mean_difference(best, values, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """mean(best) - mean(values) with its Welch t interval, as scipy's
    ttest_ind(best, values, equal_var=False).confidence_interval (NaN interval for
    n < 2)."""
    best, values = _finite(best), _finite(values)
    if not len(best) or not len(values):
        return math.nan, math.nan, math.nan
    found = _against([values, best], 1, MARGIN, confidence)
    return (float(found["difference"][0]), float(found["low"][0]), float(found["high"][0]))


@functools.lru_cache(maxsize=4096)
def failure_greater_p(failed: int, runs: int, best_failed: int, best_runs: int) -> float:
    """One-sided Fisher exact test p-value (scipy) that a point's failure rate
    (failed of runs) is above the best's (best_failed of best_runs)."""
    if not runs or not best_runs:
        return math.nan
    table = [[failed, runs - failed], [best_failed, best_runs - best_failed]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def failure_interval(failed: int, runs: int,
                     confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Clopper-Pearson (exact) interval of a failure rate (scipy's binomtest)."""
    if not runs:
        return math.nan, math.nan
    interval = stats.binomtest(int(failed), int(runs)).proportion_ci(confidence, "exact")
    return float(interval.low), float(interval.high)


def _improvement(best, values, axis=-1):
    """P(a run of best > a run of values), ties half: Mann-Whitney U / (n m)."""
    greater = (best[..., :, None] > values[..., None, :]).mean(axis=(-2, -1))
    ties = (best[..., :, None] == values[..., None, :]).mean(axis=(-2, -1))
    return greater + 0.5 * ties


def probability_of_improvement(best, values, confidence: float = CONFIDENCE,
                               resamples: int = BOOTSTRAP_RESAMPLES,
                               seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """P(best > other) as rliable defines it (Mann-Whitney U / (n m), ties count half),
    with a percentile bootstrap interval (scipy's bootstrap, each point's runs
    resampled on their own, seeded). NaN interval when either side has < 2 runs."""
    best, values = _finite(best), _finite(values)
    if not len(best) or not len(values):
        return math.nan, math.nan, math.nan
    estimate = float(_improvement(best, values))
    if len(best) < 2 or len(values) < 2:
        return estimate, math.nan, math.nan
    with warnings.catch_warnings():  # Degenerate resamples (all ties) warn; the interval stands.
        warnings.simplefilter("ignore")
        result = stats.bootstrap((best, values), _improvement, vectorized=True,
                                 paired=False, confidence_level=confidence,
                                 n_resamples=resamples, method="percentile",
                                 rng=np.random.default_rng(seed))
    return estimate, float(result.confidence_interval.low), float(result.confidence_interval.high)


def seeds_to_decide(std: float, margin: float = MARGIN, comparisons: int = 1,
                    alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Seeds per point for the one-sided two-sample t-test at alpha/comparisons (Holm's
    first step) to detect a difference of `margin` with probability `power` when runs
    spread with standard deviation `std` (statsmodels' TTestIndPower). None when
    std is not finite or the answer exceeds SEEDS_LIMIT."""
    if not math.isfinite(std) or not margin > 0:
        return None
    if std == 0:
        return 2
    effect = margin / std
    level = alpha / max(1, comparisons)
    analysis = TTestIndPower()
    if analysis.power(effect, SEEDS_LIMIT, level, alternative="larger") < power:
        return None
    if analysis.power(effect, 2, level, alternative="larger") >= power:
        return 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = analysis.solve_power(effect_size=effect, alpha=level, power=power,
                                        alternative="larger")
    n = float(np.asarray(n).ravel()[0])
    return max(2, math.ceil(n - 1e-9)) if math.isfinite(n) else None


def seeds_for_failure_rate(rate: float, best_rate: float, comparisons: int = 1,
                           alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Seeds per point for a one-sided test at alpha/comparisons to show a failure rate
    `rate` above the best's `best_rate` with probability `power`: the normal
    approximation on Cohen's h (statsmodels' proportion_effectsize and
    NormalIndPower). None when rate is not above best_rate."""
    if not rate > best_rate:
        return None
    effect = float(proportion_effectsize(rate, best_rate))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = NormalIndPower().solve_power(effect_size=effect, alpha=alpha / max(1, comparisons),
                                         power=power, alternative="larger")
    n = float(np.asarray(n).ravel()[0])
    return max(2, math.ceil(n - 1e-9)) if math.isfinite(n) else None


def seeds_needed(std: float, difference: float, comparisons: int = 1, alpha: float = ALPHA,
                 power: float = POWER) -> int | None:
    """Seeds per point for the report's test (one-sided, at alpha/comparisons) to
    detect a true difference of means `difference` at `power`: seeds_to_decide."""
    return seeds_to_decide(std, difference, comparisons, alpha, power)


def _combined_worse_p(welch: float, failure: float) -> float:
    """One p-value for "worse" from the Welch and Fisher tests: the smaller doubled
    (Bonferroni over the two), or the one that exists."""
    tests = [p for p in (welch, failure) if math.isfinite(p)]
    return min(1.0, len(tests) * min(tests)) if tests else math.nan


def best_set(groups: list, failed: list[int], runs: list[int], alpha: float = ALPHA,
             welch: np.ndarray | None = None) -> list[int]:
    """The points not shown below any other point: for point i, every comparison
    with another point j (one-sided Welch on accuracy, one-sided Fisher on failure
    rate, combined as in _combined_worse_p) stays above alpha/(points - 1). The truly
    best point's comparisons are all true null hypotheses, so it is left out with
    probability at most alpha (Bonferroni), however the observed best was picked.
    `welch`: welch_less_matrix(groups) when the caller has it."""
    welch = welch_less_matrix(groups) if welch is None else welch
    comparisons = max(1, len(groups) - 1)
    members = []
    for i in range(len(groups)):
        p = [_combined_worse_p(welch[i, j], failure_greater_p(failed[i], runs[i], failed[j],
                                                              runs[j]))
             for j in range(len(groups)) if j != i]
        if not any(math.isfinite(value) and value <= alpha / comparisons for value in p):
            members.append(i)
    return members


def _best_index(groups: list) -> int:
    """The highest mean among points with 2+ runs (among all when none has 2)."""
    sizes = [len(_finite(group)) for group in groups]
    enough = max(sizes) >= 2
    means = [float(np.mean(_finite(group))) if size and (size >= 2 or not enough) else -math.inf
             for group, size in zip(groups, sizes)]
    return int(np.argmax(means))


def _point_tests(values, best_values, found: dict, i: int, failed: list[int],
                 runs: list[int], best: int, welch: float) -> dict:
    """Point i's tests against the best (before multiplicity); `found`: _against's
    arrays, `welch`: its one-sided Welch p-value against the best."""
    failure = failure_greater_p(failed[i], runs[i], failed[best], runs[best])
    spread = math.sqrt((np.var(values, ddof=1) + np.var(best_values, ddof=1)) / 2) \
        if len(values) > 1 and len(best_values) > 1 else math.nan
    return {"welch_p": welch, "failure_p": failure, "worse_p": _combined_worse_p(welch, failure),
            "equivalence_p": float(found["tost"][i]), "difference": float(found["difference"][i]),
            "difference_low": float(found["low"][i]), "difference_high": float(found["high"][i]),
            "spread": spread,
            "failure_not_higher": failed[i] * runs[best] <= failed[best] * runs[i]}


def _seeds_to_decide_point(point: dict, best_rate: float, margin: float, comparisons: int,
                           alpha: float) -> int | None:
    """The fewer of the seeds the accuracy test needs at the margin and, when the
    point fails more often than the best, the seeds the failure-rate test needs at
    the observed rates."""
    options = [seeds_to_decide(point["spread"], margin, comparisons, alpha),
               seeds_for_failure_rate(point["failed"] / point["runs"], best_rate, comparisons,
                                      alpha)]
    options = [n for n in options if n]
    return min(options) if options else None


def verdicts(groups: list, num_classes: int, diverged: list[int] | None = None,
             margin: float = MARGIN, alpha: float = ALPHA, with_seeds: bool = True) -> dict:
    """Every grid point's verdict against the best: worse, equivalent or undecided.

    Args:
      groups: per point, its finished runs' final test accuracies (fractions).
      num_classes: K, to count the runs at chance as failures.
      diverged: per point, how many runs diverged (failures without an accuracy).
      margin: the equivalence margin (accuracy units).
      alpha: the family-wise error rate of each Holm family.
      with_seeds: compute seeds_to_decide for the undecided points (about 10 ms
        each; the simulation leaves it out).

    Returns:
      best (index), best_set (indices), margin, alpha, counts (verdict -> points)
      and per point (`points`, input order): verdict ('best', one of VERDICTS, or ''
      when untestable: fewer than 2 runs on either side and not worse by its failure
      rate), failed, runs, the tests
      (welch_p, failure_p, worse_p, worse_p_holm, equivalence_p,
      equivalence_p_holm), difference (best - point) with its Welch interval
      (difference_low, difference_high), in_best_set and, for undecided points,
      seeds_to_decide. See verdict_method().
    """
    groups = [_finite(group) for group in groups]
    diverged = list(diverged) if diverged is not None else [0] * len(groups)
    failed = [int(at_chance(g, num_classes).sum()) + d for g, d in zip(groups, diverged)]
    runs = [len(g) + d for g, d in zip(groups, diverged)]
    best = _best_index(groups)
    welch = welch_less_matrix(groups)
    members = set(best_set(groups, failed, runs, alpha, welch))
    found = _against(groups, best, margin, CONFIDENCE)
    points = [_point_tests(groups[i], groups[best], found, i, failed, runs, best, welch[i, best])
              if i != best else {} for i in range(len(groups))]
    worse_holm, worse = holm([p.get("worse_p", math.nan) for p in points], alpha)
    equivalent_holm, equivalent = holm([p.get("equivalence_p", math.nan) for p in points], alpha)
    comparisons = max(1, len(groups) - 1)
    for i, point in enumerate(points):
        point.update(failed=failed[i], runs=runs[i], in_best_set=i in members,
                     worse_p_holm=float(worse_holm[i]),
                     equivalence_p_holm=float(equivalent_holm[i]), seeds_to_decide=None)
        if i == best:
            point["verdict"] = "best"
        elif equivalent[i] and point["failure_not_higher"]:
            point["verdict"] = "equivalent"
        elif worse[i] and i not in members:
            point["verdict"] = "worse"
        elif not math.isfinite(point["equivalence_p"]):
            point["verdict"] = ""
        else:
            point["verdict"] = "undecided"
            point["seeds_to_decide"] = _seeds_to_decide_point(
                point, failed[best] / runs[best], margin, comparisons, alpha) \
                if with_seeds else None
    return {"best": best, "best_set": sorted(members), "margin": margin, "alpha": alpha,
            "points": points,
            "counts": {v: sum(p["verdict"] == v for p in points) for v in VERDICTS}}


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
