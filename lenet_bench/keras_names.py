"""The Keras initializer, optimizer and activation names a config may use, checked by
name alone, so that a typo is refused before TensorFlow or Keras is imported.

Keras knows these names only once it is imported (its `ALL_OBJECTS_DICT`s, which
`keras.initializers.get` and friends look names up in), which costs seconds; so
they are listed here, and tests/test_models.py compares each list with Keras's own
(a Keras upgrade that adds or drops a name fails that test, not a user's run).
`networks.models` builds the objects and asks these checks first.
"""

from lenet_bench.errors import InputError, did_you_mean

# keras.src.initializers.ALL_OBJECTS_DICT (Keras 3.15).
KERAS_INITIALIZERS = frozenset({
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "IdentityInitializer", "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal",
    "OrthogonalInitializer", "RandomNormal", "RandomUniform", "STFT", "STFTInitializer",
    "TruncatedNormal", "VarianceScaling", "Zeros", "constant", "glorot_normal",
    "glorot_uniform", "he_normal", "he_uniform", "identity", "initializer", "lecun_normal",
    "lecun_uniform", "normal", "one", "ones", "orthogonal", "random_normal", "random_uniform",
    "stft", "truncated_normal", "uniform", "variance_scaling", "zero", "zeros"})
# Of those, the ones a name alone cannot make fill LeNet-5's kernels: the base class,
# Constant (needs a value), Identity (2-D only) and STFT (1-D convolutions only).
KERAS_INITIALIZERS_NOT_FOR_LENET = frozenset({
    "Constant", "constant", "Identity", "IdentityInitializer", "identity", "Initializer",
    "initializer", "STFT", "STFTInitializer", "stft"})
# keras.src.optimizers.ALL_OBJECTS_DICT (Keras 3.15); Keras looks them up lower-cased.
KERAS_OPTIMIZERS = frozenset({
    "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "ftrl", "lion",
    "lossscaleoptimizer", "multioptimizer", "muon", "nadam", "optimizer", "optimizermap",
    "rmsprop", "schedulefreeadamw", "sgd"})
# Of those, the base class and the wrappers, which need other optimizers or arguments:
# Keras fails to build them from a name alone.
KERAS_OPTIMIZERS_NOT_FROM_A_NAME = frozenset({
    "lossscaleoptimizer", "multioptimizer", "optimizer", "optimizermap"})
# keras.src.activations.ALL_OBJECTS_DICT (Keras 3.15).
KERAS_ACTIVATIONS = frozenset({
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh",
    "tanh_shrink", "threshold"})

# Of those, the ones LeNet-5 cannot use from a name alone: glu halves the channels,
# threshold needs its threshold and value.
KERAS_ACTIVATIONS_NOT_FOR_LENET = frozenset({"glu", "threshold"})

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
SGD_MOMENTUM_NAME = "sgd_momentum"  # Keras SGD with momentum (networks.models.SGD_MOMENTUM).


def initializer_name(name: str) -> str:
    """The Keras name of initializer `name` (an alias resolved).

    Raises:
      InputError: the name is not a Keras initializer, or one that cannot fill
        LeNet-5's kernels from its name alone.
    """
    keras_name = INITIALIZER_ALIASES.get(name, name) if isinstance(name, str) else None
    expected = f"expected a Keras initializer name such as {', '.join(INITIALIZER_ALIASES)}"
    if keras_name not in KERAS_INITIALIZERS:
        raise InputError(f"--initializer={name!r} is unknown"
                         f"{did_you_mean(name, INITIALIZER_ALIASES)}: {expected}")
    if keras_name in KERAS_INITIALIZERS_NOT_FOR_LENET:
        raise InputError(f"--initializer={name!r} cannot fill LeNet-5's kernels from its name "
                         f"alone: {expected}")
    return keras_name


def check_optimizer(name: str) -> None:
    """Raises InputError unless `name` is 'sgd_momentum' or a Keras optimizer that its
    name alone builds."""
    expected = "expected a Keras optimizer name such as adam, sgd, sgd_momentum, rmsprop, adamw"
    if name == SGD_MOMENTUM_NAME:
        return
    if not (isinstance(name, str) and name.lower() in KERAS_OPTIMIZERS):
        raise InputError(f"--optimizer={name!r} is unknown: {expected}")
    if name.lower() in KERAS_OPTIMIZERS_NOT_FROM_A_NAME:
        raise InputError(f"--optimizer={name!r} is a Keras base class or wrapper that its name "
                         f"alone does not build: {expected}")


def check_activation(name: str) -> None:
    """Raises InputError unless `name` is a Keras activation LeNet-5 can use."""
    expected = "expected a Keras activation name such as relu, elu, tanh, sigmoid"
    if name not in KERAS_ACTIVATIONS:
        raise InputError(f"--activation={name!r} is unknown: {expected}")
    if name in KERAS_ACTIVATIONS_NOT_FOR_LENET:
        raise InputError(f"--activation={name!r} cannot be LeNet-5's activation from its name "
                         f"alone: {expected}")


def check_names(initializer: str, optimizer: str, activation: str) -> None:
    """The checks above, in the order a config's fields come."""
    initializer_name(initializer)
    check_optimizer(optimizer)
    check_activation(activation)

# The optimizers the fused TensorFlow trainer implements (trainers/fused_tf.py); named
# here so a config is checked against them before TensorFlow is imported.
FUSED_TF_OPTIMIZERS = ("adam", "sgd", "sgd_momentum")
