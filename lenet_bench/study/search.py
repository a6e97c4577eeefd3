"""Hyperparameter search, selected on validation data only; the test set is used once.

An experiment with a `search` space (config.ExperimentConfig) runs as:

1. Trials: `search_trials` configurations drawn from the space with
   `search_seed` (random), or taken from the product of each dimension's
   values (grid; a seeded subset when the product exceeds the budget).
2. Selection runs: every trial on every validation split of the training
   set (stratified k-fold with `cv_folds` folds, or one stratified hold-out
   of `holdout_fraction` when cv_folds is 1), over the config's seeds. Each
   is an ordinary run whose "test" split is its held-out fold
   (data.apply_split), so it goes through experiment.run_experiment like any
   grid: fused groups, one JSON per run, resume after a kill.
3. The chosen trial: the highest mean final-epoch validation accuracy
   (trials with a diverged or unfinished run are not chosen; ties go to
   the earlier trial).
4. The final run(s): the chosen trial trained on the whole training set
   and evaluated on the test set, the only runs that see it.

With `nested_folds` = O >= 2, steps 2-3 also run inside each of O outer
folds (selection on the inner folds of the outer-training part), and the
trial chosen there is trained on the outer-training part and scored on the
outer fold: the O outer scores estimate the accuracy of the whole
procedure (search + selection) without bias.

The plan (trials, run keys per trial and split, the choices) is written to
`<experiment>/search.json`; search_report builds REPORT.md from it and the
run JSONs. The space, the trials, the splits, the scores and the choice are
lenet_bench.study.search_space (no TensorFlow); this module adds the training.
"""

import dataclasses
import logging
from pathlib import Path

from lenet_bench import runs
from lenet_bench.artifacts import SEARCH_FILE
from lenet_bench.config import ExperimentConfig
from lenet_bench.files import atomic_write_json, read_json
from lenet_bench.inputs import data
from lenet_bench.study import experiment
from lenet_bench.study.plan import CheckedExperiment, as_checked
from lenet_bench.study.search_space import (choose, outer_split, score_trials, selection_splits,
                                            trial_config)
from lenet_bench.study.workdir import experiment_lock

logger = logging.getLogger("lenet_bench")


def trial_specs(config: ExperimentConfig, params: dict, splits: list[str]) -> list[runs.RunSpec]:
    return [spec for split in splits for spec in runs.run_specs(trial_config(config, params, split))]


def _records(runs_dir: Path, keys) -> dict[str, dict]:
    return {key: record for key in keys if (record := read_json(runs_dir / f"{key}.json"))}


def run_search(experiment, dataset: data.Dataset | None = None, workdir=None, options=None,
               *, ood_dataset=None, **arguments) -> Path:
    """Runs a search (see the module docstring); trains only what is not yet finished.

    Args:
      experiment: a plan.CheckedExperiment with a `search` space (its trials checked),
        or an ExperimentConfig, checked here first with the next four arguments
        (as run_experiment's).
      arguments: further keyword arguments of experiment.run_experiment (command,
        callbacks, progress, engine).

    Returns:
      The experiment directory.

    Raises:
      InputError: a bad search or workdir; raised before anything is written.
    """
    checked = as_checked(experiment, dataset, workdir, options, ood_dataset)
    with experiment_lock(checked.workdir / checked.config.name, checked.workdir):
        return _train_search(checked, arguments)


def _train_search(checked: CheckedExperiment, arguments: dict) -> Path:
    """The selection phase, the choice, then the final (and outer-fold) runs."""
    # Keep-best picks an epoch by the evaluated split: the test set for the final run.
    config = dataclasses.replace(checked.config, keep_best=False)
    checked = dataclasses.replace(checked, config=config)
    trials = list(checked.trials)
    experiment_dir = checked.workdir / config.name
    runs_dir = experiment_dir / "runs"
    splits = selection_splits(config)
    selection = [trial_specs(config, params, splits) for params in trials]
    nested = []
    for outer in range(config.nested_folds):
        inner_splits = selection_splits(config, outer)
        nested.append({"outer_split": outer_split(config, outer), "splits": inner_splits,
                       "specs": [trial_specs(config, params, inner_splits) for params in trials]})
    plan = {"method": config.search_method, "trials": trials, "splits": splits,
            "selection_keys": [[spec.key for spec in specs] for specs in selection],
            "nested": [{"outer_split": level["outer_split"], "splits": level["splits"],
                        "keys": [[spec.key for spec in specs] for specs in level["specs"]]}
                       for level in nested],
            "chosen": None, "final_keys": []}
    first_phase = [spec for specs in selection for spec in specs]
    first_phase += [spec for level in nested for specs in level["specs"] for spec in specs]
    experiment_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(experiment_dir / SEARCH_FILE, plan)
    logger.info("%s: %d trials x %d validation splits%s", config.name, len(trials), len(splits),
                f", nested over {config.nested_folds} outer folds" if nested else "")
    experiment.run_experiment(checked, specs=first_phase, **arguments)

    records = _records(runs_dir, [spec.key for spec in first_phase])
    chosen = choose(score_trials(plan["selection_keys"], records))
    second_phase = []
    if chosen is None:
        logger.warning("%s: no trial finished on every split without diverging; nothing "
                       "chosen, the test set is not evaluated", config.name)
    else:
        final = runs.run_specs(trial_config(config, trials[chosen]))
        plan.update(chosen=chosen, final_keys=[spec.key for spec in final])
        second_phase += final
        logger.info("%s: chose trial %d %s on validation", config.name, chosen + 1, trials[chosen])
    for level, level_plan in zip(nested, plan["nested"]):
        inner_chosen = choose(score_trials(level_plan["keys"], records))
        level_plan["chosen"] = inner_chosen
        outer_specs = [] if inner_chosen is None else runs.run_specs(
            trial_config(config, trials[inner_chosen], level["outer_split"]))
        level_plan["outer_keys"] = [spec.key for spec in outer_specs]
        second_phase += outer_specs
    atomic_write_json(experiment_dir / SEARCH_FILE, plan)
    # An outer fold's run is the top-level selection run itself when the folds coincide.
    planned = {spec.key for spec in first_phase}
    second_phase = [spec for spec in dict.fromkeys(second_phase) if spec.key not in planned]
    if second_phase:
        experiment.run_experiment(checked, specs=first_phase + second_phase, **arguments)
    return experiment_dir
