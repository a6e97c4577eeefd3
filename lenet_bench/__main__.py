"""Command line: python -m lenet_bench --experiment=NAME --workdir=DIR [--data_dir=DIR].

The only module that reads flags. It resolves the experiment's config,
applies the flag overrides, trains what is not yet done and writes reports.
Bad input ends with a one-line `error: ...` on stderr and exit status 2.
"""

import dataclasses
import importlib.util
import logging
import os
import re
import shlex
import sys
from pathlib import Path

from absl import app, flags

FLAGS = flags.FLAGS

flags.DEFINE_string("experiment", "digits_smoke",
                    "Experiment name (see --list_experiments), a path to an experiment .py "
                    "file, or a comma-separated list of either.")
flags.DEFINE_string("workdir", "results", "Results go to <workdir>/<experiment>/.")
flags.DEFINE_string("data_dir", None,
                    "Data root with mnist/, fashion-mnist/, cifar10/ folders (or one dataset's "
                    "folder). Default: $LENET_BENCH_DATA, then the keras cache and download.")
flags.DEFINE_bool("list_experiments", False, "List the experiments, one line each, and exit.")
flags.DEFINE_bool("skip_missing_data", False,
                  "Skip (and report) an experiment whose dataset cannot be found, "
                  "instead of failing.")
flags.DEFINE_bool("report_only", False, "Rebuild the reports from the workdir; train nothing.")


def define_config_flags() -> tuple[str, ...]:
    """One flag per config field that has one (config.Setting.flag), typed and documented
    as the field's Setting says; unset (None) means "as the experiment says". Returns
    their names."""
    from lenet_bench.config import SETTINGS, field_names

    define = {int: flags.DEFINE_integer, float: flags.DEFINE_float, bool: flags.DEFINE_bool}
    names = field_names(flag=True)
    for name in names:
        described = SETTINGS[name]
        if described.choices:
            flags.DEFINE_enum(name, None, list(described.choices), described.help)
        else:
            kind = str if described.words else described.kind  # --seeds=auto
            define.get(kind, flags.DEFINE_string)(name, None, described.help)
    return names


OVERRIDE_FLAGS = define_config_flags()
flags.DEFINE_multi_string("grid", [],
                          "FIELD=V1,V2,...: train every value of FIELD (repeatable; the grid "
                          "is the product). Replaces the experiment's values for that field, "
                          "e.g. --grid=learning_rate=0.01,0.003 --grid=lr_decay=0.9,0.99.")
# How to run; these do not change what is computed.
flags.DEFINE_integer("threads", 0, "The backend's CPU threads (TensorFlow's intra- and inter-op "
                     "pools, PyTorch's, XLA's for JAX), recorded in every run; 0: "
                     "$LENET_BENCH_THREADS if set, else one per core.")
flags.DEFINE_enum("jit", "auto", ["auto", "on", "off"],
                  "XLA-compile the train and eval steps. auto: each trainer's measured choice "
                  "for the device (see BUILD_NOTES.md).")
flags.DEFINE_enum("trainer", "auto", ["auto", "fused", "keras"],
                  "fused: train up to --group_size runs together in one graph; keras: one "
                  "Keras model at a time; auto: fused where it supports the optimizer and "
                  "the model (plain lenet5).")
flags.DEFINE_enum("onednn", "auto", ["auto", "on", "off"],
                  "TensorFlow's oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS). auto: as that "
                  "variable says when set, else on. TensorFlow leaves them off on CPUs without "
                  "AVX-512; on this suite's 2-core AVX2 CPU they measured 2x faster for both "
                  "trainers (BUILD_NOTES.md). Results differ from 'off' in the last float bits.")
flags.DEFINE_integer("group_size", None, "Most runs trained together on the fused path; "
                     "default: 12, or whole grids with --backend=jax on a GPU.")
flags.DEFINE_bool("tensorboard", True,
                  "Write TensorBoard logs: per-epoch scalars per run and the HParams dashboard's "
                  "grid, under <workdir>/<experiment>/tb/.")
flags.DEFINE_bool("keras_models", True,
                  "Save each finished run's <key>.final.keras and <key>.best.keras under runs/.")
flags.DEFINE_enum("progress", "auto", ["auto", "bar", "log", "none"],
                  "bar: one progress line redrawn in place (per-epoch log lines off); log: plain "
                  "progress lines; auto: bar on a terminal, else log.")
flags.DEFINE_bool("version", False, "Print the version and exit.")
flags.DEFINE_bool("deterministic", False,
                  "Deterministic ops (TensorFlow: enable_op_determinism; PyTorch: "
                  "use_deterministic_algorithms; JAX: XLA's deterministic GPU ops): "
                  "bit-identical reruns on GPU too, at a cost (see BUILD_NOTES.md). CPU runs "
                  "are bit-identical without it.")
flags.DEFINE_enum("engine", "local", ["local", "ray"],
                  "local: train the groups one after another in this process; ray: each group "
                  "is a Ray task on a Ray cluster (needs `pip install -r requirements-ray.txt`). "
                  "The workdir comes out the same either way.")
