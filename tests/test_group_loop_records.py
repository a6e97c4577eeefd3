"""What the group loop writes down (lenet_bench.trainers.group_loop), with a scripted stand-in
trainer whose per-epoch figures are known: each run's history, learning rates, best epoch,
divergence, its record and checkpoint files, and what a resume keeps. A slip here records
wrong results without an error; these tests train nothing (one small Keras model is built
per run for its initial weights) and `make mutation` runs them against group_loop.py."""

import json
import math
import time

import numpy as np
import pytest

from lenet_bench import runs
from lenet_bench.inputs import data
from lenet_bench.options import RunOptions
from lenet_bench.trainers import group_loop

EPOCHS = 4
# Per epoch, per replica: training loss, and test accuracy (replica 1 diverges at epoch 3).
TRAIN_LOSS = [[1.0, 2.0, 0.5], [0.8, 1.5, 0.4], [0.6, math.nan, 0.3], [0.5, 1.0, 0.2]]
TEST_ACCURACY = [[0.5, 0.2, 0.6], [0.7, 0.3, 0.6], [0.6, 0.1, 0.65], [0.65, 0.1, 0.7]]


class ScriptedTrainer:
    """Trains nothing; reports TRAIN_LOSS and TEST_ACCURACY for the epoch it last trained."""

    calls: list = []

    def __init__(self, specs, initial_weights):
        self.weights = [list(weights) for weights in initial_weights]
        self.num_replicas, self.epoch = len(specs), None

    def train_epoch(self, images, labels, orders, batch_size, learning_rates,
                    clean_labels=None, *, seeds=None, epoch=0):
        self.epoch = epoch
        self.calls.append({"epoch": epoch, "learning_rates": list(learning_rates),
                           "batch_size": batch_size, "labels": np.array(labels),
                           "clean_labels": np.array(clean_labels), "seeds": list(seeds)})
        loss = np.array(TRAIN_LOSS[epoch][:self.num_replicas])
        return {"loss": loss, "accuracy": 1 - loss / 10, "clean_accuracy": 1 - loss / 20}

    def evaluate(self, images, labels):
        count, replicas = len(labels), self.num_replicas
        accuracy = np.array(TEST_ACCURACY[self.epoch][:replicas])
        return {"loss": 1 - accuracy, "accuracy": accuracy, "soft_accuracy": accuracy / 2,
                "predictions": np.tile(labels % 10, (replicas, 1)),
                "confidence": np.full((replicas, count), 0.75),
                "soft_confusion_sums": np.tile(np.eye(10), (replicas, 1, 1))}

    def get_weights(self, replica):
        return self.weights[replica]

    def set_weights(self, replica, weights):
        self.weights[replica] = weights

    def get_state(self):
        return {f"{replica}/0": np.asarray(weights[0]) for replica, weights in
                enumerate(self.weights)}

    def set_state(self, state):
        for replica in range(self.num_replicas):
            if f"{replica}/0" in state:
                self.weights[replica][0] = state[f"{replica}/0"]


class FixedCost:
    def __init__(self, model, test_images):
        pass

    def measure(self, record=None):
        return {"train_seconds": record["wall_seconds"]}


@pytest.fixture
def scripted(monkeypatch):
    ScriptedTrainer.calls = []
    monkeypatch.setattr(group_loop, "make_trainer",
                        lambda kind, specs, weights, *args: ScriptedTrainer(specs, weights))
    monkeypatch.setattr(group_loop.cost, "CostMeter", FixedCost)
    return ScriptedTrainer.calls


def group(**changes):
    fields = {"dataset": "synthetic", "epochs": EPOCHS, "batch_size": 8, "learning_rate": 0.01,
              "lr_decay": 0.5, **changes}
    return [runs.RunSpec(seed=seed, **fields) for seed in (3, 4, 5)]


@pytest.fixture(scope="module")
def dataset():
    return data.make_synthetic(num_train=40, num_test=30)


