"""Reports in plain units and formats: times a reader takes in, epochs as whole numbers,
a final accuracy for every finished run, integer epoch ticks, no lock file left behind."""

import math

import numpy as np
import pytest
from test_report import fake_run

from lenet_bench.files import atomic_write_json
from lenet_bench.records import results
from lenet_bench.reports import plots, report
from lenet_bench.reports.tables import duration_words, epoch_text
from lenet_bench.study import workdir


@pytest.mark.parametrize("seconds, text", [
    (0.004, "0.0 s"), (4.24, "4.2 s"), (42.4, "42 s"), (59.6, "1 min 00 s"),
    (185, "3 min 05 s"), (3599.4, "59 min 59 s"), (18240, "5 h 04 min"), (math.nan, "–")])
def test_durations_in_human_units(seconds, text):
    assert duration_words(seconds) == text


@pytest.mark.parametrize("mean, std, text", [
    (5.0, 0.0, "5"), (5.0, math.nan, "5"), (4.5, 0.7071, "4.5 ± 0.7"), (5.0, 1.414, "5 ± 1.4"),
    (math.nan, math.nan, "–")])
def test_epochs_as_the_runs_write_them(mean, std, text):
    assert epoch_text(mean, std) == text


def short_study(root):
    """Three one-epoch runs of 2 s each, written as a run leaves them."""
    made = [fake_run(f"a{seed}", seed, [0.5 + seed / 100], planned_epochs=1) for seed in range(3)]
    (root / "exp" / "runs").mkdir(parents=True)
    for run in made:
        atomic_write_json(root / "exp" / "runs" / f"{run['key']}.json", run)
    atomic_write_json(root / "exp" / "config.json", {
        "experiment": "exp", "run_keys": [run["key"] for run in made],
        "dataset": {"name": "digits"}, "results_format": 3})
    return made


def test_a_short_study_reads_in_seconds_and_whole_epochs(tmp_path):
    short_study(tmp_path)
    text = report.write_experiment_report(tmp_path / "exp").read_text()
    assert "- training time: 6.0 s in total" in text
    row = next(line for line in text.splitlines() if line.startswith("| 1 | "))
    assert row.split(" | ")[-2] == "1"  # best epoch: every seed's was 1, as the runs say
    index = report.write_index(tmp_path).read_text()
    assert "Training time 6.0 s (the runs' epoch times summed" in index
    assert "0.00 h" not in index


def test_every_finished_run_has_a_final_test_accuracy(tmp_path):
    made = short_study(tmp_path)
    made.append(fake_run("running", 3, [0.4], status="running"))
    df = results.frame(made)
    done = df[df.status == "done"]
    assert done.final_test_accuracy.tolist() == pytest.approx([0.5, 0.51, 0.52])
    assert df[df.status == "running"].final_test_accuracy.isna().all()


@pytest.mark.parametrize("epochs", [1, 2, 3])
def test_few_epoch_figures_have_integer_ticks(epochs):
    from matplotlib.figure import Figure

    axes = Figure().add_subplot()
    plots._plot_band(axes, np.full((2, epochs), 0.5), "C0", "test")
    low, high = axes.get_xlim()
    ticks = [tick for tick in axes.get_xticks() if low <= tick <= high]
    assert ticks == list(range(1, epochs + 1))


def test_the_lock_file_is_removed_after_the_run(tmp_path):
    experiment_dir = tmp_path / "exp"
    with workdir.experiment_lock(experiment_dir, tmp_path):
        assert (experiment_dir / workdir.LOCK_FILE).is_file()
        with workdir.experiment_lock(experiment_dir, tmp_path):  # nested: still held after
            pass
        assert (experiment_dir / workdir.LOCK_FILE).is_file()
    assert not (experiment_dir / workdir.LOCK_FILE).exists()
    assert [path.name for path in experiment_dir.iterdir()] == ["runs"]


def test_a_lock_removed_as_it_was_taken_is_taken_anew(tmp_path, monkeypatch):
    """The holder removes the file between a second process's open and its flock: the second
    process must not hold the removed file while a third locks a new one."""
    experiment_dir = tmp_path / "exp"
    experiment_dir.mkdir()
    real_flock, removed = workdir.fcntl.flock, []

    def flock_after_removal(handle, operation):
        if not removed and operation & workdir.fcntl.LOCK_EX:
            (experiment_dir / workdir.LOCK_FILE).unlink()
            removed.append(True)
        return real_flock(handle, operation)

    monkeypatch.setattr(workdir.fcntl, "flock", flock_after_removal)
    with workdir.experiment_lock(experiment_dir, tmp_path):
        held = experiment_dir / workdir.LOCK_FILE
        assert removed and held.is_file()  # the path it holds is the one others will open
