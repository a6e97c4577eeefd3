"""What to run: the experiment config and its validation.

An experiment file's `get_config()` returns an `ExperimentConfig`; the CLI
applies flag overrides with `dataclasses.replace`. Field names double as flag
names, so a validation message that names a field also names the flag.
"""

import dataclasses
import itertools
import math

from lenet_bench import architectures
from lenet_bench.errors import InputError

DATASET_NAMES = ("mnist", "fashion_mnist", "cifar10", "digits", "synthetic")
NOISE_MODES = ("sampled", "exact")
# float32, or Keras's mixed_bfloat16 policy: bfloat16 compute, float32 weights and
# softmax. bfloat16 keeps float32's exponent range, so no loss scaling is needed
# (mixed_float16 would need it); it pays on GPUs, not on this suite's CPU.
PRECISIONS = ("float32", "mixed_bfloat16")
MONITORS = ("val_loss", "val_accuracy")  # What early stopping watches.
FLIP_DATASETS = ("cifar10", "synthetic")  # Horizontal flip keeps these images' meaning.
# Which test accuracy ranks the runs of a grid point (report only): final or best epoch.
RANK_RUNS_BY = ("final", "best")
# Fields a grid may vary (every field that changes a run's result, but the seed).
GRID_FIELDS = ("initializer", "learning_rate", "lr_decay", "label_noise", "noise_mode",
               "optimizer", "activation", "batch_size", "epochs", "first_conv_padding",
               "train_size", "data_seed", "precision", "validation_split", "patience",
               "monitor", "augment_translation", "augment_rotation", "augment_zoom",
               "augment_flip", "architecture", "dropout", "l2", "batch_norm")
FLOAT_FIELDS = ("learning_rate", "lr_decay", "label_noise", "validation_split",
                "augment_translation", "augment_rotation", "augment_zoom", "dropout", "l2")
INT_FIELDS = ("epochs", "batch_size", "seeds", "first_seed", "train_size", "data_seed",
              "patience")
