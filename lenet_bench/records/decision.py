"""Verdicts per grid point (best, worse, equivalent, undecided) whose error rates hold
over a whole grid, the seeds an undecided point still needs, and the race that spends
seeds only where a verdict is open.

Per point i: its runs n_i; a run FAILED when its value is NaN or within 0.02 of 1/K
(at chance), the others LEARNED (count l_i, mean m_i, variance v_i); failures f_i.

1. Pairwise evidence that j beats i: p[i, j] = min(1, 2 min(p_acc, p_fail)) (p_acc
   alone when neither point has a failure: see p_beats), with
   p_acc the one-sided Welch t-test of mu_j > mu_i on learned runs (1 when either side
   has fewer than 2 learned runs; its squared standard error floored at that of a
   variance of 1e-8, an sd of 0.01 points, so that runs all equal up to rounding are
   not infinitely sure; 1 if m_j <= m_i at the floor), p_fail the one-sided Fisher
   exact test that i fails more often than j. Each component is a valid p-value
   whenever j does not beat i (mu_j <= mu_i and i fails no more often than j), so
   p[i, j] is one too (Bonferroni).
2. Worse: H_i = "i is a best" (no point has a higher learned mean or a lower failure
   rate). q_i = min_{j != i} p[i, j]. The intersection H_S ("every point of S is a
   best") is tested by Bonferroni over its |S| (k - 1) p-values: reject iff
   min_{l in S} q_l < alpha / (|S| (k - 1)). Under H_S every p[l, j] with l in S is
   valid (no j beats a best), so the test is level alpha. Closed testing (Marcus,
   Peritz and Gabriel 1976) calls i worse iff every H_S with i in S is rejected; by
   symmetry of the Bonferroni test in S this is: for s = 1..k, min(q_i, the (s-1)-th
   largest q among the others) < alpha / (s (k - 1)).
   Proof of the family-wise error: let T be the set of true bests. T is empty only
   when the point with the highest learned mean fails more often than another; then
   every H_i is false and no "worse" call is false. Otherwise a false "worse" call
   rejects some H_i with i in T, hence (closed testing)
   rejects H_T, which happens with probability at most alpha. The best is picked
   from the same runs, yet no event outside "H_T rejected" can make a false call, so
   the choice of the best is covered: the rate of any false "worse" over the grid is
   at most alpha.
3. Best: exactly one point: among points not worse with >= 2 runs, the highest learned
   mean, ties broken by the lower failure rate. A point with < 2 runs is undecided.
4. Equivalent (not worse, not best) needs both (a) the interval of D_i = mu_i - max_{j
   != i} mu_j, [min_j l_ij, min_j u_ij], inside (-margin, +margin), with l_ij the
   one-sided Welch lower bound of mu_i - mu_j at 1 - alpha and u_ij its upper bound at
   1 - alpha / (k - 1), and (b) the one-sided Clopper-Pearson upper bound at 1 - alpha
   of the failure rate below the failure limit. The null "not equivalent" is a union
   of three parts, each rejected by its own level-alpha test, so the
   intersection-union test is level alpha per point (Berger 1982; TOST convention):
   - D_i <= -margin: then mu_i - mu_j* <= -margin for the (fixed, unknown) j* with the
     highest mean, and min_j l_ij > -margin needs l_ij* > -margin: probability <= alpha.
   - D_i >= margin: then mu_i - mu_j >= margin for EVERY j, and min_j u_ij < margin
     needs some u_ij < margin: a union over k - 1 true nulls, hence alpha / (k - 1)
     each (Bonferroni). With each side at alpha, as a plain TOST would have it, a true
     best a margin above 35 tied points was called equivalent 12% of the time (sd 1
     point, 40 seeds; BUILD_NOTES.md): this side is where the grid's size enters.
   - failure rate >= limit: the Clopper-Pearson bound.
   Points with fewer than 2 learned runs have no learned mean to compare with and are
   left out of the max (they are judged on failures alone).
5. seeds_needed: the procedure simulated with the point's observed learned mean, sd and
   failure rate as the truth and the other points at their current data.
6. The race: looks at fixed seed counts, each tested at its own share of alpha (the
   shares sum to alpha: a union bound over the looks); decided points stop for good.

Everything is numpy/scipy over summary arrays whose leading axes are simulated studies,
so thousands of studies run in seconds; `decide` and `race_look` are thin DataFrame
wrappers.
"""

import dataclasses
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special, stats

from lenet_bench.errors import InputError

ALPHA = 0.05
MARGIN_POINTS = 0.5
FAILURE_LIMIT = 0.2
CHANCE_MARGIN = 0.02
VAR_FLOOR = 1e-8
POWER = 0.8
SEEDS_CAP = 200
SIMULATIONS = 400
UNDECIDED, WORSE, EQUIVALENT, BEST = 0, 1, 2, 3
NAMES = np.array(["undecided", "worse", "equivalent", "best"])
# The race keeps this share of alpha for its last look and splits the rest evenly over
# the earlier looks (chosen by simulation: BUILD_NOTES.md, "Verdicts that hold over a
# whole grid"; benchmarks/statistics/decision_simulation.txt).
FINAL_SHARE = 0.25
FUTILITY_QUANTILE = 0.1
FUTILITY_ERRORS = 0.5
PROCEDURE = ("Closed testing of 'this point is a best' (Bonferroni intersections over "
             "one-sided Welch t-tests on learned runs and Fisher exact tests on failures) "
             "bounds false 'worse' calls over the whole grid at alpha; 'equivalent' needs "
             "the one-sided Welch bounds of the difference to the best of the others inside "
             "the margin (lower at alpha, upper at alpha / (points - 1)) and the "
             "Clopper-Pearson upper bound of the failure rate below the limit, a false "
             "'equivalent' at most alpha per point.")


