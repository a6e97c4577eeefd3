"""The fused trainer against plain Keras models: same weights, same numbers, no leakage."""


import keras
import numpy as np
import pytest
from conftest import run_options

from lenet_bench import runs
from lenet_bench.files import read_json
from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.study import experiment
from lenet_bench.trainers import fused_tf, steps_tensorflow

SPECS = [("glorot_uniform", 0, 0.003), ("truncated_normal", 1, 0.001), ("uniform", 2, 0.01)]


def make_dataset(image_shape):
    return data.make_synthetic(num_train=160, num_test=60, image_shape=image_shape, seed=4)


def initial_weights(dataset, padding):
    return [models.build_lenet5(dataset.image_shape, 10, initializer=initializer, seed=seed,
                                first_conv_padding=padding).get_weights()
            for initializer, seed, _ in SPECS]


def keras_reference(dataset, weights, optimizer, padding, labels, orders, batch_size, rates):
    """Each replica as a plain Keras model with a Keras optimizer, one after another."""
    results = []
    for index, replica_weights in enumerate(weights):
        model = models.build_lenet5(dataset.image_shape, 10, first_conv_padding=padding)
        model.set_weights(replica_weights)
        keras_optimizer = models.make_optimizer(optimizer, rates[index])
        train_epoch, evaluate = steps_tensorflow.make_step_functions(model, keras_optimizer, 10,
                                                          jit_compile=False)
        loss, accuracy, clean_accuracy = train_epoch(dataset.train_images, labels[index],
                                                     orders[index], batch_size,
                                                     dataset.train_labels)
        test = evaluate(dataset.test_images, dataset.test_labels)
        results.append((model.get_weights(), loss, accuracy, clean_accuracy, test))
    return results


MNIST_SHAPE, CIFAR_SHAPE = ((28, 28, 1), "same"), ((32, 32, 3), "valid")


# Every pair of (shape, optimizer, data order) values once: 6 cases, not all 12.
@pytest.mark.parametrize("image_shape, padding, optimizer, shared_order", [
    (*MNIST_SHAPE, "adam", True), (*CIFAR_SHAPE, "adam", False),
    (*MNIST_SHAPE, "sgd", False), (*CIFAR_SHAPE, "sgd", True),
    (*MNIST_SHAPE, "sgd_momentum", True), (*CIFAR_SHAPE, "sgd_momentum", False)])
def test_one_epoch_matches_plain_keras(image_shape, padding, optimizer, shared_order):
    dataset = make_dataset(image_shape)
    weights = initial_weights(dataset, padding)
    rng = np.random.default_rng(0)
    labels = np.stack([dataset.train_labels,  # replica 0 clean, the others noisy
                       rng.integers(0, 10, 160), rng.integers(0, 10, 160)])
    orders = np.stack([rng.permutation(160)] * 3 if shared_order
                      else [rng.permutation(160) for _ in range(3)])
    scale = {"adam": 1, "sgd": 30, "sgd_momentum": 3}[optimizer]
    rates = [rate * scale for _, _, rate in SPECS]
    group = fused_tf.FusedLeNet5(weights, image_shape, 10, optimizer=optimizer,
                              first_conv_padding=padding)
    result = group.train_epoch(dataset.train_images, labels, orders, 48, rates,
                               dataset.train_labels)  # 160 = 3 x 48 + a batch of 16
    test = group.evaluate(dataset.test_images, dataset.test_labels)
    # One trace of the step for the batches of 48 and the last one of 16 (tf_tracing).
    assert (group._shared_step.function.experimental_get_tracing_count()
            + group._separate_step.function.experimental_get_tracing_count()) == 1
    reference = keras_reference(dataset, weights, optimizer, padding, labels, orders, 48, rates)
    for r, (ref_weights, loss, accuracy, clean_accuracy, ref_test) in enumerate(reference):
        for got, want in zip(group.get_weights(r), ref_weights):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
        assert result["loss"][r] == pytest.approx(loss, rel=1e-5)
        assert result["accuracy"][r] == accuracy
        assert result["clean_accuracy"][r] == clean_accuracy
        assert test["loss"][r] == pytest.approx(ref_test[0], rel=1e-4)
        assert test["accuracy"][r] == ref_test[1]
        np.testing.assert_array_equal(test["predictions"][r], ref_test[2])
        np.testing.assert_allclose(test["confidence"][r], ref_test[3], rtol=1e-4, atol=1e-5)


def test_a_group_gives_each_run_what_it_gives_alone():
    dataset = make_dataset((28, 28, 1))
    weights = initial_weights(dataset, "same")
    orders = np.stack([np.random.default_rng(1).permutation(160)] * 3)
    labels = np.stack([dataset.train_labels] * 3)
    rates = [rate for _, _, rate in SPECS]
    group = fused_tf.FusedLeNet5(weights, (28, 28, 1), 10)
    for _ in range(2):
        together = group.train_epoch(dataset.train_images, labels, orders, 32, rates)
    for r in range(3):
        alone = fused_tf.FusedLeNet5([weights[r]], (28, 28, 1), 10)
        for _ in range(2):
            result = alone.train_epoch(dataset.train_images, labels[r:r + 1], orders[r:r + 1], 32,
                                       rates[r:r + 1])
        assert result["loss"][0] == pytest.approx(together["loss"][r], rel=1e-5)
        for got, want in zip(alone.get_weights(0), group.get_weights(r)):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_exported_keras_model_predicts_what_the_replica_predicts(tmp_path):
    dataset = make_dataset((32, 32, 3))
    group = fused_tf.FusedLeNet5(initial_weights(dataset, "valid"), (32, 32, 3), 10)
    group.train_epoch(dataset.train_images, np.stack([dataset.train_labels] * 3),
                      np.stack([np.arange(160)] * 3), 40, [0.003] * 3)
    probabilities = group.predict(dataset.test_images)
    for r in range(3):
        path = tmp_path / f"replica{r}.keras"
        group.to_keras_model(r).save(path)
        loaded = keras.models.load_model(path)
        np.testing.assert_allclose(loaded.predict(dataset.test_images / 255.0, verbose=0),
                                   probabilities[r], rtol=1e-5, atol=1e-6)


