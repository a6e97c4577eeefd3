"""The race section of a `--seeds=auto` experiment's report: per grid point the seeds
it got, its verdict and why it stopped, and the runs spent against a fixed design.

Rebuilt from the run files by replaying the race (lenet_bench.records.race_rule), never
from race.json, so the report and the race cannot disagree; the report's verdicts are
the race's.
"""

import dataclasses
from pathlib import Path

from lenet_bench import runs as runs_module
from lenet_bench.artifacts import RACE_PLAN_FILE, RUNS_FOLDER
from lenet_bench.config import ExperimentConfig, is_race
from lenet_bench.records import decision, race_rule
from lenet_bench.records.results import setting_label
from lenet_bench.reports.tables import markdown_table

VERDICT_ORDER = ("best", "equivalent", "undecided", "worse")


def replayed_race(experiment_dir: Path, config: dict, fields: tuple[str, ...],
                  classes: int) -> tuple[race_rule.Race, ExperimentConfig, list[str], bool] | None:
    """(the race, its config, each grid point's label, whether its race_plan.json is
    there) for a `--seeds=auto` experiment; None for a fixed-seed one."""
    settings = config.get("config") or {}
    if not is_race(settings.get("seeds")):
        return None
    experiment = ExperimentConfig(**settings)
    points = experiment.grid_points()
    race = race_rule.replay(experiment, Path(experiment_dir) / RUNS_FOLDER, classes)
    labels = [setting_label(dataclasses.asdict(runs_module.point_spec(point, 0)), fields)
              for point in points]
    return race, experiment, labels, (Path(experiment_dir) / RACE_PLAN_FILE).is_file()


def race_section(replayed: tuple | None) -> list[str]:
    """The report's race lines (none for a fixed-seed experiment)."""
    if replayed is None:
        return []
    race, experiment, labels, plan_recorded = replayed
    plan = race_rule.plan_of(experiment)
    counts = {verdict: race.verdicts.count(verdict) for verdict in VERDICT_ORDER}
    fixed = len(labels) * experiment.max_seeds
    spent = sum(race.seeds)
    state = (f"finished after {race.looks_taken} of {len(plan.looks)} planned looks"
             if race.finished else
             f"in progress: look {race.looks_taken + 1} of {len(plan.looks)} planned is "
             "waiting for its runs (rerun the same command to resume)")
    futile = race.stopped.count("futility")
    lines = ["## Race (--seeds=auto)", "",
             f"- {state}; runs: {spent}, against {fixed} for a fixed design with "
             f"{experiment.max_seeds} seeds per point ({spent / fixed:.0%})",
             f"- verdicts: {counts['worse']} worse, {counts['equivalent']} equivalent (within "
             f"{experiment.margin:g} points, failure rate shown below "
             f"{experiment.failure_limit:.0%}), {counts['undecided']} undecided"
             + (f" ({futile} stopped early: they could not be decided by "
                f"{experiment.max_seeds} seeds)" if futile else ""),
             (f"- the plan, fixed before the first look (race_plan.json): looks at "
              if plan_recorded else
              "- **no race_plan.json: this race was trained before races recorded their plan, "
              "under an earlier rule; here its run files are replayed under the current rule**"
              f" (runs in its folder: {race.runs_on_disk}). The plan: looks at ")
             + f"{', '.join(map(str, plan.looks))} seeds; alpha {sum(plan.alphas):g} spent over "
             f"them ({plan.alphas[0]:.3g} per look, {plan.alphas[-1]:.3g} at the last)",
             f"- each look: {decision.PROCEDURE}", ""]
    order = sorted(range(len(labels)), key=lambda i: (VERDICT_ORDER.index(race.verdicts[i]),
                                                       labels[i]))
    rows = [[labels[i], race.seeds[i], race.verdicts[i], race.why[i]] for i in order]
    return lines + [markdown_table(["grid point", "seeds", "verdict", "why it stopped"], rows),
                    ""]
