"""Kill a study with SIGKILL in the middle of a run; the rerun finishes only what is missing."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO_ROOT

EXPERIMENT = '''
from lenet_bench.config import ExperimentConfig


def get_config():
    return ExperimentConfig(name="killed", dataset="synthetic", epochs={epochs}, batch_size=100,
                            seeds=2, optimizer="adam", grid={{"learning_rate": (0.003, 0.001)}})
'''
EPOCHS = 6  # The kill comes at epoch 2 of a run (2 <= epochs_done <= EPOCHS - 4).
COMPARED = ("train_loss", "train_accuracy", "train_clean_accuracy", "test_loss", "test_accuracy")


def command(experiment_file, workdir, trainer):
    return [sys.executable, "-m", "lenet_bench", f"--experiment={experiment_file}",
            f"--workdir={workdir}", f"--trainer={trainer}", "--group_size=2", "--jit=off",
            "--threads=1", "--tensorboard=false", "--keras_models=false", "--progress=none"]


def environment():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def read_runs(experiment_dir):
    runs = {}
    for path in (experiment_dir / "runs").glob("*.json"):
        if path.name.startswith("."):  # A write in progress (files.temporary_path).
            continue
        try:
            runs[path.stem] = json.loads(path.read_text())
        except ValueError:  # Never happens with atomic writes; the test would then fail below.
            runs[path.stem] = {"status": "torn"}
    return runs


def kill_mid_run(cmd, experiment_dir, timeout=240):
    """Starts the study and SIGKILLs it once a run is done and another is part-way."""
    process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            runs = read_runs(experiment_dir) if (experiment_dir / "runs").is_dir() else {}
            statuses = [run.get("status") for run in runs.values()]
            partway = [run for run in runs.values() if run.get("status") == "running"
                       and 2 <= run["epochs_done"] <= EPOCHS - 4]
            if "done" in statuses and partway:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return
            assert process.poll() is None, "the study ended before it could be killed"
            time.sleep(0.02)
        raise AssertionError("never saw a finished run beside a part-way run")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# The fused trainer only: the kill and the resume are the group loop's (trainer-agnostic);
# the Keras trainer's state round trip is test_architectures' exact-resume test.
@pytest.mark.parametrize("trainer", ["fused"])
def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_results(tmp_path, trainer):
    experiment_file = tmp_path / "killed.py"
    experiment_file.write_text(EXPERIMENT.format(epochs=EPOCHS))
    killed_dir = tmp_path / "killed_wd" / "killed"
    kill_mid_run(command(experiment_file, tmp_path / "killed_wd", trainer), killed_dir)

    before = read_runs(killed_dir)
    done_before = {key: run for key, run in before.items() if run["status"] == "done"}
    partway = {key: run for key, run in before.items() if run["status"] == "running"}
    assert done_before and partway
    assert list(killed_dir.glob("runs/group-*.ckpt.npz")), "no checkpoint of the cut group"
    done_bytes = {key: (killed_dir / "runs" / f"{key}.json").read_bytes() for key in done_before}

    rerun = subprocess.run(command(experiment_file, tmp_path / "killed_wd", trainer), cwd=REPO_ROOT,
                           env=environment(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed" in rerun.stderr  # From the checkpoint, not from epoch 0.
    for key, content in done_bytes.items():  # Finished runs are not recomputed.
        assert (killed_dir / "runs" / f"{key}.json").read_bytes() == content
    after = read_runs(killed_dir)
    for key, run in partway.items():
        assert after[key]["started"] == run["started"]
    assert not list(killed_dir.glob("runs/group-*.ckpt.npz"))  # Removed once a group ends.

    clean = subprocess.run(command(experiment_file, tmp_path / "clean_wd", trainer), cwd=REPO_ROOT,
                           env=environment(), capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr
    reference = read_runs(tmp_path / "clean_wd" / "killed")
    assert sorted(reference) == sorted(after) and len(after) == 4
    for key, run in reference.items():
        assert after[key]["status"] == run["status"] == "done"
        for metric in COMPARED:  # Bit-identical on CPU.
            assert after[key]["history"][metric] == run["history"][metric], (key, metric)
        assert after[key]["confusion_matrix"] == run["confusion_matrix"]
