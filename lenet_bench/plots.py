"""The report's figures, drawn with matplotlib's object API (no pyplot state).

Every function takes plain arrays or run records and a path, and writes one
PNG atomically. Accuracies are fractions in, percent on the axes.
"""

import math
import warnings
from pathlib import Path

import numpy as np

DPI = 110


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(figure, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp.{path.name}")
    figure.savefig(tmp, dpi=DPI, format="png")
    tmp.replace(path)


def curve_matrix(runs: list[dict], metric: str) -> np.ndarray:
    """(runs, epochs) array of a history metric; NaN where a run has no value (diverged, unfinished)."""
    length = max(len(run["history"].get(metric, [])) for run in runs)
    curves = np.full((len(runs), length), np.nan)
    for row, run in enumerate(runs):
        values = [np.nan if v is None else v for v in run["history"].get(metric, [])]
        curves[row, :len(values)] = values
    return curves


def mean_and_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-epoch mean and sample std over the runs that reached the epoch."""
    with warnings.catch_warnings():  # An epoch that one run reached has no std; NaN is right.
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(curves, axis=0), np.nanstd(curves, axis=0, ddof=1)


def _plot_band(axes, curves: np.ndarray, color: str, label: str, style: str = "-") -> None:
    from matplotlib.ticker import MaxNLocator

    mean, std = mean_and_band(curves)
    epochs = np.arange(1, len(mean) + 1)
    axes.plot(epochs, 100 * mean, style, color=color, label=label,
              marker="o" if len(mean) <= 10 else None, markersize=3)
    if len(curves) > 1:
        axes.fill_between(epochs, 100 * (mean - std), 100 * (mean + std), color=color,
                          alpha=0.2, linewidth=0)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)


def plot_curves(groups: list[tuple[str, list[dict]]], path: Path, title: str) -> None:
    """Test (solid) and train (dashed) accuracy per epoch, mean ± std over seeds.

    One axes for up to 4 grid points; small multiples (one axes per point,
    shared y) for more, so bands stay readable for a 36-point grid.
    """
    if len(groups) <= 4:
        figure = _figure(7, 4.5)
        axes = figure.add_subplot()
        for index, (label, members) in enumerate(groups):
            color = f"C{index % 10}"
            _plot_band(axes, curve_matrix(members, "test_accuracy"), color,
                       f"{label} (test, n={len(members)})")
            _plot_band(axes, curve_matrix(members, "train_accuracy"), color,
                       f"{label} (train)", "--")
        axes.set_xlabel("epoch")
        axes.set_ylabel("accuracy (%)")
        axes.legend(fontsize=7)
        axes.set_title(title)
    else:
        columns = min(6, math.ceil(math.sqrt(len(groups))))
        rows = math.ceil(len(groups) / columns)
        figure = _figure(2.4 * columns, 1.9 * rows + 0.5)
        grid = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)
        for axes, (label, members) in zip(grid.flat, groups):
            _plot_band(axes, curve_matrix(members, "test_accuracy"), "C0", "test")
            _plot_band(axes, curve_matrix(members, "train_accuracy"), "C1", "train", "--")
            axes.set_title(label, fontsize=7)
            axes.tick_params(labelsize=6)
        for axes in grid.flat[len(groups):]:
            axes.set_visible(False)
        grid.flat[0].legend(fontsize=6)
        figure.suptitle(title + "  (solid: test, dashed: train; band: ± 1 std)", fontsize=9)
        figure.supxlabel("epoch", fontsize=8)
        figure.supylabel("accuracy (%)", fontsize=8)
    _save(figure, path)


def plot_top_k(groups: list[tuple[str, list[dict]]], path: Path, title: str) -> None:
    """Test accuracy of the given (best) grid points overlaid, mean ± std."""
    figure = _figure(7, 4.5)
    axes = figure.add_subplot()
    for index, (label, members) in enumerate(groups):
        _plot_band(axes, curve_matrix(members, "test_accuracy"), f"C{index % 10}",
                   f"{index + 1}. {label} (n={len(members)})")
    axes.set_xlabel("epoch")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title(title)
    axes.legend(fontsize=7)
    _save(figure, path)


def plot_heatmap(values: np.ndarray, row_labels: list[str], column_labels: list[str],
                 path: Path, title: str) -> None:
    """A grid of accuracies (fractions; NaN blank), annotated in percent."""
    figure = _figure(max(5, 0.75 * len(column_labels) + 2.5), max(2.5, 0.5 * len(row_labels) + 1.5))
    axes = figure.add_subplot()
    image = axes.imshow(100 * values, cmap="viridis", aspect="auto")
    finite = values[np.isfinite(values)]
    middle = 100 * (finite.min() + finite.max()) / 2 if finite.size else 0
    for (row, column), value in np.ndenumerate(values):
        text = "–" if not np.isfinite(value) else f"{100 * value:.1f}"
        axes.text(column, row, text, ha="center", va="center", fontsize=7,
                  color="white" if np.isfinite(value) and 100 * value < middle else "black")
    axes.set_xticks(range(len(column_labels)), column_labels, rotation=45, ha="right", fontsize=7)
    axes.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, label="accuracy (%)")
    _save(figure, path)


def plot_confusion(counts: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    """Row-normalized confusion matrix in percent with the diagonal left out,
    so the errors set the color scale."""
    counts = np.asarray(counts, dtype=float)
    rates = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    errors = rates.copy()
    np.fill_diagonal(errors, np.nan)
    figure = _figure(7, 6)
    axes = figure.add_subplot()
    image = axes.imshow(errors, cmap="Reds")
    top = np.nanmax(errors) if np.isfinite(errors).any() else 0
    for (row, column), value in np.ndenumerate(errors):
        if row != column and value >= 0.05:
            axes.text(column, row, f"{value:.1f}", ha="center", va="center", fontsize=6,
                      color="white" if value > top / 2 else "black")
    axes.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=7)
    axes.set_yticks(range(len(class_names)), class_names, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, label="% of the true class (diagonal left out)")
    _save(figure, path)


def plot_examples(images: np.ndarray, confidence: np.ndarray, pairs: np.ndarray,
                  class_names: list[str], path: Path, title: str) -> None:
    """One row per confusion pair: its most confident mistakes, captioned."""
    rows, per_row = images.shape[:2]
    figure = _figure(1.3 * per_row, 1.55 * rows + 0.4)
    grid = figure.subplots(rows, per_row, squeeze=False)
    for row in range(rows):
        true_name, predicted_name = (class_names[i] for i in pairs[row])
        for column in range(per_row):
            axes = grid[row, column]
            axes.set_axis_off()
            if not np.isfinite(confidence[row, column]):
                continue
            image = images[row, column]
            axes.imshow(image[..., 0] if image.shape[-1] == 1 else image,
                        cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=255)
            axes.set_title(f"{true_name}→{predicted_name}\n{100 * confidence[row, column]:.0f}%",
                           fontsize=6)
    figure.suptitle(title + " (true→predicted, confidence)", fontsize=9)
    _save(figure, path)


def plot_noise_curves(groups: list[tuple[str, list[dict]]], path: Path, title: str) -> None:
    """Three panels (train accuracy on noisy labels, on clean labels, test accuracy),
    one mean ± std line per (label, runs) group, one group per noise level."""
    figure = _figure(12, 4)
    panels = figure.subplots(1, 3, sharey=True)
    for axes, (metric, name) in zip(panels, (("train_accuracy", "train, noisy labels"),
                                             ("train_clean_accuracy", "train, clean labels"),
                                             ("test_accuracy", "test"))):
        for index, (label, members) in enumerate(groups):
            _plot_band(axes, curve_matrix(members, metric), f"C{index % 10}",
                       f"{label} (n={len(members)})")
        axes.set_title(name, fontsize=9)
        axes.set_xlabel("epoch")
    panels[0].set_ylabel("accuracy (%)")
    panels[-1].legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    _save(figure, path)


def plot_noise_matrices(matrices: list[tuple[float, np.ndarray, np.ndarray]],
                        class_names: list[str], path: Path, title: str) -> None:
    """One column per eps: the expected row-normalized transition matrix (clean ->
    noisy), the realized one beneath it, and their difference in percentage points
    (a shared symmetric scale, so a column that is uniformly pale is within noise)."""
    figure = _figure(2.6 * len(matrices) + 1.2, 7.8)
    panels = figure.subplots(3, len(matrices), squeeze=False)
    differences = [100 * (realized - expected) for _, realized, expected in matrices]
    limit = max(max(float(np.abs(d).max()) for d in differences), 0.01)
    ticks = range(len(class_names))
    for column, ((eps, realized, expected), difference) in enumerate(zip(matrices, differences)):
        top, middle, bottom = panels[:, column]
        rates = top.imshow(expected, cmap="Blues", vmin=0, vmax=1)
        middle.imshow(realized, cmap="Blues", vmin=0, vmax=1)
        deviation = bottom.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
        top.set_title(f"eps {eps:g}: expected\n{1 - eps:.2f} diagonal, {expected[0, 1]:.3f} off",
                      fontsize=7)
        middle.set_title("realized", fontsize=7)
        bottom.set_title(f"realized - expected\nmax abs {np.abs(difference).max():.2f} points",
                         fontsize=7)
        for axes in (top, middle, bottom):
            axes.set_xticks(ticks, ticks, fontsize=6)
            axes.set_yticks(ticks, ticks, fontsize=6)
            axes.set_ylabel("clean label", fontsize=7)
        bottom.set_xlabel("noisy label", fontsize=7)
    figure.colorbar(rates, ax=list(panels[:2].ravel()), shrink=0.8, label="fraction of the clean class")
    figure.colorbar(deviation, ax=list(panels[2]), shrink=0.8, label="percentage points")
    figure.suptitle(title, fontsize=9)
    _save(figure, path)
