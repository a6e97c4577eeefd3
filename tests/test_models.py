import keras
import numpy as np
import pytest

from lenet_bench.errors import InputError
from lenet_bench import keras_names
from lenet_bench.networks import models


@pytest.mark.parametrize("input_shape, padding, expected", [
    ((28, 28, 1), "same", 61_706),   # GUIDE.md: MNIST with a 'same' first conv
    ((32, 32, 3), "valid", 62_006),  # GUIDE.md: CIFAR-10 with 'valid'
    ((28, 28, 1), "auto", 61_706),
    ((32, 32, 3), "auto", 62_006),
])
def test_lenet5_parameter_count(input_shape, padding, expected):
    model = models.build_lenet5(input_shape, 10, first_conv_padding=padding)
    assert model.count_params() == expected


def test_lenet5_layer_shapes_follow_lenet():
    model = models.build_lenet5((28, 28, 1))
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes["conv1"] == (28, 28, 6)
    assert shapes["pool2"] == (5, 5, 16)
    assert shapes["fc1"] == (120,) and shapes["fc2"] == (84,) and shapes["predictions"] == (10,)


@pytest.mark.parametrize("initializer", ["uniform", "glorot_normal", "truncated_normal", "he_normal"])
def test_same_seed_same_weights_other_seed_other_weights(initializer):
    def weights(seed):
        model = models.build_lenet5((28, 28, 1), initializer=initializer, seed=seed)
        return [w.numpy() for w in model.weights]

    first, again, other = weights(3), weights(3), weights(4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0].ravel()[:10], first[2].ravel()[:10])  # layers differ


def test_uniform_alias_is_keras_random_uniform():
    kernel = models.build_lenet5((28, 28, 1), initializer="uniform").get_layer("fc1").kernel.numpy()
    assert kernel.min() >= -0.05 and kernel.max() <= 0.05 and kernel.std() > 0.02


@pytest.mark.parametrize("maker, name, flag", [
    (lambda name: models.make_initializer(name, 0), "not_an_initializer", "--initializer"),
    (lambda name: models.make_optimizer(name, 0.1), "not_an_optimizer", "--optimizer"),
    (models.check_activation, "not_an_activation", "--activation"),
])
def test_unknown_names_raise_one_line_error(maker, name, flag):
    with pytest.raises(InputError, match=rf"^{flag}='{name}' is unknown: expected .*") as info:
        maker(name)
    assert "\n" not in str(info.value)


def test_misspelled_initializer_gets_a_suggestion():
    with pytest.raises(InputError, match=r"^--initializer='glorot_normall' is unknown "
                       r"\(did you mean glorot_normal\?\): expected"):
        models.make_initializer("glorot_normall", 0)


def test_the_keras_names_checked_before_keras_starts_are_keras_s_own():
    """networks.keras_names lists the names Keras looks initializers, optimizers and
    activations up in (so the CLI checks them without importing Keras): the same sets,
    and every alias names one."""
    from keras.src import activations, initializers, optimizers

    assert keras_names.KERAS_INITIALIZERS == set(initializers.ALL_OBJECTS_DICT)
    assert keras_names.KERAS_OPTIMIZERS == set(optimizers.ALL_OBJECTS_DICT)
    assert keras_names.KERAS_ACTIVATIONS == set(activations.ALL_OBJECTS_DICT)
    assert set(keras_names.INITIALIZER_ALIASES.values()) <= keras_names.KERAS_INITIALIZERS
    for name in ("GlorotNormal", "he_uniform", "zeros", *keras_names.INITIALIZER_ALIASES):
        assert isinstance(models.make_initializer(name, 0), keras.initializers.Initializer)
    for name in ("adam", "Adam", "RMSprop", "nadam", "sgd", "sgd_momentum", "adamw"):
        assert isinstance(models.make_optimizer(name, 0.1), keras.optimizers.Optimizer)
    for name in sorted(keras_names.KERAS_ACTIVATIONS):
        assert callable(keras.activations.get(name))


def test_every_optimizer_name_the_check_lets_through_builds_and_the_others_are_one_line():
    for name in sorted(keras_names.KERAS_OPTIMIZERS - keras_names.KERAS_OPTIMIZERS_NOT_FROM_A_NAME):
        keras_names.check_optimizer(name)
        assert isinstance(models.make_optimizer(name, 0.01), keras.optimizers.Optimizer), name
    for name in sorted(keras_names.KERAS_OPTIMIZERS_NOT_FROM_A_NAME):
        with pytest.raises((KeyError, TypeError)):  # Keras itself fails to build it by name.
            keras.optimizers.get(name)
        with pytest.raises(InputError, match=rf"^--optimizer='{name}' is a Keras base class or "
                                             "wrapper that its name alone does not build: "):
            keras_names.check_optimizer(name)


def test_every_initializer_name_the_check_lets_through_builds_lenet5_and_the_others_are_one_line():
    for name in sorted(keras_names.KERAS_INITIALIZERS - keras_names.KERAS_INITIALIZERS_NOT_FOR_LENET):
        assert models.build_lenet5((28, 28, 1), 10, initializer=name, seed=0).count_params() \
            == 61_706, name
    for name in sorted(keras_names.KERAS_INITIALIZERS_NOT_FOR_LENET):
        with pytest.raises((KeyError, ValueError, NotImplementedError)):  # Keras's own failure.
            keras.layers.Conv2D(6, 5, kernel_initializer=keras.initializers.get(name)).build(
                (None, 28, 28, 1))
        with pytest.raises(InputError, match=rf"^--initializer='{name}' cannot fill LeNet-5's "
                                             "kernels from its name alone: "):
            keras_names.initializer_name(name)


def test_every_activation_the_check_lets_through_runs_lenet5_and_the_others_are_one_line():
    images = np.zeros((2, 28, 28, 1), np.float32)
    for name in sorted(keras_names.KERAS_ACTIVATIONS - keras_names.KERAS_ACTIVATIONS_NOT_FOR_LENET):
        model = models.build_lenet5((28, 28, 1), 10, activation=name, seed=0)
        assert tuple(model(images).shape) == (2, 10), name
    for name in sorted(keras_names.KERAS_ACTIVATIONS_NOT_FOR_LENET):
        with pytest.raises(InputError, match=rf"^--activation='{name}' cannot be LeNet-5's "
                                             "activation from its name alone: "):
            keras_names.check_activation(name)


def test_keras_file_size_is_measured_once_and_does_not_depend_on_the_weights(tmp_path,
                                                                             monkeypatch):
    """The cost meter saves a model once for its `.keras` size and reuses it for the
    other runs' weights: the archive's size depends on the layers, not on the values."""
    from lenet_bench.observers import cost

    model = models.build_lenet5((28, 28, 1))
    meter = cost.CostMeter(model, np.zeros((2, 28, 28, 1), np.uint8))
    monkeypatch.setattr(cost, "INFERENCE_REPEATS", 1)
    monkeypatch.setattr(cost, "LARGE_BATCH_REPEATS", 1)
    first = meter.measure()["keras_file_bytes"]
    model.set_weights([np.random.default_rng(1).normal(size=w.shape).astype(np.float32)
                       for w in model.get_weights()])
    model.save(tmp_path / "other_weights.keras")
    assert meter.measure()["keras_file_bytes"] == first == (tmp_path / "other_weights.keras").stat().st_size