flags.DEFINE_string("ray_address", None,
                    "With --engine=ray: 'auto' (the cluster this machine belongs to) or "
                    "HOST:PORT; unset: start a local Ray instance with this machine's CPUs.")
flags.DEFINE_float("ray_cpus_per_task", 1, "With --engine=ray: CPUs each group's task declares "
                   "(a task trains with the same TensorFlow threads as the local engine: "
                   "--threads).")
flags.DEFINE_float("ray_gpus_per_task", None, "With --engine=ray on a cluster with GPUs: GPUs "
                   "each task declares (a fraction shares a GPU; 0: CPU only). Default 1.")

def apply_overrides(config, overrides: dict, grid_flags: list[str]):
    """The config with flag overrides: a single-value flag removes that field from the grid,
    a --grid flag replaces (or adds) that field's values."""
    from lenet_bench.config import parse_grid_flag

    grid = {field: values for field, values in config.grid.items() if field not in overrides}
    grid.update(parse_grid_flag(text) for text in grid_flags)
    return dataclasses.replace(config, **overrides, grid=grid)


def list_experiments() -> str:
    from experiments import EXPERIMENTS

    lines = []
    for name, module in EXPERIMENTS.items():
        summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
        lines.append(f"{name:20s} {summary}")
    return "\n".join(lines)


def resolve_experiment(name_or_path: str):
    """The `get_config()` result of a named experiment or an experiment file."""
    from lenet_bench.errors import InputError

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
    from lenet_bench.errors import did_you_mean

    if name_or_path not in EXPERIMENTS:
        raise InputError(f"--experiment={name_or_path!r} is unknown"
                         f"{did_you_mean(name_or_path, EXPERIMENTS)}: expected one of "
                         f"{', '.join(EXPERIMENTS)} (or a path to an experiment .py file)")
    return EXPERIMENTS[name_or_path].get_config()


def select_onednn(setting: str) -> None:
    """Sets TF_ENABLE_ONEDNN_OPTS for 'on'/'off' ('auto': keep a value the user set, else
    on). TensorFlow reads it once, when imported, so this must run before that."""
    if "tensorflow" in sys.modules:
        raise RuntimeError("select_onednn must run before TensorFlow is imported")
    if setting != "auto" or "TF_ENABLE_ONEDNN_OPTS" not in os.environ:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0" if setting == "off" else "1"


def select_backend(configs: list) -> None:
    """Starts Keras on the experiments' backend (--backend); one per command."""
    from lenet_bench import backends
    from lenet_bench.errors import InputError

    names = sorted({config.backend for config in configs})
    if len(names) > 1:
        raise InputError(f"--experiment={FLAGS.experiment}: the experiments ask for backends "
                         f"{', '.join(names)}: expected one backend per command (--backend)")
    backends.select(names[0] if names else backends.DEFAULT_BACKEND)


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


def make_progress(mode: str, configs: list, workdir: Path):
    """The study's progress display for --progress (None for 'none'); with the bar,
    the per-epoch log lines are turned off (the bar replaces them)."""
    from lenet_bench.observers import progress

    if mode == "none":
        return None
    bar = mode == "bar" or (mode == "auto" and sys.stderr.isatty())
    if bar:
        logging.getLogger("lenet_bench").setLevel(logging.WARNING)
    return progress.Progress(*progress.plan(configs, workdir), stream=sys.stderr, bar=bar)


def run() -> int:
    """Validates everything and loads every dataset first, then trains."""
    if FLAGS.version:
        from lenet_bench import __version__

        print(f"lenet-bench {__version__}")
        return 0
    select_onednn(FLAGS.onednn)  # Before anything imports TensorFlow.
    from lenet_bench.config import validate
    from lenet_bench.errors import InputError
    from lenet_bench.reports import report

    if FLAGS.list_experiments:
        print(list_experiments())
        return 0
    workdir = Path(FLAGS.workdir)
    overrides = {name: FLAGS[name].value for name in OVERRIDE_FLAGS if FLAGS[name].value is not None}
    configs = [apply_overrides(resolve_experiment(name.strip()), overrides, FLAGS.grid)
               for name in FLAGS.experiment.split(",") if name.strip()]
    if FLAGS.report_only:
        if not workdir.is_dir():
            raise InputError(f"--workdir={workdir}: no such directory: expected a workdir "
                             "that holds experiments, with --report_only")
        for config in configs:
            if (workdir / config.name / "config.json").is_file():
                path = report.write_experiment_report(workdir / config.name,
                                                      rank_runs_by=FLAGS.rank_runs_by)
                print(f"report: {path}")
            else:
                print(f"report: {config.name}: not started in {workdir} (no runs to report)")
        print(f"report: {report.write_index(workdir)}")
        return 0
    for config in configs:
        validate(config)
    select_backend(configs)
    engine = make_engine()  # Before any data is loaded or anything is written.
    try:
        return train_and_report(configs, workdir, engine)
    finally:
        engine.shutdown()


