"""--seeds=auto: the race replayed from its run files with decision's rule, its plan fixed
at the first look, and a race on digits end to end, resumed from its first round's run
files (the rule's error rates by simulation: test_decision_simulation.py)."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from cli_runner import one_thread_here, run_cli
from conftest import REPO_ROOT

from lenet_bench.config import ExperimentConfig, validate
from lenet_bench.errors import InputError
from lenet_bench import runs as runs_module
from lenet_bench.records import decision, race_rule
from lenet_bench.study import racing


def write_run(runs_dir, point: ExperimentConfig, seed: int, accuracy: float | None,
              status: str = "done") -> None:
    """A finished run's file, as far as the race reads it."""
    spec = runs_module.point_spec(point, seed)
    path = runs_module.run_path(runs_dir, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"status": status, "results_format": runs_module.RESULTS_FORMAT,
                                "final_test_accuracy": accuracy,
                                "history": {"test_accuracy": [accuracy]}}))


def test_the_race_replays_its_run_files_with_decisions_rule(tmp_path):
    """replay reads each point's seeds up to the first one missing (a diverged run is a
    failed one) and judges them as decision.race_look does on the same runs."""
    config = ExperimentConfig(name="r", dataset="digits", seeds="auto", min_seeds=3,
                              max_seeds=5, margin=0.5, grid={"learning_rate": (0.01, 0.02, 9.0)})
    points = config.grid_points()
    values = {0: [0.97, 0.975, 0.972], 1: [0.969, 0.974, 0.97, None], 2: [0.90, 0.902, 0.899]}
    for index, accuracies in values.items():
        for seed, accuracy in enumerate(accuracies):
            write_run(tmp_path, points[index], seed, accuracy,
                      "diverged" if accuracy is None else "done")
    write_run(tmp_path, points[1], 5, 0.5)  # Beyond a missing seed 4: not read.
    accuracies, counts = race_rule.point_results(tmp_path, points, 0, 5)
    assert counts.tolist() == [3, 4, 3] and np.isnan(accuracies[1, 3])
    race = race_rule.replay(config, tmp_path, 10)
    frame = pd.DataFrame([(index, seed, np.nan if a is None else a)
                          for index, runs in values.items() for seed, a in enumerate(runs)],
                         columns=["point", "seed", "accuracy"])
    expected = decision.race_look(frame, point="point", value="accuracy", min_seeds=3,
                                  max_seeds=5, step=race_rule.SEEDS_PER_ROUND, margin=0.5)
    assert race.verdicts == expected["verdict"].tolist()
    assert race.wanted == expected["seeds_wanted"].tolist()
    assert race.verdicts[2] == "worse" and race.stopped[2] == "decided"


def test_replay_reads_seeds_up_to_the_first_missing_one_and_up_to_max_seeds(tmp_path):
    """A seed missing ends a point's runs (later ones are another study's); the race reads
    as far as its last look, max_seeds, and a finished race counts its looks."""
    config = ExperimentConfig(name="r", dataset="digits", seeds="auto", min_seeds=3,
                              max_seeds=7, margin=0.5, grid={"learning_rate": (0.01, 0.02)})
    near, far = config.grid_points()
    for seed in range(8):  # Seed 7 lies beyond max_seeds.
        write_run(tmp_path, near, seed, 0.97 + 0.001 * (seed % 3))
    for seed in (0, 1, 2, 4):  # Seed 3 is missing.
        write_run(tmp_path, far, seed, 0.90 + 0.001 * seed)
    accuracies, counts = race_rule.point_results(tmp_path, [near, far], 0, 7)
    assert counts.tolist() == [7, 3] and np.isnan(accuracies[1, 3:]).all()
    race = race_rule.replay(config, tmp_path, 10)
    assert race.runs_on_disk == 10
    assert race.verdicts == ["best", "worse"] and race.stopped[1] == "decided"
    assert race.finished == (race.wanted == race.seeds) and race.finished
    assert race.looks_taken == 1 + max(index for index, seeds in
                                       enumerate(race_rule.plan_of(config).looks)
                                       if seeds <= max(race.seeds))
    with pytest.raises(dataclasses.FrozenInstanceError):
        race.finished = False


def replay_two_points(folder, runs, margin: float) -> list[str]:
    """The verdicts of a one-look race (5 seeds) of two points with these accuracies, no
    failure limit to meet and this margin in points."""
    config = ExperimentConfig(name="r", dataset="digits", seeds="auto", min_seeds=5,
                              max_seeds=5, margin=margin, failure_limit=1.0,
                              grid={"learning_rate": (0.01, 0.02)})
    for point, accuracies in zip(config.grid_points(), runs):
        for seed, accuracy in enumerate(accuracies):
            write_run(folder, point, seed, float(accuracy))
    return race_rule.replay(config, folder, 10).verdicts


