"""lenet_bench.records.decision against a plain reference: the procedure of its docstring
written out point by point and pair by pair with scipy's tests, statsmodels' bounds and
closed testing by enumerating every intersection, then run on a few hundred small grids
drawn to sit near its edges (ties, zero spread, one or no learned run, failures by NaN
and at chance, gaps around the thresholds). Every verdict and interval must agree."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from lenet_bench.records import decision
from test_decision import brute_force_worse, stats_of

VAR_FLOOR = 1e-8  # an sd of 0.01 points: the procedure's floor, spelled here


def split_runs(values, num_classes):
    """(failed, learned) of one point's runs: NaN or within 0.02 of chance failed."""
    values = np.asarray(values, float)
    failed = np.isnan(values) | (np.abs(values - 1 / num_classes) <= 0.02)
    return failed, values[~failed]


def welch(a, b):
    """mean(b) - mean(a), its standard error and df, the squared standard error floored at
    that of a variance of 1e-8 (pooled df there), and whether it was floored."""
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se2 = va + vb
    floor = VAR_FLOOR * (1 / len(a) + 1 / len(b))
    if se2 <= floor:
        return np.mean(b) - np.mean(a), np.sqrt(floor), len(a) + len(b) - 2, True
    df = se2 ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return np.mean(b) - np.mean(a), np.sqrt(se2), df, False


def p_beats(point_i, point_j):
    """p of "j beats i": the one-sided Welch p on learned runs (1 without two of them on
    each side), with Fisher's one-sided test on failures when either point failed."""
    (failed_i, learned_i), (failed_j, learned_j) = point_i, point_j
    p_acc = 1.0
    if len(learned_i) >= 2 and len(learned_j) >= 2:
        diff, se, df, floored = welch(learned_i, learned_j)
        p_acc = 1.0 if floored and diff <= 0 else stats.t.sf(diff / se, df)
    if not failed_i.any() and not failed_j.any():
        return p_acc
    table = [[failed_i.sum(), (~failed_i).sum()], [failed_j.sum(), (~failed_j).sum()]]
    p_fail = stats.fisher_exact(table, alternative="greater").pvalue
    return min(1.0, 2 * min(p_acc, p_fail))


def reference_intervals(points, alpha):
    """Per point [min_j l_ij, min_j u_ij] of mu_i - mu_j over the others with >= 2 learned
    runs: l at 1 - alpha, u at 1 - alpha / (k - 1); NaN without a comparison."""
    k = len(points)
    out = []
    for i, (_, learned_i) in enumerate(points):
        lows, highs = [], []
        for j, (_, learned_j) in enumerate(points):
            if j == i or len(learned_i) < 2 or len(learned_j) < 2:
                continue
            diff, se, df, _ = welch(learned_j, learned_i)
            lows.append(diff - stats.t.ppf(1 - alpha, df) * se)
            highs.append(diff + stats.t.ppf(1 - alpha / (k - 1), df) * se)
        out.append((min(lows), min(highs)) if lows else (np.nan, np.nan))
    return np.array(out)


def reference_q(points):
    """q_i = min_{j != i} p[i, j]."""
    return np.array([min(p_beats(point, other) for j, other in enumerate(points) if j != i)
                     for i, point in enumerate(points)])


def failure_upper(failures, runs, alpha):
    """The one-sided Clopper-Pearson upper bound at 1 - alpha (1 when every run failed)."""
    if failures >= runs:
        return 1.0
    return proportion_confint(failures, runs, 2 * alpha, method="beta")[1]


def reference_verdicts(groups, num_classes, alpha, margin, failure_limit):
    """The docstring's steps 1 to 4, one point and one pair at a time."""
    k = len(groups)
    points = [split_runs(g, num_classes) for g in groups]
    runs = np.array([len(g) for g in groups])
    worse = brute_force_worse(reference_q(points), alpha) & (runs >= 2)
    rates = [failed.mean() if len(failed) else 0.0 for failed, _ in points]
    means = [learned.mean() if len(learned) else -np.inf for _, learned in points]
    candidates = [i for i in range(k) if not worse[i] and runs[i] >= 2]
    best = max(candidates, key=lambda i: (means[i], -rates[i], -i)) if candidates else -1
    bounds = reference_intervals(points, alpha)
    verdicts = []
    for i, (failed, learned) in enumerate(points):
        inside = bool(-margin < bounds[i, 0] and bounds[i, 1] < margin)
        rate_ok = failure_upper(failed.sum(), len(failed), alpha) < failure_limit
        if i == best:
            verdicts.append(decision.BEST)
        elif worse[i]:
            verdicts.append(decision.WORSE)
        elif runs[i] >= 2 and len(learned) >= 2 and rate_ok and inside:
            verdicts.append(decision.EQUIVALENT)
        else:
            verdicts.append(decision.UNDECIDED)
    return verdicts, bounds


def edge_grid(rng):
    """A grid of 2 to 6 points drawn to sit near the procedure's edges."""
    num_classes = int(rng.choice([2, 10]))
    k = int(rng.integers(2, 7))
    spread = float(rng.choice([0.0, 1e-5, 1e-3, 4e-3, 2e-2]))
    gap = float(10 ** rng.uniform(-4.5, -1.5))
    groups = []
    for i in range(k):
        runs = int(rng.choice([1, 2, 3, 5, 8, 14, 20]))
        values = 0.9 - gap * rng.integers(0, 4) + spread * rng.standard_normal(runs)
        if rng.random() < 0.3:  # a copy of an earlier point: ties of means or whole points
            values = groups[int(rng.integers(len(groups)))].copy() if groups else values
        fails = rng.random(len(values)) < rng.choice([0.0, 0.0, 0.2, 0.6, 1.0])
        values[fails] = rng.choice([np.nan, 1 / num_classes, 1 / num_classes + 0.015],
                                   fails.sum())
        groups.append(values)
    settings = dict(alpha=float(rng.choice([0.05, 0.1])),
                    margin=float(rng.choice([0.002, 0.005, 0.03])),
                    failure_limit=float(rng.choice([0.2, 0.5, 1.0])))
    return groups, num_classes, settings


