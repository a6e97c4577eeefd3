"""The same small digits study on TensorFlow, JAX and PyTorch: each backend draws its own
initial weights from the seeds, so the runs differ, but the accuracies agree within seed
noise (a Welch 99% interval of each pair's difference holds 0) and every backend learns."""

import itertools
import json
import os
import statistics
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from lenet_bench import backends, experiment
from lenet_bench.compare import welch_interval
from lenet_bench.config import ExperimentConfig

SEEDS = 4
EXPERIMENT = '''
from lenet_bench.config import ExperimentConfig


def get_config():
    return ExperimentConfig(name="agree", dataset="digits", epochs=3, batch_size=32, seeds={seeds},
                            train_size=600, learning_rate=0.005)
'''
CHANCE = 0.1


def final_accuracies(experiment_dir) -> list[float]:
    records = [json.loads(path.read_text()) for path in (experiment_dir / "runs").glob("*.json")]
    assert len(records) == SEEDS and all(record["status"] == "done" for record in records)
    return [record["history"]["test_accuracy"][-1] for record in records]


def test_tensorflow_jax_and_torch_agree_within_seed_noise(tmp_path, digits):
    missing = [name for name in ("jax", "torch") if not backends.installed(name)]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (requirements-{missing[0]}.txt)")
    experiment_file = tmp_path / "agree.py"
    experiment_file.write_text(EXPERIMENT.format(seeds=SEEDS))
    environment = {**os.environ, "LENET_BENCH_CACHE": str(tmp_path / "cache")}
    environment.pop("KERAS_BACKEND", None)
    others = {name: subprocess.Popen(
        [sys.executable, "-m", "lenet_bench", f"--experiment={experiment_file}",
         f"--backend={name}", f"--workdir={tmp_path / name}", "--progress=none",
         "--tensorboard=false", "--keras_models=false"],
        cwd=REPO_ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True) for name in ("jax", "torch")}
    config = ExperimentConfig(name="agree", dataset="digits", epochs=3, batch_size=32,
                              seeds=SEEDS, train_size=600, learning_rate=0.005)
    accuracies = {"tensorflow": final_accuracies(
        experiment.run_experiment(config, digits, tmp_path / "tensorflow"))}
    for name, process in others.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-2000:]
        accuracies[name] = final_accuracies(tmp_path / name / "agree")
    for name, values in accuracies.items():
        assert min(values) > CHANCE + 0.3, (name, values)  # Every backend learns.
    for a, b in itertools.combinations(accuracies, 2):
        stats_a, stats_b = ((statistics.mean(accuracies[side]), statistics.stdev(accuracies[side]),
                             SEEDS) for side in (a, b))
        difference, low, high = welch_interval(stats_a, stats_b, confidence=0.99)
        assert low <= 0 <= high, (a, b, difference, accuracies)
