"""Speed: the naive one-model-at-a-time Keras loop against this project's default path.

    python -m lenet_bench.bench.benchmark --data_dir=../shared/datasets [--out=benchmarks/fused_speed]
    make perf

On the same work (10 runs x 1 epoch, each run a grid point of one seed,
with its own initializer and learning rate), each measurement in a fresh
process of its own (so peak memory is that path's, and TensorFlow's oneDNN
setting, read once at import, can differ between them):

1. naive: per run a fresh functional LeNet-5, `model.compile` + `model.fit`
   (one epoch, shuffled) + `model.evaluate`, runs one after another, as the
   original study did. The data is scaled to float32 once, outside the timing.
2. default: `trainers.group_loop.train_group` as `make bench` runs it (the fused path for a
   group of runs of one seed), including per-epoch test evaluation.

Each path runs with TensorFlow's own oneDNN default ('tf_default': off on
CPUs without AVX-512, as for a user who sets nothing) and with oneDNN on
(what `python -m lenet_bench` sets unless told otherwise), so the table
separates what the fused design gains from what oneDNN gains. The ratio is
against the naive loop with TensorFlow's defaults (the original study's
way); the last column is against the naive loop with the same oneDNN setting.

With --backends=tensorflow,jax,torch both paths run on each Keras backend
(a process per backend; on JAX and PyTorch the default path is what
`--trainer=auto` picks there, and oneDNN does not apply):

    python -m lenet_bench.bench.benchmark --backends=tensorflow,jax,torch \
        --cases=fashion_mnist:128 --runs=10 --naive_runs=10 --group_sizes= --onednn=on

Cases: Fashion-MNIST at batch 128 and 32, CIFAR-10 at batch 128. Reports
training images per second (runs x train images / seconds, first-call
tracing included on both sides), peak memory, the device and the achieved
fraction of the machine's arithmetic peak (float32 matrix product measured
by numpy in the parent process). Also the fused throughput for several
group sizes. The naive side can time fewer runs (--naive_runs): it trains
runs one after another, so its images/s does not depend on how many it times.
"""

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Data root (as for python -m lenet_bench).")
flags.DEFINE_integer("runs", 10, "Runs per case on the default path.")
flags.DEFINE_integer("naive_runs", 5, "Runs per case timed on the naive path.")
flags.DEFINE_list("onednn", ["tf_default", "on"],
                  "oneDNN settings to measure each path with: tf_default (TF_ENABLE_ONEDNN_OPTS "
                  "unset), on, off.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"],
                  "Precision of both paths (mixed_bfloat16 is for GPUs).")
flags.DEFINE_string("measure", None, "Internal: measure one CASE:PATH (or 'group_sizes') in this "
                    "process and print its result as JSON.")
flags.DEFINE_list("cases", ["fashion_mnist:128", "fashion_mnist:32", "cifar10:128"],
                  "dataset:batch_size pairs.")
flags.DEFINE_list("group_sizes", ["1", "6", "12", "24", "36"],
                  "Fused group sizes to time on a 12,800-image slice (empty: skip).")
flags.DEFINE_list("backends", ["tensorflow"], "Keras backends to measure each path on "
                  "(tensorflow, jax, torch), each in processes of its own; oneDNN settings "
                  "apply to tensorflow only.")
flags.DEFINE_integer("threads", 0, "TensorFlow intra- and inter-op threads; 0: one per core.")
flags.DEFINE_string("out", None, "Write <out>.txt and <out>.json beside printing.")

INITIALIZERS = ("uniform", "glorot_normal", "truncated_normal")
LEARNING_RATES = (0.01, 0.005, 0.003, 0.002)


def flops_per_training_image(image_shape, num_classes: int = 10) -> float:
    """Multiply-adds x 2 of LeNet-5's forward pass, x 3 for forward + backward."""
    from lenet_bench.networks import models

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
    from lenet_bench import backends
    from lenet_bench.runs import RunSpec

    points = [(initializer, rate) for rate in LEARNING_RATES for initializer in INITIALIZERS]
    return [RunSpec(dataset=dataset_name, initializer=initializer, learning_rate=rate,
                    lr_decay=1.0, epochs=1, batch_size=batch_size, seed=0,
                    precision=FLAGS.precision, backend=backends.active())
            for initializer, rate in points[:count]]


