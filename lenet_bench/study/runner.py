"""A checked plan, trained: backend and engine started, datasets loaded, then each
experiment handed to its runner (search, race, or a fixed number of seeds).

`prepare(plan)` starts what a study needs in the order that keeps bad input cheap
(the backend chosen, the engine reached, the data loaded and checked: plan step 2,
then the backend imported); `train(experiments, engine)` yields each experiment's
folder as it finishes, for the caller (lenet_bench.api) to report on.
"""

import logging
import os
import sys
from typing import Iterator

from lenet_bench.artifacts import CONFIG_FILE
from lenet_bench.errors import DataNotFoundError, InputError
from lenet_bench.options import RunOptions
from lenet_bench.study.plan import CheckedExperiment, StudyPlan

logger = logging.getLogger("lenet_bench")


def prepare(plan: StudyPlan) -> tuple[object, tuple[CheckedExperiment, ...], dict]:
    """Starts the backend and the engine and loads and checks the data (plan step 2).

    Returns:
      (engine, the experiments to train, {skipped experiment: why}); the caller
      shuts the engine down.
    """
    from lenet_bench import backends

    select_onednn(plan.options.onednn)  # Before anything imports TensorFlow.
    backends.select(plan.backend)
    engine = make_engine(plan.options)  # Before any data is loaded or anything is written.
    try:
        datasets, skipped = load_datasets(plan.configs, plan.options.data_dir,
                                          plan.options.skip_missing_data)
        experiments = plan.check_data(datasets, skipped)
        start_backend(plan.options)
    except BaseException:
        engine.shutdown()
        raise
    return engine, experiments, skipped


def train(experiments: tuple[CheckedExperiment, ...], engine, *, command: str | None = None,
          callbacks=None) -> Iterator:
    """Trains each experiment with `engine`; yields its folder when it is done."""
    from lenet_bench.study import experiment, racing, search

    progress = make_progress(experiments)
    for checked in experiments:
        config = checked.config
        runner = (search.run_search if config.search else
                  racing.run_race if config.races else experiment.run_experiment)
        experiment_dir = runner(checked, progress=progress, engine=engine, command=command,
                                callbacks=callbacks)
        if progress:
            progress.finish()
        yield experiment_dir


def experiments_with_runs(plan: StudyPlan, say) -> list:
    """--report_only: the folders of the plan's experiments that hold runs (`say` is told
    of the others)."""
    workdir = plan.workdir
    if not workdir.is_dir():
        raise InputError(f"--workdir={workdir}: no such directory: expected a workdir "
                         "that holds experiments, with --report_only")
    if not any(workdir.glob(f"*/{CONFIG_FILE}")):
        raise InputError(f"--workdir={workdir}: holds no runs (no <experiment>/{CONFIG_FILE}): "
                         "expected a workdir that holds experiments, with --report_only")
    folders = []
    for config in plan.configs:
        if (workdir / config.name / CONFIG_FILE).is_file():
            folders.append(workdir / config.name)
        else:
            say(f"report: {config.name}: not started in {workdir} (no runs to report)")
    return folders


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


def make_progress(experiments: tuple[CheckedExperiment, ...]):
    """The study's progress display for --progress (None for 'none'); with the bar,
    the per-epoch log lines are turned off (the bar replaces them)."""
    from lenet_bench.observers import progress

    if not experiments or experiments[0].options.progress == "none":
        return None
    mode = experiments[0].options.progress
    bar = mode == "bar" or (mode == "auto" and sys.stderr.isatty())
    if bar:
        logging.getLogger("lenet_bench").setLevel(logging.WARNING)
    configs = [checked.config for checked in experiments]
    return progress.Progress(*progress.plan(configs, experiments[0].workdir),
                             stream=sys.stderr, bar=bar)


def load_datasets(configs, data_dir: str | None, skip_missing: bool) -> tuple[dict, dict]:
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
