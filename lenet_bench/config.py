"""What to run: the experiment config, and the one description of every field.

An experiment file's `get_config()` returns an `ExperimentConfig`; the CLI
applies flag overrides with `dataclasses.replace`. Every field is declared
once, below, with what the rest of the suite needs to know about it (its
`Setting` metadata): its flag help, whether it changes a run's result (then
it is a `runs.RunSpec` field and in the run key's hash), whether a grid may
vary it, whether runs that differ in it can share a trained group, and how a
report labels it. The absl flags (`__main__`), the grid parser and the type
checks here, `RunSpec`, its hash-optional set and group key (`runs`), and the
report's setting columns (`results`) are all derived from these declarations.
Field names double as flag names, so a message that names a field also
names the flag.
"""

import dataclasses
import itertools
import math
from typing import Any, Callable, Sequence

from lenet_bench.backends import BACKENDS, require_tensorflow
from lenet_bench.errors import InputError
from lenet_bench import architectures, keras_names

DATASET_NAMES = ("mnist", "fashion_mnist", "cifar10", "digits", "synthetic")
FLIP_DATASETS = ("cifar10", "synthetic")  # Horizontal flip keeps these images' meaning.
AUTO_SEEDS = "auto"  # seeds=AUTO_SEEDS: a race decides each grid point's seeds (is_race).
BOOL_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclasses.dataclass(frozen=True)
class Option:
    """What the suite knows about one field of a table: a config field (as a Setting,
    below) or a run option or command-line field (lenet_bench.options); kept in the
    field's metadata, and the source of its flag.

    Attributes:
      help: the flag's help text.
      kind: the value's type: int, float, str, bool, dict, or list (a repeatable
        flag); a float field takes ints too.
      optional: None is a valid value ("not set").
      choices: the valid values of a str field, if a closed set.
      check: a further test of a valid value, with `expected` saying what passes.
    """

    help: str
    kind: type = str
    optional: bool = False
    choices: tuple = ()
    check: Callable[[Any], bool] | None = None
    expected: str = ""


@dataclasses.dataclass(frozen=True)
class Setting(Option):
    """An Option of a config field, with what the rest of the suite needs to know of it.

    Attributes:
      flag: whether the CLI has a --flag for it.
      run: changes a run's result: a RunSpec field, in the run key's hash.
      hash_optional: (run fields) left out of the hash at its default, because it
        was added after runs were first written; those runs keep their keys.
      grid: a grid may vary it (every run field but the dataset, the split and the
        backend).
      group: runs that differ in it cannot train in one group (their model,
        data, batches or epochs differ).
      report: 'column': a summary column of its own; 'label': it names a grid
        point where it varies, but is no summary.csv column (added later, so
        reports of older runs keep their columns); None: not a setting.
      label: the prefix the report writes before its value ('lr 0.01').
      default_label: names the runs of a single setting (no grid, nothing varies)
        in the reports and TensorBoard's HParams table.
      words: text values valid besides a value of `kind` (seeds: 'auto'); its flag
        then takes text, and the config turns other text into `kind`.
    """

    flag: bool = True
    run: bool = False
    hash_optional: bool = False
    grid: bool = False
    group: bool = False
    report: str | None = None
    label: str = ""
    default_label: bool = False
    words: tuple = ()


def setting(default, help: str, **details):
    """A dataclass field with `Setting(help, **details)` as its metadata. A run field
    is grid-able unless it says otherwise."""
    if details.get("run"):
        details.setdefault("grid", True)
    if default is dataclasses.MISSING:  # Required: every experiment sets it.
        return dataclasses.field(metadata={"setting": Setting(help, **details)})
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata={"setting": Setting(help, **details)})
    return dataclasses.field(default=default, metadata={"setting": Setting(help, **details)})


def _positive(value) -> bool:
    return math.isfinite(value) and value > 0


