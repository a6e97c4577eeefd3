"""Text forms of tables and numbers: Markdown, CSV, LaTeX, percentages, matrices.

Pure formatting: nothing here reads run files or knows what a run is.
"""

import csv
import io
import math

import numpy as np


def mean_std_text(mean: float, std: float, decimals: int) -> str:
    """'mean ± std' ('–' for a NaN mean; no std part for a NaN std)."""
    if math.isnan(mean):
        return "–"
    return f"{mean:.{decimals}f}" + ("" if math.isnan(std) else f" ± {std:.{decimals}f}")


def duration_words(seconds: float | None) -> str:
    """A time a reader takes in at a glance: '4.2 s', '42 s', '3 min 05 s', '5 h 04 min'
    ('–' for None or NaN)."""
    if seconds is None or math.isnan(seconds):
        return "–"
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def epoch_text(mean: float, std: float) -> str:
    """An epoch number averaged over seeds, in the runs' own format where it is one: '5'
    (every seed alike), '4.5 ± 0.7' (not a whole number), '5 ± 1.4'; '–' for NaN."""
    if math.isnan(mean):
        return "–"
    text = f"{mean:.0f}" if abs(mean - round(mean)) < 1e-9 else f"{mean:.1f}"
    return text + ("" if math.isnan(std) or std == 0 else f" ± {std:.1f}")


def percent(value: float | None, std: float | None = None) -> str:
    """A fraction (and its std) as percent with 2 decimals."""
    if value is None:
        return "–"
    return mean_std_text(100 * value, math.nan if std is None else 100 * std, 2)


def percent_nan(mean: float, std: float = math.nan) -> str:
    """percent() of a mean and std that may be NaN ('–' / no std part)."""
    return percent(None if math.isnan(mean) else mean, None if math.isnan(std) else std)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# One pass over the characters, so an escape is never escaped again.
LATEX_ESCAPES = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#",
                 "_": "\\_", "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}",
                 "^": "\\textasciicircum{}", "±": "$\\pm$", "→": "$\\to$",
                 "↔": "$\\leftrightarrow$", "⚠": "$^\\dagger$", "–": "--",
                 "≈": "$\\approx$", "×": "$\\times$", "η": "$\\eta$", "²": "$^2$"}
WIDE_TABLE_COLUMNS = 8


def latex_table(header: list[str], rows: list[list], caption: str) -> str:
    """A booktabs table (needs \\usepackage{booktabs}; graphicx too when it has
    more than WIDE_TABLE_COLUMNS columns, which are scaled to the line width)."""

    def escape(cell) -> str:
        return "".join(LATEX_ESCAPES.get(char, char) for char in str(cell))

    wide = len(header) > WIDE_TABLE_COLUMNS
    lines = ["\\begin{table}[ht]", "\\centering", f"\\caption{{{escape(caption)}}}",
             *(["\\resizebox{\\linewidth}{!}{%"] if wide else []),
             "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}", "\\toprule",
             " & ".join(escape(cell) for cell in header) + " \\\\", "\\midrule"]
    lines += [" & ".join(escape(cell) for cell in row) + " \\\\" for row in rows]
    lines += ["\\bottomrule", "\\end{tabular}" + ("}" if wide else ""), "\\end{table}", ""]
    return "\n".join(lines)


def csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["setting"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def matrix_text(matrix: np.ndarray, class_names: list[str], title: str) -> str:
    """A class-by-class matrix as fixed-width text under a '# title' line (names cut to 9)."""
    short = [name[:9] for name in class_names]
    lines = [f"# {title}", " " * 10 + "".join(f"{name:>10s}" for name in short)]
    lines += [f"{short[i]:>10s}" + "".join(f"{value:10.2f}" for value in row)
              for i, row in enumerate(matrix)]
    return "\n".join(lines) + "\n"
