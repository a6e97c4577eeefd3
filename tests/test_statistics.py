"""lenet_bench.reports.statistics on synthetic seed-level results with known answers."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from lenet_bench.reports import statistics


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
              for _ in range(200)]
    assert np.mean(np.array(null_p) < 0.05) < 0.10


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


def test_interval_welch_and_holm_equal_scipy_and_a_hand_computation():
    rng = np.random.default_rng(3)
    values = rng.normal(0.9, 0.01, 6)
    expected = stats.t.interval(0.95, 5, loc=values.mean(), scale=stats.sem(values))
    assert statistics.t_interval(values) == pytest.approx(expected)
    best = rng.normal(0.92, 0.01, 5)
    assert statistics.welch_less_p(values, best) == pytest.approx(
        stats.ttest_ind(values, best, equal_var=False, alternative="less").pvalue)
    assert statistics.rank_less_p(values, best) == pytest.approx(
        stats.mannwhitneyu(values, best, alternative="less").pvalue)
    # Holm by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, made monotone.
    adjusted, rejected = statistics.holm([0.01, 0.04, 0.03, math.nan, 0.005])
    assert adjusted[[4, 0, 2, 1]] == pytest.approx([0.02, 0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])
    assert rejected.tolist() == [True, False, False, False, True]


def test_the_tie_set_on_a_constructed_case():
    best = [0.950, 0.952, 0.954, 0.956, 0.958]
    close = [0.949, 0.951, 0.953, 0.955, 0.957]       # Tied: 0.001 below, spread 0.003.
    far = [0.900, 0.902, 0.904, 0.906, 0.908]         # Worse by 5 points.
    split = [0.10, 0.900, 0.901, 0.902, 0.903]        # One at chance; the rest 5 points worse.
    lucky_split = [0.10, 0.951, 0.953, 0.955, 0.957]  # One at chance; the rest tied.
    single = [0.99]                                   # One run: untestable.
    result = statistics.ties_with_best([close, best, far, split, lucky_split, single], 10)
    assert result["best"] == 1
    assert [point["tied"] for point in result["points"]] == [True, None, False, False, True, None]
    assert result["points"][3]["welch_on"] == "learned"
    assert (result["tied"], result["tested"]) == (2, 4)


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


def test_marginal_means_and_seeds_needed():
    rng = np.random.default_rng(4)
    values, factors = factorial(rng, 0.01, 0.0, seeds=3)
    levels = statistics.marginal_means(values, factors, ("a",))
    y = values.reshape(3, 4, 3)
    assert [row["mean"] for row in levels] == pytest.approx(y.mean(axis=(1, 2)).tolist())
    mse = ((y - y.mean(axis=2, keepdims=True)) ** 2).sum() / 24
    half = stats.t.ppf(0.975, 24) * math.sqrt(mse / 12)
    assert levels[0]["ci_high"] - levels[0]["mean"] == pytest.approx(half)
    # Textbook: a difference of one std at 80% power, two-sided 5%, needs 17 per group (t).
    assert statistics.seeds_needed(0.01, 0.01) == 17
    assert statistics.seeds_needed(0.01, 0.005) > 4 * 15
