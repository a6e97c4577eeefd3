"""Single-image and 1,000-image inference time of a LeNet-5 on this backend: the
forward pass cost.py times (inference.compiled_forward) against model.predict_on_batch.

Run: KERAS_BACKEND=<backend> nice python benchmarks/inference_forward.py
"""
import statistics
import time

import keras
import numpy as np

from lenet_bench import machine, runs
from lenet_bench.inputs import data
from lenet_bench.networks import inference, models


def median_ms(call, inputs, repeats):
    for _ in range(3):
        keras.ops.convert_to_numpy(call(inputs))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        keras.ops.convert_to_numpy(call(inputs))
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main():
    machine.configure_threads(1)
    dataset = data.make_synthetic(num_train=10, num_test=1000, seed=0)
    model = models.build_run_model(runs.RunSpec(dataset="synthetic", seed=0), dataset)
    one, large = inference.scaled(dataset.test_images[:1]), inference.scaled(dataset.test_images)
    for name, call in (("compiled_forward", inference.compiled_forward(model)),
                       ("predict_on_batch", model.predict_on_batch)):
        print(f"{keras.backend.backend():10s} {name:16s} batch 1: {median_ms(call, one, 50):7.3f} ms"
              f"   batch 1000: {median_ms(call, large, 5) / 1000:7.4f} ms/image")


if __name__ == "__main__":
    main()
