"""REPORT.md of a search experiment, from its search.json and run JSONs alone; never trains.

Validation figures (held-out folds of the training set) and the test figure
(the chosen configuration, evaluated once) are in separate sections, and
every table says which split its numbers come from.
"""

import csv
import io
import math
from pathlib import Path

import numpy as np

from lenet_bench.artifacts import CONFIG_FILE, RUNS_FOLDER, SEARCH_FILE
from lenet_bench.files import atomic_write_text, read_json
from lenet_bench.reports import plots
from lenet_bench.records.results import mean_std, threads_text
from lenet_bench.reports.tables import markdown_table, percent, percent_nan
from lenet_bench.study.search_space import choose, parse_space, score_trials

PLOTS_PER_ROW = 3


def format_param(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def selection_text(config: dict, train_size) -> str:
    if config.get("cv_folds", 3) >= 2:
        return (f"stratified {config['cv_folds']}-fold cross-validation of the {train_size} "
                f"training images (seed {config.get('search_seed', 0)})")
    return (f"one stratified hold-out of {config.get('holdout_fraction', 0.2):g} of the "
            f"{train_size} training images (seed {config.get('search_seed', 0)})")


def space_text(search_space: dict) -> str:
    return "; ".join(f"{field} {kind} {values}" for field, spec in search_space.items()
                     for kind, values in spec.items() if kind != "points")


def ranked_rows(rows: list[dict]) -> list[dict]:
    """Trials by mean validation accuracy, best first; trials with no score last."""
    return sorted(rows, key=lambda row: (-np.nan_to_num(row["mean"], nan=-1.0), row["trial"]))


def trials_csv(rows: list[dict], trials: list[dict], fields: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "trial"] + fields + ["validation_accuracy_mean",
                                                   "validation_accuracy_std", "runs_done",
                                                   "runs_expected", "diverged", "seconds"])
    for rank, row in enumerate(ranked_rows(rows), start=1):
        writer.writerow([rank, row["trial"] + 1] + [trials[row["trial"]][f] for f in fields]
                        + [row["mean"], row["std"], row["done"], row["expected"], row["diverged"],
                           round(row["seconds"], 1)])
    return buffer.getvalue()


def plot_scores(rows: list[dict], trials: list[dict], dimensions: list, chosen: int | None,
                path: Path, title: str) -> None:
    """Mean validation accuracy (± std over folds) against each searched parameter;
    a log x-axis for log-scale parameters, one position per value for choices."""
    columns = min(len(dimensions), PLOTS_PER_ROW) or 1
    rows_of_plots = math.ceil(len(dimensions) / columns) or 1
    figure = plots._figure(3.8 * columns, 3.2 * rows_of_plots)
    axes_list = figure.subplots(rows_of_plots, columns, squeeze=False).ravel()
    for unused in axes_list[len(dimensions):]:
        unused.set_visible(False)
    scored = [row for row in rows if not math.isnan(row["mean"])]
    for axes, dimension in zip(axes_list, dimensions):
        values = [trials[row["trial"]][dimension.field] for row in scored]
        if dimension.kind == "choice":
            labels = [format_param(v) for v in dimension.values]
            x = [labels.index(format_param(v)) for v in values]
            axes.set_xticks(range(len(labels)), labels, rotation=20)
            axes.set_xlim(-0.5, len(labels) - 0.5)
        else:
            x = values
            if dimension.log_scale:
                axes.set_xscale("log")
        y = [100 * row["mean"] for row in scored]
        errors = [0.0 if math.isnan(row["std"]) else 100 * row["std"] for row in scored]
        axes.errorbar(x, y, yerr=errors, fmt="o", color="tab:blue", capsize=3, label="trial")
        for xi, row, yi in zip(x, scored, y):
            if row["trial"] == chosen:
                axes.plot([xi], [yi], "*", color="tab:red", markersize=14, label="chosen")
        axes.set_xlabel(dimension.field + (" (log)" if dimension.log_scale else ""))
        axes.set_ylabel("validation accuracy %")
        axes.grid(alpha=0.3)
    axes_list[0].legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    plots._save(figure, path)


