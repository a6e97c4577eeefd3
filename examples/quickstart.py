# %% [markdown]
# # lenet_bench from a notebook
#
# A small study through the Python API: LeNet-5 on scikit-learn's digits (no
# download), two learning rates x two seeds, two epochs each; then its runs as a
# pandas DataFrame and a figure. Open this file in Jupyter (jupytext) or VS Code,
# which read the `# %%` cells, with the package importable (`pip install -e .`, or
# the kernel started in the repository root), or run it whole from the repository
# root: `python -m examples.quickstart`. Results go to `results/` under
# the current folder; a second run trains nothing (the finished runs are kept).

# %%
from pathlib import Path

from matplotlib.figure import Figure

import lenet_bench

WORKDIR = Path("results")  # The CLI's default workdir too.

# %% [markdown]
# `run_study` takes an experiment name (or an `ExperimentConfig`), a workdir, and
# overrides: config fields (`seeds`, `epochs`, `grid`, `train_size`, ...) and run
# options (`progress`, `tensorboard`, `keras_models`, `trainer`, `threads`, ...).
# Keras starts on the study's backend (`backend="jax"` or `"torch"` to change it,
# in the first study of the session, before anything imports Keras).

# %%
study = lenet_bench.run_study(
    "digits_smoke", WORKDIR, seeds=2, epochs=2, train_size=600,
    grid={"learning_rate": [0.01, 0.003]},
    tensorboard=False, keras_models=False, progress="none")
print(f"{len(study.runs)} runs; report: {study.report_path}")

# %% [markdown]
# One row per run: the config fields as columns, then the run's last-epoch metrics.

# %%
study.runs[["learning_rate", "seed", "status", "test_accuracy", "test_loss", "wall_seconds"]]

# %%
mean_accuracy = study.runs.groupby("learning_rate")["test_accuracy"].agg(["mean", "std", "count"])
mean_accuracy

# %% [markdown]
# `study.epochs` has one row per run and epoch: the learning curves.

# %%
figure = Figure(figsize=(5, 3.5), layout="constrained")
axes = figure.add_subplot()
curves = study.epochs.groupby(["learning_rate", "epoch"])["test_accuracy"].mean()
for learning_rate, curve in curves.groupby(level="learning_rate"):
    axes.plot(curve.index.get_level_values("epoch"), 100 * curve.to_numpy(), marker="o",
              label=f"lr {learning_rate:g}")
axes.set(xlabel="epoch", ylabel="test accuracy % (mean over seeds)", title="digits_smoke")
axes.legend()
figure.savefig(WORKDIR / "quickstart_curves.png", dpi=100)
figure  # A notebook shows the figure here.
