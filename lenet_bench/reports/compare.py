"""Two workdirs side by side: the same experiment's grid points, on two backends,
machines or library versions.

    python -m lenet_bench.reports.compare WORKDIR_A WORKDIR_B [--experiment=NAME,...] [--out=FILE.md]

For each experiment in both workdirs and each grid point in both, a Markdown row
with the final test accuracy (mean ± std over seeds) in A and in B, the difference
B − A with its 95% Welch interval, and the mean wall time per run in A and B and
their ratio; above each table, what each side ran on; below it, one summary line.
A grid point is every run field but the seed and `backend`, so runs of two
backends line up, and runs of two settings never do. Reads run files through
`results` only: no TensorFlow, no Keras.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from lenet_bench.artifacts import CONFIG_FILE
from lenet_bench.config import DEFAULTS, field_names
from lenet_bench.errors import InputError
from lenet_bench.files import atomic_write_text, read_json
from lenet_bench.records import results
from lenet_bench.reports.tables import markdown_table, percent_nan

USAGE = ("usage: python -m lenet_bench.reports.compare WORKDIR_A WORKDIR_B "
         "[--experiment=NAME,...] [--out=FILE.md]")
CONFIDENCE = 0.95
# Not part of a grid point: the backend is what a comparison varies (runs written
# before the field existed trained on TensorFlow); the seed is what a point averages.
NOT_POINT_FIELDS = ("seed", "backend")
SIDES = ("A", "B")


def welch_interval(a: tuple[float, float, int], b: tuple[float, float, int],
                   confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """B − A and its Welch t interval, from each side's (mean, std, n).

    The interval uses the Welch–Satterthwaite degrees of freedom. It is (NaN, NaN)
    when a side has fewer than 2 values or both sides have zero variance (no
    spread to scale it by); the difference is NaN when a side has no value.
    """
    (mean_a, std_a, n_a), (mean_b, std_b, n_b) = a, b
    difference = mean_b - mean_a if n_a and n_b else math.nan
    if n_a < 2 or n_b < 2 or math.isnan(difference):
        return difference, math.nan, math.nan
    var_a, var_b = std_a ** 2 / n_a, std_b ** 2 / n_b
    if var_a + var_b == 0:
        return difference, math.nan, math.nan
    df = (var_a + var_b) ** 2 / (var_a ** 2 / (n_a - 1) + var_b ** 2 / (n_b - 1))
    half = stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(var_a + var_b)
    return difference, difference - half, difference + half


def experiments_of(workdir: str) -> dict[str, Path]:
    """The workdir's experiment folders by experiment name (a single experiment
    folder is accepted too).

    Raises:
      InputError: `workdir` is not a folder holding config.json or */config.json.
    """
    folders = results.experiment_dirs(workdir) if Path(workdir).is_dir() else []
    if not folders:
        raise InputError(f"{workdir}: holds no experiment (no config.json, no */config.json): "
                         "expected a workdir")
    named = {}
    for folder in folders:
        named[(read_json(folder / CONFIG_FILE) or {}).get("experiment") or folder.name] = folder
    return named


def chosen_experiments(a: dict, b: dict, wanted: list[str], paths: list[str]) -> list[str]:
    """The experiments to compare: `wanted` (all of them in both), else every common one.

    Raises:
      InputError: a wanted experiment is missing on a side, or none is in both.
    """
    common = [name for name in a if name in b]
    for name in wanted:
        missing = [path for path, side in zip(paths, (a, b)) if name not in side]
        if missing:
            raise InputError(f"--experiment={name}: not in {' nor '.join(missing)}: expected "
                             f"one of the experiments in both: {', '.join(common) or 'none'}")
    if not wanted and not common:
        raise InputError(f"{paths[0]} ({', '.join(a)}) and {paths[1]} ({', '.join(b)}): no "
                         "experiment in common: expected the same experiment in both workdirs")
    return wanted or common


def point_fields(runs: list[dict]) -> list[str]:
    """The spec fields that make a grid point: the run fields, then any other spec
    field a record has (a field of a newer version keeps its points apart), minus
    NOT_POINT_FIELDS."""
    fields = dict.fromkeys(field_names(run=True))
    fields.update(dict.fromkeys(field for run in runs for field in run["spec"]))
    return [field for field in fields if field not in NOT_POINT_FIELDS]


def with_defaults(runs: list[dict], fields: list[str]) -> list[dict]:
    """The runs with every known point field in their spec (the default where a
    record predates the field), so old and new records of one setting line up."""
    return [{**run, "spec": {**{field: DEFAULTS[field] for field in fields if field in DEFAULTS},
                             **run["spec"]}} for run in runs]


def point_key(row: dict, fields: list[str]) -> str:
    """A grid point's identity: its field values, numbers as floats (1 == 1.0)."""
    def plain(value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return value

    return json.dumps([plain(row.get(field)) for field in fields], default=str)


def point_rows(runs: list[dict], fields: list[str]) -> dict[str, dict]:
    """`results.summary_records` per grid point, by point key (best first)."""
    if not runs:
        return {}
    rows = results.summary_records(results.frame(runs), by=fields, label_fields=tuple(fields))
    return {point_key(row, fields): row for row in rows}


def label_fields_of(configs: list[dict], rows: list[dict], fields: list[str]) -> tuple:
    """The fields a point's label names: the configs' grid fields, then the fields that
    vary between points (never the backend); a default set when none does."""
    grid = [field for config in configs for field in (config.get("config") or {}).get("grid") or {}
            if field in fields]
    varying = [field for field in fields
               if len({json.dumps(row.get(field), default=str) for row in rows}) > 1]
    return tuple(dict.fromkeys(grid + varying)) or results.DEFAULT_LABEL_FIELDS


def side_facts(config: dict, runs: list[dict]) -> dict[str, str]:
    """What one side ran on, as text: machine, device, backend, trainer, versions, runs."""
    machine = config.get("machine") or {}
    gpus = ", ".join(machine.get("gpus") or []) or "no GPU"
    versions = config.get("versions") or next((run["versions"] for run in runs
                                               if run.get("versions")), {})
    done = sum(run["status"] == "done" for run in runs)
    diverged = sum(run["status"] == "diverged" for run in runs)
    return {
        "machine": f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, {gpus}",
        "device": ", ".join(sorted({str(run.get("device", "?")) for run in runs})) or "?",
        "backend": results.backends_text(runs),
        "trainer": ", ".join(sorted({str(run.get("trainer") or "not recorded")
                                     for run in runs})) or "?",
        "versions": ", ".join(f"{name} {version}" for name, version in versions.items()) or "?",
        "runs": f"{len(runs)} of {len(config.get('run_keys') or runs)} planned "
                f"({done} done, {diverged} diverged)",
    }


def seconds_per_run(row: dict) -> float:
    return row["total_seconds"] / row["runs"] if row["runs"] else math.nan


def accuracy_stats(row: dict) -> tuple[float, float, int]:
    """(mean, std, n) of a point's final test accuracy over its finished runs."""
    return row["final_test_accuracy_mean"], row["final_test_accuracy_std"], row["done"]


def points_text(point_labels: list[str]) -> str:
    return "; ".join(point_labels) if point_labels else "none"


def point_line(label: str, row_a: dict, row_b: dict) -> tuple[list, tuple]:
    """One table row and its (difference, low, high, seconds A, seconds B) for the summary."""
    difference, low, high = welch_interval(accuracy_stats(row_a), accuracy_stats(row_b))
    seconds = seconds_per_run(row_a), seconds_per_run(row_b)
    interval = "n/a" if math.isnan(low) else f"[{100 * low:+.2f}, {100 * high:+.2f}]"
    line = [label,
            percent_nan(row_a["final_test_accuracy_mean"], row_a["final_test_accuracy_std"]),
            row_a["done"],
            percent_nan(row_b["final_test_accuracy_mean"], row_b["final_test_accuracy_std"]),
            row_b["done"],
            "n/a" if math.isnan(difference) else f"{100 * difference:+.2f}", interval,
            f"{seconds[0]:.1f}", f"{seconds[1]:.1f}",
            f"{seconds[1] / seconds[0]:.2f}" if seconds[0] > 0 else "n/a"]
    return line, (difference, low, high, *seconds)


TABLE_HEADER = ["grid point", "A test acc %", "n A", "B test acc %", "n B", "B − A (pp)",
                f"{CONFIDENCE:.0%} interval (pp)", "A s/run", "B s/run", "B/A time"]


def summary_line(figures: list[tuple]) -> str:
    """How many points' intervals include 0, the mean difference, the time ratio."""
    intervals = [(low, high) for _, low, high, _, _ in figures if not math.isnan(low)]
    including = sum(low <= 0 <= high for low, high in intervals)
    differences = [difference for difference, *_ in figures if not math.isnan(difference)]
    seconds_a = float(np.nanmean([figure[3] for figure in figures])) if figures else math.nan
    seconds_b = float(np.nanmean([figure[4] for figure in figures])) if figures else math.nan
    mean_difference = (f"{100 * float(np.mean(differences)):+.2f} pp over {len(differences)} "
                       f"point{'s' * (len(differences) != 1)}" if differences else "n/a")
    ratio = f"{seconds_b / seconds_a:.2f}" if seconds_a > 0 else "n/a"
    return (f"**Summary:** {including} of {len(intervals)} points' {CONFIDENCE:.0%} intervals "
            f"include 0 ({len(figures) - len(intervals)} n/a); mean difference B − A: "
            f"{mean_difference}; time per run B/A: {ratio} "
            f"(A {seconds_a:.1f} s, B {seconds_b:.1f} s, mean over the points in both).")


def compare_experiment(name: str, folders: tuple[Path, Path]) -> str:
    """One experiment's section: each side's facts, the points in one side only, the
    table of points in both, the summary line."""
    (config_a, runs_a), (config_b, runs_b) = (results.load_runs(folder) for folder in folders)
    fields = point_fields(runs_a + runs_b)
    rows_a = point_rows(with_defaults(runs_a, fields), fields)
    rows_b = point_rows(with_defaults(runs_b, fields), fields)
    labels = label_fields_of([config_a, config_b], [*rows_a.values(), *rows_b.values()], fields)
    facts = side_facts(config_a, runs_a), side_facts(config_b, runs_b)
    facts_table = [["workdir", *(f"`{folder}`" for folder in folders)]]
    facts_table += [[fact, facts[0][fact], facts[1][fact]] for fact in facts[0]]
    lines, figures = [], []
    for key, row in rows_a.items():
        if key in rows_b:
            line, figure = point_line(results.setting_label(row, labels), row, rows_b[key])
            lines.append(line)
            figures.append(figure)
    only = [[results.setting_label(rows[key], labels) for key in rows if key not in other]
            for rows, other in ((rows_a, rows_b), (rows_b, rows_a))]
    return "\n".join([
        f"## {name}", "", markdown_table(["", *SIDES], facts_table),
        f"- points only in A ({len(only[0])}): {points_text(only[0])}",
        f"- points only in B ({len(only[1])}): {points_text(only[1])}", "",
        f"Final test accuracy %, mean ± std over n finished seeds; B − A in percentage points "
        f"with its {CONFIDENCE:.0%} Welch interval; wall seconds per run.", "",
        markdown_table(TABLE_HEADER, lines), summary_line(figures), ""])


def compare(path_a: str, path_b: str, wanted: list[str] = ()) -> str:
    """The Markdown comparison of two workdirs (`wanted`: experiment names, default
    every experiment in both).

    Raises:
      InputError: a path holds no experiment; a wanted experiment is not in both;
        no experiment is in both.
    """
    a, b = experiments_of(path_a), experiments_of(path_b)
    names = chosen_experiments(a, b, list(wanted), [path_a, path_b])
    sections = [compare_experiment(name, (a[name], b[name])) for name in names]
    return "\n".join([f"# Side by side: A = `{path_a}`, B = `{path_b}`", "", *sections])


def parse_args(argv: list[str]) -> tuple[list[str], list[str], str | None]:
    """(the two workdirs, --experiment names, --out) from the command line.

    Raises:
      InputError: an unknown flag, or not exactly two workdirs.
    """
    from absl import flags

    flag_values = flags.FlagValues()
    flags.DEFINE_list("experiment", [], "Experiments to compare (default: every one in both).",
                      flag_values=flag_values)
    flags.DEFINE_string("out", None, "Also write the Markdown to this file.",
                        flag_values=flag_values)
    try:
        paths = flag_values(argv)[1:]
    except flags.Error as error:
        raise InputError(f"{str(error).splitlines()[0]}: {USAGE}") from None
    if len(paths) != 2:
        raise InputError(f"{len(paths)} workdirs given ({' '.join(paths) or 'none'}): "
                         f"expected two; {USAGE}")
    return paths, flag_values.experiment, flag_values.out


def main(argv: list[str]) -> int:
    if any(argument in ("--help", "-h", "--helpshort", "--helpfull") for argument in argv[1:]):
        print(USAGE)
        return 0
    try:
        paths, wanted, out = parse_args(argv)
        if out and not Path(out).parent.is_dir():
            raise InputError(f"--out={out}: no such folder {Path(out).parent}: expected a file "
                             "path in an existing folder")
        text = compare(paths[0], paths[1], wanted)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if out:
        atomic_write_text(Path(out), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