def _search_header(name: str, config_file: dict, plan: dict, records: dict,
                   keys: list[str]) -> list[str]:
    """The search report's title and what was run: dataset, search, selection, runs."""
    config = config_file.get("config", {})
    dataset = config_file.get("dataset", {})
    machine = config_file.get("machine", {})
    threads = threads_text(list(records.values()))
    runs_per_trial = len(plan.get("splits", [])) * config.get("seeds", 1)
    lines = [
        f"# {name}: hyperparameter search",
        "",
        f"- dataset: **{dataset.get('name', '?')}** from `{dataset.get('source', '?')}`: "
        f"{dataset.get('train_size', '?')} training images used, "
        f"{dataset.get('test_size', '?')} test images",
        f"- search: {plan.get('method', '?')}, {len(plan.get('trials', []))} trials (budget "
        f"{config.get('search_trials', '?')}, seed {config.get('search_seed', '?')}) over "
        f"{space_text(config.get('search') or {})}; fixed: epochs {config.get('epochs')}, "
        f"seeds {config.get('seeds')}",
        f"- selection: {selection_text(config, dataset.get('train_size', '?'))}: "
        f"{runs_per_trial} runs per trial, each scored by its final-epoch accuracy on its "
        "held-out fold; the test set is not used",
        f"- runs: {sum(r['status'] != 'running' for r in records.values())} finished of "
        f"{len(keys)} planned; training time "
        f"{sum(r['wall_seconds'] for r in records.values()):.0f} s"
        f"; machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
        + (f"; {threads}" if threads else ""),
    ]
    if config_file.get("command"):
        lines.append(f"- command: `{config_file['command']}`")
    return lines


def _trials_section(rows: list[dict], trials: list[dict], fields: list[str],
                    chosen: int | None) -> list[str]:
    """'## Validation: trials ranked': every trial's validation score."""
    table = []
    for rank, row in enumerate(ranked_rows(rows), start=1):
        trial = trials[row["trial"]]
        table.append([rank, f"{row['trial'] + 1}"
                      + (" **chosen**" if row["trial"] == chosen else "")]
                     + [format_param(trial[field]) for field in fields]
                     + [percent_nan(row["mean"], row["std"]),
                        ", ".join(f"{100 * a:.2f}" for a in row["accuracies"]),
                        f"{row['done']}/{row['expected']}", row["diverged"],
                        f"{row['seconds']:.0f}"])
    return ["", "## Validation: trials ranked (held-out folds of the training set)", "",
            "Validation accuracy %, mean ± std over folds (and seeds); trials with a diverged "
            "or unfinished run are never chosen.", "",
            markdown_table(["rank", "trial"] + fields + ["validation acc %", "per fold %",
                                                        "runs done", "diverged", "seconds"],
                           table),
            "Table: [search_trials.csv](search_trials.csv).", ""]


def _chosen_section(rows: list[dict], trials: list[dict], fields: list[str],
                    chosen: int | None, final: list[dict], dataset: dict) -> list[str]:
    """'## Chosen configuration' and its one evaluation on the test set."""
    lines = ["## Chosen configuration (by validation only)", ""]
    if chosen is None:
        return lines + ["No trial has finished on every split without diverging yet: nothing "
                        "chosen, the test set not evaluated.", ""]
    row = rows[chosen]
    lines += [f"Trial {chosen + 1}: " + ", ".join(f"{f} = {format_param(trials[chosen][f])}"
                                                  for f in fields)
              + f"; validation accuracy {percent_nan(row['mean'], row['std'])} %.", ""]
    done = [run for run in final if run["status"] == "done"]
    lines += ["## Test set (evaluated once, chosen configuration only)", ""]
    if not done:
        return lines + ["The final run has not finished yet: rerun the same command.", ""]
    mean, std = mean_std([run["history"]["test_accuracy"][-1] for run in done])
    return lines + [
        f"The chosen configuration trained on all {done[0]['train_size']} training images "
        f"for {done[0]['spec']['epochs']} epochs, then evaluated on the "
        f"{dataset.get('test_size', '?')} test images once, at its final epoch (no epoch "
        "or configuration was picked by the test set):", "",
        markdown_table(["run", "seed", "test acc % (test, evaluated once)", "seconds"],
                       [[f"[{run['key']}](runs/{run['key']}.json)", run["spec"]["seed"],
                         percent(run["history"]["test_accuracy"][-1]),
                         f"{run['wall_seconds']:.0f}"] for run in done]),
        f"**Test accuracy (test, evaluated once): {percent_nan(mean, std)} %**"
        + (" (mean ± std over seeds)" if len(done) > 1 else "") + ".", ""]


