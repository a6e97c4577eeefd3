"""The report's statistics: per-point intervals and tie marks, the ANOVA table, main
effects and interactions, split outcomes and seeds needed, from run records.

Groups runs into grid points and factors and hands their final test accuracies to
`lenet_bench.reports.statistics`; `report` puts the results into its tables and REPORT.md.
"""

import math
from pathlib import Path

import numpy as np

from lenet_bench.files import atomic_write_text
from lenet_bench.reports import analysis, plots, statistics
from lenet_bench.reports.results import finished_runs, format_value, setting_label
from lenet_bench.reports.tables import csv_text, latex_table, markdown_table

TIE_MARK = "≈"


def num_classes(dataset: dict, runs: list[dict]) -> int:
    """K: the dataset's class count, else the runs' confusion-matrix size, else 10."""
    if dataset.get("class_names"):
        return len(dataset["class_names"])
    matrix = next((run["confusion_matrix"] for run in runs if run.get("confusion_matrix")), None)
    return len(matrix) if matrix else 10


def chance_text(classes: int) -> str:
    """How the report names the at-chance threshold."""
    return (f"at chance: final test accuracy within {100 * statistics.CHANCE_MARGIN:g} points "
            f"of 1/K = {100 / classes:.2f}%")


def point_values(runs: list[dict], fields: tuple) -> dict[str, np.ndarray]:
    """Setting label -> its finished runs' final test accuracies, in grid order."""
    return {setting_label(members[0]["spec"], fields):
            np.array([analysis.final_accuracy(run) for run in members], dtype=float)
            for members in analysis.group_by_point(finished_runs(runs)).values()}


def grid_statistics(runs: list[dict], rows: list[dict], fields: tuple, classes: int) -> dict:
    """Per summary row (by setting): its statistics.group_summary and its tie status
    ('best', 'tied', 'worse', or '' when untested); plus the ties result and the
    settings in the order the tests saw them."""
    values = point_values(runs, fields)
    settings = [row["setting"] for row in rows if row["setting"] in values]
    by_setting = {row["setting"]: {**statistics.group_summary(values.get(row["setting"], []),
                                                              classes, row["diverged"]),
                                   "tie": ""} for row in rows}
    ties = None
    if len(settings) > 1:
        ties = statistics.ties_with_best([values[s] for s in settings], classes)
        for setting, point in zip(settings, ties["points"]):
            by_setting[setting]["tie"] = ("" if point["tied"] is None
                                          else "tied" if point["tied"] else "worse")
            by_setting[setting]["test"] = point
        by_setting[settings[ties["best"]]]["tie"] = "best"
    return {"by_setting": by_setting, "ties": ties, "settings": settings, "values": values}


def annotate_rows(rows: list[dict], grid: dict) -> None:
    """Adds the interval, median, IQR, at-chance count and tie status to summary rows
    (so summary.csv has them)."""
    for row in rows:
        found = grid["by_setting"][row["setting"]]
        row.update({"final_test_accuracy_ci_low": found["ci_low"],
                    "final_test_accuracy_ci_high": found["ci_high"],
                    "final_test_accuracy_median": found["median"],
                    "final_test_accuracy_q1": found["q1"], "final_test_accuracy_q3": found["q3"],
                    "final_test_accuracy_min": found["min"], "at_chance": found["at_chance"],
                    "learned_mean": found["learned_mean"], "tie": found["tie"]})


def interval_text(low: float, high: float) -> str:
    """'[96.41, 97.35]' in percent ('–' when undefined)."""
    return "–" if not math.isfinite(low) else f"[{100 * low:.2f}, {100 * high:.2f}]"


def tie_sentence(grid: dict, rows: list[dict]) -> str:
    """'N of the other M points are not significantly worse than the best (...)'."""
    ties = grid["ties"]
    best = grid["by_setting"][grid["settings"][ties["best"]]]
    others = len(grid["settings"]) - 1
    untested = others - ties["tested"]
    return (f"**{ties['tied']} of the other {others} grid points are not significantly worse "
            f"than the best** ({grid['settings'][ties['best']]}: {100 * best['mean']:.2f}%, 95% CI "
            f"{interval_text(best['ci_low'], best['ci_high'])}, {best['n']} seeds)"
            + (f"; {untested} could not be tested (fewer than 2 finished runs)" if untested else "")
            + f". Method: {statistics.TIE_METHOD}. {TIE_MARK} marks them in the tables; "
            "outlined cells in the heat map.")