def test_histories_hold_each_epochs_figures(scripted, dataset):
    records = group_loop.train_group(group(), dataset, None, keep_best=False)
    first = records[0]["history"]
    assert first["epoch"] == [1, 2, 3, 4] and all(type(epoch) is int for epoch in first["epoch"])
    assert all(type(loss) is float for loss in first["train_loss"])
    assert first["learning_rate"] == [0.01, 0.005, 0.0025, 0.00125]
    assert first["train_loss"] == [1.0, 0.8, 0.6, 0.5]
    assert first["train_accuracy"] == pytest.approx([0.9, 0.92, 0.94, 0.95])
    assert first["train_clean_accuracy"] == pytest.approx([0.95, 0.96, 0.97, 0.975])
    assert first["test_accuracy"] == [0.5, 0.7, 0.6, 0.65]
    assert first["test_loss"] == pytest.approx([0.5, 0.3, 0.4, 0.35])
    assert first["test_soft_accuracy"] == [0.25, 0.35, 0.3, 0.325]
    assert all(isinstance(value, float) for value in first["epoch_seconds"])
    assert [call["epoch"] for call in scripted] == [0, 1, 2, 3]
    assert [call["learning_rates"] for call in scripted][1] == [0.005] * 3
    assert all(call["batch_size"] == 8 and call["seeds"] == [3, 4, 5] for call in scripted)
    third = records[2]
    assert third["history"]["test_accuracy"] == [0.6, 0.6, 0.65, 0.7]


def test_the_best_epoch_is_the_first_with_the_highest_test_accuracy(scripted, dataset):
    records = group_loop.train_group(group(), dataset, None, keep_best=False)
    assert (records[0]["best_epoch"], records[0]["best_test_accuracy"]) == (2, 0.7)
    assert (records[2]["best_epoch"], records[2]["best_test_accuracy"]) == (4, 0.7)
    assert all(record["status"] == "done" for record in (records[0], records[2]))
    assert records[0]["epochs_done"] == EPOCHS and records[0]["diverged_epoch"] is None


def test_a_run_whose_loss_is_not_finite_diverges_and_stops(scripted, dataset):
    records = group_loop.train_group(group(), dataset, None, keep_best=False)
    diverged = records[1]
    assert diverged["status"] == "diverged" and diverged["diverged_epoch"] == 3
    assert diverged["epochs_done"] == 3 and diverged["history"]["train_loss"] == [2.0, 1.5, None]
    assert diverged["best_epoch"] == 2 and "finished" in diverged
    assert "confusion_matrix" not in diverged and "cost" not in diverged


def test_a_finished_run_has_its_confusion_matrix_cost_and_stamp(scripted, dataset):
    record = group_loop.train_group(group(), dataset, None, keep_best=False)[0]
    matrix = np.array(record["confusion_matrix"])
    assert matrix.sum() == 30 and np.trace(matrix) == 30  # The script predicts every label.
    assert record["soft_confusion"] == np.eye(10).tolist()
    assert record["cost"] == {"train_seconds": record["wall_seconds"]}
    assert record["wall_seconds"] > 0 and record["finished"] >= record["started"]


def test_the_soft_confusion_is_stored_row_normalized_to_six_decimals(scripted, dataset,
                                                                     monkeypatch):
    """Rows of 1/11 and 2/11: stored as 0.090909 and 0.181818, the precision readers
    compare with (a seventh decimal would make reports of one run differ)."""
    sums = np.ones((10, 10)) + np.eye(10)
    original = ScriptedTrainer.evaluate
    monkeypatch.setattr(ScriptedTrainer, "evaluate", lambda self, *args: {
        **original(self, *args), "soft_confusion_sums": np.tile(sums, (self.num_replicas, 1, 1))})
    record = group_loop.train_group(group(), dataset, None, keep_best=False)[0]
    expected = np.full((10, 10), 0.090909) + np.eye(10) * (0.181818 - 0.090909)
    assert np.array(record["soft_confusion"]) == pytest.approx(expected, abs=1e-12)


def test_a_record_says_what_ran(scripted, dataset):
    specs = group(label_noise=0.25)
    record = group_loop.train_group(specs, dataset, None, keep_best=False, experiment="x")[1]
    assert record["key"] == specs[1].key and record["experiment"] == "x"
    assert record["spec"]["seed"] == 4 and record["results_format"] == runs.RESULTS_FORMAT
    assert record["train_size"] == 40 and record["group_size"] == 3
    assert record["trainer"] == "ScriptedTrainer"
    assert record["noise"]["eps"] == 0.25 and record["noise"]["mode"] == "sampled"
    counts = np.array(record["noise"]["transition_counts"])
    assert counts.sum() == 40 and np.trace(counts) < 40
    labels = scripted[0]["labels"]
    np.testing.assert_array_equal(scripted[0]["clean_labels"], dataset.train_labels)
    assert labels.shape == (3, 40) and not np.array_equal(labels[0], labels[1])
    clean_run = group_loop.train_group(group(), dataset, None, keep_best=False)[0]
    assert np.trace(np.array(clean_run["noise"]["transition_counts"])) == 40


