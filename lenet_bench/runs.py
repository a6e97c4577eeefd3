"""Runs: what one run is (`RunSpec`), its key, the groups runs train in, and the
files a group leaves in `<workdir>/<experiment>/runs/` (run records, checkpoints).

No TensorFlow and no Keras here: a report, the Ray driver and a notebook use
this module on machines that may have neither.
"""

import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from lenet_bench.artifacts import CONFIG_FILE, RUNS_FOLDER
from lenet_bench.config import DEFAULTS, SETTINGS, ExperimentConfig, field_names
from lenet_bench.errors import InputError
from lenet_bench.files import atomic_write_npz
from lenet_bench import architectures

RESULTS_FORMAT = 3  # Bump when a change makes old run files incomparable.
FINISHED_STATUSES = ("done", "diverged")
# What np.load raises on a torn or foreign .npz: such a checkpoint is ignored.
_TORN_NPZ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
RUN_FIELDS = field_names(run=True)  # The config fields in RunSpec, in config order.
HASH_OPTIONAL_FIELDS = field_names(run=True, hash_optional=True)
GROUP_FIELDS = field_names(group=True)
# Per-epoch metrics of a run record's history. `val_*` (runs with a validation split
# only) are the validation hold-out of the training set; `test_*` the test set, or the
# search's validation split when the run has a `split` (lenet_bench.inputs.data.parse_split).
HISTORY_METRICS = ("epoch", "learning_rate", "train_loss", "train_accuracy",
                   "train_clean_accuracy", "test_loss", "test_accuracy", "epoch_seconds",
                   "test_soft_accuracy")


class _RunSpecMethods:
    """The behaviour of `RunSpec`; its fields are the config's run fields plus `seed`."""

    @property
    def key(self) -> str:
        """Readable name plus a short hash of every field, e.g.
        'glorot_normal_lr0.005_decay0.9_seed0_3f9a1c2e'. Fields added later are
        left out of the hash at their defaults (float32, no validation split, no
        augmentation, no search split, plain LeNet-5), so runs written before they
        existed keep their keys. A non-default architecture leads the name
        ('mlp_glorot_normal_...'), its knobs follow the decay ('_drop0.5_l20.0001_bn')."""
        hashed = {name: value for name, value in dataclasses.asdict(self).items()
                  if not (name in HASH_OPTIONAL_FIELDS and value == DEFAULTS[name])}
        fields = json.dumps([RESULTS_FORMAT, hashed], sort_keys=True)
        digest = hashlib.sha256(fields.encode()).hexdigest()[:8]
        noise = ""
        if self.label_noise:
            noise = f"_noise{self.label_noise:g}" + ("_exact" if self.noise_mode == "exact" else "")
        precision = "" if self.precision == "float32" else f"_{self.precision}"
        architecture = "" if self.architecture == "lenet5" else f"{self.architecture}_"
        knobs = ((f"_drop{self.dropout:g}" if self.dropout else "")
                 + (f"_l2{self.l2:g}" if self.l2 else "") + ("_bn" if self.batch_norm else ""))
        extras = ""
        if self.validation_split:
            extras += f"_val{self.validation_split:g}"
            extras += f"_es{self.patience}{self.monitor[4:]}" if self.patience else ""
        if self.augmented:
            extras += "_aug"
        extras += "".join(f"_{step.replace(':', '-')}" for step in self.split.split("/") if step)
        return (f"{architecture}{self.initializer}_lr{self.learning_rate:g}"
                f"_decay{self.lr_decay:g}{knobs}{noise}{precision}{extras}_seed{self.seed}_{digest}")

    @property
    def group_key(self) -> tuple:
        """Runs with equal group keys can train together in one group."""
        return tuple(getattr(self, name) for name in GROUP_FIELDS)

    @property
    def augmented(self) -> bool:
        return bool(self.augment_translation or self.augment_rotation or self.augment_zoom
                    or self.augment_flip)

    @property
    def is_plain_lenet5(self) -> bool:
        """True for the model the fused trainer implements (LeNet-5, no regularization)."""
        return architectures.is_plain_lenet5(self.architecture, self.dropout, self.l2,
                                             self.batch_norm)

    def learning_rate_at(self, epoch: int) -> float:
        return self.learning_rate * self.lr_decay ** epoch


