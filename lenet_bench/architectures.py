"""Architecture variants of LeNet-5 and the MLP baselines, as plain data.

An `Architecture` says what `models.build_model` builds; `PRESETS` names the
variants a config's `architecture` field can pick. The config's single
regularization knobs (`dropout`, `l2`, `batch_norm`) apply on top of the
preset (`resolve`). This module imports no TensorFlow, so configs validate
before TensorFlow starts.

Parameter counts below are for a 28x28x1 input with 10 classes (the arithmetic
is written out in tests/test_architectures.py).
"""

import dataclasses
import math

from lenet_bench.errors import InputError, did_you_mean


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A LeNet-style network: convolutions, each followed by max pooling, then dense layers.

    input -> [conv -> (batch norm) -> activation -> max pool] per conv layer
    -> flatten -> [dense -> (batch norm) -> activation -> (dropout)] per
    hidden dense layer -> dense num_classes softmax. With no conv layers it is
    a multilayer perceptron on the flattened image. A layer followed by batch
    normalization has no bias (the normalization's shift replaces it).

    A per-layer field takes one value for every layer or a tuple with one
    value per layer.
    """

    conv_channels: tuple[int, ...] = (6, 16)  # Filters per conv layer; () for an MLP.
    kernel_size: int | tuple[int, ...] = 5  # Square kernels.
    conv_strides: int | tuple[int, ...] = 1
    conv_dilation: int | tuple[int, ...] = 1  # Dilation rate (a 5x5 kernel at 2 spans 9x9).
    # Padding per conv layer: same | valid | auto; auto is the run's first_conv_padding
    # (itself auto: same below 32x32 input, so 28x28 MNIST keeps a 28x28 first feature map).
    conv_padding: str | tuple[str, ...] = ("auto", "valid")
    pool_size: int = 2  # Max pooling after every conv layer; 1: none.
    dense_units: tuple[int, ...] = (120, 84)  # Hidden dense layers (the softmax layer is extra).
    activation: str | None = None  # Hidden activation; None: the run's `activation` field.
    batch_norm: bool = False  # Batch normalization after every hidden layer, before the activation.
    dropout: float | tuple[float, ...] = 0.0  # Dropout rate after each hidden dense layer.
    l2: float = 0.0  # L2 weight decay factor on every kernel (loss += l2 * sum(w**2)).
    description: str = ""

    def per_conv(self, field: str) -> tuple:
        """The value of a per-layer conv field for each conv layer."""
        return _per_layer(getattr(self, field), len(self.conv_channels), field)

    def dense_dropout(self) -> tuple[float, ...]:
        """The dropout rate after each hidden dense layer."""
        return _per_layer(self.dropout, len(self.dense_units), "dropout")


def _per_layer(value, count: int, field: str) -> tuple:
    if isinstance(value, (tuple, list)) and count:
        if len(value) != count:
            raise InputError(f"architecture {field}={value!r} is invalid: expected one value "
                             f"or {count} (one per layer)")
        return tuple(value)
    return (value,) * count


LENET5 = Architecture(description="LeNet-5: conv 6@5x5, pool, conv 16@5x5, pool, dense 120, 84")
MLP = Architecture(conv_channels=(), dense_units=(100, 100))

PRESETS = {
    "lenet5": LENET5,  # 61,706 params.
    "lenet5_elu": dataclasses.replace(
        LENET5, activation="elu", description="LeNet-5 with ELU activations"),  # 61,706.
    "lenet5_leaky_relu": dataclasses.replace(
        LENET5, activation="leaky_relu",
        description="LeNet-5 with leaky ReLU (Keras's slope 0.2)"),  # 61,706.
    "lenet5_tanh": dataclasses.replace(
        LENET5, activation="tanh", description="LeNet-5 with tanh (as in 1998)"),  # 61,706.
    "lenet5_dilated": dataclasses.replace(
        LENET5, conv_dilation=2,
        description="LeNet-5 with both convolutions dilated 2 (5x5 kernels spanning 9x9): "
                    "conv2's output shrinks to 6x6, so fc1 sees 3x3x16"),  # 30,986.
    "lenet5_strided": dataclasses.replace(
        LENET5, conv_strides=2, conv_padding=("same", "valid"), pool_size=1,
        description="LeNet-5 with stride-2 convolutions instead of max pooling "
                    "(same feature-map sizes and parameters)"),  # 61,706 at 28x28.
    "lenet5_wide_fc": dataclasses.replace(
        LENET5, dense_units=(512, 256),
        description="LeNet-5 with a wider fully connected head: dense 512, 256"),  # 341,782.
    "lenet5_batchnorm": dataclasses.replace(
        LENET5, batch_norm=True,
        description="LeNet-5 with batch normalization after every hidden layer"),  # 62,384.
    "lenet5_dropout": dataclasses.replace(
        LENET5, dropout=0.5, description="LeNet-5 with dropout 0.5 after fc1 and fc2"),  # 61,706.
    "lenet5_l2": dataclasses.replace(
        LENET5, l2=5e-4, description="LeNet-5 with L2 weight decay 5e-4 on every kernel"),
    "mlp": dataclasses.replace(
        MLP, activation="relu",
        description="multilayer perceptron 784-100-100-10 on the flattened image, ReLU"),  # 89,610.
    "mlp_batchnorm": dataclasses.replace(
        MLP, activation="relu", batch_norm=True,
        description="MLP 784-100-100-10 with batch normalization"),  # 90,210.
    "mlp_sigmoid": dataclasses.replace(
        MLP, activation="sigmoid", description="MLP 784-100-100-10 with sigmoid"),  # 89,610.
    "mlp_sigmoid_batchnorm": dataclasses.replace(
        MLP, activation="sigmoid", batch_norm=True,
        description="MLP 784-100-100-10 with sigmoid and batch normalization"),  # 90,210.
}

# The config fields that shape the model, at the values that leave the preset as it is.
MODEL_FIELD_DEFAULTS = {"architecture": "lenet5", "dropout": 0.0, "l2": 0.0, "batch_norm": False}


def check_name(name: str) -> Architecture:
    """The preset called `name`.

    Raises:
      InputError: no preset has that name.
    """
    if name not in PRESETS:
        raise InputError(f"--architecture={name!r} is unknown{did_you_mean(name, PRESETS)}: "
                         f"expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def check_knobs(architecture: str, activation: str, dropout, l2, batch_norm) -> None:
    """Raises InputError naming the flag of the first invalid model field."""
    preset = check_name(architecture)
    if preset.activation is not None and activation not in ("relu", preset.activation):
        raise InputError(f"--activation={activation!r} conflicts with --architecture="
                         f"{architecture} (which uses {preset.activation}): expected relu "
                         f"(the default) or {preset.activation}, or another architecture")
    if isinstance(dropout, bool) or not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise InputError(f"--dropout={dropout!r} is invalid: expected a number in [0, 1)")
    if isinstance(l2, bool) or not (isinstance(l2, (int, float)) and math.isfinite(l2)
                                    and l2 >= 0):
        raise InputError(f"--l2={l2!r} is invalid: expected a number >= 0")
    if not isinstance(batch_norm, bool):
        raise InputError(f"--batch_norm={batch_norm!r} is invalid: expected true or false")


def resolve(architecture: str, *, activation: str = "relu", dropout: float = 0.0,
            l2: float = 0.0, batch_norm: bool = False) -> Architecture:
    """The preset `architecture` with a run's knobs applied.

    The run's `activation` applies where the preset names none; a dropout > 0
    replaces the preset's rate after every hidden dense layer, an l2 > 0 its
    weight decay, and batch_norm=True turns batch normalization on.

    Raises:
      InputError: an unknown preset, or an invalid knob.
    """
    check_knobs(architecture, activation, dropout, l2, batch_norm)
    preset = PRESETS[architecture]
    changes = {}
    if preset.activation is None:
        changes["activation"] = activation
    if dropout:
        changes["dropout"] = float(dropout)
    if l2:
        changes["l2"] = float(l2)
    if batch_norm:
        changes["batch_norm"] = True
    return dataclasses.replace(preset, **changes)


def is_plain_lenet5(architecture: str, dropout, l2, batch_norm) -> bool:
    """True for the model the fused trainer implements: LeNet-5 with no regularization."""
    return (architecture, dropout, l2, batch_norm) == tuple(MODEL_FIELD_DEFAULTS.values())
