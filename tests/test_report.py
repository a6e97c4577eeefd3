import json
import math

import numpy as np
import pytest

from lenet_bench.files import atomic_write_json
from lenet_bench.records import results
from lenet_bench.reports import report, tables


def fake_run(key, seed, test_accuracy, status="done", learning_rate=0.01, planned_epochs=3):
    epochs = len(test_accuracy)
    return {
        "key": key, "status": status, "wall_seconds": 2.0 * epochs,
        "spec": {"initializer": "uniform", "learning_rate": learning_rate, "lr_decay": 0.9,
                 "optimizer": "adam", "batch_size": 32, "activation": "relu", "epochs": planned_epochs,
                 "train_size": None, "seed": seed},
        "history": {"epoch": list(range(1, epochs + 1)), "test_accuracy": test_accuracy,
                    "train_accuracy": test_accuracy, "epoch_seconds": [2.0] * epochs},
        "best_epoch": int(np.argmax(test_accuracy)) + 1 if status == "done" else None,
        "best_test_accuracy": max(test_accuracy) if status == "done" else None,
        "device": "CPU: test",
    }


@pytest.fixture
def runs():
    rng = np.random.default_rng(0)
    curves = rng.uniform(0.5, 1.0, (4, 3))
    made = [fake_run(f"a{seed}", seed, list(curves[seed])) for seed in range(4)]
    made.append(fake_run("b0", 0, [0.3, 0.4, 0.35], learning_rate=0.1))
    made.append(fake_run("b1", 1, [0.2, None], status="diverged", learning_rate=0.1))
    return made, curves


def test_summary_matches_numpy_reference(runs):
    made, curves = runs
    rows = {row["learning_rate"]: row for row in results.summarize(made)}
    a = rows[0.01]
    assert (a["runs"], a["done"], a["diverged"]) == (4, 4, 0)
    assert a["final_test_accuracy_mean"] == pytest.approx(curves[:, -1].mean())
    assert a["final_test_accuracy_std"] == pytest.approx(curves[:, -1].std(ddof=1))
    assert a["best_test_accuracy_mean"] == pytest.approx(curves.max(axis=1).mean())
    assert a["best_test_accuracy_std"] == pytest.approx(curves.max(axis=1).std(ddof=1))
    assert a["best_test_accuracy_max"] == pytest.approx(curves.max())
    assert a["best_epoch_mean"] == pytest.approx((curves.argmax(axis=1) + 1).mean())
    b = rows[0.1]
    assert (b["runs"], b["done"], b["diverged"]) == (2, 1, 1)
    assert b["best_test_accuracy_mean"] == pytest.approx(0.4) and math.isnan(b["best_test_accuracy_std"])
    assert [row["learning_rate"] for row in results.summarize(made)] == [0.01, 0.1]  # best first


def test_experiment_report_from_run_files_alone(tmp_path, runs):
    made, _ = runs
    (tmp_path / "exp" / "runs").mkdir(parents=True)
    for run in made:
        atomic_write_json(tmp_path / "exp" / "runs" / f"{run['key']}.json", run)
    (tmp_path / "exp" / "runs" / "half.json").write_text('{"key": "half", "hist')  # a torn file
    keys = [run["key"] for run in made] + ["half", "not_started"]
    atomic_write_json(tmp_path / "exp" / "config.json",
                      {"experiment": "exp", "run_keys": keys, "dataset": {"name": "digits"}})
    assert report.main(["report", str(tmp_path)]) == 0
    text = (tmp_path / "exp" / "REPORT.md").read_text()
    assert "runs: 6 finished of 8 (rerun the same command to finish the rest)" in text
    # One finished run and one diverged (a failed run): no interval, undecided.
    assert ("| 2 | lr 0.1 | undecided | 1/2 | 35.00 | – | – | 1/2 (≤ 97%) | > 200 | 40.00 | 2 "
            "| 2.0 |") in text
    assert "| 1 | lr 0.01 | best | 4/4 | 68.75 ± 21.75 | [34.14, 100.00] | – | 0/4 (≤ 53%) |" \
        in text
    assert len(text.split("## Grid points ranked")[1].split("\n")[2].split(" | ")) == 12
    assert "margin ±0.5 points" in text
    csv_lines = (tmp_path / "exp" / "summary.csv").read_text().splitlines()
    assert len(csv_lines) == 3
    assert (tmp_path / "exp" / "figures" / "accuracy_curves.png").stat().st_size > 1000
    assert "[exp](exp/REPORT.md) | digits |" in (tmp_path / "REPORT.md").read_text()


