import dataclasses
import json

import numpy as np
import pytest
from conftest import run_options

from lenet_bench import runs
from lenet_bench.config import ExperimentConfig, validate
from lenet_bench.errors import InputError
from lenet_bench.inputs import data
from lenet_bench.study import experiment
from lenet_bench.trainers import group_loop


def small_config(**changes) -> ExperimentConfig:
    config = ExperimentConfig(name="tiny", dataset="digits", initializer="glorot_uniform",
                              learning_rate=0.005, lr_decay=0.5, epochs=2, batch_size=64,
                              seeds=2, train_size=300)
    return dataclasses.replace(config, **changes)


# On a CPU, XLA's compile costs a Keras-path run ~6 s, and no test here is about it: they
# train without it (tests/test_cli.py's end-to-end run keeps every default, XLA included).
WITHOUT_XLA = {"options": run_options(jit="off")}


def test_experiment_writes_run_files_and_learns(tmp_path, digits):
    experiment_dir = experiment.run_experiment(small_config(), digits, tmp_path)
    saved = json.loads((experiment_dir / "config.json").read_text())
    assert saved["config"]["train_size"] == 300 and len(saved["run_keys"]) == 2
    assert saved["dataset"]["train_size"] == 300
    for seed, key in enumerate(saved["run_keys"]):
        run = json.loads((experiment_dir / "runs" / f"{key}.json").read_text())
        assert run["status"] == "done" and run["spec"]["seed"] == seed
        history = run["history"]
        assert history["epoch"] == [1, 2]
        assert history["learning_rate"] == pytest.approx([0.005, 0.0025])
        assert history["test_accuracy"][-1] > 0.5  # 10 classes: chance is 0.1
        assert run["best_test_accuracy"] == max(history["test_accuracy"])
        assert run["num_params"] == 61_706
        assert (experiment_dir / "runs" / f"{key}.weights.h5").is_file()
    # The two seeds train as one group: their model's cost is measured once and shared;
    # the training times are each run's own.
    costs = [json.loads((experiment_dir / "runs" / f"{key}.json").read_text())["cost"]
             for key in saved["run_keys"]]
    model_costs = [{name: value for name, value in figures.items()
                    if name not in ("train_seconds", "epoch_seconds_mean")} for figures in costs]
    assert model_costs[0] == model_costs[1] and model_costs[0]["params"] == 61_706
    assert all(figures["train_seconds"] > 0 for figures in costs)


# The Keras path trains runs one by one: one run shows it; the fused path trains a grid's
# runs side by side: two show it.
@pytest.mark.parametrize("trainer, grid", [("keras", {}),
                                           ("fused", {"learning_rate": (0.005, 0.002)})])
def test_same_seed_gives_identical_numbers(tmp_path, digits, trainer, grid):
    config = small_config(seeds=1, grid=grid)
    options = run_options(trainer=trainer, jit="off")
    first = experiment.run_experiment(config, digits, tmp_path / "a", options)
    second = experiment.run_experiment(config, digits, tmp_path / "b", options)
    for spec in runs.run_specs(config):
        history = [json.loads((d / "runs" / f"{spec.key}.json").read_text())["history"]
                   for d in (first, second)]
        for metric in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
            assert history[0][metric] == history[1][metric], (spec.key, metric)


def test_rerun_skips_finished_runs(tmp_path, digits, monkeypatch):
    experiment.run_experiment(small_config(seeds=1), digits, tmp_path, **WITHOUT_XLA)

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(group_loop, "train_group", must_not_train)
    experiment.run_experiment(small_config(seeds=1), digits, tmp_path, **WITHOUT_XLA)
    with pytest.raises(AssertionError, match="trained again"):
        experiment.run_experiment(small_config(seeds=1, learning_rate=0.004), digits, tmp_path,
                                  **WITHOUT_XLA)


def test_run_key_changes_with_anything_that_changes_results():
    base = runs.run_specs(small_config(seeds=1))[0]
    assert base.key.startswith("glorot_uniform_lr0.005_decay0.5_seed0_")
    for change in ({"batch_size": 32}, {"train_size": 200}, {"data_seed": 1}, {"epochs": 3},
                   {"optimizer": "sgd"}, {"first_seed": 1}):
        assert runs.run_specs(small_config(seeds=1, **change))[0].key != base.key, change
    assert runs.run_specs(small_config(seeds=1, name="renamed"))[0].key == base.key


