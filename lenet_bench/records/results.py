"""The run data model: a workdir's run records, the settings that tell grid points
apart, and their per-grid-point statistics; as records (for the report) and as
pandas DataFrames (for notebooks).

    from lenet_bench.records import results
    df = results.load("results/quick")            # one row per run x epoch
    results.summary(df[df.epochs == 5], by=["experiment", "learning_rate"])

`load` and `load_runs` read the run JSONs only, so they work on any workdir,
finished or not. `summary` computes the per-grid-point table (runs done,
diverged, final and best-epoch test accuracy mean ± std, max, best epoch,
time) that `summarize` returns and every report table shows: there is one
code path for it. No TensorFlow and no Keras here.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from lenet_bench.artifacts import CONFIG_FILE, RUNS_FOLDER
from lenet_bench.backends import DEFAULT_BACKEND
from lenet_bench.config import DEFAULT_LABEL_FIELDS, SETTINGS, field_names
from lenet_bench.files import read_json
from lenet_bench.architectures import MODEL_FIELD_DEFAULTS

# Spec fields that can tell one grid point from another, in display order, and the
# prefix each one's value gets in a label: from the config's field table.
SETTING_FIELDS = field_names(report="column")
# The model fields (MODEL_FIELD_DEFAULTS) of runs written before they existed are read
# at those defaults; a summary shows them only where some run differs (so older reports
# keep their columns).
# Later fields that can tell grid points apart; not summary.csv columns of their own,
# so reports of runs without them keep their columns.
OPTIONAL_SETTING_FIELDS = field_names(report="label")
FIELD_PREFIXES = {name: setting.label for name, setting in SETTINGS.items() if setting.label}


def load_runs(experiment_dir: Path) -> tuple[dict, list[dict]]:
    """The experiment's config.json and its runs' records, in config order.

    Runs named in config.json that have no (valid) file yet are left out;
    so are run files of other configs that share the folder.
    """
    experiment_dir = Path(experiment_dir)
    config = read_json(experiment_dir / CONFIG_FILE) or {}
    runs_dir = experiment_dir / RUNS_FOLDER
    keys = config.get("run_keys") or sorted(path.stem for path in runs_dir.glob("*.json")
                                             if not path.name.startswith("."))
    runs = [read_json(runs_dir / f"{key}.json") for key in keys]
    runs = [run for run in runs if run and "history" in run]
    for run in runs:  # Written before `precision` and the model fields existed.
        run["spec"].setdefault("precision", "float32")
        for field, default in MODEL_FIELD_DEFAULTS.items():
            run["spec"].setdefault(field, default)
    return config, runs


def label_fields(runs: list[dict], config: dict | None = None) -> tuple[str, ...]:
    """The fields that name a grid point: the config's grid fields, else those
    that vary between runs, else a default set (a single setting)."""
    grid = tuple(((config or {}).get("config") or {}).get("grid") or {})
    varying = tuple(field for field in SETTING_FIELDS + OPTIONAL_SETTING_FIELDS
                    if field not in grid
                    and len({json.dumps(run["spec"].get(field)) for run in runs}) > 1)
    return grid + varying or DEFAULT_LABEL_FIELDS


def format_value(field: str, value) -> str:
    if isinstance(value, bool):
        text = "on" if value else "off"
    else:
        text = f"{value:g}" if isinstance(value, float) else str(value)
    return FIELD_PREFIXES.get(field, "") + text


def setting_label(spec: dict, fields: tuple[str, ...]) -> str:
    return ", ".join(format_value(field, spec.get(field)) for field in fields)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN for fewer than 2 values)."""
    values = np.asarray([v for v in values if v is not None and not np.isnan(v)], dtype=float)
    if len(values) == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan


def finished_runs(runs: list[dict]) -> list[dict]:
    """The runs that trained to their last epoch: the ones means, curves and bands use."""
    return [run for run in runs if run["status"] == "done"]


def backends_text(runs: list[dict]) -> str:
    """The Keras backends the runs trained on (runs from before the field: tensorflow)."""
    return ", ".join(sorted({run["spec"].get("backend", DEFAULT_BACKEND) for run in runs})) or "?"


