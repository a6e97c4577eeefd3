"""Speed on Keras's JAX backend: the fused JAX trainer per group size against the naive loop.

    python -m lenet_bench.bench.benchmark_jax --data_dir=.gpu-data --out=PREFIX [--dry]
    (benchmarks/gpu/run.sh runs it on the GPU machine)

On the active JAX device (the GPU where there is one), per case (image shape,
batch size):

1. fused: `trainers.fused_jax.FusedKerasReplicas`, R LeNet-5 replicas of the
   Keras model (each its own initial weights, learning rate and data order)
   trained on a slice of `--scan_images` training images, in each of
   `--formulations`: 'vmap' (jax.vmap of the Keras model: grouped
   convolutions) and 'matmul' (the layers as batched matrix products,
   trainers.lenet_matmul_jax). The first epoch includes XLA's compilation
   (its time is shown); the second is timed: replica-images/s = R x images /
   seconds. R grows through `--replicas` and stops at the first out-of-memory
   error; the largest R that fit is reported. A table of both formulations
   per batch size and R ends the output.
2. naive: benchmark.time_naive, as `make perf` times it on TensorFlow: per
   run a fresh Keras model, compile + fit one epoch + evaluate, one run after
   another, here on the same JAX device. images/s = runs x train images /
   seconds, tracing included.

Cases: MNIST-shaped (28x28x1: Fashion-MNIST's 60,000 real images when
--data_dir holds them, else MNIST's, else random) at each of --batch_sizes,
and CIFAR-shaped (32x32x3) random images made on the spot at batch 128:
CIFAR-10 itself (236 MiB) cannot travel to the GPU machine, and speed does
not depend on pixel values. Writes PREFIX.txt and PREFIX.json (device,
versions, matmul precision) after every case, so a run cut short keeps what
it measured.

The flags data_dir, out, naive_runs and precision are benchmark.py's (this
module reuses its helpers and so its flag definitions); TensorFlow is never
imported: this runs where only JAX is installed.
"""

import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from absl import app, flags

from lenet_bench.bench import benchmark

FLAGS = flags.FLAGS
flags.DEFINE_bool("dry", False, "Tiny sizes (R=1,3, a few hundred images, one naive run): "
                  "checks the code paths on a CPU in about a minute.")
flags.DEFINE_list("replicas", ["1", "12", "48", "180"],
                  "Fused group sizes R to time on MNIST shapes, growing until one does not fit.")
flags.DEFINE_list("cifar_replicas", ["1", "48", "180"],
                  "Fused group sizes R to time on CIFAR shapes (batch 128).")
flags.DEFINE_list("batch_sizes", ["128", "32"], "Batch sizes of the MNIST-shaped cases.")
flags.DEFINE_integer("scan_images", 6400, "Training images per timed fused epoch.")
flags.DEFINE_list("formulations", ["vmap", "matmul"],
                  "Fused JAX formulations to time (trainers.fused_jax.FORMULATIONS but auto).")

DRY = {"replicas": [1, 3], "cifar_replicas": [1, 3], "scan_images": 256, "naive_runs": 1,
       "train": 1024, "test": 256}
OUT_OF_MEMORY = ("RESOURCE_EXHAUSTED", "out of memory", "OOM")
CIFAR_NOTE = ("CIFAR-shaped images are random, made on the spot: CIFAR-10 (236 MiB) cannot "
              "travel to the GPU machine (64 MiB per call); speed does not depend on pixels.")


@dataclasses.dataclass(frozen=True)
class Case:
    """One measurement case: a dataset of some image shape at one batch size."""

    label: str
    dataset: object  # data.Dataset
    origin: str  # 'real' or 'random'
    batch_size: int
    replicas: tuple[int, ...]


def random_dataset(name: str, shape: tuple, train: int, test: int, seed: int = 0):
    """Random uint8 images and labels of `shape`: for speed, pixels do not matter."""
    from lenet_bench.inputs import data

    rng = np.random.default_rng(seed)
    return data.Dataset(name=name,
                        train_images=rng.integers(0, 256, (train, *shape), dtype=np.uint8),
                        train_labels=rng.integers(0, 10, train).astype(np.int64),
                        test_images=rng.integers(0, 256, (test, *shape), dtype=np.uint8),
                        test_labels=rng.integers(0, 10, test).astype(np.int64),
                        class_names=tuple(str(k) for k in range(10)), source="random")


