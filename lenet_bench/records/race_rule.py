"""`--seeds=auto`: where a race stands, replayed from its run files.

Every grid point starts with `min_seeds` seeds; at each planned look the race judges
every point with `lenet_bench.records.decision` at that look's share of alpha (the
plan: `decision.race_plan`, fixed before the first look and written into the workdir
as race_plan.json); a decided point stops for good, a point that cannot be decided by
`max_seeds` may stop early (futility), and the others get `SEEDS_PER_ROUND` more seeds.

The race keeps no state of its own: `replay` rebuilds it from the run files, so a killed
race resumes where its files say it stopped, and the report shows the same verdicts.
"""

import dataclasses
from pathlib import Path

import numpy as np

from lenet_bench import runs as runs_module
from lenet_bench.config import ExperimentConfig
from lenet_bench.files import read_json
from lenet_bench.records import analysis, decision

SEEDS_PER_ROUND = 2


def plan_of(config: ExperimentConfig) -> decision.RacePlan:
    """The race's fixed design: its looks (seeds per open point) and their alphas."""
    return decision.race_plan(config.min_seeds, config.max_seeds, SEEDS_PER_ROUND)


@dataclasses.dataclass(frozen=True)
class Race:
    """A race as its run files have it, one entry per grid point (grid order).

    Attributes:
      verdicts: best, worse, equivalent or undecided.
      seeds: the runs each point has in the race.
      wanted: the seeds each point needs for the next look (= seeds once it stopped).
      stopped: decided, futility, cap, best or open.
      why: why it stopped, or the seeds it wants next, in words.
      finished: no point wants more runs.
      looks_taken: the looks the race has judged.
      runs_on_disk: the finished runs its folder holds in seed order (more than `seeds`
        where a point was trained further than the race wants).
    """

    verdicts: list[str]
    seeds: list[int]
    wanted: list[int]
    stopped: list[str]
    why: list[str]
    finished: bool
    looks_taken: int
    runs_on_disk: int


def point_results(runs_dir: Path, points: list[ExperimentConfig], first_seed: int,
                  width: int) -> tuple[np.ndarray, np.ndarray]:
    """(points, width) final test accuracies in seed order, for seeds first_seed, ...
    up to each point's first seed not finished; NaN beyond it and for a run that
    diverged (a failed run); and per point the count of such seeds."""
    values = np.full((len(points), width), np.nan)
    counts = np.zeros(len(points), int)
    for row, point in enumerate(points):
        for column, seed in enumerate(range(first_seed, first_seed + width)):
            record = read_json(runs_module.run_path(runs_dir, runs_module.point_spec(point, seed)))
            if not record or record.get("status") not in runs_module.FINISHED_STATUSES \
                    or record.get("results_format") != runs_module.RESULTS_FORMAT:
                break
            values[row, column] = analysis.final_accuracy(record)
            counts[row] = column + 1
    return values, counts


def replay(config: ExperimentConfig, runs_dir: Path, num_classes: int) -> Race:
    """The race of `config` as the run files in `runs_dir` have it."""
    plan = plan_of(config)
    values, counts = point_results(Path(runs_dir), config.grid_points(), config.first_seed,
                                   plan.looks[-1])
    race = decision.race_arrays(values[None], plan, num_classes, config.margin / 100,
                                config.failure_limit, counts[None])
    race = {name: array[0] for name, array in race.items()}
    verdicts = decision.NAMES[race["codes"]].tolist()
    looks = race["look"]
    return Race(verdicts=verdicts, seeds=race["seeds"].tolist(),
                wanted=race["wanted"].tolist(), stopped=decision.STOPS[race["why"]].tolist(),
                why=[decision.stop_reason(*row) for row in zip(race["why"], looks, verdicts,
                                                               race["wanted"])],
                finished=bool(race["finished"]), runs_on_disk=int(counts.sum()),
                looks_taken=int(max(looks.max(), -1) + 1) if race["finished"] else
                _looks_before(plan, race["wanted"]))


def _looks_before(plan: decision.RacePlan, wanted: np.ndarray) -> int:
    """The looks judged before the one that wants `wanted` seeds."""
    return int(np.searchsorted(plan.looks, wanted.max()))
