"""lenet_bench.records.statistics on synthetic seed-level results with known answers."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from statsmodels.stats import proportion

from lenet_bench.records import statistics


def factorial(rng, effect_a: float, effect_b: float, seeds: int = 4, noise: float = 0.01):
    """A 3 x 4 grid (factors a, b) with `seeds` runs per cell: accuracy 0.9 plus
    effect_a per level of a plus effect_b per level of b plus normal noise."""
    values, a, b = [], [], []
    for level_a, level_b, _ in itertools.product(range(3), range(4), range(seeds)):
        values.append(0.9 + effect_a * level_a + effect_b * level_b + rng.normal(0, noise))
        a.append(f"a{level_a}")
        b.append(f"b{level_b}")
    return np.array(values), {"a": a, "b": b}


def test_a_planted_effect_is_found_and_a_null_factor_is_not():
    rng = np.random.default_rng(0)
    values, factors = factorial(rng, effect_a=0.01, effect_b=0.0)
    rows = {row["term"]: row for row in statistics.anova(values, factors)}
    assert rows["a"]["p"] < 0.01 and rows["a"]["df"] == 2
    assert rows["residual"]["df"] == 3 * 4 * 3
    null_p = [{row["term"]: row["p"] for row in statistics.anova(*factorial(rng, 0.01, 0.0))}["b"]
              for _ in range(40)]  # statsmodels' fit costs about 80 ms: 40 draws, not more.
    assert np.mean(np.array(null_p) < 0.05) <= 0.10


def test_balanced_two_way_anova_matches_the_hand_computed_sums_of_squares():
    rng = np.random.default_rng(1)
    values, factors = factorial(rng, 0.003, 0.002, seeds=3)
    y = values.reshape(3, 4, 3)
    grand, cell = y.mean(), y.mean(axis=2)
    ss_a = 4 * 3 * ((y.mean(axis=(1, 2)) - grand) ** 2).sum()
    ss_b = 3 * 3 * ((y.mean(axis=(0, 2)) - grand) ** 2).sum()
    ss_ab = 3 * ((cell - y.mean(axis=(1, 2))[:, None] - y.mean(axis=(0, 2))[None, :] + grand) ** 2).sum()
    ss_error = ((y - cell[..., None]) ** 2).sum()
    rows = {row["term"]: row for row in statistics.anova(values, factors)}
    for term, ss, df in (("a", ss_a, 2), ("b", ss_b, 3), ("a × b", ss_ab, 6)):
        assert rows[term]["ss"] == pytest.approx(ss)
        f = (ss / df) / (ss_error / 24)
        assert rows[term]["f"] == pytest.approx(f)
        assert rows[term]["p"] == pytest.approx(stats.f.sf(f, df, 24))
        assert rows[term]["partial_eta_squared"] == pytest.approx(ss / (ss + ss_error))


def test_one_factor_anova_is_scipy_f_oneway():
    rng = np.random.default_rng(2)
    groups = [rng.normal(mean, 0.01, 5) for mean in (0.9, 0.91, 0.905)]
    row = statistics.anova(np.concatenate(groups), {"x": np.repeat(["p", "q", "r"], 5)})[0]
    expected = stats.f_oneway(*groups)
    assert (row["f"], row["p"]) == pytest.approx((expected.statistic, expected.pvalue))


def test_every_statistic_equals_scipy_and_statsmodels_on_the_same_numbers():
    rng = np.random.default_rng(3)
    values = rng.normal(0.9, 0.01, 6)
    expected = stats.t.interval(0.95, 5, loc=values.mean(), scale=stats.sem(values))
    assert statistics.t_interval(values) == pytest.approx(expected)
    assert statistics.failure_interval(3, 5) == pytest.approx(
        proportion.proportion_confint(3, 5, alpha=0.05, method="beta"))


def test_split_detection_on_bimodal_and_unimodal_results():
    assert statistics.is_split([0.095, 0.11, 0.89, 0.91, 0.90], 10)
    assert not statistics.is_split([0.89, 0.91, 0.90, 0.88], 10)        # All learned.
    assert not statistics.is_split([0.095, 0.10, 0.105], 10)             # All at chance.
    assert not statistics.is_split([0.10, 0.15], 10)                     # 0.15: not well above.
    summary = statistics.group_summary([0.10, 0.09, 0.90, 0.92, 0.94], 10, diverged=1)
    assert (summary["at_chance"], summary["split"], summary["diverged"]) == (2, True, 1)
    assert summary["learned_mean"] == pytest.approx(0.92)
    assert summary["median"] == pytest.approx(0.90)
    assert (summary["q1"], summary["q3"]) == pytest.approx((0.10, 0.92))
    assert 0 <= summary["ci_low"] and summary["ci_high"] <= 1  # Clipped.


def test_marginal_means():
    rng = np.random.default_rng(4)
    values, factors = factorial(rng, 0.01, 0.0, seeds=3)
    levels = statistics.marginal_means(values, factors, ("a",))
    y = values.reshape(3, 4, 3)
    assert [row["mean"] for row in levels] == pytest.approx(y.mean(axis=(1, 2)).tolist())
    mse = ((y - y.mean(axis=2, keepdims=True)) ** 2).sum() / 24
    half = stats.t.ppf(0.975, 24) * math.sqrt(mse / 12)
    assert levels[0]["ci_high"] - levels[0]["mean"] == pytest.approx(half)
