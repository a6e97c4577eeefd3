"""The error rates, power and race savings of lenet_bench.records.decision, by simulation.

    PYTHONPATH=. .venv/bin/python benchmarks/statistics/decision_simulation.py \
        > benchmarks/statistics/decision_simulation.txt

Part 1: false "worse" over grids of equal points and false "equivalent" per point (each
must stay at most alpha + 2 standard errors), with power. Part 2: the race (looks at 3,
5, ..., 19, 20 seeds) against the fixed design (every point at 20 seeds) on grids whose
points have the learned means, learned sds and failure rates of the committed 5-seed
studies in benchmarks/make_bench_full_study/{cifar10,mnist,fashion_mnist}_init_lr_grid,
and the spending rules it was chosen among. Part 3: `decide` on those committed studies
themselves: verdicts, seeds needed and its wall time. About a minute on a 2-core CPU.
"""

import glob
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

from lenet_bench import machine
from lenet_bench.records import analysis, decision

ALPHA = 0.05
STUDIES = 4000
RACE_STUDIES = 1000
GRIDS = ("cifar10", "mnist", "fashion_mnist")
STUDY_DIR = Path(__file__).resolve().parents[1] / "make_bench_full_study"
AXES = ("initializer", "learning_rate", "lr_decay")


def limit(studies: int) -> float:
    return ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / studies)


def false_worse_cases(rng) -> None:
    print(f"\n## False 'worse' over a grid ({STUDIES} studies per case; bound alpha + 2 SE = "
          f"{limit(STUDIES):.4f}); power: a point 2 points below, called worse")
    print(f"{'points':>6} {'seeds':>5} {'sd':>4} {'false worse':>11} {'power':>6}")
    for points in (8, 36, 120):
        for seeds in (5, 10, 20):
            for sd in (0.5, 2.5):
                mean = np.r_[np.full(points, 0.9), 0.88]
                st = decision.simulate_stats(mean, sd / 100, 0.0,
                                             np.full((STUDIES, points + 1), seeds), rng)
                worse = decision.worse_calls(st, ALPHA)
                print(f"{points:>6} {seeds:>5} {sd:>4} {worse[:, :points].any(-1).mean():>11.4f} "
                      f"{worse[:, points].mean():>6.3f}")
    values = decision.simulate_runs(np.full(36, 0.9), np.full(36, 0.01), np.full(36, 0.2),
                                    (STUDIES, 36, 10), rng)
    worse = decision.worse_calls(decision.summarize(values, 10), ALPHA)
    print(f"36 equal points each failing 20% of runs, 10 seeds, sd 1: false worse "
          f"{worse.any(-1).mean():.4f}")


def false_equivalent_cases(rng) -> None:
    print(f"\n## False 'equivalent' per point ({STUDIES} studies per case; margin 0.5 points, "
          "failure limit 0.2); power: the same with no difference and no failures")
    print(f"{'case':<44} {'seeds':>5} {'false equivalent':>16} {'power':>6}")
    cases = [("learned mean the margin below the best, sd 0.5", 0.005, 0.0),
             ("best's learned mean, fails 30%", 0.0, 0.3),
             ("best's learned mean, fails 20% (the limit)", 0.0, 0.2)]
    for name, gap, rate in cases:
        for seeds in (20, 40):
            st = decision.simulate_stats(np.array([0.9, 0.9 - gap]), 0.005, np.array([0.0, rate]),
                                         np.full((STUDIES, 2), seeds), rng)
            codes = decision.verdict_codes(st, ALPHA, 0.005, 0.2)
            # At the margin both points are wrong to call equivalent; with failures only
            # the failing point is (the clean one is equivalent in truth).
            error = (codes == decision.EQUIVALENT).mean(0)[slice(None) if rate == 0 else 1].max()
            clean = decision.simulate_stats(np.array([0.9, 0.9]), 0.005, 0.0,
                                            np.full((STUDIES, 2), seeds), rng)
            power = (decision.verdict_codes(clean, ALPHA, 0.005, 0.2)
                     == decision.EQUIVALENT).any(-1).mean()
            print(f"{name:<44} {seeds:>5} {error:>16.4f} {power:>6.3f}")
    for seeds, sd in ((20, 0.7), (40, 1.0), (60, 1.0)):
        st = decision.simulate_stats(np.r_[0.905, np.full(35, 0.9)], sd / 100, 0.0,
                                     np.full((STUDIES, 36), seeds), rng)
        error = (decision.verdict_codes(st, ALPHA, 0.005, 0.2)[:, 0] == decision.EQUIVALENT).mean()
        print(f"{f'true best a margin above 35 tied, sd {sd}':<44} {seeds:>5} {error:>16.4f}")


def grid_truth(name: str) -> pd.DataFrame:
    """Per point of a committed study: learned mean, learned sd, failure rate, runs."""
    rows = []
    for path in glob.glob(str(STUDY_DIR / f"{name}_init_lr_grid" / "runs" / "*.json")):
        run = json.loads(Path(path).read_text())
        accuracy = analysis.final_accuracy(run)
        rows.append({**{axis: run["spec"][axis] for axis in AXES},
                     "seed": run["spec"]["seed"], "test_accuracy": accuracy})
    return pd.DataFrame(rows)


