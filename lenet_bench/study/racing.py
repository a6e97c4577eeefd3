"""`--seeds=auto`: the race's loop: train a round, replay the race from the run files, repeat.

The rule that decides each look lives in `lenet_bench.records.race_rule`; this module
only trains the runs a look wants and writes race.json for readers.
"""

import logging
from pathlib import Path

from lenet_bench import runs as runs_module
from lenet_bench.artifacts import RUNS_FOLDER
from lenet_bench.config import ExperimentConfig
from lenet_bench.files import atomic_write_json
from lenet_bench.study.plan import as_checked
from lenet_bench.records.race_rule import (DESIGN, EQUIVALENT, UNDECIDED, WORSE, BEST, Race,
                                           RacePlan, advance, point_results)

logger = logging.getLogger("lenet_bench")

RACE_FILE = "race.json"


def race_specs(points: list[ExperimentConfig], seeds: list[int],
               first_seed: int) -> list[runs_module.RunSpec]:
    """The runs of every point up to its seed count, seed-major like a fixed study."""
    return [runs_module.point_spec(point, seed)
            for seed in range(first_seed, first_seed + max(seeds))
            for point, count in zip(points, seeds) if seed < first_seed + count]


def replay(config: ExperimentConfig, experiment_dir: Path, num_classes: int) -> Race:
    """The race of `config` as the run files in `experiment_dir` have it."""
    accuracies, failed = point_results(Path(experiment_dir) / RUNS_FOLDER, config.grid_points(),
                                       config.first_seed, num_classes)
    return advance(accuracies, failed, RacePlan.of(config))


def run_race(experiment, dataset=None, workdir=None, options=None, *, ood_dataset=None,
             **arguments) -> Path:
    """Trains an experiment with seeds 'auto' as a race, round by round, each round
    through `experiment.run_experiment(..., specs=...)` (so any engine and backend, and a
    rerun resumes). `experiment` and the next four arguments: as run_experiment's (a
    bare config is checked once, here); `arguments`: its other keyword arguments.
    Returns the experiment directory."""
    from lenet_bench.study import experiment as experiment_module

    checked = as_checked(experiment, dataset, workdir, options, ood_dataset)
    config = checked.config
    experiment_dir = checked.workdir / config.name
    plan, points = RacePlan.of(config), config.grid_points()
    trained_for = None
    while True:
        race = replay(config, experiment_dir, checked.dataset.num_classes)
        write_race_summary(experiment_dir, config, race, plan)
        if race.finished:
            break
        if trained_for == (race.looks, race.seeds):
            raise RuntimeError(f"{config.name}: the race's look {race.looks + 1} still misses "
                               "runs after training them")
        logger.info("%s: race look %d of %d planned: %d points open, %d runs in all",
                    config.name, race.looks + 1, plan.looks,
                    sum(verdict in (UNDECIDED, BEST) for verdict in race.verdicts),
                    sum(race.seeds))
        experiment_module.run_experiment(
            checked, specs=race_specs(points, race.seeds, config.first_seed), **arguments)
        trained_for = (race.looks, race.seeds)
    counts = {verdict: race.verdicts.count(verdict) for verdict in (WORSE, EQUIVALENT, UNDECIDED)}
    logger.info("%s: race finished after %d looks, %d runs (a fixed design: %d): %d worse, "
                "%d equivalent, %d undecided", config.name, race.looks, sum(race.seeds),
                len(points) * plan.max_seeds, counts[WORSE], counts[EQUIVALENT],
                counts[UNDECIDED])
    return experiment_dir


def write_race_summary(experiment_dir: Path, config: ExperimentConfig, race: Race,
                       plan: RacePlan) -> None:
    """race.json: the race as its run files have it, for readers (never read back)."""
    if not experiment_dir.is_dir():
        return
    labels = [runs_module.point_spec(point, 0).key.rsplit("_seed", 1)[0]
              for point in config.grid_points()]
    atomic_write_json(experiment_dir / RACE_FILE, {
        "design": DESIGN, "alpha": plan.alpha, "looks_planned": plan.looks,
        "margin_points": config.margin, "min_seeds": plan.min_seeds,
        "max_seeds": plan.max_seeds, "looks": race.looks, "finished": race.finished,
        "points": [{"point": label, "seeds": seeds, "verdict": verdict, "why": why}
                   for label, seeds, verdict, why in zip(labels, race.seeds, race.verdicts,
                                                        race.reasons(plan))]})
