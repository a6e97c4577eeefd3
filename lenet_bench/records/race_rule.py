"""`--seeds=auto`: a race that spends seeds only where a grid point's verdict is still open.

Every grid point starts with `min_seeds` seeds. At each look the race names the best
point (the highest mean final test accuracy among the points not yet decided worse)
and tests every other open point against it:

- **worse**: a one-sided Welch t-test on all runs (a run at chance counts at its
  accuracy) or a one-sided Fisher's exact test on the failure counts (runs at chance
  or diverged) rejects "not worse"; the two p-values are Bonferroni-combined
  (2 x the smaller), so one question spends one alpha.
- **equivalent**: the equivalence test of two one-sided Welch t-tests (TOST) shows
  the mean within `margin` of the best's, and the point's failure rate is not
  above the best's (a point that fails more often is never equivalent).
- **undecided**: neither.

Multiplicity: at each look, Holm over both questions of every tested point. Looks:
the race plans `RacePlan.looks` looks (seeds at look k: min_seeds + 2k, up to
max_seeds) and tests each at alpha / looks: Bonferroni across the planned looks,
the simplest valid alpha spending (a union bound: the error rate over the whole
race stays at most alpha whichever look decides what). A point decided worse
stops for good; an equivalent point stops while it stays equivalent to the current
best (a new best reopens it), and the final verdicts are those of the last look.
Open points (undecided ones and the best) have `RacePlan.seeds_at(k)` seeds at look
k; the race ends when no point is open but the best, or after the last planned look.

The race keeps no state of its own: `advance` replays it from the runs' results
(the run files), so a killed race resumes where its files say it stopped; the
race.json it writes after each round is a summary for readers, never read back.
The decision logic (`decide`, `advance`) is pure numpy/scipy/statsmodels over
per-point accuracy arrays, so it is tested by simulation without training.
"""

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
from scipy import stats
from statsmodels.stats.weightstats import ttest_ind, ttost_ind

from lenet_bench import runs as runs_module
from lenet_bench.config import ExperimentConfig
from lenet_bench.files import read_json
from lenet_bench.records import analysis, statistics

ALPHA = 0.05
SEEDS_PER_ROUND = 2
WORSE, EQUIVALENT, UNDECIDED, BEST = "worse", "equivalent", "undecided", "best"
DESIGN = ("Sequential design: Bonferroni across the planned looks (each look tested at "
          "alpha / looks, a union bound over the race); at each look Holm over every tested "
          "point's two questions. Worse: one-sided Welch t-test on all runs (runs at chance "
          "count at their accuracy) or one-sided Fisher's exact test on the failure counts, "
          "Bonferroni-combined; equivalent: two one-sided Welch t-tests (TOST) within the "
          "margin, and a failure rate not above the best's.")


@dataclasses.dataclass(frozen=True)
class RacePlan:
    """The race's rules: seeds per look, the equivalence margin and the error rate.

    Attributes:
      min_seeds: seeds every point starts with (look 0).
      max_seeds: the most seeds a point gets.
      margin: equivalence margin, as an accuracy fraction (0.005 for 0.5 points).
      alpha: the race's error rate, spent over `looks` looks.
      step: seeds an open point gains per look.
    """

    min_seeds: int = 3
    max_seeds: int = 20
    margin: float = 0.005
    alpha: float = ALPHA
    step: int = SEEDS_PER_ROUND

    @classmethod
    def of(cls, config: ExperimentConfig) -> "RacePlan":
        return cls(config.min_seeds, config.max_seeds, config.margin / 100)

    @property
    def looks(self) -> int:
        """Planned looks: min_seeds, min_seeds + step, ..., max_seeds."""
        return 1 + math.ceil(max(self.max_seeds - self.min_seeds, 0) / self.step)

    @property
    def alpha_per_look(self) -> float:
        return self.alpha / self.looks

    def seeds_at(self, look: int) -> int:
        return min(self.min_seeds + self.step * look, self.max_seeds)


