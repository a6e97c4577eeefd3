"""Early stopping (validation hold-out, patience, best-validation weights) and augmentation."""

import dataclasses
import hashlib
import json

import numpy as np
import pytest
from conftest import run_options

from lenet_bench import runs
from lenet_bench.config import ExperimentConfig, parse_grid_flag, validate
from lenet_bench.errors import InputError
from lenet_bench.files import read_json
from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.reports import report
from lenet_bench.study import experiment
from lenet_bench.trainers import (augmentation, early_stopping, fused_tf, group_loop,
                                  steps_tensorflow)

# Its module-scoped fixtures are built once: one worker runs the module (tests/conftest.py).
pytestmark = pytest.mark.xdist_group(__name__)

TRAIN_SIZE = 600

FUSED_WITHOUT_XLA = run_options(trainer="fused", jit="off")


@pytest.fixture(scope="module")
def digits():
    return data.take_train_subset(data.load("digits"), TRAIN_SIZE, 0)


def spec(**changes):
    fields = dict(dataset="digits", train_size=TRAIN_SIZE, data_seed=0,
                  initializer="glorot_uniform", activation="relu", first_conv_padding="auto",
                  optimizer="adam", learning_rate=0.01, lr_decay=1.0, label_noise=0.0,
                  noise_mode="sampled", epochs=10, batch_size=32, seed=0, validation_split=0.2,
                  patience=1, monitor="val_accuracy")
    return runs.RunSpec(**{**fields, **changes})


def runs_dir(path):
    path.mkdir()
    return path


def predictions(runs_dir, key):
    with np.load(runs_dir / f"{key}.predictions.npz") as stored:
        return stored["predicted"], stored["confidence"]


# ------------------------------------------------------------ early stopping


@pytest.mark.parametrize("trainer", ["fused", "keras"])
def test_early_stopping_restores_the_best_validation_epoch(tmp_path, digits, trainer):
    stopping = spec()
    record = group_loop.train_group([stopping], digits, runs_dir(tmp_path / "es"),
                                    run_options(trainer=trainer, jit="off"), keep_best=False)[0]
    best, stopped = record["best_val_epoch"], record["stopped_epoch"]
    assert stopped is not None and stopped < stopping.epochs, "the case must stop early"
    assert stopped == best + stopping.patience
    assert record["epochs_done"] == len(record["history"]["val_accuracy"]) == stopped
    assert record["best_val_accuracy"] == max(record["history"]["val_accuracy"])
    assert record["history"]["val_accuracy"].index(record["best_val_accuracy"]) + 1 == best
    # The reference: the same run trained for exactly `best` epochs, no early stopping.
    reference = group_loop.train_group([dataclasses.replace(stopping, epochs=best, patience=0)],
                                  digits, runs_dir(tmp_path / "ref"), run_options(trainer=trainer, jit="off"),
                                  keep_best=False)[0]
    key, reference_key = record["key"], reference["key"]
    assert record["final_test_accuracy"] == reference["history"]["test_accuracy"][-1]
    assert record["final_test_accuracy"] == record["history"]["test_accuracy"][best - 1]
    assert record["confusion_matrix"] == reference["confusion_matrix"]
    got, want = predictions(tmp_path / "es", key), predictions(tmp_path / "ref", reference_key)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    # ...and not the weights it stopped with: those predict differently.
    assert record["history"]["test_accuracy"][-1] != record["final_test_accuracy"]


