"""lenet_bench.reports.compare: two tiny workdirs written here, lined up point by point."""

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lenet_bench import runs
from lenet_bench.files import atomic_write_json
from lenet_bench.architectures import MODEL_FIELD_DEFAULTS
from lenet_bench.reports import compare

REPO = Path(__file__).resolve().parent.parent
A_ACCURACY = {0.01: [0.90, 0.92, 0.94], 0.003: [0.80, 0.84, 0.85], 0.1: [0.5, 0.6]}
B_ACCURACY = {0.01: [0.91, 0.95, 0.96], 0.003: [0.83], 0.03: [0.88, 0.89]}
A_VERSIONS = {"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1"}
B_VERSIONS = {"python": "3.12.3", "jax": "0.10.2", "keras": "3.15.1"}


def run_record(learning_rate: float, seed: int, accuracy: float, seconds: float,
               backend: str | None) -> dict:
    """A finished run's record, shaped like trainers.group_loop.new_record's."""
    spec = dataclasses.asdict(runs.RunSpec(dataset="digits", seed=seed, epochs=2,
                                           learning_rate=learning_rate))
    key = runs.RunSpec(**spec).key + (f"_{backend}" if backend else "")
    if backend:
        spec["backend"] = backend
    return {"results_format": runs.RESULTS_FORMAT, "key": key, "experiment": "grid",
            "spec": spec, "status": "done", "epochs_done": 2,
            "history": {"epoch": [1, 2], "test_accuracy": [accuracy - 0.1, accuracy],
                        "train_accuracy": [0.5, 0.6], "epoch_seconds": [seconds / 2] * 2},
            "best_epoch": 2, "best_test_accuracy": accuracy, "diverged_epoch": None,
            "num_params": 61_706, "trainer": "fused", "device": "CPU: test",
            "wall_seconds": seconds}


def write_workdir(root: Path, accuracy: dict, seconds: float, versions: dict,
                  backend: str | None, experiment: str = "grid") -> list[dict]:
    records = [run_record(lr, seed, value, seconds, backend)
               for lr, values in accuracy.items() for seed, value in enumerate(values)]
    (root / experiment / "runs").mkdir(parents=True)
    for record in records:
        atomic_write_json(root / experiment / "runs" / f"{record['key']}.json", record)
    config = {"name": experiment, "dataset": "digits",
              "grid": {"learning_rate": list(accuracy)}}
    if backend:
        config["backend"] = backend
    atomic_write_json(root / experiment / "config.json", {
        "experiment": experiment, "config": config,
        "run_keys": [record["key"] for record in records],
        "machine": {"cpu": f"cpu of {root.name}", "cores": 2, "gpus": []}, "versions": versions})
    return records


@pytest.fixture
def workdirs(tmp_path):
    a, b = tmp_path / "wd_a", tmp_path / "wd_b"
    records = write_workdir(a, A_ACCURACY, 10.0, A_VERSIONS, None)
    old = records[0]  # Written before these fields existed.
    for field in ("precision", "validation_split", "augment_zoom", "split", *MODEL_FIELD_DEFAULTS):
        del old["spec"][field]
    atomic_write_json(a / "grid" / "runs" / f"{old['key']}.json", old)
    write_workdir(a, {0.01: [0.7]}, 1.0, A_VERSIONS, None, experiment="only_in_a")
    write_workdir(b, B_ACCURACY, 2.5, B_VERSIONS, "jax")
    return str(a), str(b)


