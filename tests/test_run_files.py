"""lenet_bench.runs beyond the key (tests/test_run_keys.py): which runs an experiment has, how
they are grouped, and the run records and group checkpoints that decide what a rerun skips
or resumes. A slip in any of them silently trains the wrong runs or keeps the wrong results,
so these run in a second, with no training, and `make mutation` runs them against runs.py.
"""

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from lenet_bench import runs
from lenet_bench.config import ExperimentConfig
from lenet_bench.errors import InputError

BASE = runs.RunSpec(dataset="mnist", seed=0)
CHECKPOINT_NAME = "group-10cab619e6c0.ckpt.npz"  # Of mnist seeds 0 and 1 at the defaults.


def config(**changes) -> ExperimentConfig:
    return ExperimentConfig(**{"name": "test", "dataset": "mnist", "seeds": 2, **changes})


def name_of(spec: runs.RunSpec) -> str:
    """The key without its hash."""
    return spec.key.rsplit("_", 1)[0]


# ------------------------------------------------------------------ readable names

NAMES = [
    ({}, "glorot_uniform_lr0.001_decay1_seed0"),
    ({"label_noise": 0.2}, "glorot_uniform_lr0.001_decay1_noise0.2_seed0"),
    ({"label_noise": 0.2, "noise_mode": "exact"},
     "glorot_uniform_lr0.001_decay1_noise0.2_exact_seed0"),
    ({"precision": "mixed_bfloat16"}, "glorot_uniform_lr0.001_decay1_mixed_bfloat16_seed0"),
    ({"architecture": "mlp", "dropout": 0.5, "l2": 0.0001, "batch_norm": True},
     "mlp_glorot_uniform_lr0.001_decay1_drop0.5_l20.0001_bn_seed0"),
    ({"l2": 0.01}, "glorot_uniform_lr0.001_decay1_l20.01_seed0"),
    ({"validation_split": 0.1}, "glorot_uniform_lr0.001_decay1_val0.1_seed0"),
    ({"validation_split": 0.1, "patience": 3, "monitor": "val_accuracy"},
     "glorot_uniform_lr0.001_decay1_val0.1_es3accuracy_seed0"),
    ({"augment_zoom": 0.1}, "glorot_uniform_lr0.001_decay1_aug_seed0"),
    ({"augment_flip": True}, "glorot_uniform_lr0.001_decay1_aug_seed0"),
    ({"validation_split": 0.2, "patience": 2, "augment_translation": 0.1},
     "glorot_uniform_lr0.001_decay1_val0.2_es2loss_aug_seed0"),
    ({"split": "kfold:3:0:0/holdout:0.2:1"},
     "glorot_uniform_lr0.001_decay1_kfold-3-0-0_holdout-0.2-1_seed0"),
    ({"learning_rate": 0.0005, "lr_decay": 0.95, "seed": 4, "initializer": "he_normal"},
     "he_normal_lr0.0005_decay0.95_seed4"),
]


@pytest.mark.parametrize("changes, name", NAMES)
def test_the_readable_name_says_what_differs(changes, name):
    spec = dataclasses.replace(BASE, **changes)
    assert name_of(spec) == name
    assert len(spec.key.rsplit("_", 1)[1]) == 8


def test_derived_properties():
    assert not BASE.augmented and BASE.is_plain_lenet5
    for field, value in (("augment_translation", 0.1), ("augment_rotation", 0.1),
                         ("augment_zoom", 0.1), ("augment_flip", True)):
        assert dataclasses.replace(BASE, **{field: value}).augmented, field
    for field, value in (("architecture", "mlp"), ("dropout", 0.5), ("l2", 0.01),
                         ("batch_norm", True)):
        assert not dataclasses.replace(BASE, **{field: value}).is_plain_lenet5, field
    spec = dataclasses.replace(BASE, learning_rate=0.01, lr_decay=0.5)
    assert [spec.learning_rate_at(epoch) for epoch in range(3)] == [0.01, 0.005, 0.0025]


