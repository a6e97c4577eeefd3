"""Engines: who trains an experiment's groups of runs, here or on a Ray cluster.

`experiment.run_experiment` makes the groups (lenet_bench.runs.make_groups)
and hands the ones with unfinished runs to an engine:

- LocalEngine trains them one after another in this process
  (trainers.group_loop.train_group writes each run's files into the runs folder
  after every epoch).
- RayEngine makes each group one Ray task (a group of fused replicas, or one
  run on the Keras path) with its resources declared: CPUs, and a GPU or a
  fraction of one when the cluster has GPUs. The task trains its group with
  trainers.group_loop.train_group into a temporary folder on the worker and returns the
  bytes of the files it produced (run JSONs, predictions, best weights); the
  driver writes them atomically into the real runs folder as each task ends.
  So the workdir is the same whichever engine ran (the report, resume and run
  keys do not know the difference), and a cluster needs no shared
  filesystem.

Checkpoints on Ray: a group's per-epoch checkpoint lives on the worker and
goes when the task ends. A group killed under the local engine (its
`group-<hash>.ckpt.npz` in the runs folder) is sent to its task, so it goes
on from that epoch on Ray; a group cut on Ray (Ctrl-C, a dead driver)
starts again from its first epoch on the next run. Runs already finished are
never trained again on either engine.

A Ray task trains with the driver's TensorFlow thread count (--threads, else
one per core of the driver's machine), as the local engine does, so one
command gives the same numbers on either engine of one machine.

Ray is optional and imported only here, inside RayEngine.
"""

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

from lenet_bench import backends, machine, runs
from lenet_bench.errors import InputError
from lenet_bench.files import atomic_write_bytes, read_json
from lenet_bench.options import RunOptions

logger = logging.getLogger("lenet_bench")

ENGINES = ("local", "ray")
RAY_MAX_RETRIES = 3  # Retries of a task whose worker process died (not of Python errors).
RAY_INSTALL_HINT = "pip install -r requirements-ray.txt"
WAIT_SECONDS = 1.0  # How often the driver wakes up (so Ctrl-C is seen at once).


class GroupFailedError(RuntimeError):
    """A group's task failed for a reason of its own (a Python error, or its worker
    died more often than the retries allow). The message names its runs."""


class LocalEngine:
    """Trains the groups one after another in this process."""

    def train_groups(self, groups: list, datasets: dict, runs_dir: Path, *, finished: set[str],
                     options: RunOptions, experiment: str, keep_best: bool,
                     observers: list = (), callbacks=None) -> None:
        """Trains `groups` (lists of runs.RunSpec) into `runs_dir`.

        Args:
          groups: the groups with at least one unfinished run.
          datasets: runs.dataset_key(spec) -> the dataset a group trains on.
          runs_dir: the experiment's runs folder.
          finished: keys of runs already finished there; their files are kept.
          options: the study's run options, handed to every group as they are.
          experiment, keep_best: the experiment's name and keep-best setting.
          observers: hooks.Observer objects told about every group's epochs
            (TensorBoard, progress).
          callbacks: user Keras callbacks (keras_callbacks.KerasCallbacks).
        """
        from lenet_bench.trainers.group_loop import train_group

        for number, group in enumerate(groups, start=1):
            logger.info("group %d/%d: %d runs (%s)", number, len(groups), len(group),
                        ", ".join(spec.key for spec in group))
            train_group(group, datasets[runs.dataset_key(group[0])], runs_dir, options,
                        experiment=experiment, keep_best=keep_best, finished=finished,
                        callbacks=callbacks, observers=observers)

    def shutdown(self) -> None:
        pass