def rank_floor_note(grid: dict) -> str:
    """A sentence when the rank test cannot reject anything at these sample sizes."""
    ties = grid["ties"]
    sizes = [len(grid["values"][s]) for s in grid["settings"]]
    best = sizes[ties["best"]]
    floors = [1 / math.comb(n + best, n) for i, n in enumerate(sizes) if i != ties["best"] and n > 1]
    if not floors or ties["tested"] == 0:
        return ""
    threshold = statistics.ALPHA / ties["tested"]
    if min(floors) <= threshold:
        return ""
    return (f"With these seed counts the rank test cannot reject anything: its smallest "
            f"possible one-sided p ({min(floors):.4f}, every run below every run of the best) "
            f"is above Holm's first threshold {statistics.ALPHA:g}/{ties['tested']} = "
            f"{threshold:.4f}; the Welch test decides here.")


def split_lines(grid: dict, classes: int) -> list[str]:
    """The points whose seeds split (some at chance, some learned)."""
    split = [(setting, found) for setting, found in grid["by_setting"].items() if found["split"]]
    if not split:
        return []
    table = [[setting, f"{found['at_chance']} of {found['n']}",
              f"{100 * found['learned_mean']:.2f}", f"{100 * found['median']:.2f}",
              f"{100 * found['mean']:.2f} ± {100 * found['std']:.2f}"] for setting, found in split]
    return [f"**Split outcomes** ({chance_text(classes)}; a split: some runs at chance, some "
            f"at least {100 * statistics.SPLIT_GAP:g} points above it). Read these as a failure "
            "rate and the learned runs' accuracy, not as a mean:", "",
            markdown_table(["setting", "at chance", "learned runs' mean %", "median %",
                            "mean ± std %"], table)]


def seeds_line(grid: dict, classes: int) -> str:
    """How many seeds per point would detect 0.5 and 1 point at 80% power."""
    groups = [grid["values"][s] for s in grid["settings"]]
    std, df = statistics.pooled_std([statistics.learned(g, classes) for g in groups])
    if not math.isfinite(std):
        return ""
    stuck = sum(int(statistics.at_chance(g, classes).sum()) for g in groups)
    all_std, _ = statistics.pooled_std(groups)
    needed = [(d, statistics.seeds_needed(std, d)) for d in statistics.DETECTABLE_DIFFERENCES]
    seeds = {len(g) for g in groups}
    return ("**Seeds needed.** Pooled within-point std "
            f"{100 * std:.2f} points (df {df}"
            + (f"; the {stuck} runs at chance left out, with them {100 * all_std:.2f}" if stuck
               else "") + "): detecting a difference of "
            + ", of ".join(f"{100 * d:g} point{'s' if d != 0.01 else ''} "
                           + ("between two grid points needs " if i == 0 else "")
                           + f"{n if n else 'more than 1,000,000'} seeds per point"
                           for i, (d, n) in enumerate(needed))
            + f" ({statistics.SEEDS_METHOD}); this study has "
            + "/".join(str(n) for n in sorted(seeds)) + ".")


def factor_levels(runs: list[dict], fields: tuple) -> dict[str, list]:
    """Grid field -> its level label per finished run (fields with 2+ levels only)."""
    finished = [run for run in finished_runs(runs) if math.isfinite(analysis.final_accuracy(run))]
    factors = {field: [format_value(field, run["spec"].get(field)) for run in finished]
               for field in fields}
    return {field: levels for field, levels in factors.items() if len(set(levels)) > 1}


def anova_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    header = ["term", "df", "SS (points²)", "F", "p", "partial η²"]
    return header, [[row["term"], row["df"], f"{1e4 * row['ss']:.2f}",
                     "" if math.isnan(row["f"]) else f"{row['f']:.2f}",
                     "" if math.isnan(row["p"]) else _p_text(row["p"]),
                     "" if math.isnan(row["partial_eta_squared"])
                     else f"{row['partial_eta_squared']:.3f}"] for row in rows]