def threads_text(runs: list[dict]) -> str:
    """'threads: 2': the TensorFlow thread counts the runs trained with ('not recorded'
    added for runs without one); '' when no run recorded one (runs written before
    the record had the field), so their reports keep their text."""
    recorded = sorted({run["threads"] for run in runs if run.get("threads") is not None})
    if not recorded:
        return ""
    missing = any(run.get("threads") is None for run in runs)
    return "threads: " + ", ".join([str(value) for value in recorded]
                                   + (["not recorded"] if missing else []))


# Run-level columns, after experiment, run_key and the spec fields.
RUN_COLUMNS = ("status", "epochs_done", "best_epoch", "best_test_accuracy", "diverged_epoch",
               "num_params", "trainer", "wall_seconds",
               # Early stopping (None without it): the restored model's test accuracy.
               "final_test_accuracy", "final_test_soft_accuracy", "best_val_epoch",
               "best_val_accuracy", "stopped_epoch")
# A finished run's final test figures: the restored model's with early stopping, else
# its last epoch's (the history metric).
FINAL_COLUMNS = {"final_test_accuracy": "test_accuracy",
                 "final_test_soft_accuracy": "test_soft_accuracy"}
SUMMARY_STATISTICS = ("runs", "done", "diverged", "final_test_accuracy_mean",
                      "final_test_accuracy_std", "best_test_accuracy_mean",
                      "best_test_accuracy_std", "best_test_accuracy_max",
                      "final_test_soft_accuracy_mean", "final_test_soft_accuracy_std",
                      "best_epoch_mean",
                      "best_epoch_std", "epoch_seconds_mean", "total_seconds", "num_params")


