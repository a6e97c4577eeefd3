"""Training speed of the two JAX trainers on this CPU: steps_jax (per run) vs fused_jax.

    KERAS_BACKEND=jax nice python benchmarks/jax_cpu_speed.py [--train 2560] [--replicas 1,4,12]

For each group size R: R runs of plain LeNet-5 (Adam, batch 128) on random
Fashion-MNIST-shaped images (28x28x1; speed does not depend on pixel values),
trained by KerasReplicas (each run alone, its steps from steps_jax) and by
FusedKerasReplicas (the R runs vmapped). The first epoch compiles; the second
is timed. Prints replica-images/s of the timed epoch (training only). JAX's
compilation cache is on (in a temporary folder), so the per-run trainer's R
identical models compile once, not R times.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from lenet_bench import machine, runs  # noqa: E402
from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.trainers.fused_jax import FusedKerasReplicas  # noqa: E402
from lenet_bench.trainers.keras_replicas import KerasReplicas  # noqa: E402

BATCH = 128


def timed_epochs(trainer, dataset, count):
    """(seconds of epoch 1 with its compiling, seconds of epoch 2)."""
    labels = np.stack([dataset.train_labels] * count)
    seconds = []
    for epoch in range(2):
        orders = np.stack([np.random.default_rng([seed, epoch]).permutation(len(labels[0]))
                           for seed in range(count)])
        started = time.perf_counter()
        result = trainer.train_epoch(dataset.train_images, labels, orders, BATCH,
                                     [0.001] * count, dataset.train_labels)
        seconds.append(time.perf_counter() - started)
    assert np.isfinite(result["loss"]).all()
    return seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=2560)
    parser.add_argument("--replicas", default="1,4,12")
    args = parser.parse_args()
    jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="jax_cache_"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    dataset = data.make_synthetic(args.train, 100)
    print(f"device: {machine.describe_device()}; cores: {os.cpu_count()}; "
          f"load average: {os.getloadavg()[0]:.2f}")
    print(f"versions: {machine.library_versions()}")
    print(f"work: R runs x 2 epochs of {args.train} images 28x28x1, batch {BATCH}, adam; "
          "epoch 2 timed (epoch 1 compiles)")
    print(f"{'trainer':10s} {'R':>3s} {'epoch 1 s':>10s} {'epoch 2 s':>10s} {'images/s':>9s}")
    for count in [int(r) for r in args.replicas.split(",")]:
        specs = [runs.RunSpec(dataset="synthetic", seed=seed, batch_size=BATCH)
                 for seed in range(count)]
        weights = [models.build_run_model(spec, dataset).get_weights() for spec in specs]
        for name, make in (("per-run", KerasReplicas), ("fused", FusedKerasReplicas)):
            first, second = timed_epochs(make(weights, specs, dataset), dataset, count)
            print(f"{name:10s} {count:3d} {first:10.2f} {second:10.2f} "
                  f"{count * args.train / second:9.0f}", flush=True)


if __name__ == "__main__":
    main()
