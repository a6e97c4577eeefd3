"""Seconds per epoch on the fused path with and without augmentation, on real MNIST.

    .venv/bin/python benchmarks/augmentation/augment_speed.py ../shared/datasets \
        > benchmarks/augmentation/augment_speed.txt

Trains R=3 LeNet-5 replicas (Adam, batch 32) on the 5,000-image MNIST training
subset and prints each epoch's time, the cases interleaved so that a change
in the machine's load hits them alike: without augmentation (replicas
sharing one data order, as the runs of one seed do, and with their own
orders), and with translation 0.1 + rotation 0.05 + zoom 0.1 (each replica
augmented with its own seed, in a graph function before the step).
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # As the CLI's default.

import numpy as np  # noqa: E402

from lenet_bench import fused, train  # noqa: E402
from lenet_bench.inputs import data
from lenet_bench.trainers import augmentation
from lenet_bench.networks import models

REPLICAS, BATCH, ROUNDS = 3, 32, 3
ON = augmentation.AugmentSettings(translation=0.1, rotation=0.05, zoom=0.1)


def main(data_dir: str) -> None:
    dataset = data.load("mnist", data_dir)
    count = len(dataset.train_labels)
    weights = [models.build_lenet5(dataset.image_shape, 10, seed=seed).get_weights()
               for seed in range(REPLICAS)]
    labels = np.stack([dataset.train_labels] * REPLICAS)
    print(f"mnist {count} training images, {REPLICAS} replicas, batch {BATCH}, "
          f"device {train.describe_device()}, onednn {train.onednn_setting()}; one warm-up "
          f"epoch per case, then {ROUNDS} rounds of one epoch per case, interleaved")
    cases = {"fused, no augmentation, shared order": (None, True),
             "fused, no augmentation, own orders": (None, False),
             "fused, augmentation t0.1 r0.05 z0.1, own orders": (ON, False)}
    trainers = {name: fused.FusedLeNet5(weights, dataset.image_shape, 10,
                                        augment=[settings] * REPLICAS if settings else None)
                for name, (settings, _) in cases.items()}
    times = {name: [] for name in cases}
    for epoch in range(ROUNDS + 1):
        for name, (_, shared) in cases.items():
            orders = np.stack([np.random.default_rng([0 if shared else r, epoch]).permutation(count)
                               for r in range(REPLICAS)])
            started = time.perf_counter()
            result = trainers[name].train_epoch(dataset.train_images, labels, orders, BATCH,
                                                [0.001] * REPLICAS, seeds=list(range(REPLICAS)),
                                                epoch=epoch)
            seconds = time.perf_counter() - started
            if epoch:
                times[name].append(seconds)
            print(f"{name}: epoch {epoch + 1}{' (warm-up)' if not epoch else ''} {seconds:.2f} s "
                  f"({REPLICAS * count / seconds:.0f} replica-img/s), "
                  f"train acc {np.round(result['accuracy'], 4).tolist()}", flush=True)
    reference = np.median(times["fused, no augmentation, own orders"])
    for name, values in times.items():
        print(f"median {name}: {np.median(values):.2f} s per epoch "
              f"({np.median(values) / reference:.2f}x own orders without augmentation)")


if __name__ == "__main__":
    main(sys.argv[1])