def _fraction(upper: float = 1.0) -> Callable[[Any], bool]:
    return lambda value: 0 <= value < upper


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One study: a LeNet-5 setting, or a grid of settings, each trained over several seeds.

    The settings that name a grid point come first, in the order a report shows them.
    """

    name: str = setting(dataclasses.MISSING, "Folder under the workdir; also the experiment's file name.",
                        flag=False)
    dataset: str = setting(dataclasses.MISSING, "Dataset to train on.", choices=DATASET_NAMES, run=True,
                           grid=False, group=True)
    initializer: str = setting(
        "glorot_uniform", "Kernel initializer, e.g. uniform, glorot_normal, truncated_normal, "
        "or any Keras initializer name.", run=True, report="column",
        default_label=True)
    learning_rate: float = setting(0.001, "Start learning rate.", kind=float, check=_positive,
                                   expected="a number > 0", run=True, report="column",
                                   label="lr ", default_label=True)
    lr_decay: float = setting(1.0, "Per-epoch learning-rate decay factor, in (0, 1]: epoch e "
                              "(from 0) trains at learning_rate * lr_decay**e.", kind=float,
                              check=lambda value: 0 < value <= 1, expected="a number in (0, 1]",
                              run=True, report="column", label="decay ", default_label=True)
    label_noise: float = setting(0.0, "Symmetric training-label noise eps, in [0, 1).",
                                 kind=float, check=_fraction(), expected="a number in [0, 1)",
                                 run=True, report="column", label="eps ")
    noise_mode: str = setting(
        "sampled", "sampled: each label flipped independently with probability eps; exact: "
        "round(eps * n_c) labels flipped per class.", choices=("sampled", "exact"), run=True,
        report="column")
    optimizer: str = setting("adam", "Keras optimizer name, e.g. adam, sgd, rmsprop.", run=True,
                             group=True, report="column", default_label=True)
    batch_size: int = setting(32, "Training batch size.", kind=int, check=lambda value: value >= 1,
                              expected="an integer >= 1", run=True, group=True, report="column",
                              label="batch ", default_label=True)
    activation: str = setting("relu", "Keras activation name, for every hidden layer.", run=True,
                              group=True, report="column")
    epochs: int = setting(10, "Epochs per run.", kind=int, check=lambda value: value >= 1,
                          expected="an integer >= 1", run=True, group=True, report="column",
                          label="epochs ")
    train_size: int | None = setting(
        None, "Use N training images: the first N of a seeded, class-stratified order.",
        kind=int, optional=True, check=lambda value: value >= 1, expected="an integer >= 1",
        run=True, group=True, report="column", label="train ")
    first_conv_padding: str = setting("auto", "Padding of the first convolution: same | valid | "
                                      "auto (same below 32x32 input).",
                                      choices=("auto", "same", "valid"), run=True, group=True,
                                      report="column")
    data_seed: int = setting(0, "Seeds the order that train_size takes its subset from.",
                             kind=int, run=True, group=True, report="column", label="data seed ")
    # float32, or Keras's mixed_bfloat16 policy: bfloat16 compute, float32 weights and
    # softmax. bfloat16 keeps float32's exponent range, so no loss scaling is needed
    # (mixed_float16 would need it); it pays on GPUs, not on this suite's CPU.
    precision: str = setting(
        "float32", "float32, or mixed_bfloat16 (bfloat16 compute, float32 weights and softmax): "
        "for GPUs; slower on CPUs without bfloat16 units.", choices=("float32", "mixed_bfloat16"),
        run=True, hash_optional=True, group=True, report="column")
    # The Keras 3 backend (lenet_bench.backends); one per process, so never a grid field.
    backend: str = setting(
        "tensorflow", "Keras backend that trains: tensorflow, jax or torch (jax and torch need "
        "requirements-jax.txt / requirements-torch.txt). Chosen before Keras is imported.",
        choices=BACKENDS, run=True, grid=False, hash_optional=True, group=True, report="label",
        label="backend ")
    architecture: str = setting(
        "lenet5", "Model preset: lenet5, lenet5_elu, lenet5_dilated, lenet5_wide_fc, "
        "lenet5_batchnorm, lenet5_dropout, mlp, mlp_batchnorm, mlp_sigmoid, ... "
        "(lenet_bench/architectures.py). Not lenet5: trained on the Keras path.", run=True,
        hash_optional=True, group=True, report="column")
    # Applied on top of the preset (0/False: as the preset says); architectures.check_knobs.
    dropout: float = setting(0.0, "Dropout rate after every hidden dense layer, in [0, 1); "
                             "replaces the preset's.", kind=float, run=True, hash_optional=True,
                             group=True, report="column", label="dropout ")
    l2: float = setting(0.0, "L2 weight decay on every kernel (loss += l2 * sum(w**2)), >= 0.",
                        kind=float, run=True, hash_optional=True, group=True, report="column",
                        label="l2 ")
    batch_norm: bool = setting(False, "Batch normalization after every hidden layer (before its "
                               "activation).", kind=bool, run=True, hash_optional=True,
                               group=True, report="column", label="batch norm ")
    # Early stopping (lenet_bench.trainers.early_stopping): a seeded, class-stratified hold-out
    # of this fraction of the (train_size) training images, evaluated every epoch.
    validation_split: float = setting(
        0.0, "Hold out this fraction of the training images (seeded, class-stratified) and "
        "evaluate it every epoch; needed for --patience.", kind=float, check=_fraction(),
        expected="a number in [0, 1)", run=True, hash_optional=True, group=True, report="label",
        label="val ")
    patience: int = setting(
        0, "Early stopping: stop a run after this many epochs without improvement of --monitor "
        "on the validation split, and restore its best validation epoch's weights. 0: off.",
        kind=int, check=lambda value: value >= 0,
        expected="an integer >= 0 (0: no early stopping)", run=True, hash_optional=True,
        report="label", label="patience ")
    monitor: str = setting("val_loss", "What early stopping watches.",
                           choices=("val_loss", "val_accuracy"), run=True, hash_optional=True,
                           report="label")
    # Augmentation of training batches (lenet_bench.trainers.augmentation), seeded per run.
    augment_translation: float = setting(
        0.0, "Augment training batches: random shift up to this fraction of the size.",
        kind=float, check=_fraction(), expected="a number in [0, 1)", run=True,
        hash_optional=True, report="label", label="translate ")
    augment_rotation: float = setting(
        0.0, "Augment training batches: random rotation up to this fraction of a turn.",
        kind=float, check=_fraction(0.5), expected="a number in [0, 0.5)", run=True,
        hash_optional=True, report="label", label="rotate ")
    augment_zoom: float = setting(
        0.0, "Augment training batches: random zoom up to this fraction.", kind=float,
        check=_fraction(), expected="a number in [0, 1)", run=True, hash_optional=True,
        report="label", label="zoom ")
    augment_flip: bool = setting(False, "Augment training batches: random horizontal flip "
                                 "(cifar10 only).", kind=bool, run=True, hash_optional=True,
                                 report="label", label="flip ")
    # Validation split of the training set that a run evaluates on instead of the
    # test set (lenet_bench.inputs.data.parse_split); '' is the test set. The search sets it.
    split: str = setting("", "Validation split evaluated instead of the test set.", flag=False,
                         run=True, grid=False, hash_optional=True, group=True)
    seeds: int | str = setting(
        5, "Repeated runs per configuration (seeds first_seed..); auto: a race that starts "
        "every grid point at --min_seeds seeds and adds seeds only where the verdict (worse "
        "or equivalent within --margin of the best) is still open, up to --max_seeds.",
        kind=int, check=lambda value: value >= 1, expected="an integer >= 1 or auto",
        words=(AUTO_SEEDS,))
    min_seeds: int = setting(3, "With --seeds=auto: the seeds every grid point starts with.",
                             kind=int, check=lambda value: value >= 2,
                             expected="an integer >= 2")
    max_seeds: int = setting(20, "With --seeds=auto: the most seeds a grid point gets.",
                             kind=int, check=lambda value: value >= 2,
                             expected="an integer >= 2")
    margin: float = setting(0.5, "Equivalent means within this many test accuracy points of "
                            "the best; each experiment sets its own.", kind=float,
                            check=lambda value: value >= 0.05,
                            expected="accuracy points, at least 0.05 (0.5 is half a point)")
    failure_limit: float = setting(0.2, "Equivalent also needs the failure rate (runs at "
                                   "chance or diverged) shown below this.", kind=float,
                                   check=lambda value: 0 < value <= 1,
                                   expected="a rate in (0, 1]")
    first_seed: int = setting(0, "Seed of the first repeated run.", kind=int)
    keep_best: bool = setting(True, "Save the best-test-epoch weights of each run.", kind=bool)
    # Neither changes a run's result, so neither is in its key:
    rank_runs_by: str = setting(
        "final", "The report's best, worst and median run of a grid point: ranked by final or "
        "best-epoch test accuracy.", choices=("final", "best"))
    ood_dataset: str | None = setting(
        None, "After training, feed this dataset's test images (out of distribution) and the "
        "test set to each finished run, e.g. fashion_mnist for MNIST runs.", optional=True,
        choices=DATASET_NAMES)
    # Grid: field -> values; the runs are the product of all value lists (in
    # this order), each point repeated over `seeds` seeds. A field in the grid
    # overrides the single value above.
    grid: dict = setting({}, "Grid: field -> values.", kind=dict, flag=False)
    # Hyperparameter search (lenet_bench.study.search): field -> {"log_uniform": [lo, hi]} |
    # {"uniform": [lo, hi]} | {"int_uniform": [lo, hi]} | {"choice": [values]}. Empty: no search.
    search: dict = setting({}, "Search space: field -> distribution.", kind=dict, flag=False)
    search_method: str = setting("random", "How a search picks its trials (grid: ranges at "
                                 "'points' values each, default 3).", choices=("random", "grid"))
    search_trials: int = setting(10, "Budget: the most configurations a search tries.", kind=int)
    search_seed: int = setting(0, "Seeds a search's trials and folds.", kind=int)
    cv_folds: int = setting(3, "Stratified k-fold selection in a search; 1: one hold-out split.",
                            kind=int)
    holdout_fraction: float = setting(0.2, "Share of the training set a search holds out when "
                                      "cv_folds is 1.", kind=float)
    nested_folds: int = setting(0, "Outer folds of nested cross-validation; 0: off.", kind=int)

    def __post_init__(self):
        """Flag text of a field that also takes words ('--seeds=5' beside '--seeds=auto')
        becomes a value of its kind; other text stays for validate() to name."""
        for name in field_names(flag=True):
            value, described = getattr(self, name), SETTINGS[name]
            if described.words and isinstance(value, str) and value not in described.words:
                try:
                    object.__setattr__(self, name, described.kind(value))
                except ValueError:
                    pass

    @property
    def races(self) -> bool:
        """Whether this experiment is a race (seeds 'auto': lenet_bench.study.racing)."""
        return is_race(self.seeds)

    @property
    def starting_seeds(self) -> int:
        """The seeds every grid point starts with: `seeds`, or a race's `min_seeds`."""
        return self.min_seeds if self.races else self.seeds

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def grid_points(self) -> list["ExperimentConfig"]:
        """One config per grid point (the config itself when there is no grid)."""
        fields = list(self.grid)
        return [dataclasses.replace(self, grid={}, **dict(zip(fields, values)))
                for values in itertools.product(*(self.grid[field] for field in fields))]


