"""Report sections beyond top-1 accuracy, built from the workdir alone.

`report.write_experiment_report` adds these sections when their inputs are
there (old workdirs lack them and get none of them):

- soft confusion matrix beside the hard one (from each run's 'soft_confusion');
- the best, worst and median run of a grid point (by final or best-epoch test
  accuracy): curves and confusion matrices side by side;
- scikit-learn's classification report of the best grid point's median run,
  from its `<key>.predictions.npz` and `test_labels.npz`;
- weight histograms, first-layer kernels and feature maps from
  `model_internals.npz`;
- the out-of-distribution test from each run's 'ood'.
"""

import csv
import json
import re
from pathlib import Path

import numpy as np

from lenet_bench.artifacts import LAYER_NAMES, MODEL_INTERNALS_FILE, RUNS_FOLDER, TEST_LABELS_FILE
from lenet_bench.files import atomic_write_text
from lenet_bench.records import analysis
from lenet_bench.reports import plots
from lenet_bench.records.results import finished_runs, mean_std, setting_label
from lenet_bench.reports.tables import (csv_text, markdown_table, matrix_text, mean_std_text,
                                        percent)

MAX_RANKED_POINTS = 3  # Up to this many grid points: every point's best/worst/median.
CLASSIFICATION_TITLE = "# scikit-learn classification report: "


def soft_confusion_lines(experiment_dir: Path, best: list[dict], class_names: list[str],
                         dataset_name: str, setting: str) -> list[str]:
    """The best point's soft confusion matrix (mean over its seeds of each run's
    row-normalized mean softmax vectors): text, csv and figure."""
    with_soft = [run for run in best if run.get("soft_confusion")]
    if not with_soft:
        return []
    rates = np.mean([run["soft_confusion"] for run in with_soft], axis=0)
    atomic_write_text(experiment_dir / f"{dataset_name}_soft_conf.txt", matrix_text(
        100 * rates, class_names, "soft confusion matrix (%): row i is the mean softmax vector "
        f"over test images of true class i; {setting}, mean over {len(with_soft)} seeds"))
    atomic_write_text(experiment_dir / f"{dataset_name}_soft_conf.csv", csv_text(
        [{"true": class_names[i], **{class_names[j]: round(float(rates[i, j]), 6)
                                     for j in range(len(rates))}} for i in range(len(rates))]))
    plots.plot_soft_confusion(rates, class_names, experiment_dir / "figures" / "soft_confusion.png",
                              f"{dataset_name}: soft confusion, {setting}, "
                              f"{len(with_soft)} seeds (mean softmax %)")
    diagonal = ", ".join(f"{class_names[i]} {100 * rates[i, i]:.1f}" for i in range(len(rates)))
    return [f"Soft confusion matrix (row i: the mean softmax vector over the test images of "
            f"class i, mean over {len(with_soft)} seeds; its diagonal is each class's soft "
            f"accuracy, %: {diagonal}). Files: [{dataset_name}_soft_conf.txt]"
            f"({dataset_name}_soft_conf.txt), [{dataset_name}_soft_conf.csv]"
            f"({dataset_name}_soft_conf.csv).", "",
            "![soft confusion matrix](figures/soft_confusion.png)", ""]


