"""Keras functional LeNet-5, initializers and optimizers by name."""

import keras
import numpy as np
from keras import layers

from lenet_bench.errors import InputError, did_you_mean

# Short names used by the studies; any other Keras initializer name works too.
INITIALIZER_ALIASES = {
    "uniform": "RandomUniform",
    "normal": "RandomNormal",
    "truncated_normal": "TruncatedNormal",
    "glorot_normal": "GlorotNormal",
    "glorot_uniform": "GlorotUniform",
    "he_normal": "HeNormal",
    "he_uniform": "HeUniform",
    "lecun_normal": "LecunNormal",
    "lecun_uniform": "LecunUniform",
}


def make_initializer(name: str, seed: int) -> keras.initializers.Initializer:
    """A seeded Keras initializer from a name such as 'truncated_normal'.

    Raises:
      InputError: the name is not a Keras initializer.
    """
    try:
        initializer = keras.initializers.get(INITIALIZER_ALIASES.get(name, name))
    except ValueError:
        initializer = None
    if not isinstance(initializer, keras.initializers.Initializer):
        raise InputError(f"--initializer={name!r} is unknown{did_you_mean(name, INITIALIZER_ALIASES)}: "
                         f"expected a Keras initializer name such as {', '.join(INITIALIZER_ALIASES)}")
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = seed
    return type(initializer).from_config(config)


SGD_MOMENTUM = 0.9  # Of the optimizer named 'sgd_momentum' (Keras SGD, not Nesterov).


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """A Keras optimizer by name ('adam', 'sgd', 'rmsprop', ...), or 'sgd_momentum':
    SGD with momentum SGD_MOMENTUM.

    Raises:
      InputError: the name is not a Keras optimizer.
    """
    if name == "sgd_momentum":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=SGD_MOMENTUM)
    try:
        optimizer = keras.optimizers.get({"class_name": name, "config": {}})
    except ValueError:
        raise InputError(f"--optimizer={name!r} is unknown: expected a Keras optimizer "
                         "name such as adam, sgd, sgd_momentum, rmsprop, adamw") from None
    optimizer.learning_rate = learning_rate
    return optimizer


def check_activation(name: str) -> None:
    """Raises InputError unless `name` is a Keras activation."""
    try:
        keras.activations.get(name)
    except ValueError:
        raise InputError(f"--activation={name!r} is unknown: expected a Keras activation "
                         "name such as relu, elu, tanh, sigmoid") from None


def layer_seeds(seed: int, count: int) -> list[int]:
    """Independent 31-bit seeds for `count` layers, derived from one run seed."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count) >> 1]


def build_lenet5(input_shape: tuple[int, int, int], num_classes: int = 10, *,
                 initializer: str = "glorot_uniform", seed: int = 0,
                 activation: str = "relu", first_conv_padding: str = "auto",
                 precision: str = "float32", name: str = "lenet5") -> keras.Model:
    """LeNet-5 as a Keras functional model.

    conv 6@5x5 -> maxpool 2 -> conv 16@5x5 -> maxpool 2 -> flatten ->
    dense 120 -> dense 84 -> dense num_classes softmax. Kernels use `initializer`
    (each layer its own seed derived from `seed`), biases start at zero.

    Args:
      input_shape: (height, width, channels).
      num_classes: width of the softmax output.
      initializer: Keras initializer name or alias (see INITIALIZER_ALIASES).
      seed: run seed; the same seed gives the same initial weights.
      activation: hidden-layer activation name.
      first_conv_padding: 'same', 'valid', or 'auto': 'same' for inputs smaller
        than 32x32 (28x28 MNIST keeps LeNet's 28x28 first feature map),
        'valid' otherwise (the original 32x32 LeNet-5).
      precision: 'float32', or 'mixed_bfloat16' (Keras's dtype policy for every
        layer but the output layer, which stays float32 so the softmax and the
        loss are computed in float32). Weights are float32 either way.
    """
    if first_conv_padding == "auto":
        first_conv_padding = "same" if min(input_shape[:2]) < 32 else "valid"
    check_activation(activation)
    seeds = iter(layer_seeds(seed, 5))

    def kernel_init():
        return make_initializer(initializer, next(seeds))

    hidden = None if precision == "float32" else precision  # None: Keras's float32 default.
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(6, 5, padding=first_conv_padding, activation=activation,
                      kernel_initializer=kernel_init(), dtype=hidden, name="conv1")(inputs)
    x = layers.MaxPooling2D(2, dtype=hidden, name="pool1")(x)
    x = layers.Conv2D(16, 5, padding="valid", activation=activation,
                      kernel_initializer=kernel_init(), dtype=hidden, name="conv2")(x)
    x = layers.MaxPooling2D(2, dtype=hidden, name="pool2")(x)
    x = layers.Flatten(dtype=hidden, name="flatten")(x)
    x = layers.Dense(120, activation=activation, kernel_initializer=kernel_init(), dtype=hidden,
                     name="fc1")(x)
    x = layers.Dense(84, activation=activation, kernel_initializer=kernel_init(), dtype=hidden,
                     name="fc2")(x)
    outputs = layers.Dense(num_classes, activation="softmax",
                           kernel_initializer=kernel_init(), dtype="float32",
                           name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
