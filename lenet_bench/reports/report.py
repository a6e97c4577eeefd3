"""Tables and figures built from a workdir's run JSONs alone; never trains.

    python -m lenet_bench.reports.report WORKDIR_OR_EXPERIMENT_DIR [--rank_runs_by=final|best]
        [--margin=POINTS]

writes, per experiment, the ranked grid points (summary.{csv,md,tex}), per-epoch
statistics (per_epoch.csv), the grid pivot (pivot.{csv,md,tex}), each point's verdict
against the best within the equivalence margin (verdicts.{csv,md,tex}), label-noise
tables, confusion matrices and pairs, figures/*.png and REPORT.md; for a
workdir, an index REPORT.md that opens with the one-screen summary.
"""

import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from lenet_bench.artifacts import (CONFIG_FILE, CONFUSION_EXAMPLES_FILE, PARAMETER_COUNTS_FILE,
                                   SEARCH_FILE, SKIPPED_FILE)
from lenet_bench.config import DEFAULT_LABEL_FIELDS
from lenet_bench.files import atomic_write_text, read_json
from lenet_bench.inputs import noise
from lenet_bench.architectures import MODEL_FIELD_DEFAULTS
from lenet_bench.records import analysis, decision, statistics
from lenet_bench.reports import (companion_report, plots, race_report, search_report,
                                 statistics_report)
from lenet_bench.records.results import (SETTING_FIELDS, backends_text, finished_runs,
                                         format_value, label_fields, load_runs, mean_std,
                                         setting_label, summarize, threads_text)
from lenet_bench.reports.statistics_report import interval_text, margin_text, verdict_legend
from lenet_bench.reports.tables import (csv_text, duration_words, epoch_text, latex_table,
                                        markdown_table, matrix_text, mean_std_text, percent,
                                        percent_nan)

TOP_K_CURVES = 5
TOP_K_PAIRS = 3


def per_epoch_rows(runs: list[dict], fields: tuple[str, ...]) -> list[dict]:
    """Per grid point and epoch: test accuracy mean, std, min, max over its finished seeds."""
    rows = []
    for members in analysis.group_by_point(finished_runs(runs)).values():
        curves = plots.curve_matrix(members, "test_accuracy")
        for epoch in range(curves.shape[1]):
            values = curves[:, epoch][np.isfinite(curves[:, epoch])]
            if not len(values):
                continue
            rows.append({"setting": setting_label(members[0]["spec"], fields), "epoch": epoch + 1,
                         "seeds": len(values), "test_accuracy_mean": float(values.mean()),
                         "test_accuracy_std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                         "test_accuracy_min": float(values.min()),
                         "test_accuracy_max": float(values.max())})
    return rows


SUMMARY_HEADER = ["rank", "setting", "runs done", "final test acc %", "best-epoch test acc %",
                  "best epoch", "s/epoch"]
# Where the rows carry statistics_report.annotate_rows' figures: the interval after the
# final accuracy, and with verdicts the verdict and its figures (12 columns in all; the
# CSV keeps every figure: median, IQR, soft accuracy, diverged runs, ...).
INTERVAL_HEADER = ["95% CI"]
VERDICT_HEADER = ["vs best of others, points", "failed (95% upper bound)", "seeds needed"]
EARLY_STOPPING_HEADER = ["best val acc %", "best val epoch", "stopped (epoch)"]
# Added where the runs recorded their cost (see lenet_bench.observers.cost).
COST_HEADER = ["params", "infer ms/img (batch 1)", "infer ms/img (large batch)", ".keras KB"]


def _judged(rows: list[dict]) -> bool:
    return any(row.get("verdict") for row in rows)


def summary_header(rows: list[dict]) -> list[str]:
    """The ranked table's columns: SUMMARY_HEADER, with the interval where the rows have
    one and the verdict and its figures where some row has a verdict."""
    header = list(SUMMARY_HEADER)
    if rows and "final_test_accuracy_ci_low" in rows[0]:
        header[4:4] = INTERVAL_HEADER
    if _judged(rows):
        header[2:2] = ["verdict"]
        header[6:6] = VERDICT_HEADER
    return header


def interval_cells(row: dict) -> list[str]:
    """The 95% CI of a row's mean final test accuracy."""
    return [interval_text(row["final_test_accuracy_ci_low"], row["final_test_accuracy_ci_high"])]


def verdict_figure_cells(row: dict) -> list[str]:
    """The interval against the best of the others, failures and seeds needed."""
    upper = row.get("failure_upper", math.nan)
    needed = row.get("seeds_needed", math.nan)
    return [interval_text(row.get("vs_best_low_points", math.nan),
                          row.get("vs_best_high_points", math.nan), 1),
            f"{row['failed']}/{row['done'] + row['diverged']}"
            + ("" if math.isnan(upper) else f" (≤ {100 * upper:.0f}%)"),
            "" if row.get("verdict") != "undecided" or math.isnan(needed) else
            (f"> {decision.SEEDS_CAP}" if math.isinf(needed) else f"{int(needed)}")]


def summary_table_rows(rows: list[dict]) -> list[list]:
    judged = _judged(rows)
    table = []
    for rank, row in enumerate(rows, start=1):
        line = [rank, row["setting"], *([row["verdict"] or "untested"] if judged else []),
                f"{row['done']}/{row['runs']}",
                percent(row["final_test_accuracy_mean"], row["final_test_accuracy_std"]),
                *(interval_cells(row) if "final_test_accuracy_ci_low" in row else []),
                *(verdict_figure_cells(row) if judged else []),
                percent(row["best_test_accuracy_mean"], row["best_test_accuracy_std"]),
                epoch_text(row["best_epoch_mean"], row["best_epoch_std"]),
                mean_std_text(row["epoch_seconds_mean"], math.nan, 1)]
        table.append(line)
    return table


def extras_header(rows: list[dict]) -> list[str]:
    """The second table's columns: early stopping where the runs have a validation
    split, cost where they recorded it; [] when neither."""
    has_validation = bool(rows) and "best_val_epoch_mean" in rows[0]
    has_cost = any("keras_file_bytes_mean" in row for row in rows)
    if not has_validation and not has_cost:
        return []
    return (["setting"] + (EARLY_STOPPING_HEADER if has_validation else [])
            + (COST_HEADER if has_cost else []))


