"""Tables and figures built from a workdir's run JSONs alone; never trains.

    python -m lenet_bench.report WORKDIR_OR_EXPERIMENT_DIR

writes, per experiment, summary.csv, summary.md, figures/*.png and REPORT.md,
and for a workdir an index REPORT.md linking each experiment's report.
"""

import csv
import io
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from lenet_bench.files import atomic_write_text, read_json

# Spec fields that tell one setting from another in tables (seed is what repeats).
SETTING_FIELDS = ("initializer", "learning_rate", "lr_decay", "optimizer", "batch_size",
                  "activation", "epochs", "train_size")


def load_runs(experiment_dir: Path) -> tuple[dict, list[dict]]:
    """The experiment's config.json and its runs' records, in config order.

    Runs named in config.json that have no (valid) file yet are left out;
    so are run files of other configs that share the folder.
    """
    experiment_dir = Path(experiment_dir)
    config = read_json(experiment_dir / "config.json") or {}
    keys = config.get("run_keys") or sorted(p.stem for p in (experiment_dir / "runs").glob("*.json"))
    runs = [read_json(experiment_dir / "runs" / f"{key}.json") for key in keys]
    return config, [run for run in runs if run and "history" in run]


def setting_of(run: dict) -> tuple:
    return tuple(run["spec"].get(field) for field in SETTING_FIELDS)


def group_by_setting(runs: list[dict]) -> dict[tuple, list[dict]]:
    """Runs grouped by setting (everything but the seed), in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault(setting_of(run), []).append(run)
    return groups


def setting_label(setting: tuple) -> str:
    fields = dict(zip(SETTING_FIELDS, setting))
    return (f"{fields['initializer']}, lr {fields['learning_rate']:g}, "
            f"decay {fields['lr_decay']:g}, {fields['optimizer']}, batch {fields['batch_size']}")


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN for fewer than 2 values)."""
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if len(values) == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan


def summarize(runs: list[dict]) -> list[dict]:
    """One row per setting, aggregated over its seeds, best first."""
    rows = []
    for setting, members in group_by_setting(runs).items():
        finished = [run for run in members if run["status"] == "done"]
        final = [run["history"]["test_accuracy"][-1] for run in finished]
        best = [run["best_test_accuracy"] for run in finished]
        final_mean, final_std = mean_std(final)
        best_mean, best_std = mean_std(best)
        row = dict(zip(SETTING_FIELDS, setting))
        row.update(
            setting=setting_label(setting),
            runs=len(members),
            done=len(finished),
            diverged=sum(run["status"] == "diverged" for run in members),
            final_test_accuracy_mean=final_mean,
            final_test_accuracy_std=final_std,
            best_test_accuracy_mean=best_mean,
            best_test_accuracy_std=best_std,
            best_test_accuracy_max=max(best) if best else math.nan,
            best_epoch_mean=mean_std([run["best_epoch"] for run in finished])[0],
            epoch_seconds_mean=mean_std([s for run in members
                                         for s in run["history"]["epoch_seconds"]])[0],
            total_seconds=sum(run["wall_seconds"] for run in members),
        )
        rows.append(row)
    rows.sort(key=lambda row: -np.nan_to_num(row["best_test_accuracy_mean"], nan=-1.0))
    return rows


def percent(value: float, std: float | None = None) -> str:
    if value is None or math.isnan(value):
        return "–"
    text = f"{100 * value:.2f}"
    if std is not None and not math.isnan(std):
        text += f" ± {100 * std:.2f}"
    return text


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def summary_markdown(rows: list[dict]) -> str:
    return markdown_table(
        ["setting", "runs done", "diverged", "final test acc %", "best-epoch test acc %",
         "max %", "best epoch", "s/epoch"],
        [[row["setting"], f"{row['done']}/{row['runs']}", row["diverged"],
          percent(row["final_test_accuracy_mean"], row["final_test_accuracy_std"]),
          percent(row["best_test_accuracy_mean"], row["best_test_accuracy_std"]),
          percent(row["best_test_accuracy_max"]), f"{row['best_epoch_mean']:.1f}",
          f"{row['epoch_seconds_mean']:.1f}"] for row in rows])


