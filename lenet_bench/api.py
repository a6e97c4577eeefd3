"""The Python API: run a study from a script or a notebook and get its runs as a DataFrame.

    import lenet_bench

    study = lenet_bench.run_study("digits_smoke", "results", seeds=2, epochs=2,
                                  grid={"learning_rate": [0.01, 0.003]})
    study.runs.groupby("learning_rate").test_accuracy.mean()
    study.report_path  # results/digits_smoke/REPORT.md

`run_study` and the command line (`python -m lenet_bench`, a thin layer over
`run_configs`) share one code path: the same checks, the same one-line
`InputError`s (named as the flags are), the same workdir, resumed the same way.

The backend: Keras reads its backend once per process, when it is first
imported, and cannot switch. `run_study` starts Keras on the experiments'
`backend` (default tensorflow) if nothing has imported Keras yet; if something
has (`import keras` in an earlier cell), it raises an InputError unless that is
the backend asked for. In a notebook, pass `backend=` in the first call, or set
$KERAS_BACKEND before importing Keras, and restart the kernel to change it.
Likewise `onednn` acts only before TensorFlow is first imported.

This module imports no TensorFlow or Keras at import time: only `run_study` does.
"""

import dataclasses
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from lenet_bench.config import SETTINGS, ExperimentConfig, parse_grid_flag, validate
from lenet_bench.errors import InputError, did_you_mean
from lenet_bench.options import RUN_OPTIONS, RunOptions, check_options

logger = logging.getLogger("lenet_bench")


@dataclasses.dataclass(frozen=True, eq=False)
class StudyResult:
    """What `run_study` returns.

    Attributes:
      runs: one row per run (experiment, run key), with every run field of the
        config (`learning_rate`, `seed`, ...) as a column, the run's status and
        timings, and its last epoch's metrics (`test_accuracy`, `test_loss`,
        `train_accuracy`, ...): `results.load`'s table at each run's last epoch.
      epochs: `results.load`'s table: one row per run and epoch.
      report_path: the experiment's REPORT.md (with several experiments: the
        workdir's index REPORT.md, which links theirs).
      workdir: the workdir (absolute); each experiment is in `workdir / name`.
      experiment_dirs: the experiment folders that hold runs.
    """

    runs: "pandas.DataFrame"  # noqa: F821  (imported with the reports, when run)
    epochs: "pandas.DataFrame"  # noqa: F821
    report_path: Path
    workdir: Path
    experiment_dirs: tuple[Path, ...]


def run_study(experiment_or_config, workdir: str | os.PathLike, *, callbacks=None,
              **options) -> StudyResult:
    """Trains what is not yet done in `workdir` and writes the reports, as the CLI does.

    Args:
      experiment_or_config: an experiment name (experiments.EXPERIMENTS), a path
        to an experiment .py file, an `ExperimentConfig`, or a list of them.
      workdir: results go to `<workdir>/<experiment name>/`.
      callbacks: Keras callbacks called per run at epoch ends, or a function
        spec -> callbacks (observers.keras_callbacks.KerasCallbacks says which
        hooks, and when); local engine only.
      **options: `RunOptions` fields (trainer='fused', threads=2, progress='none',
        tensorboard=False, report_only=True, ...: lenet_bench.options), and config
        fields that override the experiment's (seeds=3, epochs=2, backend='jax', ...),
        with `grid={field: values}` replacing (or adding) those fields' grid values.
        A single-value override of a grid field removes it from the grid.

    Returns:
      A StudyResult: the runs as a DataFrame, the report path, the workdir.

    Raises:
      InputError: an unknown option or experiment, an invalid value, a backend
        other than the one Keras already runs on, ...: one line, named as the flag.
    """
    run_options, overrides, grid = split_options(options)
    if callbacks and run_options.engine != "local":
        raise InputError("callbacks run in the training process: expected engine='local'")
    configs = resolve_configs(experiment_or_config, overrides, grid)
    command = "lenet_bench.run_study({}, {!r}{})".format(
        [config.name for config in configs], str(workdir),
        "".join(f", {name}={value!r}" for name, value in options.items()))
    reports = run_configs(configs, Path(workdir), run_options, command=command,
                          rank_runs_by=overrides.get("rank_runs_by"), callbacks=callbacks)
    return study_result(Path(workdir).absolute(), configs,
                        [path.absolute() for path in reports])