def test_best_val_weights_are_in_the_checkpoint_and_a_killed_group_resumes(tmp_path, digits,
                                                                         monkeypatch):
    specs = [spec(seed=0, epochs=7),
             spec(seed=1, epochs=7, learning_rate=0.003, monitor="val_loss", patience=2)]
    uninterrupted = group_loop.train_group(specs, digits, runs_dir(tmp_path / "clean"),
                                           FUSED_WITHOUT_XLA, keep_best=False)
    assert uninterrupted[0]["stopped_epoch"] is not None  # One stops while the other goes on.
    assert uninterrupted[0]["stopped_epoch"] < uninterrupted[1]["epochs_done"]

    real_save = runs.save_checkpoint
    saved = {}

    def save_then_die(path, epochs_done, records, state):
        real_save(path, epochs_done, records, state)
        if records[0]["status"] == "done":  # Killed once the first run has stopped.
            saved.update(state)
            raise KeyboardInterrupt

    monkeypatch.setattr(runs, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        group_loop.train_group(specs, digits, runs_dir(tmp_path / "killed"), FUSED_WITHOUT_XLA,
                          keep_best=False)
    monkeypatch.setattr(runs, "save_checkpoint", real_save)
    assert any(name.startswith("best_val/1/") for name in saved)  # The running run's best.
    resumed = group_loop.train_group(specs, digits, tmp_path / "killed", FUSED_WITHOUT_XLA,
                                     keep_best=False,
                                finished={uninterrupted[0]["key"]})
    for record in resumed + uninterrupted:
        del record["history"]["epoch_seconds"]  # The only thing a resume may change.
    for got, want in zip(resumed[1:], uninterrupted[1:]):
        for field in ("history", "best_val_epoch", "stopped_epoch", "final_test_accuracy",
                      "confusion_matrix", "status"):
            assert got[field] == want[field], field
    stored = json.loads((tmp_path / "killed" / f"{specs[0].key}.json").read_text())
    del stored["history"]["epoch_seconds"]
    assert stored["history"] == uninterrupted[0]["history"]
    assert stored["final_test_accuracy"] == uninterrupted[0]["final_test_accuracy"]


def test_validation_split_is_stratified_disjoint_and_leaves_the_test_set(digits):
    class_sorted = dataclasses.replace(digits, train_labels=np.sort(digits.train_labels),
                                       train_images=digits.train_images[
                                           np.argsort(digits.train_labels, kind="stable")])
    reduced, (images, labels) = early_stopping.split_validation(class_sorted, 0.1, 0)
    assert len(labels) == 60 and len(reduced.train_labels) == TRAIN_SIZE - 60
    expected = 0.1 * np.bincount(class_sorted.train_labels, minlength=10)
    assert np.all(np.abs(np.bincount(labels, minlength=10) - expected) <= 1)
    rows = lambda array: {row.tobytes() for row in array.reshape(len(array), -1)}  # noqa: E731
    assert not rows(images) & rows(reduced.train_images)  # digits has no duplicate images
    assert rows(images) | rows(reduced.train_images) == rows(class_sorted.train_images)
    assert not rows(images) & rows(class_sorted.test_images)
    assert reduced.test_images is class_sorted.test_images
    assert reduced.test_labels is class_sorted.test_labels


def test_run_keys_without_the_new_fields_are_unchanged():
    run = spec(validation_split=0.0, patience=0, monitor="val_loss")
    old_fields = {name: value for name, value in dataclasses.asdict(run).items()
                  if name not in runs.HASH_OPTIONAL_FIELDS}
    digest = hashlib.sha256(json.dumps([3, old_fields], sort_keys=True).encode()).hexdigest()[:8]
    assert run.key == f"glorot_uniform_lr0.01_decay1_seed0_{digest}"
    assert spec(augment_zoom=0.1, patience=0).key.startswith("glorot_uniform_lr0.01_decay1_val0.2_aug_seed0_")


def test_bad_early_stopping_and_augmentation_values_are_rejected():
    base = ExperimentConfig(name="x", dataset="mnist")
    for changes, flag in [({"augment_flip": True}, "--augment_flip"),
                          ({"patience": 3}, "--patience"),
                          ({"validation_split": 1.0}, "--validation_split"),
                          ({"monitor": "loss", "validation_split": 0.1}, "--monitor"),
                          ({"augment_rotation": 0.7}, "--augment_rotation")]:
        with pytest.raises(InputError, match=flag):
            validate(dataclasses.replace(base, **changes))
    with pytest.raises(InputError, match="--augment_flip=True is invalid: expected false for "
                                         "fashion_mnist"):
        validate(dataclasses.replace(base, dataset="fashion_mnist", augment_flip=True))
    validate(dataclasses.replace(base, dataset="cifar10", augment_flip=True))
    assert parse_grid_flag("augment_flip=false,true") == ("augment_flip", (False, True))


# --------------------------------------------------------------- augmentation


def test_augmentation_is_seeded_and_off_leaves_images_untouched(digits):
    images = digits.train_images[:16]
    on = augmentation.Augmenter([augmentation.AugmentSettings(translation=0.1, rotation=0.05,
                                                              zoom=0.1)])
    first = on.augment(images, augmentation.step_seed(3, 0, 5)).numpy()
    again = augmentation.Augmenter([on.settings[0]]).augment(
        images, augmentation.step_seed(3, 0, 5)).numpy()
    np.testing.assert_array_equal(first, again)  # Same seed, same batch, even a new augmenter.
    other = on.augment(images, augmentation.step_seed(3, 0, 6)).numpy()
    plain = images.astype(np.float32) / 255
    assert np.abs(first - plain).max() > 0.5 and np.abs(first - other).max() > 0.5
    off = augmentation.Augmenter([augmentation.AugmentSettings()])
    np.testing.assert_allclose(off.augment(images, augmentation.step_seed(3, 0, 5)).numpy(),
                               plain, rtol=0, atol=1e-7)
    flipped = augmentation.Augmenter([augmentation.AugmentSettings(flip=True)]).augment(
        images, augmentation.step_seed(0, 0, 0)).numpy()
    kept = [np.allclose(got, image, rtol=0, atol=1e-7) for got, image in zip(flipped, plain)]
    mirrored = [np.allclose(got, image[:, ::-1], rtol=0, atol=1e-7)
                for got, image in zip(flipped, plain)]
    assert all(np.logical_or(kept, mirrored))  # Each image as it was or mirrored, nothing else.
    assert any(kept) and any(mirrored)


def test_fused_augmentation_matches_the_keras_path_replica_by_replica():
    dataset = data.make_synthetic(num_train=96, num_test=40, seed=4)
    settings = [augmentation.AugmentSettings(translation=0.1, rotation=0.05),
                augmentation.AugmentSettings(), augmentation.AugmentSettings(zoom=0.2)]
    weights = [models.build_lenet5((28, 28, 1), 10, seed=seed).get_weights() for seed in range(3)]
    labels = np.stack([dataset.train_labels] * 3)
    orders = np.stack([np.random.default_rng(r).permutation(96) for r in range(3)])
    group = fused_tf.FusedLeNet5(weights, (28, 28, 1), 10, augment=settings)
    result = group.train_epoch(dataset.train_images, labels, orders, 32, [0.003] * 3,
                               seeds=[7, 8, 9], epoch=2)
    for r in range(3):
        model = models.build_lenet5((28, 28, 1), 10)
        model.set_weights(weights[r])
        augmenter = augmentation.Augmenter([settings[r]]) if settings[r].on else None
        train_epoch, _ = steps_tensorflow.make_step_functions(model, models.make_optimizer("adam", 0.003), 10,
                                                   jit_compile=False, augmenter=augmenter)
        loss, accuracy, _ = train_epoch(dataset.train_images, labels[r], orders[r], 32,
                                        seed=7 + r, epoch=2)
        assert result["loss"][r] == pytest.approx(loss, rel=1e-5)
        for got, want in zip(group.get_weights(r), model.get_weights()):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)


