"""The experiment folder `<workdir>/<experiment>/`: whether it can take a run's results,
and one process at a time in it.

No TensorFlow and no Keras here.
"""

import contextlib
import fcntl
import os
from pathlib import Path

from lenet_bench.artifacts import CONFIG_FILE, RUNS_FOLDER
from lenet_bench.errors import InputError
from lenet_bench.files import read_json

LOCK_FILE = ".lock"


def check_workdir(experiment: str, dataset_name: str, workdir: str | Path) -> None:
    """Raises InputError when `workdir` cannot take this experiment's results:
    it is a file, it is itself an experiment folder, or `<workdir>/<experiment>/`
    holds the results of another experiment or dataset."""
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise InputError(f"--workdir={workdir} is a file: expected a directory")
    own = read_json(workdir / CONFIG_FILE)
    if own and "experiment" in own:
        raise InputError(f"--workdir={workdir} is the results folder of experiment "
                         f"{own['experiment']!r}: expected the folder above it ({workdir.parent})")
    existing = read_json(workdir / experiment / CONFIG_FILE)
    if existing:
        theirs = (existing.get("experiment"), (existing.get("dataset") or {}).get("name"))
        if theirs != (experiment, dataset_name):
            raise InputError(f"--workdir={workdir}: {workdir / experiment} holds results of "
                             f"experiment {theirs[0]!r} on {theirs[1]!r}: expected "
                             f"{experiment!r} on {dataset_name!r}; use another --workdir")


def make_runs_dir(experiment_dir: Path, workdir: str | Path) -> Path:
    """Creates `<experiment_dir>/runs/`; InputError naming --workdir when it cannot be
    created or written."""
    runs_dir = Path(experiment_dir) / RUNS_FOLDER
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--workdir={workdir}: cannot create {runs_dir} ({error.strerror})") from None
    if not os.access(runs_dir, os.W_OK):
        raise InputError(f"--workdir={workdir}: {runs_dir} is not writable")
    return runs_dir


@contextlib.contextmanager
def experiment_lock(experiment_dir: Path, workdir: str | Path):
    """Makes `<experiment_dir>/runs/` (see `make_runs_dir`) and holds
    `<experiment_dir>/.lock` while the block runs, so that two processes never train one
    experiment folder at once (a user starting `make bench` twice). Yields the runs folder.

    An advisory lock (flock) that the kernel drops when its process ends, so the
    lock of a killed process is taken over at once. The file holds the holder's
    pid, for the message, and is removed when the block ends (a killed process
    leaves it behind, and the next run takes it over). A process that locked the file
    just as its holder removed it finds the path gone or another file there, and
    locks the path anew, so two processes never both hold it. Nested use in one
    process (a search that trains its phases through `run_experiment`) goes through:
    the inner block finds its own pid there.

    Raises:
      InputError: the runs folder cannot be made or written, or another process
        holds the folder (the message names its pid).
    """
    experiment_dir = Path(experiment_dir)
    runs_dir = make_runs_dir(experiment_dir, workdir)
    path = experiment_dir / LOCK_FILE
    while True:
        with open(path, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                if holder != str(os.getpid()):
                    raise InputError(f"{experiment_dir} is in use by another lenet_bench "
                                     f"process (pid {holder}): wait for it to end (or stop it), "
                                     "then rerun the same command; it resumes") from None
                yield runs_dir  # This process holds it already, in an outer block.
                return
            if not _is_open_file(handle, path):
                continue  # Its holder removed it as it was opened: lock the path anew.
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
                yield runs_dir
            finally:
                path.unlink(missing_ok=True)  # While still locked: see the docstring.
                fcntl.flock(handle, fcntl.LOCK_UN)
            return


def _is_open_file(handle, path: Path) -> bool:
    """Whether `path` still names the file open in `handle`."""
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False
