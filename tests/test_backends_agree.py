"""The same small digits study on TensorFlow, JAX and PyTorch: each backend draws its own
initial weights from the seeds, so the runs differ, but the accuracies agree within seed
noise (a Welch 99% interval of each pair's difference holds 0) and every backend learns.

Each backend trains the runs through `train_group` (the trainer `--trainer=auto` picks
there) in a process of its own, without writing reports: the CLI around it is tested
elsewhere, on each backend."""

import itertools
import json
import os
import statistics
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from lenet_bench import backends
from lenet_bench.compare import welch_interval

SEEDS = 3
CHANCE = 0.1
TRAIN = '''
import json, sys
from lenet_bench import backends, data, machine, runs
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


def test_tensorflow_jax_and_torch_agree_within_seed_noise(tmp_path):
    missing = [name for name in ("jax", "torch") if not backends.installed(name)]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (requirements-{missing[0]}.txt)")
    accuracies = {name: accuracies_on(name, tmp_path) for name in backends.BACKENDS}
    for name, values in accuracies.items():
        assert len(values) == SEEDS and min(values) > CHANCE + 0.3, (name, values)
    for a, b in itertools.combinations(accuracies, 2):
        stats_a, stats_b = ((statistics.mean(accuracies[side]), statistics.stdev(accuracies[side]),
                             SEEDS) for side in (a, b))
        difference, low, high = welch_interval(stats_a, stats_b, confidence=0.99)
        assert low <= 0 <= high, (a, b, difference, accuracies)
