"""--engine=ray: the same workdir as the local engine, worker faults, resume across engines.

The Ray tests' cluster (conftest.ray_cluster: two 1-CPU worker nodes on this machine)
serves the whole module, which runs in a network namespace holding only loopback
(see conftest.py); skipped where none can be made, or when Ray is not installed
(`pip install -r requirements-ray.txt`).
"""

import functools
import os
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest
from conftest import REPO_ROOT, run_options

from lenet_bench import machine, runs
from lenet_bench.config import ExperimentConfig
from lenet_bench.errors import InputError
from lenet_bench.files import read_json
from lenet_bench.study import engines, experiment
from lenet_bench.trainers import CPU_GROUP_SIZE, group_loop

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.loopback_netns

# 2 seeds x 2 learning rates: on the fused path 2 groups (one per seed), 2 epochs each.
CONFIG = ExperimentConfig(name="tiny", dataset="digits", epochs=2, batch_size=50, seeds=2,
                          train_size=200, learning_rate=0.003,
                          grid={"learning_rate": (0.003, 0.001)})
TIMING_FIELDS = ("started", "finished", "wall_seconds")
# TensorFlow threads in the Ray tasks: as many as this process's (one per core), since a
# different count changes the last bits of the losses (reductions split differently).
THREADS = machine.default_threads()


@pytest.fixture(scope="module")
def local_reference(trained_experiment, digits):
    """The experiment run by the local engine (in this process), uninterrupted."""
    return trained_experiment(CONFIG, digits, tensorboard=True, keras_models=True)


def run_files(experiment_dir):
    """The run files but the .keras models (only some tests ask for them)."""
    return sorted(path.name for path in (experiment_dir / "runs").iterdir()
                  if path.suffix != ".keras")


def tensorboard_scalars(run_dir):
    """(step, tag, value) of every scalar in a run's TensorBoard folder, sorted."""
    import tensorflow as tf

    return sorted((event.step, value.tag, float(tf.make_ndarray(value.tensor)))
                  for path in run_dir.glob("events.out.tfevents.*")
                  for event in tf.compat.v1.train.summary_iterator(str(path))
                  for value in event.summary.value if value.tensor.float_val)


def comparable(record):
    """A run record without its wall-clock fields (and cost figures but its counts)."""
    record = {name: value for name, value in record.items() if name not in TIMING_FIELDS}
    record["cost"] = {name: value for name, value in record["cost"].items()
                      if name in ("inference_large_batch", "params", "trainable_params")}
    record["history"] = {name: values for name, values in record["history"].items()
                         if name != "epoch_seconds"}
    return record


def h5_arrays(path):
    arrays = {}
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                        if isinstance(item, h5py.Dataset) else None)
    return arrays


def assert_same_results(experiment_dir, reference_dir):
    """The same files, run records (less timings), predictions and best weights."""
    assert run_files(experiment_dir) == run_files(reference_dir)
    keys = [spec.key for spec in runs.run_specs(CONFIG)]
    for key in keys:
        ours = read_json(experiment_dir / "runs" / f"{key}.json")
        theirs = read_json(reference_dir / "runs" / f"{key}.json")
        assert ours["status"] == "done" and ours["epochs_done"] == CONFIG.epochs
        assert comparable(ours) == comparable(theirs), key
        for name in ("predicted", "confidence"):
            with np.load(experiment_dir / "runs" / f"{key}.predictions.npz") as mine, \
                    np.load(reference_dir / "runs" / f"{key}.predictions.npz") as other:
                np.testing.assert_array_equal(mine[name], other[name])
        ours_h5 = h5_arrays(experiment_dir / "runs" / f"{key}.weights.h5")
        theirs_h5 = h5_arrays(reference_dir / "runs" / f"{key}.weights.h5")
        assert ours_h5.keys() == theirs_h5.keys() and len(ours_h5) >= 10
        for name in ours_h5:
            np.testing.assert_array_equal(ours_h5[name], theirs_h5[name])


def count_attempt(attempts_dir, group):
    """Appends one line per attempt at `group` to a file named after its first run."""
    with open(attempts_dir / f"{group[0].key}.attempts", "a", encoding="utf-8") as file:
        file.write(f"{os.getpid()}\n")
    return len((attempts_dir / f"{group[0].key}.attempts").read_text().splitlines())


