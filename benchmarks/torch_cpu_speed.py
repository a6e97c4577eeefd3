"""Training images/s of the per-run Keras trainer (KerasReplicas, one run) on this
process's Keras backend: Fashion-MNIST-shaped random data (10,000 28x28x1 uint8
images, 10 classes), batch 128, Adam; one warm-up epoch (compilation), then the
median of TIMED_EPOCHS epochs.

Run: KERAS_BACKEND=<tensorflow|torch> nice python benchmarks/torch_cpu_speed.py THREADS
"""
import statistics
import sys
import time

import numpy as np

from lenet_bench import machine, runs
from lenet_bench.inputs import data
from lenet_bench.networks import models

IMAGES, BATCH, TIMED_EPOCHS = 10_000, 128, 2


def main(threads: int) -> None:
    machine.configure_threads(threads)
    import keras

    from lenet_bench.trainers.keras_replicas import KerasReplicas

    dataset = data.make_synthetic(num_train=IMAGES, num_test=10, seed=0)
    spec = runs.RunSpec(dataset="synthetic", batch_size=BATCH, seed=0)
    trainer = KerasReplicas([models.build_run_model(spec, dataset).get_weights()], [spec], dataset,
                            jit_compile=True)
    rng = np.random.default_rng(0)
    seconds = []
    for epoch in range(1 + TIMED_EPOCHS):
        order = rng.permutation(IMAGES)
        started = time.perf_counter()
        trainer.train_epoch(dataset.train_images, [dataset.train_labels], [order], BATCH,
                            [spec.learning_rate], seeds=[0], epoch=epoch)
        seconds.append(time.perf_counter() - started)
    print(f"{keras.backend.backend():10s} threads {machine.training_threads()}: "
          f"{IMAGES / statistics.median(seconds[1:]):7.0f} images/s (median of {TIMED_EPOCHS} "
          f"epochs; warm-up epoch {seconds[0]:.2f} s)", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