def is_race(seeds) -> bool:
    """Whether a `seeds` value (a config's, or a config.json's) asks for a race: the one
    place that reads seeds='auto'."""
    return seeds == AUTO_SEEDS


SETTINGS: dict[str, Setting] = {field.name: field.metadata["setting"]
                                for field in dataclasses.fields(ExperimentConfig)}
DEFAULTS: dict[str, Any] = {field.name: field.default for field in dataclasses.fields(ExperimentConfig)
                            if field.default is not dataclasses.MISSING}


def field_names(**wanted) -> tuple[str, ...]:
    """The config fields whose Setting has every attribute given, in config order:
    field_names(run=True), field_names(grid=True), field_names(report='column')."""
    return tuple(name for name, described in SETTINGS.items()
                 if all(getattr(described, key) == value for key, value in wanted.items()))


GRID_FIELDS = field_names(grid=True)
DEFAULT_LABEL_FIELDS = field_names(default_label=True)  # A single setting's label.
NOISE_MODES = SETTINGS["noise_mode"].choices
# The augment_* fields, in the order of trainers.augmentation.AugmentSettings's.
AUGMENT_FIELDS = ("augment_translation", "augment_rotation", "augment_zoom", "augment_flip")
RANK_RUNS_BY = SETTINGS["rank_runs_by"].choices  # Which test accuracy ranks a point's runs.