def extras_table_rows(rows: list[dict]) -> list[list]:
    table = []
    for row in rows:
        line = [row["setting"]]
        if "best_val_epoch_mean" in row:
            line += [percent(row["best_val_accuracy_mean"], row["best_val_accuracy_std"]),
                     epoch_text(row["best_val_epoch_mean"], row["best_val_epoch_std"]),
                     f"{row['stopped_runs']}/{row['done']}" + (
                         f" ({epoch_text(row['stopped_epoch_mean'], row['stopped_epoch_std'])})"
                         if row["stopped_runs"] else "")]
        if any("keras_file_bytes_mean" in other for other in rows):
            line += [f"{row['num_params']:,}" if row.get("num_params") else "–",
                     mean_std_text(row.get("inference_ms_per_image_batch1_mean", math.nan),
                                   math.nan, 3),
                     mean_std_text(row.get("inference_ms_per_image_large_batch_mean", math.nan),
                                   math.nan, 4)
                     + (f" (×{row['inference_large_batch']})" if row.get("inference_large_batch")
                        else ""),
                     mean_std_text(row.get("keras_file_bytes_mean", math.nan) / 1000,
                                   math.nan, 0)]
        table.append(line)
    return table


def summary_markdown(rows: list[dict]) -> str:
    text = markdown_table(summary_header(rows), summary_table_rows(rows))
    extras = extras_header(rows)
    return text if not extras else text + "\n" + markdown_table(extras, extras_table_rows(rows))


def parameter_count_section(experiment_dir: Path) -> list[str]:
    """parameter_counts.{md,csv} and the report lines, from the experiment's
    parameter_counts.json (models built with Keras at training time); [] without it."""
    counts = read_json(experiment_dir / PARAMETER_COUNTS_FILE)
    if not counts:
        return []
    header = ["model", "input", "params", "trainable", "× LeNet-5", "what it is"]
    lenet5 = {row["input_shape"]: row["params"] for row in counts["rows"] if row["model"] == "lenet5"}
    table = [[row["model"], row["input_shape"], f"{row['params']:,}",
              f"{row['trainable_params']:,}",
              f"{row['params'] / lenet5[row['input_shape']]:.2f}"
              if row["input_shape"] in lenet5 else "–", row["description"]]
             for row in counts["rows"]]
    atomic_write_text(experiment_dir / "parameter_counts.md", markdown_table(header, table))
    atomic_write_text(experiment_dir / "parameter_counts.csv", csv_text(counts["rows"]))
    return ["## Parameter counts (every model built with Keras; VGG-19 for scale)", "",
            markdown_table(header, table),
            "× LeNet-5: against LeNet-5 on the same input. Batch-norm layers count "
            "their moving statistics in params, not in trainable. Tables: "
            "[parameter_counts.csv](parameter_counts.csv), "
            "[parameter_counts.md](parameter_counts.md).", ""]


def pivot(rows: list[dict], fields: tuple[str, ...], runs: list[dict]):
    """(row labels, column labels, cells) with the first grid field down and the
    other fields across, in the runs' (grid) order; cells are summary rows (or
    None where missing)."""
    specs = [run["spec"] for run in runs]
    row_values = list(dict.fromkeys(json.dumps(spec.get(fields[0])) for spec in specs))
    column_values = list(dict.fromkeys(json.dumps([spec.get(f) for f in fields[1:]])
                                       for spec in specs))
    by_cell = {(json.dumps(row[fields[0]]), json.dumps([row[f] for f in fields[1:]])): row
               for row in rows}
    row_labels = [format_value(fields[0], json.loads(value)) for value in row_values]
    column_labels = [", ".join(format_value(f, v) for f, v in zip(fields[1:], json.loads(value)))
                     for value in column_values]
    cells = [[by_cell.get((r, c)) for c in column_values] for r in row_values]
    return row_labels, column_labels, cells


def pivot_cell(row: dict | None) -> str:
    """mean ± std of the final test accuracy, its verdict against the best in
    brackets, and how many seeds diverged or stayed at chance, if any."""
    if row is None:
        return "–"
    text = f"({row['verdict']}) " if row.get("verdict") else ""
    text += percent(row["final_test_accuracy_mean"], row["final_test_accuracy_std"])
    if row["diverged"]:
        text += f" ({row['diverged']}/{row['runs']} diverged)"
    if row.get("at_chance"):
        text += f" ({row['at_chance']}/{row['done']} at chance)"
    return text


def write_tables(experiment_dir: Path, name: str, rows: list[dict], fields: tuple[str, ...],
                 runs: list[dict]) -> list[str]:
    """summary.{csv,md,tex}, per_epoch.csv and, for a grid of 2+ fields,
    pivot.{csv,md,tex} and the heat map. Returns the report lines for the pivot."""
    atomic_write_text(experiment_dir / "summary.csv", csv_text(rows))
    atomic_write_text(experiment_dir / "summary.md", summary_markdown(rows))
    atomic_write_text(experiment_dir / "summary.tex", latex_table(
        summary_header(rows), summary_table_rows(rows),
        f"{name}: grid points ranked by final-epoch test accuracy, mean ± std over seeds"))
    atomic_write_text(experiment_dir / "per_epoch.csv", csv_text(per_epoch_rows(runs, fields)))
    if len(fields) < 2 or len(rows) < 2:
        return []
    row_labels, column_labels, cells = pivot(rows, fields, runs)
    header = [fields[0]] + column_labels
    table = [[label] + [pivot_cell(cell) for cell in line] for label, line in zip(row_labels, cells)]
    atomic_write_text(experiment_dir / "pivot.md", markdown_table(header, table))
    atomic_write_text(experiment_dir / "pivot.tex", latex_table(
        header, table, f"{name}: final-epoch test accuracy (%), mean ± std over seeds"))
    atomic_write_text(experiment_dir / "pivot.csv", csv_text(
        [{fields[0]: label, **{f"{column} {statistic}": "" if cell is None
                               else round(cell[f"final_test_accuracy_{statistic}"], 6)
                               for column, cell in zip(column_labels, line)
                               for statistic in ("mean", "std")}}
         for label, line in zip(row_labels, cells)]))
    values = np.array([[np.nan if cell is None else cell["final_test_accuracy_mean"]
                        for cell in line] for line in cells])
    masks = {verdict: np.array([[cell is not None and cell.get("verdict") == verdict
                                 for cell in line] for line in cells])
             for verdict in ("best", "equivalent", "undecided")}
    judged = any(cell is not None and cell.get("verdict") for line in cells for cell in line)
    margin = next((cell["margin_points"] / 100 for line in cells for cell in line
                   if cell is not None and "margin_points" in cell), None)
    plots.plot_heatmap(values, row_labels, column_labels, experiment_dir / "figures" / "heatmap.png",
                       f"{name}: final-epoch test accuracy, mean over seeds"
                       + (f"\n(red: best; white: equivalent, {margin_text(margin)}; dashed: "
                          "undecided; unframed: worse)" if judged else ""),
                       outlined=masks["equivalent"], best=masks["best"],
                       dashed=masks["undecided"])
    legend = [verdict_legend(margin), ""] if judged else []
    return ["## Grid (final-epoch test accuracy %, mean ± std over seeds)", "",
            markdown_table(header, table), *legend, "![heat map](figures/heatmap.png)", "",
            "Tables: [pivot.csv](pivot.csv), [pivot.md](pivot.md), [pivot.tex](pivot.tex).", ""]


