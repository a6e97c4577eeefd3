"""The notebook API on the quick study's workdir: rows, a summary, and a check
against the report's summary.csv.

    .venv/bin/python benchmarks/tensorboard/results_api_demo.py results/quick_tb > benchmarks/tensorboard/results_api_demo.txt
"""

import csv
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lenet_bench.records import results  # noqa: E402

workdir = Path(sys.argv[1])
started = time.perf_counter()
df = results.load(workdir)
print(f"results.load({workdir}): {len(df)} rows x {len(df.columns)} columns in "
      f"{time.perf_counter() - started:.2f} s; "
      f"{len(df.drop_duplicates(['experiment', 'run_key']))} runs ({df.run_key.nunique()} distinct "
      "run keys: a *_best setting is also the eps = 0 point of its noise study)")
print("columns:", ", ".join(df.columns))
print(df.groupby("experiment").agg(runs=("run_key", "nunique"), rows=("epoch", "size")).to_string())
grid = df[df.experiment == "mnist_init_lr_grid"]
pd.set_option("display.width", 200)
print("\nresults.summary(grid, by=['learning_rate']) (pooled over initializers, decays, seeds):")
print(results.summary(grid, by=["learning_rate"])[
    ["learning_rate", "runs", "done", "final_test_accuracy_mean", "final_test_accuracy_std",
     "best_test_accuracy_max"]].to_string(index=False))
table = results.summary(grid)
with open(workdir / "mnist_init_lr_grid" / "summary.csv", encoding="utf-8") as file:
    report_rows = list(csv.DictReader(file))
same = [row["setting"] for row in report_rows] == list(table["setting"]) and all(
    float(row["final_test_accuracy_mean"]) == mean
    for row, mean in zip(report_rows, table["final_test_accuracy_mean"]))
print(f"\nresults.summary(grid): {len(table)} grid points; same settings, order and final means as "
      f"the report's summary.csv: {same}")
print(table[["setting", "done", "final_test_accuracy_mean", "final_test_accuracy_std"]].head(5)
      .to_string(index=False))
