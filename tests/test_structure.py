"""The package's shape: the field table is the one list of fields, every experiment in
the registry is valid, the experiment folder takes one process (the import layers are
test_layers.py's)."""

import dataclasses
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from experiments import EXPERIMENTS
from lenet_bench import config, runs
from lenet_bench.__main__ import OVERRIDE_FLAGS
from lenet_bench.config import ExperimentConfig, apply_overrides, validate
from lenet_bench.errors import InputError
from lenet_bench.records import results
from lenet_bench.study import workdir

@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_registered_experiment_is_valid_and_named_as_its_module(name):
    experiment = EXPERIMENTS[name].get_config()
    assert experiment.name == name
    validate(experiment)
    assert runs.run_specs(experiment) or experiment.search


def test_the_field_table_is_the_one_list_of_fields():
    run_fields = {field.name for field in dataclasses.fields(runs.RunSpec)}
    assert run_fields == set(config.field_names(run=True)) | {"seed"}
    assert set(runs.HASH_OPTIONAL_FIELDS) <= run_fields
    assert set(config.GRID_FIELDS) == set(config.field_names(run=True)) - {"dataset", "split", "backend"}
    assert set(OVERRIDE_FLAGS) == {name for name in config.SETTINGS
                                   if name not in ("name", "grid", "search", "split")}
    assert results.SETTING_FIELDS + results.OPTIONAL_SETTING_FIELDS == config.field_names(
        report="column") + config.field_names(report="label")
    assert set(results.FIELD_PREFIXES) <= set(config.field_names(run=True))


def test_a_field_added_later_is_left_out_of_the_key_hash_at_its_default():
    spec = runs.RunSpec(dataset="digits", seed=0, learning_rate=0.005, lr_decay=0.9, epochs=5)
    assert spec.key == "glorot_uniform_lr0.005_decay0.9_seed0_174d9f3d"  # As run files hold it.
    assert dataclasses.replace(spec, augment_zoom=0.1).key != spec.key
    assert runs.spec_from_record({**dataclasses.asdict(spec), "unknown_later_field": 1}) == spec


def test_grid_flags_are_typed_from_the_field_table():
    assert config.parse_grid_flag("batch_norm=true,0") == ("batch_norm", (True, False))
    assert config.parse_grid_flag("epochs=2,3") == ("epochs", (2, 3))
    with pytest.raises(InputError, match=r"^--grid=epochs='x' is invalid: expected an integer$"):
        config.parse_grid_flag("epochs=x")
    with pytest.raises(InputError, match=r"'seeds' cannot be a grid field"):
        config.parse_grid_flag("seeds=1,2")


def test_a_single_value_flag_replaces_that_field_of_the_grid():
    grid_study = EXPERIMENTS["mnist_init_lr_grid"].get_config()
    overridden = apply_overrides(grid_study, {"learning_rate": 0.02}, [])
    assert "learning_rate" not in overridden.grid and overridden.learning_rate == 0.02
    assert set(overridden.grid) == set(grid_study.grid) - {"learning_rate"}
    regrid = apply_overrides(grid_study, {}, ["learning_rate=0.1,0.2"])
    assert regrid.grid["learning_rate"] == (0.1, 0.2)
    assert regrid.grid["initializer"] == grid_study.grid["initializer"]


def test_a_value_of_the_wrong_type_names_its_field():
    base = ExperimentConfig(name="x", dataset="digits")
    for field, value, expected in (("epochs", 2.5, "an integer >= 1"),
                                   ("augment_flip", "yes", "true or false"),
                                   ("noise_mode", "both", "one of sampled, exact")):
        with pytest.raises(InputError, match=rf"^--{field}=.* is invalid: expected {expected}"):
            validate(dataclasses.replace(base, **{field: value}))


def test_a_foreign_or_old_format_checkpoint_is_refused(tmp_path):
    specs = runs.run_specs(ExperimentConfig(name="x", dataset="digits", seeds=2))
    path = runs.checkpoint_path(tmp_path, specs)
    records = [{"key": spec.key} for spec in specs]
    state = {"0/0": np.arange(3.0)}
    runs.save_checkpoint(path, 2, records, state)
    epochs_done, loaded, loaded_state = runs.load_checkpoint(path, specs)
    assert epochs_done == 2 and loaded == records and np.array_equal(loaded_state["0/0"],
                                                                     state["0/0"])
    assert runs.load_checkpoint(path, specs[::-1]) is None  # Another group's runs.
    with np.load(path) as stored:
        arrays = dict(stored)
    np.savez(path.with_suffix(".old.npz"), **{**arrays, "results_format": np.int64(2)})
    assert runs.load_checkpoint(path.with_suffix(".old.npz"), specs) is None
    path.write_bytes(path.read_bytes()[:100])  # Torn.
    assert runs.load_checkpoint(path, specs) is None


def _hold_lock(experiment_dir, workdir_path, ready, release):
    with workdir.experiment_lock(experiment_dir, workdir_path):
        ready.set()
        release.wait(30)


def start_lock_holder(experiment_dir, workdir_path):
    """A process that holds the experiment's lock until `release` is set."""
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock,
                             args=(experiment_dir, workdir_path, ready, release))
    holder.start()
    assert ready.wait(30)
    return holder, release


def test_a_second_process_on_the_experiment_folder_exits_naming_the_holder(tmp_path):
    experiment_dir = tmp_path / "exp"
    holder, release = start_lock_holder(experiment_dir, tmp_path)
    try:
        with pytest.raises(InputError, match=rf"in use by another lenet_bench process "
                                             rf"\(pid {holder.pid}\)"):
            with workdir.experiment_lock(experiment_dir, tmp_path):
                pass
    finally:
        release.set()
        holder.join(30)
    with workdir.experiment_lock(experiment_dir, tmp_path) as runs_dir:  # Free again.
        assert runs_dir == experiment_dir / "runs"
        with workdir.experiment_lock(experiment_dir, tmp_path):  # Nested in one process.
            pass


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    experiment_dir = tmp_path / "exp"
    holder, _ = start_lock_holder(experiment_dir, tmp_path)
    os.kill(holder.pid, 9)
    holder.join(30)
    assert (experiment_dir / workdir.LOCK_FILE).read_text() == str(holder.pid)
    with workdir.experiment_lock(experiment_dir, tmp_path):
        assert (experiment_dir / workdir.LOCK_FILE).read_text() == str(os.getpid())


def test_ray_workers_get_the_whole_package():
    """--engine=ray ships lenet_bench itself to the nodes (runtime_env py_modules), so a
    node without this repository can import every layer."""
    import lenet_bench
    from lenet_bench.study import engines

    (shipped,) = engines.ray_init_options("auto")["runtime_env"]["py_modules"]
    assert Path(shipped) == Path(lenet_bench.__file__).resolve().parent