def _nested_section(nested: list[dict], records: dict, trials: list[dict],
                    fields: list[str]) -> list[str]:
    """'## Nested cross-validation': per outer fold, the inner choice and its score."""
    if not nested:
        return []
    outer_rows, outer_scores = [], []
    for number, level in enumerate(nested):
        inner = score_trials(level["keys"], records)
        inner_chosen = choose(inner)
        outer = [records[key] for key in level.get("outer_keys", []) if key in records]
        outer = [run["history"]["test_accuracy"][-1] for run in outer if run["status"] == "done"]
        outer_scores += outer
        if inner_chosen is None:
            chosen_text, inner_text = "–", "–"
        else:
            chosen_text = f"{inner_chosen + 1}: " + ", ".join(
                format_param(trials[inner_chosen][field]) for field in fields)
            inner_text = percent_nan(inner[inner_chosen]["mean"], inner[inner_chosen]["std"])
        outer_rows.append([number, chosen_text, inner_text,
                           ", ".join(f"{100 * a:.2f}" for a in outer) or "–"])
    mean, std = mean_std(outer_scores)
    return ["## Nested cross-validation (estimate of the whole search + selection)", "",
            f"{len(nested)} outer folds of the training set; in each, the search above "
            "selects on inner folds of the outer-training part, and the trial it chooses "
            "is trained on that part and scored on the outer fold (never on the test set).",
            "",
            markdown_table(["outer fold", "chosen trial", "inner validation acc %",
                            "outer-fold acc %"], outer_rows),
            f"**Outer-fold accuracy: {percent_nan(mean, std)} %** "
            f"(mean ± std over {len(outer_scores)} outer-fold runs).", ""]


def _planned_keys(plan: dict) -> list[str]:
    """Every run key the search planned: selection, nested inner and outer, final."""
    keys = [key for keys in plan.get("selection_keys", []) for key in keys]
    keys += [key for level in plan.get("nested", []) for keys in level["keys"] for key in keys]
    keys += plan.get("final_keys", [])
    keys += [key for level in plan.get("nested", []) for key in level.get("outer_keys", [])]
    return list(dict.fromkeys(keys))  # An outer fold may reuse a selection run.


def write_search_report(experiment_dir: Path) -> Path:
    """Writes search_trials.csv, figures/search_scores.png and REPORT.md of a search."""
    experiment_dir = Path(experiment_dir)
    config_file = read_json(experiment_dir / CONFIG_FILE) or {}
    config = config_file.get("config", {})
    plan = read_json(experiment_dir / SEARCH_FILE) or {}
    name = config_file.get("experiment", experiment_dir.name)
    trials = plan.get("trials", [])
    dimensions = parse_space(config.get("search") or {})
    fields = [dimension.field for dimension in dimensions]
    keys = _planned_keys(plan)
    records = {key: read_json(experiment_dir / RUNS_FOLDER / f"{key}.json") for key in keys}
    records = {key: record for key, record in records.items() if record}
    rows = score_trials(plan.get("selection_keys", []), records)
    chosen = choose(rows)
    lines = _search_header(name, config_file, plan, records, keys)
    lines += _trials_section(rows, trials, fields, chosen)
    atomic_write_text(experiment_dir / "search_trials.csv", trials_csv(rows, trials, fields))
    final = [records[key] for key in plan.get("final_keys", []) if key in records]
    lines += _chosen_section(rows, trials, fields, chosen, final,
                             config_file.get("dataset", {}))
    lines += _nested_section(plan.get("nested", []), records, trials, fields)
    if dimensions and any(not math.isnan(row["mean"]) for row in rows):
        plot_scores(rows, trials, dimensions, chosen,
                    experiment_dir / "figures" / "search_scores.png",
                    f"{name}: validation accuracy per trial (mean ± std over folds)")
        lines += ["## Validation score against each searched parameter", "",
                  "![validation score per parameter](figures/search_scores.png)", ""]
    lines += ["Runs of the search are in [runs/](runs/); their `test_*` history fields hold the "
              "split each run evaluated on (its `spec.split`: a held-out fold for selection runs, "
              "'' for the final run on the test set).", ""]
    report_path = experiment_dir / "REPORT.md"
    atomic_write_text(report_path, "\n".join(lines))
    return report_path
