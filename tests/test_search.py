"""Hyperparameter search: folds, trials, selection on validation only, report, resume."""

import csv
import dataclasses
import json

import numpy as np
import pytest
from conftest import run_options

from lenet_bench import runs
from lenet_bench.config import ExperimentConfig
from lenet_bench.errors import InputError
from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.reports import search_report
from lenet_bench.study import plan, search, search_space
from lenet_bench.trainers import group_loop


def class_sorted_labels():
    """Unequal class counts (10..19), stored sorted by class as the MNIST subset is."""
    return np.concatenate([np.full(10 + c, c) for c in range(10)]).astype(np.int64)


@pytest.mark.parametrize("folds, seed", [(3, 0), (5, 7)])
def test_folds_are_stratified_disjoint_and_cover_the_training_set(folds, seed):
    labels = class_sorted_labels()
    splits = data.kfold_indices(labels, folds, seed)
    held_out = [held for _, held in splits]
    assert sorted(np.concatenate(held_out).tolist()) == list(range(len(labels)))  # disjoint, cover
    counts = np.bincount(labels)
    for train_index, held in splits:
        assert not set(train_index) & set(held)
        assert len(train_index) + len(held) == len(labels)
        expected = counts * len(held) / len(labels)  # the class's share of this fold
        assert np.all(np.abs(np.bincount(labels[held], minlength=10) - expected) <= 1)
    assert [h.tolist() for h in held_out] != [h.tolist() for _, h in
                                               data.kfold_indices(labels, folds, seed + 1)]


def test_a_fold_dataset_validates_on_training_images_and_drops_the_test_set():
    dataset = data.make_synthetic(num_train=120, num_test=40, seed=3)
    fold = data.apply_split(dataset, "kfold:3:1:0")
    train_index, held = data.kfold_indices(dataset.train_labels, 3, 0)[1]
    np.testing.assert_array_equal(fold.test_images, dataset.train_images[held])
    np.testing.assert_array_equal(fold.test_labels, dataset.train_labels[held])
    np.testing.assert_array_equal(fold.train_images, dataset.train_images[train_index])
    holdout = data.apply_split(dataset, "holdout:0.25:0")
    assert (len(holdout.train_labels), len(holdout.test_labels)) == (90, 30)
    # Nested: the inner fold splits the outer fold's training part only.
    nested = data.apply_split(dataset, "kfold:3:1:0/kfold:2:0:0")
    assert len(nested.train_labels) + len(nested.test_labels) == len(train_index)
    outer_train = {image.tobytes() for image in fold.train_images}
    assert all(image.tobytes() in outer_train for image in nested.test_images)


@pytest.mark.parametrize("split", ["kfold:3:3:0", "kfold:1:0:0", "holdout:1.5:0", "kfold:3:x:0",
                                   "cv:3:0:0"])
def test_bad_split_text_is_one_line_input_error(split):
    with pytest.raises(InputError, match=r"^--split=.*expected steps 'kfold:K:F:SEED'") as error:
        data.parse_split(split)
    assert "\n" not in str(error.value)


def test_empty_split_keeps_run_keys():
    fields = dict(dataset="mnist", train_size=None, data_seed=0, initializer="uniform",
                  activation="relu", first_conv_padding="auto", optimizer="adam",
                  learning_rate=0.01, lr_decay=0.9, label_noise=0.0, noise_mode="sampled",
                  epochs=5, batch_size=32, seed=0)
    # The key the committed full study's runs have (benchmarks/make_bench_full_study).
    assert runs.RunSpec(**fields).key == "uniform_lr0.01_decay0.9_seed0_121405f4"
    folded = runs.RunSpec(**fields, split="kfold:3:1:0")
    assert folded.key.startswith("uniform_lr0.01_decay0.9_kfold-3-1-0_seed0_")
    assert folded.key != runs.RunSpec(**fields).key