def test_the_margin_is_read_in_points(tmp_path):
    """With no failure limit to meet, a noisy point a tenth of a point below the best:
    undecided within 0.5 points (its interval reaches past -0.5), equivalent within 2 (a
    margin read as a fraction, 50 points, would make it equivalent at 0.5 too)."""
    runs = [0.970 + np.array([0, 1, -1, 0.5, -0.5]) * 1e-4,
            0.969 + np.array([1, -1, 0.5, -0.5, 0]) * 1e-2]
    for margin, expected in ((0.5, ["best", "undecided"]), (2.0, ["best", "equivalent"])):
        assert replay_two_points(tmp_path / f"margin{margin}", runs, margin) == expected


def test_the_replay_agrees_with_race_look_at_the_margin_where_the_verdict_turns(tmp_path):
    """The margin at which race_look turns the noisy point from undecided to equivalent,
    found by bisection; the replay agrees 0.4% on either side of it (so a margin converted
    with any other scale, say points / 101, does not)."""
    runs = [0.970 + np.array([0, 1, -1, 0.5, -0.5]) * 1e-4,
            0.969 + np.array([1, -1, 0.5, -0.5, 0]) * 1e-2]
    frame = pd.DataFrame([(point, seed, accuracy) for point, accuracies in enumerate(runs)
                          for seed, accuracy in enumerate(accuracies)],
                         columns=["point", "seed", "accuracy"])

    def verdict(margin):
        return decision.race_look(frame, point="point", value="accuracy", margin=margin,
                                  failure_limit=1.0, min_seeds=5, max_seeds=5,
                                  step=race_rule.SEEDS_PER_ROUND)["verdict"].tolist()[1]

    low, high = 0.5, 2.0
    assert (verdict(low), verdict(high)) == ("undecided", "equivalent")
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (low, middle) if verdict(middle) == "equivalent" else (middle, high)
    for margin, expected in ((high * 1.004, "equivalent"), (low * 0.996, "undecided")):
        assert replay_two_points(tmp_path / f"margin{margin}", runs, margin) == ["best", expected]


def test_a_race_short_of_runs_asks_for_the_current_look(tmp_path):
    config = ExperimentConfig(name="r", dataset="digits", seeds="auto", min_seeds=3,
                              max_seeds=5, grid={"learning_rate": (0.01, 0.02)})
    for seed in range(2):
        write_run(tmp_path, config.grid_points()[0], seed, 0.97)
    race = race_rule.replay(config, tmp_path, 10)
    assert not race.finished and race.looks_taken == 0 and race.wanted == [3, 3]
    assert race.why == ["open: 3 seeds wanted", "open: 3 seeds wanted"]


def test_the_plan_spends_alpha_over_its_looks():
    config = ExperimentConfig(name="r", dataset="digits", seeds="auto", min_seeds=3,
                              max_seeds=8)
    plan = race_rule.plan_of(config)
    assert plan.looks == (3, 5, 7, 8)
    assert sum(plan.alphas) == pytest.approx(0.05)


def test_seeds_takes_auto_or_an_integer_and_the_race_fields_are_checked():
    config = ExperimentConfig(name="x", dataset="digits", seeds="auto")
    validate(config)
    assert ExperimentConfig(name="x", dataset="digits", seeds="4").seeds == 4
    with pytest.raises(InputError, match=r"--seeds='many' is invalid: expected an integer "
                                         r">= 1 or auto"):
        validate(ExperimentConfig(name="x", dataset="digits", seeds="many"))
    with pytest.raises(InputError, match=r"--max_seeds=2 is invalid: expected at least "
                                         r"--min_seeds=3"):
        validate(ExperimentConfig(name="x", dataset="digits", seeds="auto", max_seeds=2))
    with pytest.raises(InputError, match=r"--seeds='auto' is invalid with a search"):
        validate(ExperimentConfig(name="x", dataset="digits", seeds="auto",
                                  search={"learning_rate": {"uniform": [0.001, 0.01]}}))
    with pytest.raises(InputError, match=r"--margin=0 is invalid"):
        validate(ExperimentConfig(name="x", dataset="digits", margin=0))


# End to end: lr 0.0002 learns far less in one epoch (worse at the first look); lr 10
# never learns, and a point with failures stays open, so the race takes a second look.
RACE_FLAGS = ["--experiment=digits_smoke", "--seeds=auto", "--max_seeds=4", "--epochs=1",
              "--grid=learning_rate=0.005,0.0002,10.0", "--jit=off", "--threads=1",
              "--tensorboard=false", "--keras_models=false", "--progress=log"]


