"""The examples run as a user runs them, and give what they promise."""

import runpy

from conftest import REPO_ROOT

from lenet_bench import config


def test_quickstart_runs_a_study_and_reads_one_row_per_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Its results go under the current folder.
    cells = runpy.run_path(str(REPO_ROOT / "examples" / "quickstart.py"))
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
    assert study.report_path == tmp_path / "results" / "digits_smoke" / "REPORT.md"
    assert study.report_path.is_file()
    assert (tmp_path / "results" / "quickstart_curves.png").stat().st_size > 5000
