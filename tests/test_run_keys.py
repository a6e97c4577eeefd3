"""A run's key names its results file, so two runs whose results can differ must never share
a key (a rerun would then skip or overwrite the other's results), and a spec whose results
cannot differ must keep the key its run files already hold.

Every `runs.RunSpec` field is checked, with values derived from its entry in the field table
(lenet_bench.config.SETTINGS): a field added to the table is covered without editing this file.
"""

import dataclasses
import itertools
import json
from pathlib import Path

import pytest

from lenet_bench import architectures, config, keras_names, runs
from lenet_bench.config import DEFAULTS, SETTINGS

BASE = runs.RunSpec(dataset="mnist", seed=0)
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
# Free-text fields (no closed set of choices in the table): valid names from the name lists.
TEXT_VALUES = {
    "initializer": sorted(keras_names.KERAS_INITIALIZERS)[:3],
    "optimizer": sorted(keras_names.KERAS_OPTIMIZERS)[:3],
    "activation": sorted(keras_names.KERAS_ACTIVATIONS)[:3],
    "architecture": sorted(architectures.PRESETS)[:3],
    "split": ["holdout:0.2:0", "kfold:3:0:0", "kfold:3:1:0"],
}
NUMBER_CANDIDATES = {int: [1, 2, 3, 100, 1000], float: [0.05, 0.1, 0.2, 0.5, 0.9, 2.0]}


def spec_fields() -> list[str]:
    return [field.name for field in dataclasses.fields(runs.RunSpec)]


def field_values(name: str) -> list:
    """The field's default (the base spec's value) and at least one other valid value,
    two where the field has them: every one valid for the field's Setting."""
    if name == "seed":
        return [0, 1, 2]
    described, default = SETTINGS[name], getattr(BASE, name)
    if described.choices:
        others = [value for value in described.choices if value != default]
    elif described.kind is bool:
        others = [not default]
    elif described.kind in NUMBER_CANDIDATES:
        others = [value for value in NUMBER_CANDIDATES[described.kind]
                  if value != default and (described.check is None or described.check(value))]
    else:
        others = [value for value in TEXT_VALUES[name] if value != default]
    return [default] + others[:2]


@pytest.mark.parametrize("name", spec_fields())
def test_every_field_has_a_default_and_a_valid_other_value(name):
    values = field_values(name)
    assert len(values) >= 2 and len(set(map(repr, values))) == len(values), (name, values)
    if name != "seed":
        for value in values:
            config.check_value(name, value)


@pytest.mark.parametrize("name", spec_fields())
def test_two_values_of_a_field_never_share_a_key(name):
    """Default vs each non-default, and two non-defaults against each other."""
    specs = [dataclasses.replace(BASE, **{name: value}) for value in field_values(name)]
    for first, second in itertools.combinations(specs, 2):
        assert first.key != second.key, (name, getattr(first, name), getattr(second, name))


@pytest.mark.parametrize("name", spec_fields())
def test_a_non_default_value_changes_the_key_of_a_non_default_spec_too(name):
    """The same on a spec far from the defaults (a hash that only looked at fields at
    their defaults, or a name that only told the defaults apart, fails here)."""
    other = dataclasses.replace(BASE, **{field: field_values(field)[1] for field in spec_fields()
                                         if field != name})
    keys = {dataclasses.replace(other, **{name: value}).key for value in field_values(name)}
    assert len(keys) == len(field_values(name)), name


def test_no_two_single_field_changes_share_a_key():
    specs = [dataclasses.replace(BASE, **{name: value}) for name in spec_fields()
             for value in field_values(name)[1:]]
    keys = [spec.key for spec in specs]
    assert len(set(keys)) == len(keys)
    assert BASE.key not in keys


@pytest.mark.parametrize("name", spec_fields())
def test_equal_specs_have_equal_keys(name):
    for value in field_values(name):
        first = dataclasses.replace(BASE, **{name: value})
        second = runs.RunSpec(**{**dataclasses.asdict(BASE), name: value})
        assert first.key == second.key


