"""The order each run sees its training images in, observed where the trainer takes it.

Seeds are replicates only if each seed's run sees its own data order: a loop that seeded
the shuffle by the epoch alone would train every seed on one order and still reach a fine
accuracy, so these tests watch the orders and batches themselves, never the accuracy:
the `orders` a replica trainer is handed (group_loop -> train_epoch), and the batches the
per-run Keras trainer and the fused TensorFlow trainer actually index the images with
(tests/backend_jax/test_data_order_jax.py does the same for the fused JAX trainer). The
training subset (`train_size`) is checked to be a seeded, class-stratified subset.
"""

import dataclasses
import itertools

import numpy as np
import pytest

from lenet_bench import runs
from lenet_bench.inputs import data
from lenet_bench.options import RunOptions
from lenet_bench.study import experiment
from lenet_bench.trainers import group_loop

EPOCHS = 3


def small_dataset(train=70, test=20, seed=0) -> data.Dataset:
    return data.make_synthetic(num_train=train, num_test=test, seed=seed)


def spec(seed: int, **changes) -> runs.RunSpec:
    return runs.RunSpec(**{"dataset": "synthetic", "seed": seed, "epochs": EPOCHS,
                           "batch_size": 16, **changes})


class RecordingTrainer:
    """A replica trainer that trains nothing and records the orders it is handed."""

    def __init__(self, specs, initial_weights, log):
        self.num_replicas, self.weights, self.log = len(specs), initial_weights, log

    def train_epoch(self, images, labels, orders, batch_size, learning_rates,
                    clean_labels=None, *, seeds=None, epoch=0):
        self.log.append((epoch, list(seeds), np.array(orders)))
        ones = np.ones(self.num_replicas)
        return {"loss": ones, "accuracy": ones / 2, "clean_accuracy": ones / 2}

    def evaluate(self, images, labels):
        count, replicas = len(labels), self.num_replicas
        return {"loss": np.ones(replicas), "accuracy": np.full(replicas, 0.5),
                "predictions": np.zeros((replicas, count), np.int64),
                "confidence": np.ones((replicas, count)), "soft_accuracy": np.ones(replicas),
                "soft_confusion_sums": np.ones((replicas, 10, 10))}

    def get_weights(self, replica):
        return self.weights[replica]

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


class NoCost:
    def __init__(self, model, test_images):
        pass

    def measure(self, record=None):
        return {}


@pytest.fixture
def recorded_orders(monkeypatch):
    """train(specs, dataset) -> {(seed, epoch): the order that seed's replica was handed},
    through group_loop.train_group with a recording trainer."""
    monkeypatch.setattr(group_loop.cost, "CostMeter", NoCost)

    def train(specs, dataset, **kwargs):
        log = []
        monkeypatch.setattr(group_loop, "make_trainer",
                            lambda kind, specs, weights, *args: RecordingTrainer(specs, weights, log))
        group_loop.train_group(specs, dataset, None, keep_best=False, **kwargs)
        assert [epoch for epoch, _, _ in log] == list(range(EPOCHS))
        return {(seed, epoch): orders[index] for epoch, seeds, orders in log
                for index, seed in enumerate(seeds)}

    return train


def test_each_epoch_every_replica_gets_a_permutation_of_the_training_set(recorded_orders):
    dataset = small_dataset()
    for order in recorded_orders([spec(seed) for seed in range(3)], dataset).values():
        np.testing.assert_array_equal(np.sort(order), np.arange(len(dataset.train_labels)))


def test_orders_differ_across_seeds_and_across_epochs(recorded_orders):
    orders = recorded_orders([spec(seed) for seed in range(3)], small_dataset())
    for (first, first_order), (second, second_order) in itertools.combinations(orders.items(), 2):
        assert not np.array_equal(first_order, second_order), (first, second)


def test_the_same_seed_and_epoch_give_the_same_order_in_any_group(recorded_orders):
    """A rerun, and the same run packed with other runs or other settings, sees the same
    order (so a replica's results do not depend on its group)."""
    dataset = small_dataset()
    alone = recorded_orders([spec(1)], dataset)
    packed = recorded_orders([spec(5), spec(1, learning_rate=0.01), spec(0)], dataset)
    again = recorded_orders([spec(1)], dataset)
    for epoch in range(EPOCHS):
        np.testing.assert_array_equal(alone[1, epoch], packed[1, epoch])
        np.testing.assert_array_equal(alone[1, epoch], again[1, epoch])


def test_a_resumed_group_sees_the_orders_an_uninterrupted_one_would(recorded_orders, tmp_path,
                                                                    monkeypatch):
    dataset, specs = small_dataset(), [spec(0), spec(1)]
    uninterrupted = recorded_orders(specs, dataset)
    log, stop = [], [True]

    class Interrupted(RecordingTrainer):  # One class: a checkpoint names its trainer.
        def train_epoch(self, *args, epoch=0, **kwargs):
            if epoch == 1 and stop:
                stop.clear()
                raise KeyboardInterrupt
            return super().train_epoch(*args, epoch=epoch, **kwargs)

    monkeypatch.setattr(group_loop, "make_trainer",
                        lambda kind, specs, weights, *args: Interrupted(specs, weights, log))
    with pytest.raises(KeyboardInterrupt):
        group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    group_loop.train_group(specs, dataset, tmp_path, keep_best=False)
    assert [epoch for epoch, _, _ in log] == list(range(EPOCHS))
    for epoch, seeds, orders in log:
        for index, seed in enumerate(seeds):
            np.testing.assert_array_equal(orders[index], uninterrupted[seed, epoch])


# ----------------------------------------------- the batches a real trainer indexes


