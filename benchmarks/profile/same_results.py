"""Checks that two work directories of the same study hold the same results.

    python benchmarks/profile/same_results.py WORKDIR_A WORKDIR_B

Compares every run record (.json, minus what is measured or stamped on the clock:
times, dates, the command line), every .csv table (minus the columns of those),
every .npz array and every .txt table of the two, and prints the differences (exit status 1 if any). For checking that a
change meant to make the suite faster leaves its results as they were.
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np

# Clock readings and stamps: they differ between any two runs of the same study.
CLOCK_KEYS = {"wall_seconds", "epoch_seconds", "train_seconds", "epoch_seconds_mean",
              "inference_ms_per_image_batch1", "inference_ms_per_image_large_batch",
              "started", "finished", "command", "seconds", "total_seconds"}


def without_clock(value):
    if isinstance(value, dict):
        return {key: without_clock(item) for key, item in value.items() if key not in CLOCK_KEYS}
    if isinstance(value, list):
        return [without_clock(item) for item in value]
    return value


def is_clock_column(name: str) -> bool:
    """A summary column derived from clock readings (train_seconds_mean, ...)."""
    return any(name.startswith(key) for key in CLOCK_KEYS)


def csv_without_clock(path: Path) -> list[dict]:
    with open(path, newline="") as file:
        return [{name: value for name, value in row.items() if not is_clock_column(name)}
                for row in csv.DictReader(file)]


def differences(first: Path, second: Path) -> list[str]:
    found = []
    names = sorted({path.relative_to(first) for path in first.rglob("*") if path.is_file()}
                   | {path.relative_to(second) for path in second.rglob("*") if path.is_file()})
    compared = 0
    for name in names:
        a, b = first / name, second / name
        if name.suffix not in (".json", ".npz", ".csv", ".txt"):
            continue
        if not (a.is_file() and b.is_file()):
            found.append(f"{name}: only in {'the first' if a.is_file() else 'the second'}")
            continue
        compared += 1
        if name.suffix == ".json":
            if without_clock(json.loads(a.read_text())) != without_clock(json.loads(b.read_text())):
                found.append(f"{name}: records differ")
        elif name.suffix == ".npz":
            with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
                if sorted(x.files) != sorted(y.files) or any(
                        not np.array_equal(x[key], y[key]) for key in x.files):
                    found.append(f"{name}: arrays differ")
        elif name.suffix == ".csv":
            if csv_without_clock(a) != csv_without_clock(b):
                found.append(f"{name}: tables differ (clock columns left out)")
        elif a.read_bytes() != b.read_bytes():
            found.append(f"{name}: text differs")
    print(f"compared {compared} files (.json and .csv without clock readings, .npz, .txt)")
    return found


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    found = differences(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(found) if found else "same results")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