def test_files_every_epoch_and_no_checkpoint_left(scripted, dataset, tmp_path, monkeypatch):
    specs = group()
    written = []
    save_checkpoint = runs.save_checkpoint
    monkeypatch.setattr(group_loop.runs, "save_checkpoint",
                        lambda path, epochs, records, state: (
                            written.append(("checkpoint", epochs)),
                            save_checkpoint(path, epochs, records, state)))
    write_json = group_loop.atomic_write_json
    monkeypatch.setattr(group_loop, "atomic_write_json", lambda path, record: (
        written.append((path.name, record["epochs_done"])), write_json(path, record)))
    records = group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    assert [entry for entry in written if entry[0] == "checkpoint"] == [
        ("checkpoint", 1), ("checkpoint", 2), ("checkpoint", 3)]
    first = f"{specs[0].key}.json"
    assert [epochs for name, epochs in written if name == first] == [1, 2, 3, 4]
    assert [epochs for name, epochs in written if name == f"{specs[1].key}.json"] == [1, 2, 3]
    for spec, record in zip(specs, records):
        assert json.loads(runs.run_path(tmp_path, spec).read_text()) == record
    assert not list(tmp_path.glob("group-*"))
    predictions = np.load(runs.run_path(tmp_path, specs[0], ".predictions.npz"))
    assert predictions["predicted"].dtype == np.uint8 and predictions["confidence"].dtype == \
        np.float16
    np.testing.assert_array_equal(predictions["predicted"], dataset.test_labels)
    assert not runs.run_path(tmp_path, specs[1], ".predictions.npz").exists()


def test_best_weights_are_saved_when_the_test_accuracy_improves(scripted, dataset, tmp_path,
                                                               monkeypatch):
    saved = []
    monkeypatch.setattr(group_loop, "atomic_write_with",
                        lambda path, write: saved.append(path.name))
    specs = group()
    group_loop.train_group(specs, dataset, tmp_path, keep_best=True)
    weights = [name for name in saved if name.endswith(".weights.h5")]
    assert weights.count(f"{specs[0].key}.weights.h5") == 2  # Epochs 1 and 2.
    assert weights.count(f"{specs[2].key}.weights.h5") == 3  # Epochs 1, 3, 4.
    saved.clear()
    (tmp_path / "other").mkdir()
    group_loop.train_group(specs, dataset, tmp_path / "other", keep_best=False)
    assert saved == []


def test_a_resumed_group_continues_its_records(scripted, dataset, tmp_path):
    specs = group()
    whole = group_loop.train_group(specs, dataset, None, keep_best=False)
    stop = [True]

    def interrupt(*args, **kwargs):
        if stop:
            stop.clear()
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    original = ScriptedTrainer.evaluate
    calls_before = len(scripted)
    ScriptedTrainer.evaluate = lambda self, *a: interrupt(self, *a) if self.epoch == 2 else \
        original(self, *a)
    try:
        with pytest.raises(KeyboardInterrupt):
            group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
        assert len(list(tmp_path.glob("group-*.ckpt.npz"))) == 1
        resumed = group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    finally:
        ScriptedTrainer.evaluate = original
    assert [call["epoch"] for call in scripted[calls_before:]] == [0, 1, 2, 2, 3]
    for mine, reference in zip(resumed, whole):
        for name in ("train_loss", "test_accuracy", "learning_rate", "epoch"):
            assert mine["history"][name] == reference["history"][name], name
        assert (mine["status"], mine["best_epoch"]) == (reference["status"],
                                                        reference["best_epoch"])


