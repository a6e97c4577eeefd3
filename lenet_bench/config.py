"""What to run: the experiment config and its validation.

An experiment file's `get_config()` returns an `ExperimentConfig`; the CLI
applies flag overrides with `dataclasses.replace`. Field names double as flag
names, so a validation message that names a field also names the flag.
"""

import dataclasses
import math

from lenet_bench.errors import InputError

DATASET_NAMES = ("mnist", "fashion_mnist", "cifar10", "digits", "synthetic")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One study: a LeNet-5 setting trained over several seeds."""

    name: str  # Folder under the workdir; also the experiment's file name.
    dataset: str  # One of DATASET_NAMES.
    initializer: str = "glorot_uniform"  # Keras initializer name, or uniform/truncated_normal/...
    learning_rate: float = 0.001  # Start learning rate.
    lr_decay: float = 1.0  # Epoch e (from 0) trains at learning_rate * lr_decay**e.
    epochs: int = 10
    batch_size: int = 32
    seeds: int = 1  # Repeated runs, with seeds first_seed .. first_seed + seeds - 1.
    first_seed: int = 0
    optimizer: str = "adam"  # Keras optimizer name.
    activation: str = "relu"  # Keras activation name, for every hidden layer.
    first_conv_padding: str = "auto"  # same | valid | auto (same below 32x32 input).
    train_size: int | None = None  # Use a class-stratified subset of N training images.
    data_seed: int = 0  # Seeds the order that train_size takes its subset from.
    keep_best: bool = True  # Save the best-test-epoch weights of each run.

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def validate(config: ExperimentConfig) -> None:
    """Raises InputError naming the first field whose value is invalid."""

    def bad(field: str, expected: str):
        value = getattr(config, field)
        raise InputError(f"--{field}={value!r} is invalid: expected {expected}")

    if config.dataset not in DATASET_NAMES:
        bad("dataset", "one of " + ", ".join(DATASET_NAMES))
    if not (isinstance(config.learning_rate, (int, float))
            and math.isfinite(config.learning_rate) and config.learning_rate > 0):
        bad("learning_rate", "a number > 0")
    if not (isinstance(config.lr_decay, (int, float)) and 0 < config.lr_decay <= 1):
        bad("lr_decay", "a number in (0, 1]")
    for field in ("epochs", "seeds", "batch_size"):
        if not (isinstance(getattr(config, field), int) and getattr(config, field) >= 1):
            bad(field, "an integer >= 1")
    if config.train_size is not None and not (
            isinstance(config.train_size, int) and config.train_size >= 1):
        bad("train_size", "an integer >= 1")
    if config.first_conv_padding not in ("auto", "same", "valid"):
        bad("first_conv_padding", "one of auto, same, valid")
