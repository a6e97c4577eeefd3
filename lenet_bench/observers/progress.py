"""Progress of a study: runs done / total, elapsed, ETA, and the group's epoch.

A `Progress` is a `hooks.Observer` that `experiment.run_experiment` passes to each
group; the CLI makes one for the whole study (`--progress`): on a terminal
it redraws one bar line in place (carriage return), elsewhere (logs, CI) it
writes one plain line per group epoch. The ETA counts run-epochs: those
still to train over the rate of this session's run-epochs so far.

A race (`--seeds=auto`) does not know its runs in advance: its total starts at
its cap (every point at max_seeds) and is re-estimated at each look
(`race_look`: decided points keep the seeds they have, open ones may still run
to the cap), and its line says so; the ETA is then an upper bound.
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
        self.race_caps: dict[str, tuple[int, int]] = {}  # Race: (runs, run-epochs) counted.
        self.max_seeds = 0

    def race_look(self, name: str, cap: tuple[int, int], planned: tuple[int, int],
                  max_seeds: int) -> None:
        """Re-estimates race `name`'s share of the total at a look.

        Args:
          cap: (runs, run-epochs) the race may still reach: each decided point's seeds, each
            open point's max_seeds (the race's own runs once it is finished).
          planned: what `plan` counted for it (every point at max_seeds).
          max_seeds: the race's cap on seeds per point, for the ETA's text.
        """
        counted = self.race_caps.get(name, planned)
        self.total_runs += cap[0] - counted[0]
        self.pending_epochs += cap[1] - counted[1]
        self.race_caps[name] = cap
        self.max_seeds = max(self.max_seeds, max_seeds)

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

    @property
    def total(self) -> int:
        """The runs to show as the total: never fewer than those done (finished runs
        outside a race's re-estimated cap still count as done)."""
        return max(self.total_runs, self.runs_done)

    def text(self, where: str) -> str:
        elapsed = duration_text(self.clock() - self.started)
        if not self.race_caps:
            return (f"{self.runs_done}/{self.total} runs | {where} | {elapsed} elapsed, "
                    f"ETA {duration_text(self.eta())}")
        return (f"{self.runs_done}/{self.total} runs (race: at most; re-estimated at each "
                f"look) | {where} | {elapsed} elapsed, ETA at most {duration_text(self.eta())} "
                f"(if every open point runs to {self.max_seeds} seeds at this pace)")

    def show(self, where: str) -> None:
        if self.bar:
            filled = BAR_WIDTH * self.runs_done // max(self.total, 1)
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


def planned_specs(config) -> list:
    """The runs `plan` counts for `config`: its runs, or for a race its cap (every grid
    point at max_seeds), which the race's looks re-estimate (`Progress.race_look`)."""
    from lenet_bench import runs

    if not config.races:
        return runs.run_specs(config)
    return [runs.point_spec(point, seed)
            for seed in range(config.first_seed, config.first_seed + config.max_seeds)
            for point in config.grid_points()]


def plan(configs: list, workdir) -> tuple[int, int, int]:
    """(runs, runs already finished, run-epochs left) of a study in `workdir`; a
    run part-way counts its epochs left, as its checkpoint will resume it; a race
    counts its cap (`planned_specs`)."""
    from pathlib import Path

    from lenet_bench import runs
    from lenet_bench.artifacts import RUNS_FOLDER

    total = finished = pending = 0
    for config in configs:
        runs_dir = Path(workdir) / config.name / RUNS_FOLDER
        for spec in planned_specs(config):
            total += 1
            if runs.is_finished(runs.run_path(runs_dir, spec)):
                finished += 1
            else:
                pending += spec.epochs
    return total, finished, pending