def experiment_dirs(path: str | Path) -> list[Path]:
    """The experiment folder `path` itself, or the experiment folders of a workdir."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        return [path]
    return sorted(config.parent for config in path.glob(f"*/{CONFIG_FILE}"))


def load(path: str | Path) -> pd.DataFrame:
    """A tidy DataFrame of every run of a workdir (or of one experiment folder).

    One row per run and finished epoch (a run is an experiment and run key:
    the same key can appear in two experiments that train the same spec); a run with no finished epoch yet has
    one row with <NA> epoch and metrics, so every run is counted. Columns:
    `experiment`, `run_key`, every RunSpec field (`dataset`, `initializer`,
    `learning_rate`, ..., `seed`), the run's `status`, `epochs_done`,
    `best_epoch`, `best_test_accuracy`, `diverged_epoch`, `num_params`,
    `trainer`, `wall_seconds`, `final_test_accuracy` and `final_test_soft_accuracy`
    (a finished run's: with early stopping the restored model's, else its last
    epoch's; None for a run not done), with early stopping `best_val_epoch`,
    `best_val_accuracy`, `stopped_epoch`, then `epoch` and every per-epoch metric of the
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
        config, experiment_runs = load_runs(folder)
        name = config.get("experiment", folder.name)
        runs += [{**run, "experiment": run.get("experiment") or name} for run in experiment_runs]
    return frame(runs)


def load_verdicts(experiment_dirs) -> pd.DataFrame:
    """The verdicts the reports wrote (each folder's verdicts.csv), one row per
    experiment and grid point; empty where no report judged a grid."""
    frames = [pd.read_csv(folder / "verdicts.csv").assign(experiment=Path(folder).name)
              for folder in experiment_dirs if (Path(folder) / "verdicts.csv").is_file()]
    if not frames:
        return pd.DataFrame(columns=["experiment", "setting", "verdict"])
    verdicts = pd.concat(frames, ignore_index=True)
    return verdicts[["experiment", *[c for c in verdicts.columns if c != "experiment"]]]


def frame(runs: list[dict]) -> pd.DataFrame:
    """The `load` DataFrame of run records (as `load_runs` returns them)."""
    spec_fields = list(dict.fromkeys(field for run in runs for field in run["spec"]))
    metrics = list(dict.fromkeys(metric for run in runs for metric in run["history"]
                                 if metric != "epoch"))
    rows = []
    for run in runs:
        base = {"experiment": run.get("experiment", ""), "run_key": run["key"],
                **{field: run["spec"].get(field) for field in spec_fields},
                **{column: run.get(column) for column in RUN_COLUMNS}}
        history = run["history"]
        if run.get("status") == "done":  # Without early stopping: its last epoch's.
            for column, metric in FINAL_COLUMNS.items():
                if base[column] is None:
                    base[column] = (history.get(metric) or [None])[-1]
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
        row = {column: first.get(column) for column in by if column not in SETTING_FIELDS}
        row.update({field: first.get(field) for field in SETTING_FIELDS})
        row.update(
            setting=setting_label(first, label_fields),
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


def summarize(runs: list[dict], fields: tuple[str, ...] | None = None) -> list[dict]:
    """One row per grid point, aggregated over its seeds, ranked by mean final
    test accuracy (best first; points with no finished run last).

    Only finished runs ('done') count in the means; diverged runs are counted
    separately and never averaged in. Computed by `summary_records` (what the
    notebook API `summary` returns), so the report and a notebook agree.
    """
    fields = fields or label_fields(runs)
    shown = [field for field in SETTING_FIELDS if field not in MODEL_FIELD_DEFAULTS
             or any(run["spec"].get(field, MODEL_FIELD_DEFAULTS[field])
                    != MODEL_FIELD_DEFAULTS[field] for run in runs)]
    columns = ("setting", *SUMMARY_STATISTICS)
    rows = []
    for row in summary_records(frame(runs), label_fields=fields):
        summary_row = {field: MODEL_FIELD_DEFAULTS[field] if row[field] is None
                       and field in MODEL_FIELD_DEFAULTS else row[field] for field in shown}
        summary_row.update({field: row.get(field) for field in fields if field not in summary_row})
        summary_row.update({column: row[column] for column in columns})
        rows.append(summary_row)
    with_validation = any("best_val_epoch" in run for run in runs)
    with_cost = any("cost" in run for run in runs)
    if with_validation or with_cost:
        finished_by_setting = {}
        for run in finished_runs(runs):
            finished_by_setting.setdefault(setting_label(run["spec"], fields), []).append(run)
        for row in rows:
            finished = finished_by_setting.get(row["setting"], [])
            if with_validation:
                row.update(early_stopping_stats(finished))
            if with_cost:
                row.update(cost_means(finished))
    return rows


def early_stopping_stats(finished: list[dict]) -> dict:
    """Validation figures of finished runs with a validation split: accuracy at the best
    validation epoch, that epoch, and the epoch early stopping stopped at (for the runs
    it stopped; the others ran to their last epoch)."""
    with_validation = [run for run in finished if run.get("best_val_epoch") is not None]
    val_mean, val_std = mean_std([run["best_val_accuracy"] for run in with_validation])
    epoch_mean, epoch_std = mean_std([run["best_val_epoch"] for run in with_validation])
    stopped = [run["stopped_epoch"] for run in with_validation if run.get("stopped_epoch")]
    stopped_mean, stopped_std = mean_std(stopped)
    return {"best_val_accuracy_mean": val_mean, "best_val_accuracy_std": val_std,
            "best_val_epoch_mean": epoch_mean, "best_val_epoch_std": epoch_std,
            "stopped_runs": len(stopped), "stopped_epoch_mean": stopped_mean,
            "stopped_epoch_std": stopped_std}


COST_MEANS = ("inference_ms_per_image_batch1", "inference_ms_per_image_large_batch",
              "keras_file_bytes")


def cost_means(runs: list[dict]) -> dict:
    """Mean cost figures (train.py's `cost` record) over the runs that have them
    (NaN where none has)."""
    costs = [run["cost"] for run in runs if run.get("cost")]
    means = {f"{key}_mean": mean_std([cost.get(key) for cost in costs])[0] for key in COST_MEANS}
    batches = sorted({cost.get("inference_large_batch") for cost in costs} - {None})
    means["inference_large_batch"] = "/".join(map(str, batches))
    return means


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
        if values.get("final_test_accuracy") is not None:  # frame(): restored or last epoch.
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