def confusion_section(experiment_dir: Path, runs: list[dict], dataset: dict,
                      fields: tuple[str, ...]) -> list[str]:
    """The best grid point's confusion matrix (summed over its seeds), its soft
    confusion matrix, its top pairs, their spread over seeds, and example images;
    files beside the report."""
    best = analysis.best_point_runs(runs)
    if not best:
        return []
    class_names = dataset.get("class_names") or [str(i) for i in range(len(best[0]["confusion_matrix"]))]
    dataset_name = dataset.get("name", "dataset")
    counts = np.sum([run["confusion_matrix"] for run in best], axis=0)
    rates = analysis.row_normalize(counts)
    atomic_write_text(experiment_dir / f"{dataset_name}_conf.txt", matrix_text(
        100 * rates, class_names, f"row-normalized test confusion matrix (%), true class down, "
        f"predicted across; {setting_label(best[0]['spec'], fields)}, summed over {len(best)} seeds"))
    atomic_write_text(experiment_dir / f"{dataset_name}_conf.csv", csv_text(
        [{"true": class_names[i], **{class_names[j]: int(counts[i, j]) for j in range(len(counts))}}
         for i in range(len(counts))]))
    atomic_write_text(experiment_dir / f"{dataset_name}_conf_normalized.csv", csv_text(
        [{"true": class_names[i], **{class_names[j]: float(rates[i, j]) for j in range(len(counts))}}
         for i in range(len(counts))]))
    plots.plot_confusion(counts, class_names, experiment_dir / "figures" / "confusion.png",
                         f"{dataset_name}: {setting_label(best[0]['spec'], fields)}, "
                         f"{len(best)} seeds, final epoch")

    def name(i):
        return class_names[i]

    ordered = analysis.top_pairs(counts, TOP_K_PAIRS)
    unordered = analysis.top_unordered_pairs(counts, TOP_K_PAIRS)
    spread = analysis.pair_statistics([np.asarray(run["confusion_matrix"]) for run in best],
                                      TOP_K_PAIRS)
    lines = [f"## Confusion ({setting_label(best[0]['spec'], fields)}: the best grid point, "
             f"final epoch, {len(best)} seeds summed)", "",
             f"Files: [{dataset_name}_conf.txt]({dataset_name}_conf.txt) (row-normalized %), "
             f"[{dataset_name}_conf.csv]({dataset_name}_conf.csv) (counts summed over the "
             f"{len(best)} seeds), "
             f"[{dataset_name}_conf_normalized.csv]({dataset_name}_conf_normalized.csv).", "",
             "![confusion matrix](figures/confusion.png)", "",
             *companion_report.soft_confusion_lines(experiment_dir, best, class_names,
                                                    dataset_name,
                                                    setting_label(best[0]["spec"], fields)),
             f"Top {TOP_K_PAIRS} confusion pairs (true → predicted):", "",
             markdown_table(["pair", "count", "rate (% of true class)"],
                            [[f"{name(p['true'])} → {name(p['predicted'])}", p["count"],
                              f"{100 * p['rate']:.2f}"] for p in ordered]),
             "Unordered (both directions summed):", "",
             markdown_table(["pair", "count", "a → b", "b → a"],
                            [[f"{name(p['a'])} ↔ {name(p['b'])}", p["count"], p["a_to_b"],
                              p["b_to_a"]] for p in unordered]),
             f"Over the {len(best)} seeds (pairs in any seed's top {TOP_K_PAIRS}; count per "
             f"seed, on the {dataset.get('test_size', '?')}-image test set):", "",
             markdown_table(["pair", "count mean ± std", "rate % [95% CI]",
                             f"in top {TOP_K_PAIRS}"],
                            [[f"{name(p['true'])} → {name(p['predicted'])}",
                              mean_std_text(p["count_mean"], p["count_std"], 1),
                              statistics_report.pair_interval_text(p["rates"]),
                              f"{p['in_top_k']}/{p['runs']}"] for p in spread]),
             "Rate: the mean over seeds of the pair's share of its true class, with the 95% t "
             "interval over seeds (clipped to [0, 100]).", ""]
    examples_path = experiment_dir / CONFUSION_EXAMPLES_FILE
    if examples_path.is_file():
        with np.load(examples_path) as examples:
            plots.plot_examples(examples["images"], examples["confidence"], examples["pairs"],
                                class_names, experiment_dir / "figures" / "confusion_examples.png",
                                f"{dataset_name}: most confident mistakes of the top pairs, "
                                f"run {examples['run_key']}")
        lines += ["![confusion examples](figures/confusion_examples.png)", ""]
    return lines


def group_by_noise(runs: list[dict]) -> list[tuple[tuple[float, str], list[dict]]]:
    """Runs grouped by (label-noise eps, noise mode), lowest eps first."""
    by_noise: dict[tuple, list[dict]] = {}
    for run in runs:
        by_noise.setdefault((run["spec"]["label_noise"], run["spec"]["noise_mode"]), []).append(run)
    return sorted(by_noise.items())