def test_header_shows_threads_only_where_runs_recorded_them(tmp_path, runs):
    made, _ = runs
    for name, threads in (("old", {}), ("new", {"a0": 2, "a1": 2, "a2": 4})):
        (tmp_path / name / "runs").mkdir(parents=True)
        for run in made:
            recorded = {"threads": threads[run["key"]]} if run["key"] in threads else {}
            atomic_write_json(tmp_path / name / "runs" / f"{run['key']}.json", {**run, **recorded})
        atomic_write_json(tmp_path / name / "config.json",
                          {"experiment": name, "run_keys": [run["key"] for run in made],
                           "machine": {"cpu": "test cpu", "cores": 2}})
    old = report.write_experiment_report(tmp_path / "old").read_text()
    assert "- machine: test cpu, 2 cores; device: CPU: test; backend: tensorflow; trainer:" in old
    assert "threads" not in old
    new = report.write_experiment_report(tmp_path / "new").read_text()
    assert "- machine: test cpu, 2 cores; threads: 2, 4, not recorded; device: CPU: test;" in new
    index = report.write_index(tmp_path).read_text()
    assert "test cpu, 2 cores; threads: 2, 4, not recorded; device: CPU: test; Keras backend: tensorflow." in index


def test_report_of_a_folder_without_experiments_fails(tmp_path, capsys):
    assert report.main(["report", str(tmp_path)]) == 2
    assert "holds no experiment" in capsys.readouterr().err
    assert report.main(["report", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'missing'}: no such directory: "
                                       "expected a workdir or experiment folder\n")


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"a": 1})
    atomic_write_json(tmp_path / "x.json", {"a": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 2}


def test_per_epoch_statistics_match_numpy(runs):
    made, curves = runs
    rows = [row for row in report.per_epoch_rows(made, ("learning_rate",))
            if row["setting"] == "lr 0.01"]
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    for epoch, row in enumerate(rows):
        column = curves[:, epoch]
        assert row["seeds"] == 4
        assert row["test_accuracy_mean"] == pytest.approx(column.mean())
        assert row["test_accuracy_std"] == pytest.approx(column.std(ddof=1))
        assert (row["test_accuracy_min"], row["test_accuracy_max"]) == (column.min(), column.max())
    # The diverged run and a run still training stay out, as they do in the summary.
    still_training = fake_run("a9", 9, [0.01, 0.02], status="running")
    rows = report.per_epoch_rows(made + [still_training], ("learning_rate",))
    assert [row["seeds"] for row in rows if row["setting"] == "lr 0.01"] == [4, 4, 4]
    assert [row["seeds"] for row in rows if row["setting"] == "lr 0.1"] == [1, 1, 1]


def test_latex_escapes_each_character_once():
    tex = tables.latex_table(["a_b", "c"], [["⚠ 50% & {x}", "1 ± 2 → 3 \\ ~^$#"]], "cap_tion")
    assert "\\caption{cap\\_tion}" in tex
    assert "$^\\dagger$ 50\\% \\& \\{x\\} & 1 $\\pm$ 2 $\\to$ 3 \\textbackslash{} " \
           "\\textasciitilde{}\\textasciicircum{}\\$\\# \\\\" in tex
    assert "resizebox" not in tex
    wide = tables.latex_table([str(i) for i in range(13)], [list(range(13))], "wide")
    assert "\\resizebox{\\linewidth}{!}{%" in wide and "\\end{tabular}}" in wide


def test_grid_report_has_pivot_latex_heatmap_and_noise(tmp_path):
    rng = np.random.default_rng(1)
    runs_dir = tmp_path / "grid" / "runs"
    runs_dir.mkdir(parents=True)
    keys = []
    for initializer in ("uniform", "glorot_normal"):
        for learning_rate in (0.01, 0.003):
            for seed in range(2):
                run = fake_run(f"{initializer}{learning_rate}s{seed}", seed,
                               list(rng.uniform(0.5, 1.0, 3)), learning_rate=learning_rate)
                run["spec"].update(initializer=initializer, label_noise=0.2 if seed else 0.0,
                                   noise_mode="sampled")
                counts = np.diag(np.full(10, 80)) + 2 * (1 - np.eye(10, dtype=int)) * (seed > 0)
                run["noise"] = {"eps": run["spec"]["label_noise"], "mode": "sampled",
                                "transition_counts": counts.tolist()}
                run["history"]["train_clean_accuracy"] = run["history"]["train_accuracy"]
                keys.append(run["key"])
                atomic_write_json(runs_dir / f"{run['key']}.json", run)
    atomic_write_json(tmp_path / "grid" / "config.json", {
        "experiment": "grid", "run_keys": keys,
        "config": {"grid": {"initializer": ["uniform", "glorot_normal"],
                            "learning_rate": [0.01, 0.003]}},
        "dataset": {"name": "digits", "class_names": [str(i) for i in range(10)]}})
    text = report.write_experiment_report(tmp_path / "grid").read_text()
    # label_noise varies too (by seed here), so it joins the grid fields.
    assert "| initializer | lr 0.01, eps 0 | lr 0.01, eps 0.2 | lr 0.003, eps 0 | lr 0.003, eps 0.2 |" in text
    tex = (tmp_path / "grid" / "pivot.tex").read_text()
    assert "\\toprule" in tex and "$\\pm$" in tex and "glorot\\_normal" in tex
    assert (tmp_path / "grid" / "figures" / "heatmap.png").is_file()
    # One run per point (eps varies by seed): nothing to test, no ANOVA error term.
    assert "No grid point can be tested against the best" in text and "### ANOVA" not in text
    assert "## Label noise" in text and "Each row pools the runs of every" in text
    noise_csv = (tmp_path / "grid" / "noise.csv").read_text().splitlines()
    assert len(noise_csv) == 3  # header, eps 0, eps 0.2
    pivot_csv = (tmp_path / "grid" / "pivot.csv").read_text().splitlines()
    assert pivot_csv[0] == ("initializer,\"lr 0.01, eps 0 mean\",\"lr 0.01, eps 0 std\","
                            "\"lr 0.01, eps 0.2 mean\",\"lr 0.01, eps 0.2 std\","
                            "\"lr 0.003, eps 0 mean\",\"lr 0.003, eps 0 std\","
                            "\"lr 0.003, eps 0.2 mean\",\"lr 0.003, eps 0.2 std\"")
    # Seed 1's matrix is 80 on the diagonal and 2 elsewhere: 80/98 kept, 2/98 per other class,
    # against 0.8 and 0.2/9 expected; the largest gap is on the diagonal, 1.63 points.
    assert "1.63 (0 → 0); max abs z over cells" in text
    matrix_text = (tmp_path / "grid" / "noise_matrix_eps0.2.txt").read_text()
    assert "# expected (%): 80.00 on the diagonal, 2.22 elsewhere" in matrix_text
    assert "# realized - expected (percentage points)" in matrix_text
    index = report.write_index(tmp_path).read_text()
    assert "## Label noise (final test accuracy %, mean ± std over seeds)" in index
    assert "## Best configuration per dataset" in index and "| digits | " in index
    assert "![grid](grid/figures/heatmap.png)" in index
    assert "eps 0: " in index and "eps 0.2: " in index


def test_a_grid_over_later_fields_is_pivoted_by_their_values():
    """Fields outside SETTING_FIELDS (augmentation here) still label and pivot the grid."""
    made = []
    for translation in (0.0, 0.1):
        for rotation in (0.0, 0.05):
            for seed in range(2):
                run = fake_run(f"t{translation}r{rotation}s{seed}", seed,
                               [0.5 + translation + rotation + 0.01 * seed] * 3)
                run["spec"].update(augment_translation=translation, augment_rotation=rotation)
                made.append(run)
    fields = ("augment_translation", "augment_rotation")
    rows = results.summarize(made, fields)
    assert {(row["augment_translation"], row["augment_rotation"]) for row in rows} == {
        (0.0, 0.0), (0.0, 0.05), (0.1, 0.0), (0.1, 0.05)}
    row_labels, column_labels, cells = report.pivot(rows, fields, made)
    assert len(row_labels) == 2 and len(column_labels) == 2
    assert rows[0]["setting"] == "translate 0.1, rotate 0.05"
    assert rows[0]["final_test_accuracy_mean"] == pytest.approx(0.655)


def test_every_point_gets_a_verdict_and_the_index_leads_with_the_counts(tmp_path, capsys):
    """Four learning rates, 15 seeds each (with none failed, "equivalent" needs 14 to show
    a failure rate below 20%): the best, one as good (0.05 points below), one 5 points
    worse, one with 9 of 15 runs at chance (never equivalent: worse by its failures)."""
    spread = np.linspace(-0.002, 0.002, 15)
    finals = {0.01: 0.957 + spread, 0.02: 0.9565 + spread, 0.03: 0.907 + spread,
              0.04: np.r_[np.full(9, 0.10), 0.957 + spread[:6]]}
    runs_dir = tmp_path / "grid" / "runs"
    runs_dir.mkdir(parents=True)
    keys = []
    for learning_rate, accuracies in finals.items():
        for seed, accuracy in enumerate(accuracies):
            run = fake_run(f"lr{learning_rate}s{seed}", seed, [0.5, float(accuracy)],
                           learning_rate=learning_rate, planned_epochs=2)
            keys.append(run["key"])
            atomic_write_json(runs_dir / f"{run['key']}.json", run)
    atomic_write_json(tmp_path / "grid" / "config.json", {
        "experiment": "grid", "run_keys": keys,
        "dataset": {"name": "digits", "class_names": [str(i) for i in range(10)]}})
    assert report.main(["report", str(tmp_path)]) == 0
    text = (tmp_path / "grid" / "REPORT.md").read_text()
    verdicts = {line.split(" | ")[0].strip("| "): line.split(" | ")[1]
                for line in (tmp_path / "grid" / "verdicts.md").read_text().splitlines()[2:]}
    assert verdicts == {"lr 0.01": "best", "lr 0.02": "equivalent", "lr 0.03": "worse",
                        "lr 0.04": "worse"}
    assert "| 9/15 (≤ 81%) |" in text  # Failed, with the 95% upper bound of the rate.
    assert "margin ±0.5 points" in text
    assert "2 worse, 1 equivalent, 0 undecided" in text
    assert "A verdict is about two quantities" in text and "Closed testing" in text
    assert (tmp_path / "grid" / "figures" / "verdicts.png").stat().st_size > 5000
    for word in ("≈", "tied", "not significantly worse", "best set"):
        assert word not in text
    index = (tmp_path / "REPORT.md").read_text()
    # Learned mean, seeds, failed, worse, equivalent, undecided, margin.
    assert "| [grid](grid/REPORT.md) | digits | lr 0.01 | 95.70 | 15 | 0/15 | 2 | 1 | 0 | 0.5 |" \
        in index
    assert report.main(["report", str(tmp_path), "--margin=0.05"]) == 0
    assert "margin ±0.05 points" in (tmp_path / "grid" / "REPORT.md").read_text()
    assert "| lr 0.02 | undecided |" in (tmp_path / "grid" / "verdicts.md").read_text()
    capsys.readouterr()
    assert report.main(["report", str(tmp_path), "--margin=-1"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: --margin=-1: expected --margin=POINTS, the equivalence margin in accuracy points")


def test_a_checkout_without_predictions_keeps_the_stored_classification_report(tmp_path):
    """Predictions are not committed: a rebuilt report reads the tables written before."""
    from lenet_bench.reports import companion_report

    (tmp_path / "classification_report.txt").write_text(
        f"{companion_report.CLASSIFICATION_TITLE}lr 0.01, seed 0 (the median run)\n"
        "              precision    recall  f1-score   support\n\n"
        "    accuracy                         0.9844       450\n")
    (tmp_path / "classification_report.csv").write_text(
        "class,precision,recall,f1-score,support\n0,1.0,0.5,0.6667,4.0\n")
    lines = companion_report.stored_classification_lines(tmp_path)
    assert lines[2].startswith("lr 0.01, seed 0 (the median run); accuracy 98.44%.")
    assert "| 0 | 100.00 | 50.00 | 66.67 | 4 |" in lines[-1]
    (tmp_path / "classification_report.csv").unlink()
    assert companion_report.stored_classification_lines(tmp_path) == []