def test_the_group_key_holds_exactly_the_group_fields():
    assert len(BASE.group_key) == len(runs.GROUP_FIELDS)
    for field, value in (("batch_size", 64), ("optimizer", "sgd"), ("epochs", 3),
                         ("train_size", 100), ("backend", "jax"), ("dataset", "cifar10")):
        assert dataclasses.replace(BASE, **{field: value}).group_key != BASE.group_key, field
    for field, value in (("learning_rate", 0.1), ("seed", 3), ("initializer", "he_normal"),
                         ("label_noise", 0.1), ("patience", 2)):
        assert dataclasses.replace(BASE, **{field: value}).group_key == BASE.group_key, field


def test_run_spec_fields_are_the_run_fields_and_the_seed():
    fields = [field.name for field in dataclasses.fields(runs.RunSpec)]
    assert fields[:2] == ["dataset", "seed"]
    assert sorted(fields) == sorted(runs.RUN_FIELDS + ("seed",))
    defaults = dataclasses.asdict(runs.RunSpec(dataset="mnist", seed=0))
    for name, value in defaults.items():
        if name not in ("dataset", "seed"):
            assert value == getattr(config(), name), name
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASE.seed = 1
    assert runs.RunSpec.__module__ == "lenet_bench.runs"


# ------------------------------------------------------------------ which runs


def test_run_specs_are_seed_major_over_the_grid():
    specs = runs.run_specs(config(seeds=3, first_seed=5, grid={"learning_rate": [0.1, 0.2]}))
    assert [(spec.seed, spec.learning_rate) for spec in specs] == [
        (5, 0.1), (5, 0.2), (6, 0.1), (6, 0.2), (7, 0.1), (7, 0.2)]


def test_a_race_starts_at_min_seeds():
    specs = runs.run_specs(config(seeds="auto", min_seeds=4, max_seeds=9))
    assert [spec.seed for spec in specs] == [0, 1, 2, 3]


def test_point_spec_drops_settings_that_change_nothing():
    point = config(label_noise=0.0, noise_mode="exact", patience=0, monitor="val_accuracy")
    spec = runs.point_spec(point, 3)
    assert (spec.noise_mode, spec.monitor, spec.seed) == ("sampled", "val_loss", 3)
    assert spec.key == runs.point_spec(config(), 3).key
    kept = runs.point_spec(config(label_noise=0.1, noise_mode="exact", validation_split=0.1,
                                  patience=2, monitor="val_accuracy"), 0)
    assert (kept.noise_mode, kept.monitor, kept.patience) == ("exact", "val_accuracy", 2)
    assert runs.point_spec(config(learning_rate=0.02), 0).learning_rate == 0.02


def test_spec_from_record_ignores_unknown_fields_and_fills_missing_ones():
    spec = dataclasses.replace(BASE, learning_rate=0.02, augment_zoom=0.1)
    record = {**dataclasses.asdict(spec), "a_field_from_the_future": 1}
    assert runs.spec_from_record(record) == spec
    del record["augment_zoom"]
    assert runs.spec_from_record(record) == dataclasses.replace(spec, augment_zoom=0.0)


def test_the_dataset_key_is_the_subset_and_the_split():
    spec = dataclasses.replace(BASE, train_size=100, data_seed=2, split="holdout:0.2:0")
    assert runs.dataset_key(spec) == (100, 2, "holdout:0.2:0")
    assert runs.dataset_key(dataclasses.replace(spec, seed=4, learning_rate=1.0)) == \
        runs.dataset_key(spec)


# ------------------------------------------------------------------ groups


def seeds_of(groups):
    return [[spec.seed for spec in group] for group in groups]


