"""The report's statistics: per-point intervals, each point's verdict against the best
(worse, equivalent or undecided) with its failure rate, probability of improvement and
seeds to decide, the ANOVA table, main effects and interactions, split outcomes and
seeds needed, from run records.

Groups runs into grid points and factors and hands their final test accuracies to
`lenet_bench.records.statistics`; `report` puts the results into its tables and REPORT.md.
"""

import math
from pathlib import Path

import numpy as np

from lenet_bench.files import atomic_write_text
from lenet_bench.records import analysis, statistics
from lenet_bench.reports import plots
from lenet_bench.records.results import finished_runs, format_value, setting_label
from lenet_bench.reports.tables import csv_text, latex_table, markdown_table

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


def grid_statistics(runs: list[dict], rows: list[dict], fields: tuple, classes: int,
                    margin: float = statistics.MARGIN) -> dict:
    """Per summary row (by setting): its statistics.group_summary, its verdict ('best',
    'worse', 'equivalent', 'undecided', or '' when untested), its tests against the
    best ('test') and its probability of improvement ('improvement': P(best > it) and
    its interval); plus the verdicts result, the margin and the settings in the order
    the tests saw them."""
    values = point_values(runs, fields)
    settings = [row["setting"] for row in rows if row["setting"] in values]
    diverged = {row["setting"]: row["diverged"] for row in rows}
    by_setting = {row["setting"]: {**statistics.group_summary(values.get(row["setting"], []),
                                                              classes, row["diverged"]),
                                   "verdict": ""} for row in rows}
    result = None
    if len(settings) > 1:
        result = statistics.verdicts([values[s] for s in settings], classes,
                                     [diverged[s] for s in settings], margin)
        best_values = values[settings[result["best"]]]
        for setting, point in zip(settings, result["points"]):
            by_setting[setting].update(verdict=point["verdict"], test=point)
            if point["verdict"] != "best":
                by_setting[setting]["improvement"] = statistics.probability_of_improvement(
                    best_values, values[setting])
    return {"by_setting": by_setting, "verdicts": result, "settings": settings,
            "values": values, "margin": margin}


def annotate_rows(rows: list[dict], grid: dict) -> None:
    """Adds the interval, median, IQR, failures, verdict and its figures to summary rows
    (so summary.csv has them)."""
    nan = math.nan
    for row in rows:
        found = grid["by_setting"][row["setting"]]
        test = found.get("test", {})
        improvement = found.get("improvement", (nan, nan, nan))
        row.update({"final_test_accuracy_ci_low": found["ci_low"],
                    "final_test_accuracy_ci_high": found["ci_high"],
                    "final_test_accuracy_median": found["median"],
                    "final_test_accuracy_q1": found["q1"], "final_test_accuracy_q3": found["q3"],
                    "final_test_accuracy_min": found["min"], "at_chance": found["at_chance"],
                    "learned_mean": found["learned_mean"], "failed": found["failed"],
                    "failed_rate_ci_low": found["failed_low"],
                    "failed_rate_ci_high": found["failed_high"], "verdict": found["verdict"],
                    "margin": grid["margin"], "in_best_set": test.get("in_best_set", ""),
                    "best_minus_this": test.get("difference", nan),
                    "best_minus_this_ci_low": test.get("difference_low", nan),
                    "best_minus_this_ci_high": test.get("difference_high", nan),
                    "p_improvement": improvement[0], "p_improvement_ci_low": improvement[1],
                    "p_improvement_ci_high": improvement[2],
                    "worse_p_holm": test.get("worse_p_holm", nan),
                    "equivalence_p_holm": test.get("equivalence_p_holm", nan),
                    "failure_p": test.get("failure_p", nan),
                    "seeds_to_decide": test.get("seeds_to_decide") or ""})


def interval_text(low: float, high: float, scale: float = 100, digits: int = 2) -> str:
    """'[96.41, 97.35]' in percent ('–' when undefined)."""
    return ("–" if not math.isfinite(low)
            else f"[{scale * low:.{digits}f}, {scale * high:.{digits}f}]")


def margin_text(margin: float) -> str:
    """'±0.5 points'."""
    return f"±{100 * margin:g} points"


def verdict_legend(margin: float) -> str:
    """One sentence naming the three verdicts, for every table that shows them."""
    return (f"Verdicts against the best (the highest mean), margin {margin_text(margin)}: "
            "**worse** (shown below it), **equivalent** (shown within the margin, with no "
            "higher failure rate), **undecided** (neither yet); see [Which differences are "
            "real](#which-differences-are-real).")


