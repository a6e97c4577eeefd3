"""A race's progress (--seeds=auto): its total is the cap, re-estimated at each look, never
fewer than the runs done; its ETA says what it assumes."""

import io
import re
import types

from lenet_bench.config import ExperimentConfig
from lenet_bench.observers import progress
from lenet_bench.records import race_rule
from lenet_bench.study import racing

CONFIG = ExperimentConfig(name="r", dataset="digits", seeds="auto", min_seeds=3, max_seeds=4,
                          epochs=2, grid={"learning_rate": (0.005, 0.004, 10.0)})


def counts(text: str) -> list[tuple[int, int]]:
    return [(int(done), int(total))
            for done, total in re.findall(r"progress: (\d+)/(\d+) runs", text)]


def train(shown: progress.Progress, runs: int) -> None:
    """`runs` runs of CONFIG trained as one group, epoch by epoch."""
    shown.experiment_begin("r", groups=1)
    shown.group_begin([], [], 0, list(range(runs)), None, None)
    spec = types.SimpleNamespace(epochs=CONFIG.epochs)
    for epoch in (1, 2):
        for _ in range(runs):
            shown.run_epoch_end(0, spec, {"status": "done" if epoch == 2 else "running",
                                          "epochs_done": epoch})
        shown.group_epoch_end(epoch, 2)


def test_the_total_is_the_cap_then_each_looks_estimate(tmp_path):
    planned = progress.plan([CONFIG], tmp_path)
    assert planned == (12, 0, 24)  # 3 points x 4 seeds (max_seeds), 2 epochs each
    stream, now = io.StringIO(), [0.0]
    shown = progress.Progress(*planned, stream=stream, clock=lambda: now[0])
    points = CONFIG.grid_points()

    def race(seeds, verdicts, stopped, finished=False):
        return race_rule.Race(verdicts=verdicts, seeds=seeds, wanted=seeds, stopped=stopped,
                              why=[""] * 3, finished=finished, looks_taken=1,
                              runs_on_disk=sum(seeds))

    first = race([3, 3, 3], ["undecided"] * 3, ["open"] * 3)
    shown.race_look("r", racing.race_cap(first, points, CONFIG),
                    racing.race_cap(None, points, CONFIG), CONFIG.max_seeds)
    train(shown, 9)
    now[0] = 18.0
    # Look 1: lr 10 is worse at 3 seeds; the other two may still run to 4.
    second = race([4, 4, 3], ["best", "undecided", "worse"], ["open", "open", "decided"])
    shown.race_look("r", racing.race_cap(second, points, CONFIG),
                    racing.race_cap(None, points, CONFIG), CONFIG.max_seeds)
    train(shown, 2)
    lines = stream.getvalue().splitlines()
    assert [count for count in counts(stream.getvalue())] == [
        (0, 12), (9, 12), (9, 11), (11, 11)]
    assert lines[-1].startswith("progress: 11/11 runs (race: at most; re-estimated at each look)")
    assert lines[-1].endswith("ETA at most 0:00 (if every open point runs to 4 seeds at this pace)")


def test_runs_done_outside_the_cap_never_exceed_the_total():
    """A workdir that already holds more finished runs than the race turns out to need."""
    stream = io.StringIO()
    shown = progress.Progress(total_runs=12, finished_runs=12, pending_epochs=0, stream=stream)
    shown.race_look("r", (9, 18), (12, 24), 4)
    shown.experiment_begin("r", groups=0)
    shown.group_epoch_end(2, 2)
    assert counts(stream.getvalue()) == [(12, 12)]