class RecordingImages(np.ndarray):
    """Training images that log every integer-array index they are read with."""

    def __array_finalize__(self, source):
        self.batches = getattr(source, "batches", None)

    def __getitem__(self, index):
        if isinstance(index, np.ndarray) and index.dtype.kind in "iu" and self.batches is not None:
            self.batches.append(np.array(index))
        return np.asarray(self)[index]


def recording(dataset: data.Dataset) -> tuple[data.Dataset, list]:
    images = dataset.train_images.view(RecordingImages)
    images.batches = []
    return dataclasses.replace(dataset, train_images=images), images.batches


def batches_by_epoch(batches: list, replicas: int, count: int, batch_size: int,
                     per_run: bool) -> list[list[np.ndarray]]:
    """Each epoch's order of each replica, put together from the batches read.

    per_run: the Keras trainer reads replica after replica, one batch (B,) at a time;
    the fused trainer reads all replicas' batches at once, (R, B), or one shared (B,).
    """
    steps = -(-count // batch_size)
    if per_run:
        chunks = [batches[start:start + steps] for start in range(0, len(batches), steps)]
        orders = [np.concatenate(chunk) for chunk in chunks]
        return [orders[start:start + replicas] for start in range(0, len(orders), replicas)]
    epochs = []
    for start in range(0, len(batches), steps):
        step_batches = [np.broadcast_to(batch, (replicas, len(batch))) if batch.ndim == 1
                        else batch for batch in batches[start:start + steps]]
        epochs.append(list(np.concatenate(step_batches, axis=1)))
    return epochs


@pytest.mark.parametrize("trainer", ["keras", "fused"])
def test_each_replica_trains_on_its_own_order_in_a_real_trainer(trainer, monkeypatch):
    """Replicas of three seeds in one group: every epoch each reads every training image
    once, in an order of its own, another each epoch, and the same orders again on a rerun;
    and what it reads is the order group_loop handed the trainer."""
    monkeypatch.setattr(group_loop.cost, "CostMeter", NoCost)
    specs = [spec(seed, epochs=2, batch_size=32) for seed in range(3)]
    handed = []
    make_trainer = group_loop.make_trainer

    def spied_make_trainer(*args):
        replicas = make_trainer(*args)
        train_epoch = replicas.train_epoch

        def spied_train_epoch(images, labels, orders, *rest, **kwargs):
            handed.append(np.array(orders))
            return train_epoch(images, labels, orders, *rest, **kwargs)

        replicas.train_epoch = spied_train_epoch
        return replicas

    monkeypatch.setattr(group_loop, "make_trainer", spied_make_trainer)
    read = []
    for _ in range(2):
        dataset, batches = recording(small_dataset())
        group_loop.train_group(specs, dataset, None, RunOptions(trainer=trainer, jit="off",
                                                                keras_models=False),
                               keep_best=False)
        read.append(batches_by_epoch(batches, len(specs), 70, 32, per_run=trainer == "keras"))
    first, rerun = read
    assert len(first) == 2 and all(len(epoch) == len(specs) for epoch in first)
    orders = [order for epoch in first for order in epoch]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(70))
    for one, other in itertools.combinations(orders, 2):
        assert not np.array_equal(one, other)
    for epoch in range(2):
        for replica in range(len(specs)):
            np.testing.assert_array_equal(first[epoch][replica], rerun[epoch][replica])
            np.testing.assert_array_equal(first[epoch][replica], handed[epoch][replica])


# ------------------------------------------------------------ the training subset


def tagged_dataset(train=600, test=20) -> data.Dataset:
    """Synthetic images whose first two pixels spell their row number, so a subset's
    images say which rows they are."""
    dataset = small_dataset(train, test)
    images = dataset.train_images.copy()
    rows = np.arange(train)
    images[:, 0, 0, 0], images[:, 0, 1, 0] = rows // 256, rows % 256
    return dataclasses.replace(dataset, train_images=images)


def subset_rows(dataset: data.Dataset) -> np.ndarray:
    return dataset.train_images[:, 0, 0, 0].astype(int) * 256 + dataset.train_images[:, 0, 1, 0]


def subset_of(dataset, train_size, data_seed, seed=0) -> data.Dataset:
    specs = [spec(seed, train_size=train_size, data_seed=data_seed)]
    return next(iter(experiment.group_datasets(specs, dataset)[1].values()))


def test_the_training_subset_is_class_stratified():
    dataset = tagged_dataset()
    full = np.bincount(dataset.train_labels, minlength=10)
    for train_size in (10, 50, 123):
        subset = subset_of(dataset, train_size, data_seed=0)
        rows = subset_rows(subset)
        assert len(set(rows)) == train_size
        np.testing.assert_array_equal(subset.train_labels, dataset.train_labels[rows])
        counts = np.bincount(subset.train_labels, minlength=10)
        assert np.all(np.abs(counts - full * train_size / full.sum()) <= 1), counts


def test_the_training_subset_follows_the_data_seed_and_not_the_run_seed():
    dataset = tagged_dataset()
    first = set(subset_rows(subset_of(dataset, 100, data_seed=0)))
    assert set(subset_rows(subset_of(dataset, 100, data_seed=0, seed=3))) == first
    assert set(subset_rows(subset_of(dataset, 100, data_seed=1))) != first
    assert set(subset_rows(subset_of(dataset, 50, data_seed=0))) < first  # A prefix of one order.


def test_no_train_size_is_the_whole_training_set():
    dataset = tagged_dataset()
    np.testing.assert_array_equal(subset_rows(subset_of(dataset, None, 0)), np.arange(600))