BOOL_FIELDS = ("augment_flip", "batch_norm")
BOOL_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One study: a LeNet-5 setting, or a grid of settings, each trained over several seeds."""

    name: str  # Folder under the workdir; also the experiment's file name.
    dataset: str  # One of DATASET_NAMES.
    initializer: str = "glorot_uniform"  # Keras initializer name, or uniform/truncated_normal/...
    learning_rate: float = 0.001  # Start learning rate.
    lr_decay: float = 1.0  # Epoch e (from 0) trains at learning_rate * lr_decay**e.
    epochs: int = 10
    batch_size: int = 32
    seeds: int = 5  # Repeated runs, with seeds first_seed .. first_seed + seeds - 1.
    first_seed: int = 0
    optimizer: str = "adam"  # Keras optimizer name.
    activation: str = "relu"  # Keras activation name, for every hidden layer.
    first_conv_padding: str = "auto"  # same | valid | auto (same below 32x32 input).
    train_size: int | None = None  # Use a class-stratified subset of N training images.
    data_seed: int = 0  # Seeds the order that train_size takes its subset from.
    keep_best: bool = True  # Save the best-test-epoch weights of each run.
    label_noise: float = 0.0  # Symmetric training-label noise eps, in [0, 1).
    noise_mode: str = "sampled"  # sampled (each label drawn) | exact (round(eps*n_c) per class).
    precision: str = "float32"  # One of PRECISIONS.
    architecture: str = "lenet5"  # A preset of lenet_bench.architectures.PRESETS.
    # Applied on top of the preset (0/False: as the preset says):
    dropout: float = 0.0  # Dropout rate after every hidden dense layer, in [0, 1).
    l2: float = 0.0  # L2 weight decay on every kernel, >= 0.
    batch_norm: bool = False  # Batch normalization after every hidden layer.
    # Early stopping (lenet_bench.early_stopping): a seeded, class-stratified hold-out
    # of this fraction of the (train_size) training images, evaluated every epoch.
    validation_split: float = 0.0
    patience: int = 0  # Stop after this many epochs without val improvement; 0: off.
    monitor: str = "val_loss"  # One of MONITORS.
    # Augmentation of training batches (lenet_bench.augmentation), seeded per run.
    augment_translation: float = 0.0  # Random shift, up to this fraction of height/width.
    augment_rotation: float = 0.0  # Random rotation, up to this fraction of a full turn.
    augment_zoom: float = 0.0  # Random zoom in or out, up to this fraction.
    augment_flip: bool = False  # Random horizontal flip (CIFAR-10 only).
    # Neither changes a run's result, so neither is in its key (train.RunSpec):
    rank_runs_by: str = "final"  # Best/worst/median run of a point by final | best test accuracy.
    ood_dataset: str | None = None  # Test-set images fed to finished runs as out-of-distribution.
    # Grid: field -> values; the runs are the product of all value lists (in
    # this order), each point repeated over `seeds` seeds. A field in the grid
    # overrides the single value above.
    grid: dict = dataclasses.field(default_factory=dict)
    # Validation split of the training set that a run evaluates on instead of the
    # test set (lenet_bench.data.parse_split); '' is the test set. The search sets it.
    split: str = ""
    # Hyperparameter search (lenet_bench.search): field -> {"log_uniform": [lo, hi]} |
    # {"uniform": [lo, hi]} | {"int_uniform": [lo, hi]} | {"choice": [values]}. Empty: no search.
    search: dict = dataclasses.field(default_factory=dict)
    search_method: str = "random"  # random | grid (ranges at "points" values each, default 3).
    search_trials: int = 10  # Budget: the most configurations tried.
    search_seed: int = 0  # Seeds the trials drawn and the folds.
    cv_folds: int = 3  # Stratified k-fold selection; 1: one hold-out split of holdout_fraction.
    holdout_fraction: float = 0.2  # Share of the training set held out when cv_folds is 1.
    nested_folds: int = 0  # Outer folds of nested cross-validation; 0: off.

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def grid_points(self) -> list["ExperimentConfig"]:
        """One config per grid point (the config itself when there is no grid)."""
        fields = list(self.grid)
        return [dataclasses.replace(self, grid={}, **dict(zip(fields, values)))
                for values in itertools.product(*(self.grid[field] for field in fields))]


def parse_grid_value(field: str, text: str):
    """A grid value from flag text, typed like the field ('0.01' -> 0.01)."""
    if field in BOOL_FIELDS:
        if text.lower() not in BOOL_TEXT:
            raise InputError(f"--grid={field}={text!r} is invalid: expected true or false")
        return BOOL_TEXT[text.lower()]
    try:
        if field in FLOAT_FIELDS:
            return float(text)
        if field in INT_FIELDS:
            return int(text)
    except ValueError:
        kind = "a number" if field in FLOAT_FIELDS else "an integer"
        raise InputError(f"--grid={field}={text!r} is invalid: expected {kind}") from None
    return text


def parse_grid_flag(text: str) -> tuple[str, tuple]:
    """'learning_rate=0.01,0.005' -> ('learning_rate', (0.01, 0.005))."""
    field, sep, values = text.partition("=")
    field = field.strip()
    if not sep or not values.strip():
        raise InputError(f"--grid={text!r} is invalid: expected FIELD=VALUE[,VALUE...], "
                         "e.g. learning_rate=0.01,0.005")
    if field not in GRID_FIELDS:
        raise InputError(f"--grid={text!r}: {field!r} cannot be a grid field: expected one of "
                         + ", ".join(GRID_FIELDS))
    return field, tuple(parse_grid_value(field, value.strip()) for value in values.split(","))


def validate(config: ExperimentConfig) -> None:
    """Raises InputError naming the first field whose value is invalid."""

    if not isinstance(config.grid, dict):
        raise InputError(f"grid={config.grid!r} is invalid: expected a dict field -> values")
    for field, values in config.grid.items():
        if field not in GRID_FIELDS:
            raise InputError(f"--grid: {field!r} cannot be a grid field: expected one of "
                             + ", ".join(GRID_FIELDS))
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not values:
            raise InputError(f"--grid={field}={values!r} is invalid: expected a non-empty "
                             "list of values")
    if config.grid:
        for point in config.grid_points():
            validate(point)
        return

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
    if not (isinstance(config.label_noise, (int, float)) and 0 <= config.label_noise < 1):
        bad("label_noise", "a number in [0, 1)")
    if config.noise_mode not in NOISE_MODES:
        bad("noise_mode", "one of " + ", ".join(NOISE_MODES))
    if config.precision not in PRECISIONS:
        bad("precision", "one of " + ", ".join(PRECISIONS))
    architectures.check_knobs(config.architecture, config.activation, config.dropout, config.l2,
                              config.batch_norm)
    if config.rank_runs_by not in RANK_RUNS_BY:
        bad("rank_runs_by", "one of " + ", ".join(RANK_RUNS_BY))
    if config.ood_dataset is not None:
        if config.ood_dataset not in DATASET_NAMES:
            bad("ood_dataset", "one of " + ", ".join(DATASET_NAMES))
        if config.ood_dataset == config.dataset:
            bad("ood_dataset", f"a dataset other than --dataset={config.dataset!r}")
        if not config.keep_best:
            raise InputError(f"--ood_dataset={config.ood_dataset!r} needs keep_best=True: "
                             "the OOD test reads each run's best-epoch weights")
    validate_early_stopping_and_augmentation(config, bad)


def validate_early_stopping_and_augmentation(config: ExperimentConfig, bad) -> None:
    """The validation_split, patience, monitor and augment_* fields; `bad(field, expected)`
    raises the InputError."""
    if not (isinstance(config.validation_split, (int, float)) and 0 <= config.validation_split < 1):
        bad("validation_split", "a number in [0, 1)")
    if not (isinstance(config.patience, int) and config.patience >= 0):
        bad("patience", "an integer >= 0 (0: no early stopping)")
    if config.patience and not config.validation_split:
        bad("patience", "0 without --validation_split (early stopping watches the validation "
                        "set: set --validation_split, e.g. 0.1)")
    if config.monitor not in MONITORS:
        bad("monitor", "one of " + ", ".join(MONITORS))
    for field, upper in (("augment_translation", 1), ("augment_rotation", 0.5),
                         ("augment_zoom", 1)):
        value = getattr(config, field)
        if not (isinstance(value, (int, float)) and 0 <= value < upper):
            bad(field, f"a number in [0, {upper})")
    if not isinstance(config.augment_flip, bool):
        bad("augment_flip", "true or false")
    if config.augment_flip and config.dataset not in FLIP_DATASETS:
        bad("augment_flip", f"false for {config.dataset}: horizontal flip is for cifar10 only")