class Stats(NamedTuple):
    """Per point summary arrays (any shape, usually (studies, points))."""

    runs: np.ndarray
    failures: np.ndarray
    learned: np.ndarray
    mean: np.ndarray
    var: np.ndarray

    def index(self, key) -> "Stats":
        return Stats(*(np.asarray(field)[key] for field in self))


def failed_mask(values, num_classes: int) -> np.ndarray:
    """Per run: NaN or within CHANCE_MARGIN of 1/K."""
    values = np.asarray(values, dtype=float)
    return np.isnan(values) | (np.abs(values - 1.0 / num_classes) <= CHANCE_MARGIN)


def summarize(values, num_classes: int, seeds=None) -> Stats:
    """Stats of the first `seeds` runs of each point (all runs when None).

    Args:
      values: (..., points, runs) accuracies as fractions, NaN for a failed run.
      num_classes: K, for the chance level.
      seeds: (..., points) how many leading runs count; runs beyond are ignored.
    """
    values = np.asarray(values, dtype=float)
    width = values.shape[-1]
    used = np.ones(values.shape, bool) if seeds is None else \
        np.arange(width) < np.asarray(seeds)[..., None]
    failed = failed_mask(values, num_classes) & used
    good = used & ~failed
    learned = good.sum(-1)
    clean = np.where(good, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = clean.sum(-1) / learned
        deviation = np.where(good, values - mean[..., None], 0.0)
        var = (deviation ** 2).sum(-1) / (learned - 1)
    return Stats(used.sum(-1), failed.sum(-1), learned, mean, np.where(learned >= 2, var, np.nan))


def _welch(a: Stats, b: Stats):
    """Difference b - a of learned means, its standard error and Welch's df."""
    with np.errstate(invalid="ignore", divide="ignore"):
        va, vb = a.var / a.learned, b.var / b.learned
        se2 = va + vb
        df = se2 ** 2 / (va ** 2 / (a.learned - 1) + vb ** 2 / (b.learned - 1))
        se2, df, flat = _floored(se2, df, a.learned, b.learned)
    return b.mean - a.mean, np.sqrt(se2), df, flat


def _floored(se2, df, learned_a, learned_b):
    """Welch's squared standard error and df, with the squared standard error floored at
    that of a variance of VAR_FLOOR (with the pooled df there), and where it was."""
    floor = VAR_FLOOR * (1 / learned_a + 1 / learned_b)
    flat = se2 <= floor
    return (np.where(flat, floor, se2), np.where(flat, learned_a + learned_b - 2.0, df), flat)


def p_beats(a: Stats, b: Stats, prune: float = 1.0) -> np.ndarray:
    """Broadcast p-values of "b beats a": min(1, 2 min(p_acc, p_fail)), or p_acc alone
    when neither point has a failure (the Fisher test cannot reject then, and the
    weights of a weighted Bonferroni may depend on the total failure count, given which
    both tests stay valid: Tarone 1990).

    A p_acc that cannot fall below `prune` (by a cheap bound: the normal tail is below
    Student's) is returned as 1; a caller that only compares p with thresholds <= prune
    gets the same decisions (without failures p = p_acc >= prune either way; with them
    the smaller of 2 p_acc and 2 p_fail decides, and 2 p_acc >= 2 prune passes no
    threshold). Only the pairs that pass the bound get Welch's df and Student's tail,
    so a grid of equal points is cheap.
    """
    shape = np.broadcast_shapes(*(np.shape(x) for x in (*a, *b)))
    with np.errstate(invalid="ignore", divide="ignore"):
        va, vb = a.var / a.learned, b.var / b.learned
        diff = np.broadcast_to(b.mean - a.mean, shape)
        se2 = np.broadcast_to(va + vb, shape)
        usable = (a.learned >= 2) & (b.learned >= 2)
        if prune < 1:
            cut = special.ndtri(1 - prune)
            usable = usable & (diff > cut * np.sqrt(se2))  # se2 = 0: diff > 0
        where = np.nonzero(np.broadcast_to(usable, shape))
        pick = lambda x: np.broadcast_to(x, shape)[where]  # noqa: E731
        la, lb, va_, vb_, d, s2 = (pick(x) for x in (a.learned, b.learned, va, vb, diff, se2))
        df = s2 ** 2 / (va_ ** 2 / (la - 1) + vb_ ** 2 / (lb - 1))
        s2, df, flat = _floored(s2, df, la, lb)
        p_acc = np.ones(shape)
        p_acc[where] = np.where(flat & (d <= 0), 1.0, special.stdtr(df, -d / np.sqrt(s2)))
    fa, na = np.broadcast_to(a.failures, shape), np.broadcast_to(a.runs, shape)
    fb, nb = np.broadcast_to(b.failures, shape), np.broadcast_to(b.runs, shape)
    failing = np.nonzero((fa > 0) | (fb > 0))
    if not len(failing[0]):
        return p_acc
    p_acc[failing] = np.minimum(1.0, 2 * np.minimum(
        p_acc[failing], fisher_greater(fa[failing], na[failing], fb[failing], nb[failing])))
    return p_acc


def fisher_greater(fa, na, fb, nb) -> np.ndarray:
    """One-sided Fisher exact p of "a fails more often than b" (scipy's hypergeometric
    tail) where a's failure rate is above b's, 1 elsewhere (the p-value is at least 1/2
    there, which no threshold reaches); computed once per distinct table (a grid
    repeats few tables)."""
    fa, na, fb, nb = (np.asarray(x, np.int64) for x in (fa, na, fb, nb))
    codes = ((fa * 4096 + na) * 4096 + fb) * 4096 + nb
    unique, inverse = np.unique(codes, return_inverse=True)
    ua, ub = unique // 4096 ** 3, (unique // 4096) % 4096
    un, vn = (unique // 4096 ** 2) % 4096, unique % 4096
    p_fail = np.ones(len(unique))
    more = (ua > 0) & (ua * vn > ub * un)  # else p_fail >= 1/2: the sf at or below the mean
    p_fail[more] = stats.hypergeom.sf(ua[more] - 1, un[more] + vn[more], ua[more] + ub[more],
                                      un[more])
    return p_fail[inverse].reshape(np.shape(fa))


def thresholds(alpha: float, k: int) -> np.ndarray:
    """The Bonferroni levels of the intersections of s = 1..k hypotheses: alpha / (s (k-1))."""
    return alpha / (np.arange(1, k + 1) * max(k - 1, 1))


def _prune(alpha: float, k: int) -> float:
    """The most lenient threshold: p_beats may round p_acc above it up to 1."""
    return float(thresholds(alpha, k)[0])


def closed_worse(q: np.ndarray, alpha: float) -> np.ndarray:
    """Closed testing with Bonferroni intersections: which H_i ("i is a best") fall.

    With q sorted in decreasing order (position r from 0), H_i at position r falls iff
    q_(t) < alpha / ((t + 1)(k - 1)) for every t >= r: for s <= r + 1 the largest-s
    subsets containing i have minimum q_i, for larger s the s-th largest q overall.
    """
    k = q.shape[-1]
    if k < 2:
        return np.zeros(q.shape, bool)
    order = np.argsort(-q, axis=-1, kind="stable")
    ranked = np.take_along_axis(q, order, -1)
    passes = ranked < thresholds(alpha, k)
    from_here = np.flip(np.cumprod(np.flip(passes, -1), -1), -1).astype(bool)
    worse = np.zeros(q.shape, bool)
    np.put_along_axis(worse, order, from_here, -1)
    return worse


def failure_upper(failures, runs, alpha: float = ALPHA) -> np.ndarray:
    """One-sided Clopper-Pearson upper bound at 1 - alpha of the failure rate."""
    failures, runs = np.asarray(failures, float), np.asarray(runs, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = special.betaincinv(failures + 1, runs - failures, 1 - alpha)
    return np.where(failures >= runs, 1.0, bound)


def _t_table(alpha: float, size: int) -> np.ndarray:
    """Student's 1 - alpha quantile for df = 0..size-1 (df 0 -> inf)."""
    table = np.full(size, np.inf)
    table[1:] = special.stdtrit(np.arange(1, size), 1 - alpha)
    return table


def _pair_bounds_ok(a: Stats, b: Stats, alpha_low: float, alpha_high: float, margin: float):
    """Per pair: l_ab > -margin and u_ab < margin, the one-sided Welch bounds of mu_a -
    mu_b at 1 - alpha_low and 1 - alpha_high. Student's quantile is computed only where
    the bounds z <= t_df <= t_(min(l_a, l_b) - 1) leave the answer open."""
    diff, se, df, _ = _welch(b, a)
    low_df = np.clip(np.minimum(a.learned, b.learned) - 1, 0, None).astype(int)
    shape = np.broadcast_shapes(np.shape(diff), np.shape(low_df))
    diff, se, df, low_df = (np.broadcast_to(x, shape) for x in (diff, se, df, low_df))
    results = []
    for sign, alpha in ((-1, alpha_low), (+1, alpha_high)):
        def holds(c, diff=diff, se=se, sign=sign):
            bound = diff + sign * c * se
            return bound > -margin if sign < 0 else bound < margin
        c_slow = _t_table(alpha, int(np.max(low_df, initial=0)) + 1)[low_df]
        with np.errstate(invalid="ignore"):
            sure, possible = holds(c_slow), holds(special.ndtri(1 - alpha))
        ok = sure.copy()
        open_ = possible & ~sure & np.isfinite(df) & (low_df >= 1)
        ok[open_] = holds(special.stdtrit(df[open_], 1 - alpha), diff[open_], se[open_])
        results.append(ok)
    return results


def _equivalent(a: Stats, b: Stats, compare: np.ndarray, alpha: float, margin: float,
                failure_limit: float) -> np.ndarray:
    """Step 4 for the points a (shape (..., 1) or (..., k, 1)) against the points b
    along the last axis, `compare` saying which b enter the max (not a itself, >= 2
    learned runs)."""
    low_ok, high_ok = _pair_bounds_ok(a, b, alpha, upper_alpha(alpha, b.runs.shape[-1]), margin)
    interval = (np.where(compare, low_ok, True).all(-1) & np.where(compare, high_ok, False).any(-1))
    rate_ok = failure_upper(a.failures, a.runs, alpha)[..., 0] < failure_limit
    return interval & rate_ok & (a.learned[..., 0] >= 2)


def _pick_best(st: Stats, candidate: np.ndarray) -> np.ndarray:
    """Per study the index of the best candidate (-1 when none): highest learned mean,
    ties to the lower failure rate, then the lower index."""
    mean = np.where(candidate, np.nan_to_num(st.mean, nan=-np.inf), np.nan)
    with np.errstate(invalid="ignore"):
        top = np.nanmax(np.where(candidate, mean, -np.inf), -1, keepdims=True)
        rate = np.where(candidate & (mean == top), st.failures / np.maximum(st.runs, 1), np.inf)
    best = np.argmin(rate, -1)
    return np.where(candidate.any(-1), best, -1)


def worse_calls(st: Stats, alpha: float = ALPHA) -> np.ndarray:
    """Steps 1-2 on stats of shape (..., k): which points are called worse."""
    k = st.runs.shape[-1]
    flat = Stats(*(np.asarray(x).reshape(-1, k) for x in st))
    q = np.empty(flat.runs.shape)
    chunk = max(1, 2 ** 19 // k ** 2)  # studies per chunk: keeps the k x k arrays in cache
    for start in range(0, len(q), chunk):
        part = flat.index(slice(start, start + chunk))
        p = p_beats(part.index((slice(None), slice(None), None)),
                    part.index((slice(None), None, slice(None))), _prune(alpha, k))
        p[:, np.arange(k), np.arange(k)] = np.inf
        q[start:start + chunk] = p.min(-1)
    return closed_worse(q.reshape(st.runs.shape), alpha) & (st.runs >= 2)


def verdict_codes(st: Stats, alpha: float = ALPHA, margin: float = MARGIN_POINTS / 100,
                  failure_limit: float = FAILURE_LIMIT) -> np.ndarray:
    """The procedure on stats of shape (..., k): verdict codes (UNDECIDED, WORSE,
    EQUIVALENT, BEST) of the same shape. `margin` is an accuracy fraction."""
    k = st.runs.shape[-1]
    enough = st.runs >= 2
    worse = worse_calls(st, alpha)
    best = _pick_best(st, ~worse & enough)
    is_best = np.arange(k) == best[..., None]
    candidate = ~worse & ~is_best & enough & (st.learned >= 2) & \
        (failure_upper(st.failures, st.runs, alpha) < failure_limit)
    equivalent = np.zeros(candidate.shape, bool)
    flat = Stats(*(np.asarray(x).reshape(-1, k) for x in st))
    studies, points = np.nonzero(candidate.reshape(-1, k))
    chunk = max(1, 2 ** 19 // k)
    for start in range(0, len(studies), chunk):
        rows, own = studies[start:start + chunk], points[start:start + chunk]
        others = flat.index(rows)
        compare = (others.learned >= 2) & (np.arange(k) != own[:, None])
        found = _equivalent(flat.index((rows, own, None)), others, compare, alpha, margin,
                            failure_limit)
        equivalent.reshape(-1, k)[rows[found], own[found]] = True
    codes = np.where(worse, WORSE, np.where(equivalent, EQUIVALENT, UNDECIDED))
    return np.where(is_best, BEST, codes).astype(np.int8)


def upper_alpha(alpha: float, k: int) -> float:
    """The level of each upper bound u_ij: alpha / (k - 1), Bonferroni over the others
    (see the module docstring, step 4)."""
    return alpha / max(k - 1, 1)


def intervals(st: Stats, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Per point (1-D stats) the exact interval [min_j l_ij, min_j u_ij] of mu_i -
    max_{j != i} mu_j (fractions; NaN without a comparison)."""
    k = len(st.runs)
    rows, cols = st.index((slice(None), None)), st.index((None, slice(None)))
    diff, se, df, _ = _welch(cols, rows)
    with np.errstate(invalid="ignore"):
        df = np.where(np.isfinite(df), df, 1.0)
        c_low = special.stdtrit(df, 1 - alpha)
        c_high = special.stdtrit(df, 1 - upper_alpha(alpha, k))
    compare = (cols.learned >= 2) & (rows.learned >= 2) & ~np.eye(k, dtype=bool)
    low = np.where(compare, diff - c_low * se, np.inf).min(-1)
    high = np.where(compare, diff + c_high * se, np.inf).min(-1)
    none = ~compare.any(-1)
    return np.where(none, np.nan, low), np.where(none, np.nan, high)


def _pair_matrix(st: Stats, prune: float) -> np.ndarray:
    """p[i, j] for 1-D stats, the diagonal at inf."""
    k = len(st.runs)
    p = p_beats(st.index((slice(None), None)), st.index((None, slice(None))), prune)
    p[np.arange(k), np.arange(k)] = np.inf
    return p


def decided_with(i: int, trial: Stats, st: Stats, alpha: float, margin: float,
                 failure_limit: float, base: np.ndarray | None = None) -> np.ndarray:
    """Whether point i is decided (worse or equivalent) in each trial: point i's stats
    replaced by `trial` (1-D over trials), the others kept at `st` (1-D over points).

    Only row and column i of the pairwise p-values change, so a trial costs O(k).
    """
    k = len(st.runs)
    prune = _prune(alpha, k)
    base = _pair_matrix(st, prune) if base is None else base
    others = np.arange(k) != i
    column = trial.index((slice(None), None))
    full = Stats(*(np.where(others, np.asarray(field)[None, :], np.asarray(new)[:, None])
                   for field, new in zip(st, trial)))
    p_row = p_beats(column, full, prune)
    p_col = p_beats(full, column, prune)
    held = np.where(others[None, :], base, np.inf)
    q = np.minimum(held.min(-1)[None, :], np.where(others, p_col, np.inf))
    q[:, i] = np.where(others, p_row, np.inf).min(-1)
    enough = full.runs >= 2
    worse = closed_worse(q, alpha) & enough
    best = _pick_best(full, ~worse & enough)
    compare = (full.learned >= 2) & others
    equivalent = _equivalent(column, full, compare, alpha, margin, failure_limit)
    return worse[:, i] | (equivalent & (best != i) & enough[:, i])


def simulate_stats(mean, sd, rate, seeds, rng: np.random.Generator) -> Stats:
    """Stats of simulated points (arguments broadcast; the result has the shape of
    `seeds`): failures Binomial(seeds, rate), learned runs Normal(mean, sd), drawn as
    their sufficient statistics (mean and variance of the learned runs)."""
    seeds = np.asarray(seeds)
    failures = rng.binomial(seeds, rate)
    learned = seeds - failures
    with np.errstate(invalid="ignore", divide="ignore"):
        means = mean + sd * rng.standard_normal(seeds.shape) / np.sqrt(learned)
        var = sd ** 2 * rng.chisquare(np.maximum(learned - 1, 1)) / (learned - 1)
    return Stats(seeds, failures, learned, np.where(learned > 0, means, np.nan),
                 np.where(learned >= 2, var, np.nan))


def simulate_runs(mean, sd, rate, shape: tuple, rng: np.random.Generator,
                  num_classes: int = 10) -> np.ndarray:
    """Simulated accuracies of shape (studies, points, seeds): Normal(mean, sd) per point
    (mean, sd, rate of shape (points,)), a run failing with probability `rate` sits at
    chance (1/K)."""
    mean, sd, rate = (np.asarray(x, float)[:, None] for x in (mean, sd, rate))
    values = np.nan_to_num(mean) + np.nan_to_num(sd) * rng.standard_normal(shape)
    return np.where(rng.random(shape) < rate, 1.0 / num_classes, values)


def _decision_rate(i: int, totals: np.ndarray, truth: tuple, st: Stats, sims: int,
                   rng: np.random.Generator, args: tuple, base: np.ndarray) -> np.ndarray:
    seeds = np.repeat(totals, sims)
    decided = decided_with(i, simulate_stats(*truth, seeds, rng), st, *args, base=base)
    return decided.reshape(len(totals), sims).mean(-1)


def seeds_needed_for(i: int, st: Stats, alpha: float, margin: float, failure_limit: float,
                     *, pooled_sd: float, sims: int = SIMULATIONS, cap: int = SEEDS_CAP,
                     rng: np.random.Generator | None = None,
                     base: np.ndarray | None = None) -> float:
    """The smallest total seed count (<= cap; inf beyond) at which point i is decided
    in >= 80% of simulated studies, its observed learned mean, sd (the grid's pooled sd
    when it has < 2 learned runs) and failure rate taken as the truth."""
    rng = np.random.default_rng(0) if rng is None else rng
    runs = int(st.runs[i])
    rate = st.failures[i] / runs if runs else 0.0
    sd = math.sqrt(st.var[i]) if st.learned[i] >= 2 else pooled_sd
    mean = st.mean[i] if st.learned[i] else 0.0
    truth = (mean, sd, rate)
    args = (alpha, margin, failure_limit)
    coarse = np.unique(np.clip(np.round(runs * 1.25 ** np.arange(40)), runs + 1, cap)
                       .astype(int))
    coarse = np.unique(np.r_[np.arange(runs + 1, min(runs + 4, cap) + 1), coarse])
    coarse = coarse[coarse <= cap]
    if not len(coarse) or _decision_rate(i, coarse[-1:], truth, st, sims, rng, args,
                                         base)[0] < POWER:
        return math.inf
    rates = _decision_rate(i, coarse, truth, st, sims, rng, args, base)
    hits = np.flatnonzero(rates >= POWER)
    if not len(hits):
        return math.inf
    high = int(coarse[hits[0]])
    low = int(coarse[hits[0] - 1]) if hits[0] else runs
    while high - low > 1:  # bisection: low fails, high decides 80%
        middle = (low + high) // 2
        passed = _decision_rate(i, np.array([middle]), truth, st, sims, rng, args, base)[0] >= POWER
        low, high = (low, middle) if passed else (middle, high)
    return float(high)


def _study_rate(seeds: int, st: Stats, open_: np.ndarray, counted: np.ndarray, sd: np.ndarray,
                rate: np.ndarray, sims: int, rng: np.random.Generator, args: tuple) -> float:
    """The share of the `counted` points decided when each open point has `seeds` runs."""
    runs = np.where(open_, seeds, st.runs)
    fresh = simulate_stats(np.nan_to_num(st.mean), sd, rate,
                           np.broadcast_to(runs, (sims, len(runs))), rng)
    trial = Stats(*(np.where(open_, new, np.asarray(old)) for new, old in zip(fresh, st)))
    codes = verdict_codes(trial, *args)
    return float(np.isin(codes[:, counted], (WORSE, EQUIVALENT)).mean())


def seeds_for_study(st: Stats, codes: np.ndarray, alpha: float, margin: float,
                    failure_limit: float, *, sims: int = SIMULATIONS // 2, cap: int = SEEDS_CAP,
                    rng: np.random.Generator | None = None) -> float:
    """The seeds per point (<= cap; inf beyond) at which 80% of today's undecided points
    are decided, simulated with every undecided point and the best at that many runs
    (each point's observed learned mean, sd and failure rate as the truth; the decided
    points keep their runs)."""
    rng = np.random.default_rng(0) if rng is None else rng
    open_ = np.isin(codes, (UNDECIDED, BEST))
    if not (codes == UNDECIDED).any():
        return math.nan
    sd = np.where(st.learned >= 2, np.sqrt(st.var), pooled_sd(st))
    rate = st.failures / np.maximum(st.runs, 1)
    args = (sims, rng, (alpha, margin, failure_limit))
    share = lambda seeds: _study_rate(seeds, st, open_, codes == UNDECIDED, sd, rate,  # noqa: E731
                                      *args)
    low = int(st.runs[open_].max())
    if share(cap) < POWER:
        return math.inf
    high = cap
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if share(middle) >= POWER else (middle, high)
    return float(high)


def pooled_sd(st: Stats) -> float:
    """The learned runs' pooled standard deviation over points with >= 2 of them."""
    use = st.learned >= 2
    dof = (st.learned[use] - 1).sum()
    return math.sqrt((st.var[use] * (st.learned[use] - 1)).sum() / dof) if dof else 0.01


@dataclasses.dataclass(frozen=True)
class RacePlan:
    """The race's looks (total seeds per open point at each look) and the share of
    alpha each look is tested at; the shares sum to alpha (a union bound over looks,
    valid whatever the correlation between looks).

    Attributes:
      looks: seeds at each look: min_seeds, min_seeds + step, ..., max_seeds.
      alphas: the per-look alpha: FINAL_SHARE of alpha at the last look, the rest split
        evenly over the earlier looks.
    """

    looks: tuple[int, ...]
    alphas: tuple[float, ...]


def race_plan(min_seeds: int = 3, max_seeds: int = 20, step: int = 2, alpha: float = ALPHA,
              final_share: float = FINAL_SHARE) -> RacePlan:
    """The planned looks and their alphas (see RacePlan)."""
    if not 2 <= min_seeds <= max_seeds or step < 1:
        raise InputError(f"race plan: min_seeds={min_seeds}, max_seeds={max_seeds}, step={step}; "
                         "expected 2 <= min_seeds <= max_seeds and step >= 1")
    looks = list(range(min_seeds, max_seeds, step)) + [max_seeds]
    if len(looks) == 1:
        return RacePlan((max_seeds,), (alpha,))
    early = alpha * (1 - final_share) / (len(looks) - 1)
    return RacePlan(tuple(looks), tuple([early] * (len(looks) - 1) + [alpha * final_share]))


OPEN, DECIDED, FUTILE, CAPPED, LEADING = 0, 1, 2, 3, 4
STOPS = np.array(["open", "decided", "futility", "cap", "best"])


def _futile(st: Stats, best: np.ndarray, open_: np.ndarray, seeds: int, alpha: float,
            margin: float, failure_limit: float) -> np.ndarray:
    """Undecided points that cannot be decided by `seeds` runs even when luck helps:
    "equivalent" is out of reach when the interval half-width against the best at
    `seeds` runs, from sds at their 10% lower confidence bound and the normal quantile,
    is at least the margin (or no new failure could bring the failure bound under the
    limit); "worse" is out of reach when the observed gap to the best plus
    FUTILITY_ERRORS standard errors, at `seeds` runs, stays below the normal quantile of
    half the most lenient threshold, alpha / (2 (k - 1)) (half: the p-value is doubled
    when the best has failed runs). Stopping a point never makes a wrong call; this rule
    only trades decisions for runs (tuned by simulation: BUILD_NOTES.md).
    A point with a failure, or with < 2 learned runs, always has a chance."""
    k = st.runs.shape[-1]
    pick = np.maximum(best, 0)[..., None]
    other = Stats(*(np.take_along_axis(np.asarray(field), pick, -1) for field in st))
    final = np.where(open_, seeds, st.runs)
    final_best = np.take_along_axis(final, pick, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        low_var = [group.var * stats.chi2.ppf(FUTILITY_QUANTILE, group.learned - 1)
                   / (group.learned - 1) for group in (st, other)]
        se_low = np.sqrt(low_var[0] / final + low_var[1] / final_best)
        upper = failure_upper(st.failures, final, alpha)
        equivalent = (special.ndtri(1 - alpha) * se_low < margin) & (upper < failure_limit)
        se_now = np.sqrt(st.var / st.learned + other.var / other.learned)
        se_then = np.sqrt(st.var / final + other.var / final_best)
        gap = other.mean - st.mean + FUTILITY_ERRORS * se_now
        worse = gap / se_then > special.ndtri(1 - thresholds(alpha, k)[0] / 2)
    hopeless = ~equivalent & ~worse & (st.failures == 0) & (st.learned >= 2) & \
        (other.learned >= 2)
    return hopeless & (best[..., None] >= 0) & open_


def race_arrays(values: np.ndarray, plan: RacePlan, num_classes: int, margin: float,
                failure_limit: float, available: np.ndarray | None = None,
                futility: bool = True) -> dict:
    """The race replayed look by look on (studies, points, seeds) accuracies in seed
    order, vectorized over studies. A decided point stops for good; a point stopped for
    futility gets no more runs but is judged again at each later look on the runs it
    has (it may still be decided there, or lead).

    Returns a dict of (studies, points) arrays: codes (the verdicts), seeds (runs the
    race used), wanted (seeds after the next round; = seeds once stopped), look (the look
    the point stopped at, -1 open), why (OPEN, DECIDED, FUTILE, CAPPED, LEADING); and
    `finished` per study.
    """
    studies, k, width = values.shape
    available = np.full((studies, k), width) if available is None else np.asarray(available)
    seeds = np.minimum(available, plan.looks[0])
    codes = np.zeros((studies, k), np.int8)
    stopped = np.zeros((studies, k), bool)
    fixed = np.zeros((studies, k), bool)
    look_at = np.full((studies, k), -1)
    why = np.full((studies, k), OPEN, np.int8)
    active = np.ones(studies, bool)
    finished = np.zeros(studies, bool)
    wanted = seeds.copy()
    for look, (target, alpha) in enumerate(zip(plan.looks, plan.alphas)):
        proposal = np.where(stopped, seeds, target)
        lacking = active & (~stopped & (available < proposal)).any(-1)
        wanted[lacking] = proposal[lacking]
        active &= ~lacking
        if not active.any():
            break
        seeds[active] = proposal[active]
        st = summarize(values[active], num_classes, seeds[active])
        now = verdict_codes(st, alpha, margin, failure_limit)
        new = ~fixed[active] & np.isin(now, (WORSE, EQUIVALENT))
        codes[active] = np.where(fixed[active], codes[active], now)
        _update(active, new, look, DECIDED, (fixed, stopped), look_at, why)
        last = look + 1 == len(plan.looks)
        undecided = ~stopped[active] & (now == UNDECIDED)
        if not last and futility:
            best = np.where((now == BEST).any(-1), np.argmax(now == BEST, -1), -1)
            futile = _futile(st, best, ~stopped[active], plan.looks[-1], plan.alphas[-1],
                             margin, failure_limit)
            _update(active, undecided & futile, look, FUTILE, (stopped,), look_at, why)
        done = ~(~stopped[active] & (now == UNDECIDED)).any(-1) | last
        rows = np.flatnonzero(active)[done]
        leading = ~stopped[rows] & (codes[rows] == BEST)
        why[rows] = np.where(leading, LEADING, np.where(~stopped[rows], CAPPED, why[rows]))
        look_at[rows] = np.where(~stopped[rows], look, look_at[rows])
        stopped[rows] = True
        finished[rows] = True
        active[rows] = False
    wanted[finished] = seeds[finished]
    return {"codes": codes, "seeds": seeds, "wanted": wanted, "look": look_at, "why": why,
            "finished": finished}


def _update(active, mask, look, reason, flags, look_at, why):
    rows = np.flatnonzero(active)
    for flag in flags:
        flag[rows] |= mask
    look_at[rows] = np.where(mask, look, look_at[rows])
    why[rows] = np.where(mask, reason, why[rows])


def _check(runs, point, value: str, margin: float, alpha: float, failure_limit: float,
           num_classes: int, extra: tuple = ()) -> list[str]:
    """The point columns as a list, after checking the input; InputError otherwise."""
    if not isinstance(runs, pd.DataFrame) or runs.empty:
        raise InputError(f"runs: expected a non-empty pandas DataFrame, got {type(runs).__name__}")
    columns = [point] if isinstance(point, str) else list(point)
    for name in [*columns, value, *extra]:
        if name not in runs.columns:
            names = ", ".join(map(str, runs.columns))
            raise InputError(f"runs: no column {name!r} (columns: {names})")
    values = pd.to_numeric(runs[value], errors="coerce")
    bad = runs[value].notna() & ~values.between(0, 1)
    if bad.any():
        raise InputError(f"runs[{value!r}]: {runs[value][bad].iloc[0]} is not an accuracy "
                         "fraction in [0, 1] (NaN marks a failed run)")
    if not margin >= 0.05:
        raise InputError(f"margin={margin!r}: expected accuracy points (0.5 for half a point), "
                         "at least 0.05; a fraction such as 0.005 is too small")
    if not 0 < alpha < 0.5:
        raise InputError(f"alpha={alpha!r}: expected 0 < alpha < 0.5")
    if not 0 < failure_limit <= 1:
        raise InputError(f"failure_limit={failure_limit!r}: expected a rate in (0, 1]")
    if not (isinstance(num_classes, int) and num_classes >= 2):
        raise InputError(f"num_classes={num_classes!r}: expected an integer >= 2")
    return columns


def _grouped(runs: pd.DataFrame, columns: list[str], value: str, order: str | None = None):
    """(point frame, (points, width) values padded with NaN, per point run counts)."""
    if order is not None:
        runs = runs.sort_values(order, kind="stable")
    groups = runs.groupby(columns, sort=False, dropna=False)[value]
    keys = groups.size().reset_index()[columns]
    lists = [pd.to_numeric(group, errors="coerce").to_numpy(float) for _, group in groups]
    counts = np.array([len(values) for values in lists])
    padded = np.full((len(lists), max(counts)), np.nan)
    for row, values in enumerate(lists):
        padded[row, :len(values)] = values
    return keys, padded, counts


def decide(runs: pd.DataFrame, *, point, value: str = "test_accuracy", num_classes: int = 10,
           margin: float = MARGIN_POINTS, failure_limit: float = FAILURE_LIMIT,
           alpha: float = ALPHA, seeds_needed: bool = True) -> pd.DataFrame:
    """Each grid point's verdict against the best: best, worse, equivalent or undecided.

    Args:
      runs: one row per run.
      point: the column (or list of columns) naming a run's grid point.
      value: the column of final accuracies, fractions in [0, 1]; NaN for a failed run.
      num_classes: K; a run within 0.02 of 1/K failed (stayed at chance).
      margin: the equivalence margin in accuracy points (0.5 = half a point).
      failure_limit: an equivalent point's failure rate must be shown below this.
      alpha: the error rate (false "worse" over the grid; false "equivalent" per point).
      seeds_needed: simulate, for each undecided point, the seeds that would decide it.

    Returns:
      One row per point: the point columns, verdict, seeds, learned_mean (fraction),
      learned_sd, failures, failure_rate, failure_upper, interval_low and interval_high
      (mu_i - max of the others' mu, in points), seeds_needed (NaN when decided, inf
      beyond SEEDS_CAP). attrs: "procedure", and "seeds_to_decide_most": the seeds per
      point that would decide 80% of the undecided points.
    """
    columns = _check(runs, point, value, margin, alpha, failure_limit, num_classes)
    keys, padded, counts = _grouped(runs, columns, value)
    st = summarize(padded, num_classes, counts)
    codes = verdict_codes(st, alpha, margin / 100, failure_limit)
    low, high = intervals(st, alpha)
    frame = keys.copy()
    frame["verdict"] = NAMES[codes]
    frame["seeds"] = st.runs
    frame["learned_mean"] = st.mean
    frame["learned_sd"] = np.sqrt(st.var)
    frame["failures"] = st.failures
    frame["failure_rate"] = st.failures / st.runs
    frame["failure_upper"] = failure_upper(st.failures, st.runs, alpha)
    frame["interval_low"], frame["interval_high"] = 100 * low, 100 * high
    needed = np.full(len(frame), np.nan)
    if seeds_needed:
        base = _pair_matrix(st, _prune(alpha, len(counts)))
        sd = pooled_sd(st)
        for i in np.flatnonzero(codes == UNDECIDED):
            needed[i] = seeds_needed_for(i, st, alpha, margin / 100, failure_limit,
                                         pooled_sd=sd, base=base,
                                         rng=np.random.default_rng(i))
    frame["seeds_needed"] = needed
    frame.attrs["procedure"] = PROCEDURE
    frame.attrs["seeds_to_decide_most"] = (
        seeds_for_study(st, codes, alpha, margin / 100, failure_limit) if seeds_needed
        else math.nan)
    return frame


def stop_reason(why: int, look: int, verdict: str, wanted: int) -> str:
    """Why a race point stopped getting seeds (or the seeds it wants next)."""
    if why == DECIDED:
        return f"{verdict} at look {look + 1}"
    if why == FUTILE:
        return f"futility at look {look + 1}"
    if why == CAPPED:
        return "cap: undecided at the last look"
    if why == LEADING:
        return "best at the last look"
    return f"open: {wanted} seeds wanted"


def race_look(runs: pd.DataFrame, *, point, value: str = "test_accuracy",
              num_classes: int = 10, margin: float = MARGIN_POINTS,
              failure_limit: float = FAILURE_LIMIT, alpha: float = ALPHA, min_seeds: int = 3,
              max_seeds: int = 20, step: int = 2, seed: str = "seed") -> pd.DataFrame:
    """Where the race stands, replayed from the runs so far (each point's runs in
    `seed` order), look by look; the arguments as for `decide`, and the plan's.

    Returns:
      One row per point: the point columns, verdict, seeds (runs the race has used),
      seeds_wanted (total seeds after the next round; = seeds once stopped), stopped
      (decided, futility, cap, best or open), look (1-based look it stopped at) and why.
      attrs: "procedure" and "plan" (the RacePlan).
    """
    columns = _check(runs, point, value, margin, alpha, failure_limit, num_classes, (seed,))
    plan = race_plan(min_seeds, max_seeds, step, alpha)
    keys, padded, counts = _grouped(runs, columns, value, order=seed)
    width = max(padded.shape[1], max_seeds)
    values = np.pad(padded, ((0, 0), (0, width - padded.shape[1])), constant_values=np.nan)
    race = {name: array[0] if array.ndim > 1 else array for name, array in
            race_arrays(values[None], plan, num_classes, margin / 100, failure_limit,
                        counts[None]).items()}
    frame = keys.copy()
    frame["verdict"] = NAMES[race["codes"]]
    frame["seeds"] = race["seeds"]
    frame["seeds_wanted"] = race["wanted"]
    frame["stopped"] = STOPS[race["why"]]
    frame["look"] = np.where(race["look"] >= 0, race["look"] + 1, np.nan)
    frame["why"] = [stop_reason(*row) for row in zip(race["why"], race["look"], frame["verdict"],
                                                     race["wanted"])]
    frame.attrs["procedure"] = PROCEDURE
    frame.attrs["plan"] = plan
    return frame