def make_engine():
    """The engine --engine names; InputError for Ray flags without --engine=ray, or
    --engine=ray without Ray installed."""
    from lenet_bench.errors import InputError
    from lenet_bench.study import engines

    if FLAGS.engine == "local":
        for name in ("ray_address", "ray_gpus_per_task"):
            if FLAGS[name].value is not None:
                raise InputError(f"--{name} is only used with --engine=ray")
        return engines.LocalEngine()
    return engines.RayEngine(FLAGS.ray_address, cpus_per_task=FLAGS.ray_cpus_per_task,
                             gpus_per_task=FLAGS.ray_gpus_per_task, threads=FLAGS.threads or None,
                             deterministic=FLAGS.deterministic)


def train_and_report(configs: list, workdir: Path, engine) -> int:
    """Loads every dataset first, then trains each experiment with `engine` and writes
    its report and the index."""
    from lenet_bench.errors import InputError
    from lenet_bench.reports import report
    from lenet_bench.study.workdir import check_workdir

    if FLAGS.group_size is not None and FLAGS.group_size < 1:
        raise InputError(f"--group_size={FLAGS.group_size} is invalid: expected an integer >= 1")
    datasets, skipped = load_datasets(configs, FLAGS.data_dir, FLAGS.skip_missing_data)
    configs = [config for config in configs if config.name not in skipped]
    for config in configs:  # Checks that need no TensorFlow first: bad input fails fast.
        check_workdir(config.name, datasets[config.dataset].name, workdir)

    import_backend_quietly()
    from lenet_bench import backends, machine
    from lenet_bench.inputs import data

    # Before the backend starts (JAX reads both when imported, TensorFlow at its first
    # op); the Ray engine gives its tasks the same thread count.
    backends.use_jax_compilation_cache(data.cache_root() / "jax")
    machine.configure_threads(FLAGS.threads or machine.default_threads(), FLAGS.deterministic)
    backends.keep_keras_off_tensorflow()  # JAX and PyTorch runs never load TensorFlow.
    from lenet_bench.study import experiment, racing, search
    for config in configs:
        experiment.check_runnable(config, datasets[config.dataset])
        if config.search:
            search.check_search(config, datasets[config.dataset])
    report.record_skipped(workdir, skipped, found=[config.name for config in configs])
    command = shlex.join(["python", "-m", "lenet_bench"] + sys.argv[1:])
    jit_compile = {"auto": None, "on": True, "off": False}[FLAGS.jit]
    progress = make_progress(FLAGS.progress, configs, workdir)
    for config in configs:
        runner = search.run_search if config.search else experiment.run_experiment
        runner = racing.run_race if config.seeds == "auto" else runner
        experiment_dir = runner(config, datasets[config.dataset], workdir,
                                trainer=FLAGS.trainer, group_size=FLAGS.group_size,
                                jit_compile=jit_compile, command=command,
                                tensorboard=FLAGS.tensorboard, save_models=FLAGS.keras_models,
                                progress=progress, engine=engine,
                                ood_dataset=datasets.get(config.ood_dataset))
        if progress:
            progress.finish()
        print(f"report: {report.write_experiment_report(experiment_dir)}")
    print(f"report: {report.write_index(workdir)}")
    return 0


def load_datasets(configs: list, data_dir: str | None, skip_missing: bool) -> tuple[dict, dict]:
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
        logging.warning("skipped %s: %s", name, reason)
    return datasets, skipped


def main(argv: list[str]) -> None:
    from lenet_bench.errors import InputError
    from lenet_bench.study.engines import GroupFailedError

    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}: expected only --flags", file=sys.stderr)
        sys.exit(2)
    logging.getLogger("lenet_bench").setLevel(logging.INFO)
    try:
        sys.exit(run())
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except GroupFailedError as error:  # --engine=ray: the tracebacks are logged above.
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: finished epochs are saved; rerun the same command to resume",
              file=sys.stderr)
        sys.exit(130)


HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")
EXPECTED_BY_FLAG_TYPE = {"int": "an integer", "float": "a number", "bool": "true or false"}


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parser, but --help exits 0 and a bad flag is one line with exit status 2."""
    try:
        return FLAGS(argv)
    except SystemExit:
        if any(arg in HELP_FLAGS for arg in argv[1:]):
            sys.exit(0)  # absl exits 1 after printing help.
        raise
    except flags.Error as error:
        message = str(error)
        bad_value = re.match(r"flag --(\w+)=(.*?): ", message)
        if bad_value and bad_value.group(1) in FLAGS:
            name, value = bad_value.groups()
            expected = EXPECTED_BY_FLAG_TYPE.get(FLAGS[name].flag_type())
            if isinstance(FLAGS[name].parser, flags.EnumParser):
                expected = "one of " + ", ".join(FLAGS[name].parser.enum_values)
            if expected:
                message = f"--{name}={value} is invalid: expected {expected}"
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def console_main() -> None:
    """The `lenet-bench` console script: the same as `python -m lenet_bench`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    console_main()