def verdict_sentence(grid: dict) -> str:
    """'Best: ... Of the other M points: W worse, E equivalent, U undecided ...'."""
    result = grid["verdicts"]
    best_setting = grid["settings"][result["best"]]
    best = grid["by_setting"][best_setting]
    counts = result["counts"]
    others = len(grid["settings"]) - 1
    untested = others - sum(counts.values())
    members = [grid["settings"][i] for i in result["best_set"]]
    return (f"**Best: {best_setting}**: {100 * best['mean']:.2f}%, 95% CI "
            f"{interval_text(best['ci_low'], best['ci_high'])}, {best['n']} seeds, "
            f"{best['failed']} failed. **Of the other {others} grid points: {counts['worse']} "
            f"worse, {counts['equivalent']} equivalent (within {margin_text(grid['margin'])}"
            f"), {counts['undecided']} undecided**"
            + (f"; {untested} could not be tested (fewer than 2 finished runs)" if untested
               else "")
            + f". The best set (points not shown below any other) has {len(members)} of the "
            f"{others + 1} points" + (f": {'; '.join(members)}" if len(members) <= 6 else "")
            + f". Method: {statistics.verdict_method(grid['margin'])}. {_unseen_text(grid)} "
            "Holm's correction runs "
            "separately over the \"worse\" family and the \"equivalent\" family. Failed: runs "
            "at chance or diverged, with the Clopper-Pearson 95% interval of the rate. "
            "P(best > it): the probability that a run of the best beats a run of the point "
            "(Mann-Whitney U / (n m), ties half, as rliable defines it), with a percentile "
            f"bootstrap 95% interval ({statistics.BOOTSTRAP_RESAMPLES} resamples, seeded). "
            "Seeds to decide (undecided points, seeds per point): the fewer of what the "
            f"one-sided t-test at {statistics.ALPHA:g}/(points - 1) needs to tell a difference "
            f"of the margin with {statistics.POWER:.0%} power at the spread of the point and "
            "the best (statsmodels' TTestIndPower), and, where the point fails more often, "
            "what a one-sided test of the failure rates needs at the observed rates (normal "
            "approximation on Cohen's h). With every run of one side above every run of the "
            "other, the bootstrap interval of P(best > it) closes on the estimate: read it "
            "with the seed count.")


def _unseen_text(grid: dict) -> str:
    """What 'no failure seen' cannot rule out at this study's seed count."""
    runs = min(found["n"] + found["diverged"] for found in grid["by_setting"].values())
    runs = max(runs, 1)
    return ("Equivalence needs no more failures than the best; a failure rate too rare to "
            f"show is not ruled out: {runs} runs without a failure still allow one up to "
            f"{100 * statistics.unseen_failure_rate(runs):.0f}% (one-sided Clopper-Pearson "
            f"at {statistics.ALPHA:g}).")


def _p_cell(p: float) -> str:
    return "–" if not math.isfinite(p) else _p_text(p)


def verdict_rows(grid: dict) -> list[dict]:
    """One record per tested point (best first, then by mean): verdict, figures, tests."""
    order = sorted(grid["settings"], key=lambda s: (grid["by_setting"][s]["verdict"] != "best",
                                                    -grid["by_setting"][s]["mean"]))
    records = []
    for setting in order:
        found = grid["by_setting"][setting]
        test = found.get("test", {})
        improvement = found.get("improvement", (math.nan,) * 3)
        records.append({
            "setting": setting, "verdict": found["verdict"] or "untested", "mean": found["mean"],
            "best_minus_this": test.get("difference", math.nan),
            "best_minus_this_ci_low": test.get("difference_low", math.nan),
            "best_minus_this_ci_high": test.get("difference_high", math.nan),
            "p_improvement": improvement[0], "p_improvement_ci_low": improvement[1],
            "p_improvement_ci_high": improvement[2], "failed": found["failed"],
            "runs": found["n"] + found["diverged"], "failed_rate_ci_low": found["failed_low"],
            "failed_rate_ci_high": found["failed_high"],
            "worse_p_holm": test.get("worse_p_holm", math.nan),
            "equivalence_p_holm": test.get("equivalence_p_holm", math.nan),
            "failure_p": test.get("failure_p", math.nan),
            "in_best_set": bool(test.get("in_best_set")),
            "seeds_to_decide": test.get("seeds_to_decide")})
    return records


