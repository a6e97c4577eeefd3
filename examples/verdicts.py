# %% [markdown]
# # Which settings really differ: the verdicts
#
# A report says one of four things of every grid point: **best**, **worse** (some point
# is shown better, in the accuracy of the runs that learn or in the failure rate),
# **equivalent** (its learned accuracy shown within the margin of the best of the others,
# and its failure rate shown below the limit) or **undecided** (then `seeds_needed` says
# how many seeds would decide it). `study.verdicts` holds them, one row per grid point,
# and `lenet_bench.decide` applies the same procedure to any table of runs, yours
# included. The study is quickstart's (digits, two learning rates, 2 epochs on 600
# training images) with 3 seeds: if `examples/quickstart.py` ran in this folder, only the
# third seed trains. Run it whole from the checkout's root: `python -m examples.verdicts`.

# %%
from pathlib import Path

from matplotlib.figure import Figure

import lenet_bench

WORKDIR = Path("results")

study = lenet_bench.run_study(
    "digits_smoke", WORKDIR, seeds=3, epochs=2, train_size=600,
    grid={"learning_rate": [0.01, 0.003]},
    tensorboard=False, keras_models=False, progress="none")

# %% [markdown]
# One row per grid point: its verdict, the runs it has, the learned runs' mean, its
# interval against the best of the others (accuracy points), its failures with their
# 95% upper bound, and the seeds that would decide it if it is undecided.

# %%
study.verdicts[["setting", "verdict", "seeds", "learned_mean", "interval_low",
                "interval_high", "failures", "failure_upper", "seeds_needed"]]

# %% [markdown]
# The same procedure on the runs table itself: one row per run, the grid field as the
# point, the final test accuracy as the value (a fraction; NaN would count as a failed
# run). The margin is in accuracy points; digits_smoke's is 1.

# %%
final = study.runs[study.runs.status == "done"]
mine = lenet_bench.decide(final, point="learning_rate", value="test_accuracy", margin=1.0,
                          seeds_needed=False)
mine[["learning_rate", "verdict", "seeds", "learned_mean", "interval_low", "interval_high"]]

# %% [markdown]
# Each point's runs as dots, coloured by its verdict.

# %%
COLORS = {"best": "tab:blue", "worse": "tab:red", "equivalent": "tab:green",
          "undecided": "tab:grey"}
figure = Figure(figsize=(5, 3.5), layout="constrained")
axes = figure.add_subplot()
for position, point in enumerate(mine.itertuples()):
    accuracy = 100 * final.loc[final.learning_rate == point.learning_rate, "test_accuracy"]
    axes.scatter([position] * len(accuracy), accuracy, s=16,
                 color=COLORS.get(point.verdict, "black"), label=point.verdict)
axes.set_xticks(range(len(mine)), [f"lr {lr:g}" for lr in mine.learning_rate])
axes.set_xlim(-0.5, len(mine) - 0.5)
axes.set(ylabel="final test accuracy %", title="digits_smoke: runs by verdict")
axes.legend()
figure.savefig(WORKDIR / "verdicts.png", dpi=100)
figure  # A notebook shows the figure here.