def noise_rows(noise_groups: list[tuple[tuple[float, str], list[dict]]],
               num_classes: int) -> list[dict]:
    """Per label-noise level: test accuracy (best epoch, final) and train accuracy on
    noisy and clean labels, mean ± std over seeds, and the realized-noise check."""
    rows = []
    for (eps, mode), members in noise_groups:
        finished = finished_runs(members)
        checks = [noise.check_realized(np.asarray(run["noise"]["transition_counts"]), eps, mode)
                  for run in members if run.get("noise", {}).get("transition_counts")]
        row = {"eps": eps, "mode": mode, "runs": len(members), "done": len(finished),
               "diverged": sum(run["status"] == "diverged" for run in members),
               "degenerate": noise.is_degenerate(num_classes, eps)}
        for metric in ("test_accuracy", "train_accuracy", "train_clean_accuracy"):
            row[f"final_{metric}_mean"], row[f"final_{metric}_std"] = mean_std(
                [run["history"][metric][-1] for run in finished])
        row["best_test_accuracy_mean"], row["best_test_accuracy_std"] = mean_std(
            [run["best_test_accuracy"] for run in finished])
        final = [analysis.final_accuracy(run) for run in finished]
        summary = statistics.group_summary(final, num_classes)
        row.update(final_test_accuracy_median=summary["median"], at_chance=summary["at_chance"],
                   split=summary["split"], learned_test_accuracy_mean=summary["learned_mean"])
        row["realized_flip_rate_mean"] = mean_std([c["realized_flip_rate"] for c in checks])[0]
        worst = max(checks, key=lambda check: check["max_abs_deviation"], default=None)
        row["max_abs_deviation"] = worst["max_abs_deviation"] if worst else math.nan
        row["max_deviation_cell"] = worst["max_deviation_cell"] if worst else None
        row["max_z"] = max((c.get("max_z", math.nan) for c in checks), default=math.nan)
        row["within_sampling_error"] = f"{sum(c['within'] for c in checks)}/{len(checks)}"
        row["bound"] = checks[0]["bound_kind"] if checks else ""
        rows.append(row)
    return rows


NOISE_HEADER = ["eps", "mode", "runs done", "best-epoch test acc %", "final test acc %",
                "at chance", "median %", "learned runs' mean %",
                "final train acc % (noisy labels)", "final train acc % (clean labels)",
                "realized flip rate %", "largest deviation (points, clean → noisy)",
                "within error"]


def _largest_deviation(row: dict, class_names: list[str]) -> str:
    """A noise level's largest realized-minus-expected cell, with its largest |z|."""
    if row["max_deviation_cell"] is None:
        return "–"
    if row["max_abs_deviation"] == 0:
        return "0.00"
    true, noisy = row["max_deviation_cell"]
    text = f"{100 * row['max_abs_deviation']:.2f} ({class_names[true]} → {class_names[noisy]})"
    return text + ("" if math.isnan(row["max_z"]) else f"; max abs z over cells {row['max_z']:.2f}")


def noise_table(rows: list[dict], class_names: list[str]) -> list[list]:
    """The label-noise table's cells, one line per noise level."""
    return [[f"{row['eps']:g}" + (" ⚠" if row["degenerate"] else ""), row["mode"],
             f"{row['done']}/{row['runs']}",
             percent(row["best_test_accuracy_mean"], row["best_test_accuracy_std"]),
             percent(row["final_test_accuracy_mean"], row["final_test_accuracy_std"]),
             f"{row['at_chance']} of {row['done']}", percent_nan(row["final_test_accuracy_median"]),
             percent_nan(row["learned_test_accuracy_mean"]),
             percent(row["final_train_accuracy_mean"], row["final_train_accuracy_std"]),
             percent(row["final_train_clean_accuracy_mean"],
                     row["final_train_clean_accuracy_std"]),
             percent(row["realized_flip_rate_mean"]), _largest_deviation(row, class_names),
             row["within_sampling_error"]] for row in rows]


def noise_figures(experiment_dir: Path, name: str, noise_groups: list, labels: list[str],
                  num_classes: int) -> None:
    """The accuracy curves per noise level, a split level's runs at chance dotted."""
    curve_groups = [(label, finished) for label, (_, members) in zip(labels, noise_groups)
                    if (finished := finished_runs(members))]
    stuck = [[run for run in finished if statistics.is_split(
        [analysis.final_accuracy(r) for r in finished], num_classes)
              and statistics.at_chance(analysis.final_accuracy(run), num_classes)]
             for _, finished in curve_groups]
    plots.plot_noise_curves(curve_groups, experiment_dir / "figures" / "noise_curves.png",
                            f"{name}: accuracy per label-noise level eps, mean ± std over seeds"
                            + ("; a split level's runs at chance dotted" if any(stuck) else ""),
                            stuck)


def noise_matrix_files(experiment_dir: Path, noise_groups: list, labels: list[str],
                       class_names: list[str], several_modes: bool) -> list[str]:
    """Per noise level, the realized, expected and difference matrices of the lowest
    seed (a text file each) and their figure; returns the files' links."""
    num_classes = len(class_names)
    matrices, links = [], []
    for label, ((eps, mode), members) in zip(labels, noise_groups):
        first = min(members, key=lambda run: run["spec"]["seed"])
        counts = np.asarray(first["noise"]["transition_counts"])
        realized, expected = analysis.row_normalize(counts), noise.expected_matrix(num_classes, eps)
        matrices.append((eps, realized, expected))
        file_name = f"noise_matrix_eps{eps:g}" + (f"_{mode}" if several_modes else "") + ".txt"
        links.append(f"[{label}]({file_name})")
        atomic_write_text(experiment_dir / file_name, "\n".join([
            matrix_text(100 * realized, class_names, f"realized training-label transition "
                        f"matrix (%), clean down, noisy across; eps {eps:g}, {mode}, seed "
                        f"{first['spec']['seed']}"),
            matrix_text(100 * expected, class_names, f"expected (%): {100 * (1 - eps):.2f} on "
                        f"the diagonal, {100 * eps / (num_classes - 1):.2f} elsewhere"),
            matrix_text(100 * (realized - expected), class_names,
                        "realized - expected (percentage points)")]))
    plots.plot_noise_matrices(matrices, class_names,
                              experiment_dir / "figures" / "noise_matrices.png",
                              "training-label transition matrices, clean → noisy (lowest seed)")
    return links