def test_runner_with_validation_and_augmentation_agrees_across_trainers(tmp_path):
    config = ExperimentConfig(name="both", dataset="synthetic", epochs=2, batch_size=50, seeds=1,
                              validation_split=0.25, patience=1,
                              grid={"augment_translation": (0.0, 0.1)})
    dataset = data.make_synthetic(num_train=200, num_test=100)
    records = {}
    for trainer in ("fused", "keras"):
        experiment_dir = experiment.run_experiment(config, dataset, tmp_path / trainer,
                                                   run_options(trainer=trainer, jit="off"))
        records[trainer] = [read_json(experiment_dir / "runs" / f"{spec.key}.json")
                            for spec in runs.run_specs(config)]
    for fused_record, keras_record in zip(records["fused"], records["keras"]):
        assert fused_record["train_size"] == 150 and fused_record["validation_size"] == 50
        for metric in ("train_loss", "val_loss", "test_loss"):
            np.testing.assert_allclose(fused_record["history"][metric],
                                       keras_record["history"][metric], rtol=1e-4)
    assert records["fused"][0]["history"]["train_loss"] != records["fused"][1]["history"]["train_loss"]
    report_path = report.write_experiment_report(experiment_dir)  # The Keras path's runs.
    summary = (experiment_dir / "summary.md").read_text()
    assert "| best val acc % | best val epoch | stopped (epoch) |" in summary
    assert "| translate 0.1 |" in summary and "| translate 0 |" in summary
    assert (experiment_dir / "pivot.md").exists() is False  # One grid field: no pivot.
    best_val = [record["best_val_accuracy"] for record in records["keras"]]
    assert report.percent(float(np.mean(best_val[1:]))) in summary  # translate 0.1, one seed
    assert "restored" in report_path.read_text()
