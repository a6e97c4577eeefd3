"""The decision procedure's error rates, checked by simulating it: >= 2000 simulated
studies per case, each error rate at most alpha + 2 standard errors; each case prints
its power (run with -s to see it). The committed table with more cases:
benchmarks/statistics/decision_simulation.txt."""

import math

import numpy as np
import pandas as pd
import pytest

from lenet_bench.records import decision

ALPHA = 0.05
STUDIES = 2000
LIMIT = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / STUDIES)


@pytest.mark.parametrize("sd", [0.5, 2.5])
@pytest.mark.parametrize("seeds", [5, 10, 20])
@pytest.mark.parametrize("points", [8, 36, 120])
def test_no_false_worse_over_a_grid_of_equal_points(points, seeds, sd):
    """`points` equal points (all true bests) and one point 2 points below: any equal
    point called worse is a family-wise error; the low point called worse is power."""
    rng = np.random.default_rng(points * 100 + seeds + int(10 * sd))
    mean = np.r_[np.full(points, 0.9), 0.88]
    st = decision.simulate_stats(mean, sd / 100, 0.0, np.full((STUDIES, points + 1), seeds), rng)
    worse = decision.worse_calls(st, ALPHA)
    error, power = worse[:, :points].any(-1).mean(), worse[:, points].mean()
    print(f"\n{points} equal points, {seeds} seeds, sd {sd}: false worse {error:.4f}, "
          f"power (2 points below) {power:.3f}")
    assert error <= LIMIT


def test_no_false_worse_when_every_point_fails_a_fifth_of_its_runs():
    rng = np.random.default_rng(11)
    values = decision.simulate_runs(np.full(36, 0.9), np.full(36, 0.01), np.full(36, 0.2),
                                    (STUDIES, 36, 10), rng)
    worse = decision.worse_calls(decision.summarize(values, 10), ALPHA)
    print(f"\n36 equal points failing 20%, 10 seeds: false worse {worse.any(-1).mean():.4f}")
    assert worse.any(-1).mean() <= LIMIT


@pytest.mark.parametrize("seeds", [20, 40])
def test_no_false_equivalent_a_margin_below_the_best(seeds):
    """Two points 0.5 points apart (sd 0.5): calling either equivalent is an error (the
    difference is exactly the margin); power: the same with equal points."""
    rng = np.random.default_rng(seeds)
    codes = {}
    for name, gap in (("boundary", 0.005), ("equal", 0.0)):
        st = decision.simulate_stats(np.array([0.9, 0.9 - gap]), 0.005, 0.0,
                                     np.full((STUDIES, 2), seeds), rng)
        codes[name] = decision.verdict_codes(st, ALPHA, 0.005, 0.2)
    error = (codes["boundary"] == decision.EQUIVALENT).mean(0)
    power = (codes["equal"] == decision.EQUIVALENT).any(-1).mean()
    print(f"\nmargin below, {seeds} seeds: false equivalent {error.round(4)}, power {power:.3f}")
    assert (error <= LIMIT).all()


def test_no_false_equivalent_for_a_best_a_margin_above_many_tied_points():
    """The upper side of the interval: a true best exactly the margin above 35 tied
    points (sd 1 point, 40 seeds) must not be called equivalent when one of them is
    picked as the best (12% with the upper bounds at alpha instead of alpha / (k - 1))."""
    rng = np.random.default_rng(12)
    st = decision.simulate_stats(np.r_[0.905, np.full(35, 0.9)], 0.01, 0.0,
                                 np.full((STUDIES, 36), 40), rng)
    codes = decision.verdict_codes(st, ALPHA, 0.005, 0.2)
    error = (codes[:, 0] == decision.EQUIVALENT).mean()
    print(f"\nbest a margin above 35 tied points: false equivalent {error:.4f}")
    assert error <= LIMIT


@pytest.mark.parametrize("rate", [0.3, 0.2])
def test_no_false_equivalent_for_a_point_that_fails_too_often(rate):
    """A point with the best's learned mean failing 30% (or exactly the 20% limit)."""
    rng = np.random.default_rng(int(rate * 100))
    seeds = 40
    st = decision.simulate_stats(np.array([0.9, 0.9]), 0.005, np.array([0.0, rate]),
                                 np.full((STUDIES, 2), seeds), rng)
    error = (decision.verdict_codes(st, ALPHA, 0.005, 0.2)[:, 1] == decision.EQUIVALENT).mean()
    clean = decision.simulate_stats(np.array([0.9, 0.9]), 0.005, 0.0,
                                    np.full((STUDIES, 2), seeds), rng)
    power = (decision.verdict_codes(clean, ALPHA, 0.005, 0.2) == decision.EQUIVALENT).any(-1).mean()
    print(f"\nfails {rate:.0%}, {seeds} seeds: false equivalent {error:.4f}; "
          f"power without failures {power:.3f}")
    assert error <= LIMIT


