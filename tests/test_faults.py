"""The fault suite: every fault lenet_bench claims to survive, and the outcome it promises.

Here: corrupt and truncated files of every format it reads, malicious pickles, files of
a newer results format, Ctrl-C, SIGTERM and kill -9 mid-epoch (then a rerun gives the
results of an uninterrupted study). Elsewhere, and part of the same promise (README,
"What you can rely on"): the bad-input table (test_bad_input.py), a full disk
(test_files.py), two processes on one folder (test_structure.py).
"""

import io
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_runner import onednn_here, one_thread_here, run_cli
from conftest import REPO_ROOT, run_options, write_idx_dataset
from test_bad_input import snapshot
from test_data import write_cifar_pickles, write_image_folder

from lenet_bench import interrupts, runs
from lenet_bench.config import ExperimentConfig
from lenet_bench.errors import InputError
from lenet_bench.inputs import data
from lenet_bench.study import workdir

pytestmark = pytest.mark.xdist_group(__name__)


def one_line_error(call, *args) -> str:
    """The message of the InputError `call(*args)` raises; it must be one line."""
    with pytest.raises(InputError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


# --- Data files: corrupt or truncated, each in every format read --------------------------

def truncate(path, keep):
    path.write_bytes(path.read_bytes()[:keep(len(path.read_bytes()))])


def overwrite_middle(path):
    payload = bytearray(path.read_bytes())
    middle = len(payload) // 2
    payload[middle:middle + 16] = b"\xff" * 16
    path.write_bytes(bytes(payload))


def overwrite_start(path):
    payload = bytearray(path.read_bytes())
    payload[2:18] = b"\xff" * 16
    path.write_bytes(bytes(payload))


def idx_folder(root, gz):
    write_idx_dataset(root / "mnist", gz=gz, train=20, test=10)
    return "mnist", root / "mnist" / ("train-images-idx3-ubyte" + (".gz" if gz else ""))


def cifar_pickle_folder(root):
    write_cifar_pickles(root / "cifar10")
    return "cifar10", root / "cifar10" / "data_batch_3"


def image_folder(root):
    write_image_folder(root / "cifar10", per_class=1)
    return "cifar10", root / "cifar10" / "test" / "dog" / "0000.png"


# (dataset writer, how the chosen file is broken, what the one line says after its name)
DATA_FAULTS = {
    "IDX truncated to 3 bytes": (lambda r: idx_folder(r, False),
                                 lambda p: truncate(p, lambda n: 3),
                                 r"wrong IDX magic number \(file shorter than 4 bytes\)"),
    "IDX truncated in its header": (lambda r: idx_folder(r, False),
                                    lambda p: truncate(p, lambda n: 10),
                                    r"truncated IDX header"),
    "IDX truncated in its data": (lambda r: idx_folder(r, False),
                                  lambda p: truncate(p, lambda n: n // 2),
                                  r"holds \d+ data bytes, expected 15680 .*truncated file"),
    "IDX empty": (lambda r: idx_folder(r, False), lambda p: truncate(p, lambda n: 0),
                  r"wrong IDX magic number"),
    "gz truncated": (lambda r: idx_folder(r, True), lambda p: truncate(p, lambda n: n // 2),
                     r"truncated or corrupt gzip file"),
    "gz corrupt": (lambda r: idx_folder(r, True), overwrite_middle,
                   r"(truncated or corrupt gzip file|holds|wrong IDX)"),
    "CIFAR pickle truncated": (cifar_pickle_folder, lambda p: truncate(p, lambda n: n // 2),
                               r"not a CIFAR-10 python batch"),
    "CIFAR pickle empty": (cifar_pickle_folder, lambda p: truncate(p, lambda n: 0),
                           r"not a CIFAR-10 python batch"),
    "CIFAR pickle corrupt": (cifar_pickle_folder, overwrite_start,
                             r"not a CIFAR-10 python batch"),
    "image truncated": (image_folder, lambda p: truncate(p, lambda n: n // 2),
                        r"unreadable image"),
    "image not an image": (image_folder, lambda p: p.write_bytes(b"GIF89a but not really"),
                           r"unreadable image"),
}


@pytest.mark.parametrize("fault", list(DATA_FAULTS))
def test_a_broken_data_file_is_one_line_naming_it(tmp_path, fault):
    write, damage, expected = DATA_FAULTS[fault]
    name, path = write(tmp_path / "data")
    damage(path)
    message = one_line_error(data.load, name, tmp_path / "data", tmp_path / "cache")
    assert re.match(rf"{re.escape(str(path))}: {expected}", message), message


def test_a_torn_image_folder_cache_is_rebuilt_to_the_same_arrays(tmp_path):
    write_image_folder(tmp_path / "cifar10", per_class=1)
    first = data.load("cifar10", tmp_path, tmp_path / "cache")
    (cached,) = (tmp_path / "cache").glob("*.npz")
    truncate(cached, lambda n: n // 2)
    again = data.load("cifar10", tmp_path, tmp_path / "cache")
    np.testing.assert_array_equal(again.train_images, first.train_images)
    np.testing.assert_array_equal(again.test_labels, first.test_labels)
    with np.load(cached) as rebuilt:  # Whole again.
        np.testing.assert_array_equal(rebuilt["train_images"], first.train_images)


# --- Malicious pickles: refused, nothing run ------------------------------------------------

class RunsCode:
    """Unpickling this calls `function(*args)`: what a hostile batch does."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def hostile_batches(marker):
    """(refused global, batch) pairs; each batch creates `marker` when unpickled."""
    return {
        "os.system in the data": ("posix.system", {b"data": RunsCode(os.system, f"touch {marker}"),
                                                   b"labels": [0]}),
        "exec in a label": ("builtins.exec", {
            b"data": np.zeros((1, 3072), np.uint8),
            b"labels": [RunsCode(exec, f"open({str(marker)!r}, 'w')")]}),
        "subprocess in an extra key": ("subprocess.call", {
            b"data": np.zeros((1, 3072), np.uint8), b"labels": [0],
            b"batch_label": RunsCode(subprocess.call, ["touch", str(marker)])}),
        "a numpy function that is not array reconstruction": ("numpy.save", {
            b"data": np.zeros((1, 3072), np.uint8), b"labels": [0],
            b"batch_label": RunsCode(np.save, str(marker), np.zeros(1))}),
    }


@pytest.mark.parametrize("case", ["os.system in the data", "exec in a label",
                                  "subprocess in an extra key",
                                  "a numpy function that is not array reconstruction"])
def test_a_malicious_cifar_pickle_is_refused_and_runs_nothing(tmp_path, case):
    write_cifar_pickles(tmp_path / "cifar10")
    marker = tmp_path / "marker.npy"  # np.save adds .npy to a name without it.
    refused, batch = hostile_batches(marker)[case]
    payload = pickle.dumps(batch)
    (tmp_path / "cifar10" / "data_batch_2").write_bytes(payload)
    message = one_line_error(data.load, "cifar10", tmp_path)
    assert message.startswith(f"{tmp_path / 'cifar10' / 'data_batch_2'}: refused: the pickle "
                              f"calls '{refused}'"), message
    assert not marker.exists()
    pickle.loads(payload)  # The payload is live: a plain unpickler runs it.
    assert marker.exists()


def python2_batch(rows, labels) -> bytes:
    """A batch pickled as the official CIFAR-10 files were (Python 2, numpy 1.x): protocol
    2, byte strings as BINSTRING, the array rebuilt by numpy.core.multiarray._reconstruct."""
    class Python2Pickler(pickle._Pickler):
        def save_bytes(self, obj):
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj if len(obj) < 256
                       else pickle.BINSTRING + len(obj).to_bytes(4, "little") + obj)
            self.memoize(obj)

        dispatch = {**pickle._Pickler.dispatch, bytes: save_bytes}

    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump({b"batch_label": b"training batch 1 of 5",
                                             b"labels": labels, b"data": rows})
    payload = buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct" in payload and b"_codecs" not in payload
    return payload


def test_a_batch_as_python_2_wrote_it_is_read(tmp_path):
    rng = np.random.default_rng(3)
    rows, labels = rng.integers(0, 256, (4, 3072), dtype=np.uint8), [3, 1, 4, 1]
    path = tmp_path / "data_batch_1"
    path.write_bytes(python2_batch(rows, labels))
    read_rows, read_labels = data.read_cifar_batch(path)
    np.testing.assert_array_equal(read_rows, rows)
    assert read_labels.tolist() == labels


@pytest.mark.parametrize("batch, expected", [
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, r"data is ndarray float32"),
    ({b"data": np.zeros((2, 1024), np.uint8), b"labels": [0, 1]},
     r"data is ndarray uint8 of shape \(2, 1024\)"),
    ({b"data": np.zeros((2, 3072), np.uint8)}, r"not a CIFAR-10 python batch: expected a dict"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [b"cat", b"dog"]}, r"labels are \|S3"),
    ([1, 2, 3], r"not a CIFAR-10 python batch: expected a dict"),
])
def test_a_pickle_that_is_not_a_batch_says_what_was_expected(tmp_path, batch, expected):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch))
    message = one_line_error(data.read_cifar_batch, path)
    assert re.match(rf"{re.escape(str(path))}: {expected}", message), message


# --- Files of a newer results format: never touched ----------------------------------------

# The study the command-line tests run (four runs of digits_smoke's size in two groups,
# one per seed), and the same config here.
EXPERIMENT = """
from lenet_bench.config import ExperimentConfig


def get_config():
    return ExperimentConfig(name="faults", dataset="digits", epochs=6, batch_size=32, seeds=2,
                            train_size=600, grid={"learning_rate": (0.005, 0.002)})
"""
CONFIG = ExperimentConfig(name="faults", dataset="digits", epochs=6, batch_size=32, seeds=2,
                          train_size=600, grid={"learning_rate": (0.005, 0.002)})
NEWER = runs.RESULTS_FORMAT + 1


def experiment_folder(tmp_path):
    """An experiment folder with config.json, a finished run file and a checkpoint."""
    folder = tmp_path / "faults"
    (folder / "runs").mkdir(parents=True)
    specs = runs.run_specs(CONFIG)
    record = {"results_format": runs.RESULTS_FORMAT, "key": specs[0].key, "status": "done"}
    (folder / "config.json").write_text(json.dumps({"experiment": "faults",
                                                    "dataset": {"name": "digits"},
                                                    "results_format": runs.RESULTS_FORMAT}))
    runs.run_path(folder / "runs", specs[0]).write_text(json.dumps(record))
    runs.save_checkpoint(runs.checkpoint_path(folder / "runs", specs), 2,
                         [{"key": spec.key} for spec in specs], {"0/0": np.zeros(2)})
    return folder, specs


def set_json_format(path, value):
    path.write_text(json.dumps({**json.loads(path.read_text()), "results_format": value}))


def set_checkpoint_format(path, value):
    with np.load(path) as stored:
        arrays = dict(stored)
    with open(path, "wb") as file:
        np.savez(file, **{**arrays, "results_format": np.int64(value)})


# What is changed, and how its line continues after the file's name.
REFUSED = {
    "run file of a newer format": (
        lambda f, s: set_json_format(runs.run_path(f / "runs", s[0]), NEWER), "run",
        rf"written by a newer lenet_bench \(results format {NEWER}; this version reads up "
        rf"to {runs.RESULTS_FORMAT}\): the file is left as it is"),
    "run file with no format number": (
        lambda f, s: set_json_format(runs.run_path(f / "runs", s[0]), "3.1"), "run",
        r"results_format '3.1' is not a format number: expected an integer up to"),
    "run file that cannot be read": (
        lambda f, s: (runs.run_path(f / "runs", s[1]).mkdir()), "run1",
        r"cannot be read \(Is a directory\): expected a readable file; it is left as it is"),
    "config.json of a newer format": (
        lambda f, s: set_json_format(f / "config.json", NEWER), "config",
        rf"written by a newer lenet_bench \(results format {NEWER}; "),
    "checkpoint of a newer format": (
        lambda f, s: set_checkpoint_format(runs.checkpoint_path(f / "runs", s), NEWER),
        "checkpoint", rf"written by a newer lenet_bench \(results format {NEWER}; "),
}
NAMED_FILE = {"run": lambda f, s: runs.run_path(f / "runs", s[0]),
              "run1": lambda f, s: runs.run_path(f / "runs", s[1]),
              "config": lambda f, s: f / "config.json",
              "checkpoint": lambda f, s: runs.checkpoint_path(f / "runs", s)}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_file_this_version_cannot_read_stops_the_study_and_is_left_as_it_is(tmp_path, case):
    folder, specs = experiment_folder(tmp_path)
    change, named, expected = REFUSED[case]
    change(folder, specs)
    before = snapshot(folder)
    message = one_line_error(runs.check_experiment_files, folder, specs)
    path = NAMED_FILE[named](folder, specs)
    assert re.match(rf"{re.escape(str(path))}: {expected}", message), message
    if named == "checkpoint":
        assert one_line_error(runs.load_checkpoint, path, specs) == message
    assert snapshot(folder) == before


# What is changed; each leaves a folder the study goes on with (a torn file is trained again).
ACCEPTED = {
    "torn run file": lambda f, s: truncate(runs.run_path(f / "runs", s[0]), lambda n: n // 2),
    "run file of an older format": lambda f, s: set_json_format(runs.run_path(f / "runs", s[0]),
                                                                runs.RESULTS_FORMAT - 1),
    "torn config.json": lambda f, s: truncate(f / "config.json", lambda n: n - 3),
    "torn checkpoint": lambda f, s: truncate(runs.checkpoint_path(f / "runs", s),
                                             lambda n: n // 2),
    "checkpoint of an older format": lambda f, s: set_checkpoint_format(
        runs.checkpoint_path(f / "runs", s), runs.RESULTS_FORMAT - 1),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_a_torn_or_older_file_is_trained_again(tmp_path, case):
    folder, specs = experiment_folder(tmp_path)
    ACCEPTED[case](folder, specs)
    runs.check_experiment_files(folder, specs)
    workdir.check_workdir("faults", "digits", tmp_path)
    finished = runs.is_finished(runs.run_path(folder / "runs", specs[0]))
    assert finished == (case in ("torn config.json", "torn checkpoint",
                                 "checkpoint of an older format"))
    resumed = runs.load_checkpoint(runs.checkpoint_path(folder / "runs", specs), specs)
    assert (resumed is None) == ("checkpoint" in case)


def test_a_checkpoint_of_another_trainer_is_trained_again_not_a_traceback(
        tmp_path, digits, monkeypatch, caplog):
    """--trainer changed between a cut and the rerun (or what auto picks did): the group's
    checkpoint holds the other trainer's state, so its epochs are trained again."""
    from lenet_bench.trainers import group_loop

    config = ExperimentConfig(name="switch", dataset="digits", epochs=2, batch_size=50,
                              seeds=1, train_size=100)
    specs = runs.run_specs(config)
    for folder in ("switched", "fresh"):
        (tmp_path / folder).mkdir()
    save_checkpoint = runs.save_checkpoint

    def save_then_stop(*args, **kwargs):
        save_checkpoint(*args, **kwargs)
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(runs, "save_checkpoint", save_then_stop)
        with pytest.raises(KeyboardInterrupt):
            group_loop.train_group(specs, digits, tmp_path / "switched",
                                   run_options(trainer="fused", jit="off"))
    assert runs.checkpoint_path(tmp_path / "switched", specs).is_file()
    with caplog.at_level("WARNING", logger="lenet_bench"):
        switched = group_loop.train_group(specs, digits, tmp_path / "switched",
                                          run_options(trainer="keras", jit="off"))
    assert "was written by the FusedLeNet5 trainer, not KerasReplicas: its 1 epochs are " \
           "trained again" in caplog.text
    fresh = group_loop.train_group(specs, digits, tmp_path / "fresh",
                                   run_options(trainer="keras", jit="off"))
    for mine, theirs in zip(switched, fresh):
        assert mine["status"] == theirs["status"] == "done"
        assert mine["history"]["test_accuracy"] == theirs["history"]["test_accuracy"]


# --- The command line: a newer run file survives a rerun; signals mid-epoch -----------------

FLAGS = ["--trainer=fused", "--group_size=2", "--jit=off", "--threads=1", "--tensorboard=false",
         "--keras_models=false", "--progress=none"]
LOG_LINE = re.compile(r"^[IWEF]\d{4} ")  # absl's log lines (I1206 20:24:07.8 ...).


def command(tmp_path, workdir_path):
    experiment_file = tmp_path / "faults.py"
    experiment_file.write_text(EXPERIMENT)
    return [sys.executable, "-m", "lenet_bench", f"--experiment={experiment_file}",
            f"--workdir={workdir_path}", *FLAGS]


def in_this_process() -> bool:
    """Whether an uninterrupted run of the study (the reference, the last rerun) runs in this
    process (cli_runner.run_cli): where it trains as --threads=1 asks (one_thread_here) and
    this process's oneDNN setting is known, which `study_env` then gives the new processes
    (the interrupted runs: they get the signals), so that every run computes alike and
    the histories compare bit for bit. Else every run is a new process."""
    return one_thread_here() and onednn_here() is not None


def study_env() -> dict:
    """The environment of each run of the study in a new process."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
            **(onednn_here() if in_this_process() else {})}


def start(cmd):
    """The CLI as a terminal starts it: SIGINT at its default, whatever this process has."""
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=study_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def run_to_the_end(cmd, monkeypatch, capfd) -> subprocess.CompletedProcess:
    """`cmd` uninterrupted: in this process where `in_this_process`, else a new one."""
    if in_this_process():
        return run_cli(cmd[3:], monkeypatch=monkeypatch, capfd=capfd,
                       env={"TF_CPP_MIN_LOG_LEVEL": "2"}, cwd=REPO_ROOT)
    process = start(cmd)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)


_REFERENCE = {}  # The reference's (command, experiment folder), once it has run.


@pytest.fixture
def reference(tmp_path_factory, monkeypatch, capfd):
    """An uninterrupted study, run once per module (by the first test that asks; function
    scoped for run_to_the_end's monkeypatch and capfd): (its command, its experiment
    folder)."""
    if "study" not in _REFERENCE:
        tmp_path = tmp_path_factory.mktemp("reference")
        cmd = command(tmp_path, tmp_path / "wd")
        result = run_to_the_end(cmd, monkeypatch, capfd)
        assert result.returncode == 0, result.stderr
        _REFERENCE["study"] = cmd, tmp_path / "wd" / "faults"
    return _REFERENCE["study"]


def read_runs(runs_dir) -> dict:
    """{run key: its record} of the run files in `runs_dir` (never a temporary file)."""
    return {path.stem: json.loads(path.read_text()) for path in runs_dir.glob("*.json")
            if not path.name.startswith(".")}


def signal_mid_epoch(cmd, runs_dir, sig, after_epochs, with_a_done_run=False, timeout=240):
    """Starts `cmd` and sends `sig` once a run has `after_epochs` or more epochs done and
    is still running, its group has a checkpoint, and (`with_a_done_run`) another run
    is done; returns (exit status, stderr, epochs done then)."""
    process = start(cmd)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            records = read_runs(runs_dir) if runs_dir.is_dir() else {}
            partway = [record["epochs_done"] for record in records.values()
                       if record.get("status") == "running"
                       and record.get("epochs_done", 0) >= after_epochs]
            done = [record for record in records.values() if record.get("status") == "done"]
            if partway and list(runs_dir.glob("group-*.ckpt.npz")) and \
                    (done or not with_a_done_run):
                sent = time.monotonic()
                process.send_signal(sig)
                _, stderr = process.communicate(timeout=60)
                assert time.monotonic() - sent < 10, "the process did not end at once"
                return process.returncode, stderr, min(partway)
            assert process.poll() is None, f"the study ended before the signal ({sig.name})"
            time.sleep(0.02)  # An epoch takes 0.1 s or more; reading 4 files costs CPU.
        raise AssertionError(f"never saw a run with {after_epochs} epochs done, still running")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


COMPARED = ("train_loss", "train_accuracy", "train_clean_accuracy", "test_loss", "test_accuracy")


# The fused trainer only: the signals and the resume are the group loop's (trainer-agnostic);
# the Keras trainer's state round trip is test_architectures' exact-resume test.
def test_ctrl_c_sigterm_and_kill_9_mid_epoch_then_a_rerun_gives_the_uninterrupted_results(
        tmp_path, reference, monkeypatch, capfd):
    _, reference_dir = reference
    cmd = command(tmp_path, tmp_path / "wd")
    runs_dir = tmp_path / "wd" / "faults" / "runs"

    status, stderr, epochs = signal_mid_epoch(cmd, runs_dir, signal.SIGINT, after_epochs=1)
    assert status == interrupts.INTERRUPTED_STATUS, stderr
    assert [line for line in stderr.splitlines() if not LOG_LINE.match(line)] == \
        [interrupts.RESUME_LINE], stderr

    status, stderr, _ = signal_mid_epoch(cmd, runs_dir, signal.SIGTERM, after_epochs=epochs + 1)
    assert status == -signal.SIGTERM, stderr  # A shell reports 143.
    assert "resumed 2 runs from group-" in stderr and "Traceback" not in stderr

    status, stderr, _ = signal_mid_epoch(cmd, runs_dir, signal.SIGKILL, after_epochs=1,
                                         with_a_done_run=True)
    assert status == -signal.SIGKILL, stderr
    started = {key: run["started"] for key, run in read_runs(runs_dir).items()}
    done = {path: path.read_bytes() for path in runs_dir.glob("*.json")
            if json.loads(path.read_text())["status"] == "done"}

    rerun = run_to_the_end(cmd, monkeypatch, capfd)
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed 2 runs from group-" in rerun.stderr  # From the checkpoint, not epoch 0.
    assert {path: path.read_bytes() for path in done} == done  # Finished runs are kept.
    after, clean = read_runs(runs_dir), read_runs(reference_dir / "runs")
    assert all(after[key]["started"] == started[key] for key in started)  # Resumed, not redone.
    assert sorted(after) == sorted(clean) and len(after) == 4
    for key, run in clean.items():
        assert after[key]["status"] == run["status"] == "done"
        for metric in COMPARED:  # Bit-identical on CPU.
            assert after[key]["history"][metric] == run["history"][metric], (key, metric)
        assert after[key]["confusion_matrix"] == run["confusion_matrix"]
    assert not list(runs_dir.glob("group-*.ckpt.npz"))  # Removed once a group ends.


def test_ctrl_c_while_starting_is_one_line_and_exit_130(tmp_path):
    process = start(command(tmp_path, tmp_path / "wd"))
    time.sleep(2)  # Importing absl, numpy, the config, TensorFlow: nothing trained yet.
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == interrupts.INTERRUPTED_STATUS
    assert stderr == interrupts.RESUME_LINE + "\n"
    assert not list(tmp_path.rglob("*.json"))  # Nothing written.


def test_a_newer_run_file_survives_a_rerun_byte_for_byte(tmp_path, reference, monkeypatch,
                                                       capfd):
    cmd, reference_dir = reference
    copied = tmp_path / "wd"
    shutil.copytree(reference_dir.parent, copied)
    args = [arg if not arg.startswith("--workdir=") else f"--workdir={copied}" for arg in cmd[3:]]
    newer = sorted((copied / "faults" / "runs").glob("*.json"))[0]
    set_json_format(newer, NEWER)
    before = snapshot(copied)
    rerun = run_cli(args, monkeypatch=monkeypatch, capfd=capfd, env={"TF_CPP_MIN_LOG_LEVEL": "2"},
                    cwd=REPO_ROOT)  # Refused before it trains: in this process.
    stderr = rerun.stderr
    assert rerun.returncode == 2, stderr
    assert stderr == (f"error: {newer}: written by a newer lenet_bench (results format {NEWER}; "
                      f"this version reads up to {runs.RESULTS_FORMAT}): the file is left as it "
                      "is: run that newer version, or use another --workdir\n")
    assert snapshot(copied) == before