def split_options(options: dict) -> tuple[RunOptions, dict, dict]:
    """`run_study`'s keyword arguments -> (RunOptions, config overrides, grid)."""
    unknown = [name for name in options if name not in RUN_OPTIONS and name not in SETTINGS]
    if unknown:
        known = list(RUN_OPTIONS) + list(SETTINGS)
        raise InputError(f"{unknown[0]}={options[unknown[0]]!r} is unknown"
                         f"{did_you_mean(unknown[0], known)}: expected a run option "
                         f"({', '.join(RUN_OPTIONS)}) or a config field")
    run_options = RunOptions(**{name: value for name, value in options.items()
                                if name in RUN_OPTIONS})
    check_options(run_options)
    overrides = {name: value for name, value in options.items()
                 if name in SETTINGS and name != "grid"}
    grid = options.get("grid") or {}
    if not isinstance(grid, (dict, list, tuple)):
        raise InputError(f"grid={grid!r} is invalid: expected a dict field -> values")
    return run_options, overrides, grid


def resolve_configs(experiment_or_config, overrides: dict,
                    grid: dict | Sequence[str] = ()) -> list[ExperimentConfig]:
    """The configs to run: each experiment (name, .py path or config) with the overrides."""
    items = (experiment_or_config if isinstance(experiment_or_config, (list, tuple))
             else [experiment_or_config])
    configs = []
    for item in items:
        if isinstance(item, ExperimentConfig):
            configs.append(item)
        elif isinstance(item, (str, os.PathLike)):
            configs.append(resolve_experiment(str(item)))
        else:
            raise InputError(f"experiment={item!r} is invalid: expected an experiment name, "
                             "a path to an experiment .py file, or an ExperimentConfig")
    if not configs:
        raise InputError("experiment=[] is invalid: expected at least one experiment")
    return [apply_overrides(config, overrides, grid) for config in configs]


def apply_overrides(config: ExperimentConfig, overrides: dict,
                    grid: dict | Sequence[str] = ()) -> ExperimentConfig:
    """The config with overrides: a single value removes that field from the grid, and
    `grid` ({field: values}, or 'FIELD=V1,V2' texts as --grid takes them) replaces
    (or adds) those fields' values."""
    if not isinstance(grid, dict):
        grid = dict(parse_grid_flag(text) for text in grid)
    merged = {field: values for field, values in config.grid.items() if field not in overrides}
    merged.update({field: tuple(values) if isinstance(values, list) else values
                   for field, values in grid.items()})
    return dataclasses.replace(config, **{**overrides, "grid": merged})


def resolve_experiment(name_or_path: str) -> ExperimentConfig:
    """The `get_config()` result of a named experiment or an experiment file."""
    if name_or_path.endswith(".py"):
        path = Path(name_or_path)
        if not path.is_file():
            raise InputError(f"--experiment={name_or_path}: no such file")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "get_config"):
            raise InputError(f"--experiment={name_or_path}: defines no get_config()")
        return module.get_config()
    from experiments import EXPERIMENTS

    if name_or_path not in EXPERIMENTS:
        raise InputError(f"--experiment={name_or_path!r} is unknown"
                         f"{did_you_mean(name_or_path, EXPERIMENTS)}: expected one of "
                         f"{', '.join(EXPERIMENTS)} (or a path to an experiment .py file)")
    return EXPERIMENTS[name_or_path].get_config()


def list_experiments() -> str:
    """One line per registered experiment: its name, then its docstring's first line."""
    from experiments import EXPERIMENTS

    width = max(map(len, EXPERIMENTS)) + 2
    return "\n".join(f"{name:{width}s}{(module.__doc__ or '').strip().splitlines()[0]}"
                     if module.__doc__ else name for name, module in EXPERIMENTS.items())


def run_configs(configs: list[ExperimentConfig], workdir: Path, options: RunOptions, *,
                command: str | None = None, rank_runs_by: str | None = None,
                callbacks=None, say: Callable[[str], None] = logger.info) -> list[Path]:
    """Validates everything and loads every dataset first, then trains and writes the
    reports (or, with `options.report_only`, only rebuilds them; `rank_runs_by`:
    None keeps what each config.json says). `callbacks`: as run_study's. `say` gets
    each 'report: PATH' line.
    Returns the experiments' REPORT.md paths, then the workdir's index REPORT.md."""
    check_options(options)
    if options.report_only:
        return rebuild_reports(configs, workdir, rank_runs_by, say)
    select_onednn(options.onednn)  # Before anything imports TensorFlow.
    from lenet_bench.trainers import check_trainer_fits

    for config in configs:  # Checks by name alone: refused before TensorFlow is imported.
        validate(config)
        check_trainer_fits(options.trainer, config)
    select_backend(configs)
    engine = make_engine(options)  # Before any data is loaded or anything is written.
    try:
        return train_and_report(configs, workdir, options, engine,
                                dict(command=command, callbacks=callbacks), say)
    finally:
        engine.shutdown()


