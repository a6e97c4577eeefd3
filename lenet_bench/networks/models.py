"""Keras functional LeNet-5 and its variants, initializers and optimizers by name."""

import keras
import numpy as np
from keras import layers

from lenet_bench import architectures
from lenet_bench.keras_names import (  # noqa: F401  (INITIALIZER_ALIASES: re-exported)
    INITIALIZER_ALIASES, SGD_MOMENTUM_NAME, check_activation, check_optimizer, initializer_name)

DROPOUT_SEED_STREAM = 1  # layer_seeds([seed, 1], n): the dropout layers' seeds.
# Moving-statistics momentum of batch normalization. Keras's default, 0.99, left the
# moving statistics far from the batch statistics after this suite's short trainings
# (LeNet-5 on MNIST, 200 steps: 98.7% train, 60.5 ± 21.4% test); 0.9 is PyTorch's
# default (its momentum=0.1). BUILD_NOTES.md, "Architecture variants and cost".
BATCH_NORM_MOMENTUM = 0.9


def make_initializer(name: str, seed: int) -> keras.initializers.Initializer:
    """A seeded Keras initializer from a name such as 'truncated_normal'.

    Raises:
      InputError: the name is not a Keras initializer.
    """
    initializer = keras.initializers.get(initializer_name(name))
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
    check_optimizer(name)
    if name == SGD_MOMENTUM_NAME:
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=SGD_MOMENTUM)
    optimizer = keras.optimizers.get({"class_name": name, "config": {}})
    optimizer.learning_rate = learning_rate
    return optimizer


def layer_seeds(seed: int | list[int], count: int) -> list[int]:
    """Independent 31-bit seeds for `count` layers, derived from one run seed
    (or [run seed, stream] for another stream of seeds)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count) >> 1]


def build_lenet5(input_shape: tuple[int, int, int], num_classes: int = 10, *,
                 initializer: str = "glorot_uniform", seed: int = 0,
                 activation: str = "relu", first_conv_padding: str = "auto",
                 precision: str = "float32", name: str = "lenet5") -> keras.Model:
    """LeNet-5 as a Keras functional model.

    conv 6@5x5 -> maxpool 2 -> conv 16@5x5 -> maxpool 2 -> flatten ->
    dense 120 -> dense 84 -> dense num_classes softmax: `build_model` with the
    'lenet5' preset.

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
    return build_model(architectures.resolve("lenet5", activation=activation), input_shape,
                       num_classes, initializer=initializer, seed=seed,
                       first_conv_padding=first_conv_padding, precision=precision, name=name)


def build_model(architecture: architectures.Architecture, input_shape: tuple[int, int, int],
                num_classes: int = 10, *, initializer: str = "glorot_uniform", seed: int = 0,
                first_conv_padding: str = "auto", precision: str = "float32",
                name: str = "lenet5") -> keras.Model:
    """The Keras functional model of an `architectures.Architecture`.

    Layers are named conv1.., pool1.., flatten, fc1.., predictions (plus
    `<layer>_bn`, `<layer>_act` and `<layer>_dropout` where the architecture
    has them). Kernels use `initializer`, each layer its own seed derived from
    `seed` in layer order (so LeNet-5's weights for a seed are those it always
    had), biases start at zero, and dropout layers get seeds of their own from
    `seed`.

    Args:
      architecture: what to build (see `architectures.resolve`); its
        activation must be set.
      input_shape: (height, width, channels).
      num_classes: width of the softmax output.
      initializer, seed, precision: as for `build_lenet5`.
      first_conv_padding: what an 'auto' entry of the architecture's
        conv_padding means: 'same', 'valid', or 'auto' (same below 32x32).
      name: the model's name.

    Raises:
      InputError: an unknown activation or initializer.
    """
    if first_conv_padding == "auto":
        first_conv_padding = "same" if min(input_shape[:2]) < 32 else "valid"
    check_activation(architecture.activation)
    seeds = iter(layer_seeds(seed, len(architecture.conv_channels)
                             + len(architecture.dense_units) + 1))
    dropout_rates = architecture.dense_dropout()
    dropout_seeds = iter(layer_seeds([seed, DROPOUT_SEED_STREAM], len(dropout_rates)))
    regularizer = keras.regularizers.L2(architecture.l2) if architecture.l2 else None
    hidden = None if precision == "float32" else precision  # None: Keras's float32 default.

    def kernel_options():
        return {"kernel_initializer": make_initializer(initializer, next(seeds)),
                "kernel_regularizer": regularizer, "dtype": hidden}

    def normalize_and_activate(x, layer_name):
        if not architecture.batch_norm:
            return x  # The activation is inside the layer.
        x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, dtype=hidden,
                                      name=f"{layer_name}_bn")(x)
        return layers.Activation(architecture.activation, dtype=hidden,
                                 name=f"{layer_name}_act")(x)

    inner_activation = None if architecture.batch_norm else architecture.activation
    x = inputs = keras.Input(shape=input_shape, name="image")
    conv_layers = zip(architecture.conv_channels, architecture.per_conv("kernel_size"),
                      architecture.per_conv("conv_strides"), architecture.per_conv("conv_dilation"),
                      architecture.per_conv("conv_padding"))
    for number, (channels, kernel, stride, dilation, padding) in enumerate(conv_layers, start=1):
        x = layers.Conv2D(channels, kernel, strides=stride, dilation_rate=dilation,
                          padding=first_conv_padding if padding == "auto" else padding,
                          activation=inner_activation, use_bias=not architecture.batch_norm,
                          name=f"conv{number}", **kernel_options())(x)
        x = normalize_and_activate(x, f"conv{number}")
        if architecture.pool_size > 1:
            x = layers.MaxPooling2D(architecture.pool_size, dtype=hidden, name=f"pool{number}")(x)
    x = layers.Flatten(dtype=hidden, name="flatten")(x)
    for number, (units, rate) in enumerate(zip(architecture.dense_units, dropout_rates), start=1):
        x = layers.Dense(units, activation=inner_activation, use_bias=not architecture.batch_norm,
                         name=f"fc{number}", **kernel_options())(x)
        x = normalize_and_activate(x, f"fc{number}")
        if rate:
            x = layers.Dropout(rate, seed=next(dropout_seeds), dtype=hidden,
                               name=f"fc{number}_dropout")(x)
    options = kernel_options() | {"dtype": "float32"}
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions", **options)(x)
    return keras.Model(inputs, outputs, name=name)