GRIDS = [edge_grid(np.random.default_rng(seed)) for seed in range(300)]


def test_the_edge_grids_reach_every_verdict_and_edge():
    """The drawn grids are not all easy: every verdict occurs many times, and so do the
    cases each line of the procedure is there for."""
    verdicts = np.concatenate([reference_verdicts(g, n, **s)[0] for g, n, s in GRIDS])
    assert all(np.sum(verdicts == code) >= 30 for code in range(4))
    points = [split_runs(v, n) for g, n, _ in GRIDS for v in g]
    assert sum(len(learned) == 1 for _, learned in points) >= 30
    assert sum(len(learned) == 0 for _, learned in points) >= 30
    assert sum(len(learned) >= 2 and np.ptp(learned) == 0 for _, learned in points) >= 30


@pytest.mark.parametrize("part", range(3))
def test_verdicts_are_the_reference_procedures(part):
    for groups, num_classes, settings in GRIDS[part::3]:
        expected, _ = reference_verdicts(groups, num_classes, **settings)
        codes = decision.verdict_codes(stats_of(groups, num_classes), **settings)
        assert list(codes) == expected, (groups, settings)


def test_intervals_are_the_reference_bounds():
    for groups, num_classes, settings in GRIDS:
        _, expected = reference_verdicts(groups, num_classes, **settings)
        low, high = decision.intervals(stats_of(groups, num_classes), settings["alpha"])
        np.testing.assert_allclose(np.c_[low, high], expected, rtol=1e-9, atol=1e-12)


def test_verdicts_of_many_studies_at_once_are_each_studys():
    """The grids stacked as simulated studies along a leading axis (points padded to six
    with far points), as the simulations and the race call the core."""
    stacked, expected = [], []
    for groups, num_classes, _ in GRIDS:
        groups = groups + [np.full(5, 0.3 + 0.01 * i) for i in range(6 - len(groups))]
        stacked.append(stats_of(groups, num_classes))
        expected.append(reference_verdicts(groups, num_classes, 0.05, 0.005, 0.2)[0])
    st = decision.Stats(*(np.stack(field) for field in zip(*stacked)))
    np.testing.assert_array_equal(decision.verdict_codes(st), expected)


def test_decided_with_one_point_replaced_is_the_full_procedures_verdict():
    """decided_with recomputes only point i's row and column of the pairwise p-values:
    with point i's own stats as the trial it must call i decided exactly when the whole
    procedure calls it worse or equivalent."""
    for groups, num_classes, settings in GRIDS[::2]:
        st = stats_of(groups, num_classes)
        codes = decision.verdict_codes(st, **settings)
        for i in range(len(groups)):
            decided = decision.decided_with(i, st.index([i]), st, **settings)
            assert decided.tolist() == [codes[i] in (decision.WORSE, decision.EQUIVALENT)], \
                (i, groups, settings)


def either_side(value, step=1e-6):
    return value * (1 - step), value * (1 + step)


def test_worse_calls_turn_where_the_references_p_values_put_them():
    """Every alpha at which some "worse" call appears or goes (q_i s (k - 1), s = 1..k),
    approached from both sides: the calls there pin each p-value to 1e-6 of scipy's."""
    checked = 0
    for groups, num_classes, _ in GRIDS[::2]:
        points = [split_runs(g, num_classes) for g in groups]
        q, k = reference_q(points), len(groups)
        st, enough = stats_of(groups, num_classes), np.array([len(g) >= 2 for g in groups])
        turns = {q_i * s * (k - 1) for q_i in q for s in range(1, k + 1)}
        for alpha in (a for turn in sorted(turns) if 1e-9 < turn < 0.5 for a in either_side(turn)):
            expected = brute_force_worse(q, alpha) & enough
            np.testing.assert_array_equal(decision.worse_calls(st, alpha), expected,
                                          err_msg=f"alpha {alpha}: {groups}")
            checked += 1
    assert checked >= 300


def test_equivalence_turns_at_the_references_bounds():
    """For each point that is neither worse nor best: the margin at which it becomes
    equivalent is its interval's larger side, and the failure limit is its failure
    bound; both approached from both sides."""
    checked = 0
    for groups, num_classes, settings in GRIDS:
        alpha = settings["alpha"]
        st = stats_of(groups, num_classes)
        codes = decision.verdict_codes(st, alpha, 1.0, 1.0)
        _, bounds = reference_verdicts(groups, num_classes, alpha, 1.0, 1.0)
        for i in np.flatnonzero(np.isin(codes, (decision.UNDECIDED, decision.EQUIVALENT))):
            failed, learned = split_runs(groups[i], num_classes)
            if len(learned) < 2 or np.isnan(bounds[i]).any():
                continue
            margin = max(-bounds[i, 0], bounds[i, 1])
            limit = failure_upper(failed.sum(), len(failed), alpha)
            if margin <= 0 or limit >= 1:
                continue
            for scale, expected in zip(either_side(1), (decision.UNDECIDED, decision.EQUIVALENT)):
                assert decision.verdict_codes(st, alpha, margin * scale, 1.0)[i] == expected
                assert decision.verdict_codes(st, alpha, 1.0, limit * scale)[i] == expected
            checked += 1
    assert checked >= 100
