"""lenet_bench.records.decision: its parts against scipy/statsmodels and a brute-force
closed test, the cases the procedure must get right, and the DataFrame wrappers."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

import lenet_bench
from lenet_bench.errors import InputError
from lenet_bench.records import decision


def stats_of(groups, num_classes=10):
    """Stats of a list of 1-D accuracy arrays (points may have different run counts)."""
    width = max(len(g) for g in groups)
    padded = np.full((len(groups), width), np.nan)
    for row, values in enumerate(groups):
        padded[row, :len(values)] = values
    return decision.summarize(padded, num_classes, [len(g) for g in groups])


def frame_of(groups, point="lr"):
    return pd.DataFrame([{point: i, "seed": s, "test_accuracy": v}
                         for i, values in enumerate(groups) for s, v in enumerate(values)])


def brute_force_worse(q, alpha):
    """Closed testing by enumerating every intersection H_S (Bonferroni over |S|(k-1))."""
    k = len(q)
    rejected = {}
    for size in range(1, k + 1):
        for subset in itertools.combinations(range(k), size):
            rejected[subset] = min(q[list(subset)]) < alpha / (size * (k - 1))
    return np.array([all(r for s, r in rejected.items() if i in s) for i in range(k)])


@pytest.mark.parametrize("k", [2, 3, 5, 7])
def test_closed_worse_matches_enumerating_every_intersection(k):
    rng = np.random.default_rng(k)
    for _ in range(200):
        q = rng.choice([1.0, 0.5, 0.01, 0.004, 0.002, 0.001, 1e-4, 1e-5], size=k)
        q = q * rng.uniform(0.5, 1.5, size=k)
        np.testing.assert_array_equal(decision.closed_worse(q[None], 0.05)[0],
                                      brute_force_worse(q, 0.05))


def test_pairwise_p_matches_scipy_welch_and_fisher():
    rng = np.random.default_rng(1)
    groups = [rng.normal(0.9, rng.uniform(0.002, 0.02), rng.integers(3, 9)) for _ in range(6)]
    groups[2][:2] = np.nan
    groups[4][:1] = 0.1
    st = stats_of(groups)
    p = decision.p_beats(st.index((slice(None), None)), st.index((None, slice(None))))
    failed = [decision.failed_mask(g, 10) for g in groups]
    for i, j in itertools.permutations(range(6), 2):
        learned_i, learned_j = groups[i][~failed[i]], groups[j][~failed[j]]
        welch = stats.ttest_ind(learned_j, learned_i, equal_var=False,
                                alternative="greater").pvalue
        table = [[failed[i].sum(), (~failed[i]).sum()], [failed[j].sum(), (~failed[j]).sum()]]
        fisher = stats.fisher_exact(table, alternative="greater").pvalue
        expected = welch if failed[i].sum() + failed[j].sum() == 0 else \
            min(1, 2 * min(welch, fisher))
        assert p[i, j] == pytest.approx(expected, rel=1e-6, abs=1e-12), (i, j)


def test_pruning_keeps_every_worse_decision():
    rng = np.random.default_rng(2)
    means = 0.9 + rng.normal(0, 0.004, (500, 12))
    st = decision.Stats(np.full((500, 12), 6), rng.binomial(6, 0.1, (500, 12)),
                        np.full((500, 12), 6), means, np.full((500, 12), 0.004 ** 2))
    st = st._replace(learned=st.runs - st.failures)
    exact = decision.p_beats(st.index((..., slice(None), None)), st.index((..., None, slice(None))))
    exact[..., np.arange(12), np.arange(12)] = np.inf
    expected = decision.closed_worse(exact.min(-1), 0.05) & (st.runs >= 2)
    np.testing.assert_array_equal(decision.worse_calls(st, 0.05), expected)


def test_equivalence_decisions_match_the_exact_intervals():
    rng = np.random.default_rng(3)
    for _ in range(30):
        groups = [rng.normal(0.9 + rng.normal(0, 0.002), rng.uniform(0.0005, 0.004), 16)
                  for _ in range(5)]
        st = stats_of(groups)
        codes = decision.verdict_codes(st, 0.05, 0.005, 0.2)
        low, high = decision.intervals(st, 0.05)
        inside = (low > -0.005) & (high < 0.005)
        candidates = np.isin(codes, (decision.UNDECIDED, decision.EQUIVALENT))
        np.testing.assert_array_equal((codes == decision.EQUIVALENT)[candidates],
                                      inside[candidates])


def test_failure_upper_is_clopper_pearson_one_sided():
    assert decision.failure_upper(0, 14) == pytest.approx(0.1926, abs=1e-4)
    assert decision.failure_upper(0, 14) < 0.2 < decision.failure_upper(0, 13)
    for failures, runs in [(1, 5), (3, 5), (2, 20)]:
        upper = proportion_confint(failures, runs, alpha=0.1, method="beta")[1]
        assert decision.failure_upper(failures, runs) == pytest.approx(upper)
    assert decision.failure_upper(5, 5) == 1.0


def test_three_of_five_failed_is_never_equivalent_to_a_clean_best():
    rng = np.random.default_rng(4)
    for _ in range(50):
        best = rng.normal(0.9, 0.003, 5)
        failing = np.r_[[np.nan, 0.1, np.nan], best[:2] + rng.normal(0, 1e-4, 2)]
        codes = decision.verdict_codes(stats_of([best, failing]))
        assert codes[1] != decision.EQUIVALENT


def test_identical_zero_spread_points_are_never_worse_than_each_other():
    for runs in (2, 5, 20):
        codes = decision.verdict_codes(stats_of([np.full(runs, 0.9), np.full(runs, 0.9)]))
        assert decision.WORSE not in codes
        assert sorted(codes) == sorted([decision.BEST, decision.EQUIVALENT if runs >= 14
                                        else decision.UNDECIDED])


def test_zero_spread_point_below_another_is_worse():
    codes = decision.verdict_codes(stats_of([np.full(6, 0.9), np.full(6, 0.8)]))
    assert list(codes) == [decision.BEST, decision.WORSE]


def boundary_grid():
    """Ten points: a best, a point whose one-sided Welch p against it is about 0.01 (below
    alpha, above alpha / (2 (k - 1)) = 0.0028), and eight points far below."""
    base = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) * 0.01
    groups = [0.9 + base, 0.9 - 0.0115 + base] + [0.5 + base] * 8
    return groups


def test_a_comparison_significant_only_uncorrected_stays_undecided():
    groups = boundary_grid()
    learned = groups[1], groups[0]
    uncorrected = stats.ttest_ind(learned[1], learned[0], equal_var=False,
                                  alternative="greater").pvalue
    assert 0.0028 < uncorrected < 0.05
    codes = decision.verdict_codes(stats_of(groups))
    assert codes[0] == decision.BEST
    assert codes[1] == decision.UNDECIDED
    assert (codes[2:] == decision.WORSE).all()


def test_public_names_are_lazy():
    assert lenet_bench.decide is decision.decide
    assert lenet_bench.race_look is decision.race_look


def test_decide_frame_keeps_point_columns_and_names_one_best():
    rng = np.random.default_rng(5)
    rows = [{"init": init, "lr": lr, "seed": s, "test_accuracy": rng.normal(0.9 - 0.01 * lr, 0.003)}
            for init in ("a", "b") for lr in range(4) for s in range(6)]
    frame = decision.decide(pd.DataFrame(rows), point=["init", "lr"])
    assert list(frame.columns[:2]) == ["init", "lr"]
    assert {"verdict", "seeds", "learned_mean", "failure_rate", "failure_upper", "interval_low",
            "interval_high", "seeds_needed"} <= set(frame.columns)
    assert (frame.verdict == "best").sum() == 1
    assert len(frame) == 8 and (frame.seeds == 6).all()
    decided = frame.verdict.isin(["worse", "equivalent", "best"])
    assert frame.seeds_needed[decided].isna().all()
    assert frame.seeds_needed[~decided].notna().all()
    assert frame.attrs["procedure"] == decision.PROCEDURE
    assert frame.attrs["seeds_to_decide_most"] >= 6


def test_decide_counts_nan_and_chance_runs_as_failures():
    groups = [[0.9, 0.91, 0.89, 0.9], [0.9, np.nan, 0.105, 0.9]]
    frame = decision.decide(frame_of(groups), point="lr", seeds_needed=False)
    assert list(frame.failures) == [0, 2]
    assert frame.failure_rate[1] == 0.5
    assert frame.learned_mean[1] == pytest.approx(0.9)
    assert frame.seeds_needed.isna().all()


@pytest.mark.parametrize("change, message", [
    ({"point": "missing"}, "no column 'missing'"),
    ({"value": "loss"}, "no column 'loss'"),
    ({"margin": 0.005}, "margin=0.005: expected accuracy points"),
    ({"alpha": 0.7}, "alpha=0.7"),
])
def test_decide_refuses_bad_arguments(change, message):
    arguments = {"point": "lr", "seeds_needed": False, **change}
    with pytest.raises(InputError, match=message):
        decision.decide(frame_of([[0.9, 0.91], [0.8, 0.82]]), **arguments)


def test_decide_refuses_accuracies_outside_zero_one():
    with pytest.raises(InputError, match=r"runs\['test_accuracy'\]: 91.0 is not an accuracy"):
        decision.decide(frame_of([[91.0, 90.0], [0.8, 0.82]]), point="lr")


def test_race_look_replays_and_asks_for_the_next_round():
    rng = np.random.default_rng(6)
    means = [0.9, 0.9, 0.85, 0.6]
    groups = [rng.normal(m, 0.003, 3) for m in means]
    frame = decision.race_look(frame_of(groups), point="lr")
    assert {"verdict", "seeds", "seeds_wanted", "stopped", "why"} <= set(frame.columns)
    assert list(frame.verdict[2:]) == ["worse", "worse"]
    assert (frame.seeds_wanted[2:] == 3).all() and (frame.stopped[2:] == "decided").all()
    assert (frame.seeds_wanted[:2] == 5).all() and (frame.stopped[:2] == "open").all()
    assert frame.look.tolist()[2:] == [1, 1] and frame.look[:2].isna().all()  # 1-based
    assert frame.why.tolist() == ["open: 5 seeds wanted"] * 2 + ["worse at look 1"] * 2
    plan = frame.attrs["plan"]
    assert plan.looks == (3, 5, 7, 9, 11, 13, 15, 17, 19, 20)
    assert sum(plan.alphas) == pytest.approx(0.05)


def test_race_look_on_more_runs_agrees_with_the_array_core():
    rng = np.random.default_rng(7)
    values = rng.normal([[0.9], [0.899], [0.88], [0.7]], 0.004, (4, 20))
    shuffled = frame_of(values).sample(frac=1, random_state=0)
    frame = decision.race_look(shuffled, point="lr").sort_values("lr", ignore_index=True)
    race = decision.race_arrays(values[None], decision.race_plan(), 10, 0.005, 0.2)
    assert list(frame.verdict) == list(decision.NAMES[race["codes"][0]])
    assert list(frame.seeds) == list(race["seeds"][0])
    assert (frame.seeds_wanted == frame.seeds).all()
    assert set(frame.stopped) <= {"decided", "futility", "cap", "best"}


def test_race_plan_refuses_a_bad_plan():
    with pytest.raises(InputError, match="min_seeds=1"):
        decision.race_plan(1, 20, 2)



def test_decide_names_an_equivalent_point_and_reads_the_default_margin_as_half_a_point():
    """A noisy point a tenth of a point below a tight best, 5 seeds each, no failure limit
    to meet: its interval against the best, about [-0.85, 0.65] points, lies inside a
    1-point margin but not inside the default half point."""
    groups = [0.970 + np.array([0, 1, -1, 0.5, -0.5]) * 1e-4,
              0.969 + np.array([1, -1, 0.5, -0.5, 0]) * 1e-2]

    def verdicts(**margin):
        return decision.decide(frame_of(groups), point="lr", failure_limit=1.0,
                               seeds_needed=False, **margin).verdict.tolist()

    assert verdicts(margin=1.0) == ["best", "equivalent"]
    assert verdicts() == verdicts(margin=0.5) == ["best", "undecided"]


@pytest.mark.parametrize("gap, expected", [(1.6e-4, decision.WORSE),
                                           (1.3e-4, decision.UNDECIDED)])
def test_zero_spread_points_are_compared_with_a_spread_of_a_hundredth_of_a_point(gap, expected):
    """Two points whose 5 runs each are all equal: Welch's test with the variance floor
    1e-8 (an sd of 0.01 points) in each; the lower is worse when t = gap / sqrt(2e-8 / 5)
    clears Student's 0.975 quantile at 8 df (2.306): a gap of 1.6e-4 does (t = 2.53), 1.3e-4
    does not (t = 2.06)."""
    codes = decision.verdict_codes(stats_of([np.full(5, 0.9), np.full(5, 0.9 - gap)]))
    assert list(codes) == [decision.BEST, expected]


def test_intervals_are_scipys_one_sided_welch_bounds():
    """Two points with unequal spreads and counts (Welch's df matters): the interval of
    mu_0 - mu_1 is [lower bound at 1 - alpha, upper bound at 1 - alpha / (k - 1)], each
    one-sided, as scipy's Welch t-test gives them."""
    rng = np.random.default_rng(8)
    a, b = rng.normal(0.90, 0.004, 6), rng.normal(0.899, 0.012, 11)
    low, high = decision.intervals(stats_of([a, b]), 0.05)
    welch = lambda side: stats.ttest_ind(a, b, equal_var=False, alternative=side)  # noqa: E731
    assert low[0] == pytest.approx(welch("greater").confidence_interval(0.95).low, rel=1e-9)
    assert high[0] == pytest.approx(welch("less").confidence_interval(0.95).high, rel=1e-9)


def test_two_learned_runs_a_point_are_enough_to_compare():
    codes = decision.verdict_codes(stats_of([[0.9, 0.902], [0.5, 0.502]]))
    assert list(codes) == [decision.BEST, decision.WORSE]


def test_intervals_of_zero_spread_points_use_the_floor_and_the_pooled_df():
    """All 5 runs of each point equal: the interval of mu_1 - mu_0 is -gap -/+ t(0.95, 8 df)
    times the floor's standard error sqrt(1e-8 (1/5 + 1/5))."""
    gap = 3e-4
    low, high = decision.intervals(stats_of([np.full(5, 0.9), np.full(5, 0.9 - gap)]), 0.05)
    half = stats.t.ppf(0.95, 8) * np.sqrt(1e-8 * 0.4)
    assert (low[1], high[1]) == pytest.approx((-gap - half, -gap + half), rel=1e-9)


def test_a_point_with_one_learned_run_is_judged_on_its_failures_alone():
    """19 of 20 runs at chance against a clean best: no learned mean to compare (p_acc is
    1, not NaN), and Fisher's test alone calls it worse."""
    best = 0.9 + np.linspace(-0.002, 0.002, 20)
    failing = np.r_[np.full(19, 0.1), 0.95]
    codes = decision.verdict_codes(stats_of([best, failing]))
    assert list(codes) == [decision.BEST, decision.WORSE]


def test_fisher_greater_is_scipys_one_sided_fisher_below_one_half():
    """Every table of up to 8 runs a side: the shortcut may return 1 only where scipy's
    p is at least 1/2 (no threshold reaches there), and is scipy's p below it."""
    tables = np.array([(fa, na, fb, nb) for na in range(1, 9) for nb in range(1, 9)
                       for fa in range(na + 1) for fb in range(nb + 1)])
    p = decision.fisher_greater(*tables.T)
    expected = [stats.fisher_exact([[fa, na - fa], [fb, nb - fb]], alternative="greater").pvalue
                for fa, na, fb, nb in tables]
    np.testing.assert_allclose(np.minimum(p, 0.5), np.minimum(expected, 0.5), rtol=1e-9)


def test_p_beats_one_pair_with_a_failure_uses_fisher():
    """A single pair (no grid around it), one failed run of 2 against 200 clean runs:
    Welch has one learned run to use (p_acc = 1), Fisher gives 2/202, doubled; below
    alpha / 2, so the closed test calls the point worse."""
    clean = 0.9 + np.linspace(-0.001, 0.001, 200)
    assert decision.p_beats(stats_of([[np.nan, 0.9]]), stats_of([clean]))[0] == \
        pytest.approx(2 * 2 / 202, rel=1e-9)
    codes = decision.verdict_codes(stats_of([[np.nan, 0.9], clean]))
    assert list(codes) == [decision.WORSE, decision.BEST]


def test_p_beats_equal_zero_spread_points_is_one():
    """At the variance floor with m_j <= m_i the p-value is 1, not Student's 1/2."""
    st = stats_of([np.full(5, 0.9), np.full(5, 0.9), np.full(5, 0.89)])
    p = decision.p_beats(st.index((slice(None), None)), st.index((None, slice(None))))
    assert p[0, 1] == p[1, 0] == p[0, 2] == 1.0
    assert p[2, 0] < 1e-6


def test_pruning_keeps_the_exact_call_when_every_point_is_beaten():
    """A cycle: M has the highest mean but fails half its runs, j is clean just below it,
    i is clean and noisy below j. Nobody is a best, so the closed test may call all three
    worse; i's only evidence is Welch's p against j, about 0.021, between alpha / (2 (k -
    1)) and alpha / (k - 1), with no failure in the pair. Pruning p-values at half the
    most lenient threshold once dropped it and left i not worse."""
    pattern = np.linspace(-1, 1, 20) / np.linspace(-1, 1, 20).std(ddof=1)
    groups = [np.r_[0.8965 + 0.001 * pattern[::2], [np.nan] * 10], 0.895 + 0.001 * pattern,
              0.8755 + 0.04 * pattern]
    st = stats_of(groups)
    exact = decision.p_beats(st.index((slice(None), None)), st.index((None, slice(None))))
    exact[np.arange(3), np.arange(3)] = np.inf
    assert 0.0125 < exact[2, 1] < 0.025 and exact[2, 1] < exact[2, 0]
    expected = decision.closed_worse(exact.min(-1), 0.05)
    assert expected.all()
    np.testing.assert_array_equal(decision.worse_calls(st), expected)
    assert list(decision.verdict_codes(st)) == [decision.WORSE] * 3


def tie_with_half_width(half_width, runs=16):
    """Runs for two tied points (the same values) whose interval of the second against the
    first has this one-sided half-width at alpha = 0.05, k = 2."""
    pattern = np.linspace(-1, 1, runs) * 0.01
    half = decision.intervals(stats_of([0.9 + pattern, 0.9 + pattern]))[1][1]
    return 0.9 + pattern * half_width / half


def test_verdict_codes_default_margin_is_half_a_point():
    """Two points with the same 16 runs (a tie: the first is the best): the second is
    equivalent exactly when its interval's half-width is under the margin; at a
    half-width of 0.498 points it is equivalent at the default margin, and not at a
    margin of 0.495 points."""
    runs = tie_with_half_width(0.00498)
    st = stats_of([runs, runs])
    low, high = decision.intervals(st)
    assert (-low[1], high[1]) == pytest.approx((0.00498, 0.00498), rel=1e-6)
    assert list(decision.verdict_codes(st)) == [decision.BEST, decision.EQUIVALENT]
    assert decision.verdict_codes(st, margin=0.00495)[1] == decision.UNDECIDED