def test_race_no_false_worse_over_its_looks():
    rng = np.random.default_rng(21)
    mean = np.r_[np.full(36, 0.9), 0.88]
    values = decision.simulate_runs(mean, np.full(37, 0.01), np.zeros(37), (STUDIES, 37, 20), rng)
    race = decision.race_arrays(values, decision.race_plan(), 10, 0.005, 0.2)
    error = (race["codes"][:, :36] == decision.WORSE).any(-1).mean()
    power = (race["codes"][:, 36] == decision.WORSE).mean()
    print(f"\nrace, 36 equal points and one 2 points below (sd 1): false worse {error:.4f}, "
          f"power {power:.3f}, runs {race['seeds'].sum(-1).mean() / (37 * 20):.2f} of the fixed")
    assert error <= LIMIT


def test_race_no_false_equivalent_over_its_looks():
    rng = np.random.default_rng(22)
    codes = {}
    for name, gap in (("boundary", 0.005), ("equal", 0.0)):
        values = decision.simulate_runs(np.array([0.9, 0.9 - gap]), np.full(2, 0.003),
                                        np.zeros(2), (STUDIES, 2, 20), rng)
        codes[name] = decision.race_arrays(values, decision.race_plan(), 10, 0.005, 0.2)["codes"]
    error = (codes["boundary"] == decision.EQUIVALENT).mean(0)
    power = (codes["equal"] == decision.EQUIVALENT).any(-1).mean()
    print(f"\nrace, margin below (sd 0.3): false equivalent {error.round(4)}, power {power:.3f}")
    assert (error <= LIMIT).all()


@pytest.mark.parametrize("gap, sd, seed, best_runs, point_runs",
                         [(0.008, 0.006, 4, 12, 3), (0.0, 0.0015, 6, 12, 5)])
def test_seeds_needed_decides_four_in_five(gap, sd, seed, best_runs, point_runs):
    """decide's seeds_needed for the undecided point, checked by simulating the whole
    procedure (raw runs, the full core) at that seed count with the point's observed
    learned mean and sd as the truth and the other points at their data. The first
    case is decided by "worse", the second by "equivalent"."""
    rng = np.random.default_rng(seed)
    groups = [0.9 + sd * rng.standard_normal(best_runs),
              0.9 - gap + sd * rng.standard_normal(point_runs),
              0.88 + sd * rng.standard_normal(best_runs),
              0.87 + sd * rng.standard_normal(best_runs)]
    runs = pd.DataFrame([{"lr": i, "test_accuracy": v} for i, g in enumerate(groups) for v in g])
    frame = decision.decide(runs, point="lr")
    (point,) = np.flatnonzero(frame.verdict == "undecided")
    needed = int(frame.seeds_needed[point])
    truth = [np.array([frame[name][point]]) for name in ("learned_mean", "learned_sd",
                                                          "failure_rate")]
    values = np.full((STUDIES, 4, max(needed, best_runs)), np.nan)
    seeds = np.array([len(g) for g in groups])
    for i, g in enumerate(groups):
        values[:, i, :len(g)] = g
    values[:, point, :needed] = decision.simulate_runs(*truth, (STUDIES, 1, needed), rng)[:, 0]
    seeds[point] = needed
    st = decision.summarize(values, 10, np.broadcast_to(seeds, (STUDIES, 4)))
    codes = decision.verdict_codes(st, ALPHA, 0.005, 0.2)[:, point]
    rate = np.isin(codes, (decision.WORSE, decision.EQUIVALENT)).mean()
    print(f"\ngap {gap}, sd {sd}: seeds_needed {needed}, decided there in {rate:.3f}")
    assert 0.7 <= rate <= 0.9


def test_study_seeds_decide_four_in_five_of_the_undecided():
    """decide's study-level figure: at that many seeds for every undecided point (and the
    best), 80% +/- 10% of today's undecided points are decided, simulated on raw runs."""
    rng = np.random.default_rng(41)
    means = 0.9 - 0.002 * np.arange(12)
    groups = [m + 0.004 * rng.standard_normal(5) for m in means]
    runs = pd.DataFrame([{"lr": i, "test_accuracy": v} for i, g in enumerate(groups) for v in g])
    frame = decision.decide(runs, point="lr")
    seeds = int(frame.attrs["seeds_to_decide_most"])
    undecided = (frame.verdict == "undecided").to_numpy()
    grows = undecided | (frame.verdict == "best").to_numpy()
    truth = [frame[name].to_numpy() for name in ("learned_mean", "learned_sd", "failure_rate")]
    values = decision.simulate_runs(*truth, (STUDIES, 12, seeds), rng)
    for i, g in enumerate(groups):
        if not grows[i]:
            values[:, i, :] = np.nan
            values[:, i, :len(g)] = g
    counts = np.where(grows, seeds, 5)
    st = decision.summarize(values, 10, np.broadcast_to(counts, (STUDIES, 12)))
    codes = decision.verdict_codes(st, ALPHA, 0.005, 0.2)
    share = np.isin(codes[:, undecided], (decision.WORSE, decision.EQUIVALENT)).mean()
    print(f"\n12 points, {undecided.sum()} undecided: {seeds} seeds each decide {share:.3f}")
    assert 0.7 <= share <= 0.9
