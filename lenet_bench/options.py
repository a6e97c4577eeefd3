"""How to run a study (not what it computes): the one description of every run option.

`RunOptions` holds what `lenet_bench.run_study` takes besides the experiment and
the workdir, and `CommandLine` what only the command line has (which experiment,
where, a listing, the version). Each field carries a `config.Option` (its
metadata, the same record a config field's `Setting` extends): help text, type,
choices and a further check. The absl flags of `python -m
lenet_bench` are derived from these two tables and the config's field table
(`config.SETTINGS`), so adding a field here adds its flag, and `check_options`
gives the API the same one-line `InputError`s the flags give the CLI. Nothing
here imports TensorFlow or Keras.
"""

import dataclasses

from lenet_bench.config import SETTINGS, Option, check_described
from lenet_bench.errors import InputError, did_you_mean

AUTO_ON_OFF = ("auto", "on", "off")


def option(default, help: str, **details):
    """A dataclass field with `Option(help, **details)` as its metadata."""
    if isinstance(default, list):
        return dataclasses.field(default_factory=list,
                                 metadata={"option": Option(help, **details)})
    return dataclasses.field(default=default, metadata={"option": Option(help, **details)})


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a study runs: where the data is, which engine and trainer, threads, output.

    None of these changes a run's result (they are in no run key), except that
    `deterministic` makes GPU runs bit-identical and `onednn` moves the last
    float bits.
    """

    data_dir: str | None = option(
        None, "Data root with mnist/, fashion-mnist/, cifar10/ folders (or one dataset's "
        "folder). Default: $LENET_BENCH_DATA, then the keras cache and download.", optional=True)
    skip_missing_data: bool = option(
        False, "Skip (and report) an experiment whose dataset cannot be found, instead of "
        "failing.", kind=bool)
    report_only: bool = option(False, "Rebuild the reports from the workdir; train nothing.",
                               kind=bool)
    threads: int = option(
        0, "The backend's CPU threads (TensorFlow's intra- and inter-op pools, PyTorch's, "
        "XLA's for JAX), recorded in every run; 0: $LENET_BENCH_THREADS if set, else one per "
        "core.", kind=int, check=lambda value: value >= 0,
        expected="an integer >= 0 (0: one per core)")
    jit: str = option(
        "auto", "XLA-compile the train and eval steps. auto: each trainer's measured choice "
        "for the device (see BUILD_NOTES.md).", choices=AUTO_ON_OFF)
    trainer: str = option(
        "auto", "fused: train up to --group_size runs together in one graph; keras: one Keras "
        "model at a time; auto: fused where it supports the optimizer and the model (plain "
        "lenet5).", choices=("auto", "fused", "keras"))
    onednn: str = option(
        "auto", "TensorFlow's oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS). auto: as that "
        "variable says when set, else on. TensorFlow leaves them off on CPUs without "
        "AVX-512; on this suite's 2-core AVX2 CPU they measured 2x faster for both trainers "
        "(BUILD_NOTES.md). Results differ from 'off' in the last float bits.",
        choices=AUTO_ON_OFF)
    group_size: int | None = option(
        None, "Most runs trained together on the fused path; default: 12, or whole grids "
        "with --backend=jax on a GPU.", kind=int, optional=True, check=lambda value: value >= 1,
        expected="an integer >= 1")
    tensorboard: bool = option(
        True, "Write TensorBoard logs: per-epoch scalars per run and the HParams dashboard's "
        "grid, under <workdir>/<experiment>/tb/.", kind=bool)
    keras_models: bool = option(
        True, "Save each finished run's <key>.final.keras and <key>.best.keras under runs/.",
        kind=bool)
    progress: str = option(
        "auto", "bar: one progress line redrawn in place (per-epoch log lines off); log: "
        "plain progress lines; auto: bar on a terminal, else log.",
        choices=("auto", "bar", "log", "none"))
    deterministic: bool = option(
        False, "Deterministic ops (TensorFlow: enable_op_determinism; PyTorch: "
        "use_deterministic_algorithms; JAX: XLA's deterministic GPU ops): bit-identical "
        "reruns on GPU too, at a cost (see BUILD_NOTES.md). CPU runs are bit-identical "
        "without it.", kind=bool)
    engine: str = option(
        "local", "local: train the groups one after another in this process; ray: each group "
        "is a Ray task on a Ray cluster (needs `pip install -r requirements-ray.txt`). The "
        "workdir comes out the same either way.", choices=("local", "ray"))
    ray_address: str | None = option(
        None, "With --engine=ray: 'auto' (the cluster this machine belongs to) or HOST:PORT; "
        "unset: start a local Ray instance with this machine's CPUs.", optional=True)
    ray_cpus_per_task: float = option(
        1.0, "With --engine=ray: CPUs each group's task declares (a task trains with the same "
        "TensorFlow threads as the local engine: --threads).", kind=float,
        check=lambda value: value > 0, expected="a number > 0")
    ray_gpus_per_task: float | None = option(
        None, "With --engine=ray on a cluster with GPUs: GPUs each task declares (a fraction "
        "shares a GPU; 0: CPU only). Default 1.", kind=float, optional=True,
        check=lambda value: value >= 0, expected="a number >= 0")

    @property
    def jit_compile(self) -> bool | None:
        """`jit` as the trainers take it: None (auto), True or False."""
        return {"auto": None, "on": True, "off": False}[self.jit]


@dataclasses.dataclass(frozen=True)
class CommandLine:
    """What only the command line has: `run_study` takes these as its arguments."""

    experiment: str = option(
        "digits_smoke", "Experiment name (see --list_experiments), a path to an experiment "
        ".py file, or a comma-separated list of either.")
    workdir: str = option("results", "Results go to <workdir>/<experiment>/.")
    grid: list = option(
        [], "FIELD=V1,V2,...: train every value of FIELD (repeatable; the grid is the "
        "product). Replaces the experiment's values for that field, e.g. "
        "--grid=learning_rate=0.01,0.003 --grid=lr_decay=0.9,0.99.", kind=list)
    list_experiments: bool = option(
        False, "List the experiments, one line each, and exit.", kind=bool)
    version: bool = option(False, "Print the version and exit.", kind=bool)


def options_of(table) -> dict[str, Option]:
    """{field name: Option} of RunOptions or CommandLine (or any table like them)."""
    return {field.name: field.metadata["option"] for field in dataclasses.fields(table)}


RUN_OPTIONS = options_of(RunOptions)
COMMAND_LINE = options_of(CommandLine)
# What a direct call of study.experiment.run_experiment or trainers.group_loop.train_group
# runs with when given no options: as a study, but writing no TensorBoard logs and no
# .keras models (a script or a test that trains asks for those).
LIBRARY_OPTIONS = RunOptions(tensorboard=False, keras_models=False, progress="none")


def check_option(name: str, value) -> None:
    """Raises InputError when `value` is not valid for run option `name`."""
    check_described(name, value, RUN_OPTIONS[name])


def check_options(options: RunOptions) -> None:
    """Raises InputError naming the first invalid option, or a Ray option without Ray."""
    for name in RUN_OPTIONS:
        check_option(name, getattr(options, name))
    if options.engine == "local":
        for name in ("ray_address", "ray_gpus_per_task"):
            if getattr(options, name) is not None:
                raise InputError(f"--{name} is only used with --engine=ray")


def split_keywords(keywords: dict) -> tuple[RunOptions, dict, dict]:
    """`run_study`'s keyword arguments -> (RunOptions, config overrides, grid)."""
    unknown = [name for name in keywords if name not in RUN_OPTIONS and name not in SETTINGS]
    if unknown:
        known = list(RUN_OPTIONS) + list(SETTINGS)
        raise InputError(f"{unknown[0]}={keywords[unknown[0]]!r} is unknown"
                         f"{did_you_mean(unknown[0], known)}: expected a run option "
                         f"({', '.join(RUN_OPTIONS)}) or a config field")
    options = RunOptions(**{name: value for name, value in keywords.items()
                            if name in RUN_OPTIONS})
    overrides = {name: value for name, value in keywords.items()
                 if name in SETTINGS and name != "grid"}
    grid = keywords.get("grid") or {}
    if not isinstance(grid, (dict, list, tuple)):
        raise InputError(f"grid={grid!r} is invalid: expected a dict field -> values")
    return options, overrides, grid