def test_groups_are_one_seed_each_at_most_group_size():
    specs = runs.run_specs(config(seeds=2, grid={"learning_rate": [0.1, 0.2, 0.3, 0.4, 0.5]}))
    groups = runs.make_groups(specs, 2)
    assert seeds_of(groups) == [[0, 0], [0, 0], [1, 1], [1, 1], [0, 1]]
    assert [spec.learning_rate for spec in groups[0] + groups[-1]] == [0.1, 0.2, 0.5, 0.5]
    assert seeds_of(runs.make_groups(specs, 5)) == [[0] * 5, [1] * 5]


def test_lone_runs_are_packed_across_seeds_within_their_group_key():
    specs = runs.run_specs(config(seeds=5, grid={"batch_size": [16, 32]}))
    groups = runs.make_groups(specs, 1)
    assert [len(group) for group in groups] == [1] * 10
    groups = runs.make_groups(runs.run_specs(config(seeds=5)), 3)
    assert seeds_of(groups) == [[0, 1, 2], [3, 4]]
    groups = runs.make_groups(specs, 3)  # Each seed's 2 runs differ in batch size: alone.
    assert seeds_of(groups) == [[0, 1, 2], [3, 4], [0, 1, 2], [3, 4]]
    assert all(len({spec.batch_size for spec in group}) == 1 for group in groups)


def test_across_seeds_packs_a_group_key_in_order():
    specs = runs.run_specs(config(seeds=3, grid={"learning_rate": [0.1, 0.2]}))
    groups = runs.make_groups(specs, 4, across_seeds=True)
    assert seeds_of(groups) == [[0, 0, 1, 1], [2, 2]]
    assert runs.make_groups(specs, 4, across_seeds=True) == groups


# ------------------------------------------------------------------ run records


def write_record(path, **fields):
    path.write_text(json.dumps({"results_format": runs.RESULTS_FORMAT, "status": "done",
                                **fields}))


def test_run_path_names_the_file_by_the_key(tmp_path):
    assert runs.run_path(tmp_path, BASE) == tmp_path / f"{BASE.key}.json"
    assert runs.run_path(str(tmp_path), BASE, ".weights.h5") == tmp_path / f"{BASE.key}.weights.h5"


@pytest.mark.parametrize("fields, finished", [
    ({}, True), ({"status": "diverged"}, True), ({"status": "running"}, False),
    ({"results_format": runs.RESULTS_FORMAT - 1}, False)])
def test_is_finished(tmp_path, fields, finished):
    write_record(tmp_path / "run.json", **fields)
    assert runs.is_finished(tmp_path / "run.json") is finished


def test_missing_torn_and_foreign_records_are_nothing_to_keep(tmp_path):
    assert runs.read_record(tmp_path / "none.json") is None
    assert not runs.is_finished(tmp_path / "none.json")
    for text in ('{"status": "do', "[1, 2]", '{"status": "done"}', ""):
        (tmp_path / "run.json").write_text(text)
        assert runs.read_record(tmp_path / "run.json") is None, text
    write_record(tmp_path / "run.json", key="k")
    assert runs.read_record(tmp_path / "run.json") == {
        "results_format": runs.RESULTS_FORMAT, "status": "done", "key": "k"}


def test_an_unreadable_record_is_an_input_error(tmp_path):
    path = tmp_path / "run.json"
    path.mkdir()
    with pytest.raises(InputError) as raised:
        runs.read_record(path)
    assert str(raised.value) == (f"{path}: cannot be read (Is a directory): expected a "
                                 "readable file; it is left as it is")


def test_the_format_messages_say_what_to_do(tmp_path):
    newer = runs.RESULTS_FORMAT + 1
    with pytest.raises(InputError) as raised:
        runs.check_results_format(tmp_path, newer)
    assert str(raised.value) == (
        f"{tmp_path}: written by a newer lenet_bench (results format {newer}; this version "
        f"reads up to {runs.RESULTS_FORMAT}): the file is left as it is: run that newer "
        "version, or use another --workdir")
    with pytest.raises(InputError) as raised:
        runs.check_results_format(tmp_path, "x")
    assert str(raised.value) == (
        f"{tmp_path}: results_format 'x' is not a format number: expected an integer up to "
        f"{runs.RESULTS_FORMAT} (this version's); the file is left as it is: move it away or "
        "use another --workdir")


