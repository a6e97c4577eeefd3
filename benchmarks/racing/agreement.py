"""A race against the 5-seed fixed study: each grid point's verdict in both.

    python benchmarks/racing/agreement.py benchmarks/racing_decision/mnist_init_lr_grid \
        > benchmarks/racing_decision/agreement.txt

Run from the repository root; the argument is the race's experiment folder. The race's
verdicts are replayed from its run files (as far as it got) with the current rule; the
fixed study's are `lenet_bench.decide` on the runs of
benchmarks/make_bench_full_study/<experiment>/ at the race's margin.
"""

import collections
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lenet_bench.config import ExperimentConfig  # noqa: E402
from lenet_bench.records import decision, race_rule, results  # noqa: E402

RACE_DIR = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/racing/mnist_init_lr_grid")
FIXED_DIR = Path("benchmarks/make_bench_full_study") / RACE_DIR.name
DECIDED = ("worse", "equivalent")


def label(initializer: str, learning_rate: float, lr_decay: float) -> str:
    return f"{initializer} lr {learning_rate:g} decay {lr_decay:g}"


def main() -> None:
    config = ExperimentConfig(**json.loads((RACE_DIR / "config.json").read_text())["config"])
    race = race_rule.replay(config, RACE_DIR / "runs", 10)
    labels = [label(p.initializer, p.learning_rate, p.lr_decay) for p in config.grid_points()]
    race_verdicts = dict(zip(labels, race.verdicts))
    runs = results.load(FIXED_DIR)
    runs = runs[runs.status == "done"].groupby("run_key").tail(1)
    fixed = decision.decide(runs, point=["initializer", "learning_rate", "lr_decay"],
                            value="final_test_accuracy", margin=config.margin,
                            failure_limit=config.failure_limit, seeds_needed=False)
    fixed_verdicts = {label(*row[:3]): row[3] for row in fixed[
        ["initializer", "learning_rate", "lr_decay", "verdict"]].itertuples(index=False)}
    print(f"race: {'finished' if race.finished else 'not finished'} after {race.looks_taken} "
          f"looks; {sum(race.seeds)} runs used of {race.runs_on_disk} in its folder; margin "
          f"{config.margin:g} points")
    print(f"{'grid point':40s} {'race':>11s} {'seeds':>5s} {'fixed 5 seeds':>13s}")
    for (name, verdict), seeds in zip(race_verdicts.items(), race.seeds):
        print(f"{name:40s} {verdict:>11s} {seeds:5d} {fixed_verdicts[name]:>13s}")
    pairs = collections.Counter((race_verdicts[name], fixed_verdicts[name])
                                for name in race_verdicts)
    print("\ncounts (race verdict, fixed verdict):")
    for (ours, theirs), count in sorted(pairs.items()):
        print(f"  race {ours:>10s}, fixed {theirs:>10s}: {count}")
    both = [name for name in race_verdicts
            if race_verdicts[name] in DECIDED and fixed_verdicts[name] in DECIDED]
    agree = sum(race_verdicts[name] == fixed_verdicts[name] for name in both)
    print(f"\nboth decided (worse or equivalent): {len(both)} points; same verdict: {agree}")
    for verdict in ("worse", "equivalent", "undecided", "best"):
        print(f"{verdict}: race {list(race_verdicts.values()).count(verdict)}, "
              f"fixed {list(fixed_verdicts.values()).count(verdict)}")


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
