"""--seeds=auto: the race's error rates by simulation, its tests against scipy/statsmodels,
and a race on digits end to end, resumed from its first round's run files."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from cli_runner import one_thread_here, run_cli
from conftest import REPO_ROOT
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind

from lenet_bench.config import ExperimentConfig, validate
from lenet_bench.errors import InputError
from lenet_bench.records import race_rule
from lenet_bench.study import racing

PLAN = race_rule.RacePlan(min_seeds=3, max_seeds=9, margin=0.005)
LEARNED_STD = 0.003
CHANCE = 0.1


def draw(rng, mean: float, failure_rate: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` runs of a point: learned runs ~ N(mean, LEARNED_STD), failed ones at chance."""
    failed = rng.random(count) < failure_rate
    accuracies = np.where(failed, rng.normal(CHANCE, 0.002, count),
                          rng.normal(mean, LEARNED_STD, count))
    return accuracies, failed


def simulate(points: list[tuple[float, float]], races: int, seed: int) -> list[race_rule.Race]:
    """`races` races over points given as (learned mean, failure rate)."""
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(races):
        drawn = [draw(rng, mean, rate, PLAN.max_seeds) for mean, rate in points]
        results.append(race_rule.advance([acc for acc, _ in drawn], [f for _, f in drawn], PLAN))
    return results


def rate_bound(races: int) -> float:
    """Nominal alpha plus three simulation standard errors."""
    return PLAN.alpha + 3 * np.sqrt(PLAN.alpha * (1 - PLAN.alpha) / races)


def report(name: str, text: str) -> None:
    print(f"\n[race simulation] {name}: {text}")


def test_no_truly_not_worse_point_is_called_worse_even_with_runs_at_chance():
    """Four points from one bimodal distribution (1 run in 10 at chance): every point is
    truly as good as the best, so any 'worse' is an error; per race (family-wise)."""
    races = simulate([(0.98, 0.1)] * 4, races=400, seed=1)
    errors = np.mean([race_rule.WORSE in race.verdicts for race in races])
    report("4 equal bimodal points", f"races with a point called worse {errors:.3f} "
           f"(alpha {PLAN.alpha}); runs {np.mean([sum(r.seeds) for r in races]):.1f} of "
           f"{4 * PLAN.max_seeds}")
    assert errors <= rate_bound(400)


def test_no_truly_worse_point_is_called_equivalent():
    """The best and three points exactly one margin below it (the hardest truly-worse
    case), plus a point that learns as well but fails 3 times in 10: any 'equivalent'
    is an error."""
    points = [(0.98, 0.0)] + [(0.98 - PLAN.margin, 0.0)] * 3 + [(0.98, 0.3)]
    races = simulate(points, races=400, seed=2)
    errors = np.mean([race_rule.EQUIVALENT in race.verdicts for race in races])
    failing_equivalent = np.mean([race.verdicts[4] == race_rule.EQUIVALENT for race in races])
    report("3 points one margin below + 1 failing 30%", f"races with a point called "
           f"equivalent {errors:.3f} (alpha {PLAN.alpha}); the failing point equivalent "
           f"{failing_equivalent:.3f}; it is worse in "
           f"{np.mean([race.verdicts[4] == race_rule.WORSE for race in races]):.3f}")
    assert errors <= rate_bound(400)
    assert failing_equivalent <= rate_bound(400)


def test_power_and_runs_spent_on_a_mixed_grid():
    """Equal, clearly worse (2 points = 4 margins), hopeless (at chance) and often
    failing points: how often each is decided, and the runs the race spends."""
    points = [(0.98, 0.0), (0.98, 0.0), (0.96, 0.0), (CHANCE, 1.0), (0.98, 0.6)]
    races = simulate(points, races=300, seed=3)
    decided = {name: np.mean([race.verdicts[i] == verdict for race in races])
               for i, name, verdict in ((1, "equal point equivalent", race_rule.EQUIVALENT),
                                        (2, "2 points below worse", race_rule.WORSE),
                                        (3, "hopeless worse", race_rule.WORSE),
                                        (4, "60% failing worse", race_rule.WORSE))}
    hopeless_seeds = np.mean([race.seeds[3] for race in races])
    runs = np.mean([sum(race.seeds) for race in races])
    report("power", ", ".join(f"{name} {value:.3f}" for name, value in decided.items())
           + f"; hopeless point seeds {hopeless_seeds:.2f}; runs {runs:.1f} of a fixed "
           f"{len(points) * PLAN.max_seeds}")
    assert decided["hopeless worse"] == 1 and hopeless_seeds == PLAN.min_seeds
    assert decided["2 points below worse"] > 0.9
    assert runs < len(points) * PLAN.max_seeds