def parse_value(field: str, text: str, flag: str):
    """A field's value from text, typed like the field ('0.01' -> 0.01); `flag` is
    the flag text an error message names."""
    kind = SETTINGS[field].kind
    if text in SETTINGS[field].words:
        return text
    if kind is bool:
        if text.lower() not in BOOL_TEXT:
            raise InputError(f"{flag} is invalid: expected true or false")
        return BOOL_TEXT[text.lower()]
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            expected = "a number" if kind is float else "an integer"
            raise InputError(f"{flag} is invalid: expected {expected}") from None
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
    return field, tuple(parse_value(field, value.strip(), f"--grid={field}={value.strip()!r}")
                        for value in values.split(","))


def apply_overrides(config: ExperimentConfig, overrides: dict,
                    grid: dict | Sequence[str] = ()) -> ExperimentConfig:
    """The config with overrides ({field: value}, as flags or run_study's keywords give
    them): a single value removes that field from the grid, and `grid` ({field: values},
    or 'FIELD=V1,V2' texts as --grid takes them) replaces (or adds) those fields' values."""
    if not isinstance(grid, dict):
        grid = dict(parse_grid_flag(text) for text in grid)
    merged = {field: values for field, values in config.grid.items() if field not in overrides}
    merged.update({field: tuple(values) if isinstance(values, list) else values
                   for field, values in grid.items()})
    return dataclasses.replace(config, **{**overrides, "grid": merged})