def truth_of(runs: pd.DataFrame) -> tuple:
    frame = decision.decide(runs, point=list(AXES), seeds_needed=False)
    sd = frame.learned_sd.fillna(frame.learned_sd.mean()).to_numpy()
    return frame.learned_mean.to_numpy(), sd, frame.failure_rate.to_numpy()


def race_against_fixed(truth: tuple, rng, final_share=decision.FINAL_SHARE,
                       futility=True, studies=RACE_STUDIES) -> tuple:
    points = len(truth[0])
    values = decision.simulate_runs(*truth, (studies, points, 20), rng)
    fixed = decision.verdict_codes(decision.summarize(values, 10), ALPHA, 0.005, 0.2)
    plan = decision.race_plan(3, 20, 2, ALPHA, final_share)
    race = decision.race_arrays(values, plan, 10, 0.005, 0.2, futility=futility)
    return (decided(fixed), decided(race["codes"]),
            race["seeds"].sum(-1).mean() / (points * 20))


def decided(codes: np.ndarray) -> float:
    """Decisions (worse or equivalent) per simulated study."""
    return np.isin(codes, (decision.WORSE, decision.EQUIVALENT)).sum(-1).mean()


def race_cases(truths: dict, rng) -> None:
    print(f"\n## The race (looks at 3, 5, ..., 19, 20 seeds; final share "
          f"{decision.FINAL_SHARE} of alpha at the last look, the rest split evenly; futility "
          f"on) against the fixed design (20 seeds per point, alpha {ALPHA}); "
          f"{RACE_STUDIES} simulated studies per grid; decisions = worse + equivalent")
    print(f"{'grid':<14} {'points':>6} {'fixed decisions':>15} {'race decisions':>14} "
          f"{'ratio':>6} {'race runs / fixed runs':>22}")
    for name, truth in truths.items():
        fixed, race, runs = race_against_fixed(truth, rng)
        print(f"{name:<14} {len(truth[0]):>6} {fixed:>15.2f} {race:>14.2f} {race / fixed:>6.3f} "
              f"{runs:>22.3f}")
    print("\nThe spending rules tried (500 studies each; decisions ratio / runs ratio):")
    print(f"{'final share':>11} {'futility':>8} " + " ".join(f"{name:>16}" for name in truths))
    for share in (0.1, 0.25, 0.5, 0.75):
        for futility in (True, False):
            cells = []
            for truth in truths.values():
                fixed, race, runs = race_against_fixed(truth, rng, share, futility, 500)
                cells.append(f"{race / fixed:.3f} / {runs:.3f}")
            print(f"{share:>11} {str(futility):>8} " + " ".join(f"{c:>16}" for c in cells))


def race_error_cases(rng) -> None:
    print(f"\n## The race's error rates over its looks ({STUDIES} studies per case)")
    mean = np.r_[np.full(36, 0.9), 0.88]
    values = decision.simulate_runs(mean, np.full(37, 0.01), np.zeros(37), (STUDIES, 37, 20), rng)
    codes = decision.race_arrays(values, decision.race_plan(), 10, 0.005, 0.2)["codes"]
    print(f"36 equal points and one 2 points below, sd 1: false worse "
          f"{(codes[:, :36] == decision.WORSE).any(-1).mean():.4f}, power "
          f"{(codes[:, 36] == decision.WORSE).mean():.3f}")
    values = decision.simulate_runs(np.array([0.9, 0.895]), np.full(2, 0.003), np.zeros(2),
                                    (STUDIES, 2, 20), rng)
    codes = decision.race_arrays(values, decision.race_plan(), 10, 0.005, 0.2)["codes"]
    print(f"two points the margin apart, sd 0.3: false equivalent (either point) "
          f"{(codes == decision.EQUIVALENT).mean(0).max():.4f}")


def committed_studies(studies: dict) -> None:
    print("\n## decide on the committed 5-seed studies (36 points each)")
    for name, runs in studies.items():
        start = time.perf_counter()
        frame = decision.decide(runs, point=list(AXES))
        seconds = time.perf_counter() - start
        counts = frame.verdict.value_counts().to_dict()
        needed = frame.seeds_needed.dropna()
        finite = needed[np.isfinite(needed)]
        print(f"{name:<14} verdicts {counts}; seeds_needed of the undecided: median "
              f"{np.median(needed) if len(needed) else math.nan:g}, {len(finite)} of "
              f"{len(needed)} within {decision.SEEDS_CAP}; seeds per point deciding 80% of "
              f"them: {frame.attrs['seeds_to_decide_most']:g}; decide took {seconds:.1f} s")


def main() -> None:
    described = machine.describe_machine(with_gpus=False)
    print(f"# PYTHONPATH=. {' '.join(['.venv/bin/python', *sys.argv])}")
    print(f"# {described['cpu']}, {described['cores']} cores (shared), {platform.platform()}, "
          f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}")
    print(f"# procedure: {decision.PROCEDURE}")
    start = time.perf_counter()
    rng = np.random.default_rng(2026)
    false_worse_cases(rng)
    false_equivalent_cases(rng)
    studies = {name: grid_truth(name) for name in GRIDS}
    race_cases({name: truth_of(runs) for name, runs in studies.items()}, rng)
    race_error_cases(rng)
    committed_studies(studies)
    print(f"\n# total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