@pytest.mark.parametrize("stored, message", [
    (runs.RESULTS_FORMAT + 1, "written by a newer lenet_bench"),
    (True, "is not a format number"), ("3", "is not a format number"),
    (3.0, "is not a format number"), (None, "is not a format number")])
def test_formats_this_version_cannot_read_are_refused(tmp_path, stored, message):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"results_format": stored}))
    with pytest.raises(InputError, match=f"^{path}: .*{message}"):
        runs.read_record(path)
    assert json.loads(path.read_text()) == {"results_format": stored}  # Left as it was.


def test_older_and_current_formats_are_read(tmp_path):
    for stored in (1, np.int64(runs.RESULTS_FORMAT), runs.RESULTS_FORMAT):
        runs.check_results_format(tmp_path, stored)


def test_check_experiment_files_looks_at_config_records_and_checkpoints(tmp_path):
    specs = runs.run_specs(config())
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    runs.check_experiment_files(tmp_path, specs)  # Nothing there yet.
    newer = {"results_format": runs.RESULTS_FORMAT + 1}
    for path in (tmp_path / "config.json", runs.run_path(runs_dir, specs[1])):
        path.write_text(json.dumps(newer))
        with pytest.raises(InputError, match="newer lenet_bench"):
            runs.check_experiment_files(tmp_path, specs)
        path.unlink()
    np.savez(runs_dir / "group-abc.ckpt.npz", results_format=np.int64(runs.RESULTS_FORMAT + 1))
    with pytest.raises(InputError, match="group-abc.ckpt.npz: written by a newer"):
        runs.check_experiment_files(tmp_path, specs)


# ------------------------------------------------------------------ checkpoints


def test_checkpoint_path_is_one_per_group(tmp_path):
    specs = runs.run_specs(config(seeds=3))
    path = runs.checkpoint_path(tmp_path, specs)
    assert path.parent == tmp_path and path.name.startswith("group-")
    assert path.name.endswith(".ckpt.npz") and len(path.name) == len("group-.ckpt.npz") + 12
    assert runs.checkpoint_path(str(tmp_path), specs) == path
    assert runs.checkpoint_path(tmp_path, specs[:2]) != path
    assert runs.checkpoint_path(tmp_path, specs[::-1]) != path


def test_a_checkpoint_round_trips(tmp_path):
    specs = runs.run_specs(config())
    records = [{"key": spec.key, "history": {"loss": [0.5]}} for spec in specs]
    state = {"0/0": np.arange(6.0).reshape(2, 3), "1/2": np.int64(7)}
    path = runs.checkpoint_path(tmp_path, specs)
    runs.save_checkpoint(path, 4, records, state)
    epochs_done, loaded_records, loaded_state = runs.load_checkpoint(path, specs)
    assert epochs_done == 4 and type(epochs_done) is int and loaded_records == records
    assert sorted(loaded_state) == ["0/0", "1/2"]
    np.testing.assert_array_equal(loaded_state["0/0"], state["0/0"])
    assert loaded_state["1/2"] == 7
    assert not list(tmp_path.glob(".tmp*"))


def test_a_checkpoint_of_other_runs_or_none_is_ignored(tmp_path):
    specs = runs.run_specs(config(seeds=3))
    path = tmp_path / "group.ckpt.npz"
    assert runs.load_checkpoint(path, specs) is None
    runs.save_checkpoint(path, 1, [{"key": spec.key} for spec in specs], {})
    assert runs.load_checkpoint(path, specs[:2]) is None
    assert runs.load_checkpoint(path, specs[::-1]) is None
    assert runs.load_checkpoint(path, specs) is not None


