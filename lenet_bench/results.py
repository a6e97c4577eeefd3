"""Results as pandas DataFrames, for notebooks and for the report.

    from lenet_bench import results
    df = results.load("results/quick")            # one row per run x epoch
    results.summary(df[df.epochs == 5], by=["experiment", "learning_rate"])

`load` reads the run JSONs only (like the report), so it works on any
workdir, finished or not. `summary` computes the per-grid-point table
(runs done, diverged, final and best-epoch test accuracy mean ± std, max,
best epoch, time) that `report.summarize` returns and every report table
shows: there is one code path for it.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from lenet_bench import report  # Its summarize calls back into this module, lazily.
from lenet_bench.report import mean_std

# Run-level columns, after experiment, run_key and the spec fields.
RUN_COLUMNS = ("status", "epochs_done", "best_epoch", "best_test_accuracy", "diverged_epoch",
               "num_params", "trainer", "wall_seconds",
               # Early stopping (None without it): the restored model's test accuracy.
               "final_test_accuracy", "final_test_soft_accuracy", "best_val_epoch",
               "best_val_accuracy", "stopped_epoch")
SUMMARY_STATISTICS = ("runs", "done", "diverged", "final_test_accuracy_mean",
                      "final_test_accuracy_std", "best_test_accuracy_mean",
                      "best_test_accuracy_std", "best_test_accuracy_max",
                      "final_test_soft_accuracy_mean", "final_test_soft_accuracy_std",
                      "best_epoch_mean",
                      "best_epoch_std", "epoch_seconds_mean", "total_seconds", "num_params")


def experiment_dirs(path: str | Path) -> list[Path]:
    """The experiment folder `path` itself, or the experiment folders of a workdir."""
    path = Path(path)
    if (path / "config.json").is_file():
        return [path]
    return sorted(config.parent for config in path.glob("*/config.json"))


def load(path: str | Path) -> pd.DataFrame:
    """A tidy DataFrame of every run of a workdir (or of one experiment folder).

    One row per run and finished epoch (a run is an experiment and run key:
    the same key can appear in two experiments that train the same spec); a run with no finished epoch yet has
    one row with <NA> epoch and metrics, so every run is counted. Columns:
    `experiment`, `run_key`, every RunSpec field (`dataset`, `initializer`,
    `learning_rate`, ..., `seed`), the run's `status`, `epochs_done`,
    `best_epoch`, `best_test_accuracy`, `diverged_epoch`, `num_params`,
    `trainer`, `wall_seconds`, with early stopping `final_test_accuracy`
    (the restored model's; else None), `best_val_epoch`, `best_val_accuracy`,
    `stopped_epoch`, then `epoch` and every per-epoch metric of the
    history (`learning_rate_at_epoch` is the epoch's learning rate, since
    `learning_rate` is the start value). Integer columns with gaps use
    pandas' nullable Int64.

    Raises:
      FileNotFoundError: `path` holds no experiment (no config.json).
    """
    folders = experiment_dirs(path)
    if not folders:
        raise FileNotFoundError(f"{path}: holds no experiment (no config.json, no */config.json)")
    runs = []
    for folder in folders:
        config, experiment_runs = report.load_runs(folder)
        name = config.get("experiment", folder.name)
        runs += [{**run, "experiment": run.get("experiment") or name} for run in experiment_runs]
    return frame(runs)


def frame(runs: list[dict]) -> pd.DataFrame:
    """The `load` DataFrame of run records (as `report.load_runs` returns them)."""
    spec_fields = list(dict.fromkeys(field for run in runs for field in run["spec"]))
    metrics = list(dict.fromkeys(metric for run in runs for metric in run["history"]
                                 if metric != "epoch"))
    rows = []
    for run in runs:
        base = {"experiment": run.get("experiment", ""), "run_key": run["key"],
                **{field: run["spec"].get(field) for field in spec_fields},
                **{column: run.get(column) for column in RUN_COLUMNS}}
        history = run["history"]
        epochs = history.get("epoch") or list(range(1, len(history.get("test_accuracy", [])) + 1))
        if not epochs:
            rows.append({**base, "epoch": None, **{_metric_column(m): None for m in metrics}})
        for index, epoch in enumerate(epochs):
            rows.append({**base, "epoch": epoch, **{
                _metric_column(metric): _at(history.get(metric), index) for metric in metrics}})
    columns = (["experiment", "run_key"] + spec_fields + list(RUN_COLUMNS) + ["epoch"]
               + [_metric_column(metric) for metric in metrics])
    df = pd.DataFrame(rows, columns=columns)
    for column in columns:
        values = [value for value in df[column] if value is not None]
        if values and all(isinstance(value, int) and not isinstance(value, bool)
                          for value in values):
            df[column] = df[column].astype("Int64")
        elif values and all(isinstance(value, (int, float)) and not isinstance(value, bool)
                            for value in values):
            df[column] = df[column].astype("float64")
    return df


def summary(df: pd.DataFrame, by: list[str] | None = None,
            label_fields: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Per group of `by` values: the report's mean/std/best table, best first.

    Args:
      df: a `load` DataFrame (filter it first to summarize a part).
      by: the columns that make a group; default: `experiment` and every spec
        field but the seed, i.e. one row per grid point of each experiment.
      label_fields: the fields named in the `setting` column; default: those
        of `by` that vary in `df` (all of `by` when none varies).

    Returns:
      One row per group, ranked by mean final test accuracy (groups with no
      finished run last), with the `by` columns (and the report's setting
      fields, taken from the group's first run), `setting` and the columns
      of SUMMARY_STATISTICS. Only runs with status 'done' count in the means;
      diverged runs are counted, never averaged in.
    """
    return pd.DataFrame(summary_records(df, by, label_fields))


def summary_records(df: pd.DataFrame, by: list[str] | None = None,
                    label_fields: tuple[str, ...] | None = None) -> list[dict]:
    """`summary` as a list of dicts with plain Python values (what the report uses)."""
    spec_columns = _spec_columns(df)
    if by is None:
        by = ["experiment"] + [column for column in spec_columns if column != "seed"]
    if label_fields is None:
        label_fields = tuple(column for column in by if df[column].nunique(dropna=False) > 1) \
            or tuple(by)
    runs = _run_table(df)
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(json.dumps([run["values"].get(column) for column in by],
                                     default=str), []).append(run)
    rows = []
    for members in groups.values():
        first = members[0]["values"]
        finished = [run for run in members if run["status"] == "done"]
        final_mean, final_std = mean_std([run["final_test_accuracy"] for run in finished])
        best = [run["best_test_accuracy"] for run in finished]
        best_mean, best_std = mean_std(best)
        best_epoch_mean, best_epoch_std = mean_std([run["best_epoch"] for run in finished])
        soft_mean, soft_std = mean_std([run["final_test_soft_accuracy"] for run in finished])
        row = {column: first.get(column) for column in by if column not in report.SETTING_FIELDS}
        row.update({field: first.get(field) for field in report.SETTING_FIELDS})
        row.update(
            setting=report.setting_label(first, label_fields),
            runs=len(members),
            done=len(finished),
            diverged=sum(run["status"] == "diverged" for run in members),
            final_test_accuracy_mean=final_mean,
            final_test_accuracy_std=final_std,
            best_test_accuracy_mean=best_mean,
            best_test_accuracy_std=best_std,
            best_test_accuracy_max=max(best) if best else math.nan,
            final_test_soft_accuracy_mean=soft_mean,
            final_test_soft_accuracy_std=soft_std,
            best_epoch_mean=best_epoch_mean,
            best_epoch_std=best_epoch_std,
            epoch_seconds_mean=mean_std([s for run in members for s in run["epoch_seconds"]])[0],
            total_seconds=sum(run["wall_seconds"] for run in members),
            num_params=first.get("num_params"),
        )
        rows.append(row)
    rows.sort(key=lambda row: -np.nan_to_num(row["final_test_accuracy_mean"], nan=-1.0))
    return rows


def _spec_columns(df: pd.DataFrame) -> list[str]:
    columns = list(df.columns)
    return columns[columns.index("run_key") + 1:columns.index(RUN_COLUMNS[0])]


def _run_table(df: pd.DataFrame) -> list[dict]:
    """One dict per run, in first-seen order: its run-level values as plain Python
    values, its final test accuracy (last epoch, 'done' runs only) and epoch times.
    A run is an (experiment, run_key) pair: two experiments can train the same
    spec (e.g. a `*_best` setting and the noise-free point of a noise study), so
    a run key alone is unique only within an experiment."""
    runs = []
    run_columns = [column for column in df.columns if column not in ("epoch",)]
    for _, rows in df.groupby(["experiment", "run_key"], sort=False, dropna=False):
        first = rows.iloc[0]
        values = {column: _plain(first[column]) for column in run_columns}
        epochs = rows[rows["epoch"].notna()] if "epoch" in rows else rows.iloc[:0]
        last = _plain(epochs["test_accuracy"].iloc[-1]) if len(epochs) else None
        if values.get("final_test_accuracy") is not None:  # Early stopping restored its best.
            last = values["final_test_accuracy"]
        soft = (_plain(epochs["test_soft_accuracy"].iloc[-1])
                if len(epochs) and "test_soft_accuracy" in epochs else None)
        if values.get("final_test_soft_accuracy") is not None:
            soft = values["final_test_soft_accuracy"]
        runs.append({
            "values": values,
            "status": values["status"],
            "final_test_accuracy": last if values["status"] == "done" and last is not None
            else math.nan,
            "final_test_soft_accuracy": soft if values["status"] == "done" and soft is not None
            else math.nan,
            "best_test_accuracy": values["best_test_accuracy"],
            "best_epoch": values["best_epoch"],
            "wall_seconds": values["wall_seconds"],
            "epoch_seconds": [_plain(s) for s in epochs.get("epoch_seconds", [])],
        })
    return runs


def _plain(value):
    """A DataFrame cell as the Python value the run JSON had (NaN and <NA> -> None)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _at(values: list | None, index: int):
    return values[index] if values is not None and index < len(values) else None


def _metric_column(metric: str) -> str:
    return "learning_rate_at_epoch" if metric == "learning_rate" else metric