def mnist_shaped(data_dir: str | None):
    """Fashion-MNIST, else MNIST, read from `data_dir` (never downloaded: the GPU
    machine has no network); else random 28x28x1 images. Returns (dataset, origin)."""
    from lenet_bench.inputs import data

    for name in ("fashion_mnist", "mnist"):
        folder = data.find_dataset_folder(name, Path(data_dir)) if data_dir else None
        if folder is not None:
            return data.load_folder(name, folder), "real"
    return random_dataset("fashion_mnist", (28, 28, 1), 60_000, 10_000), "random"


def shrink(dataset, train: int, test: int):
    return dataclasses.replace(dataset, train_images=dataset.train_images[:train],
                               train_labels=dataset.train_labels[:train],
                               test_images=dataset.test_images[:test],
                               test_labels=dataset.test_labels[:test])


def replica_specs(dataset_name: str, batch_size: int, size: int, precision: str) -> list:
    """R runs of different seeds, initializers and learning rates (benchmark.py's grid)."""
    from lenet_bench.runs import RunSpec

    return [RunSpec(dataset=dataset_name, seed=r,
                    initializer=benchmark.INITIALIZERS[r % len(benchmark.INITIALIZERS)],
                    learning_rate=benchmark.LEARNING_RATES[r % len(benchmark.LEARNING_RATES)],
                    lr_decay=1.0, epochs=1, batch_size=batch_size, precision=precision,
                    backend="jax")
            for r in range(size)]


def initial_weights(dataset, specs: list, distinct: int = 3) -> list:
    """Initial weights for each spec; `distinct` models are built and reused in turn
    (building hundreds of Keras models would cost more than the measurement)."""
    from lenet_bench.networks import models

    built = [models.build_lenet5(dataset.image_shape, dataset.num_classes,
                                 initializer=spec.initializer, seed=spec.seed,
                                 precision=spec.precision).get_weights()
             for spec in specs[:distinct]]
    return [built[r % len(built)] for r in range(len(specs))]


def time_fused(dataset, size: int, batch_size: int, images: int, precision: str,
               formulation: str = "vmap") -> dict:
    """One group of `size` replicas: a compiling epoch, then a timed one, over the
    first `images` training images, each replica in its own data order."""
    from lenet_bench.trainers import fused_jax

    specs = replica_specs(dataset.name, batch_size, size, precision)
    trainer = fused_jax.FusedKerasReplicas(initial_weights(dataset, specs), specs, dataset,
                                           formulation)
    x = dataset.train_images[:images]
    labels = np.stack([dataset.train_labels[:images]] * size)
    orders = np.stack([np.random.default_rng(r).permutation(images) for r in range(size)])
    rates = [spec.learning_rate for spec in specs]
    seconds = []
    for epoch in range(2):
        started = time.perf_counter()
        metrics = trainer.train_epoch(x, labels, orders, batch_size, rates, None,
                                      seeds=list(range(size)), epoch=epoch)
        loss = np.asarray(metrics["loss"])  # Waits for the device.
        seconds.append(time.perf_counter() - started)
    return {"formulation": formulation, "group_size": size,
            "first_epoch_seconds": seconds[0], "epoch_seconds": seconds[1],
            "replica_images_per_second": size * images / seconds[1],
            "last_loss_replica0": float(loss[0])}


def time_naive(dataset, batch_size: int, runs: int, precision: str) -> dict:
    specs = replica_specs(dataset.name, batch_size, runs, precision)
    seconds, accuracies = benchmark.time_naive(specs, dataset)
    return {"runs": runs, "train_images": len(dataset.train_labels), "seconds": seconds,
            "images_per_second": runs * len(dataset.train_labels) / seconds,
            "test_accuracies": accuracies}


def is_out_of_memory(error: Exception) -> bool:
    text = f"{type(error).__name__}: {error}"
    return any(marker in text for marker in OUT_OF_MEMORY)