def assert_progress_stays_true(stderr: str, runs: int) -> None:
    """The race's progress lines never show more runs done than their total, and end
    with every run it trained done."""
    counts = [(int(done), int(total))
              for done, total in re.findall(r"progress: (\d+)/(\d+) runs \(race: ", stderr)]
    assert counts and all(done <= total for done, total in counts), counts
    assert counts[-1] == (runs, runs)


def race(workdir, monkeypatch, capfd):
    """The race's command on `workdir`: in this process where TensorFlow runs one thread
    as --threads=1 asks (cli_runner.one_thread_here); else, where it may run more (the
    straight race and the resumed one must train alike), `python -m lenet_bench`."""
    flags = [*RACE_FLAGS, f"--workdir={workdir}"]
    if one_thread_here():
        return run_cli(flags, monkeypatch=monkeypatch, capfd=capfd,
                       env={"TF_CPP_MIN_LOG_LEVEL": "2"}, cwd=REPO_ROOT)
    return subprocess.run([sys.executable, "-m", "lenet_bench", *flags], cwd=REPO_ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                          capture_output=True, text=True)


def race_result(workdir):
    race = json.loads((workdir / "digits_smoke" / "race.json").read_text())
    report_text = (workdir / "digits_smoke" / "REPORT.md").read_text()
    section = report_text[report_text.index("## Race"):]
    return race, section[:section.index("\n## ", 1)]


def test_a_race_drops_the_worse_point_and_resumes_from_its_first_round(tmp_path, monkeypatch,
                                                                        capfd):
    """The race end to end; then a workdir left as a kill -9 between the rounds leaves
    it (the first round's run files alone) resumes to the same race and report."""
    straight = race(tmp_path / "straight", monkeypatch, capfd)
    assert straight.returncode == 0, straight.stderr[-2000:]
    race_json, section = race_result(tmp_path / "straight")
    assert race_json["finished"]
    seeds = {point["point"].split("_")[2]: point["seeds"] for point in race_json["points"]}
    assert seeds == {"lr0.005": 4, "lr0.0002": 3, "lr10": 4}
    verdicts = {point["point"].split("_")[2]: point["verdict"] for point in race_json["points"]}
    assert verdicts["lr0.0002"] == "worse" and verdicts["lr0.005"] == "best"
    assert_progress_stays_true(straight.stderr, sum(seeds.values()))

    killed_runs = tmp_path / "killed" / "digits_smoke" / "runs"
    killed_runs.mkdir(parents=True)
    for path in (tmp_path / "straight" / "digits_smoke" / "runs").glob("*_seed[012]_*.json"):
        shutil.copy(path, killed_runs / path.name)
    assert len(list(killed_runs.glob("*.json"))) == 9
    resumed = race(tmp_path / "killed", monkeypatch, capfd)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "9 already finished, 2 to train" in resumed.stderr
    assert_progress_stays_true(resumed.stderr, sum(seeds.values()))
    assert race_result(tmp_path / "killed") == (race_json, section)


@pytest.mark.parametrize("max_seeds", [3, 9])
def test_a_race_resumed_under_another_plan_is_refused(tmp_path, max_seeds):
    """A lowered or a raised --max_seeds after the first look would change the alpha each
    look spends after seeing data: refused in one line naming the file and the change."""
    started = ExperimentConfig(name="digits_smoke", dataset="digits", seeds="auto", max_seeds=5)
    racing.write_race_plan(started, tmp_path / "digits_smoke")
    racing.check_race_plan(started, tmp_path)  # The same plan resumes.
    changed = dataclasses.replace(started, max_seeds=max_seeds)
    with pytest.raises(InputError, match=rf"race_plan.json: this race started under another "
                                         rf"plan \(max_seeds 5 -> {max_seeds}\); a race's plan is fixed"):
        racing.check_race_plan(changed, tmp_path)


def test_the_cli_refuses_a_race_resumed_under_another_plan(tmp_path, monkeypatch, capfd):
    plan = ExperimentConfig(name="digits_smoke", dataset="digits", seeds="auto", max_seeds=5)
    racing.write_race_plan(plan, tmp_path / "digits_smoke")
    result = run_cli([*RACE_FLAGS, f"--workdir={tmp_path}"], monkeypatch=monkeypatch, capfd=capfd,
                     cwd=REPO_ROOT)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "max_seeds 5 -> 4" in result.stderr
    assert not (tmp_path / "digits_smoke" / "runs").exists()
