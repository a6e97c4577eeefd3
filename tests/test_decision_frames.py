"""decide and race_look as DataFrame wrappers: every column of decide's frame against a
value computed here, the points kept in the order they first appear (NaN keys
included), and each refusal's whole message."""

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from lenet_bench.errors import InputError
from lenet_bench.records import decision
from test_decision import stats_of, tie_with_half_width
from test_decision_reference import reference_intervals, split_runs


def grid_runs():
    """Five points in the order d, b, NaN, a, c (not sorted), runs listed out of seed
    order; b fails one run of five (NaN), a one of six at chance, and d two of three
    (one learned run)."""
    rng = np.random.default_rng(3)
    values = {"c": 0.9 + 0.002 * rng.standard_normal(6),
              "a": np.r_[0.898 + 0.002 * rng.standard_normal(5), 0.1],
              np.nan: 0.86 + 0.002 * rng.standard_normal(4),
              "b": np.r_[np.nan, 0.897 + 0.004 * rng.standard_normal(4)],
              "d": np.array([0.1, 0.899, np.nan])}
    rows = [{"init": init, "decay": 0.9, "seed": seed, "acc": value}
            for init, group in values.items() for seed, value in enumerate(group)]
    return pd.DataFrame(rows).iloc[::-1].reset_index(drop=True), values


def test_decide_columns_are_the_points_own_figures():
    runs, values = grid_runs()
    frame = decision.decide(runs, point=["init", "decay"], value="acc", alpha=0.1,
                            margin=0.3, failure_limit=1.0)
    groups = [values[key if isinstance(key, str) else np.nan] for key in frame.init]
    assert [len(g) for g in groups] == frame.seeds.tolist()
    assert (frame.decay == 0.9).all()
    points = [split_runs(g[::-1], 10) for g in groups]
    for row, (failed, learned) in zip(frame.itertuples(), points):
        assert row.failures == failed.sum()
        assert row.failure_rate == failed.mean()
        assert row.learned_mean == pytest.approx(learned.mean(), rel=1e-12)
        if len(learned) >= 2:
            assert row.learned_sd == pytest.approx(learned.std(ddof=1), rel=1e-9)
        else:
            assert math.isnan(row.learned_sd)  # no spread from one learned run
        upper = proportion_confint(failed.sum(), len(failed), 0.2, method="beta")[1]
        assert row.failure_upper == pytest.approx(upper, rel=1e-9)
    np.testing.assert_allclose(frame[["interval_low", "interval_high"]],
                               100 * reference_intervals(points, 0.1), rtol=1e-9)
    st = stats_of([g[::-1] for g in groups])
    codes = decision.verdict_codes(st, 0.1, 0.003, 1.0)
    assert (codes == decision.UNDECIDED).sum() == 3  # d (one learned run), b and a
    assert frame.verdict.tolist() == list(decision.NAMES[codes])
    for i in range(len(frame)):
        if codes[i] == decision.UNDECIDED:
            expected = decision.seeds_needed_for(
                i, st, 0.1, 0.003, 1.0, pooled_sd=decision.pooled_sd(st),
                rng=np.random.default_rng(i))
            assert frame.seeds_needed[i] == expected
        else:
            assert math.isnan(frame.seeds_needed[i])
    most = decision.seeds_for_study(st, codes, 0.1, 0.003, 1.0)
    assert frame.attrs["seeds_to_decide_most"] == most
    assert frame.attrs["procedure"] == decision.PROCEDURE


def test_points_keep_the_order_they_first_appear_in_nan_keys_included():
    runs, _ = grid_runs()
    frame = decision.decide(runs, point="init", value="acc", seeds_needed=False)
    assert frame.init.tolist()[:2] == ["d", "b"] and frame.init.tolist()[3:] == ["a", "c"]
    assert math.isnan(frame.init[2])
    assert frame.seeds.tolist() == [3, 5, 4, 6, 6]


def test_race_look_reads_each_points_runs_in_seed_order():
    """The race takes a point's first runs by seed, whatever the row order: five runs
    per point, the race's first look uses seeds 0 to 2 only."""
    values = [[0.9, 0.9005, 0.8995, 0.2, 0.2], [0.5, 0.5005, 0.4995, 0.95, 0.95]]
    runs = pd.DataFrame([{"lr": p, "seed": s, "test_accuracy": v}
                         for p in range(2) for s, v in enumerate(values[p])])
    frame = decision.race_look(runs.iloc[::-1], point="lr", min_seeds=3, max_seeds=5, step=2)
    assert frame.lr.tolist() == [1, 0]  # as they first appear once sorted by seed
    assert frame.verdict.tolist() == ["worse", "best"]
    assert frame.seeds.tolist() == [3, 3] and frame.stopped.tolist() == ["decided", "best"]


@pytest.mark.parametrize("runs, change, message", [
    ([1, 2], {}, "runs: expected a non-empty pandas DataFrame, got list"),
    (pd.DataFrame(), {}, "runs: expected a non-empty pandas DataFrame, got DataFrame"),
    (None, {"point": ["lr", "init"]}, "runs: no column 'init' (columns: lr, seed, test_accuracy)"),
    (None, {"margin": 0.049}, "margin=0.049: expected accuracy points (0.5 for half a point), "
                              "at least 0.05; a fraction such as 0.005 is too small"),
    (None, {"margin": math.nan}, "margin=nan: expected accuracy points (0.5 for half a point), "
                                 "at least 0.05; a fraction such as 0.005 is too small"),
    (None, {"alpha": 0.0}, "alpha=0.0: expected 0 < alpha < 0.5"),
    (None, {"alpha": 0.5}, "alpha=0.5: expected 0 < alpha < 0.5"),
    (None, {"failure_limit": 0.0}, "failure_limit=0.0: expected a rate in (0, 1]"),
    (None, {"failure_limit": 1.01}, "failure_limit=1.01: expected a rate in (0, 1]"),
    (None, {"num_classes": 1}, "num_classes=1: expected an integer >= 2"),
    (None, {"num_classes": 10.0}, "num_classes=10.0: expected an integer >= 2"),
])
def test_refusals_name_the_argument_and_what_was_expected(runs, change, message):
    if runs is None:
        runs = pd.DataFrame({"lr": [0, 0, 1, 1], "seed": [0, 1, 0, 1],
                             "test_accuracy": [0.9, 0.91, 0.8, 0.81]})
    for call in (decision.decide, decision.race_look):
        with pytest.raises(InputError) as error:
            call(runs, **{"point": "lr", **change})
        assert str(error.value) == message


