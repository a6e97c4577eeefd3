"""Images per second of one LeNet-5: Keras `fit` vs this project's compiled step.

    .venv/bin/python -m benchmarks.train_step_speed > benchmarks/train_step_speed.txt

Why the trainer uses a `tf.function(jit_compile=True)` step rather than
`model.fit`: one epoch of 12,800 random 28x28 images, timed after a warm-up
epoch, at batch 128 and 32, for (1) `model.fit` on float inputs, (2) the
project's train step without XLA, (3) with XLA. Intra/inter-op threads are
one per core, as the CLI sets them. Only ratios taken in one run mean
anything: machines here vary by 2x from day to day.
"""

import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lenet_bench import train  # noqa: E402
from lenet_bench.networks import models

IMAGES = 12_800


def images_per_second(run_epoch) -> float:
    run_epoch()  # warm-up: compilation
    started = time.perf_counter()
    run_epoch()
    return IMAGES / (time.perf_counter() - started)


def main() -> None:
    threads = os.cpu_count()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (IMAGES, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, IMAGES)
    print(f"machine: {train.describe_machine()['cpu']}, {threads} cores, {platform.platform()}")
    print(f"versions: {train.library_versions()}")
    print("batch  path                          img/s   vs fit")
    for batch_size in (128, 32):
        model = models.build_lenet5((28, 28, 1))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        floats = images.astype(np.float32) / 255.0
        fit_speed = images_per_second(
            lambda: model.fit(floats, labels, batch_size=batch_size, epochs=1, verbose=0))
        print(f"{batch_size:5d}  model.fit                   {fit_speed:7.0f}   1.00x")
        for jit in (False, True):
            model = models.build_lenet5((28, 28, 1))
            optimizer = models.make_optimizer("adam", 1e-3)
            train_epoch, _ = train.make_step_functions(model, optimizer, 10, jit)
            order = rng.permutation(IMAGES)
            speed = images_per_second(lambda: train_epoch(images, labels, order, batch_size))
            name = "tf.function step, XLA" if jit else "tf.function step, no XLA"
            print(f"{batch_size:5d}  {name:26s}  {speed:7.0f}   {speed / fit_speed:.2f}x")


if __name__ == "__main__":
    main()
