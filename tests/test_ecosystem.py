"""Packaging, TensorBoard, the pandas results API, .keras outputs, callbacks and progress."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT, run_options

import lenet_bench
from lenet_bench import runs
from lenet_bench.config import ExperimentConfig
from lenet_bench.inputs import data
from lenet_bench.observers import progress
from lenet_bench.records import results
from lenet_bench.reports import report
from lenet_bench.study import experiment

# Its module-scoped fixtures are built once: one worker runs the module (tests/conftest.py).
pytestmark = pytest.mark.xdist_group(__name__)

EPOCHS = 3
GRID = {"learning_rate": (0.01, 0.003), "label_noise": (0.0, 0.3)}
SEEDS = 2


class Recorder(keras.callbacks.Callback):
    """Records every hook call, and the model's predictions when a run ends."""

    def __init__(self, images):
        super().__init__()
        self.images, self.calls, self.predictions = images, [], {}

    def on_train_begin(self, logs=None):
        self.calls.append((self.params["run_key"], "train_begin", None, logs))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append((self.params["run_key"], "epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs=None):
        self.calls.append((self.params["run_key"], "train_end", None, logs))
        self.predictions[self.params["run_key"]] = self.model.predict(self.images, verbose=0)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A short digits study on the fused path with every output on."""
    dataset = data.load("digits")
    config = ExperimentConfig(name="eco", dataset="digits", epochs=EPOCHS, batch_size=64,
                              seeds=SEEDS, train_size=300, lr_decay=0.5, grid=GRID)
    workdir = tmp_path_factory.mktemp("eco")
    images = dataset.test_images[:20].astype(np.float32) / 255.0
    recorder = Recorder(images)
    stream = io.StringIO()
    shown = progress.Progress(*progress.plan([config], workdir), stream=stream, bar=False)
    experiment_dir = experiment.run_experiment(config, dataset, workdir, run_options(
        trainer="fused", jit="off", tensorboard=True, keras_models=True),
                                          callbacks=[recorder], progress=shown)
    report.write_experiment_report(experiment_dir)
    runs = {run["key"]: run for run in results.load_runs(experiment_dir)[1]}
    return {"dir": experiment_dir, "workdir": workdir, "runs": runs, "recorder": recorder,
            "images": images, "progress": stream.getvalue(), "dataset": dataset}


def test_load_has_one_row_per_run_and_epoch_matching_the_run_files(study):
    df = results.load(study["workdir"])
    assert len(df) == len(GRID["learning_rate"]) * len(GRID["label_noise"]) * SEEDS * EPOCHS
    for column in ("experiment", "run_key", "dataset", "initializer", "learning_rate",
                   "label_noise", "seed", "status", "epoch", "train_loss", "test_accuracy",
                   "learning_rate_at_epoch", "best_epoch", "best_test_accuracy", "epoch_seconds"):
        assert column in df.columns, column
    assert set(df["experiment"]) == {"eco"} and set(df["status"]) == {"done"}
    for path in (study["dir"] / "runs").glob("*.json"):
        run = json.loads(path.read_text())
        rows = df[df["run_key"] == run["key"]].sort_values("epoch")
        assert list(rows["epoch"]) == [1, 2, 3]
        np.testing.assert_array_equal(rows["test_accuracy"], run["history"]["test_accuracy"])
        np.testing.assert_array_equal(rows["learning_rate_at_epoch"], run["history"]["learning_rate"])
        assert set(rows["seed"]) == {run["spec"]["seed"]}
        assert set(rows["best_test_accuracy"]) == {max(run["history"]["test_accuracy"])}


def test_load_counts_a_run_with_no_epoch_yet(study, tmp_path):
    experiment_dir = tmp_path / "eco"
    shutil.copytree(study["dir"], experiment_dir, ignore=shutil.ignore_patterns("tb", "*.keras"))
    path = next((experiment_dir / "runs").glob("*.json"))
    run = json.loads(path.read_text())
    run.update(status="running", epochs_done=0, history={name: [] for name in run["history"]})
    path.write_text(json.dumps(run))
    df = results.load(experiment_dir)
    assert len(df) == len(study["runs"]) * EPOCHS - EPOCHS + 1
    row = df[df["run_key"] == run["key"]]
    assert len(row) == 1 and row["epoch"].isna().all()


def final_accuracies(runs, **point):
    return [run["history"]["test_accuracy"][-1] for run in runs.values()
            if all(run["spec"][field] == value for field, value in point.items())]


def test_summary_matches_numpy_and_the_report_csv(study):
    df = results.load(study["workdir"])
    table = results.summary(df)
    assert len(table) == 4 and set(table["runs"]) == {SEEDS} and set(table["done"]) == {SEEDS}
    with open(study["dir"] / "summary.csv", encoding="utf-8") as file:
        report_rows = {row["setting"]: row for row in csv.DictReader(file)}
    for _, row in table.iterrows():
        finals = final_accuracies(study["runs"], learning_rate=row["learning_rate"],
                                  label_noise=row["label_noise"])
        assert row["final_test_accuracy_mean"] == pytest.approx(np.mean(finals))
        assert row["final_test_accuracy_std"] == pytest.approx(np.std(finals, ddof=1))
        assert float(report_rows[row["setting"]]["final_test_accuracy_mean"]) == pytest.approx(
            row["final_test_accuracy_mean"])
    assert list(table["final_test_accuracy_mean"]) == sorted(table["final_test_accuracy_mean"],
                                                             reverse=True)
    pooled = results.summary(df, by=["learning_rate"])
    assert list(pooled["setting"]) != [] and set(pooled["runs"]) == {2 * SEEDS}
    for _, row in pooled.iterrows():
        finals = final_accuracies(study["runs"], learning_rate=row["learning_rate"])
        assert row["final_test_accuracy_mean"] == pytest.approx(np.mean(finals))
        assert row["best_test_accuracy_max"] == max(
            run["best_test_accuracy"] for run in study["runs"].values()
            if run["spec"]["learning_rate"] == row["learning_rate"])


def test_summary_keeps_runs_of_two_experiments_with_the_same_key_apart(study):
    """A *_best setting is also the eps = 0 point of its noise study: same run key."""
    runs = list(study["runs"].values())
    df = results.frame([{**run, "experiment": name} for name in ("a", "b") for run in runs])
    table = results.summary(df)
    assert len(table) == 8 and set(table["runs"]) == {SEEDS} and set(table["experiment"]) == {"a", "b"}
    pooled = results.summary(df, by=["learning_rate"])
    assert set(pooled["runs"]) == {4 * SEEDS}


def read_events(folder: Path) -> list:
    events = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        events += list(tf.compat.v1.train.summary_iterator(str(path)))
    return events


def test_tensorboard_has_the_scalars_and_the_hparams(study):
    from tensorboard.plugins.hparams import metadata

    tb = study["dir"] / "tb"
    root_values = [value for event in read_events(tb) for value in event.summary.value]
    experiment = next(value for value in root_values if value.tag == metadata.EXPERIMENT_TAG)
    config = metadata.parse_experiment_plugin_data(
        experiment.metadata.plugin_data.content)
    domains = {info.name: [value.number_value for value in info.domain_discrete.values]
               for info in config.hparam_infos}
    assert domains["learning_rate"] == [0.003, 0.01] and domains["seed"] == [0, 1]
    assert domains["label_noise"] == [0.0, 0.3]
    assert {info.name.tag for info in config.metric_infos} >= {"test/accuracy",
                                                                 "best/test_accuracy", "test/loss"}
    for key, run in study["runs"].items():
        scalars, session = {}, None
        for event in read_events(tb / key):
            for value in event.summary.value:
                if value.tag == metadata.SESSION_START_INFO_TAG:
                    session = metadata.parse_session_start_info_plugin_data(
                        value.metadata.plugin_data.content)
                elif value.metadata.plugin_data.plugin_name == "scalars":
                    scalars.setdefault(value.tag, {})[event.step] = float(
                        tf.make_ndarray(value.tensor))
        assert session.hparams["learning_rate"].number_value == run["spec"]["learning_rate"]
        assert session.hparams["seed"].number_value == run["spec"]["seed"]
        for tag, metric in (("test/accuracy", "test_accuracy"), ("train/loss", "train_loss"),
                            ("learning_rate", "learning_rate")):
            assert sorted(scalars[tag]) == [1, 2, 3]
            np.testing.assert_allclose([scalars[tag][step] for step in (1, 2, 3)],
                                       run["history"][metric], rtol=1e-6)
        assert scalars["best/test_accuracy"][3] == pytest.approx(run["best_test_accuracy"])
        assert ("train/clean_accuracy" in scalars) == bool(run["spec"]["label_noise"])


def test_keras_models_load_in_a_fresh_process_and_predict_the_same(study, tmp_path):
    key = sorted(study["runs"])[0]
    np.save(tmp_path / "images.npy", study["images"])
    # One fresh process loads both models (argv: images, then model and output pairs).
    code = ("import sys, numpy as np, keras\n"
            "images = np.load(sys.argv[1])\n"
            "for model_path, output in zip(sys.argv[2::2], sys.argv[3::2]):\n"
            "    model = keras.models.load_model(model_path)\n"
            "    np.save(output, model.predict(images, verbose=0))\n")
    outputs = {kind: tmp_path / f"{kind}.npy" for kind in ("final", "best")}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "images.npy"),
                    *(str(path) for kind, output in outputs.items() for path in (
                        study["dir"] / "runs" / f"{key}.{kind}.keras", output))],
                   check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=120)
    in_process = study["recorder"].predictions[key]  # callback.model at on_train_end
    np.testing.assert_allclose(np.load(outputs["final"]), in_process, rtol=1e-5, atol=1e-6)
    with np.load(study["dir"] / "runs" / f"{key}.predictions.npz") as stored:  # the fused trainer's
        assert (np.load(outputs["final"]).argmax(axis=1) == stored["predicted"][:20]).mean() >= 0.95
    best = keras.models.load_model(study["dir"] / "runs" / f"{key}.best.keras")
    from lenet_bench.networks import models

    reference = models.build_lenet5((28, 28, 1), 10)
    reference.load_weights(study["dir"] / "runs" / f"{key}.weights.h5")
    np.testing.assert_allclose(np.load(outputs["best"]), reference.predict(study["images"], verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert best.count_params() == 61_706


def test_callbacks_get_each_epoch_of_each_run_with_its_logs(study):
    calls = study["recorder"].calls
    for key, run in study["runs"].items():
        mine = [call for call in calls if call[0] == key]
        assert [call[1] for call in mine] == ["train_begin"] + ["epoch_end"] * EPOCHS + ["train_end"]
        epochs = [call for call in mine if call[1] == "epoch_end"]
        assert [call[2] for call in epochs] == list(range(EPOCHS))
        assert [call[3]["test_accuracy"] for call in epochs] == run["history"]["test_accuracy"]
        assert [call[3]["loss"] for call in epochs] == run["history"]["train_loss"]
        assert [call[3]["learning_rate"] for call in epochs] == run["history"]["learning_rate"]


def test_progress_writes_plain_lines_when_not_a_tty(study):
    lines = study["progress"].splitlines()
    assert "\r" not in study["progress"] and len(lines) == SEEDS * EPOCHS  # a group per seed
    assert all(line.startswith("progress: ") for line in lines)
    assert lines[0].startswith("progress: 0/8 runs | eco group 1/2 epoch 1/3 |")
    assert lines[-1].startswith("progress: 8/8 runs | eco group 2/2 epoch 3/3 |")
    assert lines[-1].endswith("ETA 0:00")


def test_progress_bar_redraws_one_line_with_an_eta():
    now = [0.0]
    stream = io.StringIO()
    bar = progress.Progress(total_runs=4, finished_runs=1, pending_epochs=6, stream=stream,
                            bar=True, clock=lambda: now[0])
    bar.experiment_begin("x", groups=1)
    bar.group_begin([], [], 0, [0, 1, 2], None, None)
    now[0] = 30.0
    for _ in range(3):  # One epoch of 3 runs in 30 s: 3 run-epochs left take 30 s more.
        bar.run_epoch_end(0, None, {"status": "running"})
    bar.group_epoch_end(1, 2)
    assert stream.getvalue() == ("\r[######------------------] 1/4 runs | x group 1/1 epoch 1/2 | "
                                 "0:30 elapsed, ETA 0:30\x1b[K")
    bar.finish()
    assert stream.getvalue().endswith("\n")
    assert progress.duration_text(3723) == "1:02:03"


def test_package_installs_into_a_fresh_venv_with_its_console_script(tmp_path):
    """pip installs the repo (no download: the new venv sees this venv's packages through
    a .pth file, and --no-index fails fast if a dependency were missing)."""
    source = tmp_path / "src"
    for name in ("lenet_bench", "experiments"):
        shutil.copytree(REPO_ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "parent_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-index", "--no-build-isolation", str(source)], check=True, timeout=300)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    script = venv / "bin" / "lenet-bench"
    version = subprocess.run([script, "--version"], cwd=tmp_path, env=environment, check=True,
                             capture_output=True, text=True, timeout=60)
    assert version.stdout == f"lenet-bench {lenet_bench.__version__}\n"
    listing = subprocess.run([script, "--list_experiments"], cwd=tmp_path, env=environment,
                             check=True, capture_output=True, text=True, timeout=60).stdout
    from experiments import EXPERIMENTS

    assert [line.split()[0] for line in listing.splitlines()] == list(EXPERIMENTS)
    subpackages = sorted(init.parent.name for init in (REPO_ROOT / "lenet_bench").glob("*/__init__.py"))
    packages = ["lenet_bench", "experiments"] + [f"lenet_bench.{name}" for name in subpackages]
    files = "[importlib.import_module(name).__file__ for name in " + repr(packages) + "]"
    where = subprocess.run([python, "-c", "import importlib, importlib.metadata as m; "
                            f"print(*{files}, m.version('lenet-bench'))"],
                           cwd=tmp_path, check=True, capture_output=True, text=True).stdout.split()
    assert len(packages) >= 8 and where[-1] == lenet_bench.__version__
    assert all(path.startswith(site) for path in where[:-1])


class FailAt(keras.callbacks.Callback):
    """Raises in on_epoch_end of epoch `epoch` (from 0): a kill after that epoch's
    metrics but before its record, TensorBoard step and checkpoint are written."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("killed")


@pytest.mark.parametrize("fail_at, files", [(2, 2), (0, 1)])
def test_resumed_runs_log_each_tensorboard_step_once(tmp_path, fail_at, files):
    """Killed after epoch 2's checkpoint: the resumed run adds a file from step 3.
    Killed in epoch 1 (no checkpoint): the rerun starts over and replaces the file."""
    dataset = data.make_synthetic(num_train=200, num_test=100)
    config = ExperimentConfig(name="resume", dataset="synthetic", epochs=EPOCHS, batch_size=50,
                              seeds=1, grid={"learning_rate": (0.003, 0.001)})
    options = run_options(trainer="fused", jit="off", tensorboard=True)
    with pytest.raises(RuntimeError, match="killed"):
        experiment.run_experiment(config, dataset, tmp_path, options, callbacks=[FailAt(fail_at)])
    experiment.run_experiment(config, dataset, tmp_path, options)
    for spec in runs.run_specs(config):
        folder = tmp_path / "resume" / "tb" / spec.key
        steps = [event.step for event in read_events(folder) for value in event.summary.value
                 if value.tag == "test/accuracy"]
        assert sorted(steps) == [1, 2, 3]
        assert len(list(folder.glob("events.out.tfevents.*"))) == files