def table_row(text: str, label: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_points_line_up_with_welch_intervals_and_times(workdirs):
    text = compare.compare(*workdirs)
    assert "## grid" in text and "only_in_a" not in text
    a, b = np.array(A_ACCURACY[0.01]), np.array(B_ACCURACY[0.01])
    interval = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert table_row(text, "lr 0.01") == [
        "lr 0.01", f"{100 * a.mean():.2f} ± {100 * a.std(ddof=1):.2f}", "3",
        f"{100 * b.mean():.2f} ± {100 * b.std(ddof=1):.2f}", "3",
        f"{100 * (b.mean() - a.mean()):+.2f}",
        f"[{100 * interval.low:+.2f}, {100 * interval.high:+.2f}]", "10.0", "2.5", "0.25"]
    single = table_row(text, "lr 0.003")  # One seed in B: a difference, no interval.
    assert single[4:7] == ["1", f"{100 * (0.83 - np.mean(A_ACCURACY[0.003])):+.2f}", "n/a"]
    assert "- points only in A (1): lr 0.1" in text
    assert "- points only in B (1): lr 0.03" in text
    assert table_row(text, "backend")[1:] == ["tensorflow", "jax"]
    assert table_row(text, "versions")[1:] == ["python 3.11.7, tensorflow 2.21.0, keras 3.15.1",
                                               "python 3.12.3, jax 0.10.2, keras 3.15.1"]
    assert table_row(text, "runs")[1:] == ["8 of 8 planned (8 done, 0 diverged)",
                                           "6 of 6 planned (6 done, 0 diverged)"]
    includes = int(interval.low <= 0 <= interval.high)
    mean_difference = np.mean([b.mean() - a.mean(), 0.83 - np.mean(A_ACCURACY[0.003])])
    assert (f"**Summary:** {includes} of 1 points' 95% intervals include 0 (1 n/a); mean "
            f"difference B − A: {100 * mean_difference:+.2f} pp over 2 points; "
            "time per run B/A: 0.25") in text


@pytest.mark.parametrize("a, b", [([0.9, 0.92, 0.95, 0.91], [0.93, 0.94]),
                                  ([0.5, 0.52, 0.49], [0.6, 0.62, 0.7, 0.71, 0.69])])
def test_welch_interval_matches_scipy(a, b):
    difference, low, high = compare.welch_interval(
        (np.mean(a), np.std(a, ddof=1), len(a)), (np.mean(b), np.std(b, ddof=1), len(b)))
    expected = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert difference == pytest.approx(np.mean(b) - np.mean(a))
    assert (low, high) == pytest.approx((expected.low, expected.high))


@pytest.mark.parametrize("a, b, difference", [
    ((0.9, math.nan, 1), (0.8, 0.01, 3), -0.1),  # One seed: no spread to scale by.
    ((0.9, 0.0, 3), (0.95, 0.0, 2), 0.05),       # Zero variance on both sides.
    ((math.nan, math.nan, 0), (0.8, 0.01, 3), math.nan)])  # No finished run in A.
def test_welch_interval_is_nan_without_spread(a, b, difference):
    result = compare.welch_interval(a, b)
    assert result[0] == pytest.approx(difference, nan_ok=True)
    assert math.isnan(result[1]) and math.isnan(result[2])


def test_bad_input_is_one_line_naming_it_exit_2(workdirs, tmp_path, capsys):
    a, b = workdirs
    (tmp_path / "empty").mkdir()
    write_workdir(tmp_path / "other", {0.01: [0.9]}, 1.0, A_VERSIONS, None, experiment="else")
    cases = [
        ([a, str(tmp_path / "nope")], f"{tmp_path / 'nope'}: holds no experiment"),
        ([str(tmp_path / "empty"), b], f"{tmp_path / 'empty'}: holds no experiment"),
        ([a, str(tmp_path / "other")], "no experiment in common"),
        ([a, b, "--experiment=only_in_a"], f"--experiment=only_in_a: not in {b}"),
        ([a, b, "--experiment=grdi"], "--experiment=grdi: not in"),
        ([a, b, "--colour=red"], "colour"),
        ([a], "1 workdirs given"),
        ([a, b, f"--out={tmp_path / 'no' / 'x.md'}"], "--out="),
    ]
    for argv, named in cases:
        assert compare.main(["compare", *argv]) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1, captured.err
        assert captured.err.startswith("error: ") and named in captured.err, captured.err


def test_command_line_writes_out_file_without_tensorflow(workdirs, tmp_path):
    out = tmp_path / "compare.md"
    code = ("import json, sys; from lenet_bench.reports import compare; "
            f"code = compare.main(['compare', *{list(workdirs)!r}, '--experiment=grid', "
            f"'--out={out}']); "
            "print(json.dumps([code, sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('tensorflow', 'keras'))]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, []]
    assert out.read_text() in done.stdout and "| lr 0.01 |" in out.read_text()
