"""Atomic writes: every format durable, a full disk one line and the old file intact."""

import errno
import json
import os
import stat

import numpy as np
import pytest
from cli_runner import run_cli
from conftest import REPO_ROOT

from lenet_bench import files
from lenet_bench.errors import DiskFullError, InputError

WRITERS = {
    "text": (lambda path: files.atomic_write_text(path, "new ü\n"),
             lambda path: path.read_text(encoding="utf-8") == "new ü\n"),
    "bytes": (lambda path: files.atomic_write_bytes(path, b"new\x00"),
              lambda path: path.read_bytes() == b"new\x00"),
    "json": (lambda path: files.atomic_write_json(path, {"a": [1, 2]}),
             lambda path: json.loads(path.read_text()) == {"a": [1, 2]}),
    "npz": (lambda path: files.atomic_write_npz(path, compressed=True, x=np.arange(3)),
            lambda path: np.load(path)["x"].tolist() == [0, 1, 2]),
    "with": (lambda path: files.atomic_write_with(path, lambda tmp: tmp.write_text("new")),
             lambda path: path.read_text() == "new"),
}


@pytest.mark.parametrize("kind", list(WRITERS))
def test_every_format_is_written_fsynced_and_renamed(tmp_path, monkeypatch, kind):
    write, written = WRITERS[kind]
    synced = []
    real_fsync = os.fsync

    def spy(descriptor):
        synced.append("folder" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", spy)
    path = tmp_path / f"out.{kind}"
    path.write_bytes(b"old")
    write(path)
    assert written(path)
    assert synced == ["file", "folder"]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_the_temporary_name_is_hidden_and_keeps_the_suffix(tmp_path):
    seen = []
    files.atomic_write_with(tmp_path / "k.weights.h5", lambda tmp: (seen.append(tmp),
                                                                     tmp.write_bytes(b"")))
    assert seen == [tmp_path / f".tmp{os.getpid()}.k.weights.h5"]


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("kind", list(WRITERS))
def test_full_disk_is_one_line_and_the_old_file_stays(tmp_path, monkeypatch, kind):
    write, _ = WRITERS[kind]
    path = tmp_path / f"out.{kind}"
    path.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", _no_space)  # The data is written, then the disk is full.
    with pytest.raises(DiskFullError) as raised:
        write(path)
    message = str(raised.value)
    assert isinstance(raised.value, InputError) and "\n" not in message
    assert message == (f"{path}: cannot be written: No space left on device; free some space and "
                       "rerun the same command (it resumes where it stopped)")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_full_disk_mid_write_and_wrapped_by_the_writer(tmp_path):
    """h5py and Keras raise their own error types with the OSError as cause."""
    path = tmp_path / "m.keras"
    path.write_bytes(b"old")

    def half_then_full(tmp):
        tmp.write_bytes(b"half")
        try:
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
        except OSError as error:
            raise RuntimeError("Unable to synchronously create file") from error

    with pytest.raises(DiskFullError, match=r"m\.keras: cannot be written: Disk quota exceeded; "):
        files.atomic_write_with(path, half_then_full)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_other_errors_pass_through_and_leave_no_temporary_file(tmp_path):
    def denied(tmp):
        tmp.write_bytes(b"half")
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(PermissionError):
        files.atomic_write_with(tmp_path / "x.json", denied)
    assert list(tmp_path.iterdir()) == []


def test_keras_weights_go_through_the_temporary_name(tmp_path):
    """Keras reads the format from the name: `.weights.h5` must survive the temporary name."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "run.weights.h5"
    files.atomic_write_with(path, model.save_weights)
    copy = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    copy.load_weights(path)
    np.testing.assert_array_equal(copy.get_weights()[0], model.get_weights()[0])
    assert [p.name for p in tmp_path.iterdir()] == ["run.weights.h5"]


# A disk that fills up when a run's JSON is written a second time (its epoch 2): os.fsync
# of that temporary file fails with ENOSPC, as on a full disk.
def fsync_full_at_epoch_2(real_fsync):
    def fsync(descriptor):
        name = os.readlink(f"/proc/self/fd/{descriptor}")
        folder, base = os.path.split(name)
        if folder.endswith("/runs") and base.startswith(".tmp") and base.endswith(".json"):
            if os.path.exists(os.path.join(folder, base.split(".", 2)[2])):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(descriptor)

    return fsync


# Both runs in this process (cli_runner.run_cli): the full disk patched over the first only.
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")
def test_cli_full_disk_is_one_line_exit_2_and_the_finished_epoch_resumes(tmp_path, monkeypatch,
                                                                          capfd):
    args = ["--experiment=digits_smoke", "--epochs=2", "--seeds=1", "--train_size=200",
            f"--workdir={tmp_path}", "--progress=none", "--tensorboard=false",
            "--keras_models=false", "--jit=off"]
    env = {"TF_CPP_MIN_LOG_LEVEL": "2"}
    real_fsync = os.fsync
    with monkeypatch.context() as full_disk:
        full_disk.setattr(os, "fsync", fsync_full_at_epoch_2(real_fsync))
        full = run_cli(args, monkeypatch=full_disk, capfd=capfd, env=env, cwd=REPO_ROOT)
    assert os.fsync is real_fsync  # The disk has room again for the second run.
    assert full.returncode == 2, full.stderr
    assert "Traceback" not in full.stderr
    last = full.stderr.strip().splitlines()[-1]
    assert [line for line in full.stderr.splitlines() if line.startswith("error:")] == [last]
    runs_dir = tmp_path / "digits_smoke" / "runs"
    (run_file,) = runs_dir.glob("*.json")
    assert last == (f"error: {run_file}: cannot be written: No space left on device; free some "
                    "space and rerun the same command (it resumes where it stopped)")
    record = json.loads(run_file.read_text())
    assert record["status"] == "running" and len(record["history"]["test_accuracy"]) == 1
    assert not [p for p in runs_dir.iterdir() if p.name.startswith(".tmp")]

    again = run_cli(args, monkeypatch=monkeypatch, capfd=capfd, env=env, cwd=REPO_ROOT)
    assert again.returncode == 0, again.stderr
    assert "resumed 1 runs from group-" in again.stderr and "after epoch 1" in again.stderr
    record = json.loads(run_file.read_text())
    assert record["status"] == "done" and len(record["history"]["test_accuracy"]) == 2
