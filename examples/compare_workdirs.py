# %% [markdown]
# # One study in two workdirs, side by side
#
# The same study run two ways, each into its own workdir, then lined up grid point by
# grid point by `lenet_bench.reports.compare`: accuracy in each with the difference and
# its 95% interval, and the seconds per run. Here the two ways are the default, where
# the runs of one seed train together as replicas in one graph, and `group_size=1`,
# where each run trains alone. The same works for two backends (run the study with
# `backend="jax"` in another kernel, since Keras picks its backend once per process),
# two machines or two library versions. Run it whole from the checkout's root:
# `python -m examples.compare_workdirs`. The first workdir is quickstart's `results/`
# (if `examples/quickstart.py` ran in this folder, it trains nothing), the second
# `results/alone/`, a workdir of its own inside it.

# %%
import lenet_bench
from lenet_bench.reports import compare

STUDY = dict(seeds=2, epochs=2, train_size=600, grid={"learning_rate": [0.01, 0.003]},
             tensorboard=False, keras_models=False, progress="none")

together = lenet_bench.run_study("digits_smoke", "results", **STUDY)
alone = lenet_bench.run_study("digits_smoke", "results/alone", group_size=1, **STUDY)

# %% [markdown]
# `compare.compare(a, b)` returns Markdown: what each side ran on, the points found in
# only one side, then a row per point in both. From a shell:
# `python -m lenet_bench.reports.compare results results/alone --out=compare.md`.

# %%
text = compare.compare("results", "results/alone")
print(text)

# %% [markdown]
# The run tables line up just as well in pandas: one row per run key, A and B side by
# side.

# %%
columns = ["run_key", "learning_rate", "seed", "test_accuracy", "wall_seconds"]
both = together.runs[columns].merge(alone.runs[columns], on=["run_key", "learning_rate", "seed"],
                                    suffixes=("_together", "_alone"))
both