def _run_spec_fields() -> list:
    required = [("dataset", SETTINGS["dataset"].kind), ("seed", int)]
    optional = [(field.name, field.type, dataclasses.field(default=field.default))
                for field in dataclasses.fields(ExperimentConfig)
                if field.name in RUN_FIELDS and field.name != "dataset"]
    return required + optional


RunSpec = dataclasses.make_dataclass("RunSpec", _run_spec_fields(), bases=(_RunSpecMethods,),
                                     frozen=True)
RunSpec.__module__ = __name__  # So pickle (Ray) finds it as lenet_bench.runs.RunSpec.
RunSpec.__doc__ = ("Everything that changes one run's result (the config's run fields and the "
                   "seed); its key names the run.")


def run_specs(config: ExperimentConfig) -> list[RunSpec]:
    """The runs of an experiment: every grid point, repeated over `seeds` seeds (with
    seeds 'auto', a race's first round: `min_seeds` seeds; lenet_bench.study.racing).

    Seed-major: all grid points of the first seed come first, so a study cut
    short still covers the whole grid.
    """
    return [point_spec(point, seed)
            for seed in range(config.first_seed, config.first_seed + config.starting_seeds)
            for point in config.grid_points()]


def point_spec(point: ExperimentConfig, seed: int) -> RunSpec:
    """The run of one grid point (a config without a grid) with one seed."""
    fields = {name: getattr(point, name) for name in RUN_FIELDS}
    if not fields["label_noise"]:
        fields["noise_mode"] = "sampled"  # eps = 0 is the same run in either mode.
    if not fields["patience"]:
        fields["monitor"] = "val_loss"  # Without early stopping nothing is monitored.
    return RunSpec(**fields, seed=seed)


def spec_from_record(spec: dict) -> RunSpec:
    """The RunSpec of a run record's `spec`; fields a record predates take their defaults."""
    return RunSpec(**{name: value for name, value in spec.items()
                      if name in RunSpec.__dataclass_fields__})


def dataset_key(spec: RunSpec) -> tuple:
    """Runs with equal dataset keys train and evaluate on the same arrays: the same
    training subset, and the same validation split of it (the search's) or the test set."""
    return (spec.train_size, spec.data_seed, spec.split)


def make_groups(specs: list[RunSpec], group_size: int,
                across_seeds: bool = False) -> list[list[RunSpec]]:
    """Packs runs into groups of at most `group_size` that train together.

    With `across_seeds` (a trainer for which a data order per replica costs
    nothing extra: the fused JAX trainer gathers every replica's batch anyway),
    the runs of one group key are packed in order, whatever their seeds, so a
    whole grid can be one group. Otherwise:

    Runs of one seed and one group key go together, so they share their data
    order and the fused path shares conv1 over one batch (the fastest layout
    measured). Runs that would be alone that way (a single configuration
    repeated over seeds, or the one left over when a seed's runs do not fill
    the last group) are packed across seeds instead: 5 replicas with their
    own orders measured 2.8x faster than one run at a time with oneDNN on
    (group scan in benchmarks/fused_speed.txt). The packing depends only on
    the list given, so the same runs always make the same groups.
    """
    by_key: dict[tuple, list[RunSpec]] = {}
    for spec in specs:
        by_key.setdefault((spec.group_key, None if across_seeds else spec.seed), []).append(spec)
    groups, lone_by_group_key = [], {}
    for (group_key, _), members in by_key.items():
        for start in range(0, len(members), group_size):
            chunk = members[start:start + group_size]
            if len(chunk) == 1:
                lone_by_group_key.setdefault(group_key, []).append(chunk[0])
            else:
                groups.append(chunk)
    for lone in lone_by_group_key.values():
        groups += [lone[start:start + group_size] for start in range(0, len(lone), group_size)]
    return groups


def run_path(runs_dir: Path, spec: RunSpec, suffix: str = ".json") -> Path:
    return Path(runs_dir) / f"{spec.key}{suffix}"


def is_finished(run_file: Path) -> bool:
    """True for a run record of this results format that is done or diverged.

    Raises:
      InputError: a record this version must leave alone (`read_record`).
    """
    record = read_record(run_file)
    return bool(record) and record.get("status") in FINISHED_STATUSES and \
        record.get("results_format") == RESULTS_FORMAT