def rank_section(experiment_dir: Path, runs: list[dict], rows: list[dict], fields: tuple,
                 class_names: list[str], rank_by: str) -> list[str]:
    """Best, worst and median run of the best grid point (of each point when there are
    at most MAX_RANKED_POINTS), with 2+ finished seeds and a confusion matrix."""
    by_setting = {setting_label(members[0]["spec"], fields): members
                  for members in analysis.group_by_point(runs).values()}
    settings = [row["setting"] for row in rows if row["done"] >= 2]
    if len(rows) > MAX_RANKED_POINTS:
        settings = settings[:1]
    measure = "final" if rank_by == "final" else "best-epoch"
    lines = []
    for number, setting in enumerate(settings):
        ranked = analysis.best_worst_median(
            [run for run in by_setting[setting] if "confusion_matrix" in run], rank_by)
        if not ranked:
            continue
        entries = [(role, ranked[role]) for role in ("best", "median", "worst")]
        figure = f"best_worst_median_{number}.png"
        plots.plot_best_worst_median(entries, class_names, experiment_dir / "figures" / figure,
                                     f"{setting}: best, median and worst of "
                                     f"{len(finished_runs(by_setting[setting]))} seeds by "
                                     f"{measure} test accuracy")
        table = [[role, run["spec"]["seed"], percent(analysis.final_accuracy(run)),
                  f"{percent(run['best_test_accuracy'])} (epoch {run['best_epoch']})",
                  percent(last(run, "test_soft_accuracy")),
                  f"[{run['key']}](runs/{run['key']}.json)"] for role, run in entries]
        lines += [f"**{setting}**", "",
                  markdown_table(["run", "seed", "final test acc %", "best-epoch acc %",
                                       "final soft acc %", "file"], table),
                  f"![best, median, worst](figures/{figure})", ""]
    if not lines:
        return []
    return [f"## Best, median and worst run (ranked by {measure} test accuracy; "
            "`--rank_runs_by=final|best`)", "",
            "The spread between seeds of one setting is itself a result: curves (solid test, "
            "dashed train, dotted soft test accuracy) and final-epoch confusion matrices of "
            "the three runs side by side.", ""] + lines


def last(run: dict, metric: str) -> float | None:
    values = run["history"].get(metric) or []
    return values[-1] if values and values[-1] is not None else None


def classification_section(experiment_dir: Path, runs: list[dict], class_names: list[str],
                           rank_by: str, fields: tuple) -> list[str]:
    """scikit-learn's classification report of the best grid point's median run."""
    from sklearn.metrics import classification_report

    median = analysis.best_worst_median(analysis.best_point_runs(runs), rank_by).get("median")
    labels_path = experiment_dir / TEST_LABELS_FILE
    if median is None or not labels_path.is_file():
        return []
    predictions_path = experiment_dir / RUNS_FOLDER / f"{median['key']}.predictions.npz"
    if not predictions_path.is_file():  # Not committed: the tables written when it was here.
        return stored_classification_lines(experiment_dir)
    with np.load(labels_path) as stored:
        labels = stored["labels"]
    with np.load(predictions_path) as stored:
        predicted = stored["predicted"].astype(np.int64)
    arguments = dict(labels=list(range(len(class_names))), target_names=list(class_names),
                     zero_division=0)
    text = classification_report(labels, predicted, digits=4, **arguments)
    scores = classification_report(labels, predicted, output_dict=True, **arguments)
    what = (f"{setting_label(median['spec'], fields)}, seed {median['spec']['seed']} "
            f"(the median run by {rank_by} test accuracy), final epoch")
    atomic_write_text(experiment_dir / "classification_report.txt",
                      f"{CLASSIFICATION_TITLE}{what}\n{text}")
    table_rows = [{"class": name, **{metric: scores[name][metric] for metric in
                                     ("precision", "recall", "f1-score", "support")}}
                  for name in list(class_names) + ["macro avg", "weighted avg"]]
    atomic_write_text(experiment_dir / "classification_report.csv", csv_text(table_rows))
    return classification_lines(what, scores["accuracy"], table_rows)


def classification_lines(what: str, accuracy: float, table_rows: list[dict]) -> list[str]:
    """The classification report's section from its per-class rows."""
    table = [[row["class"], f"{100 * float(row['precision']):.2f}",
              f"{100 * float(row['recall']):.2f}", f"{100 * float(row['f1-score']):.2f}",
              int(float(row["support"]))] for row in table_rows]
    return ["## Classification report (scikit-learn)", "",
            f"{what}; accuracy {100 * accuracy:.2f}%. Files: "
            "[classification_report.txt](classification_report.txt), "
            "[classification_report.csv](classification_report.csv).", "",
            markdown_table(["class", "precision %", "recall %", "F1 %", "support"], table)]


