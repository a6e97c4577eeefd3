"""`--seeds=auto`: the race's loop: train a round, replay the race from the run files, repeat.

The rule that decides each look is `lenet_bench.records.decision`'s, replayed by
`lenet_bench.records.race_rule`; this module fixes the plan before the first look
(race_plan.json), trains the runs a look wants and writes race.json for readers.
"""

import logging
from pathlib import Path

from lenet_bench import runs as runs_module
from lenet_bench.artifacts import RACE_FILE, RACE_PLAN_FILE, RUNS_FOLDER
from lenet_bench.config import ExperimentConfig
from lenet_bench.errors import InputError
from lenet_bench.files import atomic_write_json, read_json
from lenet_bench.records import decision
from lenet_bench.records.race_rule import Race, plan_of, replay
from lenet_bench.study.plan import as_checked

logger = logging.getLogger("lenet_bench")



def plan_record(config: ExperimentConfig) -> dict:
    """The fixed design of a race, as race_plan.json holds it: the flags that set it,
    its looks and the alpha each look is tested at."""
    plan = plan_of(config)
    return {"min_seeds": config.min_seeds, "max_seeds": config.max_seeds,
            "margin": config.margin, "failure_limit": config.failure_limit,
            "looks": list(plan.looks), "alphas": [round(a, 12) for a in plan.alphas],
            "procedure": decision.PROCEDURE}


def check_race_plan(config: ExperimentConfig, workdir: str | Path) -> None:
    """Refuses a race resumed under another plan than the one its first look fixed.

    A race's error rates hold for the plan it started with: its looks and the alpha each
    spends were fixed before the first look. Resuming with another --min_seeds,
    --max_seeds, --margin or --failure_limit would change them after seeing data.

    Raises:
      InputError: race_plan.json in the experiment folder differs from `config`'s plan.
    """
    path = Path(workdir) / config.name / RACE_PLAN_FILE
    started = read_json(path)
    if not started:
        return
    wanted = plan_record(config)
    changed = [f"{name} {started.get(name)!r} -> {wanted[name]!r}"
               for name in ("min_seeds", "max_seeds", "margin", "failure_limit")
               if started.get(name) != wanted[name]]
    if changed:
        raise InputError(f"{path}: this race started under another plan ({', '.join(changed)}); "
                         "a race's plan is fixed at its first look: rerun with the flags it "
                         "started with, or give a new --workdir")


def write_race_plan(config: ExperimentConfig, experiment_dir: Path) -> None:
    """race_plan.json, written once, before the race's first look trains anything."""
    path = experiment_dir / RACE_PLAN_FILE
    if not path.exists():
        experiment_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, plan_record(config))


def race_specs(points: list[ExperimentConfig], seeds: list[int],
               first_seed: int) -> list[runs_module.RunSpec]:
    """The runs of every point up to its seed count, seed-major like a fixed study."""
    return [runs_module.point_spec(point, seed)
            for seed in range(first_seed, first_seed + max(seeds))
            for point, count in zip(points, seeds) if seed < first_seed + count]


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
    check_race_plan(config, checked.workdir)
    write_race_plan(config, experiment_dir)
    plan, points = plan_of(config), config.grid_points()
    progress = arguments.get("progress")
    trained_for = None
    while True:
        race = replay(config, experiment_dir / RUNS_FOLDER, checked.dataset.num_classes)
        write_race_summary(experiment_dir, config, race)
        if hasattr(progress, "race_look"):
            progress.race_look(config.name, race_cap(race, points, config),
                               race_cap(None, points, config), config.max_seeds)
        if race.finished:
            break
        if trained_for == race.wanted:
            raise RuntimeError(f"{config.name}: the race's look {race.looks_taken + 1} still "
                               "misses runs after training them")
        logger.info("%s: race look %d of %d planned: %d points open, %d runs in all",
                    config.name, race.looks_taken + 1, len(plan.looks),
                    race.stopped.count("open"), sum(race.wanted))
        experiment_module.run_experiment(
            checked, specs=race_specs(points, race.wanted, config.first_seed), **arguments)
        trained_for = race.wanted
    counts = {verdict: race.verdicts.count(verdict)
              for verdict in ("worse", "equivalent", "undecided")}
    logger.info("%s: race finished after %d looks, %d runs (a fixed design: %d): %d worse, "
                "%d equivalent, %d undecided", config.name, race.looks_taken, sum(race.seeds),
                len(points) * config.max_seeds, counts["worse"], counts["equivalent"],
                counts["undecided"])
    return experiment_dir


def race_cap(race: Race | None, points: list[ExperimentConfig],
             config: ExperimentConfig) -> tuple[int, int]:
    """(runs, run-epochs) the race may still reach: a stopped point's seeds (or all the
    race's seeds once finished), an open point's max_seeds; None: before any look."""
    if race is None:
        seeds = [config.max_seeds] * len(points)
    else:
        seeds = [count if race.finished or stopped != "open" else config.max_seeds
                 for count, stopped in zip(race.seeds, race.stopped)]
    return sum(seeds), sum(count * point.epochs for count, point in zip(seeds, points))


def write_race_summary(experiment_dir: Path, config: ExperimentConfig, race: Race) -> None:
    """race.json: the race as its run files have it, for readers (never read back)."""
    if not experiment_dir.is_dir():
        return
    labels = [runs_module.point_spec(point, 0).key.rsplit("_seed", 1)[0]
              for point in config.grid_points()]
    atomic_write_json(experiment_dir / RACE_FILE, {
        "plan": plan_record(config), "looks_taken": race.looks_taken,
        "finished": race.finished,
        "points": [{"point": label, "seeds": seeds, "verdict": verdict, "stopped": stopped,
                    "why": why}
                   for label, seeds, verdict, stopped, why in zip(
                       labels, race.seeds, race.verdicts, race.stopped, race.why)]})