def _p_text(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else "< 0.0001"


def significant_terms(rows: list[dict]) -> list[str]:
    """The ANOVA terms with p < ALPHA."""
    return [row["term"] for row in rows if not math.isnan(row["p"]) and row["p"] < statistics.ALPHA]


def factorial_lines(experiment_dir: Path, name: str, runs: list[dict], fields: tuple,
                    classes: int) -> list[str]:
    """ANOVA tables (anova.{csv,md,tex}), the main-effects figure and table and the
    two-factor interaction figure; [] unless some grid field varies and some grid
    point has 2+ finished runs."""
    finished = [run for run in finished_runs(runs) if math.isfinite(analysis.final_accuracy(run))]
    values = np.array([analysis.final_accuracy(run) for run in finished])
    factors = factor_levels(runs, fields)
    table = statistics.anova(values, factors)
    if not table:
        return []
    keep = ~statistics.at_chance(values, classes)
    learned_table = statistics.anova(values[keep], {f: list(np.asarray(levels, dtype=object)[keep])
                                                    for f, levels in factors.items()}) \
        if not keep.all() else []
    header, body = anova_table(table)
    atomic_write_text(experiment_dir / "anova.csv", csv_text(
        [{"runs": "all", **row} for row in table] + [{"runs": "learned", **row}
                                                     for row in learned_table]))
    atomic_write_text(experiment_dir / "anova.md", markdown_table(header, body))
    atomic_write_text(experiment_dir / "anova.tex", latex_table(
        header, body, f"{name}: ANOVA of final test accuracy over seeds (Type II)"))
    lines = ["### ANOVA (final test accuracy of every finished run)", "",
             f"Linear model on the {len(values)} seed-level results: main effects and two-factor "
             "interactions, Type II sums of squares, error = the spread between seeds of one "
             "grid point (the full cell-means model); partial η² = SS / (SS + SS error). "
             "Significant at 5%: " + (", ".join(significant_terms(table)) or "none") + ".", "",
             markdown_table(header, body)]
    if learned_table:
        lines += [f"Without the {int((~keep).sum())} runs at chance (they dominate the error "
                  "above); significant at 5%: "
                  + (", ".join(significant_terms(learned_table)) or "none") + ".", "",
                  markdown_table(*anova_table(learned_table))]
    lines += ["Tables: [anova.csv](anova.csv) (both), [anova.md](anova.md), "
              "[anova.tex](anova.tex).", ""]
    if keep.all():
        return lines + effects_lines(experiment_dir, name, values, factors, "")
    return lines + effects_lines(
        experiment_dir, name, values[keep],
        {f: list(np.asarray(levels, dtype=object)[keep]) for f, levels in factors.items()},
        f"learned runs; the {int((~keep).sum())} at chance are in the split table")


def effects_lines(experiment_dir: Path, name: str, values: np.ndarray, factors: dict,
                  which: str) -> list[str]:
    """Main effects (table, csv, figure) and, for 2+ factors, the interaction figure;
    `which` says which runs they use when not all ('' for all)."""
    effects = {factor: statistics.marginal_means(values, factors, (factor,)) for factor in factors}
    rows = [{"factor": factor, "level": row["levels"][0], "mean": row["mean"],
             "ci_low": row["ci_low"], "ci_high": row["ci_high"], "runs": row["n"]}
            for factor, levels in effects.items() for row in levels]
    atomic_write_text(experiment_dir / "main_effects.csv", csv_text(rows))
    figures = experiment_dir / "figures"
    plots.plot_main_effects(effects, figures / "main_effects.png",
                            f"{name}: main effects, final test accuracy (mean over the other "
                            "factors, 95% CI" + (f"; {which})" if which else ")"))
    lines = ["### Main effects" + (f" ({which})" if which else ""), "",
             "Each level's marginal mean: the mean of its grid points' means, so every level "
             "of the other factors weighs the same, with a 95% t interval from the spread "
             "between seeds (the ANOVA's error).", "",
             markdown_table(["factor", "level", "mean %", "95% CI", "runs"],
                            [[row["factor"], row["level"], f"{100 * row['mean']:.2f}",
                              interval_text(row["ci_low"], row["ci_high"]), row["runs"]]
                             for row in rows]),
             "![main effects](figures/main_effects.png)", ""]
    pairs = [(a, b) for i, a in enumerate(factors) for b in list(factors)[i + 1:]]
    if pairs:
        plots.plot_interactions({pair: statistics.marginal_means(values, factors, pair)
                                 for pair in pairs}, figures / "interactions.png",
                                f"{name}: two-factor interactions, final test accuracy "
                                "(mean over the other factors, 95% CI"
                                + (f";\n{which})" if which else ")"))
        lines += ["Two-factor interactions (parallel lines: no interaction):", "",
                  "![interactions](figures/interactions.png)", ""]
    return lines + ["Table: [main_effects.csv](main_effects.csv).", ""]


def statistics_section(experiment_dir: Path, name: str, runs: list[dict], rows: list[dict],
                       fields: tuple, classes: int, grid: dict) -> list[str]:
    """'## Which differences are real': ties, splits, seeds needed, ANOVA, effects."""
    if not grid["ties"]:
        return []
    if not grid["ties"]["tested"]:
        return ["## Which differences are real", "",
                "No grid point can be tested against the best: a test needs 2+ finished runs "
                "on both sides.", ""]
    lines = ["## Which differences are real", "", tie_sentence(grid, rows)]
    note = rank_floor_note(grid)
    lines += ([note] if note else []) + [""]
    lines += split_lines(grid, classes)
    seeds = seeds_line(grid, classes)
    lines += [seeds, ""] if seeds else []
    return lines + factorial_lines(experiment_dir, name, runs, fields, classes)


def pair_interval_text(rates) -> str:
    """A confusion pair's mean rate over seeds with its 95% interval, in percent."""
    low, high = statistics.rate_interval(rates)
    mean = float(np.mean(rates))
    return f"{100 * mean:.2f}" + ("" if not math.isfinite(low)
                                  else f" [{100 * low:.2f}, {100 * high:.2f}]")