def test_state_round_trip_continues_identically():
    dataset = make_dataset((28, 28, 1))
    weights = initial_weights(dataset, "same")
    labels = np.stack([dataset.train_labels] * 3)
    orders = [np.stack([np.random.default_rng(e).permutation(160)] * 3) for e in range(2)]
    first = fused_tf.FusedLeNet5(weights, (28, 28, 1), 10)
    first.train_epoch(dataset.train_images, labels, orders[0], 32, [0.003] * 3)
    state = {name: value.copy() for name, value in first.get_state().items()}
    expected = first.train_epoch(dataset.train_images, labels, orders[1], 32, [0.002] * 3)
    second = fused_tf.FusedLeNet5(weights, (28, 28, 1), 10)
    second.set_state(state)
    result = second.train_epoch(dataset.train_images, labels, orders[1], 32, [0.002] * 3)
    np.testing.assert_array_equal(result["loss"], expected["loss"])
    for r in range(3):
        for got, want in zip(second.get_weights(r), first.get_weights(r)):
            np.testing.assert_array_equal(got, want)


def test_runner_uses_the_fused_path_and_matches_the_keras_path(tmp_path):
    from lenet_bench.config import ExperimentConfig

    config = ExperimentConfig(name="both", dataset="synthetic", epochs=2, batch_size=50, seeds=1,
                              grid={"learning_rate": (0.003, 0.001), "label_noise": (0.0, 0.3)})
    dataset = data.make_synthetic(num_train=200, num_test=100)
    records = {}
    for trainer in ("fused", "keras"):
        experiment_dir = experiment.run_experiment(config, dataset, tmp_path / trainer,
                                                       run_options(trainer=trainer, jit="off"))
        records[trainer] = [read_json(experiment_dir / "runs" / f"{spec.key}.json")
                            for spec in runs.run_specs(config)]
    assert len(records["fused"]) == 4
    for fused_record, keras_record in zip(records["fused"], records["keras"]):
        # The seed's 4 grid points are one fused group.
        assert fused_record["trainer"] == "FusedLeNet5" and fused_record["group_size"] == 4
        assert keras_record["trainer"] == "KerasReplicas"
        for metric in ("train_loss", "test_loss"):
            np.testing.assert_allclose(fused_record["history"][metric],
                                       keras_record["history"][metric], rtol=1e-4)


def test_mixed_bfloat16_matches_the_keras_mixed_policy():
    """bfloat16 compute: the fused replicas and Keras's mixed_bfloat16 LeNet-5 agree
    within bfloat16 rounding (8 bits of mantissa), before and after an epoch (of SGD:
    Adam's normalized steps turn rounding noise in tiny gradients into full steps)."""
    dataset = make_dataset((28, 28, 1))
    weights = initial_weights(dataset, "same")
    group = fused_tf.FusedLeNet5(weights, (28, 28, 1), 10, optimizer="sgd",
                              first_conv_padding="same", precision="mixed_bfloat16")
    probabilities = group.predict(dataset.test_images)
    float32 = fused_tf.FusedLeNet5(weights, (28, 28, 1), 10, first_conv_padding="same")
    assert np.abs(float32.predict(dataset.test_images) - probabilities).max() > 1e-4  # bf16 ran
    orders = np.stack([np.random.default_rng(0).permutation(160)] * 3)
    labels = np.stack([dataset.train_labels] * 3)
    rates = [30 * rate for _, _, rate in SPECS]
    result = group.train_epoch(dataset.train_images, labels, orders, 48, rates)
    trained_probabilities = group.predict(dataset.test_images)
    for r, replica_weights in enumerate(weights):
        model = models.build_lenet5((28, 28, 1), 10, first_conv_padding="same",
                                    precision="mixed_bfloat16")
        model.set_weights(replica_weights)
        assert model.get_layer("conv1").compute_dtype == "bfloat16"
        want = model.predict(dataset.test_images.astype(np.float32) / 255, verbose=0)
        np.testing.assert_allclose(probabilities[r], want, atol=2e-2)
        train_epoch, _ = steps_tensorflow.make_step_functions(model, models.make_optimizer("sgd", rates[r]),
                                                   10, jit_compile=False)
        loss, _, _ = train_epoch(dataset.train_images, labels[r], orders[r], 48)
        assert result["loss"][r] == pytest.approx(loss, rel=2e-2)
        for got, want in zip(group.get_weights(r), model.get_weights()):
            np.testing.assert_allclose(got, want, atol=5e-3)
        exported = group.to_keras_model(r)
        np.testing.assert_allclose(exported.predict(dataset.test_images.astype(np.float32) / 255,
                                                    verbose=0),
                                   trained_probabilities[r], atol=2e-2)