def build_run_model(spec, dataset) -> keras.Model:
    """The Keras model of a run (a runs.RunSpec) on `dataset`: its architecture with its
    initial weights and dropout seeds.

    The one place a run's model is built: for both trainers' initial weights, for
    the Keras replicas themselves, and for inspecting a finished run.
    """
    architecture = architectures.resolve(spec.architecture, activation=spec.activation,
                                         dropout=spec.dropout, l2=spec.l2,
                                         batch_norm=spec.batch_norm)
    return build_model(architecture, dataset.image_shape, dataset.num_classes,
                       initializer=spec.initializer, seed=spec.seed,
                       first_conv_padding=spec.first_conv_padding,
                       precision=spec.precision, name=spec.architecture)


def build_vgg19_cifar10(num_classes: int = 10, *, keras_top: bool = False) -> keras.Model:
    """VGG-19 for 32x32x3 CIFAR-10 images, untrained, for its parameter count.

    Keras's VGG19 (weights=None) builds at 32x32: its 16 convolutions and 5
    poolings leave a 1x1x512 feature map. keras_top=False (the usual CIFAR-10
    adaptation): that convolutional base, flatten, and one dense softmax
    layer. keras_top=True: Keras's own ImageNet head (dense 4096, 4096) with
    `num_classes` outputs, which at 32x32 sits on 512 features and holds half
    of the parameters.
    """
    if keras_top:
        return keras.applications.VGG19(weights=None, include_top=True, input_shape=(32, 32, 3),
                                        classes=num_classes, name="vgg19_keras_top")
    base = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    x = layers.Flatten(name="flatten")(base.output)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(base.input, outputs, name="vgg19_cifar10")


def parameter_count_rows(input_shape: tuple[int, int, int] = (28, 28, 1),
                         num_classes: int = 10, *, include_vgg19: bool = True) -> list[dict]:
    """Parameter counts of every preset at `input_shape`, LeNet-5 at 32x32x3 and
    VGG-19 adapted to CIFAR-10, each counted on a model built with Keras.

    Returns:
      Rows {"model", "input_shape" ('28x28x1'), "params" (all, batch-norm
      moving statistics included), "trainable_params", "description"}.
    """

    def row(name, shape, model, description):
        trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
        return {"model": name, "input_shape": "x".join(map(str, shape)),
                "params": int(model.count_params()), "trainable_params": trainable,
                "description": description}

    rows = [row(name, input_shape, build_model(architectures.resolve(name), input_shape,
                                               num_classes, name=name), preset.description)
            for name, preset in architectures.PRESETS.items()]
    if tuple(input_shape) != (32, 32, 3):
        rows.append(row("lenet5", (32, 32, 3), build_lenet5((32, 32, 3), num_classes),
                        architectures.LENET5.description + " ('valid' first conv)"))
    if include_vgg19:
        rows.append(row("vgg19_cifar10", (32, 32, 3), build_vgg19_cifar10(num_classes),
                        "VGG-19 (Keras, weights=None) conv base + dense 10 softmax"))
        rows.append(row("vgg19_keras_top", (32, 32, 3), build_vgg19_cifar10(num_classes,
                                                                            keras_top=True),
                        "VGG-19 with Keras's include_top head (dense 4096, 4096, 10)"))
    return rows
