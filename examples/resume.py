# %% [markdown]
# # An interrupted study, resumed
#
# A study can stop at any moment (Ctrl-C, a killed process, a lost machine): every run
# writes its record after each epoch and each group of runs its checkpoint, so the same
# call again keeps the finished runs, resumes a cut group from its last finished epoch,
# and gives the results of an uninterrupted study. Here a Keras callback stands in for
# Ctrl-C: it raises `KeyboardInterrupt` at the end of the last epoch of the seed-1 runs,
# when the seed-0 runs are finished. Then the same call again, with a callback that
# records what trains. Run it whole from the checkout's root: `python -m examples.resume`;
# its workdir is `results/resume/`.

# %%
import json
import shutil
from pathlib import Path

import keras

import lenet_bench

WORKDIR = Path("results") / "resume"
shutil.rmtree(WORKDIR, ignore_errors=True)  # This example's own folder: start afresh.
# Importing Keras above started it on its default backend: the study trains on that one.
STUDY = dict(seeds=2, epochs=2, train_size=600, grid={"learning_rate": [0.01, 0.003]},
             backend=keras.backend.backend(), tensorboard=False, keras_models=False,
             progress="none")


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt, as Ctrl-C would, at the end of a seed-1 run's last epoch."""

    def on_epoch_end(self, epoch, logs=None):
        if self.params["seed"] == 1 and epoch + 1 == self.params["epochs"]:
            raise KeyboardInterrupt


try:
    lenet_bench.run_study("digits_smoke", WORKDIR, callbacks=[Interrupt()], **STUDY)
except KeyboardInterrupt:
    print("interrupted")

# %% [markdown]
# What the interrupted study left: the seed-0 runs done, the seed-1 runs at their first
# epoch, and that group's checkpoint.

# %%
runs_dir = WORKDIR / "digits_smoke" / "runs"
left = {path.stem: (json.loads(path.read_text())["status"],
                    json.loads(path.read_text())["epochs_done"])
        for path in sorted(runs_dir.glob("*.json"))}
checkpoints = sorted(path.name for path in runs_dir.glob("group-*.ckpt.npz"))
left, checkpoints


# %% [markdown]
# The same call again. Keras callbacks are called only for runs that train, so this one
# lists what the rerun trained: the seed-1 runs, and only their last epoch.

# %%
class Trained(keras.callbacks.Callback):
    """Lists (run key, epoch) for every epoch trained."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((self.params["run_key"], epoch + 1))


trained = Trained()
study = lenet_bench.run_study("digits_smoke", WORKDIR, callbacks=[trained], **STUDY)
trained.epochs

# %%
study.runs[["run_key", "seed", "status", "epochs_done", "test_accuracy"]]
