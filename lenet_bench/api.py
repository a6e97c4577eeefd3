"""The Python API: run a study from a script or a notebook and get its runs as a DataFrame.

    import lenet_bench

    study = lenet_bench.run_study("digits_smoke", "results", seeds=2, epochs=2,
                                  grid={"learning_rate": [0.01, 0.003]})
    study.runs.groupby("learning_rate").test_accuracy.mean()
    study.verdicts  # one row per grid point; study.report_path: its REPORT.md

`run_study` and the command line (`python -m lenet_bench`) share one preflight
(lenet_bench.study.plan: the same one-line `InputError`s, named as the flags are),
then lenet_bench.study.runner: the same workdir, resumed alike.

Keras reads its backend once per process, when first imported: `run_study` starts it on
the experiments' `backend` (default tensorflow) unless something imported it already;
then another backend is an InputError (in a notebook: pass `backend=` in the first call,
restart the kernel to change it). `onednn` acts only before TensorFlow is imported.
"""

import dataclasses
import logging
import os
from pathlib import Path
from typing import Callable

from lenet_bench.config import ExperimentConfig
from lenet_bench.errors import InputError
from lenet_bench.options import RunOptions, split_keywords
from lenet_bench.study.plan import StudyPlan, preflight
from lenet_bench.study.registry import resolve_configs

logger = logging.getLogger("lenet_bench")


@dataclasses.dataclass(frozen=True, eq=False)
class StudyResult:
    """What `run_study` returns.

    Attributes:
      runs: one row per run (experiment, run key), with every run field of the
        config (`learning_rate`, `seed`, ...) as a column, the run's status and
        timings, and its last epoch's metrics (`test_accuracy`, `test_loss`,
        `train_accuracy`, ...): `results.load`'s table at each run's last epoch.
      epochs: `results.load`'s table: one row per run and epoch.
      report_path: the experiment's REPORT.md (with several experiments: the
        workdir's index REPORT.md, which links theirs).
      workdir: the workdir (absolute); each experiment is in `workdir / name`.
      experiment_dirs: the experiment folders that hold runs.
      verdicts: per experiment and grid point, the report's verdict and its figures
        (`lenet_bench.decide`'s columns; a race's verdicts are its own).
    """

    runs: "pandas.DataFrame"  # noqa: F821  (imported with the reports, when run)
    epochs: "pandas.DataFrame"  # noqa: F821
    report_path: Path
    workdir: Path
    experiment_dirs: tuple[Path, ...]
    verdicts: "pandas.DataFrame"  # noqa: F821


def run_study(experiment_or_config, workdir: str | os.PathLike, *, callbacks=None,
              **options) -> StudyResult:
    """Trains what is not yet done in `workdir` and writes the reports, as the CLI does.

    Args:
      experiment_or_config: an experiment name (experiments.EXPERIMENTS), a path
        to an experiment .py file, an `ExperimentConfig`, or a list of them.
      workdir: results go to `<workdir>/<experiment name>/`.
      callbacks: Keras callbacks called per run at epoch ends, or a function
        spec -> callbacks (observers.keras_callbacks.KerasCallbacks says which
        hooks, and when); local engine only.
      **options: `RunOptions` fields (trainer='fused', threads=2, progress='none',
        tensorboard=False, report_only=True, ...: lenet_bench.options), and config
        fields that override the experiment's (seeds=3, epochs=2, backend='jax', ...),
        with `grid={field: values}` replacing (or adding) those fields' grid values.
        A single-value override of a grid field removes it from the grid.

    Returns:
      A StudyResult: the runs as a DataFrame, the report path, the workdir.

    Raises:
      InputError: an unknown option or experiment, an invalid value, a backend
        other than the one Keras already runs on, ...: one line, named as the flag.
    """
    run_options, overrides, grid = split_keywords(options)
    if callbacks and run_options.engine != "local":
        raise InputError("callbacks run in the training process: expected engine='local'")
    configs = resolve_configs(experiment_or_config, overrides, grid)
    command = "lenet_bench.run_study({}, {!r}{})".format(
        [config.name for config in configs], str(workdir),
        "".join(f", {name}={value!r}" for name, value in options.items()))
    reports = run_plan(preflight(configs, workdir, run_options), command=command,
                       rank_runs_by=overrides.get("rank_runs_by"), callbacks=callbacks)
    return study_result(Path(workdir).absolute(), configs,
                        [path.absolute() for path in reports])


def run_configs(configs: list[ExperimentConfig], workdir: Path, options: RunOptions,
                **arguments) -> list[Path]:
    """The preflight of `configs`, then `run_plan` (`arguments`: its keyword arguments)."""
    return run_plan(preflight(configs, workdir, options), **arguments)


def run_plan(plan: StudyPlan, *, command: str | None = None, rank_runs_by: str | None = None,
             callbacks=None, say: Callable[[str], None] = logger.info) -> list[Path]:
    """Trains a checked plan and writes the reports (with `report_only`, only rebuilds
    them; `rank_runs_by`: None keeps what each config.json says). `callbacks`: as
    run_study's. `say` gets each 'report: PATH' line. Returns the experiments'
    REPORT.md paths, then the workdir's index REPORT.md."""
    from lenet_bench.reports import report
    from lenet_bench.study import runner

    engine, paths = None, []
    if plan.options.report_only:
        experiment_dirs = runner.experiments_with_runs(plan, say)
    else:
        engine, experiments, skipped = runner.prepare(plan)
        experiment_dirs = runner.train(experiments, engine, command=command, callbacks=callbacks)
    try:
        if engine is not None:
            report.record_skipped(plan.workdir, skipped,
                                  found=[checked.config.name for checked in experiments])
        for experiment_dir in experiment_dirs:
            paths.append(report.write_experiment_report(experiment_dir,
                                                        rank_runs_by=rank_runs_by))
            say(f"report: {paths[-1]}")
    finally:
        if engine is not None:
            engine.shutdown()
    paths.append(report.write_index(plan.workdir))
    say(f"report: {paths[-1]}")
    return paths


def study_result(workdir: Path, configs: list[ExperimentConfig],
                 reports: list[Path]) -> StudyResult:
    """The StudyResult of a finished `run_configs`: its experiments' runs, read back."""
    import pandas as pd

    from lenet_bench.artifacts import CONFIG_FILE
    from lenet_bench.records import results

    folders = tuple(workdir / config.name for config in configs
                    if (workdir / config.name / CONFIG_FILE).is_file())
    epochs = (pd.concat([results.load(folder) for folder in folders], ignore_index=True)
              if folders else results.frame([]))
    runs = epochs.groupby(["experiment", "run_key"], sort=False).tail(1).reset_index(drop=True)
    return StudyResult(runs=runs, epochs=epochs, workdir=workdir, experiment_dirs=folders,
                       report_path=reports[0] if len(configs) == 1 and len(reports) == 2
                       else reports[-1], verdicts=results.load_verdicts(folders))