def noise_section(experiment_dir: Path, name: str, runs: list[dict], dataset: dict) -> list[str]:
    """'## Label noise': the table per noise level (noise.{csv,md,tex}), the curves,
    the realized transition matrices and how to read them; [] without label noise."""
    if not any(run["spec"].get("label_noise") for run in runs):
        return []
    num_classes = len(dataset.get("class_names") or runs[0]["noise"]["transition_counts"])
    class_names = dataset.get("class_names") or [str(i) for i in range(num_classes)]
    noise_groups = group_by_noise(runs)
    rows = noise_rows(noise_groups, num_classes)
    table = noise_table(rows, class_names)
    atomic_write_text(experiment_dir / "noise.csv", csv_text(rows))
    atomic_write_text(experiment_dir / "noise.md", markdown_table(NOISE_HEADER, table))
    atomic_write_text(experiment_dir / "noise.tex", latex_table(
        NOISE_HEADER, table,
        f"{name}: test accuracy under symmetric label noise, mean ± std over seeds"))
    several_modes = len({mode for (_, mode), _ in noise_groups}) > 1
    labels = [f"eps {eps:g}" + (f" {mode}" if several_modes else "")
              for (eps, mode), _ in noise_groups]
    noise_figures(experiment_dir, name, noise_groups, labels, num_classes)
    matrix_links = noise_matrix_files(experiment_dir, noise_groups, labels, class_names,
                                      several_modes)
    pooled = [field for field in SETTING_FIELDS if field not in ("label_noise", "noise_mode")
              and len({json.dumps(run["spec"].get(field)) for run in runs}) > 1]
    lines = ["## Label noise", "",
             "Training labels only (the test set is clean): kept with probability 1 - eps, "
             f"else each other class with eps/{num_classes - 1}."
             + (f" Each row pools the runs of every {', '.join(pooled)}." if pooled else ""), "",
             markdown_table(NOISE_HEADER, table)]
    if any(row["degenerate"] for row in rows):
        lines += [f"⚠ eps >= {(num_classes - 1) / num_classes:g} = (K-1)/K: the noisy label is "
                  "no more likely than another class, so the labels carry no majority signal.", ""]
    bounds = "; ".join(dict.fromkeys(f"{row['mode']}: {row['bound']}" for row in rows
                                     if row["bound"]))
    return lines + [
        f"At chance, median, learned runs' mean: the final test accuracy; "
        f"{statistics_report.chance_text(num_classes)}; the learned runs are the others. "
        "Where a level's seeds split (some at chance, some learned), its mean ± std "
        "describes no run: read the count at chance and the learned runs' mean. "
        f"Realized-noise check per seed ({bounds}): 'within error' counts the seeds "
        "inside the bound (for sampled noise about 1 seed in 20 falls outside by chance "
        "alone); the largest deviation is over all seeds, in percentage points of the "
        "clean class, with its cell. Matrices (realized, expected, difference): "
        + ", ".join(matrix_links)
        + ". Tables: [noise.csv](noise.csv), [noise.md](noise.md), [noise.tex](noise.tex).", "",
        "![noise curves](figures/noise_curves.png)", "",
        "![noise matrices](figures/noise_matrices.png)", ""]


def experiment_header(name: str, config: dict, runs: list[dict], rows: list[dict],
                      fields: tuple[str, ...]) -> list[str]:
    """The report's title and what was run: dataset, runs, time, machine, versions."""
    dataset = config.get("dataset", {})
    machine = config.get("machine", {})
    expected = len(config.get("run_keys", runs))
    finished = sum(run["status"] != "running" for run in runs)
    threads = threads_text(runs)  # '' for runs that predate the record (their text unchanged).
    lines = [
        f"# {name}",
        "",
        f"- dataset: **{dataset.get('name', '?')}** from `{dataset.get('source', '?')}`: "
        f"{dataset.get('train_size', '?')} training images used, "
        f"{dataset.get('test_size', '?')} test images, shape {dataset.get('image_shape', '?')}",
        f"- data: {data_text(runs, dataset.get('name', '?'))}",
        f"- runs: {finished} finished of {expected}"
        + (" (rerun the same command to finish the rest)" if finished < expected else "")
        + f"; {len(rows)} grid points ({', '.join(fields)})",
        f"- training time: {duration_words(sum(run['wall_seconds'] for run in runs))} in total",
        f"- machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores; "
        + (f"{threads}; " if threads else "")
        + f"device: {runs[0]['device'] if runs else '?'}; backend: {backends_text(runs)}; "
        "trainer: " + ", ".join(sorted({str(run.get('trainer', '?')) for run in runs}))
        + "; precision: " + ", ".join(sorted({run["spec"]["precision"] for run in runs}))
        + "; oneDNN: " + ", ".join(sorted({run.get("onednn", "not recorded") for run in runs})),
        "- versions: " + ", ".join(f"{k} {v}" for k, v in config.get("versions", {}).items()),
    ]
    return lines + ([f"- command: `{config['command']}`"] if config.get("command") else [])


def data_text(runs: list[dict], name: str) -> str:
    """What the runs trained on, from their records' `data` (inputs.data.describe_data):
    the published release or not, and the counts and shape of what was read."""
    recorded = [run["data"] for run in runs if run.get("data")]
    if not recorded:
        return "not recorded (run files written before lenet_bench recorded their data)"
    copies = {json.dumps([data.get("files"), data.get("arrays_sha256"), data.get("canonical")],
                         sort_keys=True) for data in recorded}
    missing = len(runs) - len(recorded)
    tail = f"; not recorded for {missing} older run files" if missing else ""
    if len(copies) > 1:
        return (f"**{len(copies)} different copies** of the data (see each run file's "
                f"`data`){tail}")
    data = recorded[0]
    if data.get("canonical"):
        release = (f"the published {name} release ({len(data['files'])} files; their SHA-256 "
                   "in each run file's `data`)")
    elif data.get("canonical") is None:
        release = data.get("note") or "release not checked"
    elif data.get("files"):
        release = (f"**not the published {name} release** ({data.get('release_files', '?')} "
                   "of its files match; SHA-256 in each run file's `data`)")
    else:
        release = f"**not the published {name} release** ({data.get('note', '')})"
    shape = "x".join(str(size) for size in data.get("image_shape", ())) or "?"
    return (f"{release}; {data.get('train_images', '?')} training and "
            f"{data.get('test_images', '?')} test images read, {data.get('classes', '?')} "
            f"classes, {shape}{tail}")


def ranked_section(rows: list[dict], classes: int, grid: dict) -> list[str]:
    """'## Grid points ranked': the summary table and how to read it."""
    lines = ["", "## Grid points ranked (test accuracy %, mean ± std over seeds)", "",
             summary_markdown(rows),
             "95% CI: the t interval of the mean final test accuracy over seeds; median and "
             "IQR (interquartile range, points) over seeds; "
             f"{statistics_report.chance_text(classes)}."
             + (" " + verdict_legend(grid["margin"]) if grid["verdicts"] is not None else ""),
             "Tables: [summary.csv](summary.csv), [summary.md](summary.md), "
             "[summary.tex](summary.tex); per epoch (mean, std, min, max): "
             "[per_epoch.csv](per_epoch.csv).", ""]
    if "keras_file_bytes_mean" in (rows[0] if rows else {}):
        lines += ["Cost columns (means over finished seeds, measured after training on the final "
                  "model): inference ms per image through a compiled forward pass, median of 50 "
                  "single images and of 5 large test batches (size in brackets); .keras: the "
                  "saved model (architecture and weights) in KB.", ""]
    return lines


