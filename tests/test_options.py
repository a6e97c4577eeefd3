"""The run options' table and the flags derived from it; the API's checks (no training)."""

import dataclasses
import subprocess
import sys

import pytest
from absl import flags
from conftest import REPO_ROOT

import lenet_bench
from lenet_bench import __main__ as cli
from lenet_bench import config, options
from lenet_bench.errors import InputError
from lenet_bench.study import registry


def test_every_flag_comes_from_the_config_options_or_command_line_table():
    by_module = cli.FLAGS.flags_by_module_dict()
    assert {flag.name for flag in by_module["lenet_bench.config"]} == set(
        config.field_names(flag=True))
    assert {flag.name for flag in by_module["lenet_bench.options"]} == (
        set(options.RUN_OPTIONS) | set(options.COMMAND_LINE))
    assert not set(options.RUN_OPTIONS) & set(options.COMMAND_LINE) & set(config.SETTINGS)
    assert cli.FLAGS["trainer"].default == options.RunOptions().trainer == "auto"
    assert cli.FLAGS["experiment"].default == "digits_smoke" and cli.FLAGS["grid"].default == []


def test_a_field_added_to_a_table_adds_its_flag_with_no_other_edit():
    @dataclasses.dataclass(frozen=True)
    class Extended(options.RunOptions):
        flush_every: int = options.option(3, "Flush every N epochs.", kind=int)
        colour: str = options.option("red", "A colour.", choices=("red", "blue"))

    table = options.options_of(Extended)
    fresh = flags.FlagValues()
    cli.define_flags(table, cli.table_defaults(Extended), flag_values=fresh)
    assert set(fresh) == set(options.RUN_OPTIONS) | {"flush_every", "colour"}
    fresh(["prog", "--flush_every=5", "--colour=blue", "--notensorboard"])
    assert (fresh.flush_every, fresh.colour, fresh.tensorboard) == (5, "blue", False)
    assert fresh["group_size"].default is None and fresh["ray_cpus_per_task"].default == 1.0
    with pytest.raises(flags.IllegalFlagValueError):
        fresh(["prog", "--colour=green"])


@pytest.mark.parametrize("name, value, expected", [
    ("group_size", 0, r"^--group_size=0 is invalid: expected an integer >= 1$"),
    ("trainer", "fast", r"^--trainer='fast' is invalid: expected one of auto, fused, keras$"),
    ("threads", 1.5, r"^--threads=1.5 is invalid: expected an integer >= 0 \(0: one per core\)$"),
    ("tensorboard", "yes", r"^--tensorboard='yes' is invalid: expected true or false$"),
    ("ray_address", "auto", r"^--ray_address is only used with --engine=ray$"),
])
def test_a_bad_option_is_one_line_naming_its_flag(tmp_path, name, value, expected):
    with pytest.raises(InputError, match=expected):
        lenet_bench.run_study("digits_smoke", tmp_path / "wd", **{name: value})
    assert not (tmp_path / "wd").exists()


def test_the_api_names_an_unknown_option_experiment_or_value_as_the_cli_does(tmp_path):
    with pytest.raises(InputError, match=r"^epoch=2 is unknown \(did you mean epochs\?\): "
                                         r"expected a run option \(data_dir, "):
        lenet_bench.run_study("digits_smoke", tmp_path, epoch=2)
    with pytest.raises(InputError, match=r"^--experiment='mnist_bset' is unknown \(did you "
                                         r"mean mnist_best\?\)"):
        lenet_bench.run_study(["digits_smoke", "mnist_bset"], tmp_path)
    with pytest.raises(InputError, match=r"^--label_noise=1\.2 is invalid: expected a number "
                                         r"in \[0, 1\)$"):
        lenet_bench.run_study("digits_smoke", tmp_path, grid={"label_noise": [0, 1.2]})
    with pytest.raises(InputError, match=r"^experiment=3 is invalid: expected an experiment "):
        lenet_bench.run_study(3, tmp_path)
    with pytest.raises(InputError, match=r"^callbacks run in the training process: expected "
                                         r"engine='local'$"):
        lenet_bench.run_study("digits_smoke", tmp_path, engine="ray", callbacks=[object()])
    assert not list(tmp_path.iterdir())


def test_overrides_and_grids_apply_as_the_flags_do():
    base = config.ExperimentConfig(name="x", dataset="digits",
                                   grid={"learning_rate": (0.1, 0.2), "lr_decay": (0.9, 1.0)})
    run_options, overrides, grid = options.split_keywords(
        {"seeds": 3, "lr_decay": 0.95, "trainer": "keras", "grid": {"batch_size": [16, 32]}})
    assert run_options == options.RunOptions(trainer="keras") and overrides == {
        "seeds": 3, "lr_decay": 0.95}
    [resolved] = registry.resolve_configs(base, overrides, grid)
    assert resolved.grid == {"learning_rate": (0.1, 0.2), "batch_size": (16, 32)}
    assert (resolved.seeds, resolved.lr_decay) == (3, 0.95)
    assert config.apply_overrides(base, {}, ["lr_decay=0.5"]).grid["lr_decay"] == (0.5,)


def test_keras_already_running_on_another_backend_is_refused_before_anything_is_written(
        tmp_path):
    assert "keras" in sys.modules or __import__("keras")  # This session runs on TensorFlow.
    with pytest.raises(InputError, match=r"^--backend=(jax|torch)(: Keras is already running "
                                         r"on tensorflow| needs the)"):
        lenet_bench.run_study("digits_smoke", tmp_path / "wd", backend="jax")
    assert not (tmp_path / "wd").exists()


def test_importing_the_package_and_its_api_loads_no_keras_tensorflow_or_pandas():
    code = ("import sys, lenet_bench, lenet_bench.observers.hooks, lenet_bench.options\n"
            "assert callable(lenet_bench.run_study) and lenet_bench.RunOptions().engine\n"
            "print(sorted(name for name in ('keras', 'tensorflow', 'jax', 'torch', 'pandas')"
            " if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
    with pytest.raises(AttributeError, match="has no attribute 'run_studies'"):
        lenet_bench.run_studies  # noqa: B018
