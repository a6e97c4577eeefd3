"""The race of lenet_bench.records.decision against a plain reference: one study at a time,
one point at a time, the rule of RacePlan, race_arrays and _futile's docstrings written
out with scipy (the verdicts themselves come from verdict_codes, which
tests/test_decision_reference.py checks against its own reference). The vectorized race
must agree on every output, for studies drawn to stop every way (decided, futility, cap,
best, and runs that run out), and race_look must be its DataFrame view."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lenet_bench.errors import InputError
from lenet_bench.records import decision
from test_decision_reference import failure_upper

OPEN, DECIDED, FUTILE, CAPPED, LEADING = range(5)


def hopeless(st, i, best, seeds, alpha, margin, failure_limit, open_):
    """_futile's docstring for point i against the best, each open point at `seeds` runs:
    equivalent out of reach (half-width from sds at their 10% lower confidence bound,
    normal quantile at 1 - alpha, or no failure bound under the limit) and worse out of
    reach (the gap plus half a standard error, at `seeds` runs, under the normal quantile
    at 1 - alpha / (2 (k - 1))); never a point with a failure or < 2 learned runs."""
    k = len(st.runs)
    if best < 0 or not open_[i] or st.failures[i] > 0 or st.learned[i] < 2 or st.learned[best] < 2:
        return False
    final = [seeds if open_[p] else st.runs[p] for p in range(k)]

    def low_var(p):
        return st.var[p] * stats.chi2.ppf(0.1, st.learned[p] - 1) / (st.learned[p] - 1)

    se_low = math.sqrt(low_var(i) / final[i] + low_var(best) / final[best])
    equivalent = stats.norm.ppf(1 - alpha) * se_low < margin and \
        failure_upper(st.failures[i], final[i], alpha) < failure_limit
    se_now = math.sqrt(st.var[i] / st.learned[i] + st.var[best] / st.learned[best])
    se_then = math.sqrt(st.var[i] / final[i] + st.var[best] / final[best])
    gap = st.mean[best] - st.mean[i] + 0.5 * se_now
    with np.errstate(divide="ignore", invalid="ignore"):
        worse = np.float64(gap) / se_then > stats.norm.ppf(1 - alpha / (2 * (k - 1)))
    return not equivalent and not worse


def reference_race(values, plan, num_classes, margin, failure_limit, available):
    """One study (points, seeds): each look gives every point still running the look's
    seeds; a point stops for good when decided (worse or equivalent, at that look's
    alpha), or stops getting seeds when futile (checked at every look but the last,
    against the plan's last look) and is still judged at each later look on the runs it
    has (it may be decided or lead later);
    the study ends when no running point is undecided or at the last look (the best then
    stops as "best", the rest as "cap"), or waits when a running point lacks the runs."""
    k = values.shape[0]
    seeds = [min(available[p], plan.looks[0]) for p in range(k)]
    codes, look_at, why = [0] * k, [-1] * k, [OPEN] * k
    stopped = [False] * k
    for look, (target, alpha) in enumerate(zip(plan.looks, plan.alphas)):
        proposal = [seeds[p] if stopped[p] else target for p in range(k)]
        if any(not stopped[p] and available[p] < proposal[p] for p in range(k)):
            return codes, seeds, proposal, look_at, why, False
        seeds = proposal
        st = decision.summarize(values, num_classes, seeds)
        now = decision.verdict_codes(st, alpha, margin, failure_limit)
        for p in range(k):
            if why[p] != DECIDED:
                codes[p] = int(now[p])
                if now[p] in (decision.WORSE, decision.EQUIVALENT):
                    stopped[p], look_at[p], why[p] = True, look, DECIDED
        last = look + 1 == len(plan.looks)
        if not last:
            best = int(np.argmax(now == decision.BEST)) if (now == decision.BEST).any() else -1
            for p in range(k):
                if not stopped[p] and now[p] == decision.UNDECIDED and hopeless(
                        st, p, best, plan.looks[-1], plan.alphas[-1], margin, failure_limit,
                        [not stop for stop in stopped]):
                    stopped[p], look_at[p], why[p] = True, look, FUTILE
        if last or not any(not stopped[p] and now[p] == decision.UNDECIDED for p in range(k)):
            for p in range(k):
                if not stopped[p]:
                    why[p] = LEADING if codes[p] == decision.BEST else CAPPED
                    look_at[p], stopped[p] = look, True
            return codes, seeds, seeds, look_at, why, True
    raise AssertionError("the last look always ends the study")


def race_study(rng, width):
    """3 to 5 points, close enough that the race needs several looks to decide them,
    some points failing, some runs not yet there."""
    k = int(rng.integers(3, 6))
    sd = float(rng.choice([0.002, 0.005, 0.01]))
    means = 0.9 - sd * rng.choice([0.0, 0.3, 1.0, 2.0, 4.0], k)
    values = means[:, None] + sd * rng.standard_normal((k, width))
    failing = rng.random(k) < 0.3
    values[failing] = np.where(rng.random((failing.sum(), width)) < 0.2, np.nan,
                               values[failing])
    available = np.where(rng.random(k) < 0.2, rng.integers(2, width + 1, k), width)
    return values, available


PLANS = [decision.race_plan(), decision.race_plan(3, 12, 3, 0.1), decision.race_plan(2, 9, 1)]


@pytest.mark.parametrize("plan", PLANS, ids=["default", "3-12-3", "2-9-1"])
def test_race_arrays_is_the_reference_race_study_by_study(plan):
    rng = np.random.default_rng(len(plan.looks))
    width = plan.looks[-1]
    studies = [race_study(rng, width) for _ in range(60)]
    seen = set()
    for k in (3, 4, 5):
        batch = [(v, a) for v, a in studies if len(v) == k]
        values, available = np.stack([v for v, _ in batch]), np.stack([a for _, a in batch])
        race = decision.race_arrays(values, plan, 10, 0.005, 0.2, available)
        for s, (v, a) in enumerate(batch):
            codes, seeds, wanted, look, why, finished = reference_race(v, plan, 10, 0.005, 0.2, a)
            got = {name: race[name][s].tolist() for name in ("codes", "seeds", "wanted", "look",
                                                              "why")}
            assert got == dict(codes=codes, seeds=seeds, wanted=wanted, look=look, why=why), (v, a)
            assert race["finished"][s] == finished
            seen.update(why)
    assert seen == {OPEN, DECIDED, FUTILE, CAPPED, LEADING}
    # race_look's "stopped" column, in the words its docstring and the reports use
    assert list(decision.STOPS[sorted(seen)]) == ["open", "decided", "futility", "cap", "best"]


def test_race_without_futility_only_stops_decided_points_before_the_last_look():
    rng = np.random.default_rng(9)
    values = np.stack([race_study(rng, 20)[0][:3] for _ in range(40)])
    plan = decision.race_plan()
    race = decision.race_arrays(values, plan, 10, 0.005, 0.2, futility=False)
    assert not (race["why"] == FUTILE).any()
    with_futility = decision.race_arrays(values, plan, 10, 0.005, 0.2)
    assert (with_futility["why"] == FUTILE).any()


def test_race_look_is_race_arrays_with_one_based_looks_and_reasons():
    """race_look on a frame with a missing run: the frame's columns are race_arrays' on
    the same values, looks counted from 1, NaN while open, and each reason spelled."""
    rng = np.random.default_rng(11)
    values, _ = race_study(rng, 20)
    values = values[:4] if len(values) > 3 else values
    runs = pd.DataFrame([{"init": "he", "lr": p, "seed": s, "acc": v}
                         for p in range(len(values)) for s, v in enumerate(values[p])
                         if not (p == 1 and s >= 7)])
    frame = decision.race_look(runs.sample(frac=1, random_state=1), point=["init", "lr"],
                               value="acc", seed="seed", max_seeds=20)
    available = np.full(len(values), 20)
    available[1] = 7
    race = decision.race_arrays(values[None], decision.race_plan(), 10, 0.005, 0.2,
                                available[None])
    order = frame.sort_values("lr").reset_index(drop=True)
    assert order.verdict.tolist() == list(decision.NAMES[race["codes"][0]])
    assert order.seeds.tolist() == race["seeds"][0].tolist()
    assert order.seeds_wanted.tolist() == race["wanted"][0].tolist()
    assert order.stopped.tolist() == list(decision.STOPS[race["why"][0]])
    looks = race["look"][0]
    np.testing.assert_array_equal(order.look, np.where(looks >= 0, looks + 1, np.nan))
    expected = [decision.stop_reason(*row) for row in zip(race["why"][0], looks,
                                                           order.verdict, race["wanted"][0])]
    assert order.why.tolist() == expected
    assert frame.attrs["procedure"] == decision.PROCEDURE


@pytest.mark.parametrize("why, look, verdict, wanted, reason", [
    (DECIDED, 2, "worse", 7, "worse at look 3"),
    (DECIDED, 0, "equivalent", 3, "equivalent at look 1"),
    (FUTILE, 4, "undecided", 11, "futility at look 5"),
    (CAPPED, 9, "undecided", 20, "cap: undecided at the last look"),
    (LEADING, 9, "best", 20, "best at the last look"),
    (OPEN, -1, "undecided", 9, "open: 9 seeds wanted"),
])
def test_stop_reasons_are_spelled_for_the_report(why, look, verdict, wanted, reason):
    assert decision.stop_reason(why, look, verdict, wanted) == reason


def test_race_plan_splits_alpha_over_its_looks():
    plan = decision.race_plan(3, 12, 3, 0.1)
    assert plan.looks == (3, 6, 9, 12)
    assert plan.alphas == pytest.approx((0.025, 0.025, 0.025, 0.025))
    plan = decision.race_plan(3, 20, 2)
    assert plan.looks == (3, 5, 7, 9, 11, 13, 15, 17, 19, 20)
    assert plan.alphas == pytest.approx((0.05 * 0.75 / 9,) * 9 + (0.05 * 0.25,))
    assert decision.race_plan(5, 5, 1) == decision.RacePlan((5,), (0.05,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.looks = (3, 20)  # a race's plan is fixed before its first look
    assert decision.race_plan(2, 20, 1).looks == tuple(range(2, 21))
    for bad in [(1, 20, 2), (5, 4, 1), (3, 20, 0)]:
        with pytest.raises(InputError) as error:
            decision.race_plan(*bad)
        assert str(error.value) == (f"race plan: min_seeds={bad[0]}, max_seeds={bad[1]}, "
                                    f"step={bad[2]}; expected 2 <= min_seeds <= max_seeds "
                                    "and step >= 1")


def test_futility_is_the_references_on_states_the_race_rarely_reaches():
    """_futile on drawn states, including a best that has stopped (its runs stay as they
    are), no best at all, failures and points with one learned run."""
    rng = np.random.default_rng(12)
    checked = 0
    for _ in range(300):
        k = int(rng.integers(3, 7))
        runs = rng.integers(2, 10, k)
        failures = np.where(rng.random(k) < 0.2, rng.integers(0, 3, k), 0).clip(0, runs)
        learned = runs - failures
        var = np.where(learned >= 2, rng.choice([0.002, 0.005, 0.01, 0.02], k) ** 2, np.nan)
        mean = 0.9 - rng.choice([0.0, 0.002, 0.005, 0.01, 0.03], k)
        st = decision.Stats(runs, failures, learned, mean, var)
        best = int(rng.integers(-1, k))
        open_ = rng.random(k) < 0.7
        seeds = int(runs.max() + rng.integers(0, 12))
        alpha, margin, limit = rng.choice([0.01, 0.05]), rng.choice([0.005, 0.01, 0.02]), 0.2
        got = decision._futile(st, np.array(best), open_, seeds, alpha, margin, limit)
        expected = [hopeless(st, i, best, seeds, alpha, margin, limit, open_) for i in range(k)]
        assert got.tolist() == expected, (st, best, open_, seeds)
        checked += sum(expected)
    assert checked >= 100