def check_value(field: str, value) -> None:
    """Raises InputError when `value` is not valid for `field` (type, choices, range)."""
    check_described(field, value, SETTINGS[field])


def check_described(name: str, value, described) -> None:
    """Raises InputError naming --`name` when `value` does not fit `described` (an Option
    or a Setting: its kind, choices, check; None where it is optional)."""
    if (value is None and described.optional) or value in getattr(described, "words", ()):
        return
    kind = described.kind
    type_ok = (isinstance(value, bool) if kind is bool
               else isinstance(value, (int, float)) and not isinstance(value, bool)
               and (kind is float or isinstance(value, int)) if kind in (int, float)
               else isinstance(value, kind))
    if not type_ok:
        expected = {bool: "true or false", int: "an integer", float: "a number",
                    str: "a string", dict: "a dict"}[kind]
        raise InputError(f"--{name}={value!r} is invalid: expected {described.expected or expected}")
    if described.choices and value not in described.choices:
        raise InputError(f"--{name}={value!r} is invalid: expected one of "
                         + ", ".join(described.choices))
    if described.check is not None and not described.check(value):
        raise InputError(f"--{name}={value!r} is invalid: expected {described.expected}")


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
    for field in field_names(flag=True):
        check_value(field, getattr(config, field))
    _check_combinations(config)


def _check_combinations(config: ExperimentConfig) -> None:
    """The checks that involve more than one field, or Keras names (by name alone: no
    Keras is imported)."""
    keras_names.check_names(config.initializer, config.optimizer, config.activation)
    architectures.check_knobs(config.architecture, config.activation, config.dropout, config.l2,
                              config.batch_norm)
    if config.ood_dataset is not None:
        if config.ood_dataset == config.dataset:
            raise InputError(f"--ood_dataset={config.ood_dataset!r} is invalid: expected a "
                             f"dataset other than --dataset={config.dataset!r}")
        if not config.keep_best:
            raise InputError(f"--ood_dataset={config.ood_dataset!r} needs keep_best=True: "
                             "the OOD test reads each run's best-epoch weights")
    if config.patience and not config.validation_split:
        raise InputError(f"--patience={config.patience!r} is invalid: expected 0 without "
                         "--validation_split (early stopping watches the validation set: set "
                         "--validation_split, e.g. 0.1)")
    if config.races and config.search:
        raise InputError("--seeds='auto' is invalid with a search: expected an integer "
                         "(a race compares the points of a grid)")
    if config.races and config.max_seeds < config.min_seeds:
        raise InputError(f"--max_seeds={config.max_seeds!r} is invalid: expected at least "
                         f"--min_seeds={config.min_seeds!r}")
    if any(getattr(config, name) for name in AUGMENT_FIELDS):
        require_tensorflow("--augment_translation/rotation/zoom/flip", config.backend)
    if config.augment_flip and config.dataset not in FLIP_DATASETS:
        raise InputError(f"--augment_flip={config.augment_flip!r} is invalid: expected false "
                         f"for {config.dataset}: horizontal flip is for cifar10 only")
