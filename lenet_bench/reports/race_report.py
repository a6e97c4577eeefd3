"""The race section of a `--seeds=auto` experiment's report: per grid point the seeds
it got, its verdict and why it stopped, and the runs spent against a fixed design.

Rebuilt from the run files by replaying the race (lenet_bench.records.race_rule), never
from race.json, so the report and the race cannot disagree.
"""

import dataclasses
from pathlib import Path

import numpy as np

from lenet_bench import runs as runs_module
from lenet_bench.artifacts import RUNS_FOLDER
from lenet_bench.config import ExperimentConfig, is_race
from lenet_bench.records.results import setting_label
from lenet_bench.reports.tables import markdown_table, percent
from lenet_bench.records import race_rule

VERDICT_ORDER = (race_rule.BEST, race_rule.EQUIVALENT, race_rule.UNDECIDED, race_rule.WORSE)


def race_section(experiment_dir: Path, config: dict, fields: tuple[str, ...]) -> list[str]:
    """The report's race lines (none for a fixed-seed experiment)."""
    settings = config.get("config") or {}
    if not is_race(settings.get("seeds")):
        return []
    experiment = ExperimentConfig(**settings)
    classes = len((config.get("dataset") or {}).get("class_names") or []) or 10
    plan, points = race_rule.RacePlan.of(experiment), experiment.grid_points()
    accuracies, failed = race_rule.point_results(Path(experiment_dir) / RUNS_FOLDER, points,
                                              experiment.first_seed, classes)
    race = race_rule.advance(accuracies, failed, plan)
    labels = [setting_label(dataclasses.asdict(runs_module.point_spec(point, 0)), fields)
              for point in points]
    counts = {verdict: race.verdicts.count(verdict) for verdict in VERDICT_ORDER}
    fixed = len(points) * plan.max_seeds
    spent = sum(min(len(values), seeds) for values, seeds in zip(accuracies, race.seeds))
    state = (f"finished after {race.looks} of {plan.looks} planned looks" if race.finished
             else f"in progress: look {race.looks + 1} of {plan.looks} planned is waiting "
                  "for its runs (rerun the same command to resume)")
    lines = ["## Race (--seeds=auto)", "",
             f"- {state}; runs: {spent}, against {fixed} for a fixed design with "
             f"{plan.max_seeds} seeds per point ({spent / fixed:.0%})",
             f"- verdicts against the best: {counts[race_rule.WORSE]} worse, "
             f"{counts[race_rule.EQUIVALENT]} equivalent (within {experiment.margin:g} points), "
             f"{counts[race_rule.UNDECIDED]} undecided",
             f"- seeds: {plan.min_seeds} per point at the first look, then +{plan.step} per "
             f"look for the undecided points and the best, up to {plan.max_seeds}; alpha "
             f"{plan.alpha:g} over the race, {plan.alpha_per_look:.4g} per look",
             f"- {race_rule.DESIGN}",
             "- The best is the highest mean at each look, tested with the same runs it was "
             "picked by (not corrected for that selection); it gains seeds at every look, "
             "which shrinks the bias.", ""]
    order = sorted(range(len(points)), key=lambda i: (VERDICT_ORDER.index(race.verdicts[i]),
                                                       -_mean(accuracies[i][:race.seeds[i]])))
    reasons, rows = race.reasons(plan), []
    for i in order:
        used = accuracies[i][:race.seeds[i]]
        rows.append([labels[i], len(used), percent(_mean(used)),
                     f"{int(failed[i][:len(used)].sum())}/{len(used)}", race.verdicts[i],
                     reasons[i]])
    lines += [markdown_table(["grid point", "seeds", "mean final test acc %", "at chance",
                              "verdict", "why it stopped"], rows), ""]
    return lines


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")
