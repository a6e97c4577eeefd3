"""Speed: the naive one-model-at-a-time Keras loop against this project's default path.

    python -m lenet_bench.benchmark --data_dir=../shared/datasets [--out=benchmarks/fused_speed]
    make perf

In one process, on the same work (10 runs x 1 epoch, each run a grid point
of one seed, with its own initializer and learning rate):

1. naive: per run a fresh functional LeNet-5, `model.compile` + `model.fit`
   (one epoch, shuffled) + `model.evaluate`, runs one after another, as the
   original study did. The data is scaled to float32 once, outside the timing.
2. default: `train.train_group` as `make bench` runs it (the fused path for a
   group of runs of one seed), including per-epoch test evaluation.

Cases: Fashion-MNIST at batch 128 and 32, CIFAR-10 at batch 128. Reports
training images per second (runs x train images / seconds, first-call
tracing included on both sides), the ratio, peak memory, the device and the
achieved fraction of the machine's arithmetic peak (float32 matrix product
measured in the same process). Also the fused throughput for several group
sizes. The naive side can time fewer runs (--naive_runs): it trains runs
one after another, so its images/s does not depend on how many it times.
"""

import json
import os
import resource
import sys
import time
from pathlib import Path

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Data root (as for python -m lenet_bench).")
flags.DEFINE_integer("runs", 10, "Runs per case on the default path.")
flags.DEFINE_integer("naive_runs", 10, "Runs per case timed on the naive path.")
flags.DEFINE_list("cases", ["fashion_mnist:128", "fashion_mnist:32", "cifar10:128"],
                  "dataset:batch_size pairs.")
flags.DEFINE_list("group_sizes", ["1", "6", "12", "24", "36"],
                  "Fused group sizes to time on a 12,800-image slice (empty: skip).")
flags.DEFINE_integer("threads", 0, "TensorFlow intra- and inter-op threads; 0: one per core.")
flags.DEFINE_string("out", None, "Write <out>.txt and <out>.json beside printing.")

INITIALIZERS = ("uniform", "glorot_normal", "truncated_normal")
LEARNING_RATES = (0.01, 0.005, 0.003, 0.002)


def flops_per_training_image(image_shape, num_classes: int = 10) -> float:
    """Multiply-adds x 2 of LeNet-5's forward pass, x 3 for forward + backward."""
    from lenet_bench import models

    model = models.build_lenet5(image_shape, num_classes)
    forward = 0
    for layer in model.layers:
        if layer.name.startswith("conv"):
            _, height, width, channels = layer.output.shape
            kernel = layer.kernel.shape
            forward += height * width * channels * kernel[0] * kernel[1] * kernel[2]
        elif hasattr(layer, "kernel"):
            forward += layer.kernel.shape[0] * layer.kernel.shape[1]
    return 3 * 2 * forward


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    import numpy as np

    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    started = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return repeats * 2 * size ** 3 / (time.perf_counter() - started) / 1e9


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_specs(dataset_name: str, batch_size: int, count: int):
    from lenet_bench import train

    points = [(initializer, rate) for rate in LEARNING_RATES for initializer in INITIALIZERS]
    return [train.RunSpec(dataset=dataset_name, train_size=None, data_seed=0,
                          initializer=initializer, activation="relu", first_conv_padding="auto",
                          optimizer="adam", learning_rate=rate, lr_decay=1.0, label_noise=0.0,
                          noise_mode="sampled", epochs=1, batch_size=batch_size, seed=0)
            for initializer, rate in points[:count]]


