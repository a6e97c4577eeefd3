"""The report's figures, drawn with matplotlib's object API (no pyplot state).

Every function takes plain arrays or run records and a path, and writes one
PNG atomically. Accuracies are fractions in, percent on the axes.
"""

import math
import warnings
from pathlib import Path

import numpy as np

from lenet_bench.files import atomic_write_with

DPI = 110


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _grid_figure(rows: int, columns: int, panel_width: float, panel_height: float, *,
                 left: float, right: float, top: float, bottom: float, column_gap: float = 0.0,
                 row_gap: float = 0.0, **subplots_options):
    """A figure with no layout engine holding a rows x columns grid of axes, each
    panel_width x panel_height inches, with fixed margins and gaps in inches; returns
    the figure and the (rows, columns) array of axes."""
    from matplotlib.figure import Figure

    width = left + right + columns * panel_width + (columns - 1) * column_gap
    height = top + bottom + rows * panel_height + (rows - 1) * row_gap
    figure = Figure(figsize=(width, height))
    grid = figure.subplots(rows, columns, squeeze=False, **subplots_options, gridspec_kw=dict(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
        wspace=column_gap / panel_width, hspace=row_gap / panel_height))
    return figure, grid


def _save(figure, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_with(path, lambda tmp: figure.savefig(tmp, dpi=DPI, format="png"))


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
    # Epochs are whole numbers, even for one or two (MaxNLocator's default falls back to
    # fractions when fewer than two integers are in view).
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if len(mean) == 1:
        axes.set_xlim(0.5, 1.5)
    axes.grid(alpha=0.3)


def plot_curves(groups: list[tuple[str, list[dict]]], path: Path, title: str) -> None:
    """Test (solid) and train (dashed) accuracy per epoch, mean ± std over seeds.

    One axes for up to 4 grid points; small multiples (one axes per point,
    shared y) for more, so bands stay readable for a 36-point grid.
    """
    if len(groups) <= 4:
        figure, grid = _grid_figure(1, 1, 6.05, 3.6, left=0.75, right=0.2, top=0.4, bottom=0.5)
        axes = grid[0, 0]
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
        figure, grid = _grid_figure(rows, columns, 2.1, 1.55, left=0.55, right=0.1, top=0.5,
                                    bottom=0.45, column_gap=0.15, row_gap=0.35, sharex=True,
                                    sharey=True)
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
    figure, grid = _grid_figure(1, 1, 6.05, 3.6, left=0.75, right=0.2, top=0.4, bottom=0.5)
    axes = grid[0, 0]
    for index, (label, members) in enumerate(groups):
        _plot_band(axes, curve_matrix(members, "test_accuracy"), f"C{index % 10}",
                   f"{index + 1}. {label} (n={len(members)})")
    axes.set_xlabel("epoch")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title(title)
    axes.legend(fontsize=7)
    _save(figure, path)


def plot_heatmap(values: np.ndarray, row_labels: list[str], column_labels: list[str],
                 path: Path, title: str, outlined: np.ndarray | None = None,
                 best: np.ndarray | None = None, dashed: np.ndarray | None = None) -> None:
    """A grid of accuracies (fractions; NaN blank), annotated in percent; cells where
    `outlined` is true get a white frame, where `dashed` is a dashed one (a thicker
    red one where `best` is)."""
    left, right = _label_inches(row_labels, 8) + 0.3, 1.2
    panel_width = max(2.5, 0.75 * len(column_labels))
    widening = max(0.0, _label_inches([title], 9) - (left + panel_width + right)) / 2
    figure, grid = _grid_figure(1, 1, panel_width, max(1.0, 0.5 * len(row_labels)),
                                left=left + widening, right=right + widening, top=0.4,
                                bottom=0.75 * _label_inches(column_labels, 7) + 0.3)
    axes = grid[0, 0]
    image = axes.imshow(100 * values, cmap="viridis", aspect="auto")
    finite = values[np.isfinite(values)]
    middle = 100 * (finite.min() + finite.max()) / 2 if finite.size else 0
    for (row, column), value in np.ndenumerate(values):
        text = "–" if not np.isfinite(value) else f"{100 * value:.1f}"
        axes.text(column, row, text, ha="center", va="center", fontsize=7,
                  color="white" if np.isfinite(value) and 100 * value < middle else "black")
    _outline(axes, outlined, "white", 1.5)
    _outline(axes, dashed, "white", 1.5, "--")
    _outline(axes, best, "red", 3)
    axes.set_xticks(range(len(column_labels)), column_labels, rotation=45, ha="right", fontsize=7)
    axes.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    axes.set_title(title, fontsize=9)
    _colorbar_beside(figure, image, [axes], "accuracy (%)")
    _save(figure, path)


def _outline(axes, mask: np.ndarray | None, color: str, width: float,
             style: str = "-") -> None:
    from matplotlib.patches import Rectangle

    if mask is None:
        return
    for row, column in zip(*np.nonzero(mask)):
        axes.add_patch(Rectangle((column - 0.46, row - 0.46), 0.92, 0.92, fill=False,
                                 edgecolor=color, linewidth=width, linestyle=style))


def _interval_bars(axes, x, rows: list[dict], color: str, label: str | None = None) -> None:
    means = 100 * np.array([row["mean"] for row in rows])
    errors = 100 * np.array([[row["mean"] - row["ci_low"] for row in rows],
                             [row["ci_high"] - row["mean"] for row in rows]])
    axes.errorbar(x, means, yerr=errors, color=color, marker="o", markersize=4, capsize=3,
                  label=label)


def plot_main_effects(effects: dict[str, list[dict]], path: Path, title: str) -> None:
    """One panel per factor: each level's marginal mean (fractions in, percent on the
    axis) with its 95% interval (`statistics.marginal_means` rows), shared y."""
    figure = _figure(max(4.0, 2.8 * len(effects)), 3.4)
    panels = figure.subplots(1, len(effects), sharey=True, squeeze=False)[0]
    for axes, (factor, rows) in zip(panels, effects.items()):
        _interval_bars(axes, range(len(rows)), rows, "C0")
        axes.set_xticks(range(len(rows)), [row["levels"][0] for row in rows], rotation=30,
                        ha="right", fontsize=7)
        axes.set_title(factor, fontsize=9)
        axes.grid(alpha=0.3)
    panels[0].set_ylabel("final test accuracy (%)")
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def plot_interactions(pairs: dict[tuple, list[dict]], path: Path, title: str) -> None:
    """One panel per factor pair (a, b): the first factor's levels across, one line per
    level of the second, marginal means with 95% intervals."""
    figure = _figure(max(4.0, 3.6 * len(pairs)), 3.6)
    panels = figure.subplots(1, len(pairs), squeeze=False)[0]
    for axes, ((first, second), rows) in zip(panels, pairs.items()):
        across = list(dict.fromkeys(row["levels"][0] for row in rows))
        for index, level in enumerate(dict.fromkeys(row["levels"][1] for row in rows)):
            line = [row for row in rows if row["levels"][1] == level]
            offset = 0.06 * (index - 1)
            _interval_bars(axes, [across.index(row["levels"][0]) + offset for row in line], line,
                           f"C{index % 10}", level)
        axes.set_xticks(range(len(across)), across, rotation=30, ha="right", fontsize=7)
        axes.set_title(f"{first} × {second}", fontsize=9)
        axes.set_ylabel("final test accuracy (%)", fontsize=8)
        axes.legend(fontsize=6, title=second, title_fontsize=6)
        axes.grid(alpha=0.3)
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def plot_confusion(counts: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    """Row-normalized confusion matrix in percent with the diagonal left out,
    so the errors set the color scale."""
    counts = np.asarray(counts, dtype=float)
    rates = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    _plot_off_diagonal(rates, class_names, path, title, cmap="Reds", xlabel="predicted",
                       colorbar_label="% of the true class (diagonal left out)")


def _plot_off_diagonal(percentages: np.ndarray, class_names: list[str], path: Path, title: str,
                       *, cmap: str, xlabel: str, colorbar_label: str) -> None:
    """A class x class matrix in percent, diagonal left out and the rest annotated."""
    errors = np.array(percentages, dtype=float)
    np.fill_diagonal(errors, np.nan)
    names_inches = _label_inches(class_names, 7)
    left, right = names_inches + 0.35, 1.2
    widening = max(0.0, _label_inches([title], 9) - (left + 5.0 + right)) / 2
    figure, grid = _grid_figure(1, 1, 5.0, 5.0, left=left + widening, right=right + widening,
                                top=0.4, bottom=0.75 * names_inches + 0.4)
    axes = grid[0, 0]
    image = axes.imshow(errors, cmap=cmap)
    top = np.nanmax(errors) if np.isfinite(errors).any() else 0
    for (row, column), value in np.ndenumerate(errors):
        if row != column and value >= 0.05:
            axes.text(column, row, f"{value:.1f}", ha="center", va="center", fontsize=6,
                      color="white" if value > top / 2 else "black")
    axes.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=7)
    axes.set_yticks(range(len(class_names)), class_names, fontsize=7)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("true")
    figure.suptitle(title, fontsize=9)
    _colorbar_beside(figure, image, [axes], colorbar_label)
    _save(figure, path)


def _colorbar_beside(figure, image, panels: list, label: str) -> None:
    """A colorbar 0.2 inch wide, 0.2 inch right of the rightmost of `panels`, as tall as
    they span (a figure without a layout engine)."""
    boxes = [axes.get_position() for axes in panels]
    right = max(box.x1 for box in boxes)
    bottom, top = min(box.y0 for box in boxes), max(box.y1 for box in boxes)
    inch = 1 / figure.get_figwidth()
    colorbar_axes = figure.add_axes((right + 0.2 * inch, bottom, 0.2 * inch, top - bottom))
    figure.colorbar(image, cax=colorbar_axes, label=label)


def plot_noise_curves(groups: list[tuple[str, list[dict]]], path: Path, title: str,
                      stuck: list[list[dict]] | None = None) -> None:
    """Three panels (train accuracy on noisy labels, on clean labels, test accuracy),
    one mean ± std line per (label, runs) group, one group per noise level. Where
    `stuck` (parallel to groups) holds a group's runs that stayed at chance, the band
    is of its other runs and the stuck ones are drawn apart, dotted."""
    figure = _figure(12, 4)
    panels = figure.subplots(1, 3, sharey=True)
    stuck = stuck or [[] for _ in groups]
    for axes, (metric, name) in zip(panels, (("train_accuracy", "train, noisy labels"),
                                             ("train_clean_accuracy", "train, clean labels"),
                                             ("test_accuracy", "test"))):
        for index, ((label, members), at_chance) in enumerate(zip(groups, stuck)):
            stuck_ids = {id(run) for run in at_chance}
            rest = [run for run in members if id(run) not in stuck_ids]
            if rest:
                _plot_band(axes, curve_matrix(rest, metric), f"C{index % 10}",
                           f"{label} (n={len(rest)})" if not at_chance
                           else f"{label}, learned ({len(rest)} of {len(members)})")
            if at_chance:
                _plot_band(axes, curve_matrix(at_chance, metric), f"C{index % 10}",
                           f"{label}, at chance ({len(at_chance)} of {len(members)})", ":")
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
    columns = len(matrices)
    widening = max(0.0, _label_inches([title], 9) - (1.85 + 2.45 * columns)) / 2
    figure, panels = _grid_figure(3, columns, 2.0, 2.0, left=0.55 + widening,
                                  right=1.3 + widening, top=0.75, bottom=0.45, column_gap=0.45,
                                  row_gap=0.6)
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
    _colorbar_beside(figure, rates, list(panels[:2].ravel()), "fraction of the clean class")
    _colorbar_beside(figure, deviation, list(panels[2]), "percentage points")
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def _plot_rates(axes, rates: np.ndarray, class_names: list[str], title: str) -> None:
    """A row-normalized matrix in percent (diagonal included), annotated, on `axes`."""
    image = axes.imshow(100 * rates, cmap="Blues", vmin=0, vmax=100)
    for (row, column), value in np.ndenumerate(100 * rates):
        if value >= 0.5:
            axes.text(column, row, f"{value:.0f}", ha="center", va="center", fontsize=5,
                      color="white" if value > 50 else "black")
    axes.set_xticks(range(len(class_names)), class_names, rotation=90, fontsize=6)
    axes.set_yticks(range(len(class_names)), class_names, fontsize=6)
    axes.set_xlabel("predicted", fontsize=7)
    axes.set_ylabel("true", fontsize=7)
    axes.set_title(title, fontsize=8)
    return image


def plot_best_worst_median(entries: list[tuple[str, dict]], class_names: list[str], path: Path,
                           title: str) -> None:
    """One column per (role, run): its accuracy curves (test, train, soft test) above its
    row-normalized confusion matrix."""
    figure, panels = _grid_figure(2, len(entries), 3.5, 3.4, left=0.6, right=0.15, top=0.55,
                                  bottom=_label_inches(class_names, 6) + 0.35, column_gap=0.7,
                                  row_gap=0.65)
    for column, (role, run) in enumerate(entries):
        top, bottom = panels[:, column]
        for metric, style, label in (("test_accuracy", "-", "test"), ("train_accuracy", "--", "train"),
                                     ("test_soft_accuracy", ":", "test, soft")):
            curve = curve_matrix([run], metric)
            if curve.size and np.isfinite(curve).any():
                _plot_band(top, curve, "C0" if metric.startswith("test") else "C1", label, style)
        top.set_xlabel("epoch", fontsize=7)
        top.set_ylabel("accuracy (%)", fontsize=7)
        top.legend(fontsize=6)
        top.set_title(f"{role}: seed {run['spec']['seed']}", fontsize=9)
        counts = np.asarray(run["confusion_matrix"], dtype=float)
        _plot_rates(bottom, counts / np.maximum(counts.sum(axis=1, keepdims=True), 1), class_names,
                    "confusion (% of true class), final epoch")
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def plot_soft_confusion(rates: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    """The soft confusion matrix (row i: mean softmax vector of class i) in percent, drawn
    like `plot_confusion`: the diagonal left out, so the misplaced probability sets the
    color scale."""
    _plot_off_diagonal(100 * np.asarray(rates, dtype=float), class_names, path, title,
                       cmap="Purples", xlabel="class the probability goes to",
                       colorbar_label="mean softmax probability, % (diagonal left out)")


def plot_weight_histograms(panels: list[tuple[str, list[tuple[str, np.ndarray, np.ndarray]]]],
                           path: Path, title: str) -> None:
    """One row per run (label, [(layer, initial, trained), ...]): each layer's kernel
    weights at initialization and after training, as overlaid density histograms."""
    columns = max(len(layers) for _, layers in panels)
    overhang = (_label_inches([label for label, _ in panels], 7) - 2.2) / 2
    figure, grid = _grid_figure(len(panels), columns, 2.2, 1.75, left=max(0.35, overhang + 0.05),
                                right=0.1, top=0.65, bottom=0.25, column_gap=0.35, row_gap=0.6)
    for row, (label, layers) in enumerate(panels):
        for column, (layer, initial, trained) in enumerate(layers):
            axes = grid[row, column]
            initial, trained = (np.asarray(a, dtype=np.float32) for a in (initial, trained))
            low = float(min(initial.min(), trained.min()))
            high = float(max(initial.max(), trained.max()))
            bins = np.linspace(low, high if high > low else low + 1e-6, 50)
            axes.hist(initial, bins, density=True, histtype="stepfilled", alpha=0.5, color="C0",
                      label="initial")
            axes.hist(trained, bins, density=True, histtype="stepfilled", alpha=0.5, color="C3",
                      label="trained")
            axes.set_title(f"{layer}" + (f"\n{label}" if column == 0 else ""), fontsize=7)
            axes.tick_params(labelsize=6)
        grid[row, 0].legend(fontsize=6)
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def _tile_rgba(tile: np.ndarray, cmap: str = "gray", vmin: float | None = None,
               vmax: float | None = None) -> np.ndarray:
    """One image as (h, w, 4) RGBA floats, colored as imshow colors it: a one-channel
    image through `cmap` on its own range (unless vmin/vmax are given), NaN transparent;
    a three-channel one as RGB (uint8 0-255, or floats clipped to [0, 1])."""
    from matplotlib import colormaps

    tile = np.asarray(tile)
    if tile.ndim == 3 and tile.shape[-1] == 1:
        tile = tile[..., 0]
    if tile.ndim == 3:
        rgb = tile / 255 if tile.dtype == np.uint8 else np.clip(tile.astype(np.float64), 0, 1)
        return np.concatenate([rgb, np.ones(rgb.shape[:2] + (1,))], axis=-1)
    values = np.ma.masked_invalid(tile.astype(np.float64))
    if values.count() == 0:
        return np.zeros(tile.shape + (4,))
    low = float(values.min()) if vmin is None else vmin
    high = float(values.max()) if vmax is None else vmax
    scaled = (values - low) / (high - low) if high > low else values * 0
    return colormaps[cmap](np.ma.clip(scaled, 0, 1))


def _common_size(sizes: set[int], least: int = 40) -> int:
    """A tile size in pixels that every size in `sizes` scales to by whole pixels where
    that stays small, and at least `least`."""
    size = math.lcm(*sizes)
    if size > 4 * max(sizes):
        size = max(sizes)
    return size * math.ceil(least / size)


def _montage(tiles: list[list[np.ndarray | None]], row_gap: float, column_gap: float):
    """RGBA tiles (None: left blank) laid out in one image, a row of the list per row,
    each scaled (nearest pixel) to a common size, with transparent gaps (fractions of a
    tile). Returns the image, the tile size (h, w), and the tiles' left and top edges."""
    present = [tile for row in tiles for tile in row if tile is not None]
    height = _common_size({tile.shape[0] for tile in present})
    width = _common_size({tile.shape[1] for tile in present})
    lefts = np.arange(max(len(row) for row in tiles)) * (width + max(1, round(column_gap * width)))
    tops = np.arange(len(tiles)) * (height + max(1, round(row_gap * height)))
    image = np.zeros((tops[-1] + height, lefts[-1] + width, 4))
    for top, row in zip(tops, tiles):
        for left, tile in zip(lefts, row):
            if tile is not None:
                ys = np.arange(height) * tile.shape[0] // height
                xs = np.arange(width) * tile.shape[1] // width
                image[top:top + height, left:left + width] = tile[ys][:, xs]
    return image, (height, width), lefts, tops


def _montage_figure(tiles: list[list[np.ndarray | None]], tile_inches: float, *, left: float,
                    top: float, bottom: float = 0.08, right: float = 0.08,
                    row_gap: float = 0.08, column_gap: float = 0.08, framed: bool = False):
    """A figure (no layout engine) with one axes showing the tiles as a montage, each
    `tile_inches` wide, margins in inches around it; `framed` draws a thin dark frame
    around every tile that is there. Returns the figure, the axes, and the tiles'
    centers (x per column, y per row) and top edges in the axes' data coordinates."""
    from matplotlib.collections import PatchCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    image, (height, width), lefts, tops = _montage(tiles, row_gap, column_gap)
    image_width, image_height = (tile_inches / width * size for size in image.shape[1::-1])
    figure_width, figure_height = image_width + left + right, image_height + top + bottom
    figure = Figure(figsize=(figure_width, figure_height))
    axes = figure.add_axes((left / figure_width, bottom / figure_height,
                            image_width / figure_width, image_height / figure_height))
    axes.imshow(image, interpolation="nearest", aspect="auto")
    axes.set_frame_on(False)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.tick_params(length=0, pad=2)
    if framed:
        frames = [Rectangle((x - 0.5, y - 0.5), width, height)
                  for y, row in zip(tops, tiles) for x, tile in zip(lefts, row) if tile is not None]
        axes.add_collection(PatchCollection(frames, facecolor="none", edgecolor="0.2",
                                            linewidth=0.8, clip_on=False))
    return figure, axes, lefts + (width - 1) / 2, tops + (height - 1) / 2, tops - 0.5


def _label_inches(labels: list[str], fontsize: float) -> float:
    """A generous estimate of the widest label's width in inches."""
    return 0.62 * fontsize / 72 * max((len(label) for label in labels), default=0) + 0.1


def plot_examples(images: np.ndarray, confidence: np.ndarray, pairs: np.ndarray,
                  class_names: list[str], path: Path, title: str) -> None:
    """One row per confusion pair (true→predicted, at the left): its most confident
    mistakes, each captioned with the model's confidence."""
    tiles = [[_tile_rgba(image, vmin=0, vmax=255) if np.isfinite(score) else None
              for image, score in zip(row_images, row_scores)]
             for row_images, row_scores in zip(images, confidence)]
    row_labels = [f"{class_names[true]}→{class_names[predicted]}" for true, predicted in pairs]
    figure, axes, x_centers, y_centers, tops = _montage_figure(
        tiles, 1.1, left=_label_inches(row_labels, 7), top=0.45, row_gap=0.2, column_gap=0.12)
    axes.set_yticks(y_centers, row_labels, fontsize=7)
    for row, top in enumerate(tops):
        for column, x in enumerate(x_centers[:confidence.shape[1]]):
            if np.isfinite(confidence[row, column]):
                axes.text(x, top, f"{100 * confidence[row, column]:.0f}%", ha="center",
                          va="bottom", fontsize=6)
    figure.suptitle(title + " (true→predicted, confidence)", fontsize=9)
    _save(figure, path)


def _kernel_image(kernel: np.ndarray) -> np.ndarray:
    """(5, 5, C) -> RGBA: gray on its own scale for one channel, RGB scaled to [0, 1]
    for three."""
    if kernel.shape[-1] == 1:
        return _tile_rgba(kernel[..., 0], cmap="gray")
    low, high = kernel.min(), kernel.max()
    return _tile_rgba((kernel - low) / (high - low if high > low else 1))


def plot_kernels(rows: list[tuple[str, np.ndarray]], path: Path, title: str) -> None:
    """One row per (label, kernel (h, w, C, F)): its F filters as images, each on its
    own color scale (gray: dark negative, light positive)."""
    tiles = [[_kernel_image(kernel[..., index]) for index in range(kernel.shape[-1])]
             for _, kernel in rows]
    labels = [label for label, _ in rows]
    figure, axes, _, y_centers, _ = _montage_figure(
        tiles, 1.0, left=_label_inches(labels, 6), top=0.45, row_gap=0.15, column_gap=0.1,
        framed=True)
    axes.set_yticks(y_centers, labels, fontsize=6)
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def plot_feature_maps(images: np.ndarray, maps: np.ndarray, labels: list[str], path: Path,
                      title: str) -> None:
    """One row per image: the input, then every channel of its feature maps (N, h, w, F),
    each on its own color scale."""
    count, channels = maps.shape[0], maps.shape[-1]
    tiles = [[_tile_rgba(images[row])]
             + [_tile_rgba(np.asarray(maps[row, ..., channel], dtype=np.float32), cmap="viridis")
                for channel in range(channels)] for row in range(count)]
    row_labels = [f"input: {label}" for label in labels]
    figure, axes, x_centers, y_centers, _ = _montage_figure(
        tiles, 0.85, left=_label_inches(row_labels, 6), top=0.5)
    axes.xaxis.tick_top()
    axes.set_xticks(x_centers, ["input"] + [f"channel {channel}" for channel in range(channels)],
                    fontsize=6)
    axes.set_yticks(y_centers, row_labels, fontsize=6)
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def plot_ood_histogram(in_counts: np.ndarray, out_counts: np.ndarray, in_name: str,
                       out_name: str, path: Path, title: str) -> None:
    """Max-softmax confidence histograms over equal bins of [0, 1], each as a share of
    its images (log scale: most images of both sit near 1)."""
    in_counts, out_counts = (np.asarray(c, dtype=float) for c in (in_counts, out_counts))
    edges = np.linspace(0, 1, len(in_counts) + 1)
    figure, grid = _grid_figure(1, 1, 6.05, 3.15, left=0.75, right=0.2, top=0.35, bottom=0.5)
    axes = grid[0, 0]
    for counts, color, label in ((in_counts, "C0", f"{in_name} test (in distribution)"),
                                 (out_counts, "C3", f"{out_name} test (out of distribution)")):
        axes.stairs(100 * counts / max(counts.sum(), 1), edges, color=color, label=label,
                    fill=True, alpha=0.4)
    axes.set_yscale("log")
    axes.set_xlabel("max softmax probability")
    axes.set_ylabel("% of the images")
    axes.legend(fontsize=8)
    axes.set_title(title, fontsize=9)
    _save(figure, path)


VERDICT_COLORS = {"best": "#1f77b4", "equivalent": "#2ca02c", "undecided": "#7f7f7f",
                  "worse": "#d62728"}


def plot_verdicts(labels: list[str], lows: np.ndarray, highs: np.ndarray, verdicts: list[str],
                  seeds: list[int], margin: float, path: Path, title: str) -> None:
    """Each point's interval against the best of the others (in points), the margin band,
    each point coloured by its verdict and labelled with its seeds: the picture a reader
    checks first. The best's interval is against the runner-up."""
    order = np.argsort(-np.nan_to_num((np.asarray(lows) + np.asarray(highs)) / 2, nan=-1e9),
                       kind="stable")
    figure = _figure(7.0, 1.2 + 0.22 * len(labels))
    axes = figure.subplots()
    axes.axvspan(-margin, margin, color="#2ca02c", alpha=0.12, linewidth=0,
                 label=f"margin ±{margin:g} points")
    axes.axvline(0, color="black", linewidth=0.8)
    for row, index in enumerate(order):
        color = VERDICT_COLORS.get(verdicts[index], "black")
        if np.isfinite(lows[index]) and np.isfinite(highs[index]):
            axes.plot([lows[index], highs[index]], [row, row], color=color, linewidth=2.5,
                      solid_capstyle="butt")
        else:
            axes.text(0, row, " no interval (fewer than 2 learned runs)", color=color,
                      fontsize=7, va="center")
    axes.set_yticks(range(len(order)),
                    [f"{labels[i]} ({seeds[i]} seeds)" for i in order], fontsize=7)
    axes.set_ylim(len(order) - 0.5, -0.5)
    for verdict, color in VERDICT_COLORS.items():
        if verdict in verdicts:
            axes.plot([], [], color=color, linewidth=2.5, label=verdict)
    axes.set_xlabel("learned accuracy minus the best of the others, points")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes.grid(axis="x", alpha=0.3)
    _save(figure, path)
