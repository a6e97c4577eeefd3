"""The JAX trainers: the per-run Keras steps (steps_jax) and the fused replicas (fused_jax),
the latter in both formulations (vmap of the Keras model, batched matrix products).

Every group here has the same shapes (3 replicas, 200 digits, batch 32: six full
batches and one of 8), so each program compiles once per session.
"""

import keras
import numpy as np
import pytest

from lenet_bench import runs, trainers
from lenet_bench.errors import InputError
from lenet_bench.networks import models
from lenet_bench.trainers import fused_jax, make_trainer, steps_jax
from lenet_bench.trainers.fused_jax import FusedKerasReplicas
from lenet_bench.trainers.keras_replicas import KerasReplicas

# Its module-scoped fixtures are built once: one worker runs the module (tests/conftest.py).
pytestmark = pytest.mark.xdist_group(__name__)

TRAIN, BATCH, EPOCHS = 200, 32, 2
RATES, DECAY = (0.01, 0.003, 0.001), 0.5
METRICS = ("loss", "accuracy", "clean_accuracy")


@pytest.fixture(scope="module")
def tiny(digits):
    """(dataset, train images, clean labels, per-replica labels (3, N): the third noisy)."""
    images, clean = digits.train_images[:TRAIN], digits.train_labels[:TRAIN]
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(TRAIN) < 0.3, rng.integers(0, 10, TRAIN), clean)
    return digits, images, clean, np.stack([clean, clean, noisy])


def group(dataset, rates=RATES, **fields):
    specs = [runs.RunSpec(dataset="digits", seed=seed, learning_rate=rate, **fields)
             for seed, rate in enumerate(rates)]
    return specs, [models.build_run_model(spec, dataset).get_weights() for spec in specs]


def train_epoch(trainer, tiny, epoch, rates=RATES, count=TRAIN):
    """Epoch `epoch` of `trainer` on the first `count` images, replica r with seed r."""
    _, images, clean, labels = tiny
    orders = np.stack([np.random.default_rng([seed, epoch]).permutation(count)
                       for seed in range(len(rates))])
    return trainer.train_epoch(images, labels[:len(rates)], orders, BATCH,
                               [rate * DECAY ** epoch for rate in rates], clean,
                               seeds=list(range(len(rates))), epoch=epoch)


def weights_of(trainer):
    return [trainer.get_weights(replica) for replica in range(trainer.num_replicas)]


def trained_fused_group(tiny, formulation):
    """A fused group trained 2 epochs: per-epoch metrics, state after epoch 1, final
    weights and test evaluation."""
    dataset = tiny[0]
    trainer = FusedKerasReplicas(*reversed(group(dataset)), dataset, formulation)
    first = train_epoch(trainer, tiny, 0)
    state = trainer.get_state()
    second = train_epoch(trainer, tiny, 1)
    return {"epochs": [first, second], "state": state, "weights": weights_of(trainer),
            "test": trainer.evaluate(dataset.test_images, dataset.test_labels)}


@pytest.fixture(scope="module")
def fused_run(tiny):
    """The group trained by the formulation 'auto' picks on this CPU: batched products."""
    assert fused_jax.FASTER_FORMULATION["cpu"] == "matmul"
    return trained_fused_group(tiny, "auto")


@pytest.fixture(scope="module")
def lone_runs(tiny):
    """Each run of the group trained by itself (KerasReplicas, on steps_jax) 2 epochs:
    per-epoch metrics, final weights and test evaluation."""
    dataset = tiny[0]
    specs, weights = group(dataset)
    alone = KerasReplicas(weights, specs, dataset)
    epochs = [train_epoch(alone, tiny, epoch) for epoch in range(EPOCHS)]
    return {"epochs": epochs, "weights": weights_of(alone),
            "test": alone.evaluate(dataset.test_images, dataset.test_labels)}


@pytest.mark.parametrize("formulation", ["matmul", "vmap"])
def test_a_fused_replica_trains_as_its_run_does_alone(tiny, fused_run, lone_runs, formulation):
    if formulation == "vmap":
        fused_run = trained_fused_group(tiny, "vmap")
    for epoch in range(EPOCHS):
        for name in METRICS:
            np.testing.assert_allclose(fused_run["epochs"][epoch][name],
                                       lone_runs["epochs"][epoch][name], atol=1e-5)
    for fused, lone in zip(fused_run["weights"], lone_runs["weights"]):
        for a, b in zip(fused, lone):
            # Adam's step m / (sqrt(v) + eps) turns rounding apart (vmapped and single
            # convolutions add up in other orders) into up to 2e-5 where v is near 0.
            np.testing.assert_allclose(a, b, atol=1e-4)
    test = lone_runs["test"]
    for name in ("loss", "accuracy", "confidence", "soft_accuracy", "soft_confusion_sums"):
        np.testing.assert_allclose(fused_run["test"][name], test[name], atol=1e-4)
    np.testing.assert_array_equal(fused_run["test"]["predictions"], test["predictions"])
    # The replicas differ (rates, labels, orders): the test compares something.
    assert len(set(np.round(fused_run["epochs"][1]["loss"], 6))) == 3
    assert fused_run["epochs"][1]["accuracy"][2] < fused_run["epochs"][1]["clean_accuracy"][2]