def space_config(**overrides):
    search_space = {"learning_rate": {"log_uniform": [1e-4, 1e-1]},
                    "lr_decay": {"uniform": [0.5, 1.0]},
                    "batch_size": {"int_uniform": [16, 64]},
                    "optimizer": {"choice": ["adam", "sgd_momentum", "rmsprop"]}}
    return ExperimentConfig(**{**dict(name="s", dataset="digits", search=search_space,
                                      search_trials=400, search_seed=3), **overrides})


def test_random_search_is_reproducible_and_respects_bounds_and_log_scale():
    trials = search_space.sample_trials(space_config())
    assert trials == search_space.sample_trials(space_config())
    assert trials != search_space.sample_trials(space_config(search_seed=4))
    assert len(trials) == 400 and len({repr(t) for t in trials}) == 400
    rates = np.array([t["learning_rate"] for t in trials])
    assert rates.min() >= 1e-4 and rates.max() <= 1e-1
    # Log-uniform: half below the geometric midpoint 10**-2.5 (uniform would put ~3% there).
    assert 0.4 < np.mean(rates < 10 ** -2.5) < 0.6
    decays = np.array([t["lr_decay"] for t in trials])
    assert decays.min() >= 0.5 and decays.max() <= 1.0 and 0.4 < np.mean(decays < 0.75) < 0.6
    sizes = [t["batch_size"] for t in trials]
    assert all(isinstance(s, int) for s in sizes) and min(sizes) == 16 and max(sizes) == 64
    assert {t["optimizer"] for t in trials} == {"adam", "sgd_momentum", "rmsprop"}


def test_grid_search_takes_log_spaced_points_and_a_seeded_subset_within_budget():
    config = ExperimentConfig(name="g", dataset="digits", search_method="grid", search_trials=100,
                              search={"learning_rate": {"log_uniform": [1e-4, 1e-2]},
                                      "optimizer": {"choice": ["adam", "sgd"]}})
    trials = search_space.sample_trials(config)
    assert trials == [{"learning_rate": lr, "optimizer": name}
                      for lr in (1e-4, 1e-3, 1e-2) for name in ("adam", "sgd")]
    budget = search_space.sample_trials(dataclasses.replace(config, search_trials=4))
    assert len(budget) == 4 and all(trial in trials for trial in budget)
    assert budget == search_space.sample_trials(dataclasses.replace(config, search_trials=4))


def test_searchable_fields_are_the_run_spec_fields_but_dataset_seed_split_and_backend():
    config_fields = {field.name for field in dataclasses.fields(ExperimentConfig)}
    expected = {field.name for field in dataclasses.fields(runs.RunSpec)
                if field.name in config_fields} - {"dataset", "seed", "split", "backend"}
    assert set(search_space.searchable_fields()) == expected


def test_sgd_momentum_is_keras_sgd_with_momentum_0_9():
    optimizer = models.make_optimizer("sgd_momentum", 0.05)
    assert type(optimizer).__name__ == "SGD" and optimizer.momentum == 0.9
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.05)