def measure_case(case: Case, scan_images: int, naive_runs: int, precision: str,
                 formulations: list[str], say) -> dict:
    """The naive loop, then per formulation fused groups of growing size until one
    does not fit."""
    dataset = case.dataset
    images = min(scan_images, len(dataset.train_labels))
    flops = benchmark.flops_per_training_image(dataset.image_shape)
    result = {"case": case.label, "dataset": dataset.name, "images": case.origin,
              "shape": list(dataset.image_shape), "batch_size": case.batch_size,
              "scan_images": images, "flops_per_image": flops, "fused": [], "errors": []}
    say(f"{case.label}: batch {case.batch_size}, {case.origin} images "
        f"{'x'.join(map(str, dataset.image_shape))}, fused epoch over {images:,} images")
    naive = result["naive"] = time_naive(dataset, case.batch_size, naive_runs, precision)
    runs = f"{naive['runs']} run" + ("s" if naive["runs"] != 1 else "")
    say(f"  naive Keras loop ({runs} x compile + fit 1 epoch of "
        f"{naive['train_images']:,} + evaluate): {naive['images_per_second']:12,.0f} images/s")
    for formulation in formulations:
        grow_group(case, formulation, images, precision, result, say)
    fitted = [row["group_size"] for row in result["fused"]]
    oom = [e["group_size"] for e in result["errors"] if e["kind"] == "out of memory"]
    result["largest_group_that_fit"] = max(fitted, default=None)
    best = max(result["fused"], key=lambda row: row["replica_images_per_second"], default=None)
    result["best"] = best
    say(f"  largest group that fit: R={result['largest_group_that_fit']}"
        + (f" (R={oom[0]} ran out of memory)" if oom else " (none ran out of memory)")
        + (f"; best: {best['formulation']} R={best['group_size']}, "
           f"{best['ratio_to_naive']:.1f}x the naive loop" if best else ""))
    return result


def grow_group(case: Case, formulation: str, images: int, precision: str, result: dict,
               say) -> None:
    """Fused groups of `formulation` through case.replicas, into result['fused'], until
    one fails (out of memory or an error, into result['errors'])."""
    naive, flops = result["naive"], result["flops_per_image"]
    for size in case.replicas:
        try:
            row = time_fused(case.dataset, size, case.batch_size, images, precision,
                             formulation)
        except Exception as error:  # noqa: BLE001 -- reported, and ends this growth
            first_line = (str(error).strip().splitlines() or [""])[0][:300]
            kind = "out of memory" if is_out_of_memory(error) else "error"
            result["errors"].append({"formulation": formulation, "group_size": size,
                                     "kind": kind,
                                     "message": f"{type(error).__name__}: {first_line}"})
            say(f"  {formulation:6s} R={size:4d}: {kind}: {type(error).__name__}: {first_line}")
            if kind == "error":
                traceback.print_exc()
            return
        row["ratio_to_naive"] = row["replica_images_per_second"] / naive["images_per_second"]
        row["gflops"] = row["replica_images_per_second"] * flops / 1e9
        result["fused"].append(row)
        say(f"  {formulation:6s} R={size:4d}: first epoch (with compile) "
            f"{row['first_epoch_seconds']:6.1f} s, epoch {row['epoch_seconds']:7.3f} s, "
            f"{row['replica_images_per_second']:12,.0f} replica-images/s "
            f"({row['gflops']:,.0f} GFLOP/s), {row['ratio_to_naive']:5.1f}x naive")


def formulation_table(cases: list[dict], formulations: list[str]) -> list[str]:
    """One line per (case, batch size, R): replica-images/s of each formulation."""
    lines = ["replica-images/s per formulation (timed epoch; '-': not run or did not fit)",
             f"{'case':14s} {'batch':>5s} {'R':>4s} "
             + " ".join(f"{name:>12s}" for name in formulations)]
    for case in cases:
        rates = {(row["formulation"], row["group_size"]): row["replica_images_per_second"]
                 for row in case["fused"]}
        for size in sorted({size for _, size in rates}):
            cells = [f"{rates[name, size]:12,.0f}" if (name, size) in rates else f"{'-':>12s}"
                     for name in formulations]
            lines.append(f"{case['case']:14s} {case['batch_size']:5d} {size:4d} "
                         + " ".join(cells))
    return lines


def make_cases(data_dir: str | None, batch_sizes: list[int], replicas: list[int],
               cifar_replicas: list[int], dry: bool) -> list[Case]:
    mnist, origin = mnist_shaped(data_dir)
    cifar_size = (DRY["train"], DRY["test"]) if dry else (50_000, 10_000)
    cifar = random_dataset("cifar10", (32, 32, 3), *cifar_size)
    if dry:
        mnist = shrink(mnist, DRY["train"], DRY["test"])
    label = "MNIST-shaped" if mnist.name == "mnist" else "Fashion-MNIST"
    cases = [Case(label, mnist, origin, batch, tuple(replicas)) for batch in batch_sizes]
    if cifar_replicas:
        cases.append(Case("CIFAR-shaped", cifar, "random", 128, tuple(cifar_replicas)))
    return cases


