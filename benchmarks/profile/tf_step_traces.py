"""The setup cost of a group of runs on TensorFlow: a trace per batch shape against one
trace for every batch size (`lenet_bench.trainers.tf_tracing.AnyBatchSize`).

Per case and variant, in one process, alternating: a fresh trainer (the fused
trainer, 2 replicas; the per-run Keras trainer's steps, 1 model) trains one epoch of
300 digits-sized synthetic images at batch 32 (9 batches of 32 and one of 12) and
evaluates 450 test images: CPU seconds of that (the traces and the compute), the median
of TRIALS. Then a second epoch with the same trainer (no trace): the compute alone. The
losses of both variants must be equal bit for bit.

    python benchmarks/profile/tf_step_traces.py > benchmarks/profile/tf_step_traces.txt
"""

import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lenet_bench.inputs import data  # noqa: E402
from lenet_bench.networks import models  # noqa: E402
from lenet_bench.trainers import fused_tf, steps_tensorflow, tf_tracing  # noqa: E402

TRIALS, TRAIN, TEST, BATCH = 5, 300, 450, 32


def per_shape(function, batch_axes):
    """The variant without AnyBatchSize: the tf.function itself, traced per shape."""
    return function


def fused_epoch(dataset, weights):
    replicas = len(weights)
    group = fused_tf.FusedLeNet5(weights, (28, 28, 1), 10)
    labels = np.stack([dataset.train_labels] * replicas)
    orders = np.stack([np.arange(TRAIN)] * replicas)
    first = group.train_epoch(dataset.train_images, labels, orders, BATCH, [0.003] * replicas)
    group.evaluate(dataset.test_images, dataset.test_labels)
    return lambda: group.train_epoch(dataset.train_images, labels, orders, BATCH,
                                     [0.003] * replicas), first["loss"]


def keras_epoch(dataset, weights):
    model = models.build_lenet5((28, 28, 1), 10)
    model.set_weights(weights[0])
    train_epoch, evaluate = steps_tensorflow.make_step_functions(
        model, models.make_optimizer("adam", 0.003), 10, jit_compile=False)
    order = np.arange(TRAIN)
    loss = train_epoch(dataset.train_images, dataset.train_labels, order, BATCH)[0]
    evaluate(dataset.test_images, dataset.test_labels)
    return lambda: train_epoch(dataset.train_images, dataset.train_labels, order, BATCH), loss


def main():
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    dataset = data.make_synthetic(num_train=TRAIN, num_test=TEST, seed=0)
    weights = [models.build_lenet5((28, 28, 1), 10, seed=seed).get_weights() for seed in (0, 1)]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"TensorFlow {tf.__version__}, one thread; load {os.getloadavg()[0]:.2f} at start")
    print(f"# {TRAIN} training images, batch {BATCH} (last batch {TRAIN % BATCH}), "
          f"{TEST} test images; CPU seconds, median of {TRIALS}")
    variants = {"a trace per shape": per_shape, "one trace (AnyBatchSize)": tf_tracing.AnyBatchSize}
    print("| trainer | variant | first epoch + evaluation (traces) | second epoch (no trace) |")
    print("| --- | --- | --- | --- |")
    for trainer, make in (("fused, 2 replicas", fused_epoch), ("Keras steps, 1 model", keras_epoch)):
        setup, steady, losses = {name: [] for name in variants}, {name: [] for name in variants}, {}
        for _ in range(TRIALS):
            for name, wrapper in variants.items():
                fused_tf.AnyBatchSize = steps_tensorflow.AnyBatchSize = wrapper
                started = time.process_time()
                again, loss = make(dataset, weights)
                setup[name].append(time.process_time() - started)
                started = time.process_time()
                again()
                steady[name].append(time.process_time() - started)
                losses.setdefault(name, np.asarray(loss).tolist())
        for name in variants:
            print(f"| {trainer} | {name} | {statistics.median(setup[name]):.2f} s | "
                  f"{statistics.median(steady[name]):.2f} s |")
        equal = len({repr(value) for value in losses.values()}) == 1
        print(f"# {trainer}: first-epoch losses of the two variants "
              f"{'equal bit for bit' if equal else 'DIFFER'}: {losses}")
    print(f"# load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
