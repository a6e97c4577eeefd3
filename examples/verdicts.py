# %% [markdown]
# # Which settings really differ: the verdicts
#
# A report judges every grid point against the best (the highest mean): **worse**,
# **equivalent** within a margin (0.5 accuracy points unless `margin=` says otherwise),
# or **undecided** (then `seeds_to_decide` says how many seeds per point would decide
# it). The verdicts are columns of the report's `summary.csv`, one row per grid point,
# and `study.runs` has every run; together they make the figure below. The study is
# quickstart's (digits, two learning rates, 2 epochs on 600 training images) with 3
# seeds: if `examples/quickstart.py` ran in this folder, only the third seed trains. Run
# it whole from the checkout's root: `python -m examples.verdicts`.

# %%
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

import lenet_bench

WORKDIR = Path("results")

study = lenet_bench.run_study(
    "digits_smoke", WORKDIR, seeds=3, epochs=2, train_size=600,
    grid={"learning_rate": [0.01, 0.003]},
    tensorboard=False, keras_models=False, progress="none")

# %% [markdown]
# One row per grid point, best first: its runs, the mean final test accuracy with its
# 95% interval, the verdict, whether it is in the best set (the points not shown below
# any other), and the seeds that would decide an undecided one.

# %%
summary = pd.read_csv(study.report_path.parent / "summary.csv")
verdicts = summary[["setting", "learning_rate", "done", "final_test_accuracy_mean",
                    "final_test_accuracy_ci_low", "final_test_accuracy_ci_high", "verdict",
                    "in_best_set", "seeds_to_decide"]]
verdicts

# %% [markdown]
# Every run beside its grid point's verdict: join the runs to the summary on the grid
# fields.

# %%
runs = study.runs.merge(summary[["learning_rate", "setting", "verdict"]], on="learning_rate")
runs[["setting", "seed", "test_accuracy", "verdict"]]

# %% [markdown]
# Each point's runs as dots, its mean with the 95% interval as a bar, its verdict as the
# label.

# %%
COLORS = {"best": "tab:red", "worse": "tab:grey", "equivalent": "tab:green",
          "undecided": "tab:blue"}
figure = Figure(figsize=(5, 3.5), layout="constrained")
axes = figure.add_subplot()
for position, point in enumerate(summary.itertuples()):
    accuracy = 100 * runs.loc[runs.setting == point.setting, "test_accuracy"]
    axes.scatter([position] * len(accuracy), accuracy, color="black", s=12, zorder=3)
    mean = 100 * point.final_test_accuracy_mean
    low, high = 100 * point.final_test_accuracy_ci_low, 100 * point.final_test_accuracy_ci_high
    axes.errorbar(position + 0.15, mean, yerr=[[mean - low], [high - mean]], fmt="o",
                  capsize=4, color=COLORS.get(point.verdict, "black"), label=point.verdict)
axes.set_xticks(range(len(summary)), summary.setting)
axes.set_xlim(-0.5, len(summary) - 0.5)
axes.set(ylabel="final test accuracy %", title="digits_smoke: runs, mean and 95% interval")
axes.legend()
figure.savefig(WORKDIR / "verdicts.png", dpi=100)
figure  # A notebook shows the figure here.
