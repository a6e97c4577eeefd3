"""What `--seeds=auto` (max_seeds 8, and the default 20) does on mnist_init_lr_grid, simulated.

    python benchmarks/racing/simulate_mnist.py > benchmarks/racing/simulate_mnist.txt

Run from the repository root. Each grid point's runs are drawn from the 5-seed fixed
study (benchmarks/make_bench_full_study/mnist_init_lr_grid/): learned runs from a
normal with that point's mean and standard deviation of its learned runs, runs at
chance at its observed failure rate. No training: the race's decisions only.
"""

import collections
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lenet_bench.config import ExperimentConfig  # noqa: E402
from lenet_bench.records import race_rule  # noqa: E402

FIXED_DIR = Path("benchmarks/make_bench_full_study/mnist_init_lr_grid")
RACES = 40


def main() -> None:
    config = ExperimentConfig(**json.loads((FIXED_DIR / "config.json").read_text())["config"])
    points = config.grid_points()
    accuracies, failed = race_rule.point_results(FIXED_DIR / "runs", points, 0, 10)
    spreads = [100 * values[~fails].std(ddof=1) for values, fails in zip(accuracies, failed)]
    means = [100 * values[~fails].mean() for values, fails in zip(accuracies, failed)]
    print(f"5-seed study, learned runs: point means {min(means):.2f} to {max(means):.2f}%, "
          f"standard deviations {min(spreads):.2f} to {max(spreads):.2f} points")
    for max_seeds in (8, 20):
        simulate(accuracies, failed, race_rule.RacePlan(min_seeds=3, max_seeds=max_seeds,
                                                     margin=0.005))


def simulate(accuracies: list[np.ndarray], failed: list[np.ndarray],
             plan: race_rule.RacePlan) -> None:
    """Prints the runs, looks and verdicts of RACES races under `plan`."""
    rng = np.random.default_rng(0)
    verdicts, runs, looks = collections.Counter(), [], []
    for _ in range(RACES):
        drawn_acc, drawn_failed = [], []
        for values, fails in zip(accuracies, failed):
            learned = values[~fails]
            failing = rng.random(plan.max_seeds) < fails.mean()
            drawn_acc.append(np.where(failing, rng.normal(0.1, 0.002, plan.max_seeds),
                                      rng.normal(learned.mean(), learned.std(ddof=1),
                                                 plan.max_seeds)))
            drawn_failed.append(failing)
        race = race_rule.advance(drawn_acc, drawn_failed, plan)
        verdicts.update(race.verdicts)
        runs.append(sum(race.seeds))
        looks.append(race.looks)
    print(f"\n{RACES} simulated races of {len(accuracies)} points, min_seeds 3, max_seeds "
          f"{plan.max_seeds}, "
          f"margin 0.5 points, alpha {plan.alpha} over {plan.looks} looks")
    print(f"runs per race: mean {np.mean(runs):.1f}, min {min(runs)}, max {max(runs)} "
          f"(fixed design: {len(accuracies) * plan.max_seeds}); looks: mean {np.mean(looks):.2f}")
    print("verdicts per race (mean): " + ", ".join(
        f"{verdict} {verdicts[verdict] / RACES:.2f}"
        for verdict in (race_rule.WORSE, race_rule.EQUIVALENT, race_rule.UNDECIDED, race_rule.BEST)))


if __name__ == "__main__":
    main()
