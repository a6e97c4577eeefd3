"""Compares the run files of the ray_engine benchmark's workdirs with their local twins.

    python benchmarks/ray_engine/compare.py WORK

Per pair: runs whose records (less timings) are identical, the largest
difference in any loss or accuracy, and the training seconds summed over
runs (epoch_seconds, as train.py records them) beside the wall time.
"""

import json
import sys
from pathlib import Path

PAIRS = [("fused_local", "fused_ray_cpus1"), ("fused_local", "fused_ray_cpus2"),
         ("keras_local", "keras_ray_cpus2")]
TIMINGS = ("started", "finished", "wall_seconds")


def records(workdir):
    return {path.stem: json.loads(path.read_text())
            for path in (workdir / "mnist_init_lr_grid" / "runs").glob("*.json")}


def comparable(record):
    record = {name: value for name, value in record.items() if name not in TIMINGS}
    record["history"] = {name: values for name, values in record["history"].items()
                         if name != "epoch_seconds"}
    return record


def main(work):
    work = Path(work)
    for local, other in PAIRS:
        ours, theirs = records(work / local), records(work / other)
        assert ours.keys() == theirs.keys(), (local, other)
        same = sum(comparable(ours[key]) == comparable(theirs[key]) for key in ours)
        largest = max(abs(a - b) for key in ours for name in ours[key]["history"]
                      if name not in ("epoch", "learning_rate", "epoch_seconds")
                      for a, b in zip(ours[key]["history"][name], theirs[key]["history"][name]))
        print(f"{local} vs {other}: {len(ours)} runs, {same} identical records (less timings), "
              f"largest metric difference {largest:.3g}")
    for name in sorted({name for pair in PAIRS for name in pair}):
        runs = records(work / name)
        seconds = sum(sum(run["history"]["epoch_seconds"]) for run in runs.values())
        accuracy = sum(run["history"]["test_accuracy"][-1] for run in runs.values()) / len(runs)
        print(f"{name}: {len(runs)} runs, training seconds summed over runs {seconds:.1f}, "
              f"mean final test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