def curves_section(experiment_dir: Path, name: str, dataset: dict, runs: list[dict],
                   rows: list[dict], fields: tuple[str, ...]) -> list[str]:
    """The accuracy curves of every grid point (and of the top k when there are more)."""
    members_by_setting = {setting_label(members[0]["spec"], fields): members
                          for members in analysis.group_by_point(finished_runs(runs)).values()}
    groups = [(row["setting"], members_by_setting[row["setting"]]) for row in rows
              if row["setting"] in members_by_setting]
    if not groups:
        return []
    plots.plot_curves(groups, experiment_dir / "figures" / "accuracy_curves.png",
                      f"{name}: {dataset.get('name', '?')}, mean ± std over seeds")
    lines = ["## Curves (finished runs)", "", "![accuracy curves](figures/accuracy_curves.png)",
             ""]
    if len(groups) > TOP_K_CURVES:
        plots.plot_top_k(groups[:TOP_K_CURVES], experiment_dir / "figures" / "top_k.png",
                         f"{name}: top {TOP_K_CURVES} by final test accuracy, mean ± std")
        lines += ["![top k](figures/top_k.png)", ""]
    return lines


def runs_section(runs: list[dict]) -> list[str]:
    """'## Runs': one line per run file, then how to read the accuracies."""
    lines = []
    if runs:
        lines += ["## Runs", "",
                  markdown_table(
                      ["run", "status", "best epoch", "best test acc %", "final test acc %",
                       "final train acc %", "seconds"],
                      [[f"[{run['key']}](runs/{run['key']}.json)", run["status"]
                        + (f" (epoch {run['diverged_epoch']})" if run.get("diverged_epoch")
                           else ""),
                        run["best_epoch"], percent(run["best_test_accuracy"] or math.nan),
                        percent(run["final_test_accuracy"] if run.get("final_test_accuracy")
                                is not None else _last(run, "test_accuracy")),
                        percent(_last(run, "train_accuracy")),
                        f"{run['wall_seconds']:.0f}"] for run in runs])]
    lines += ["", "Accuracies are on the test set. Final-epoch figures are the honest ones; "
              "best-epoch figures pick the epoch by test accuracy (keep-best), so they are "
              "optimistic. Diverged runs are counted, never averaged in. Seconds on the fused "
              "path are the group's time divided by its runs.", ""]
    if any(run.get("best_val_epoch") is not None for run in runs):
        lines[-1:-1] = ["", "Validation figures are on a hold-out of the training images. With "
                        "early stopping (patience) a run's final model is its best validation "
                        "epoch's, restored, and its test accuracy is the final figure: chosen "
                        "without the test set, unlike keep-best's best-epoch figure."]
    return lines


def config_margin(config: dict) -> float:
    """The equivalence margin (accuracy units) the experiment's config.json names in
    points (`--margin`), else decision.MARGIN_POINTS."""
    points = (config.get("config") or {}).get("margin")
    return (decision.MARGIN_POINTS if points is None else points) / 100


def config_failure_limit(config: dict) -> float:
    """The failure limit of "equivalent" the experiment's config.json names."""
    limit = (config.get("config") or {}).get("failure_limit")
    return decision.FAILURE_LIMIT if limit is None else limit


def write_experiment_report(experiment_dir: Path, rank_runs_by: str | None = None,
                            margin: float | None = None) -> Path:
    """Writes the tables, figures/ and REPORT.md of one experiment from its run files
    (a hyperparameter search's own report when the folder holds a search).

    Args:
      experiment_dir: the experiment's folder.
      rank_runs_by: 'final' or 'best': which test accuracy picks a grid point's best,
        worst and median run; None: as config.json says (else 'final').
      margin: the equivalence margin of the verdicts (accuracy units); None: the
        config's `margin` (points), else decision.MARGIN_POINTS.
    """
    experiment_dir = Path(experiment_dir)
    if (experiment_dir / SEARCH_FILE).is_file():
        return search_report.write_search_report(experiment_dir)
    config, runs = load_runs(experiment_dir)
    rank_runs_by = rank_runs_by or (config.get("config") or {}).get("rank_runs_by") or "final"
    margin = margin if margin is not None else config_margin(config)
    fields = label_fields(runs, config)
    rows = summarize(runs, fields)
    name = config.get("experiment", experiment_dir.name)
    dataset = config.get("dataset", {})
    classes = statistics_report.num_classes(dataset, runs)
    race = race_report.replayed_race(experiment_dir, config, fields, classes)
    grid = statistics_report.grid_statistics(runs, rows, fields, classes, margin,
                                             config_failure_limit(config), race)
    statistics_report.annotate_rows(rows, grid)
    pivot_lines = write_tables(experiment_dir, name, rows, fields, runs)
    lines = experiment_header(name, config, runs, rows, fields)
    lines += ranked_section(rows, classes, grid)
    lines += parameter_count_section(experiment_dir)
    lines += race_report.race_section(race)
    lines += pivot_lines
    lines += statistics_report.statistics_section(experiment_dir, name, runs, rows, fields,
                                                  classes, grid)
    lines += curves_section(experiment_dir, name, dataset, runs, rows, fields)
    lines += noise_section(experiment_dir, name, runs, dataset)
    lines += confusion_section(experiment_dir, runs, dataset, fields)
    class_names = dataset.get("class_names") or [str(i) for i in range(10)]
    lines += companion_report.rank_section(experiment_dir, runs, rows, fields, class_names,
                                           rank_runs_by)
    lines += companion_report.classification_section(experiment_dir, runs, class_names,
                                                     rank_runs_by, fields)
    lines += companion_report.internals_section(experiment_dir, dataset)
    lines += companion_report.ood_section(experiment_dir, runs, rows, fields)
    lines += runs_section(runs)
    report_path = experiment_dir / "REPORT.md"
    atomic_write_text(report_path, "\n".join(lines))
    return report_path


def _last(run: dict, metric: str) -> float:
    values = run["history"].get(metric) or []  # Older runs lack newer metrics.
    return values[-1] if values and values[-1] is not None else math.nan


def record_skipped(workdir: Path, skipped: dict[str, str], found: list[str]) -> None:
    """Keeps `<workdir>/skipped.json` (experiment -> why its data was not found) up to
    date, so a report rebuilt from the workdir alone still says what is missing:
    adds this invocation's skips, drops the experiments whose data it found."""
    path = Path(workdir) / SKIPPED_FILE
    recorded = read_json(path) or {}
    updated = {name: reason for name, reason in {**recorded, **skipped}.items() if name not in found}
    if updated != recorded:  # A non-empty record means the file exists.
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(updated, indent=1) + "\n")


