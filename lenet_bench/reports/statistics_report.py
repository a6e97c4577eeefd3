"""The report's statistics: per-point intervals, each point's verdict (best, worse,
equivalent or undecided) with its interval against the best of the others, failure rate
and seeds needed, the ANOVA table, main effects and interactions and split outcomes,
from run records.

Groups runs into grid points and factors and hands their final test accuracies to
`lenet_bench.records.decision` and `lenet_bench.records.statistics`; `report` puts the
results into its tables and REPORT.md.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd

from lenet_bench.files import atomic_write_text
from lenet_bench.records import analysis, decision, statistics
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
                    margin: float = decision.MARGIN_POINTS / 100,
                    failure_limit: float = decision.FAILURE_LIMIT,
                    race: tuple | None = None, seeds_needed: bool = True) -> dict:
    """Per summary row (by setting): its statistics.group_summary and its verdict
    ('best', 'worse', 'equivalent', 'undecided', or '' with one grid point) with
    `decision.decide`'s figures ('decision'); plus the verdict frame, the margin
    (accuracy units), the failure limit and the settings in the order tested.

    `race`: race_report.replayed_race's result for a `--seeds=auto` experiment, whose
    verdicts replace decide's (a race's alpha is spent over its looks). `seeds_needed`:
    simulate the seeds an undecided point needs (the index, which shows counts, skips it)."""
    values = point_values(runs, fields)
    diverged = {row["setting"]: row["diverged"] for row in rows}
    settings = [row["setting"] for row in rows if row["setting"] in values]
    by_setting = {row["setting"]: {**statistics.group_summary(values.get(row["setting"], []),
                                                              classes, row["diverged"]),
                                   "verdict": ""} for row in rows}
    frame = None
    if len(settings) > 1:
        frame = decision.decide(_runs_frame(values, diverged, settings), point="setting",
                                value="value", num_classes=classes, margin=100 * margin,
                                failure_limit=failure_limit, seeds_needed=seeds_needed)
        if race is not None:
            _take_race_verdicts(frame, race)
        for record in frame.to_dict("records"):
            by_setting[record["setting"]].update(verdict=record["verdict"], decision=record)
    return {"by_setting": by_setting, "verdicts": frame, "settings": settings,
            "values": values, "margin": margin, "failure_limit": failure_limit,
            "race": race is not None}


def _runs_frame(values: dict, diverged: dict, settings: list[str]) -> pd.DataFrame:
    """One row per run (a diverged run as NaN: a failed run), for decision.decide."""
    return pd.DataFrame(
        [(setting, value) for setting in settings
         for value in [*values[setting], *[math.nan] * int(diverged.get(setting) or 0)]],
        columns=["setting", "value"])


def _take_race_verdicts(frame: pd.DataFrame, race: tuple) -> None:
    """The race's verdicts in place of decide's; seeds_needed only for open points."""
    replayed, _, labels, _ = race
    verdict = dict(zip(labels, replayed.verdicts))
    frame["verdict"] = [verdict.get(setting, "undecided") for setting in frame["setting"]]
    frame.loc[frame["verdict"] != "undecided", "seeds_needed"] = math.nan


def annotate_rows(rows: list[dict], grid: dict) -> None:
    """Adds the interval, median, IQR, failures, verdict and its figures to summary rows
    (so summary.csv has them)."""
    nan = math.nan
    for row in rows:
        found = grid["by_setting"][row["setting"]]
        verdict = found.get("decision", {})
        row.update({"final_test_accuracy_ci_low": found["ci_low"],
                    "final_test_accuracy_ci_high": found["ci_high"],
                    "final_test_accuracy_median": found["median"],
                    "final_test_accuracy_q1": found["q1"], "final_test_accuracy_q3": found["q3"],
                    "final_test_accuracy_min": found["min"], "at_chance": found["at_chance"],
                    "learned_mean": found["learned_mean"], "failed": found["failed"],
                    "failed_rate_ci_low": found["failed_low"],
                    "failed_rate_ci_high": found["failed_high"], "verdict": found["verdict"],
                    "margin_points": 100 * grid["margin"],
                    "failure_limit": grid["failure_limit"],
                    "failure_upper": verdict.get("failure_upper", nan),
                    "vs_best_low_points": verdict.get("interval_low", nan),
                    "vs_best_high_points": verdict.get("interval_high", nan),
                    "seeds_needed": verdict.get("seeds_needed", nan)})


def interval_text(low: float, high: float, scale: float = 100, digits: int = 2) -> str:
    """'[96.41, 97.35]' in percent ('–' when undefined)."""
    return ("–" if not math.isfinite(low)
            else f"[{scale * low:.{digits}f}, {scale * high:.{digits}f}]")


def margin_text(margin: float) -> str:
    """'±0.5 points'."""
    return f"±{100 * margin:g} points"


def verdict_legend(margin: float) -> str:
    """One sentence naming the verdicts, for every table that shows them."""
    return (f"Verdicts (margin {margin_text(margin)}): **best**; **worse** (some point is "
            "shown better, in learned accuracy or failure rate); **equivalent** (learned "
            "accuracy shown within the margin of the best of the others and the failure rate "
            "shown below the limit); **undecided** (neither yet); see [Which differences are "
            "real](#which-differences-are-real).")


def procedure_text(grid: dict) -> str:
    """The two quantities a verdict is about and the procedure, for every report."""
    return ("A verdict is about two quantities: the accuracy of the runs that learn, and the "
            "failure rate (runs at chance, within "
            f"{100 * decision.CHANCE_MARGIN:g} points of 1/K, or diverged). "
            f"Procedure ({'a race: the race section says how alpha is spent over its looks; ' if grid['race'] else ''}"
            f"alpha {decision.ALPHA:g}, margin {margin_text(grid['margin'])}, failure limit "
            f"{grid['failure_limit']:.0%}): {decision.PROCEDURE}")


def verdict_sentence(grid: dict) -> str:
    """'Best: ... Of the other M points: W worse, E equivalent, U undecided ...'."""
    frame = grid["verdicts"]
    best = frame[frame["verdict"] == "best"].iloc[0] if (frame["verdict"] == "best").any() \
        else None
    counts = frame["verdict"].value_counts()
    others = len(frame) - (best is not None)
    head = ("" if best is None else
            f"**Best: {best['setting']}**: learned runs {100 * best['learned_mean']:.2f}%, "
            f"{int(best['failures'])} of {int(best['seeds'])} runs failed. ")
    seeds = frame.attrs.get("seeds_to_decide_most", math.nan)
    return (head + f"**Of the other {others} grid points: {counts.get('worse', 0)} worse, "
            f"{counts.get('equivalent', 0)} equivalent, {counts.get('undecided', 0)} "
            "undecided.** " + procedure_text(grid)
            + " Interval: the learned accuracy minus the best of the others' (points; for the "
            "best, minus the runner-up's), whose ends the verdicts test. Seeds needed: the "
            "seeds at which this procedure decides the point in 80% of simulated studies, "
            "the point's observed learned mean, spread and failure rate taken as the truth"
            + ("" if not math.isfinite(seeds) else
               f"; {int(seeds)} seeds per point would decide 80% of the undecided points")
            + ".")


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "–" if math.isnan(value) else f"> {decision.SEEDS_CAP}"
    return f"{int(value)}"


def verdict_table(frame: pd.DataFrame) -> tuple[list[str], list[list]]:
    """The verdict table's header and cells, best first, then by learned mean."""
    order = frame.assign(first=frame["verdict"] != "best").sort_values(
        ["first", "learned_mean"], ascending=[True, False], kind="stable")
    header = ["setting", "verdict", "seeds", "learned mean %", "vs best of others, points",
              "failed (95% upper bound)", "seeds needed"]
    body = [[r["setting"], r["verdict"], int(r["seeds"]),
             "–" if math.isnan(r["learned_mean"]) else f"{100 * r['learned_mean']:.2f}",
             interval_text(r["interval_low"], r["interval_high"], 1),
             f"{int(r['failures'])}/{int(r['seeds'])} (≤ {100 * r['failure_upper']:.0f}%)",
             "" if r["verdict"] != "undecided" else _number(r["seeds_needed"])]
            for r in order.to_dict("records")]
    return header, body