def test_three_of_five_failed_is_never_equivalent_to_none_failed():
    rng = np.random.default_rng(4)
    best = rng.normal(0.98, 0.001, 5)
    point = np.concatenate([rng.normal(0.98, 0.001, 2), [0.1, 0.1, 0.1]])
    failed = np.array([False, False, True, True, True])
    look = race_rule.decide([best, point], [np.zeros(5, bool), failed], [False, False],
                         race_rule.RacePlan(min_seeds=5, max_seeds=5, margin=0.9))
    assert look.best == 0 and look.verdicts[1] != race_rule.EQUIVALENT


def test_each_p_value_is_scipys_or_statsmodels():
    rng = np.random.default_rng(5)
    point, best = rng.normal(0.97, 0.01, 6), rng.normal(0.98, 0.01, 8)
    point_failed, best_failed = np.array([1, 1, 0, 0, 0, 0], bool), np.zeros(8, bool)
    welch = stats.ttest_ind(point, best, equal_var=False, alternative="less").pvalue
    fisher = stats.fisher_exact([[2, 4], [0, 8]], alternative="greater").pvalue
    assert race_rule.worse_p(point, point_failed, best, best_failed) == pytest.approx(
        min(1, 2 * min(welch, fisher)))
    assert race_rule.equivalent_p(point, ~best_failed[:6], best, best_failed, 0.02) == 1.0
    assert race_rule.equivalent_p(point, np.zeros(6, bool), best, best_failed, 0.02) == \
        pytest.approx(ttost_ind(point, best, -0.02, 0.02, usevar="unequal")[0])
    for trial in range(20):  # multipletests takes 0.1 s a call (gc.collect)
        p_values = list(np.random.default_rng(trial).random(6) ** 3)
        assert race_rule.holm_rejects(p_values, 0.05) == \
            list(multipletests(p_values, alpha=0.05, method="holm")[0])


def test_the_plan_spends_alpha_over_its_looks():
    plan = race_rule.RacePlan(min_seeds=3, max_seeds=8)
    assert [plan.seeds_at(look) for look in range(plan.looks)] == [3, 5, 7, 8]
    assert plan.alpha_per_look == pytest.approx(0.05 / 4)


def test_a_race_short_of_runs_asks_for_the_current_look():
    rng = np.random.default_rng(6)
    accuracies = [rng.normal(0.98, 0.003, 3), rng.normal(0.98, 0.003, 3),
                  np.full(2, CHANCE)]
    race = race_rule.advance(accuracies, [np.zeros(3, bool), np.zeros(3, bool), np.ones(2, bool)],
                          PLAN)
    assert not race.finished and race.looks == 0 and race.seeds == [3, 3, 3]


def test_a_race_between_looks_calls_its_open_points_open_not_stopped():
    accuracies = [np.array([0.97, 0.99, 0.98]), np.array([0.96, 0.99, 0.985])]
    failed = [np.zeros(3, bool)] * 2
    race = race_rule.advance(accuracies, failed, race_rule.RacePlan(min_seeds=3, max_seeds=5))
    assert not race.finished and race.looks == 1 and race.seeds == [5, 5]
    assert sorted(race.reasons(race_rule.RacePlan(min_seeds=3, max_seeds=5))) == [
        "open: 5 seeds wanted for look 2", "the best (highest mean at the last look)"]


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


# End to end: lr 10 never learns; the two good rates stay open past the first look.
RACE_FLAGS = ["--experiment=digits_smoke", "--seeds=auto", "--max_seeds=4", "--epochs=1",
              "--grid=learning_rate=0.005,0.004,10.0", "--jit=off", "--threads=1",
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


def test_a_race_drops_the_hopeless_point_and_resumes_from_its_first_round(tmp_path, monkeypatch,
                                                                           capfd):
    """The race end to end; then a workdir left as a kill -9 between the rounds leaves
    it (the first round's run files alone) resumes to the same race and report."""
    straight = race(tmp_path / "straight", monkeypatch, capfd)
    assert straight.returncode == 0, straight.stderr[-2000:]
    race_json, section = race_result(tmp_path / "straight")
    assert race_json["finished"]
    seeds = {point["point"].split("_")[2]: point["seeds"] for point in race_json["points"]}
    assert seeds["lr10"] == 3 < max(seeds["lr0.005"], seeds["lr0.004"]) == 4
    assert [p["verdict"] for p in race_json["points"] if "lr10" in p["point"]] == ["worse"]
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
                                         rf"plan \(max_seeds 5 -> {max_seeds}, looks "):
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