INDEX_FIGURES = ("heatmap.png", "noise_curves.png", "accuracy_curves.png", "search_scores.png")


def _index_noise_lines(experiments) -> list[str]:
    """The index's label-noise table: per experiment with noise, each level's accuracy."""
    noise_lines, any_degenerate = [], False
    for experiment_dir, config, runs in experiments:
        if any(run["spec"].get("label_noise") for run in runs):
            classes = len(config.get("dataset", {}).get("class_names") or [0] * 10)
            rows = noise_rows(group_by_noise(runs), classes)
            any_degenerate |= any(row["degenerate"] for row in rows)
            cells = [f"eps {row['eps']:g}" + (" ⚠" if row["degenerate"] else "") + ": "
                     + percent(row["final_test_accuracy_mean"], row["final_test_accuracy_std"])
                     + (f" ({row['at_chance']}/{row['done']} at chance; learned "
                        f"{100 * row['learned_test_accuracy_mean']:.2f})"
                        if row["split"] else "") for row in rows]
            noise_lines.append([_experiment_link(experiment_dir), "; ".join(cells)])
    if not noise_lines:
        return []
    lines = ["## Label noise (final test accuracy %, mean ± std over seeds)", "",
             markdown_table(["experiment", "per eps"], noise_lines)]
    if any_degenerate:
        lines += ["⚠: eps >= (K-1)/K, where the noisy label is no more likely than another "
                  "class.", ""]
    return lines


def _index_pair_lines(experiments) -> list[str]:
    """The index's top confusion pairs of each experiment's best grid point."""
    pair_lines = []
    for experiment_dir, config, runs in experiments:
        best = analysis.best_point_runs(runs)
        if best:
            names = config.get("dataset", {}).get("class_names") or [str(i) for i in range(10)]
            counts = np.sum([run["confusion_matrix"] for run in best], axis=0)
            pair_lines.append([_experiment_link(experiment_dir), ", ".join(
                f"{names[p['true']]}→{names[p['predicted']]} ({100 * p['rate']:.1f}%)"
                for p in analysis.top_pairs(counts, TOP_K_PAIRS))])
    if not pair_lines:
        return []
    return [f"## Top {TOP_K_PAIRS} confusion pairs (best grid point, seeds summed; ranked "
            "by count, with the % of the true class)", "",
            markdown_table(["experiment", "pairs"], pair_lines)]


def _index_figure_lines(experiments) -> list[str]:
    """Per experiment, the first of INDEX_FIGURES it has."""
    figures = []
    for experiment_dir, _, _ in experiments:
        found = next((f for f in INDEX_FIGURES if (experiment_dir / "figures" / f).is_file()),
                     None)
        if found:
            figures.append((experiment_dir.name, found))
    if not figures:
        return []
    return ["## Figures", ""] + [f"**{name}**\n\n![{name}]({name}/figures/{figure})\n"
                                 for name, figure in figures]


def write_index(workdir: Path, margin: float | None = None) -> Path:
    """Writes `<workdir>/REPORT.md`: the one-screen summary of every experiment found
    (the best setting per experiment with its interval and the verdicts of the others,
    best configuration per dataset and per experiment, label noise, confusion pairs,
    time and machine, what was skipped), then each experiment's main figure."""
    workdir = Path(workdir)
    experiments = [(p.parent, *load_runs(p.parent))
                   for p in sorted(workdir.glob(f"*/{CONFIG_FILE}"))]
    # A search's selection runs score validation folds, not the test set: left out here.
    experiments = [(path, {**config, "run_keys": [key for key in config.get("run_keys", [])
                                                  if not re.search(r"_(kfold|holdout)-", key)]},
                    [run for run in runs if not run["spec"].get("split")])
                   for path, config, runs in experiments]
    summaries = [summarize(runs, label_fields(runs, config)) for _, config, runs in experiments]
    total_seconds = sum(run["wall_seconds"] for _, _, runs in experiments for run in runs)
    machine = next((config.get("machine") for _, config, _ in experiments
                    if config.get("machine")), {})
    all_runs = [run for _, _, runs in experiments for run in runs]
    devices = sorted({run["device"] for run in all_runs})
    threads = threads_text(all_runs)
    lines = ["# lenet_bench results", "",
             f"Training time {duration_words(total_seconds)} (the runs' epoch times summed; data "
             f"loading and reports not counted); machine: {machine.get('cpu', '?')}, "
             f"{machine.get('cores', '?')} cores; "
             + (f"{threads}; " if threads else "")
             + f"device: {', '.join(devices) or '?'}; Keras backend: {backends_text(all_runs)}.",
             "",
             *_honest_summary(experiments, summaries, margin),
             "## Best configuration per dataset (clean labels; test accuracy %, mean ± std over "
             "seeds)", "",
             markdown_table(["dataset", "configuration", "experiment", "final", "best-epoch acc",
                             "seeds done"], _dataset_rows(experiments, summaries)),
             "Experiments differ in epochs and training images; the configuration says "
             "which budget won.", "",
             "## Best grid point per experiment (test accuracy %, mean ± std over seeds)", "",
             markdown_table(["experiment", "dataset", "best setting", "final", "best-epoch acc",
                             "seeds done", "runs done"], _index_rows(experiments, summaries))]
    lines += _index_noise_lines(experiments) + _index_pair_lines(experiments)
    skipped = read_json(workdir / SKIPPED_FILE) or {}
    if skipped:
        lines += ["## Skipped", ""] + [f"- **{name}**: {reason}" for name, reason in skipped.items()]
        lines.append("")
    lines += _index_figure_lines(experiments) + [""]
    index_path = workdir / "REPORT.md"
    atomic_write_text(index_path, "\n".join(lines))
    return index_path