def rebuild_reports(configs: list[ExperimentConfig], workdir: Path, rank_runs_by: str | None,
                    say: Callable[[str], None]) -> list[Path]:
    """--report_only: every experiment's report that has runs, then the index."""
    from lenet_bench.reports import report

    if not workdir.is_dir():
        raise InputError(f"--workdir={workdir}: no such directory: expected a workdir "
                         "that holds experiments, with --report_only")
    if not any(workdir.glob("*/config.json")):
        raise InputError(f"--workdir={workdir}: holds no runs (no <experiment>/config.json): "
                         "expected a workdir that holds experiments, with --report_only")
    paths = []
    for config in configs:
        if (workdir / config.name / "config.json").is_file():
            paths.append(report.write_experiment_report(workdir / config.name,
                                                        rank_runs_by=rank_runs_by))
            say(f"report: {paths[-1]}")
        else:
            say(f"report: {config.name}: not started in {workdir} (no runs to report)")
    paths.append(report.write_index(workdir))
    say(f"report: {paths[-1]}")
    return paths


def select_onednn(setting: str) -> None:
    """Sets TF_ENABLE_ONEDNN_OPTS for 'on'/'off' ('auto': keep a value the user set, else
    on). TensorFlow reads it once, when imported: once it is, only 'auto' or the setting
    it started with pass."""
    wanted = {"on": "1", "off": "0"}.get(setting)
    if "tensorflow" in sys.modules:
        started = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1")
        if wanted is not None and wanted != started:
            raise InputError(f"--onednn={setting}: TensorFlow is already imported in this "
                             f"process with TF_ENABLE_ONEDNN_OPTS={started}: expected "
                             "--onednn=auto, or a new process (the setting acts before "
                             "TensorFlow is imported)")
        return
    if wanted is not None or "TF_ENABLE_ONEDNN_OPTS" not in os.environ:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = wanted or "1"


def select_backend(configs: list[ExperimentConfig]) -> None:
    """Starts Keras on the experiments' backend (--backend); one per process."""
    from lenet_bench import backends

    names = sorted({config.backend for config in configs})
    if len(names) > 1:
        raise InputError(f"--experiment={','.join(config.name for config in configs)}: the "
                         f"experiments ask for backends {', '.join(names)}: expected one "
                         "backend per command (--backend)")
    backends.select(names[0] if names else backends.DEFAULT_BACKEND)


def make_engine(options: RunOptions):
    """The engine `options.engine` names (InputError for --engine=ray without Ray)."""
    from lenet_bench.study import engines

    if options.engine == "local":
        return engines.LocalEngine()
    return engines.RayEngine(options.ray_address, cpus_per_task=options.ray_cpus_per_task,
                             gpus_per_task=options.ray_gpus_per_task,
                             threads=options.threads or None,
                             deterministic=options.deterministic)


def import_backend_quietly() -> None:
    """Imports TensorFlow quietly when it is the backend (the others print nothing)."""
    from lenet_bench import backends

    if backends.active() == "tensorflow":
        import_tensorflow_quietly()


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow without the lines its native code writes to stderr on start-up
    (before absl logging starts, whatever TF_CPP_MIN_LOG_LEVEL says: e.g. 'oneDNN custom
    operations are on'), so that an error stays one line. A Python exception from the
    import still shows: stderr is restored before it propagates."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    try:
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)


def start_backend(options: RunOptions) -> None:
    """Imports the backend with its threads, compilation cache and determinism set."""
    import_backend_quietly()
    from lenet_bench import backends, machine
    from lenet_bench.inputs import data

    # Before the backend starts (JAX reads both when imported, TensorFlow at its first
    # op); the Ray engine gives its tasks the same thread count.
    backends.use_jax_compilation_cache(data.cache_root() / "jax")
    machine.configure_threads(options.threads or machine.default_threads(),
                              options.deterministic)
    backends.keep_keras_off_tensorflow()  # JAX and PyTorch runs never load TensorFlow.