def _seeds_cell(record: dict) -> str:
    if record["verdict"] != "undecided":
        return ""
    seeds = record["seeds_to_decide"]
    return str(seeds) if seeds else f"> {statistics.SEEDS_LIMIT:,}"


def verdict_table(records: list[dict]) -> tuple[list[str], list[list]]:
    """The verdict table's header and cells (percent and points)."""
    header = ["setting", "verdict", "mean %", "best − it, points [95% CI]",
              "P(best > it) [95% CI]", "failed [95% CI of rate, %]", "p worse (Holm)",
              "p equivalent (Holm)", "p failure higher (Fisher)", "best set",
              "seeds to decide"]
    body = [[r["setting"], r["verdict"], f"{100 * r['mean']:.2f}",
             "" if r["verdict"] == "best" else
             f"{100 * r['best_minus_this']:.2f} "
             f"{interval_text(r['best_minus_this_ci_low'], r['best_minus_this_ci_high'])}",
             "" if not math.isfinite(r["p_improvement"]) else
             f"{r['p_improvement']:.2f} "
             + interval_text(r["p_improvement_ci_low"], r["p_improvement_ci_high"], 1),
             f"{r['failed']}/{r['runs']} "
             + interval_text(r["failed_rate_ci_low"], r["failed_rate_ci_high"], 100, 0),
             _p_cell(r["worse_p_holm"]), _p_cell(r["equivalence_p_holm"]),
             _p_cell(r["failure_p"]), "yes" if r["in_best_set"] else "", _seeds_cell(r)]
            for r in records]
    return header, body


def verdict_lines(experiment_dir: Path, name: str, grid: dict) -> list[str]:
    """The verdict sentence and table; verdicts.{csv,md,tex} beside the report."""
    records = verdict_rows(grid)
    header, body = verdict_table(records)
    atomic_write_text(experiment_dir / "verdicts.csv", csv_text(
        [{**record, "margin": grid["margin"]} for record in records]))
    atomic_write_text(experiment_dir / "verdicts.md", markdown_table(header, body))
    atomic_write_text(experiment_dir / "verdicts.tex", latex_table(
        header, body, f"{name}: each grid point against the best, margin "
        f"{margin_text(grid['margin'])}"))
    return [verdict_sentence(grid), "", markdown_table(header, body),
            "Tables: [verdicts.csv](verdicts.csv), [verdicts.md](verdicts.md), "
            "[verdicts.tex](verdicts.tex).", ""]


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
    """How many seeds per point the report's test needs to tell the margin and 1 point."""
    groups = [grid["values"][s] for s in grid["settings"]]
    std, df = statistics.pooled_std([statistics.learned(g, classes) for g in groups])
    if not math.isfinite(std):
        return ""
    stuck = sum(int(statistics.at_chance(g, classes).sum()) for g in groups)
    all_std, _ = statistics.pooled_std(groups)
    comparisons = max(1, len(groups) - 1)
    differences = dict.fromkeys((grid["margin"], 0.01))
    needed = [(d, statistics.seeds_needed(std, d, comparisons)) for d in differences]
    seeds = {len(g) for g in groups}
    return ("**Seeds needed.** Pooled within-point std "
            f"{100 * std:.2f} points (df {df}"
            + (f"; the {stuck} runs at chance left out, with them {100 * all_std:.2f}" if stuck
               else "") + "): telling a difference of "
            + ", of ".join(f"{100 * d:g} point{'s' if d != 0.01 else ''}"
                           + (" (the margin)" if d == grid["margin"] else "")
                           + (" from the best needs " if i == 0 else " ")
                           + (f"{n}" if n else f"more than {statistics.SEEDS_LIMIT:,}")
                           + " seeds per point" for i, (d, n) in enumerate(needed))
            + f" ({statistics.SEEDS_METHOD}, {comparisons} comparisons); this study has "
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
    """'## Which differences are real': verdicts, splits, seeds needed, ANOVA, effects."""
    if not grid["verdicts"]:
        return []
    lines = ["## Which differences are real", ""]
    if not any(grid["verdicts"]["counts"].values()):
        return lines + ["No grid point can be tested against the best: a test needs 2+ "
                        "finished runs on both sides.", ""]
    lines += verdict_lines(experiment_dir, name, grid)
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
