"""Whole-process wall time of three ways to train LeNet-5 on Fashion-MNIST, side by side.

    python benchmarks/whole_process/three_way.py --data_dir=../shared/datasets \
        [--repeats=2] [--out=benchmarks/whole_process/three_way.txt]

The same work in each: 10 runs x 1 epoch of the 60,000 training images at batch 128,
the 10,000 test images evaluated after the epoch. Each case runs in a fresh Python
process, timed from its start to its exit (interpreter start, imports, data loading,
model building, training, evaluation and whatever the case writes, all included):

  keras:  plain Keras as a user writes it, TensorFlow's defaults (oneDNN and threads as
          TensorFlow picks them): per run a fresh functional LeNet-5, `compile` +
          `fit(epochs=1, batch_size=128)` + `evaluate`, one run after another in one
          process (the naive loop of `lenet_bench.bench.benchmark`).
  torch:  plain PyTorch, one model at a time: the same LeNet-5 (conv 6@5x5 'same', max
          pool, conv 16@5x5, max pool, dense 120, 84, 10, ReLU), Adam at the learning rate
          of the fashion_mnist_best experiment, a shuffled permutation per epoch sliced
          into batches of tensors (no DataLoader), PyTorch's default threads.
  suite:  this suite's default path, `python -m lenet_bench --experiment=fashion_mnist_best
          --seeds=10 --epochs=1 --batch_size=128` into a fresh work directory, run files,
          report and figures included.

The cases run --repeats times in rotating order (keras, torch, suite; then torch, suite,
keras; ...). Printed per case: the median whole-process seconds, training images per
second (10 x 60,000 / seconds), the suite's ratio to the other two, and the test
accuracies. The machine's load average is printed before each case: on a shared
machine hold a lock while this runs (PyTorch's OpenMP threads spin when other work
takes the cores, and its time then says more about the load than about PyTorch).
"""

import argparse
import gzip
import importlib.metadata
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RUNS = 10
BATCH_SIZE = 128
TRAIN_IMAGES = 60_000
EXPERIMENT = "fashion_mnist_best"
LEARNING_RATE = 0.005  # fashion_mnist_best's; the torch case uses it (the others read it).
CASES = ("keras", "torch", "suite")
RESULT_PREFIX = "RESULT "
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # Where `python -m lenet_bench` runs.


# --- the cases, each run as `three_way.py --case=NAME` in a process of its own -----------

def keras_case(data_dir: str, runs: int) -> dict:
    """Plain Keras: the naive loop of lenet_bench.bench.benchmark on fashion_mnist_best's
    setting (glorot normal, lr 0.005), seeds 0..runs-1."""
    from lenet_bench.bench.benchmark import time_naive
    from lenet_bench.inputs import data
    from lenet_bench.runs import RunSpec

    dataset = data.load("fashion_mnist", data_dir)
    specs = [RunSpec(dataset="fashion_mnist", initializer="glorot_normal",
                     learning_rate=LEARNING_RATE, lr_decay=1.0, epochs=1,
                     batch_size=BATCH_SIZE, seed=seed) for seed in range(runs)]
    seconds, accuracies = time_naive(specs, dataset)
    import tensorflow as tf

    return {"train_seconds": seconds, "test_accuracies": accuracies,
            "threads": f"TensorFlow defaults (intra {tf.config.threading.get_intra_op_parallelism_threads()}, "
                       f"inter {tf.config.threading.get_inter_op_parallelism_threads()}; 0: one per core)",
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset (TensorFlow's default)")}


def read_idx_gz(path: Path):
    """An IDX file (gzipped) as a numpy array."""
    import numpy as np

    raw = gzip.decompress(path.read_bytes())
    dimensions = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dimensions))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dimensions).reshape(shape)


def torch_case(data_dir: str, runs: int) -> dict:
    """Plain PyTorch, as an experienced user writes it: tensors in memory, a shuffled
    permutation per epoch, one model at a time."""
    import torch
    from torch import nn

    folder = Path(data_dir) / "fashion-mnist"
    if not folder.is_dir():
        folder = Path(data_dir)

    def tensors(images_file, labels_file):
        images = torch.from_numpy(read_idx_gz(folder / images_file).copy())
        labels = torch.from_numpy(read_idx_gz(folder / labels_file).astype("int64"))
        return images.unsqueeze(1).float().div_(255.0), labels

    train_x, train_y = tensors("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    test_x, test_y = tensors("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

    def lenet5():
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10))  # Softmax inside the loss.

    accuracies = []
    loss_function = nn.CrossEntropyLoss()
    started = time.perf_counter()
    for seed in range(runs):
        torch.manual_seed(seed)
        model = lenet5()
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        model.train()
        order = torch.randperm(len(train_y))
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(train_x[batch]), train_y[batch])
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(test_y), 1000):
                predicted = model(test_x[start:start + 1000]).argmax(1)
                correct += int((predicted == test_y[start:start + 1000]).sum())
        accuracies.append(correct / len(test_y))
    return {"train_seconds": time.perf_counter() - started, "test_accuracies": accuracies,
            "threads": f"torch.get_num_threads() {torch.get_num_threads()}, "
                       f"interop {torch.get_num_interop_threads()}"}


def suite_command(data_dir: str, runs: int, workdir: Path) -> list[str]:
    return [sys.executable, "-m", "lenet_bench", f"--experiment={EXPERIMENT}", f"--seeds={runs}",
            "--epochs=1", f"--batch_size={BATCH_SIZE}", f"--workdir={workdir}",
            f"--data_dir={data_dir}"]