def train_and_report(configs: list[ExperimentConfig], workdir: Path, options: RunOptions,
                     engine, arguments: dict, say: Callable[[str], None]) -> list[Path]:
    """Loads every dataset first, then trains each experiment with `engine` and writes
    its report and the index; returns those reports' paths. `arguments`: further
    keyword arguments of run_experiment (command, callbacks)."""
    from lenet_bench.study.workdir import check_workdir
    from lenet_bench.trainers import early_stopping

    datasets, skipped = load_datasets(configs, options.data_dir, options.skip_missing_data)
    configs = [config for config in configs if config.name not in skipped]
    for config in configs:  # Checks that need no TensorFlow first: bad input fails fast.
        check_workdir(config.name, datasets[config.dataset].name, workdir)
        early_stopping.check_batch_size(config, datasets[config.dataset])
    start_backend(options)
    from lenet_bench.reports import report
    from lenet_bench.study import experiment, racing, search

    for config in configs:
        experiment.check_runnable(config, datasets[config.dataset])
        if config.search:
            search.check_search(config, datasets[config.dataset])
    report.record_skipped(workdir, skipped, found=[config.name for config in configs])
    progress = make_progress(options.progress, configs, workdir)
    paths = []
    for config in configs:
        runner = (search.run_search if config.search else
                  racing.run_race if config.seeds == "auto" else experiment.run_experiment)
        experiment_dir = runner(config, datasets[config.dataset], workdir, progress=progress,
                                engine=engine, ood_dataset=datasets.get(config.ood_dataset),
                                **experiment_arguments(options), **arguments)
        if progress:
            progress.finish()
        paths.append(report.write_experiment_report(experiment_dir))
        say(f"report: {paths[-1]}")
    paths.append(report.write_index(workdir))
    say(f"report: {paths[-1]}")
    return paths


def experiment_arguments(options: RunOptions) -> dict:
    """The keyword arguments of study.experiment.run_experiment that `options` sets."""
    return dict(trainer=options.trainer, group_size=options.group_size,
                jit_compile=options.jit_compile, tensorboard=options.tensorboard,
                save_models=options.keras_models)


def make_progress(mode: str, configs: list[ExperimentConfig], workdir: Path):
    """The study's progress display for --progress (None for 'none'); with the bar,
    the per-epoch log lines are turned off (the bar replaces them)."""
    from lenet_bench.observers import progress

    if mode == "none":
        return None
    bar = mode == "bar" or (mode == "auto" and sys.stderr.isatty())
    if bar:
        logging.getLogger("lenet_bench").setLevel(logging.WARNING)
    return progress.Progress(*progress.plan(configs, workdir), stream=sys.stderr, bar=bar)


def load_datasets(configs: list[ExperimentConfig], data_dir: str | None,
                  skip_missing: bool) -> tuple[dict, dict]:
    """Loads each dataset the experiments use (and their ood_dataset) once.

    A dataset that cannot be found is tried once per command, not once per
    experiment (a failed keras download is not repeated).

    Returns:
      ({dataset name: Dataset}, {skipped experiment: why}); experiments are
      skipped only with `skip_missing`.

    Raises:
      DataNotFoundError: a dataset is missing and not `skip_missing`, or every
        experiment would be skipped: one line saying what to provide.
    """
    from lenet_bench.errors import DataNotFoundError
    from lenet_bench.inputs import data

    datasets, missing, skipped = {}, {}, {}
    for config in configs:
        for name in filter(None, (config.dataset, config.ood_dataset)):
            if name not in datasets and name not in missing:
                try:
                    datasets[name] = data.load(name, data_dir,
                                               before_keras=import_backend_quietly)
                except DataNotFoundError as error:
                    if not skip_missing:
                        raise
                    missing[name] = error
            if name in missing:
                skipped[config.name] = str(missing[name])
                break
    if configs and len(skipped) == len(configs):
        raise DataNotFoundError(
            f"nothing to train: no dataset found for {', '.join(skipped)} "
            f"({', '.join(missing)}): {data.how_to_provide(list(missing))}")
    for name, reason in skipped.items():
        logger.warning("skipped %s: %s", name, reason)
    return datasets, skipped


def study_result(workdir: Path, configs: list[ExperimentConfig],
                 reports: list[Path]) -> StudyResult:
    """The StudyResult of a finished `run_configs`: its experiments' runs, read back."""
    import pandas as pd

    from lenet_bench.artifacts import CONFIG_FILE
    from lenet_bench.records import results

    folders = tuple(workdir / config.name for config in configs
                    if (workdir / config.name / CONFIG_FILE).is_file())
    epochs = (pd.concat([results.load(folder) for folder in folders], ignore_index=True)
              if folders else results.frame([]))
    runs = epochs.groupby(["experiment", "run_key"], sort=False).tail(1).reset_index(drop=True)
    report_path = reports[0] if len(configs) == 1 and len(reports) == 2 else reports[-1]
    return StudyResult(runs=runs, epochs=epochs, report_path=report_path, workdir=workdir,
                       experiment_dirs=folders)