def time_naive(specs, dataset) -> tuple[float, list[float]]:
    import keras
    import numpy as np

    from lenet_bench import models

    train_x = dataset.train_images.astype(np.float32) / 255.0
    test_x = dataset.test_images.astype(np.float32) / 255.0
    accuracies = []
    started = time.perf_counter()
    for spec in specs:
        model = models.build_lenet5(dataset.image_shape, dataset.num_classes,
                                    initializer=spec.initializer, seed=spec.seed)
        model.compile(optimizer=keras.optimizers.Adam(spec.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(train_x, dataset.train_labels, batch_size=spec.batch_size, epochs=1,
                  shuffle=True, verbose=0)
        accuracies.append(float(model.evaluate(test_x, dataset.test_labels, batch_size=1000,
                                               verbose=0)[1]))
    return time.perf_counter() - started, accuracies


def time_default(specs, dataset) -> tuple[float, list[float], str]:
    from lenet_bench import train

    started = time.perf_counter()
    records = []
    for group in train.make_groups(specs, len(specs)):
        records += train.train_group(group, dataset, None, keep_best=False)
    seconds = time.perf_counter() - started
    return seconds, [record["history"]["test_accuracy"][-1] for record in records], \
        records[0]["trainer"]


def time_group_sizes(dataset, sizes: list[int], batch_size: int = 128) -> list[tuple[int, float]]:
    """Fused training throughput (replica-images/s) on a 12,800-image slice, after a warm-up."""
    import numpy as np

    from lenet_bench import fused, models

    count = 12_800
    images, labels = dataset.train_images[:count], dataset.train_labels[:count]
    results = []
    for size in sizes:
        weights = [models.build_lenet5(dataset.image_shape, 10, seed=seed).get_weights()
                   for seed in range(size)]
        group = fused.FusedLeNet5(weights, dataset.image_shape, 10)
        orders = np.stack([np.random.default_rng(0).permutation(count)] * size)
        stacked_labels = np.stack([labels] * size)
        warm = 3 * batch_size
        group.train_epoch(images[:warm], stacked_labels[:, :warm], orders[:, :warm] % warm,
                          batch_size, [0.001] * size)
        started = time.perf_counter()
        group.train_epoch(images, stacked_labels, orders, batch_size, [0.001] * size)
        results.append((size, size * count / (time.perf_counter() - started)))
    return results


def run() -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    threads = FLAGS.threads or os.cpu_count() or 1
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from lenet_bench import data, train

    peak = matmul_peak_gflops()
    lines = [f"device: {train.describe_device()}; cores: {os.cpu_count()}; threads {threads}/{threads}",
             f"versions: {train.library_versions()}",
             f"float32 matmul peak measured here: {peak:.0f} GFLOP/s",
             f"work per case: {FLAGS.runs} runs x 1 epoch on the default path, "
             f"{FLAGS.naive_runs} runs timed on the naive path", ""]
    print("\n".join(lines), flush=True)
    results = {"machine": train.describe_machine(), "device": train.describe_device(),
               "versions": train.library_versions(), "matmul_peak_gflops": peak, "cases": []}
    header = (f"{'case':22s} {'path':8s} {'img/s':>8s} {'ratio':>6s} {'GFLOP/s':>8s} "
              f"{'% peak':>6s} {'peak MiB':>9s}  test accuracies")
    print(header, flush=True)
    lines.append(header)
    datasets = {}
    for case in FLAGS.cases:
        name, batch = case.split(":")
        batch_size = int(batch)
        if name not in datasets:
            datasets[name] = data.load(name, FLAGS.data_dir)
        dataset = datasets[name]
        flops = flops_per_training_image(dataset.image_shape)
        images = len(dataset.train_labels)
        naive_seconds, naive_accuracies = time_naive(
            bench_specs(name, batch_size, FLAGS.naive_runs), dataset)
        naive_memory = peak_rss_mib()
        default_seconds, default_accuracies, trainer = time_default(
            bench_specs(name, batch_size, FLAGS.runs), dataset)
        default_memory = peak_rss_mib()
        naive_rate = FLAGS.naive_runs * images / naive_seconds
        default_rate = FLAGS.runs * images / default_seconds
        entry = {"case": case, "train_images": images, "flops_per_image": flops,
                 "naive": {"runs": FLAGS.naive_runs, "seconds": naive_seconds,
                           "images_per_second": naive_rate, "peak_rss_mib": naive_memory,
                           "test_accuracies": naive_accuracies},
                 "default": {"runs": FLAGS.runs, "seconds": default_seconds, "trainer": trainer,
                             "images_per_second": default_rate, "peak_rss_mib": default_memory,
                             "test_accuracies": default_accuracies},
                 "ratio": default_rate / naive_rate}
        results["cases"].append(entry)
        for path, rate, memory, accuracies, ratio in (
                ("naive", naive_rate, naive_memory, naive_accuracies, 1.0),
                ("default", default_rate, default_memory, default_accuracies, entry["ratio"])):
            line = (f"{case:22s} {path:8s} {rate:8.0f} {ratio:5.2f}x {rate * flops / 1e9:8.1f} "
                    f"{100 * rate * flops / 1e9 / peak:5.1f}% {memory:9.0f}  "
                    + " ".join(f"{100 * a:.1f}" for a in accuracies))
            print(line, flush=True)
            lines.append(line)
    if FLAGS.group_sizes:
        dataset = datasets.get("fashion_mnist") or data.load("fashion_mnist", FLAGS.data_dir)
        lines += ["", "fused group size scan (Fashion-MNIST, batch 128, 12,800 images, one seed):"]
        print(lines[-1], flush=True)
        results["group_sizes"] = []
        for size, rate in time_group_sizes(dataset, [int(s) for s in FLAGS.group_sizes]):
            results["group_sizes"].append({"group_size": size, "replica_images_per_second": rate,
                                           "peak_rss_mib": peak_rss_mib()})
            lines.append(f"  R={size:3d}: {rate:8.0f} replica-img/s, peak RSS so far "
                         f"{peak_rss_mib():.0f} MiB")
            print(lines[-1], flush=True)
    if FLAGS.out:
        Path(FLAGS.out).parent.mkdir(parents=True, exist_ok=True)
        Path(f"{FLAGS.out}.txt").write_text("\n".join(lines) + "\n")
        Path(f"{FLAGS.out}.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}: expected only --flags", file=sys.stderr)
        sys.exit(2)
    run()


if __name__ == "__main__":
    app.run(main)