def header_lines(results: dict) -> list[str]:
    return [f"device: {results['device']}; host: {results['machine']['cpu']}, "
            f"{results['machine']['cores']} cores",
            f"versions: {results['versions']}",
            f"JAX_DEFAULT_MATMUL_PRECISION={results['matmul_precision']}; Keras precision "
            f"{results['precision']}" + ("; DRY RUN (tiny sizes)" if results["dry"] else ""),
            "fused: trainers.fused_jax, R replicas each with its own weights, learning rate "
            "and data order; timed: the second epoch (the first compiles)",
            "naive: per run a fresh Keras model, compile + fit 1 epoch + evaluate "
            "(benchmark.time_naive), on the same device",
            CIFAR_NOTE, ""]


def run(data_dir: str | None, out: str | None, *, dry: bool, batch_sizes: list[int],
        replicas: list[int], cifar_replicas: list[int], scan_images: int, naive_runs: int,
        precision: str, formulations: tuple[str, ...] = ("vmap", "matmul")) -> dict:
    """Measures every case; writes `out`.txt/.json after each. Returns the results."""
    from lenet_bench import machine

    if dry:
        replicas, cifar_replicas = DRY["replicas"], DRY["cifar_replicas"]
        scan_images, naive_runs = DRY["scan_images"], DRY["naive_runs"]
    results = {"machine": machine.describe_machine(), "device": machine.describe_device(),
               "versions": machine.library_versions(),
               "matmul_precision": os.environ.get("JAX_DEFAULT_MATMUL_PRECISION", "default"),
               "precision": precision, "dry": dry, "notes": [CIFAR_NOTE], "cases": []}
    lines = header_lines(results)
    print("\n".join(lines), flush=True)

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    for case in make_cases(data_dir, batch_sizes, replicas, cifar_replicas, dry):
        results["cases"].append(measure_case(case, scan_images, naive_runs, precision,
                                             list(formulations), say))
        write(out, lines, results)
    say("")
    for line in formulation_table(results["cases"], list(formulations)):
        say(line)
    write(out, lines, results)
    return results


def write(out: str | None, lines: list[str], results: dict) -> None:
    if not out:
        return
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.txt").write_text("\n".join(lines) + "\n")
    Path(f"{out}.json").write_text(json.dumps(results, indent=1) + "\n")


def positive_integers(name: str, values: list[str]) -> list[int]:
    from lenet_bench.errors import InputError

    if not all(value.isdigit() and int(value) > 0 for value in values):
        raise InputError(f"--{name}={','.join(values)}: expected positive integers, "
                         "comma-separated")
    return [int(value) for value in values]


def main(argv: list[str]) -> int:
    from lenet_bench import backends
    from lenet_bench.errors import InputError

    try:
        if len(argv) > 1:
            raise InputError(f"unexpected arguments {argv[1:]}: expected only --flags")
        sizes = {name: positive_integers(name, FLAGS[name].value)
                 for name in ("replicas", "cifar_replicas", "batch_sizes")}
        formulations = FLAGS.formulations
        if not formulations or not set(formulations) <= {"vmap", "matmul"}:
            raise InputError(f"--formulations={','.join(formulations)}: expected vmap, matmul "
                             "or both, comma-separated")
        if FLAGS.scan_images < 1 or FLAGS.naive_runs < 1:
            raise InputError(f"--scan_images={FLAGS.scan_images} --naive_runs={FLAGS.naive_runs}: "
                             "expected both positive")
        if FLAGS.data_dir and not Path(FLAGS.data_dir).is_dir():
            raise InputError(f"--data_dir={FLAGS.data_dir}: no such folder: expected a data root "
                             "with mnist/ or fashion-mnist/ (unset: random images)")
        backends.select("jax")
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results = run(FLAGS.data_dir, FLAGS.out, dry=FLAGS.dry, scan_images=FLAGS.scan_images,
                  naive_runs=FLAGS.naive_runs, precision=FLAGS.precision,
                  formulations=tuple(formulations), **sizes)
    errors = [e for case in results["cases"] for e in case["errors"] if e["kind"] == "error"]
    return 1 if errors else 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
