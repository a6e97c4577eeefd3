"""The fused JAX trainer's data order, observed inside its compiled epoch (tests/test_data_order.py
does the orders group_loop hands out and the TensorFlow trainers): each replica gathers its
batches from its own order, another each epoch, the same again on a rerun."""

import itertools

import jax
import numpy as np
import pytest

from lenet_bench import runs
from lenet_bench.inputs import data
from lenet_bench.options import RunOptions
from lenet_bench.trainers import fused_jax, group_loop

pytestmark = pytest.mark.xdist_group(__name__)

TRAIN, BATCH, EPOCHS, SEEDS = 70, 32, 2, 3


class NoCost:
    def __init__(self, model, test_images):
        pass

    def measure(self, record=None):
        return {}


def gathered_batches(monkeypatch) -> list:
    """The (R, B) index batches the fused trainer's steps gather, in the order they run."""
    seen = []
    gathered_step = fused_jax._gathered_step

    def recording_step(step, state, images, labels, clean_labels, batch):
        jax.debug.callback(lambda rows: seen.append(np.array(rows)), batch, ordered=True)
        return gathered_step(step, state, images, labels, clean_labels, batch)

    monkeypatch.setattr(fused_jax, "_gathered_step", recording_step)
    return seen


def replica_orders(batches: list) -> list[list[np.ndarray]]:
    """Per epoch, each replica's order: its rows of the epoch's batches, concatenated."""
    steps = -(-TRAIN // BATCH)
    return [list(np.concatenate(batches[start:start + steps], axis=1))
            for start in range(0, len(batches), steps)]


def test_each_fused_jax_replica_gathers_its_own_order(monkeypatch):
    monkeypatch.setattr(group_loop.cost, "CostMeter", NoCost)
    dataset = data.make_synthetic(num_train=TRAIN, num_test=20)
    specs = [runs.RunSpec(dataset="synthetic", seed=seed, epochs=EPOCHS, batch_size=BATCH)
             for seed in range(SEEDS)]
    read = []
    for _ in range(2):
        batches = gathered_batches(monkeypatch)
        group_loop.train_group(specs, dataset, None, RunOptions(trainer="fused",
                                                                keras_models=False),
                               keep_best=False)
        jax.effects_barrier()
        read.append(replica_orders(batches))
    first, rerun = read
    assert len(first) == EPOCHS and all(len(epoch) == SEEDS for epoch in first)
    orders = [order for epoch in first for order in epoch]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(TRAIN))
    for one, other in itertools.combinations(orders, 2):
        assert not np.array_equal(one, other)
    for epoch, replica in itertools.product(range(EPOCHS), range(SEEDS)):
        np.testing.assert_array_equal(first[epoch][replica], rerun[epoch][replica])