def test_kept_runs_train_along_but_their_files_stay(scripted, dataset, tmp_path):
    specs = group()
    kept = runs.run_path(tmp_path, specs[0])
    kept.write_text('{"kept": true}')
    records = group_loop.train_group(specs, dataset, tmp_path, keep_best=False,
                                     finished={specs[0].key})
    assert kept.read_text() == '{"kept": true}'
    assert records[0]["history"]["epoch"] == [] and records[0]["status"] == "running"
    assert records[2]["status"] == "done"
    assert not runs.run_path(tmp_path, specs[0], ".predictions.npz").exists()


def test_one_run_alone(scripted, dataset):
    record = group_loop.train_run(group()[0], dataset, keep_best=False)
    assert record["history"]["train_loss"] == [1.0, 0.8, 0.6, 0.5] and record["group_size"] == 1


def test_a_kept_run_keeps_the_fields_of_a_new_record(scripted, dataset, tmp_path):
    specs = group()
    record = group_loop.train_group(specs, dataset, tmp_path, keep_best=False,
                                    finished={specs[0].key})[0]
    assert (record["epochs_done"], record["best_epoch"], record["best_test_accuracy"],
            record["diverged_epoch"], record["wall_seconds"]) == (0, None, None, None, 0.0)
    assert record["history"] == {name: [] for name in runs.HISTORY_METRICS}


def test_divergence_is_logged_on_the_lenet_bench_logger(scripted, dataset, caplog):
    specs = group()
    with caplog.at_level("WARNING", logger="lenet_bench"):
        group_loop.train_group(specs, dataset, None, keep_best=False)
    warnings = [entry for entry in caplog.records if entry.levelname == "WARNING"]
    assert [entry.name for entry in warnings] == ["lenet_bench"]
    assert warnings[0].getMessage() == (f"{specs[1].key} diverged at epoch 3 (loss is not "
                                        "finite); stopped")


def test_the_checkpoint_names_its_trainer_and_another_trainer_starts_over(
        scripted, dataset, tmp_path, monkeypatch):
    specs = group()
    saved = []
    save_checkpoint = runs.save_checkpoint
    monkeypatch.setattr(group_loop.runs, "save_checkpoint", lambda path, epochs, records, state: (
        saved.append(dict(state)), save_checkpoint(path, epochs, records, state)))
    stop = [True]
    original = ScriptedTrainer.evaluate

    def evaluate(self, *args):
        if self.epoch == 2 and stop:
            stop.clear()
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(ScriptedTrainer, "evaluate", evaluate)
    with pytest.raises(KeyboardInterrupt):
        group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    assert str(saved[-1]["trainer"]) == "ScriptedTrainer" and len(saved[-1]) == 4

    class OtherTrainer(ScriptedTrainer):
        pass

    monkeypatch.setattr(group_loop, "make_trainer",
                        lambda kind, specs, weights, *args: OtherTrainer(specs, weights))
    calls_before = len(scripted)
    records = group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    assert [call["epoch"] for call in scripted[calls_before:]] == [0, 1, 2, 3]
    assert records[0]["history"]["epoch"] == [1, 2, 3, 4]


def test_early_stopping_stops_restores_the_best_validation_weights_and_finishes(
        scripted, dataset, tmp_path, monkeypatch):
    """The script's validation figures are its test figures: replica 0's val loss
    0.5, 0.3, 0.4 has its best at epoch 2, and patience 1 stops it at epoch 3; replica
    2's 0.4, 0.4 stops it at epoch 2 with its first epoch's weights."""
    specs = group(validation_split=0.25, patience=1)
    restored = []
    monkeypatch.setattr(ScriptedTrainer, "set_weights",
                        lambda self, replica, weights: restored.append((replica, weights)))
    records = group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    first = records[0]
    assert (first["status"], first["best_val_epoch"], first["stopped_epoch"]) == ("done", 2, 3)
    assert first["epochs_done"] == 3 and first["validation_size"] == 10
    assert first["history"]["val_loss"] == pytest.approx([0.5, 0.3, 0.4])
    assert first["final_test_accuracy"] == 0.6 and first["final_test_soft_accuracy"] == 0.3
    assert first["final_test_loss"] == pytest.approx(0.4)
    assert "confusion_matrix" in first and "cost" in first
    assert [replica for replica, _ in restored] == [2, 0]
    assert json.loads(runs.run_path(tmp_path, specs[0]).read_text()) == first
    third = records[2]
    assert (third["best_val_epoch"], third["stopped_epoch"], third["epochs_done"]) == (1, 2, 2)
    assert third["final_test_accuracy"] == 0.6 and third["status"] == "done"