def _honest_summary(experiments, summaries, margin: float | None = None) -> list[str]:
    """The index's first section: per experiment, the best setting with its 95% interval
    and how many of the other settings are worse, equivalent and undecided."""
    table = []
    for (experiment_dir, config, runs), rows in zip(experiments, summaries):
        if not rows or not rows[0]["done"]:
            continue
        dataset = config.get("dataset", {})
        classes = statistics_report.num_classes(dataset, runs)
        fields = label_fields(runs, config)
        race = race_report.replayed_race(experiment_dir, config, fields, classes)
        grid = statistics_report.grid_statistics(
            runs, rows, fields, classes, config_margin(config) if margin is None else margin,
            config_failure_limit(config), race, seeds_needed=False)
        frame = grid["verdicts"]
        best = rows[0]["setting"] if frame is None or not (frame["verdict"] == "best").any() \
            else frame.loc[frame["verdict"] == "best", "setting"].iloc[0]
        found = grid["by_setting"][best]
        counts = ([str(int((frame["verdict"] == verdict).sum()))
                   for verdict in ("worse", "equivalent", "undecided")]
                  + [f"{100 * grid['margin']:g}"] if frame is not None else ["–"] * 4)
        table.append([_experiment_link(experiment_dir), dataset.get("name", "?"), best,
                      f"{100 * found['learned_mean']:.2f}" if math.isfinite(found["learned_mean"])
                      else "–",
                      f"{found['n']}", f"{found['failed']}/{found['n'] + found['diverged']}",
                      *counts])
    if not table:
        return []
    return ["## What the results support (final test accuracy %)", "",
            markdown_table(["experiment", "dataset", "best setting", "learned mean %", "seeds",
                            "failed", "worse", "equivalent", "undecided", "margin, points"],
                           table),
            "Each other setting against the best, in two quantities: the accuracy of the runs "
            f"that learn, and the failure rate (runs at chance, within "
            f"{100 * decision.CHANCE_MARGIN:g} points of 1/K, or diverged). "
            f"{decision.PROCEDURE} Each experiment's report has every point's verdict, its "
            "interval against the best of the others, the seeds an undecided point would need, "
            "and the ANOVA over its grid factors.", ""]


def _experiment_link(experiment_dir: Path) -> str:
    return f"[{experiment_dir.name}]({experiment_dir.name}/REPORT.md)"


def _dataset_rows(experiments, summaries) -> list[list]:
    """Per dataset, the clean-label grid point with the highest mean final accuracy
    over all its experiments, described by its full training configuration."""
    best_by_dataset: dict[str, tuple] = {}
    for (experiment_dir, config, runs), rows in zip(experiments, summaries):
        dataset = config.get("dataset", {})
        dataset_name = dataset.get("name", "?")
        for row in rows:
            if row["label_noise"] or not row["done"]:
                continue
            current = best_by_dataset.get(dataset_name)
            if current is None or row["final_test_accuracy_mean"] > current[2]["final_test_accuracy_mean"]:
                best_by_dataset[dataset_name] = (experiment_dir, dataset, row)
    table = []
    for name, (experiment_dir, dataset, row) in sorted(best_by_dataset.items()):
        configuration = ", ".join(
            [setting_label(row, DEFAULT_LABEL_FIELDS + ("epochs",)),
             f"{dataset.get('train_size', '?')} training images"]
            + ([] if row["precision"] in (None, "float32") else [str(row["precision"])])
            + [format_value(field, row[field]) for field, default in MODEL_FIELD_DEFAULTS.items()
               if row.get(field, default) != default])
        table.append([name, configuration, _experiment_link(experiment_dir),
                      percent(row["final_test_accuracy_mean"], row["final_test_accuracy_std"]),
                      percent(row["best_test_accuracy_mean"], row["best_test_accuracy_std"]),
                      f"{row['done']}/{row['runs']}"])
    return table


def _index_rows(experiments, summaries) -> list[list]:
    rows = []
    for (experiment_dir, config, runs), summary in zip(experiments, summaries):
        top = summary[0] if summary else None
        done = sum(run["status"] == "done" for run in runs)
        rows.append([_experiment_link(experiment_dir),
                     config.get("dataset", {}).get("name", "?"),
                     top["setting"] if top else "–",
                     percent(top["final_test_accuracy_mean"], top["final_test_accuracy_std"]) if top else "–",
                     percent(top["best_test_accuracy_mean"], top["best_test_accuracy_std"]) if top else "–",
                     f"{top['done']}/{top['runs']}" if top else "0",
                     f"{done}/{len(config.get('run_keys', runs))}"])
    return rows


def _margin_value(argument: str, value: str) -> float | None:
    """--margin=POINTS as accuracy units (0.5 -> 0.005); None (after a one-line error)
    unless POINTS is a number above 0 and below 100."""
    try:
        points = float(value)
    except ValueError:
        points = math.nan
    if not 0.05 <= points < 100:
        print(f"error: {argument}: expected --margin=POINTS, the equivalence margin in "
              "accuracy points, at least 0.05 and below 100 (default: the experiment's "
              "own)", file=sys.stderr)
        return None
    return points / 100


USAGE = ("usage: python -m lenet_bench.reports.report WORKDIR_OR_EXPERIMENT_DIR "
         "[--rank_runs_by=final|best] [--margin=POINTS]")
HELP = (f"{USAGE}\n\n"
        "Rebuilds the reports from the run files alone (trains nothing): an experiment folder's\n"
        "REPORT.md, tables and figures; given a workdir, every experiment's and the index\n"
        "<workdir>/REPORT.md.\n\n"
        "  --rank_runs_by=final|best  which test accuracy picks a grid point's best, worst and\n"
        "                             median run (default: as the experiment's config says)\n"
        "  --margin=POINTS            the verdicts' equivalence margin in accuracy points\n"
        "                             (default: the margin the experiment's config names)")


def main(argv: list[str]) -> int:
    if any(argument in ("--help", "-h", "--helpshort", "--helpfull") for argument in argv[1:]):
        print(HELP)
        return 0
    rank_runs_by, margin = None, None
    for argument in argv[2:]:
        option, _, value = argument.partition("=")
        if option == "--margin":
            margin = _margin_value(argument, value)
            if margin is None:
                return 2
            continue
        if option != "--rank_runs_by" or value not in analysis.RANK_RUNS_BY:
            print(f"error: {argument}: expected --rank_runs_by=final or --rank_runs_by=best, "
                  "or --margin=POINTS", file=sys.stderr)
            return 2
        rank_runs_by = value
    argv = argv[:2]
    if len(argv) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    if not Path(argv[1]).is_dir():
        print(f"error: {argv[1]}: no such directory: expected a workdir or experiment folder",
              file=sys.stderr)
        return 2
    target = Path(argv[1])
    if (target / CONFIG_FILE).is_file():
        print(write_experiment_report(target, rank_runs_by, margin))
        return 0
    experiment_dirs = sorted(p.parent for p in target.glob(f"*/{CONFIG_FILE}"))
    if not experiment_dirs:
        print(f"error: {target}: holds no experiment (no config.json, no */config.json): "
              "expected a workdir or experiment folder", file=sys.stderr)
        return 2
    for experiment_dir in experiment_dirs:
        write_experiment_report(experiment_dir, rank_runs_by, margin)
    print(write_index(target, margin))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