def suite_results(workdir: Path) -> dict:
    """Test accuracies and training seconds from the suite's run files."""
    accuracies, train_seconds, threads = [], [], set()
    for path in sorted((workdir / EXPERIMENT).rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(record, dict) or "history" not in record:
            continue
        accuracies.append(record["history"]["test_accuracy"][-1])
        train_seconds.append(record.get("wall_seconds"))
        threads.add(str(record.get("threads")))
    result = {"test_accuracies": accuracies, "threads": ", ".join(sorted(threads))}
    if train_seconds and all(seconds is not None for seconds in train_seconds):
        # Each run's wall_seconds is its share of its group's epoch time (training and
        # test evaluation divided by the group's size), so their sum is the whole time.
        result["train_seconds"] = sum(train_seconds)
    return result


# --- the parent: fresh processes, rotating order, the table --------------------------

def child_environment(case: str) -> dict:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND")}
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    environment["PYTHONPATH"] = os.pathsep.join(
        path for path in (str(PROJECT_ROOT), environment.get("PYTHONPATH")) if path)
    if case == "keras":
        environment["KERAS_BACKEND"] = "tensorflow"
    return environment


def run_case(case: str, data_dir: str, runs: int, log) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"three_way_{case}_"))
    try:
        if case == "suite":
            command = suite_command(str(Path(data_dir).resolve()), runs, workdir)
        else:
            command = [sys.executable, __file__, f"--case={case}",
                       f"--data_dir={Path(data_dir).resolve()}",
                       f"--runs={runs}"]
        load = os.getloadavg()
        started = time.perf_counter()
        child = subprocess.run(command, env=child_environment(case), cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seconds = time.perf_counter() - started
        if child.returncode != 0:
            print(child.stdout[-4000:], file=sys.stderr)
            raise RuntimeError(f"case {case} failed with exit status {child.returncode}")
        if case == "suite":
            result = suite_results(workdir)
        else:
            result = json.loads([line for line in child.stdout.splitlines()
                                 if line.startswith(RESULT_PREFIX)][-1][len(RESULT_PREFIX):])
        result.update(case=case, seconds=seconds, load_before=load, load_after=os.getloadavg())
        log(f"  {case:6s} {seconds:7.1f} s whole process"
            + (f", {result['train_seconds']:6.1f} s training" if "train_seconds" in result else "")
            + f"; load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
              f"after {result['load_after'][0]:.2f}; threads: {result.get('threads')}; test accuracy "
            + " ".join(f"{100 * a:.1f}" for a in result["test_accuracies"]))
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def cpu_model() -> str:
    try:
        lines = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout.splitlines()
    except OSError:
        return "unknown (no lscpu)"
    return next((line.split(":", 1)[1].strip() for line in lines
                 if line.startswith("Model name")), "unknown")


def versions() -> str:
    names = ("tensorflow", "tensorflow-cpu", "keras", "torch", "numpy")
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", required=True, help="Folder holding fashion-mnist/ "
                        "(the four IDX .gz files), or that folder itself.")
    parser.add_argument("--repeats", type=int, default=2, help="Times each case runs.")
    parser.add_argument("--out", help="Also write the output to this file.")
    parser.add_argument("--runs", type=int, default=RUNS, help="Runs per case (10: the benchmark).")
    parser.add_argument("--case", choices=("keras", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # A child: one case in this process.
        measure = keras_case if args.case == "keras" else torch_case
        print(RESULT_PREFIX + json.dumps(measure(args.data_dir, args.runs)), flush=True)
        return

    lines = []

    def log(line=""):
        print(line, flush=True)
        lines.append(line)

    log(f"command: {shlex.join([Path(sys.executable).name] + sys.argv)}")
    log(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    log(f"CPU: {cpu_model()}; {os.cpu_count()} logical cores")
    log(f"versions: Python {sys.version.split()[0]}, {versions()}")
    log(f"work per case: {args.runs} runs x 1 epoch of {TRAIN_IMAGES:,} Fashion-MNIST images, "
        f"batch {BATCH_SIZE}, test evaluation after the epoch; each case a fresh process")
    log(f"suite command: python -m lenet_bench --experiment={EXPERIMENT} --seeds={args.runs} "
        f"--epochs=1 --batch_size={BATCH_SIZE} --workdir=<fresh temp dir> --data_dir={args.data_dir}")
    results = {case: [] for case in CASES}
    for repeat in range(args.repeats):
        order = CASES[repeat % len(CASES):] + CASES[:repeat % len(CASES)]
        log(f"repeat {repeat + 1}/{args.repeats} (order {', '.join(order)}):")
        for case in order:
            results[case].append(run_case(case, args.data_dir, args.runs, log))

    images = args.runs * TRAIN_IMAGES
    median = {case: statistics.median(r["seconds"] for r in results[case]) for case in CASES}
    log("")
    log(f"{'case':6s} {'median s':>9s} {'images/s':>9s} {'training s':>11s} "
        f"{'suite is x faster':>17s}  test accuracy (min-max over runs and repeats)")
    for case in CASES:
        train = [r["train_seconds"] for r in results[case] if "train_seconds" in r]
        accuracies = [a for r in results[case] for a in r["test_accuracies"]]
        log(f"{case:6s} {median[case]:9.1f} {images / median[case]:9.0f} "
            f"{statistics.median(train) if train else float('nan'):11.1f} "
            f"{median[case] / median['suite']:16.2f}x  "
            f"{100 * min(accuracies):.1f}-{100 * max(accuracies):.1f}% "
            f"(mean {100 * statistics.mean(accuracies):.1f}%)")
    log("training s: the median of the time the case's own code measured around its training "
        "loop and test evaluation (for the suite, from its run files: the fused group's time)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