def kill_first_attempt_mid_group(group, dataset, runs_dir, *, attempts_dir, **kwargs):
    """A group trainer whose first attempt at the seed-0 group SIGKILLs its own worker
    once the group's first epoch is written (so in the middle of the task)."""
    attempt = count_attempt(attempts_dir, group)
    if attempt == 1 and group[0].seed == 0:
        def kill_after_first_epoch():
            while not list(runs_dir.glob("*.json")):
                time.sleep(0.005)
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=kill_after_first_epoch, daemon=True).start()
    return group_loop.train_group(group, dataset, runs_dir, **kwargs)


def count_and_train(group, dataset, runs_dir, *, attempts_dir, **kwargs):
    """A group trainer that notes each attempt and whether a checkpoint came with it."""
    count_attempt(attempts_dir, group)
    if runs.checkpoint_path(runs_dir, group).is_file():
        (attempts_dir / f"{group[0].key}.from_checkpoint").touch()
    return group_loop.train_group(group, dataset, runs_dir, **kwargs)


def raise_error(group, dataset, runs_dir, *, attempts_dir, **kwargs):
    count_attempt(attempts_dir, group)
    raise ValueError("a bug in the group's own code")


def test_ray_engine_writes_the_same_workdir_as_the_local_engine(
        tmp_path, digits, ray_cluster, local_reference):
    engine = engines.RayEngine()  # Its default thread count is the local engine's.
    assert engine.task_settings["threads"] == THREADS
    assert not engine.owns_connection and engine.gpus_per_task == 0
    experiment_dir = experiment.run_experiment(CONFIG, digits, tmp_path,
                                               run_options(tensorboard=True, keras_models=True),
                                               engine=engine)
    assert_same_results(experiment_dir, local_reference)
    assert (experiment_dir / "confusion_examples.npz").is_file()
    for spec in runs.run_specs(CONFIG):
        # The tasks' .keras models come back; the driver replays the epochs to TensorBoard.
        for suffix in (".final.keras", ".best.keras"):
            assert (experiment_dir / "runs" / f"{spec.key}{suffix}").is_file()
        scalars = tensorboard_scalars(experiment_dir / "tb" / spec.key)
        assert len(scalars) >= CONFIG.epochs * 5
        assert scalars == tensorboard_scalars(local_reference / "tb" / spec.key)
    # Nothing left behind: no checkpoints, no temporary files.
    assert not [name for name in run_files(experiment_dir)
                if name.startswith((".", "group-"))]


def test_a_worker_killed_mid_task_is_retried_and_the_study_completes(
        tmp_path, digits, ray_cluster, local_reference):
    attempts_dir = tmp_path / "attempts"
    attempts_dir.mkdir()
    engine = engines.RayEngine(threads=THREADS, group_trainer=functools.partial(
        kill_first_attempt_mid_group, attempts_dir=attempts_dir))
    experiment_dir = experiment.run_experiment(CONFIG, digits, tmp_path / "wd", engine=engine)
    attempts = {path.stem: path.read_text().split() for path in attempts_dir.glob("*.attempts")}
    seed0 = runs.make_groups(runs.run_specs(CONFIG), CPU_GROUP_SIZE)[0][0].key
    assert len(attempts) == 2
    assert len(attempts[seed0]) == 2 and attempts[seed0][0] != attempts[seed0][1]  # New worker.
    assert all(len(pids) == 1 for key, pids in attempts.items() if key != seed0)
    assert_same_results(experiment_dir, local_reference)