def test_a_record_holds_every_field_readers_look_up(scripted, dataset):
    record = group_loop.train_group(group(), dataset, None, keep_best=False)[0]
    assert set(record) == {
        "results_format", "key", "experiment", "spec", "status", "epochs_done", "history",
        "best_epoch", "best_test_accuracy", "diverged_epoch", "noise", "num_params",
        "train_size", "trainer", "group_size", "device", "onednn", "threads", "versions",
        "started", "wall_seconds", "finished", "confusion_matrix", "soft_confusion", "cost",
        "data"}
    assert record["num_params"] == 61706  # LeNet-5 on 28x28x1, 10 classes.
    assert record["device"] and record["onednn"] and record["threads"] >= 1
    assert "numpy" in record["versions"]


def test_the_defaults(scripted, dataset, tmp_path, monkeypatch):
    """trainer 'auto' (XLA as the trainer likes), best weights kept, no .keras models."""
    handed = []
    monkeypatch.setattr(group_loop, "make_trainer", lambda kind, specs, weights, dataset, jit: (
        handed.append((kind, jit)), ScriptedTrainer(specs, weights))[1])
    saved = []
    monkeypatch.setattr(group_loop, "atomic_write_with",
                        lambda path, write: saved.append(path.name))
    specs = group()
    record = group_loop.train_group(specs, dataset, tmp_path)[0]
    assert handed == [("auto", None)] and record["experiment"] == ""
    assert f"{specs[0].key}.weights.h5" in saved
    assert not list(tmp_path.glob("*.keras"))


def test_save_models_writes_the_final_models(scripted, dataset, tmp_path):
    specs = group()
    keras_models = RunOptions(keras_models=True, tensorboard=False, progress="none")
    group_loop.train_group(specs, dataset, tmp_path, keras_models, keep_best=False)
    assert (tmp_path / f"{specs[0].key}.final.keras").is_file()
    assert not (tmp_path / f"{specs[1].key}.final.keras").exists()  # Diverged.
    other = tmp_path / "none"
    group_loop.train_group(specs, dataset, None, keras_models, keep_best=False)
    assert not other.exists()


def test_train_run_writes_into_its_runs_dir(scripted, dataset, tmp_path):
    spec = group()[0]
    record = group_loop.train_run(spec, dataset, runs_dir=tmp_path, keep_best=False)
    assert json.loads(runs.run_path(tmp_path, spec).read_text()) == record


def test_a_checkpoint_from_before_the_trainer_was_named_resumes(scripted, dataset, tmp_path):
    specs = group()
    first = group_loop.train_group(specs, dataset, None, keep_best=False)
    records = json.loads(json.dumps(first))
    for record in records:  # As after epoch 2.
        record["epochs_done"], record["status"] = 2, "running"
        record["history"] = {name: values[:2] for name, values in record["history"].items()}
        record["best_epoch"], record["best_test_accuracy"] = None, None
        del record["history"]["test_soft_accuracy"]  # A metric the checkpoint predates.
    runs.save_checkpoint(runs.checkpoint_path(tmp_path, specs), 2, records, {})
    calls_before = len(scripted)
    resumed = group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    assert [call["epoch"] for call in scripted[calls_before:]] == [2, 3]
    assert resumed[0]["history"]["test_soft_accuracy"] == [None, None, 0.3, 0.325]


def test_a_run_that_diverged_before_the_checkpoint_stays_diverged(scripted, dataset, tmp_path,
                                                                 monkeypatch):
    specs = group()
    stop = [True]
    original = ScriptedTrainer.evaluate

    def evaluate(self, *args):
        if self.epoch == 3 and stop:
            stop.clear()
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(ScriptedTrainer, "evaluate", evaluate)
    with pytest.raises(KeyboardInterrupt):
        group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    records = group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    assert records[1]["status"] == "diverged" and records[1]["epochs_done"] == 3
    assert records[1]["history"]["train_loss"] == [2.0, 1.5, None]
    assert records[0]["epochs_done"] == 4