def verdict_lines(experiment_dir: Path, name: str, grid: dict) -> list[str]:
    """The verdict sentence, table and figure; verdicts.{csv,md,tex} beside the report."""
    frame = grid["verdicts"]
    header, body = verdict_table(frame)
    atomic_write_text(experiment_dir / "verdicts.csv", csv_text(
        [{**record, "margin_points": 100 * grid["margin"],
          "failure_limit": grid["failure_limit"]} for record in frame.to_dict("records")]))
    atomic_write_text(experiment_dir / "verdicts.md", markdown_table(header, body))
    atomic_write_text(experiment_dir / "verdicts.tex", latex_table(
        header, body, f"{name}: each grid point's verdict, margin {margin_text(grid['margin'])}"))
    plots.plot_verdicts(frame["setting"].tolist(), frame["interval_low"].to_numpy(float),
                        frame["interval_high"].to_numpy(float), frame["verdict"].tolist(),
                        frame["seeds"].astype(int).tolist(), 100 * grid["margin"],
                        experiment_dir / "figures" / "verdicts.png",
                        f"{name}: each point against the best of the others")
    return [verdict_sentence(grid), "", "![verdicts](figures/verdicts.png)", "",
            markdown_table(header, body),
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
    if grid["verdicts"] is None:
        return []
    lines = ["## Which differences are real", ""]
    if not (grid["verdicts"]["seeds"] >= 2).any():
        return lines + ["No grid point can be tested against the best: a verdict needs 2+ "
                        "runs of a point.", ""]
    lines += verdict_lines(experiment_dir, name, grid)
    lines += split_lines(grid, classes)
    return lines + factorial_lines(experiment_dir, name, runs, fields, classes)


def pair_interval_text(rates) -> str:
    """A confusion pair's mean rate over seeds with its 95% interval, in percent."""
    low, high = statistics.rate_interval(rates)
    mean = float(np.mean(rates))
    return f"{100 * mean:.2f}" + ("" if not math.isfinite(low)
                                  else f" [{100 * low:.2f}, {100 * high:.2f}]")
