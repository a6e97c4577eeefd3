"""The seeds-needed searches of lenet_bench.records.decision, with their decision rates
replaced by known step functions (so the answer is known exactly), what they pass as
the truth, and the simulators behind the real rates, checked by their moments."""

import math

import numpy as np
import pytest

from lenet_bench.records import decision
from lenet_bench.records.decision import Stats


def four_points():
    """A best, a point with 6 learned runs and 2 failures, one with 1 learned run, one with
    none (all its 3 runs failed)."""
    return Stats(runs=np.array([10, 8, 4, 3]), failures=np.array([0, 2, 3, 3]),
                 learned=np.array([10, 6, 1, 0]), mean=np.array([0.9, 0.88, 0.7, np.nan]),
                 var=np.array([1e-4, 4e-4, np.nan, np.nan]))


def step_rate(decides_at, calls=None):
    """A decision rate of exactly POWER from `decides_at` total seeds on, just below it
    before: the search must land on `decides_at`."""
    def rate(i, totals, truth, st, sims, rng, args, base):
        assert isinstance(rng, np.random.Generator)
        if calls is not None:
            calls.append((i, truth, sims, args, rng))
        return np.where(np.asarray(totals) >= decides_at, decision.POWER, decision.POWER - 0.01)
    return rate


@pytest.mark.parametrize("decides_at, needed", [
    (9, 9), (10, 10), (11, 11), (12, 12), (13, 13), (17, 17), (40, 40), (63, 63), (64, 64),
    (65, 65), (199, 199), (200, 200),
    (5, 9), (8, 9),  # decided below its 8 runs in simulation: the answer is still above them
])
def test_seeds_needed_finds_the_smallest_total_that_decides(monkeypatch, decides_at, needed):
    monkeypatch.setattr(decision, "_decision_rate", step_rate(decides_at))
    assert decision.seeds_needed_for(1, four_points(), 0.05, 0.005, 0.2, pooled_sd=0.01) == needed


@pytest.mark.parametrize("cap, decides_at, expected", [(200, 201, math.inf), (50, 51, math.inf),
                                                       (50, 50, 50), (9, 9, 9), (8, 9, math.inf)])
def test_seeds_needed_stops_at_the_cap(monkeypatch, cap, decides_at, expected):
    monkeypatch.setattr(decision, "_decision_rate", step_rate(decides_at))
    assert decision.seeds_needed_for(1, four_points(), 0.05, 0.005, 0.2, pooled_sd=0.01,
                                     cap=cap) == expected


@pytest.mark.parametrize("point, truth", [(1, (0.88, 0.02, 0.25)), (2, (0.7, 0.03, 0.75)),
                                          (3, (0.0, 0.03, 1.0)), (4, (0.85, 0.02, 0.0)),
                                          (5, (0.0, 0.03, 0.0))])
def test_seeds_needed_takes_the_points_observed_mean_sd_and_failure_rate_as_truth(
        monkeypatch, point, truth):
    """Its own sd with >= 2 learned runs, the grid's pooled sd otherwise; mean 0 without a
    learned run, failure rate 0 without a run; the simulation count, the procedure's
    settings and the caller's generator passed on."""
    calls = []
    monkeypatch.setattr(decision, "_decision_rate", step_rate(20, calls))
    four = four_points()
    six = Stats(*(np.r_[field, extra] for field, extra in
                  zip(four, ([2, 0], [0, 0], [2, 0], [0.85, np.nan], [4e-4, np.nan]))))
    rng = np.random.default_rng(5)
    decision.seeds_needed_for(point, six, 0.1, 0.004, 0.3, pooled_sd=0.03, sims=17, rng=rng)
    assert calls
    for i, seen, sims, args, seen_rng in calls:
        assert (i, sims, args) == (point, 17, (0.1, 0.004, 0.3))
        assert seen_rng is rng
        assert seen == pytest.approx(truth, rel=1e-12)


