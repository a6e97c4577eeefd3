"""The examples run as a user runs them, and give what they promise.

They train, so they share one folder, in file order, as a user who runs them one after
another would: verdicts.py and compare_workdirs.py reuse quickstart.py's finished runs
(a rerun trains nothing that is done), which is part of what they show. Each still
passes alone (`-k verdicts`): it then trains what it needs.
"""

import json
import re
import runpy

import pytest

from conftest import REPO_ROOT

from lenet_bench import config

# One worker runs them all, in order, so that they share their folder (`make test`'s
# `--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("examples")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The folder every example of this module runs in (its results land under it)."""
    return tmp_path_factory.mktemp("examples")


def run_example(name: str, folder, monkeypatch) -> dict:
    """Runs examples/<name>.py whole, in `folder`; returns its globals (its cells' names)."""
    monkeypatch.chdir(folder)
    return runpy.run_path(str(REPO_ROOT / "examples" / f"{name}.py"))


def test_quickstart_runs_a_study_and_reads_one_row_per_run(shared, monkeypatch):
    cells = run_example("quickstart", shared, monkeypatch)
    study = cells["study"]
    runs = study.runs
    assert len(runs) == 4 and list(runs["status"]) == ["done"] * 4  # 2 rates x 2 seeds.
    assert set(config.field_names(run=True)) <= set(runs.columns)
    assert sorted(zip(runs["learning_rate"], runs["seed"])) == [
        (0.003, 0), (0.003, 1), (0.01, 0), (0.01, 1)]
    assert set(runs["epochs"]) == {2} and set(runs["train_size"]) == {600}
    assert runs["test_accuracy"].between(0.2, 1).all()
    assert len(study.epochs) == 8  # 4 runs x 2 epochs.
    mean = cells["mean_accuracy"]
    assert list(mean.index) == [0.003, 0.01] and list(mean["count"]) == [2, 2]
    assert study.report_path == shared / "results" / "digits_smoke" / "REPORT.md"
    assert study.report_path.is_file()
    assert (shared / "results" / "quickstart_curves.png").stat().st_size > 5000


def test_custom_grid_trains_every_combination_of_its_own_grid(shared, monkeypatch):
    cells = run_example("custom_grid", shared, monkeypatch)
    runs = cells["study"].runs
    assert set(runs["experiment"]) == {"my_grid"} and set(runs["dataset"]) == {"digits"}
    assert sorted(zip(runs["initializer"], runs["learning_rate"], runs["seed"])) == sorted(
        (initializer, rate, seed) for initializer in ("glorot_uniform", "he_normal")
        for rate in (0.01, 0.003) for seed in (0, 1))
    assert set(runs["status"]) == {"done"} and set(runs["lr_decay"]) == {0.9}
    pivot = cells["pivot"]
    assert list(pivot.index) == ["glorot_uniform", "he_normal"]
    assert list(pivot.columns) == [0.003, 0.01] and pivot.notna().all().all()
    assert {"summary.csv", "pivot.csv", "verdicts.csv"} <= set(cells["report_files"])


def test_verdicts_reads_a_verdict_per_grid_point_and_plots_every_run(shared, monkeypatch):
    cells = run_example("verdicts", shared, monkeypatch)
    study, final, mine = cells["study"], cells["final"], cells["mine"]
    assert len(final) == 6 and sorted(set(final["seed"])) == [0, 1, 2]  # 2 rates x 3 seeds.
    reported = study.verdicts.set_index("setting")
    assert sorted(reported["verdict"]) in (["best", "equivalent"], ["best", "undecided"],
                                           ["best", "worse"])
    assert list(reported["seeds"]) == [3, 3]
    assert sorted(mine["learning_rate"]) == [0.003, 0.01] and list(mine["seeds"]) == [3, 3]
    for point in mine.itertuples():
        runs = final.loc[final.learning_rate == point.learning_rate, "test_accuracy"]
        assert runs.mean() == pytest.approx(point.learned_mean)
    # decide on the runs table agrees with the report (the same runs, the same margin).
    assert sorted(zip(mine["learned_mean"].round(9), mine["verdict"])) == \
        sorted(zip(reported["learned_mean"].round(9), reported["verdict"]))
    assert (shared / "results" / "verdicts.png").stat().st_size > 5000


def test_compare_workdirs_lines_up_the_same_points_of_two_workdirs(shared, monkeypatch):
    runs_dir = shared / "results" / "digits_smoke" / "runs"
    written = {path: path.stat().st_mtime_ns for path in runs_dir.glob("*.json")}
    cells = run_example("compare_workdirs", shared, monkeypatch)
    # Workdir A is quickstart's: its finished runs were kept, not trained again.
    assert written and {path: path.stat().st_mtime_ns for path in written} == written
    text = cells["text"]
    assert "| lr 0.003 |" in text and "| lr 0.01 |" in text
    assert "points only in A (0)" in text and "points only in B (0)" in text
    assert re.search(r"\*\*Summary:\*\* \d of 2 points", text)
    both = cells["both"]
    assert len(both) == 4 and both["test_accuracy_alone"].between(0.2, 1).all()


def test_resume_trains_only_the_cut_group_from_its_checkpoint(shared, monkeypatch):
    cells = run_example("resume", shared, monkeypatch)
    left = cells["left"]
    assert sorted(left.values()) == [("done", 2), ("done", 2), ("running", 1), ("running", 1)]
    assert len(cells["checkpoints"]) == 1
    study = cells["study"]
    seed_one = set(study.runs.loc[study.runs.seed == 1, "run_key"])
    assert sorted(cells["trained"].epochs) == sorted((key, 2) for key in seed_one)
    assert set(study.runs["status"]) == {"done"} and len(study.runs) == 4
    uninterrupted = shared / "results" / "digits_smoke" / "runs"  # quickstart's runs
    if uninterrupted.is_dir():  # Run after quickstart: the same runs, bit for bit on CPU.
        for row in study.runs.itertuples():
            record = json.loads((uninterrupted / f"{row.run_key}.json").read_text())
            assert record["history"]["test_accuracy"][-1] == row.test_accuracy