def test_precision_float32_keeps_the_keys_runs_had_before_it_existed():
    # Keys computed by the code before `precision` was a field (commit 742ba97).
    assert [spec.key for spec in runs.run_specs(small_config())] == [
        "glorot_uniform_lr0.005_decay0.5_seed0_599816aa",
        "glorot_uniform_lr0.005_decay0.5_seed1_1637895e"]
    mixed = runs.run_specs(small_config(precision="mixed_bfloat16"))
    assert mixed[0].key.startswith("glorot_uniform_lr0.005_decay0.5_mixed_bfloat16_seed0_")
    assert mixed[0].group_key != runs.run_specs(small_config())[0].group_key


def test_exploding_learning_rate_is_marked_diverged(tmp_path, digits):
    config = small_config(seeds=1, optimizer="sgd", learning_rate=1e6, lr_decay=1.0, epochs=3,
                          keep_best=False)
    experiment_dir = experiment.run_experiment(config, digits, tmp_path, **WITHOUT_XLA)
    run = json.loads(next((experiment_dir / "runs").glob("*.json")).read_text())
    assert run["status"] == "diverged" and run["diverged_epoch"] == 1
    assert run["history"]["train_loss"] == [None]


@pytest.mark.parametrize("changes, message", [
    ({"learning_rate": 0.0}, r"^--learning_rate=0.0 is invalid: expected a number > 0$"),
    ({"lr_decay": 1.5}, r"^--lr_decay=1.5 is invalid: expected a number in \(0, 1\]$"),
    ({"epochs": 0}, r"^--epochs=0 is invalid: expected an integer >= 1$"),
    ({"seeds": 0}, r"^--seeds=0 is invalid: expected an integer >= 1 or auto$"),
    ({"batch_size": 0}, r"^--batch_size=0 is invalid: expected an integer >= 1$"),
    ({"dataset": "imagenet"}, r"^--dataset='imagenet' is invalid: expected one of mnist, "),
    ({"train_size": 0}, r"^--train_size=0 is invalid: expected an integer >= 1$"),
])
def test_invalid_config_values(changes, message):
    with pytest.raises(InputError, match=message):
        validate(small_config(**changes))


def test_bad_values_are_refused_before_the_workdir_is_touched(tmp_path, digits):
    with pytest.raises(InputError, match=r"^--batch_size=301 is invalid: expected at most 300"):
        experiment.run_experiment(small_config(batch_size=301), digits, tmp_path / "wd")
    with pytest.raises(InputError, match=r"^--initializer='nope' is unknown"):
        experiment.run_experiment(small_config(initializer="nope"), digits, tmp_path / "wd")
    assert not (tmp_path / "wd").exists()


def test_learning_rate_schedule_is_exponential_per_epoch():
    spec = runs.run_specs(small_config(learning_rate=0.01, lr_decay=0.9))[0]
    assert [spec.learning_rate_at(e) for e in range(3)] == pytest.approx([0.01, 0.009, 0.0081])


def test_training_order_is_reshuffled_each_epoch_with_the_seed(digits):
    """A class-sorted training set must still train: batches are shuffled per seed and epoch."""
    order = np.argsort(digits.train_labels, kind="stable")
    sorted_digits = dataclasses.replace(digits, train_images=digits.train_images[order],
                                        train_labels=digits.train_labels[order])
    spec = runs.run_specs(small_config(seeds=1, epochs=2, train_size=None))[0]
    record = group_loop.train_run(spec, sorted_digits, **WITHOUT_XLA)
    assert record["history"]["test_accuracy"][-1] > 0.8


def test_groups_hold_one_seed_and_at_most_group_size_runs():
    config = small_config(seeds=3, grid={"learning_rate": (0.01, 0.005, 0.003),
                                         "lr_decay": (0.9, 0.99)})
    specs = runs.run_specs(config)
    assert len(specs) == 18 and [s.seed for s in specs[:6]] == [0] * 6  # seed-major
    groups = runs.make_groups(specs, 4)
    assert [len(g) for g in groups] == [4, 2] * 3
    assert all(len({spec.seed for spec in group}) == 1 for group in groups)
    assert sorted(spec.key for group in groups for spec in group) == sorted(s.key for s in specs)
    assert runs.make_groups(specs, 4) == groups