def time_naive(specs, dataset) -> tuple[float, list[float]]:
    import keras
    import numpy as np

    from lenet_bench.networks import models

    train_x = dataset.train_images.astype(np.float32) / 255.0
    test_x = dataset.test_images.astype(np.float32) / 255.0
    accuracies = []
    started = time.perf_counter()
    for spec in specs:
        model = models.build_lenet5(dataset.image_shape, dataset.num_classes,
                                    initializer=spec.initializer, seed=spec.seed,
                                    precision=spec.precision)
        model.compile(optimizer=keras.optimizers.Adam(spec.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(train_x, dataset.train_labels, batch_size=spec.batch_size, epochs=1,
                  shuffle=True, verbose=0)
        accuracies.append(float(model.evaluate(test_x, dataset.test_labels, batch_size=1000,
                                               verbose=0)[1]))
    return time.perf_counter() - started, accuracies


def time_default(specs, dataset) -> tuple[float, list[float], str]:
    from lenet_bench import runs
    from lenet_bench.trainers.group_loop import train_group

    started = time.perf_counter()
    records = []
    for group in runs.make_groups(specs, len(specs)):
        records += train_group(group, dataset, None, keep_best=False)
    seconds = time.perf_counter() - started
    return seconds, [record["history"]["test_accuracy"][-1] for record in records], \
        records[0]["trainer"]


SCAN_IMAGES = 12_800


def replica_throughput(trainer, dataset, batch_size: int, separate_orders: bool) -> float:
    """Replica-images/s of one epoch over a 12,800-image slice, after a warm-up; the
    replicas share one data order unless `separate_orders` (as runs of different seeds)."""
    import numpy as np

    size = trainer.num_replicas
    images, labels = dataset.train_images[:SCAN_IMAGES], dataset.train_labels[:SCAN_IMAGES]
    orders = np.stack([np.random.default_rng(seed if separate_orders else 0).permutation(SCAN_IMAGES)
                       for seed in range(size)])
    stacked_labels = np.stack([labels] * size)
    warm = 3 * batch_size
    trainer.train_epoch(images[:warm], stacked_labels[:, :warm], orders[:, :warm] % warm,
                        batch_size, [0.001] * size)
    started = time.perf_counter()
    trainer.train_epoch(images, stacked_labels, orders, batch_size, [0.001] * size)
    return size * SCAN_IMAGES / (time.perf_counter() - started)


def time_group_sizes(dataset, sizes: list[int]) -> list[dict]:
    """Replica throughput of fused groups of each size (one seed, batch 128), and, for
    runs of different seeds (batch 32, as the single-setting 'best' studies), a lone
    XLA-compiled Keras run against fused groups with one data order per replica."""
    from lenet_bench.networks import models
    from lenet_bench.trainers import fused_tf
    from lenet_bench.trainers.keras_replicas import KerasReplicas

    def initial_weights(size):
        return [models.build_lenet5(dataset.image_shape, 10, seed=seed).get_weights()
                for seed in range(size)]

    results = []
    for size in sizes:
        group = fused_tf.FusedLeNet5(initial_weights(size), dataset.image_shape, 10,
                                     precision=FLAGS.precision)
        results.append({"trainer": "fused", "orders": "shared", "batch_size": 128,
                        "group_size": size, "replica_images_per_second":
                            replica_throughput(group, dataset, 128, separate_orders=False)})
    lone = KerasReplicas(initial_weights(1), bench_specs(dataset.name, 32, 1), dataset,
                         jit_compile=True)
    results.append({"trainer": "keras xla", "orders": "own", "batch_size": 32, "group_size": 1,
                    "replica_images_per_second":
                        replica_throughput(lone, dataset, 32, separate_orders=True)})
    for size in (1, 3, 5):
        group = fused_tf.FusedLeNet5(initial_weights(size), dataset.image_shape, 10,
                                     precision=FLAGS.precision)
        results.append({"trainer": "fused", "orders": "own", "batch_size": 32, "group_size": size,
                        "replica_images_per_second":
                            replica_throughput(group, dataset, 32, separate_orders=True)})
    return results


ONEDNN_ENVIRONMENT = {"tf_default": None, "on": "1", "off": "0"}
RESULT_PREFIX = "RESULT "


def configure_threads(threads: int) -> int:
    from lenet_bench import machine

    threads = threads or machine.default_threads()
    machine.configure_threads(threads)
    return threads


def measure(what: str) -> dict:
    """One measurement in this process: 'CASE:PATH' (e.g. fashion_mnist:128:naive) or
    'group_sizes'."""
    configure_threads(FLAGS.threads)
    from lenet_bench import machine
    from lenet_bench.inputs import data

    result = {"device": machine.describe_device(), "onednn": machine.onednn_setting(),
              "versions": machine.library_versions()}
    if what == "group_sizes":
        dataset = data.load("fashion_mnist", FLAGS.data_dir)
        result["group_sizes"] = time_group_sizes(dataset, [int(s) for s in FLAGS.group_sizes])
        result["peak_rss_mib"] = peak_rss_mib()
        return result
    name, batch, path = what.split(":")
    dataset = data.load(name, FLAGS.data_dir)
    if path == "naive":
        runs = FLAGS.naive_runs
        seconds, accuracies = time_naive(bench_specs(name, int(batch), runs), dataset)
        trainer = "keras fit"
    else:
        runs = FLAGS.runs
        seconds, accuracies, trainer = time_default(bench_specs(name, int(batch), runs), dataset)
    result.update(runs=runs, seconds=seconds, trainer=trainer, test_accuracies=accuracies,
                  train_images=len(dataset.train_labels),
                  flops_per_image=flops_per_training_image(dataset.image_shape),
                  images_per_second=runs * len(dataset.train_labels) / seconds,
                  peak_rss_mib=peak_rss_mib())
    return result


def measure_in_child(what: str, onednn: str, backend: str = "tensorflow") -> dict:
    """Runs `measure(what)` in a fresh Python process with the given Keras backend and
    oneDNN setting."""
    environment = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    environment["KERAS_BACKEND"] = backend
    if ONEDNN_ENVIRONMENT[onednn] is not None:
        environment["TF_ENABLE_ONEDNN_OPTS"] = ONEDNN_ENVIRONMENT[onednn]
    command = [sys.executable, "-m", "lenet_bench.bench.benchmark", f"--measure={what}",
               f"--runs={FLAGS.runs}", f"--naive_runs={FLAGS.naive_runs}",
               f"--threads={FLAGS.threads}", f"--group_sizes={','.join(FLAGS.group_sizes)}",
               f"--precision={FLAGS.precision}"]
    if FLAGS.data_dir:
        command.append(f"--data_dir={FLAGS.data_dir}")
    child = subprocess.run(command, env=environment, stdout=subprocess.PIPE, text=True)
    results = [line[len(RESULT_PREFIX):] for line in child.stdout.splitlines()
               if line.startswith(RESULT_PREFIX)]
    if child.returncode != 0 or not results:
        raise RuntimeError(f"measurement {what} ({backend}, oneDNN {onednn}) failed with exit status "
                           f"{child.returncode}; its stderr is above")
    return json.loads(results[-1])


def run() -> dict:
    from lenet_bench import machine

    unknown = [setting for setting in FLAGS.onednn if setting not in ONEDNN_ENVIRONMENT]
    if unknown:
        print(f"error: --onednn={','.join(FLAGS.onednn)}: {unknown[0]!r} is not one of "
              f"{', '.join(ONEDNN_ENVIRONMENT)}", file=sys.stderr)
        sys.exit(2)
    from lenet_bench import backends
    from lenet_bench.errors import InputError

    try:
        for backend in FLAGS.backends:
            backends.check(backend)
    except InputError as error:
        print(f"error: {str(error).replace('--backend=', '--backends=', 1)}", file=sys.stderr)
        sys.exit(2)
    settings = [(backend, onednn) for backend in FLAGS.backends
                for onednn in (FLAGS.onednn if backend == "tensorflow" else ["tf_default"])]
    peak = matmul_peak_gflops()
    threads = FLAGS.threads or os.cpu_count() or 1
    lines = [f"device: {machine.describe_device()}; cores: {os.cpu_count()}; threads {threads}/{threads}",
             f"versions: {machine.library_versions()}; precision {FLAGS.precision}",
             f"float32 matmul peak measured here (numpy): {peak:.0f} GFLOP/s",
             f"work per case: {FLAGS.runs} runs x 1 epoch on the default path, "
             f"{FLAGS.naive_runs} runs timed on the naive path; each row a fresh process",
             "ratio: against the naive loop with TensorFlow's defaults; same-setting ratio: "
             "against the naive loop with the row's backend and oneDNN setting", ""]
    print("\n".join(lines), flush=True)
    results = {"machine": machine.describe_machine(), "device": machine.describe_device(),
               "versions": machine.library_versions(), "matmul_peak_gflops": peak,
               "threads": threads, "cases": []}
    header = (f"{'case':18s} {'path':8s} {'backend':10s} {'oneDNN':10s} {'img/s':>7s} {'ratio':>6s} "
              f"{'same-setting':>12s} {'GFLOP/s':>8s} {'% peak':>6s} {'peak MiB':>8s}  test accuracies")
    print(header, flush=True)
    lines.append(header)
    for case in FLAGS.cases:
        rows = {(path, backend, onednn): measure_in_child(f"{case}:{path}", onednn, backend)
                for backend, onednn in settings for path in ("naive", "default")}
        baseline = rows.get(("naive", "tensorflow", "tf_default")) or rows[("naive", *settings[0])]
        for (path, backend, onednn), row in rows.items():
            row.update(case=case, path=path, backend=backend, onednn_asked=onednn,
                       ratio=row["images_per_second"] / baseline["images_per_second"],
                       ratio_same_onednn=row["images_per_second"]
                       / rows[("naive", backend, onednn)]["images_per_second"])
            gflops = row["images_per_second"] * row["flops_per_image"] / 1e9
            line = (f"{case:18s} {path:8s} {backend:10s} {onednn:10s} "
                    f"{row['images_per_second']:7.0f} "
                    f"{row['ratio']:5.2f}x {row['ratio_same_onednn']:11.2f}x {gflops:8.1f} "
                    f"{100 * gflops / peak:5.1f}% {row['peak_rss_mib']:8.0f}  "
                    + " ".join(f"{100 * a:.1f}" for a in row["test_accuracies"]))
            print(line, flush=True)
            lines.append(line)
            results["cases"].append(row)
    if FLAGS.group_sizes and "tensorflow" in FLAGS.backends:  # The fused TF trainer's scan.
        onednn = FLAGS.onednn[-1]
        scan = measure_in_child("group_sizes", onednn)
        results["group_sizes"] = scan["group_sizes"]
        lines += ["", f"group scan (Fashion-MNIST, {SCAN_IMAGES:,} images, oneDNN {onednn}, "
                      f"peak RSS {scan['peak_rss_mib']:.0f} MiB); replica-images/s:"]
        lines += [f"  {entry['trainer']:9s} orders {entry['orders']:6s} batch {entry['batch_size']:3d} "
                  f"R={entry['group_size']:3d}: {entry['replica_images_per_second']:8.0f}"
                  for entry in results["group_sizes"]]
        print("\n".join(lines[-len(results["group_sizes"]) - 1:]), flush=True)
    if FLAGS.out:
        Path(FLAGS.out).parent.mkdir(parents=True, exist_ok=True)
        Path(f"{FLAGS.out}.txt").write_text("\n".join(lines) + "\n")
        Path(f"{FLAGS.out}.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}: expected only --flags", file=sys.stderr)
        sys.exit(2)
    if FLAGS.measure:
        print(RESULT_PREFIX + json.dumps(measure(FLAGS.measure)), flush=True)
    else:
        run()


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app.run(main)