def import_ray():
    """The ray module, or InputError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError(f"--engine=ray needs Ray, which is not installed: run "
                         f"`{RAY_INSTALL_HINT}` (or use --engine=local)") from None
    return ray


def ray_init_options(address: str | None, num_cpus: int | None = None) -> dict:
    """Keyword arguments of ray.init for this suite.

    Args:
      address: 'auto' or HOST:PORT of a running cluster; None starts a local
        Ray instance (with `num_cpus`, default all of the machine's CPUs).
      num_cpus: CPUs of a local instance; None: the machine's.

    The lenet_bench package is shipped to the workers (runtime_env
    py_modules), so nodes need the requirements installed but not this
    repository; the dashboard is not started.
    """
    package_dir = str(Path(__file__).resolve().parents[1])  # lenet_bench/, not study/
    # "local" always starts a new instance (None would join one found on this machine).
    options = {"address": address or "local", "runtime_env": {"py_modules": [package_dir]},
               "include_dashboard": False, "logging_level": logging.WARNING}
    if address is None and num_cpus is not None:
        options["num_cpus"] = num_cpus
    return options


class RayEngine:
    """Each group is one Ray task; the driver writes the files the tasks return.

    Args:
      address: 'auto', HOST:PORT, or None to start a local Ray instance with
        the machine's CPUs. If Ray is already initialized in this process
        (a test, a notebook), that connection is used and left open.
      cpus_per_task: CPUs a task declares.
      gpus_per_task: GPUs a task declares when the cluster has GPUs (a
        fraction shares a GPU between tasks); None: 1; 0: CPU only.
      threads: TensorFlow intra- and inter-op threads in a task; None: the
        local engine's default (one per core of this machine), so both engines
        give the same numbers.
      deterministic: TensorFlow op determinism in the tasks.
      max_retries: retries of a task whose worker process died; a Python
        exception in a task is never retried.
      group_trainer: the function a task calls to train its group, with
        trainers.group_loop.train_group's signature; None: that function. A seam for
        tests (e.g. a trainer that kills its worker once).

    Raises:
      InputError: Ray is not installed, or the cluster cannot be reached.
    """

    def __init__(self, address: str | None = None, *, cpus_per_task: float = 1,
                 gpus_per_task: float | None = None, threads: int | None = None,
                 deterministic: bool = False, max_retries: int = RAY_MAX_RETRIES,
                 group_trainer: Callable | None = None):
        if cpus_per_task <= 0:
            raise InputError(f"--ray_cpus_per_task={cpus_per_task} is invalid: expected a "
                             "number > 0")
        if gpus_per_task is not None and gpus_per_task < 0:
            raise InputError(f"--ray_gpus_per_task={gpus_per_task} is invalid: expected a "
                             "number >= 0")
        self.ray = import_ray()
        self.owns_connection = not self.ray.is_initialized()
        if self.owns_connection:
            try:
                self.ray.init(**ray_init_options(address))
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise InputError(f"--ray_address={address}: cannot start or reach Ray "
                                 f"({str(error).splitlines()[0]})") from None
        cluster_gpus = self.ray.cluster_resources().get("GPU", 0)
        self.gpus_per_task = (1 if gpus_per_task is None else gpus_per_task) if cluster_gpus else 0
        self.cpus_per_task = cpus_per_task
        self.max_retries = max_retries
        self.task_settings = {
            "threads": threads or machine.default_threads(),
            "deterministic": deterministic,
            "group_trainer": group_trainer,
        }
        # A task function made here, not at import, so importing this module needs no
        # Ray; with num_gpus > 0 Ray gives each worker one task (max_calls=1), so
        # TensorFlow's GPU memory is freed when a task ends.
        self.remote_train_group = self.ray.remote(
            num_cpus=cpus_per_task, num_gpus=self.gpus_per_task, max_retries=max_retries,
            retry_exceptions=False, **worker_environment())(train_group_task)
        logger.info("ray: %s; %s CPUs and %s GPUs per task, up to %d retries of a dead "
                    "worker", self.ray.cluster_resources(), cpus_per_task, self.gpus_per_task,
                    max_retries)

    def train_groups(self, groups: list, datasets: dict, runs_dir: Path, *, finished: set[str],
                     options: RunOptions, experiment: str, keep_best: bool,
                     observers: list = (), callbacks=None) -> None:
        """Submits every group as a task and writes each task's files as it ends.

        Arguments as LocalEngine.train_groups. Every dataset goes into the
        object store once. The observers run here, on the driver, when a
        group's files are written: its epochs are replayed from the run
        records (hooks.replay_group), so TensorBoard logs and the progress
        display come out as on the local engine, one group at a time. User
        Keras callbacks need the live model, so they are local-engine only. Ctrl-C cancels the tasks still running (the
        finished ones are already written) and raises KeyboardInterrupt.

        Raises:
          GroupFailedError: after every other task has ended, when a task
            raised an exception or its worker died more than `max_retries`
            times; the message names each failed group's runs.
        """
        from lenet_bench.observers import hooks

        if callbacks:
            raise InputError("Keras callbacks run in the training process: use the local "
                             "engine (engine=None) to pass them")
        ray = self.ray
        dataset_refs = {key: ray.put(dataset) for key, dataset in datasets.items()}
        env_vars = {name: os.environ[name] for name in ("TF_ENABLE_ONEDNN_OPTS",
                                                          "TF_CPP_MIN_LOG_LEVEL")
                    if name in os.environ}
        pending = {}  # task ref -> group
        for group in groups:
            checkpoint = runs.checkpoint_path(runs_dir, group)
            checkpoint_bytes = checkpoint.read_bytes() if checkpoint.is_file() else None
            ref = self.remote_train_group.options(
                name=f"lenet_bench {checkpoint.name.split('.')[0]} ({len(group)} runs)",
                runtime_env={"env_vars": env_vars} if env_vars else None,
            ).remote(group, dataset_refs[runs.dataset_key(group[0])],
                     sorted(finished & {spec.key for spec in group}), checkpoint_bytes,
                     options, (experiment, keep_best), self.task_settings)
            pending[ref] = group
        logger.info("ray: %d groups submitted", len(pending))
        failures, done_count, started = [], 0, time.perf_counter()
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_SECONDS)
                for ref in ready:
                    group = pending.pop(ref)
                    keys = ", ".join(spec.key for spec in group)
                    try:
                        files = ray.get(ref)
                    except ray.exceptions.RayTaskError as error:
                        if isinstance(error.cause, InputError):
                            raise error.cause from None
                        failures.append(f"group of {len(group)} runs ({keys}): "
                                        f"{type(error.cause).__name__}: {error.cause}")
                        logger.error("ray: group failed (%s):\n%s", keys, error)
                        continue
                    except ray.exceptions.RayError as error:
                        failures.append(f"group of {len(group)} runs ({keys}): "
                                        f"{type(error).__name__} (after {self.max_retries} "
                                        f"retries): {str(error).splitlines()[0]}")
                        logger.error("ray: group failed (%s): %s", keys, error)
                        continue
                    write_group_files(runs_dir, group, files)
                    records = [read_json(Path(runs_dir) / f"{spec.key}.json") for spec in group]
                    hooks.replay_group(observers, group, records, finished)
                    done_count += 1
                    logger.info("ray: group %d/%d done after %.1f s (%s)", done_count,
                                len(groups), time.perf_counter() - started, keys)
        except BaseException as error:  # Ctrl-C above all: no task outlives the driver's loop.
            for ref in pending:
                ray.cancel(ref, force=True)
            logger.warning("ray: %s; cancelled %d unfinished groups, kept %d finished",
                           type(error).__name__, len(pending), done_count)
            raise
        if failures:
            raise GroupFailedError(f"{len(failures)} of {len(groups)} groups failed; the other "
                                   "groups' results are saved:\n" + "\n".join(failures))

    def shutdown(self) -> None:
        """Disconnects from Ray (stopping a local instance) if this engine connected."""
        if self.owns_connection and self.ray.is_initialized():
            self.ray.shutdown()


def group_file_names(group: list) -> set[str]:
    """The file names a group's task may return: each run's JSON, predictions, weights,
    .keras models."""
    return {f"{spec.key}{suffix}" for spec in group
            for suffix in (".json", ".predictions.npz", ".weights.h5", ".final.keras",
                           ".best.keras")}


def write_group_files(runs_dir: Path, group: list, files: dict[str, bytes]) -> None:
    """Writes a finished task's files into `runs_dir` (each atomically; the run JSONs
    last, so a run counts as finished only once its other files are there), then
    removes the group's checkpoint there, as train_group does when a group ends."""
    unexpected = set(files) - group_file_names(group)
    if unexpected:
        raise RuntimeError(f"a task returned files of no run of its group: {sorted(unexpected)}")
    for name in sorted(files, key=lambda name: name.endswith(".json")):
        atomic_write_bytes(Path(runs_dir) / name, files[name])
    runs.checkpoint_path(runs_dir, group).unlink(missing_ok=True)