def test_three_steps_of_the_batched_products_match_lone_runs_of_another_model(tiny):
    """Within 1e-5 after 3 steps, for knobs the batched formulation supports beyond plain
    LeNet-5: stride-2 convolutions with no pooling, L2 on the kernels, tanh."""
    dataset, rates = tiny[0], RATES[:1]  # One replica: one program each to compile.
    specs, weights = group(dataset, rates, architecture="lenet5_strided", l2=1e-3,
                           activation="tanh")
    batched = FusedKerasReplicas(weights, specs, dataset, "matmul")
    alone = KerasReplicas(weights, specs, dataset)
    for trainer in (batched, alone):
        train_epoch(trainer, tiny, 0, rates, count=3 * BATCH)
    for fused, lone, initial in zip(weights_of(batched), weights_of(alone), weights):
        for a, b in zip(fused, lone):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
        assert not np.allclose(fused[0], initial[0])  # They trained.


def test_the_formulation_is_chosen_by_model_and_refused_where_unsupported(tiny):
    dataset = tiny[0]
    plain = runs.RunSpec(dataset="digits", seed=0)
    normalized = runs.RunSpec(dataset="digits", seed=0, batch_norm=True)
    assert fused_jax.choose_formulation("auto", plain) == "matmul"  # On this CPU.
    assert fused_jax.choose_formulation("auto", normalized) == "vmap"
    with pytest.raises(InputError, match=r"formulation='matmul' cannot train .*"
                                         r"--batch_norm=true"):
        fused_jax.choose_formulation("matmul", normalized)
    with pytest.raises(InputError, match=r"formulation='grouped' is invalid: expected one of"):
        FusedKerasReplicas(*reversed(group(dataset)), dataset, "grouped")


def test_auto_trains_twelve_runs_fused_in_batched_products_on_a_cpu_and_three_alone(tiny):
    dataset = tiny[0]
    specs, weights = group(dataset)
    assert type(make_trainer("auto", specs, weights, dataset, jit_compile=None)) is KerasReplicas
    assert trainers.CPU_JAX_FUSED_FROM == 12
    twelve = [runs.RunSpec(dataset="digits", seed=seed) for seed in range(12)]
    fused = make_trainer("auto", twelve, weights * 4, dataset, jit_compile=None)
    assert type(fused) is FusedKerasReplicas and fused.formulation == "matmul"
    assert fused.num_replicas == 12


def test_a_diverging_replica_leaves_the_others_as_they_were(tiny, fused_run):
    dataset = tiny[0]
    rates = (*RATES[:2], 1e30)
    trainer = FusedKerasReplicas(*reversed(group(dataset, rates)), dataset)
    results = [train_epoch(trainer, tiny, epoch, rates) for epoch in range(EPOCHS)]
    assert not np.isfinite(results[-1]["loss"][2])
    for epoch in range(EPOCHS):
        for name in METRICS:
            np.testing.assert_array_equal(results[epoch][name][:2],
                                          fused_run["epochs"][epoch][name][:2])
    for replica in range(2):
        for a, b in zip(trainer.get_weights(replica), fused_run["weights"][replica]):
            np.testing.assert_array_equal(a, b)


def test_a_fused_group_resumes_from_its_state_exactly(tiny, fused_run):
    dataset = tiny[0]
    specs, weights = group(dataset)
    resumed = FusedKerasReplicas(weights, specs, dataset)  # Replaced by the state.
    resumed.set_state(fused_run["state"])
    second = train_epoch(resumed, tiny, 1)
    for name in METRICS:
        np.testing.assert_array_equal(second[name], fused_run["epochs"][1][name])
    for a, b in zip(weights_of(resumed), fused_run["weights"]):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_set_weights_replaces_one_replica(tiny, fused_run):
    dataset = tiny[0]
    specs, weights = group(dataset)
    trainer = FusedKerasReplicas(weights, specs, dataset)
    trainer.set_weights(1, weights[2])
    for replica, expected in enumerate([weights[0], weights[2], weights[2]]):
        for a, b in zip(trainer.get_weights(replica), expected):
            np.testing.assert_array_equal(a, b)


def test_regularized_batch_norm_dropout_model_trains_and_resumes_on_the_keras_path(tiny):
    dataset = tiny[0]
    rates, count = RATES[:1], 6 * BATCH  # One run, full batches: one program to compile.
    specs, weights = group(dataset, rates, dropout=0.3, l2=1e-3, batch_norm=True)
    trainer = KerasReplicas(weights, specs, dataset)
    train_epoch(trainer, tiny, 0, rates, count)
    state = trainer.get_state()
    model = trainer.models[0]
    before = [keras.ops.convert_to_numpy(v.value) for v in model.non_trainable_variables]
    second = train_epoch(trainer, tiny, 1, rates, count)
    assert np.isfinite(second["loss"]).all() and (second["accuracy"] > 0.3).all()
    moved = {v.path: not np.array_equal(keras.ops.convert_to_numpy(v.value), value)
             for v, value in zip(model.non_trainable_variables, before)}
    assert all(moved.values()), moved  # Batch-norm statistics and dropout seed states.
    resumed = KerasReplicas(weights, specs, dataset)
    resumed.set_state(state)
    again = train_epoch(resumed, tiny, 1, rates, count)
    for name in METRICS:
        np.testing.assert_array_equal(again[name], second[name])


def test_augmentation_is_refused_on_jax(tiny):
    model = models.build_run_model(runs.RunSpec(dataset="digits", seed=0), tiny[0])
    with pytest.raises(InputError, match=r"needs --backend=tensorflow.*--backend=jax$"):
        steps_jax.make_step_functions(model, models.make_optimizer("adam", 0.01), 10, True,
                                      augmenter=object())