def test_runs_alone_in_their_seed_are_packed_across_seeds():
    single = runs.run_specs(small_config(seeds=5))
    assert [[spec.seed for spec in group] for group in runs.make_groups(single, 3)] == \
        [[0, 1, 2], [3, 4]]
    assert [len(group) for group in runs.make_groups(single, 1)] == [1] * 5
    # 3 points per seed in groups of 2: a pair per seed, and the leftovers packed together.
    grid = runs.run_specs(small_config(seeds=2, grid={"learning_rate": (0.01, 0.005, 0.003)}))
    groups = runs.make_groups(grid, 2)
    assert [[spec.seed for spec in group] for group in groups] == [[0, 0], [1, 1], [0, 1]]
    assert sorted(spec.key for group in groups for spec in group) == sorted(s.key for s in grid)


def test_across_seeds_a_whole_grid_is_one_group_and_group_keys_stay_apart():
    grid = runs.run_specs(small_config(seeds=3, grid={"learning_rate": (0.01, 0.005),
                                                      "batch_size": (16, 32)}))
    groups = runs.make_groups(grid, 512, across_seeds=True)
    assert sorted(len(group) for group in groups) == [6, 6]  # One per batch size.
    assert all(len({spec.batch_size for spec in group}) == 1 for group in groups)
    assert all({spec.seed for spec in group} == {0, 1, 2} for group in groups)
    assert [len(group) for group in runs.make_groups(grid, 4, across_seeds=True)] == [4, 2, 4, 2]


def test_label_noise_is_in_the_key_and_eps_zero_ignores_the_mode():
    clean = runs.run_specs(small_config(seeds=1))[0]
    assert runs.run_specs(small_config(seeds=1, noise_mode="exact"))[0].key == clean.key
    noisy = runs.run_specs(small_config(seeds=1, label_noise=0.2))[0]
    exact = runs.run_specs(small_config(seeds=1, label_noise=0.2, noise_mode="exact"))[0]
    assert "_noise0.2_seed0_" in noisy.key and "_noise0.2_exact_seed0_" in exact.key
    assert len({clean.key, noisy.key, exact.key}) == 3


def test_noisy_run_records_realized_noise_clean_accuracy_and_confusion(tmp_path, digits):
    config = small_config(seeds=1, label_noise=0.4, epochs=1)
    experiment_dir = experiment.run_experiment(config, digits, tmp_path, **WITHOUT_XLA)
    run = json.loads(next((experiment_dir / "runs").glob("*.json")).read_text())
    counts = np.array(run["noise"]["transition_counts"])
    assert counts.sum() == 300 and 0.3 < 1 - np.trace(counts) / 300 < 0.5
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(
        data.take_train_subset(digits, 300, 0).train_labels, minlength=10))
    assert run["history"]["train_clean_accuracy"] != run["history"]["train_accuracy"]
    confusion = np.array(run["confusion_matrix"])
    assert confusion.sum() == len(digits.test_labels)
    # Rows are the true test classes: noise never touches the test labels.
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(digits.test_labels, minlength=10))
    assert np.trace(confusion) / confusion.sum() == pytest.approx(run["history"]["test_accuracy"][-1])
    assert (experiment_dir / "confusion_examples.npz").is_file()


def test_a_diverging_run_in_a_fused_group_leaves_the_others_alone(tmp_path, digits):
    config = small_config(seeds=1, optimizer="sgd", epochs=3, lr_decay=1.0, keep_best=False,
                          grid={"learning_rate": (1e6, 0.05)})
    experiment_dir = experiment.run_experiment(config, digits, tmp_path, run_options(trainer="fused"))
    exploded, fine = (json.loads((experiment_dir / "runs" / f"{spec.key}.json").read_text())
                      for spec in runs.run_specs(config))
    assert exploded["trainer"] == "FusedLeNet5"
    assert exploded["status"] == "diverged" and exploded["diverged_epoch"] == 1
    assert fine["status"] == "done" and fine["history"]["epoch"] == [1, 2, 3]
    losses = fine["history"]["train_loss"]
    assert losses[0] > losses[1] > losses[2]  # Still learning, untouched by its neighbour.