def train_group_task(group: list, dataset, finished: list[str], checkpoint_bytes: bytes | None,
                     options: RunOptions, experiment: tuple[str, bool],
                     settings: dict) -> dict[str, bytes]:
    """The body of a Ray task: trains `group` into a temporary folder on the worker
    (starting from `checkpoint_bytes`, a group checkpoint, when given) and returns
    {file name: bytes} of the run files it wrote. `options` reach train_group as the
    driver had them; `experiment`: the experiment's name and keep-best setting."""
    configure_worker(settings["threads"], settings["deterministic"])
    from lenet_bench.trainers.group_loop import train_group

    trainer = settings["group_trainer"] or train_group
    with tempfile.TemporaryDirectory(prefix="lenet_bench_task_") as folder:
        runs_dir = Path(folder)
        if checkpoint_bytes is not None:
            runs.checkpoint_path(runs_dir, group).write_bytes(checkpoint_bytes)
        name, keep_best = experiment
        trainer(group, dataset, runs_dir, options=options, experiment=name,
                keep_best=keep_best, finished=set(finished))
        names = group_file_names(group)
        return {path.name: path.read_bytes() for path in runs_dir.iterdir()
                if path.name in names}


def worker_environment() -> dict:
    """Ray task options that start the workers on this process's Keras backend (the
    default backend needs none: the workers then start as before)."""
    if backends.active() == backends.DEFAULT_BACKEND:
        return {}
    return {"runtime_env": {"env_vars": {backends.ENV: backends.active()}}}


def configure_worker(threads: int, deterministic: bool) -> None:
    """The backend's threads (once per worker process: TensorFlow fixes them at its first
    op, XLA when JAX is imported), determinism, and on TensorFlow GPU memory growth so
    tasks can share a GPU. The task's backend comes from $KERAS_BACKEND, which the
    engine sets in the workers' environment."""
    if backends.active() == "tensorflow":
        import tensorflow as tf

        try:
            for gpu in tf.config.list_physical_devices("GPU"):
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # A reused worker: TensorFlow is already running.
            pass
    machine.configure_threads(threads, deterministic)
    backends.keep_keras_off_tensorflow()  # After the threads: it starts JAX.
