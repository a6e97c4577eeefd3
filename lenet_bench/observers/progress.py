"""Progress of a study: runs done / total, elapsed, ETA, and the group's epoch.

A `Progress` is a `hooks.Observer` that `experiment.run_experiment` passes to each
group; the CLI makes one for the whole study (`--progress`): on a terminal
it redraws one bar line in place (carriage return), elsewhere (logs, CI) it
writes one plain line per group epoch. The ETA counts run-epochs: those
still to train over the rate of this session's run-epochs so far.
"""

import sys
import time
from typing import TextIO

from lenet_bench.observers.hooks import Observer

BAR_WIDTH = 24


def duration_text(seconds: float | None) -> str:
    """'1:02:03', '2:03', or '?' for None."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours
            else f"{rest // 60}:{rest % 60:02d}")


class Progress(Observer):
    """Counts runs and run-epochs over a study and shows them.

    Args:
      total_runs, finished_runs: the study's runs, and those already finished
        in the workdir before this session.
      pending_epochs: run-epochs left to train (finished runs count none).
      stream: where to write (default: stderr).
      bar: True: redraw one line with '\\r' (for a terminal); False: plain lines.
      clock: seconds, monotonic (tests pass a fake).
    """

    def __init__(self, total_runs: int, finished_runs: int, pending_epochs: int, *,
                 stream: TextIO | None = None, bar: bool = False, clock=time.monotonic):
        self.total_runs, self.runs_done = total_runs, finished_runs
        self.pending_epochs, self.epochs_done = pending_epochs, 0
        self.stream = stream or sys.stderr
        self.bar, self.clock = bar, clock
        self.started = clock()
        self.experiment, self.group, self.groups = "", 0, 0
        self.active = 0
        self.drawn = False

    def experiment_begin(self, name: str, groups: int) -> None:
        self.experiment, self.group, self.groups = name, 0, groups

    def group_begin(self, specs, records, first_epoch, active, model, weights):
        self.group += 1
        self.active = len(active)
        self.pending_epochs -= first_epoch * len(active)  # Restored from a checkpoint.

    def run_epoch_end(self, index, spec, record):
        self.epochs_done += 1
        if record["status"] != "running":
            self.runs_done += 1
            self.pending_epochs -= spec.epochs - record["epochs_done"]  # Diverged early.

    def group_epoch_end(self, epochs_done, epochs):
        self.show(f"{self.experiment} group {self.group}/{self.groups} epoch "
                  f"{epochs_done}/{epochs}")

    def eta(self) -> float | None:
        if not self.epochs_done:
            return None
        rate = (self.clock() - self.started) / self.epochs_done
        return max(self.pending_epochs - self.epochs_done, 0) * rate

    def text(self, where: str) -> str:
        return (f"{self.runs_done}/{self.total_runs} runs | {where} | "
                f"{duration_text(self.clock() - self.started)} elapsed, "
                f"ETA {duration_text(self.eta())}")

    def show(self, where: str) -> None:
        if self.bar:
            filled = BAR_WIDTH * self.runs_done // max(self.total_runs, 1)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {self.text(where)}\x1b[K")
            self.drawn = True
        else:
            self.stream.write(f"progress: {self.text(where)}\n")
        self.stream.flush()

    def finish(self) -> None:
        """Ends the bar's line (so what follows starts on a new one)."""
        if self.bar and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def plan(configs: list, workdir) -> tuple[int, int, int]:
    """(runs, runs already finished, run-epochs left) of a study in `workdir`; a
    run part-way counts its epochs left, as its checkpoint will resume it."""
    from pathlib import Path

    from lenet_bench import runs
    from lenet_bench.artifacts import RUNS_FOLDER

    total = finished = pending = 0
    for config in configs:
        runs_dir = Path(workdir) / config.name / RUNS_FOLDER
        for spec in runs.run_specs(config):
            total += 1
            if runs.is_finished(runs.run_path(runs_dir, spec)):
                finished += 1
            else:
                pending += spec.epochs
    return total, finished, pending