def check_results_format(path: Path, stored) -> None:
    """Raises InputError, naming `path` and both formats, when a file holds a results format
    this version cannot read: a newer one, or no format number at all. Such a file is
    left exactly as it is (never trained again or rewritten in place): it may be the
    work of a newer lenet_bench sharing the workdir. An older format is not refused:
    its runs have other keys (the format is in the key's hash) and train beside it."""
    if isinstance(stored, (bool, np.bool_)) or not isinstance(stored, (int, np.integer)):
        raise InputError(f"{path}: results_format {stored!r} is not a format number: expected "
                         f"an integer up to {RESULTS_FORMAT} (this version's); the file is "
                         "left as it is: move it away or use another --workdir")
    if stored > RESULTS_FORMAT:
        raise InputError(f"{path}: written by a newer lenet_bench (results format {stored}; "
                         f"this version reads up to {RESULTS_FORMAT}): the file is left as it "
                         "is: run that newer version, or use another --workdir")


def read_record(path: Path) -> dict | None:
    """The run record (or config.json) in `path`, or None where there is nothing to keep:
    no file, or a torn or corrupt one (not a JSON object with a results_format), whose
    run then trains again from its checkpoint or its first epoch.

    Raises:
      InputError: the file exists but cannot be read (permissions, a folder in its
        place), or holds a format this version cannot read (`check_results_format`).
    """
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror}): expected a readable "
                         "file; it is left as it is") from None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or "results_format" not in record:
        return None
    check_results_format(path, record["results_format"])
    return record


def check_experiment_files(experiment_dir: Path, specs: list[RunSpec]) -> None:
    """Raises InputError (before anything is trained or written) when a file of
    `experiment_dir` that this study would rewrite holds a results format this version
    cannot read: config.json, a run's record, or a group checkpoint
    (`check_results_format`)."""
    experiment_dir = Path(experiment_dir)
    read_record(experiment_dir / CONFIG_FILE)
    runs_dir = experiment_dir / RUNS_FOLDER
    for spec in specs:
        read_record(run_path(runs_dir, spec))
    for checkpoint in sorted(runs_dir.glob("group-*.ckpt.npz")):
        _checkpoint_format(checkpoint)


def checkpoint_path(runs_dir: Path, specs: list[RunSpec]) -> Path:
    """One checkpoint per group, named by a hash of its runs' keys."""
    digest = hashlib.sha256("\n".join(spec.key for spec in specs).encode()).hexdigest()[:12]
    return Path(runs_dir) / f"group-{digest}.ckpt.npz"


def save_checkpoint(path: Path, epochs_done: int, records: list[dict], state: dict) -> None:
    """Trainer state (weights, optimizer slots, step counters) and the records, atomically."""
    atomic_write_npz(path, **{f"state/{name}": value for name, value in state.items()},
                     epochs_done=np.int64(epochs_done), records=np.array(json.dumps(records)),
                     results_format=np.int64(RESULTS_FORMAT))


def load_checkpoint(path: Path, specs: list[RunSpec]) -> tuple[int, list[dict], dict] | None:
    """(epochs done, records, trainer state) of a group's checkpoint, or None if there is
    none or it does not belong to these runs (a torn, foreign or old-format file is ignored,
    and the group starts from its first epoch).

    Raises:
      InputError: a checkpoint of a newer results format (`check_results_format`).
    """
    if _checkpoint_format(path) != RESULTS_FORMAT:
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            records = json.loads(str(stored["records"]))
            state = {name.split("/", 1)[1]: stored[name] for name in stored.files
                     if name.startswith("state/")}
            epochs_done = int(stored["epochs_done"])
    except _TORN_NPZ_ERRORS:
        return None
    if [record.get("key") for record in records] != [spec.key for spec in specs]:
        return None
    return epochs_done, records, state


def _checkpoint_format(path: Path) -> int | None:
    """The results format of the checkpoint in `path`; None when it is missing or torn.

    Raises:
      InputError: a newer format, or none this version knows (`check_results_format`).
    """
    try:
        with np.load(path, allow_pickle=False) as stored:
            stored_format = stored["results_format"]
    except FileNotFoundError:
        return None
    except PermissionError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror}): expected a readable "
                         "file; it is left as it is") from None
    except _TORN_NPZ_ERRORS:
        return None
    stored_format = stored_format.item() if stored_format.ndim == 0 else stored_format
    check_results_format(path, stored_format)
    return int(stored_format)