@pytest.mark.parametrize("overrides, message", [
    (dict(search={"colour": {"choice": [1, 2]}}), r"^--search: 'colour' cannot be searched"),
    (dict(search={"dataset": {"choice": ["mnist"]}}), r"'dataset' cannot be searched"),
    (dict(search={"learning_rate": {"normal": [0, 1]}}), r"expected one of log_uniform"),
    (dict(search={"learning_rate": {"log_uniform": [0, 1]}}), r"expected lo > 0 on a log scale"),
    (dict(search={"learning_rate": {"uniform": [0.1, 0.01]}}), r"lo < hi"),
    (dict(search={"batch_size": {"int_uniform": [8.5, 64]}}), r"two integers"),
    (dict(search={"optimizer": {"choice": []}}), r"expected a non-empty list"),
    (dict(search={"optimizer": {"choice": ["adam", "adam"]}}), r"expected distinct values"),
    (dict(search={"optimizer": {"choice": ["adam", "nope"]}}), r"^--search: trial \d .*nope"),
    (dict(search_method="bayes"), r"^--search_method='bayes' is invalid"),
    (dict(search_trials=0), r"^--search_trials=0 is invalid"),
    (dict(cv_folds=0), r"^--cv_folds=0 is invalid"),
    (dict(cv_folds=5, train_size=30, batch_size=8), r"^--cv_folds=5 is invalid: expected at most 3"),
    (dict(nested_folds=1), r"^--nested_folds=1 is invalid"),
    (dict(holdout_fraction=1.0, cv_folds=1), r"^--holdout_fraction=1.0 is invalid"),
    (dict(grid={"seed": [1]}), r"^--grid cannot be combined with a search"),
])
def test_bad_search_specs_are_one_line_input_errors_before_anything_is_written(
        digits, tmp_path, overrides, message):
    config = ExperimentConfig(name="bad", dataset="digits", epochs=1, search_trials=2,
                              search={"optimizer": {"choice": ["adam", "sgd"]}})
    config = dataclasses.replace(config, **overrides)
    with pytest.raises(InputError, match=message) as error:
        search.run_search(config, digits, tmp_path)
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def small_digits(digits, size):
    return data.take_train_subset(digits, size, 0)


def test_the_choice_follows_validation_even_where_the_test_set_favours_the_other_trial(
        digits, tmp_path):
    """Test labels are set to what the worse trial predicts, so a search that peeked at the
    test set would choose it (test accuracy 100% against the better trial's few %)."""
    dataset = small_digits(digits, 600)
    config = ExperimentConfig(name="peek", dataset="digits", epochs=3, seeds=1, cv_folds=2,
                              batch_size=16,
                              search_method="grid", search_trials=2,
                              search={"learning_rate": {"choice": [3e-3, 1e-7]}})
    worse = runs.run_specs(search_space.trial_config(config, {"learning_rate": 1e-7}))[0]
    group_loop.train_run(worse, dataset, runs_dir=tmp_path, options=run_options(trainer="fused"))
    with np.load(tmp_path / f"{worse.key}.predictions.npz") as stored:
        worse_predictions = stored["predicted"].astype(np.int64)
    tricky = dataclasses.replace(dataset, test_labels=worse_predictions)
    experiment_dir = search.run_search(config, tricky, tmp_path / "work", run_options(trainer="fused"))
    plan = json.loads((experiment_dir / "search.json").read_text())
    assert plan["trials"][plan["chosen"]] == {"learning_rate": 3e-3}
    rows = search_space.score_trials(plan["selection_keys"], {
        path.stem: json.loads(path.read_text()) for path in (experiment_dir / "runs").glob("*.json")})
    assert rows[0]["mean"] > 0.5 > rows[1]["mean"]  # the validation folds' verdict
    final = json.loads((experiment_dir / "runs" / f"{plan['final_keys'][0]}.json").read_text())
    assert final["history"]["test_accuracy"][-1] < 0.5  # peeking would have given 100%
    # Every selection run was scored on training images only.
    for keys in plan["selection_keys"]:
        for key in keys:
            record = json.loads((experiment_dir / "runs" / f"{key}.json").read_text())
            assert record["spec"]["split"].startswith("kfold:2:")
            assert sum(map(sum, record["confusion_matrix"])) == 300  # a fold, not 450 test images