@pytest.mark.parametrize("decides_at", [11, 12, 57, 200])
def test_seeds_for_study_finds_the_smallest_count_that_decides_most(monkeypatch, decides_at):
    """Bisection between the open points' largest run count and the cap (every point
    open here has 10 runs, so 11 is the first count it can return). The truth it passes
    on: each point's own sd with >= 2 learned runs (2 is enough), the pooled sd
    otherwise; failures per run (0 without a run)."""
    seen = []

    def rate(seeds, st, open_, counted, sd, rate, sims, rng, args):
        seen.append((open_.copy(), counted.copy(), sd.copy(), rate.copy(), sims, args))
        return decision.POWER if seeds >= decides_at else decision.POWER - 0.01

    monkeypatch.setattr(decision, "_study_rate", rate)
    four = four_points()
    st = Stats(*(np.r_[field, extra] for field, extra in
                 zip(four, ([2, 1, 0], [0, 1, 0], [2, 0, 0], [0.85, np.nan, np.nan],
                            [9e-4, np.nan, np.nan]))))
    st = st._replace(runs=np.array([10, 10, 10, 3, 2, 1, 0]))
    codes = np.array([decision.BEST, decision.UNDECIDED, decision.UNDECIDED, decision.WORSE,
                      decision.WORSE, decision.WORSE, decision.WORSE])
    assert decision.seeds_for_study(st, codes, 0.1, 0.004, 0.3, sims=9) == decides_at
    open_, counted, sd, rate_, sims, args = seen[0]
    assert open_.tolist() == [True, True, True, False, False, False, False]
    assert counted.tolist() == [False, True, True, False, False, False, False]
    pooled = math.sqrt((9 * 1e-4 + 5 * 4e-4 + 1 * 9e-4) / 15)
    np.testing.assert_allclose(sd, [0.01, 0.02, pooled, pooled, 0.03, pooled, pooled])
    np.testing.assert_allclose(rate_, [0, 0.2, 0.3, 1.0, 0.0, 1.0, 0.0])
    assert (sims, args) == (9, (0.1, 0.004, 0.3))


def test_seeds_for_study_is_inf_beyond_the_cap_and_nan_with_nothing_undecided(monkeypatch):
    monkeypatch.setattr(decision, "_study_rate", lambda seeds, *rest: decision.POWER - 0.01)
    codes = np.array([decision.BEST, decision.UNDECIDED, decision.WORSE, decision.WORSE])
    assert decision.seeds_for_study(four_points(), codes, 0.05, 0.005, 0.2) == math.inf
    codes[1] = decision.EQUIVALENT
    assert math.isnan(decision.seeds_for_study(four_points(), codes, 0.05, 0.005, 0.2))


def test_pooled_sd_weighs_points_by_their_degrees_of_freedom():
    assert decision.pooled_sd(four_points()) == pytest.approx(math.sqrt((9e-4 + 2e-3) / 14))
    two = four_points()._replace(learned=np.array([10, 6, 2, 0]),
                                 var=np.array([1e-4, 4e-4, 9e-4, 0]))
    assert decision.pooled_sd(two) == pytest.approx(math.sqrt((9e-4 + 2e-3 + 9e-4) / 15))
    none = four_points()._replace(learned=np.array([1, 1, 0, 0]))
    assert decision.pooled_sd(none) == 0.01


def test_simulated_stats_have_the_moments_of_their_truth():
    """Failures Binomial(seeds, rate); per learned count l, the learned mean has mean
    `mean` and variance sd^2 / l, and the variance has mean sd^2 and variance
    2 sd^4 / (l - 1) (a scaled chi-square); no mean without a learned run, no variance
    below two."""
    rng = np.random.default_rng(0)
    seeds = np.full(400_000, 6)
    st = decision.simulate_stats(0.9, 0.01, 0.3, seeds, rng)
    assert (st.runs == 6).all() and (st.learned == st.runs - st.failures).all()
    assert st.failures.mean() == pytest.approx(6 * 0.3, abs=4 * math.sqrt(6 * 0.21 / 4e5))
    assert np.isnan(st.mean[st.learned == 0]).all()
    assert np.isnan(st.var[st.learned < 2]).all()
    for learned in range(1, 7):
        rows = st.learned == learned
        n = rows.sum()
        means = st.mean[rows]
        assert means.mean() == pytest.approx(0.9, abs=5 * 0.01 / math.sqrt(learned * n))
        assert means.var() == pytest.approx(1e-4 / learned, rel=5 * math.sqrt(2 / n))
        if learned >= 2:
            var = st.var[rows]
            assert var.mean() == pytest.approx(1e-4, rel=5 * math.sqrt(2 / (learned - 1) / n))
            assert var.var() == pytest.approx(2e-8 / (learned - 1), rel=0.1)


def test_simulated_runs_fail_at_chance_and_learn_around_their_mean():
    rng = np.random.default_rng(1)
    values = decision.simulate_runs([0.9, np.nan], [0.02, np.nan], [0.25, 0.0], (20_000, 2, 5),
                                    rng)
    assert values.shape == (20_000, 2, 5)
    first = values[:, 0]
    failed = first == 0.1  # the default of 10 classes
    assert failed.mean() == pytest.approx(0.25, abs=0.01)
    assert first[~failed].mean() == pytest.approx(0.9, abs=1e-3)
    assert first[~failed].std() == pytest.approx(0.02, rel=0.02)
    assert (values[:, 1] == 0).all()  # an unknown mean and sd simulate as 0
    at_chance = decision.simulate_runs([0.9], [0.0], [1.0], (3, 1, 2), rng, num_classes=4)
    assert (at_chance == 0.25).all()
