"""Where the suite's whole-process time goes outside training, phase by phase.

    python benchmarks/profile/outside_training.py --data_dir=../shared/datasets \
        [--repeats=2] [--out=benchmarks/profile/outside_training.txt]

Runs the default path of the three-way benchmark (benchmarks/whole_process/three_way.py),
`python -m lenet_bench --experiment=fashion_mnist_best --seeds=10 --epochs=1
--batch_size=128`, in fresh processes into fresh work directories, with a timer
around each phase of the run: the CLI's own code runs unchanged, its functions are
wrapped. Each phase's time is its own (exclusive): a phase inside another (the cost
measurement inside an epoch's bookkeeping) is taken out of the outer one, so the
phases and 'not in any phase' add up to the process's wall time.

Also printed: the interpreter's start (`python -c pass`), and the slowest imports
of the CLI's module-level imports (`python -X importtime -c 'import lenet_bench.__main__'`).

Imports: the child imports every module whose functions it wraps before the run
starts (TensorFlow, Keras and matplotlib among them), with TF_ENABLE_ONEDNN_OPTS=1
set first as the CLI sets it; what the CLI would import lazily during the run is
counted under 'imports' instead of under the phase that first needs it.
"""

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RESULT_PREFIX = "PHASES "
EXPERIMENT = "fashion_mnist_best"


# --- the child: the CLI with its phases timed ------------------------------------------

class PhaseClock:
    """Exclusive wall time per phase: entering a phase pauses the one it is inside."""

    def __init__(self):
        self.seconds, self.calls, self.stack = {}, {}, []
        self.mark = time.perf_counter()

    def _switch(self):
        now = time.perf_counter()
        if self.stack:
            self.seconds[self.stack[-1]] = self.seconds.get(self.stack[-1], 0.0) + now - self.mark
        self.mark = now

    def enter(self, name):
        self._switch()
        self.stack.append(name)
        self.calls[name] = self.calls.get(name, 0) + 1

    def leave(self):
        self._switch()
        self.stack.pop()

    def wrap(self, owner, attribute, name):
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            self.enter(name)
            try:
                return original(*args, **kwargs)
            finally:
                self.leave()

        setattr(owner, attribute, timed)


def child(argv: list[str]) -> None:
    clock = PhaseClock()
    process_started = clock.mark
    clock.enter("imports")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # What the CLI's --onednn=auto sets.
    import lenet_bench.__main__ as cli
    from lenet_bench import api
    from lenet_bench.inputs import data
    from lenet_bench.networks import models
    from lenet_bench.study import inspection
    from lenet_bench.observers import cost
    from lenet_bench.records import analysis
    from lenet_bench.reports import plots, report
    from lenet_bench.study import experiment, plan, runner
    from lenet_bench.trainers import fused_tf, group_loop
    from lenet_bench.trainers.keras_replicas import KerasReplicas
    clock.leave()

    wrap = clock.wrap
    wrap(runner, "load_datasets", "data loading (IDX decode, checks)")
    wrap(runner, "start_backend", "backend start (TensorFlow, threads)")
    wrap(plan, "check_data", "checks before training")
    wrap(experiment, "write_experiment_files", "config.json")
    wrap(experiment, "make_observers", "observers (TensorBoard writer)")
    wrap(models, "build_run_model", "model building (initial weights)")
    wrap(fused_tf.FusedLeNet5, "__init__", "fused trainer set-up")
    wrap(KerasReplicas, "__init__", "Keras trainer set-up")
    for trainer in (fused_tf.FusedLeNet5, KerasReplicas):
        wrap(trainer, "train_epoch", "TRAINING: train_epoch (tracing included)")
        wrap(trainer, "evaluate", "TRAINING: test evaluation (tracing included)")
    wrap(group_loop.GroupTraining, "_save_best_weights", "run files: best weights .h5")
    wrap(group_loop, "save_predictions", "run files: predictions .npz")
    wrap(group_loop.GroupTraining, "_publish", "run files: records .json, TensorBoard")
    wrap(cost.CostMeter, "__init__", "cost: forward pass set-up")
    wrap(cost.CostMeter, "_median_seconds", "cost: inference timing")
    wrap(cost.CostMeter, "measure", "cost: .keras save, counts")
    wrap(analysis, "write_confusion_examples", "post-pass: confusion examples")
    wrap(inspection, "write_test_labels", "post-pass: test labels")
    wrap(inspection, "write_model_internals", "post-pass: model internals")
    wrap(report, "write_experiment_report", "report: tables and text")
    wrap(report, "write_index", "report: index")
    for name in dir(plots):
        if name.startswith("plot_"):
            wrap(plots, name, f"report figure: {name}")
    wrap(cli, "parse_flags", "flag parsing")

    clock.enter("CLI (absl app, not in any phase below)")
    try:
        from absl import app

        sys.argv = argv
        app.run(cli.main, flags_parser=cli.parse_flags)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    finally:
        clock.leave()
    clock._switch()
    print(RESULT_PREFIX + json.dumps({"seconds": clock.seconds, "calls": clock.calls,
                                      "in_process": time.perf_counter() - process_started}),
          flush=True)