def test_the_limits_of_each_argument_are_accepted():
    runs = pd.DataFrame({"lr": [0, 0, 1, 1], "seed": [0, 1, 0, 1],
                         "test_accuracy": [0.0, 1.0, np.nan, 0.81]})
    frame = decision.decide(runs, point="lr", margin=0.05, alpha=0.49, failure_limit=1.0,
                            num_classes=2, seeds_needed=False)
    assert len(frame) == 2
    with pytest.raises(InputError,
                       match=r"^runs: no column 'seed' \(columns: lr, test_accuracy\)$"):
        decision.race_look(runs.drop(columns="seed"), point="lr")
    with pytest.raises(InputError, match=r"^runs\['test_accuracy'\]: -0.1 is not an accuracy "
                                         r"fraction in \[0, 1\] \(NaN marks a failed run\)$"):
        decision.decide(runs.assign(test_accuracy=[0.5, -0.1, 0.5, 0.5]), point="lr")


def test_decide_reads_ten_classes_and_margins_in_points_by_default():
    """0.075 is 0.025 from the chance of 10 classes (learned) and 0.016 from that of 11
    (failed); a tie scaled to an interval half-width of 0.498 points is equivalent at a
    margin of 0.5 points and not at 0.495."""
    frame = decision.decide(pd.DataFrame({"lr": [0, 0, 0], "test_accuracy": [0.075, 0.07, 0.06]}),
                            point="lr", seeds_needed=False)
    assert frame.failures.tolist() == [0]
    scaled = tie_with_half_width(0.00498)
    tie = pd.DataFrame({"lr": np.repeat([0, 1], 16), "test_accuracy": np.r_[scaled, scaled]})
    verdict = {margin: decision.decide(tie, point="lr", margin=margin, seeds_needed=False).verdict
               for margin in (0.5, 0.495)}
    assert verdict[0.5].tolist() == ["best", "equivalent"]
    assert verdict[0.495].tolist() == ["best", "undecided"]


def test_accuracies_above_one_are_refused():
    runs = pd.DataFrame({"lr": [0, 0, 1, 1], "test_accuracy": [0.9, 1.5, 0.8, 0.81]})
    with pytest.raises(InputError, match=r"^runs\['test_accuracy'\]: 1.5 is not an accuracy"):
        decision.decide(runs, point="lr")


def test_race_look_reads_the_margin_in_points():
    """The tie of the test above raced in one look of 16 seeds: equivalent at a margin of
    0.5 points, undecided (capped) at 0.495."""
    scaled = tie_with_half_width(0.00498)
    tie = pd.DataFrame({"lr": np.repeat([0, 1], 16), "seed": np.tile(np.arange(16), 2),
                        "test_accuracy": np.r_[scaled, scaled]})
    for margin, verdict, stopped in [(0.5, "equivalent", "decided"), (0.495, "undecided", "cap")]:
        frame = decision.race_look(tie, point="lr", margin=margin, min_seeds=16, max_seeds=16)
        assert frame.verdict.tolist() == ["best", verdict]
        assert frame.stopped.tolist()[1] == stopped


def test_decide_simulates_with_the_margin_as_a_fraction(monkeypatch):
    """seeds_needed and seeds_to_decide_most simulate the procedure at the margin in
    accuracy fractions (0.3 points: 0.003), the failure limit and alpha given."""
    seen = []

    def point_rate(i, totals, truth, st, sims, rng, args, base):
        seen.append(("point", args))
        return np.ones(len(totals))

    def study_rate(seeds, st, open_, counted, sd, rate, sims, rng, args):
        seen.append(("study", args))
        return 1.0

    monkeypatch.setattr(decision, "_decision_rate", point_rate)
    monkeypatch.setattr(decision, "_study_rate", study_rate)
    runs, _ = grid_runs()
    decision.decide(runs, point="init", value="acc", alpha=0.1, margin=0.3, failure_limit=1.0)
    assert {kind for kind, _ in seen} == {"point", "study"}
    assert all(args == (0.1, 0.003, 1.0) for _, args in seen)


def test_race_look_reads_ten_classes_by_default():
    """Three runs at 0.075: learned runs far below the other point with 10 classes (worse
    at the first look), failures with 11 (Fisher's p of 3 of 3 against 0 of 3, 0.05
    doubled, decides nothing there)."""
    runs = pd.DataFrame({"lr": [0, 0, 0, 1, 1, 1], "seed": [0, 1, 2] * 2,
                         "test_accuracy": [0.075, 0.075, 0.075, 0.9, 0.91, 0.92]})
    assert decision.race_look(runs, point="lr").verdict.tolist() == ["worse", "best"]
    eleven = decision.race_look(runs, point="lr", num_classes=11)
    assert eleven.verdict.tolist()[0] == "undecided"
