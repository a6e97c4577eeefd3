"""A race against the 5-seed fixed study: each grid point's verdict in both.

    python benchmarks/racing/agreement.py > benchmarks/racing/agreement.txt
    python benchmarks/racing/agreement.py fashion_mnist_init_lr_grid \
        > benchmarks/racing/agreement_fashion_mnist.txt

Run from the repository root; the experiment (default mnist_init_lr_grid) is the first
argument. The race's verdicts are replayed from its run files
(benchmarks/racing/<experiment>/, as far as it got); the fixed study's are the race's own
tests at a single look over its 5 seeds (alpha not split over looks), from the run files
of benchmarks/make_bench_full_study/<experiment>/.
"""

import collections
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lenet_bench.config import ExperimentConfig  # noqa: E402
from lenet_bench.records import race_rule  # noqa: E402

EXPERIMENT = sys.argv[1] if len(sys.argv) > 1 else "mnist_init_lr_grid"
RACE_DIR = Path("benchmarks/racing") / EXPERIMENT
FIXED_DIR = Path("benchmarks/make_bench_full_study") / EXPERIMENT
DECIDED = (race_rule.WORSE, race_rule.EQUIVALENT)


def verdicts(experiment_dir: Path,
             plan: race_rule.RacePlan | None) -> tuple[dict, race_rule.Race, race_rule.RacePlan]:
    """{point label: verdict}, the race and its plan, replayed from the folder's run files."""
    config = ExperimentConfig(**json.loads((experiment_dir / "config.json").read_text())["config"])
    points = config.grid_points()
    accuracies, failed = race_rule.point_results(experiment_dir / "runs", points,
                                              config.first_seed, 10)
    plan = plan or race_rule.RacePlan.of(config)
    race = race_rule.advance(accuracies, failed, plan)
    labels = [f"{p.initializer} lr {p.learning_rate:g} decay {p.lr_decay:g}" for p in points]
    return dict(zip(labels, race.verdicts)), race, plan


def main() -> None:
    race_verdicts, race, plan = verdicts(RACE_DIR, None)
    fixed_verdicts, _, _ = verdicts(FIXED_DIR, race_rule.RacePlan(min_seeds=5, max_seeds=5,
                                                            margin=0.005))
    print(f"race: {'finished' if race.finished else 'not finished'} after {race.looks} looks; "
          f"{sum(race.seeds)} runs counted (the seeds its looks use)")
    print(f"{'grid point':40s} {'race':>11s} {'seeds':>5s} {'fixed 5 seeds':>13s}")
    for (label, verdict), seeds in zip(race_verdicts.items(), race.seeds):
        print(f"{label:40s} {verdict:>11s} {seeds:5d} {fixed_verdicts[label]:>13s}")
    pairs = collections.Counter((race_verdicts[label], fixed_verdicts[label])
                                for label in race_verdicts)
    print("\ncounts (race verdict, fixed verdict):")
    for (ours, theirs), count in sorted(pairs.items()):
        print(f"  race {ours:>10s}, fixed {theirs:>10s}: {count}")
    both = [label for label in race_verdicts
            if race_verdicts[label] in DECIDED and fixed_verdicts[label] in DECIDED]
    agree = sum(race_verdicts[label] == fixed_verdicts[label] for label in both)
    print(f"\nboth decided (worse or equivalent): {len(both)} points; same verdict: {agree}")
    for verdict in (race_rule.WORSE, race_rule.EQUIVALENT, race_rule.UNDECIDED, race_rule.BEST):
        print(f"{verdict}: race {list(race_verdicts.values()).count(verdict)}, "
              f"fixed {list(fixed_verdicts.values()).count(verdict)}")
    hypotheses = 2 * sum(not np.isnan(p) for p in race.last.p_worse)
    print(f"race's last look: smallest p of worse {np.nanmin(race.last.p_worse):.2g}, of "
          f"equivalent {np.nanmin(race.last.p_equivalent):.2g}; Holm's first threshold "
          f"{plan.alpha_per_look:g} / {hypotheses} = {plan.alpha_per_look / hypotheses:.2g}")


if __name__ == "__main__":
    main()
