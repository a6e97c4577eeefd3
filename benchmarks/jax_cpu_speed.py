"""Training speed of the replica trainers on this CPU, side by side in one run.

    nice -n 0 python benchmarks/jax_cpu_speed.py [--train 1280] [--replicas 1,12] [--batch 128]

Trainers, each on R runs of plain LeNet-5 (Adam) over random Fashion-MNIST-shaped
images (28x28x1; speed does not depend on pixel values), each replica with its
own data order:

- jax per-run: steps_jax, each run alone (KerasReplicas), the lone-replica rate;
- jax vmap: fused_jax with jax.vmap of the Keras model (grouped convolutions);
- jax matmul: fused_jax with the layers as batched matrix products
  (trainers.lenet_matmul_jax);
- tf fused: the TensorFlow fused trainer (fused_tf, oneDNN on), in a child
  process (one process has one Keras backend).

Every trainer runs whole epochs of the same images; the first compiles (its
excess over a timed epoch is reported as compile time), the best of the timed
epochs gives replica-images/s. % peak: the training arithmetic (TRAIN_FLOP per
image) against float32 matmul GFLOP/s measured here with numpy in the same run.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

# Forward multiply-adds x 2 of LeNet-5 at 28x28 ('same' first conv): conv1 784*25*6,
# conv2 100*150*16, dense 400*120 + 120*84 + 84*10; training is about 3x the forward.
TRAIN_FLOP = 3 * 2 * (784 * 25 * 6 + 100 * 150 * 16 + 400 * 120 + 120 * 84 + 84 * 10)


def matmul_peak_gflops(size: int = 1024, repeats: int = 10) -> float:
    """Best float32 matmul GFLOP/s of numpy on this machine."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9


def timed_epochs(trainer, dataset, count: int, batch: int, epochs: int) -> list[float]:
    """Seconds of each epoch; replica r shuffles with seed r."""
    labels = np.stack([dataset.train_labels] * count)
    seconds = []
    for epoch in range(epochs):
        orders = np.stack([np.random.default_rng([seed, epoch]).permutation(len(labels[0]))
                           for seed in range(count)])
        started = time.perf_counter()
        result = trainer.train_epoch(dataset.train_images, labels, orders, batch,
                                     [0.001] * count, dataset.train_labels)
        seconds.append(time.perf_counter() - started)
    assert np.isfinite(result["loss"]).all()
    return seconds


def trainers_of(backend: str):
    """{name: make(weights, specs, dataset)} of the trainers on `backend`."""
    if backend == "tensorflow":
        from lenet_bench.trainers import fused_tf

        return {"tf fused": lambda weights, specs, dataset: fused_tf.FusedLeNet5(
            weights, dataset.image_shape, dataset.num_classes)}
    from lenet_bench.trainers.fused_jax import FusedKerasReplicas
    from lenet_bench.trainers.keras_replicas import KerasReplicas

    return {"jax per-run": KerasReplicas,
            "jax vmap": lambda *args: FusedKerasReplicas(*args, formulation="vmap"),
            "jax matmul": lambda *args: FusedKerasReplicas(*args, formulation="matmul")}


def measure(backend: str, args) -> list[dict]:
    """Rows of every trainer on `backend` (this process's) for every R."""
    from lenet_bench import runs
    from lenet_bench.inputs import data
    from lenet_bench.networks import models

    dataset = data.make_synthetic(args.train, 100)
    rows = []
    for count in [int(r) for r in args.replicas.split(",")]:
        specs = [runs.RunSpec(dataset="synthetic", seed=seed, batch_size=args.batch)
                 for seed in range(count)]
        weights = [models.build_run_model(spec, dataset).get_weights() for spec in specs]
        for name, make in trainers_of(backend).items():
            if name == "jax per-run" and count != 1:
                continue  # Each run alone: the R=1 row is its rate for any R.
            seconds = timed_epochs(make(weights, specs, dataset), dataset, count, args.batch,
                                   args.epochs)
            best = min(seconds[1:])
            rows.append({"trainer": name, "R": count, "first": seconds[0], "epoch": best,
                         "rate": count * args.train / best})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=1280, help="images per epoch")
    parser.add_argument("--replicas", default="1,12")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3, help="the first one compiles")
    parser.add_argument("--child", choices=["tensorflow"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return
    os.environ["KERAS_BACKEND"] = "jax"
    from lenet_bench import machine

    peak = matmul_peak_gflops()
    print(f"device: {machine.describe_device()}; cores: {os.cpu_count()}; "
          f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"versions: {machine.library_versions()}")
    print(f"work: each trainer R runs x {args.epochs} epochs of {args.train} images 28x28x1, "
          f"batch {args.batch}, adam, own data order per replica; epoch 1 compiles, the best "
          "later epoch is timed")
    rows = measure("jax", args)
    child = subprocess.run(
        [sys.executable, __file__, "--child=tensorflow", f"--train={args.train}",
         f"--replicas={args.replicas}", f"--batch={args.batch}", f"--epochs={args.epochs}"],
        env=os.environ | {"KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": "1"},
        check=True, stdout=subprocess.PIPE, text=True)
    rows += json.loads(child.stdout.strip().splitlines()[-1])
    peak = max(peak, matmul_peak_gflops())
    print(f"float32 matmul peak (numpy, 1024^3, best of the start and the end): {peak:.0f} "
          f"GFLOP/s; training arithmetic {TRAIN_FLOP / 1e6:.2f} MFLOP per image")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    lone = next(row["rate"] for row in rows if row["trainer"] == "jax per-run")
    print(f"{'trainer':12s} {'R':>3s} {'compile s':>9s} {'epoch s':>8s} {'img/s':>8s} "
          f"{'GFLOP/s':>8s} {'% peak':>7s} {'x lone':>7s}")
    for row in rows:
        gflops = row["rate"] * TRAIN_FLOP / 1e9
        print(f"{row['trainer']:12s} {row['R']:3d} {row['first'] - row['epoch']:9.2f} "
              f"{row['epoch']:8.2f} {row['rate']:8.0f} {gflops:8.1f} {100 * gflops / peak:6.1f}% "
              f"{row['rate'] / lone:6.2f}x")


if __name__ == "__main__":
    main()