def stored_classification_lines(experiment_dir: Path) -> list[str]:
    """The section from classification_report.{txt,csv} written by an earlier report,
    for a checkout without the run's predictions (not committed); [] without them."""
    text_path = experiment_dir / "classification_report.txt"
    csv_path = experiment_dir / "classification_report.csv"
    if not (text_path.is_file() and csv_path.is_file()):
        return []
    text = text_path.read_text(encoding="utf-8")
    found = re.search(r"^\s*accuracy\s+([0-9.]+)", text, re.MULTILINE)
    if not text.startswith(CLASSIFICATION_TITLE) or not found:
        return []
    with open(csv_path, encoding="utf-8", newline="") as file:
        table_rows = list(csv.DictReader(file))
    what = text.splitlines()[0][len(CLASSIFICATION_TITLE):]
    return classification_lines(what, float(found.group(1)), table_rows)


def internals_section(experiment_dir: Path, dataset: dict) -> list[str]:
    """Weight histograms, first-layer kernels and feature maps from model_internals.npz."""
    path = experiment_dir / MODEL_INTERNALS_FILE
    if not path.is_file():
        return []
    class_names = dataset.get("class_names") or [str(i) for i in range(10)]
    figures = experiment_dir / "figures"
    with np.load(path) as stored:
        described = json.loads(str(stored["runs"]))
        names = [name for name in LAYER_NAMES if f"0/{name}/initial" in stored.files]
        panels = [(f"{run['label']} ({run['initializer']}, seed {run['seed']})",
                   [(name, stored[f"{index}/{name}/initial"], stored[f"{index}/{name}/trained"])
                    for name in names]) for index, run in enumerate(described)]
        kernels = [(f"{run['initializer']}, seed {run['seed']}: {stage}",
                    stored[f"{index}/conv1_kernel/{stage}"])
                   for index, run in enumerate(described) for stage in ("initial", "trained")
                   if f"{index}/conv1_kernel/{stage}" in stored.files]  # None for an MLP.
        statistics = [[name, int(stored[f"0/{name}/size"]),
                       f"{float(np.std(stored[f'0/{name}/initial'].astype(np.float32))):.4f}",
                       f"{float(np.std(stored[f'0/{name}/trained'].astype(np.float32))):.4f}",
                       f"{float(np.mean(np.abs(stored[f'0/{name}/trained'].astype(np.float32) - stored[f'0/{name}/initial'].astype(np.float32)))):.4f}"]
                      for name in names]
        spread = [[f"{run['initializer']}, seed {run['seed']}"]
                  + [f"{np.std(stored[f'{index}/{name}/initial'].astype(np.float32)):.3f} → "
                     f"{np.std(stored[f'{index}/{name}/trained'].astype(np.float32)):.3f}"
                     for name in names] for index, run in enumerate(described)]
        images = stored["feature_images"] if "feature_images" in stored.files else None
        if images is not None:
            image_labels = [class_names[int(label)] for label in stored["feature_labels"]]
            maps = {layer: stored[f"feature_maps/{layer}"] for layer in ("conv1", "conv2")}
    plots.plot_weight_histograms(panels, figures / "weight_histograms.png",
                                 "kernel weights per layer: initial (blue) vs trained (red), "
                                 "density")
    if kernels:
        plots.plot_kernels(kernels, figures / "first_layer_kernels.png",
                           "first-layer 5x5 kernels, initial and trained (each on its own scale)")
    runs_table = [[run["label"], run["seed"], run["initializer"],
                   percent(run["final_test_accuracy"]
                                if run["final_test_accuracy"] == run["final_test_accuracy"] else None),
                   f"[{run['key']}](runs/{run['key']}.json)"] for run in described]
    lines = ["## Inside the model", "",
             "Kernels at initialization (rebuilt from the run's seed) and after training (the "
             f"best-epoch weights), from [{MODEL_INTERNALS_FILE}]({MODEL_INTERNALS_FILE}); layers with more "
             "than 10,000 weights are shown by a fixed random 10,000 of them.", "",
             markdown_table(["run", "seed", "initializer", "final test acc %", "file"],
                                 runs_table),
             f"Kernel weights of the first run ({described[0]['label']}):", "",
             markdown_table(["layer", "weights", "std initial", "std trained",
                                  "mean abs change"], statistics),
             *(["Standard deviation of the kernel weights, initial → trained, per run:", "",
                markdown_table(["run"] + names, spread)] if len(described) > 1 else []),
             "![weight histograms](figures/weight_histograms.png)", "",
             *(["![first-layer kernels](figures/first_layer_kernels.png)", ""] if kernels else [])]
    if images is not None:
        for layer in ("conv1", "conv2"):
            plots.plot_feature_maps(images, maps[layer], image_labels,
                                    figures / f"feature_maps_{layer}.png",
                                    f"{layer} feature maps (after the activation) of "
                                    f"{described[0]['label']}, seed {described[0]['seed']}")
            lines += [f"![{layer} feature maps](figures/feature_maps_{layer}.png)", ""]
    return lines