def summary_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["setting"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def plot_curves(runs: list[dict], path: Path, title: str) -> None:
    """Test (solid) and train (dashed) accuracy per epoch, mean ± std over seeds."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for index, (setting, members) in enumerate(group_by_setting(runs).items()):
        color = f"C{index % 10}"
        for metric, style in (("test_accuracy", "-"), ("train_accuracy", "--")):
            length = min(len(run["history"][metric]) for run in members)
            curves = np.array([[np.nan if v is None else v for v in run["history"][metric][:length]]
                               for run in members], dtype=float)
            epochs = np.arange(1, length + 1)
            mean = np.nanmean(curves, axis=0)
            label = f"{setting_label(setting)} ({metric.split('_')[0]}, n={len(members)})"
            axes.plot(epochs, 100 * mean, style, color=color, label=label,
                      marker="o" if length <= 10 else None, markersize=3)
            if len(members) > 1:
                with warnings.catch_warnings():  # an epoch that only one seed reached has no std
                    warnings.simplefilter("ignore", RuntimeWarning)
                    std = np.nanstd(curves, axis=0, ddof=1)
                axes.fill_between(epochs, 100 * (mean - std), 100 * (mean + std),
                                  color=color, alpha=0.2, linewidth=0)
    axes.set_title(title)
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("accuracy (%)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp.{path.name}")
    figure.savefig(tmp, dpi=110, format="png")
    tmp.replace(path)


def write_experiment_report(experiment_dir: Path) -> Path:
    """Writes summary.{csv,md}, figures/ and REPORT.md for one experiment."""
    experiment_dir = Path(experiment_dir)
    config, runs = load_runs(experiment_dir)
    rows = summarize(runs)
    atomic_write_text(experiment_dir / "summary.csv", summary_csv(rows))
    atomic_write_text(experiment_dir / "summary.md", summary_markdown(rows))
    name = config.get("experiment", experiment_dir.name)
    dataset = config.get("dataset", {})
    if runs:
        plot_curves(runs, experiment_dir / "figures" / "accuracy_curves.png",
                    f"{name}: {dataset.get('name', '?')}, mean ± std over seeds")
    machine = config.get("machine", {})
    versions = config.get("versions", {})
    expected = len(config.get("run_keys", runs))
    lines = [
        f"# {name}",
        "",
        f"- dataset: **{dataset.get('name', '?')}** from `{dataset.get('source', '?')}`: "
        f"{dataset.get('train_size', '?')} training images used, "
        f"{dataset.get('test_size', '?')} test images, shape {dataset.get('image_shape', '?')}",
        f"- runs: {sum(run['status'] != 'running' for run in runs)} finished of {expected}"
        + (" (rerun the same command to finish the rest)" if
           sum(run["status"] != "running" for run in runs) < expected else ""),
        f"- training time: {sum(run['wall_seconds'] for run in runs):.0f} s in total",
        f"- machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores; "
        f"device: {runs[0]['device'] if runs else '?'}",
        f"- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
    ]
    if config.get("command"):
        lines.append(f"- command: `{config['command']}`")
    lines += ["", "## Summary (mean ± std over seeds)", "", summary_markdown(rows)]
    if runs:
        lines += ["![accuracy curves](figures/accuracy_curves.png)", "",
                  "## Runs", "",
                  markdown_table(
                      ["run", "status", "best epoch", "best test acc %", "final test acc %",
                       "final train acc %", "seconds"],
                      [[f"[{run['key']}](runs/{run['key']}.json)", run["status"],
                        run["best_epoch"], percent(run["best_test_accuracy"] or math.nan),
                        percent(_last(run, "test_accuracy")), percent(_last(run, "train_accuracy")),
                        f"{run['wall_seconds']:.0f}"] for run in runs])]
    lines += ["", "Tables: [summary.csv](summary.csv), [summary.md](summary.md). "
              "Accuracies are on the test set; best-epoch figures pick the epoch by test "
              "accuracy (keep-best), so they are optimistic next to final-epoch ones.", ""]
    report_path = experiment_dir / "REPORT.md"
    atomic_write_text(report_path, "\n".join(lines))
    return report_path


def _last(run: dict, metric: str) -> float:
    values = run["history"][metric]
    return values[-1] if values and values[-1] is not None else math.nan


def write_index(workdir: Path, skipped: dict[str, str] | None = None) -> Path:
    """Writes `<workdir>/REPORT.md`: one line per experiment found, and why any was skipped."""
    workdir = Path(workdir)
    lines = ["# lenet_bench results", "",
             markdown_table(["experiment", "dataset", "best setting", "best-epoch test acc %",
                             "final test acc %", "runs"],
                            _index_rows(workdir))]
    if skipped:
        lines += ["## Skipped", ""] + [f"- **{name}**: {reason}" for name, reason in skipped.items()]
    lines.append("")
    index_path = workdir / "REPORT.md"
    atomic_write_text(index_path, "\n".join(lines))
    return index_path


def _index_rows(workdir: Path) -> list[list]:
    rows = []
    for experiment_dir in sorted(p.parent for p in workdir.glob("*/config.json")):
        config, runs = load_runs(experiment_dir)
        summary = summarize(runs)
        top = summary[0] if summary else None
        rows.append([f"[{experiment_dir.name}]({experiment_dir.name}/REPORT.md)",
                     config.get("dataset", {}).get("name", "?"),
                     top["setting"] if top else "–",
                     percent(top["best_test_accuracy_mean"], top["best_test_accuracy_std"]) if top else "–",
                     percent(top["final_test_accuracy_mean"], top["final_test_accuracy_std"]) if top else "–",
                     f"{top['done']}/{top['runs']}" if top else "0"])
    return rows


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m lenet_bench.report WORKDIR_OR_EXPERIMENT_DIR", file=sys.stderr)
        return 2
    if not Path(argv[1]).is_dir():
        print(f"error: {argv[1]}: no such directory: expected a workdir or experiment folder",
              file=sys.stderr)
        return 2
    target = Path(argv[1])
    if (target / "config.json").is_file():
        print(write_experiment_report(target))
        return 0
    experiment_dirs = sorted(p.parent for p in target.glob("*/config.json"))
    if not experiment_dirs:
        print(f"{target}: holds no experiment (no */config.json): expected a workdir", file=sys.stderr)
        return 2
    for experiment_dir in experiment_dirs:
        write_experiment_report(experiment_dir)
    print(write_index(target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