# --- the parent ------------------------------------------------------------------------

def suite_arguments(data_dir: str, workdir: Path) -> list[str]:
    return ["lenet_bench", f"--experiment={EXPERIMENT}", "--seeds=10", "--epochs=1",
            "--batch_size=128", f"--workdir={workdir}", f"--data_dir={data_dir}"]


def environment() -> dict:
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND")}
    env["PYTHONPATH"] = os.pathsep.join(
        path for path in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if path)
    return env


def interpreter_start(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def slowest_imports(count: int = 12) -> tuple[float, list[tuple[float, str]]]:
    """The CLI's module-level imports: the total, and the `count` slowest of the modules
    imported directly (not indented in python -X importtime's tree), cumulative."""
    env = environment()
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    child_ = subprocess.run([sys.executable, "-X", "importtime", "-c", "import lenet_bench.__main__"],
                            env=env, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True, check=True)
    rows = []
    for line in child_.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        if not name[1:].startswith(" "):  # Not indented: imported by the statement itself.
            rows.append((int(cumulative) / 1e6, name.strip()))
    rows.sort(reverse=True)
    return sum(seconds for seconds, _ in rows), rows[:count]


def run_once(data_dir: str, keep_workdir: str | None = None) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="outside_training_"))
    try:
        started = time.perf_counter()
        child_ = subprocess.run(
            [sys.executable, __file__, "--child"] + suite_arguments(data_dir, workdir / "wd"),
            env=environment(), cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        seconds = time.perf_counter() - started
        if child_.returncode != 0:
            print(child_.stdout[-4000:], file=sys.stderr)
            raise RuntimeError(f"the suite's run failed with exit status {child_.returncode}")
        result = json.loads([line for line in child_.stdout.splitlines()
                             if line.startswith(RESULT_PREFIX)][-1][len(RESULT_PREFIX):])
        result["whole_process"] = seconds
        records = sorted((workdir / "wd" / EXPERIMENT / "runs").glob("*.json"))
        result["test_accuracies"] = [json.loads(path.read_text())["history"]["test_accuracy"][-1]
                                     for path in records]
        if keep_workdir:  # For same_results.py.
            shutil.rmtree(keep_workdir, ignore_errors=True)
            shutil.copytree(workdir / "wd", keep_workdir)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:  # A child: the CLI's argv follows.
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", help="Folder holding fashion-mnist/.")
    parser.add_argument("--repeats", type=int, default=2, help="Fresh processes to time.")
    parser.add_argument("--out", help="Also append the output to this file.")
    parser.add_argument("--keep_workdir", help="Copy the first run's work directory here "
                        "(to compare results with same_results.py).")
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("--data_dir is required")
    data_dir = str(Path(args.data_dir).resolve())
    lines = []

    def log(line=""):
        print(line, flush=True)
        lines.append(line)

    log(f"command: python {' '.join(sys.argv)}")
    log(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; load average before: "
        + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    log(f"git commit: {git_commit()}")
    log("suite: python -m " + " ".join(suite_arguments("<data_dir>", Path("<fresh temp dir>"))))
    log(f"interpreter start (python -c pass, median of 5): {interpreter_start():.3f} s")
    total, rows = slowest_imports()
    log(f"CLI module-level imports (python -X importtime, top-level packages): {total:.2f} s; "
        "slowest: " + ", ".join(f"{name} {seconds:.2f}" for seconds, name in rows))
    results = [run_once(data_dir, args.keep_workdir if repeat == 0 else None)
               for repeat in range(args.repeats)]
    log(f"load average after: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    log("")
    names = sorted({name for result in results for name in result["seconds"]},
                   key=lambda name: -statistics.median(r["seconds"].get(name, 0.0) for r in results))
    log(f"{'phase (exclusive wall seconds)':58s} " + " ".join(f"{f'run {i + 1}':>7s}"
                                                              for i in range(len(results)))
        + f" {'median':>7s}  calls")
    for name in names:
        values = [result["seconds"].get(name, 0.0) for result in results]
        log(f"{name:58s} " + " ".join(f"{value:7.2f}" for value in values)
            + f" {statistics.median(values):7.2f}  {results[0]['calls'].get(name, 0)}")
    for label, key in (("whole process (parent's clock)", "whole_process"),
                       ("in the child's clock (from its first line)", "in_process")):
        values = [result[key] for result in results]
        log(f"{label:58s} " + " ".join(f"{value:7.2f}" for value in values)
            + f" {statistics.median(values):7.2f}")
    training = [sum(seconds for name, seconds in result["seconds"].items()
                    if name.startswith("TRAINING")) for result in results]
    outside = [result["whole_process"] - t for result, t in zip(results, training)]
    log(f"{'outside training (whole process - TRAINING rows)':58s} "
        + " ".join(f"{value:7.2f}" for value in outside) + f" {statistics.median(outside):7.2f}")
    log("test accuracies (run 1): " + " ".join(f"{100 * a:.2f}" for a in results[0]["test_accuracies"]))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as out:
            out.write("\n".join(lines) + "\n\n")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.strip()
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
