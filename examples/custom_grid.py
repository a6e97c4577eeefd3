# %% [markdown]
# # Your own grid, in Python
#
# An experiment of your own: an `ExperimentConfig` names the folder it writes to, the
# dataset and the settings every run shares; `run_study(..., grid={...})` trains every
# combination of the grid's values, each over `seeds` seeds. Here LeNet-5 on
# scikit-learn's digits (no download): 2 initializers x 2 learning rates x 2 seeds, 2
# epochs on 600 training images. Open it in Jupyter (jupytext) or VS Code, or run it
# whole from the checkout's root: `python -m examples.custom_grid`. Results go to
# `results/my_grid/` under the current folder; a second run trains nothing.

# %%
from pathlib import Path

import lenet_bench
from lenet_bench import ExperimentConfig

WORKDIR = Path("results")

config = ExperimentConfig(name="my_grid", dataset="digits", epochs=2, train_size=600,
                          lr_decay=0.9, seeds=2)

# %% [markdown]
# `grid` maps a field to its values; the runs are the product of all value lists. Any
# field that changes a run can be one (`initializer`, `learning_rate`, `lr_decay`,
# `label_noise`, `optimizer`, `batch_size`, `architecture`, ...); a grid field's values
# replace the config's single value. `grid=` works on a named experiment too, e.g.
# `run_study("mnist_best", WORKDIR, grid={"learning_rate": [0.01, 0.003]})`, and the
# config could carry the grid itself (`ExperimentConfig(..., grid={...})`): saved in a
# file with a `get_config()` that returns it, it runs from the command line as
# `python -m lenet_bench --experiment=path/to/my_grid.py`.

# %%
study = lenet_bench.run_study(
    config, WORKDIR,
    grid={"initializer": ["glorot_uniform", "he_normal"], "learning_rate": [0.01, 0.003]},
    tensorboard=False, keras_models=False, progress="none")
print(f"{len(study.runs)} runs; report: {study.report_path}")

# %% [markdown]
# One row per run, every grid field a column: a pivot table is one call.

# %%
pivot = study.runs.pivot_table(index="initializer", columns="learning_rate",
                               values="test_accuracy", aggfunc="mean")
pivot

# %% [markdown]
# The report beside it has the same table with its spread (`pivot.md`, `.csv`, `.tex`),
# the grid points ranked with their verdicts (`summary.csv`; see `examples/verdicts.py`)
# and the figures (`figures/*.png`).

# %%
report_files = sorted(path.name for path in study.report_path.parent.glob("*.csv"))
report_files