def test_a_study_cut_under_the_local_engine_finishes_on_ray_without_retraining(
        tmp_path, digits, ray_cluster, local_reference, monkeypatch):
    saved = []
    save_checkpoint = runs.save_checkpoint

    def save_then_stop_in_the_second_group(*args, **kwargs):
        save_checkpoint(*args, **kwargs)
        saved.append(args[0])
        if len(saved) == 2:  # The seed-1 group, after its first epoch.
            raise KeyboardInterrupt

    monkeypatch.setattr(runs, "save_checkpoint", save_then_stop_in_the_second_group)
    with pytest.raises(KeyboardInterrupt):
        experiment.run_experiment(CONFIG, digits, tmp_path, engine=engines.LocalEngine())
    monkeypatch.undo()
    runs_dir = tmp_path / CONFIG.name / "runs"
    groups = runs.make_groups(runs.run_specs(CONFIG), CPU_GROUP_SIZE)
    cut = {spec.key: read_json(runs_dir / f"{spec.key}.json") for spec in groups[1]}
    assert saved[1].is_file() and all(record["status"] == "running" and
                                      record["epochs_done"] == 1 for record in cut.values())
    finished_files = {path: path.stat().st_mtime_ns for path in runs_dir.iterdir()
                      if path.name.startswith(tuple(spec.key for spec in groups[0]))}
    assert len(finished_files) == 6  # JSON, predictions, weights of 2 runs.

    attempts_dir = tmp_path / "attempts"
    attempts_dir.mkdir()
    engine = engines.RayEngine(threads=THREADS, group_trainer=functools.partial(count_and_train,
                                                               attempts_dir=attempts_dir))
    experiment_dir = experiment.run_experiment(CONFIG, digits, tmp_path, engine=engine)
    # Only the cut group went to Ray, with its checkpoint: its first epoch is the local one.
    assert sorted(path.name for path in attempts_dir.iterdir()) == [
        f"{groups[1][0].key}.attempts", f"{groups[1][0].key}.from_checkpoint"]
    for key, record in cut.items():
        resumed = read_json(runs_dir / f"{key}.json")
        assert resumed["history"]["epoch_seconds"][0] == record["history"]["epoch_seconds"][0]
    assert {path: path.stat().st_mtime_ns for path in finished_files} == finished_files
    assert not saved[1].exists()
    assert_same_results(experiment_dir, local_reference)


def test_a_diverging_run_is_recorded_once_not_retried(tmp_path, digits, ray_cluster):
    config = ExperimentConfig(name="diverging", dataset="digits", optimizer="sgd", epochs=2,
                              batch_size=50, seeds=1, train_size=200, keep_best=False,
                              grid={"learning_rate": (1e6, 0.05)})
    attempts_dir = tmp_path / "attempts"
    attempts_dir.mkdir()
    engine = engines.RayEngine(threads=THREADS, group_trainer=functools.partial(
        count_and_train, attempts_dir=attempts_dir))
    experiment_dir = experiment.run_experiment(config, digits, tmp_path, engine=engine)
    exploded, fine = (read_json(experiment_dir / "runs" / f"{spec.key}.json")
                      for spec in runs.run_specs(config))
    assert exploded["status"] == "diverged" and exploded["diverged_epoch"] == 1
    assert exploded["history"]["train_loss"] == [None]
    assert fine["status"] == "done" and fine["history"]["epoch"] == [1, 2]
    assert [len(path.read_text().split()) for path in attempts_dir.iterdir()] == [1]


def test_an_exception_in_a_task_is_not_retried_and_names_the_runs(tmp_path, digits,
                                                                   ray_cluster):
    attempts_dir = tmp_path / "attempts"
    attempts_dir.mkdir()
    config = CONFIG
    engine = engines.RayEngine(threads=THREADS, group_trainer=functools.partial(raise_error,
                                                               attempts_dir=attempts_dir))
    with pytest.raises(engines.GroupFailedError) as raised:
        experiment.run_experiment(config, digits, tmp_path, engine=engine)
    message = str(raised.value)
    assert message.startswith("2 of 2 groups failed")
    assert "ValueError: a bug in the group's own code" in message
    for spec in runs.run_specs(config):
        assert spec.key in message
    assert [len(path.read_text().split()) for path in attempts_dir.iterdir()] == [1, 1]
    assert not list((tmp_path / config.name / "runs").iterdir())


def test_engine_ray_without_ray_installed_is_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError.
    with pytest.raises(InputError, match=r"pip install -r requirements-ray\.txt"):
        engines.RayEngine()

    script = ("import sys; sys.modules['ray'] = None\n"
              "from absl import app\n"
              "from lenet_bench import __main__ as cli\n"
              "app.run(cli.main, flags_parser=cli.parse_flags)\n")
    result = subprocess.run([sys.executable, "-c", script, "--engine=ray",
                             f"--workdir={tmp_path / 'wd'}"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --engine=ray needs Ray, which is not installed: run "
        "`pip install -r requirements-ray.txt` (or use --engine=local)"]
    assert not (tmp_path / "wd").exists()