def test_torn_and_old_checkpoints_are_ignored(tmp_path):
    specs = runs.run_specs(config())
    path = tmp_path / "group.ckpt.npz"
    records = json.dumps([{"key": spec.key} for spec in specs])
    for torn in (b"", b"PK\x03\x04 torn zip", b"not an npz"):
        path.write_bytes(torn)
        assert runs.load_checkpoint(path, specs) is None
    np.savez(path, results_format=np.int64(runs.RESULTS_FORMAT - 1), epochs_done=np.int64(2),
             records=np.array(records))
    assert runs.load_checkpoint(path, specs) is None
    np.savez(path, results_format=np.int64(runs.RESULTS_FORMAT), records=np.array(records))
    assert runs.load_checkpoint(path, specs) is None  # No epochs_done: torn.
    np.savez(path, epochs_done=np.int64(2), records=np.array(records))
    assert runs.load_checkpoint(path, specs) is None  # No results_format: torn.
    np.savez(path, results_format=np.int64(runs.RESULTS_FORMAT), epochs_done=np.int64(2),
             records=np.array(records))
    assert runs.load_checkpoint(path, specs)[0] == 2


def test_a_newer_checkpoint_is_refused_and_left_alone(tmp_path):
    specs = runs.run_specs(config())
    path = tmp_path / "group.ckpt.npz"
    np.savez(path, results_format=np.int64(runs.RESULTS_FORMAT + 1))
    before = path.read_bytes()
    with pytest.raises(InputError, match=f"^{path}: written by a newer lenet_bench"):
        runs.load_checkpoint(path, specs)
    assert path.read_bytes() == before


def test_specs_pickle_as_lenet_bench_runs_run_spec():
    """The Ray engine sends specs to its workers by pickle."""
    spec = dataclasses.replace(BASE, learning_rate=0.02)
    assert type(spec).__qualname__ == "RunSpec"
    copy = pickle.loads(pickle.dumps(spec))
    assert copy == spec and copy.key == spec.key


def test_checkpoint_names_are_stable():
    """A changed name would orphan the checkpoints of every interrupted group."""
    specs = [runs.RunSpec(dataset="mnist", seed=seed) for seed in (0, 1)]
    assert runs.checkpoint_path(Path("r"), specs).name == CHECKPOINT_NAME


def test_a_checkpoint_holding_pickled_objects_is_not_unpickled(tmp_path):
    specs = runs.run_specs(config())
    path = tmp_path / "group.ckpt.npz"
    # Pickled, its records would read as this group's: a checkpoint is never unpickled.
    records = np.array(json.dumps([{"key": spec.key} for spec in specs]), dtype=object)
    np.savez(path, results_format=np.int64(runs.RESULTS_FORMAT), epochs_done=np.int64(1),
             records=records)
    assert runs.load_checkpoint(path, specs) is None


def test_an_unreadable_checkpoint_is_an_input_error(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(np, "load", denied)
    path = tmp_path / "group.ckpt.npz"
    with pytest.raises(InputError) as raised:
        runs.load_checkpoint(path, runs.run_specs(config()))
    assert str(raised.value) == (f"{path}: cannot be read (Permission denied): expected a "
                                 "readable file; it is left as it is")


def test_the_history_metrics_are_those_run_files_hold():
    """Readers look the metrics up by these names (records.results, reports): together the
    committed run files hold exactly these, and the validation split's two."""
    files = sorted((Path(__file__).resolve().parent.parent / "benchmarks").glob(
        "*/*/runs/*.json"))
    held = set()
    for path in files:
        record = json.loads(path.read_text())
        if record.get("results_format") == runs.RESULTS_FORMAT:
            held |= set(record["history"])
    if not held:
        pytest.skip("no committed run files of this format here")
    assert held == set(runs.HISTORY_METRICS) | {"val_loss", "val_accuracy"}
    assert runs.HISTORY_METRICS[0] == "epoch" and len(set(runs.HISTORY_METRICS)) == 9