def test_a_resumed_early_stopping_run_restores_its_best_weights(scripted, dataset, tmp_path,
                                                                monkeypatch):
    """Replica 0's best validation epoch is 2; the group is cut after epoch 2 and resumed:
    at its stop (epoch 3) the weights of epoch 2, kept in the checkpoint, come back."""
    specs = group(validation_split=0.25, patience=1)
    train_epoch = ScriptedTrainer.train_epoch

    def marking_train_epoch(self, *args, epoch=0, **kwargs):
        for replica, weights in enumerate(self.weights):  # The last bias tells the epoch.
            weights[-1] = np.full_like(weights[-1], 10.0 * epoch + replica)
        return train_epoch(self, *args, epoch=epoch, **kwargs)

    monkeypatch.setattr(ScriptedTrainer, "train_epoch", marking_train_epoch)
    stop, restored = [True], []
    original = ScriptedTrainer.evaluate

    def evaluate(self, *args):
        if self.epoch == 2 and stop:
            stop.clear()
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(ScriptedTrainer, "evaluate", evaluate)
    monkeypatch.setattr(ScriptedTrainer, "set_weights",
                        lambda self, replica, weights: restored.append((replica, weights)))
    with pytest.raises(KeyboardInterrupt):
        group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    restored.clear()
    group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    replica, weights = restored[-1]
    assert replica == 0 and set(weights[-1].tolist()) == {10.0}  # Epoch 2 (index 1).


def test_observers_hear_each_epoch_by_its_number(scripted, dataset):
    heard = []

    class Listener(group_loop.hooks.Observer):
        def group_epoch_end(self, epochs_done, epochs):
            heard.append((epochs_done, epochs))

    group_loop.train_group(group(), dataset, None, keep_best=False, observers=[Listener()])
    assert heard == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_no_epoch_is_trained_once_every_run_has_stopped(scripted, dataset):
    """Patience 1: replica 2 stops at epoch 2, replica 0 at 3, replica 1 diverges at 3."""
    group_loop.train_group(group(validation_split=0.25, patience=1), dataset, None,
                           keep_best=False)
    assert [call["epoch"] for call in scripted] == [0, 1, 2]


def test_a_one_epoch_group_writes_no_checkpoint(scripted, dataset, tmp_path):
    records = group_loop.train_group(group(epochs=1), dataset, tmp_path, keep_best=False)
    assert [record["status"] for record in records] == ["done"] * 3
    assert not list(tmp_path.glob("group-*"))


def test_epoch_seconds_are_each_runs_share_of_the_epoch(scripted, dataset, monkeypatch):
    """Three runs train together in an epoch of at least 0.2 s: each is charged a third."""
    train_epoch = ScriptedTrainer.train_epoch

    def slow_train_epoch(self, *args, **kwargs):
        time.sleep(0.2)
        return train_epoch(self, *args, **kwargs)

    monkeypatch.setattr(ScriptedTrainer, "train_epoch", slow_train_epoch)
    record = group_loop.train_group(group(), dataset, None, keep_best=False)[0]
    seconds = record["history"]["epoch_seconds"]
    assert len(seconds) == EPOCHS and all(0.2 / 3 <= value < 0.4 for value in seconds), seconds
    assert record["wall_seconds"] == pytest.approx(sum(seconds))


def test_a_validation_split_without_patience_never_stops(scripted, dataset):
    records = group_loop.train_group(group(validation_split=0.25), dataset, None, keep_best=False)
    assert (records[0]["stopped_epoch"], records[0]["epochs_done"]) == (None, EPOCHS)


@pytest.mark.parametrize("replicas", [3, 1], ids=["with-a-run-at-its-best", "alone"])
def test_patience_two_reevaluates_the_restored_weights(scripted, dataset, monkeypatch,
                                                       replicas):
    """Replica 0's val loss 0.5, 0.3, 0.4, 0.35: best at epoch 2, patience 2 stops it at 4,
    so its epoch-2 weights are restored and the test set evaluated again; alone, its best
    epoch two back is the only reason to evaluate again."""
    evaluated = []
    original = ScriptedTrainer.evaluate
    monkeypatch.setattr(ScriptedTrainer, "evaluate", lambda self, *args: (
        evaluated.append(self.epoch), original(self, *args))[1])
    group_loop.train_group(group(validation_split=0.25, patience=2)[:replicas], dataset, None,
                           keep_best=False)
    assert evaluated.count(3) == 3  # Test, validation, and the test set again after restoring.