@dataclasses.dataclass
class Look:
    """The tests of one look: per point its verdict and p-values (NaN: not tested)."""

    best: int
    verdicts: list[str]
    p_worse: list[float]
    p_equivalent: list[float]


@dataclasses.dataclass
class Race:
    """Where a race stands, replayed from the results it has.

    Attributes:
      seeds: per point, the seeds it has (finished) or, when not `finished`, needs
        for the current look.
      verdicts: per point, worse, equivalent, undecided or best (at the last look).
      decided_at: per point, the look its verdict was reached at (None: open).
      looks: the looks taken.
      finished: no more runs to train.
      last: the last look's tests (None before the first look).
    """

    seeds: list[int]
    verdicts: list[str]
    decided_at: list[int | None]
    looks: int
    finished: bool
    last: Look | None = None

    def reasons(self, plan: RacePlan) -> list[str]:
        """Per point, why it stopped getting seeds (or, in a race not finished, that it
        has not: the seeds its next look wants)."""
        texts = []
        for verdict, look, seeds in zip(self.verdicts, self.decided_at, self.seeds):
            if verdict in (WORSE, EQUIVALENT):
                texts.append(f"{verdict} at look {look + 1} ({seeds} seeds)")
            elif verdict == BEST:
                texts.append("the best (highest mean at the last look)")
            elif not self.finished:
                texts.append(f"open: {seeds} seeds wanted for look {self.looks + 1}")
            elif seeds >= plan.max_seeds:
                texts.append(f"undecided at max seeds ({plan.max_seeds})")
            else:
                texts.append(f"undecided after the {plan.looks} planned looks")
        return texts


def worse_p(point: np.ndarray, point_failed: np.ndarray, best: np.ndarray,
            best_failed: np.ndarray) -> float:
    """p of "the point is not worse than the best": the smaller of the one-sided Welch
    t-test (all runs) and the one-sided Fisher's exact test (failure counts), doubled."""
    welch = ttest_ind(point, best, alternative="smaller", usevar="unequal")[1]
    welch = 1.0 if np.isnan(welch) else welch  # Both samples constant: no evidence.
    fisher = fisher_greater_p(int(point_failed.sum()), int((~point_failed).sum()),
                              int(best_failed.sum()), int((~best_failed).sum()))
    return min(1.0, 2 * min(welch, fisher))


@functools.lru_cache(maxsize=4096)
def fisher_greater_p(point_failures: int, point_learned: int, best_failures: int,
                     best_learned: int) -> float:
    """One-sided Fisher's exact test: p of "the point fails no more often than the best"."""
    table = [[point_failures, point_learned], [best_failures, best_learned]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def holm_rejects(p_values: list[float], alpha: float) -> list[bool]:
    """Holm's step-down: the hypotheses rejected at family-wise error rate `alpha`.

    The same decisions as statsmodels' `multipletests(method="holm")` (a test checks
    it), which calls gc.collect() on every call: 0.1 s each, on a loaded 2-core
    machine, where a simulation of 1000 races makes thousands of calls.
    """
    order = np.argsort(p_values, kind="stable")
    rejected = [False] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] > alpha / (len(p_values) - rank):
            break
        rejected[index] = True
    return rejected


def equivalent_p(point: np.ndarray, point_failed: np.ndarray, best: np.ndarray,
                 best_failed: np.ndarray, margin: float) -> float:
    """p of "the point is not within `margin` of the best" (TOST, unequal variances);
    1 when the point's failure rate is above the best's."""
    if point_failed.mean() > best_failed.mean():
        return 1.0
    p_value = ttost_ind(point, best, -margin, margin, usevar="unequal")[0]
    return 1.0 if np.isnan(p_value) else float(p_value)


