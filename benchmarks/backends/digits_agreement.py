"""The same small digits study on TensorFlow, JAX and PyTorch: each backend draws its own
initial weights from the seeds, so the runs differ, but the accuracies should agree within
seed noise (a Welch 99% interval of each pair's difference holds 0) and every backend learn.

    python benchmarks/backends/digits_agreement.py [SEEDS] > benchmarks/backends/digits_agreement.txt

Each backend trains the runs through `train_group` (the trainer `--trainer=auto` picks
there) in a process of its own. It was a test in `make test` until the test time budget
(6 minutes, three backend sessions) needed its 40 s: it is a benchmark now, and the
per-backend sessions test each trainer against its references."""

import itertools
import json
import os
import statistics
import subprocess
import sys

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from lenet_bench import backends  # noqa: E402
from lenet_bench.reports.compare import welch_interval  # noqa: E402

SEEDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
CHANCE = 0.1
TRAIN = '''
import json, sys
from lenet_bench import backends, machine, runs
from lenet_bench.inputs import data
from lenet_bench.config import ExperimentConfig
backends.use_jax_compilation_cache(sys.argv[2])
machine.configure_threads(1)
from lenet_bench.trainers.group_loop import train_group
config = ExperimentConfig(name="agree", dataset="digits", epochs=2, batch_size=32, seeds={seeds},
                          train_size=400, learning_rate=0.005, backend=sys.argv[1])
dataset = data.take_train_subset(data.load("digits"), 400, 0)
records = [record for group in runs.make_groups(runs.run_specs(config), 12)
           for record in train_group(group, dataset, None, keep_best=False)]
print("ACCURACIES", json.dumps([record["history"]["test_accuracy"][-1] for record in records]))
'''


def accuracies_on(backend: str, tmp_path) -> list[float]:
    environment = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", TRAIN.format(seeds=SEEDS), backend,
                           str(tmp_path / "jax_cache")],
                          cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("ACCURACIES "))
    return json.loads(line.split(" ", 1)[1])


def main() -> int:
    import tempfile

    print(f"# {SEEDS} seeds x 2 epochs of 400 digits images, batch 32, lr 0.005, per backend")
    with tempfile.TemporaryDirectory() as folder:
        accuracies = {name: accuracies_on(name, Path(folder)) for name in backends.BACKENDS
                      if backends.installed(name)}
    agree = True
    for name, values in accuracies.items():
        learns = min(values) > CHANCE + 0.3
        agree &= learns
        print(f"{name:10s} final test accuracy % " + " ".join(f"{100 * v:.2f}" for v in values)
              + f"   mean {100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"
              + ("" if learns else "   DOES NOT LEARN"))
    for a, b in itertools.combinations(accuracies, 2):
        stats_a, stats_b = ((statistics.mean(accuracies[side]), statistics.stdev(accuracies[side]),
                             len(accuracies[side])) for side in (a, b))
        difference, low, high = welch_interval(stats_a, stats_b, confidence=0.99)
        holds = low <= 0 <= high
        agree &= holds
        print(f"{b} - {a}: {100 * difference:+.2f} points, 99% Welch interval "
              f"[{100 * low:+.2f}, {100 * high:+.2f}]: {'agree' if holds else 'DIFFER'}")
    print("all agree within seed noise" if agree else "NOT ALL AGREE")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