def test_the_key_survives_a_round_trip_through_a_run_record():
    spec = dataclasses.replace(BASE, **{name: field_values(name)[-1] for name in spec_fields()})
    assert runs.spec_from_record(dataclasses.asdict(spec)).key == spec.key


@pytest.mark.parametrize("name", [name for name in runs.HASH_OPTIONAL_FIELDS])
def test_a_hash_optional_field_at_its_default_leaves_old_keys_alone(name):
    """A record written before the field existed lacks it: its spec takes the default
    and must find the key its files hold."""
    record = {key: value for key, value in dataclasses.asdict(BASE).items() if key != name}
    assert runs.spec_from_record(record).key == BASE.key
    assert getattr(BASE, name) == DEFAULTS[name]


# Keys that committed run files hold (benchmarks/), with their specs' non-default fields: a
# change here orphans every finished run (a rerun would train them all again beside the old
# files). Bump runs.RESULTS_FORMAT instead, on purpose.
STABLE_KEYS = [
    ("truncated_normal_lr0.005_decay0.9_seed0_7bf6226b",
     {"dataset": "mnist", "initializer": "truncated_normal", "learning_rate": 0.005,
      "lr_decay": 0.9, "epochs": 20}),
    ("glorot_normal_lr0.005_decay0.95_noise0.2_seed0_00b6964b",
     {"dataset": "fashion_mnist", "initializer": "glorot_normal", "learning_rate": 0.005,
      "lr_decay": 0.95, "label_noise": 0.2, "epochs": 2, "train_size": 2000}),
    ("glorot_uniform_lr0.000304_decay0.971_kfold-3-0-0_seed0_2e9565d9",
     {"dataset": "mnist", "learning_rate": 0.000304, "lr_decay": 0.971, "batch_size": 64,
      "epochs": 5, "split": "kfold:3:0:0"}),
    ("glorot_normal_lr0.002_decay0.95_seed0_de85e1cb",
     {"dataset": "mnist", "initializer": "glorot_normal", "learning_rate": 0.002,
      "lr_decay": 0.95, "epochs": 5, "backend": "jax"}),
    ("truncated_normal_lr0.005_decay0.9_aug_seed0_0a337cb2",
     {"dataset": "mnist", "initializer": "truncated_normal", "learning_rate": 0.005,
      "lr_decay": 0.9, "epochs": 20, "augment_translation": 0.1}),
    ("truncated_normal_lr0.005_decay0.9_val0.1_es3loss_seed0_1aea31af",
     {"dataset": "mnist", "initializer": "truncated_normal", "learning_rate": 0.005,
      "lr_decay": 0.9, "epochs": 20, "validation_split": 0.1, "patience": 3}),
    ("lenet5_batchnorm_truncated_normal_lr0.005_decay0.9_seed0_67388694",
     {"dataset": "mnist", "initializer": "truncated_normal", "learning_rate": 0.005,
      "lr_decay": 0.9, "batch_size": 128, "epochs": 5, "architecture": "lenet5_batchnorm"}),
]


@pytest.mark.parametrize("key, fields", STABLE_KEYS)
def test_keys_that_run_files_hold_are_stable(key, fields):
    assert runs.RunSpec(seed=0, **fields).key == key


def test_every_committed_run_file_of_this_format_has_its_specs_key():
    files = sorted(BENCHMARKS.glob("**/runs/*.json"))
    if not files:
        pytest.skip(f"no run files under {BENCHMARKS} (a copy of the tests without benchmarks/)")
    checked = 0
    for path in files:
        record = json.loads(path.read_text())
        if record.get("results_format") == runs.RESULTS_FORMAT:
            assert runs.spec_from_record(record["spec"]).key == record["key"], path
            checked += 1
    assert checked
