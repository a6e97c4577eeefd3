"""The preflight (lenet_bench.study.plan): each check runs once per command, a checked
plan is trained without checking again, and the run options reach the trainer as the
one object the command made."""

import dataclasses
import re
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli

import lenet_bench.__main__  # noqa: F401  (its flags, before run_cli)
from lenet_bench import api, config, options
from lenet_bench.config import ExperimentConfig
from lenet_bench.errors import InputError
from lenet_bench.options import RunOptions
from lenet_bench.study import engines, experiment, plan, racing, search, workdir  # noqa: F401
from lenet_bench.trainers import early_stopping, group_loop
import lenet_bench.trainers as trainers

# (module that defines it, name): every check the preflight makes that a study used to
# repeat. Each is spied on in every lenet_bench module that holds it.
CHECKS = [(config, "validate"), (early_stopping, "check_batch_size"),
          (workdir, "check_workdir"), (trainers, "check_trainer_fits"),
          (options, "check_options")]
QUIET = ["--threads=1", "--tensorboard=false", "--keras_models=false", "--progress=none",
         "--jit=off"]


def spy_checks(monkeypatch) -> dict[str, int]:
    """Counts the outermost calls of each check (validate calls itself per grid point)."""
    calls = {name: 0 for _, name in CHECKS}
    for module, name in CHECKS:
        original, depth = getattr(module, name), [0]

        def spy(*args, _original=original, _name=name, _depth=depth, **kwargs):
            calls[_name] += _depth[0] == 0
            _depth[0] += 1
            try:
                return _original(*args, **kwargs)
            finally:
                _depth[0] -= 1

        for held_by in list(sys.modules.values()):
            if (getattr(held_by, "__name__", "").startswith("lenet_bench")
                    and getattr(held_by, name, None) is original):
                monkeypatch.setattr(held_by, name, spy)
    return calls


def spy_trainer_options(monkeypatch) -> list:
    """The `options` each train_group call receives."""
    seen, original = [], group_loop.train_group

    def spy(specs, dataset, runs_dir, options=group_loop.LIBRARY_OPTIONS, **kwargs):
        seen.append(options)
        return original(specs, dataset, runs_dir, options, **kwargs)

    monkeypatch.setattr(group_loop, "train_group", spy)
    return seen


def test_a_cli_run_makes_each_check_once_and_hands_the_trainer_its_options(
        tmp_path, monkeypatch, capfd):
    calls, seen = spy_checks(monkeypatch), spy_trainer_options(monkeypatch)
    result = run_cli(["--experiment=digits_smoke", "--epochs=1", "--seeds=2",
                      "--train_size=200", f"--workdir={tmp_path}", *QUIET],
                     monkeypatch=monkeypatch, capfd=capfd)
    assert result.returncode == 0, result.stderr
    assert calls == {name: 1 for _, name in CHECKS}
    assert seen and all(options is seen[0] for options in seen)
    assert seen[0] == RunOptions(threads=1, tensorboard=False, keras_models=False,
                                 progress="none", jit="off")


def test_a_race_checks_once_and_every_look_trains_with_the_callers_options(tmp_path,
                                                                          monkeypatch):
    race = ExperimentConfig(name="race", dataset="digits", seeds="auto", min_seeds=2,
                            max_seeds=3, epochs=1, train_size=200,
                            grid={"learning_rate": (0.01, 0.0001)})
    run_options = RunOptions(threads=1, tensorboard=False, keras_models=False,
                             progress="none", jit="off", trainer="fused")
    calls, seen = spy_checks(monkeypatch), spy_trainer_options(monkeypatch)
    looks, run_experiment = [], experiment.run_experiment

    def one_look(*args, **kwargs):
        looks.append(kwargs["specs"])
        return run_experiment(*args, **kwargs)

    monkeypatch.setattr(experiment, "run_experiment", one_look)
    api.run_configs([race], tmp_path, run_options)
    assert looks  # Each look trains through run_experiment, on the checked experiment.
    assert calls == {name: 1 for _, name in CHECKS}
    assert seen and all(options is run_options for options in seen)


def test_run_experiment_checks_a_bare_config_once_and_a_checked_one_not_at_all(
        tmp_path, monkeypatch, digits):
    small = ExperimentConfig(name="small", dataset="digits", seeds=1, epochs=1, train_size=100)
    checked = plan.check_experiment(small, digits, tmp_path)
    calls = spy_checks(monkeypatch)
    monkeypatch.setattr(engines.LocalEngine, "train_groups", lambda *args, **kwargs: None)
    monkeypatch.setattr(experiment, "write_post_passes", lambda *args: None)
    experiment.run_experiment(checked)
    assert calls == {name: 0 for _, name in CHECKS}
    experiment.run_experiment(small, digits, tmp_path / "bare")
    assert calls == {name: 1 for _, name in CHECKS}
    with pytest.raises(TypeError, match="carries its dataset"):
        experiment.run_experiment(checked, digits)


def test_the_preflight_refuses_before_any_backend_and_returns_a_frozen_plan(tmp_path):
    good = ExperimentConfig(name="a", dataset="digits")
    study = plan.preflight([good], tmp_path, RunOptions())
    assert study.backend == "tensorflow" and study.configs == (good,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        study.options = RunOptions(trainer="keras")
    with pytest.raises(InputError, match=r"^--trainer=fused is not available on "
                                         r"--backend=torch"):
        plan.preflight([dataclasses.replace(good, backend="torch")], tmp_path,
                       RunOptions(trainer="fused"))
    with pytest.raises(InputError, match=r"^--optimizer='rmsprop' is not supported by "
                                         r"--trainer=fused: expected one of adam, sgd"):
        plan.preflight([dataclasses.replace(good, grid={"optimizer": ("adam", "rmsprop")})],
                       tmp_path, RunOptions(trainer="fused"))
    with pytest.raises(InputError, match=r"^--experiment=a,b: the experiments ask for "
                                         r"backends jax, tensorflow"):
        plan.preflight([good, dataclasses.replace(good, name="b", backend="jax")], tmp_path,
                       RunOptions())
    assert not list(tmp_path.iterdir())


def test_seeds_auto_is_decided_in_one_place():
    assert config.is_race("auto") and not config.is_race(5)
    race = ExperimentConfig(name="r", dataset="digits", seeds="auto", min_seeds=4)
    assert race.races and race.starting_seeds == 4
    assert ExperimentConfig(name="f", dataset="digits", seeds=3).starting_seeds == 3
    package = Path(config.__file__).parent
    readers = [path.relative_to(package).as_posix() for path in package.rglob("*.py")
               if re.search(r"seeds\W{0,12}[!=]=\s*[\"']auto", path.read_text())]
    assert readers == []  # Everything else asks config.is_race / ExperimentConfig.races.