def test_kfold_search_end_to_end_writes_the_ranked_table_the_test_figure_and_resumes(
        digits, tmp_path, monkeypatch):
    dataset = small_digits(digits, 240)
    config = ExperimentConfig(name="tiny_search", dataset="digits", epochs=1, seeds=1,
                              batch_size=32, cv_folds=2, nested_folds=2, search_trials=2,
                              search_seed=1,
                              search={"learning_rate": {"log_uniform": [1e-3, 1e-2]},
                                      "optimizer": {"choice": ["adam", "sgd_momentum"]}})
    experiment_dir = search.run_search(config, dataset, tmp_path, run_options(trainer="fused"))
    report = search_report.write_search_report(experiment_dir).read_text()
    plan = json.loads((experiment_dir / "search.json").read_text())
    records = {p.stem: json.loads(p.read_text()) for p in (experiment_dir / "runs").glob("*.json")}
    assert all(record["status"] == "done" for record in records.values())
    # Independent reference: per trial, the mean final accuracy of its fold runs.
    means = [np.mean([records[key]["history"]["test_accuracy"][-1] for key in keys])
             for keys in plan["selection_keys"]]
    assert plan["chosen"] == int(np.argmax(means))
    with open(experiment_dir / "search_trials.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [int(row["trial"]) - 1 for row in table] == sorted(range(2), key=lambda i: (-means[i], i))
    assert [float(row["validation_accuracy_mean"]) for row in table] == \
        pytest.approx(sorted(means, reverse=True))
    final = records[plan["final_keys"][0]]
    assert final["spec"]["split"] == "" and final["train_size"] == 240
    test_text = f"{100 * final['history']['test_accuracy'][-1]:.2f}"
    assert f"**Test accuracy (test, evaluated once): {test_text} %**" in report
    assert report.index("## Validation") < report.index("## Test set (evaluated once")
    assert "## Nested cross-validation" in report and len(plan["nested"]) == 2
    outer = [records[key]["history"]["test_accuracy"][-1]
             for level in plan["nested"] for key in level["outer_keys"]]
    assert f"**Outer-fold accuracy: {100 * np.mean(outer):.2f} ± " \
           f"{100 * np.std(outer, ddof=1):.2f} %**" in report
    assert (experiment_dir / "figures" / "search_scores.png").stat().st_size > 1000

    def no_training(*args, **kwargs):
        raise AssertionError("a finished search retrained a run")

    monkeypatch.setattr(group_loop, "train_group", no_training)
    search.run_search(config, dataset, tmp_path, run_options(trainer="fused"))  # resume: nothing to train
    monkeypatch.undo()
    lost = plan["selection_keys"][1][0]
    (experiment_dir / "runs" / f"{lost}.json").unlink()
    chosen_before = plan["chosen"]
    trained = []
    original = group_loop.train_group

    def counting(specs, *args, **kwargs):
        trained.extend(spec.key for spec in specs if spec.key not in kwargs.get("finished", ()))
        return original(specs, *args, **kwargs)

    monkeypatch.setattr(group_loop, "train_group", counting)
    search.run_search(config, dataset, tmp_path, run_options(trainer="fused"))
    assert trained == [lost]
    retrained = json.loads((experiment_dir / "runs" / f"{lost}.json").read_text())
    assert retrained["history"]["test_accuracy"] == records[lost]["history"]["test_accuracy"]
    assert json.loads((experiment_dir / "search.json").read_text())["chosen"] == chosen_before


def test_the_model_fields_are_searchable_and_reach_the_trial_runs():
    config = space_config(search={"dropout": {"uniform": [0.0, 0.5]},
                                  "l2": {"log_uniform": [1e-5, 1e-3]},
                                  "batch_norm": {"choice": [False, True]}}, search_trials=12)
    trials = plan.check_search(config, data.make_synthetic(num_train=60, num_test=20,
                                                           image_shape=(8, 8, 1)))
    assert len(trials) == 12 and {t["batch_norm"] for t in trials} == {False, True}
    assert all(0 <= t["dropout"] <= 0.5 and 1e-5 <= t["l2"] <= 1e-3 for t in trials)
    for params in trials:
        for spec in search.trial_specs(config, params, ["kfold:3:0:0"]):
            assert (spec.dropout, spec.l2, spec.batch_norm) == (
                params["dropout"], params["l2"], params["batch_norm"])
            assert not spec.is_plain_lenet5  # So they train on the Keras path.