def decide(accuracies: list[np.ndarray], failed: list[np.ndarray], worse_before: list[bool],
           plan: RacePlan) -> Look:
    """One look: the best among the points not already worse, and every other such
    point's verdict against it, Holm-corrected over both questions at alpha / looks."""
    means = [acc.mean() if not gone else -np.inf for acc, gone in zip(accuracies, worse_before)]
    best = int(np.argmax(means))
    tested = [i for i, gone in enumerate(worse_before) if not gone and i != best]
    count = len(accuracies)
    p_worse, p_equivalent = [math.nan] * count, [math.nan] * count
    verdicts = [WORSE if gone else UNDECIDED for gone in worse_before]
    verdicts[best] = BEST
    if not tested:
        return Look(best, verdicts, p_worse, p_equivalent)
    for i in tested:
        args = (accuracies[i], failed[i], accuracies[best], failed[best])
        p_worse[i] = worse_p(*args)
        p_equivalent[i] = equivalent_p(*args, plan.margin)
    p_values = [p_worse[i] for i in tested] + [p_equivalent[i] for i in tested]
    rejected = holm_rejects(p_values, plan.alpha_per_look)
    for position, i in enumerate(tested):
        if rejected[position]:
            verdicts[i] = WORSE
        elif rejected[len(tested) + position]:
            verdicts[i] = EQUIVALENT
    return Look(best, verdicts, p_worse, p_equivalent)


def advance(accuracies: list[np.ndarray], failed: list[np.ndarray], plan: RacePlan) -> Race:
    """Replays the race over the results there are.

    Args:
      accuracies: per grid point, the final test accuracies of its seeds in seed
        order (first_seed, first_seed + 1, ...): a prefix, as far as they exist.
      failed: per grid point, which of those runs failed (at chance or diverged).
      plan: the race's rules.

    Returns:
      The race after the last look its results allow: `finished`, or with
      `seeds` saying how many seeds each point needs for the next look.
    """
    count = len(accuracies)
    seeds = [plan.min_seeds] * count
    decided_at: list[int | None] = [None] * count
    verdicts, last = [UNDECIDED] * count, None
    for look in range(plan.looks):
        if any(len(accuracies[i]) < seeds[i] for i in range(count)):
            return Race(seeds, verdicts, decided_at, look, False, last)
        last = decide([accuracies[i][:seeds[i]] for i in range(count)],
                      [failed[i][:seeds[i]] for i in range(count)],
                      [verdict == WORSE for verdict in verdicts], plan)
        for i, verdict in enumerate(last.verdicts):
            if verdict in (WORSE, EQUIVALENT) and verdicts[i] != verdict:
                decided_at[i] = look
            elif verdict not in (WORSE, EQUIVALENT):
                decided_at[i] = None
        verdicts = last.verdicts
        open_points = [i for i, verdict in enumerate(verdicts) if verdict == UNDECIDED]
        wanted = [i for i in open_points + [last.best] if seeds[i] < plan.max_seeds]
        if not open_points or not wanted or look + 1 == plan.looks:
            return Race(seeds, verdicts, decided_at, look + 1, True, last)
        for i in wanted:
            seeds[i] = max(seeds[i], plan.seeds_at(look + 1))
    raise AssertionError("unreachable: the last planned look returns")


def point_results(runs_dir: Path, points: list[ExperimentConfig], first_seed: int,
                  num_classes: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per grid point, the final test accuracies of its finished runs and which of them
    failed, for seeds first_seed, first_seed + 1, ... up to the first one not finished.
    A diverged run failed and counts at chance accuracy."""
    accuracies, failed = [], []
    for point in points:
        values = []
        for seed in range(first_seed, first_seed + 10_000):
            record = read_json(runs_module.run_path(runs_dir, runs_module.point_spec(point, seed)))
            if not record or record.get("status") not in runs_module.FINISHED_STATUSES \
                    or record.get("results_format") != runs_module.RESULTS_FORMAT:
                break
            accuracy = analysis.final_accuracy(record)
            values.append(1 / num_classes if np.isnan(accuracy) else accuracy)
        values = np.asarray(values, dtype=float)
        accuracies.append(values)
        failed.append(statistics.at_chance(values, num_classes))
    return accuracies, failed