def ood_section(experiment_dir: Path, runs: list[dict], rows: list[dict], fields: tuple) -> list[str]:
    """Max-softmax confidence on in- vs out-of-distribution test images, per grid point."""
    with_ood = [run for run in finished_runs(runs) if run.get("ood")]
    if not with_ood:
        return []
    by_setting: dict[str, list[dict]] = {}
    for run in with_ood:
        by_setting.setdefault(setting_label(run["spec"], fields), []).append(run)
    order = [row["setting"] for row in rows if row["setting"] in by_setting]
    first = with_ood[0]["ood"]
    threshold = first["threshold"]
    table, csv_rows = [], []
    for setting in order:
        members = by_setting[setting]
        statistics = {name: mean_std([run["ood"][name] for run in members])
                      for name in ("auroc", "ood_confident_fraction", "in_confident_fraction",
                                   "in_confidence_mean", "ood_confidence_mean")}
        table.append([setting, len(members),
                      mean_std_text(*statistics["auroc"], 4),
                      percent(*statistics["ood_confident_fraction"]),
                      percent(*statistics["in_confident_fraction"]),
                      percent(*statistics["in_confidence_mean"]),
                      percent(*statistics["ood_confidence_mean"])])
        csv_rows.append({"setting": setting, "seeds": len(members),
                         **{f"{name}_{part}": value for name, (mean, std) in statistics.items()
                            for part, value in (("mean", mean), ("std", std))}})
    atomic_write_text(experiment_dir / "ood.csv", csv_text(csv_rows))
    members = by_setting[order[0]]
    plots.plot_ood_histogram(np.sum([run["ood"]["in_histogram"] for run in members], axis=0),
                             np.sum([run["ood"]["ood_histogram"] for run in members], axis=0),
                             first["in_dataset"], first["dataset"],
                             experiment_dir / "figures" / "ood_confidence.png",
                             f"max-softmax confidence, {order[0]}, {len(members)} seeds pooled")
    return [f"## Out-of-distribution test ({first['in_dataset']} model, {first['dataset']} "
            "test images)", "",
            f"Each finished run's best-epoch model sees the {first['in_dataset']} test set (in "
            f"distribution) and the {first['dataset']} test set (out of distribution). AUROC: "
            "max softmax probability as a detector of in-distribution images (scikit-learn's "
            "roc_auc_score, in-distribution positive; 0.5 is chance). Mean ± std over seeds.", "",
            markdown_table(["setting", "seeds", "AUROC", f"OOD conf > {threshold:g} %",
                                 f"in-dist conf > {threshold:g} %", "mean conf in %",
                                 "mean conf OOD %"], table),
            "Table: [ood.csv](ood.csv).", "",
            "![OOD confidence](figures/ood_confidence.png)", ""]
