"""Atomic, durable writes: a kill never leaves half a file, a full disk never a traceback.

Every writer here writes to a temporary name beside the destination
(`.tmp<pid>.<name>`: hidden, and it keeps the destination's suffix, which
Keras and matplotlib read the format from), fsyncs it, renames it over the
destination and fsyncs the folder. The destination therefore holds either its
old content or the new one. A full disk (ENOSPC, EDQUOT) removes the temporary
file and raises DiskFullError, one line naming the destination.
"""

import errno
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from lenet_bench.errors import DiskFullError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# What fsync on a folder may answer where the OS or file system does not support it.
_NO_DIRECTORY_FSYNC = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES,
                                 errno.EPERM, errno.EISDIR})


def temporary_path(path: Path) -> Path:
    """The name `path` is written under before it is renamed into place."""
    path = Path(path)
    return path.with_name(f".tmp{os.getpid()}.{path.name}")


def atomic_write_with(path: Path, write_function: Callable[[Path], object]) -> None:
    """Calls `write_function(temporary_path)`, then fsyncs and renames the result to `path`.

    For writers that take a path, e.g. `lambda tmp: model.save_weights(tmp)` or
    `lambda tmp: figure.savefig(tmp, format="png")`.

    Raises:
      DiskFullError: the disk or quota is full; `path` is unchanged.
    """
    path = Path(path)
    tmp = temporary_path(path)
    try:
        write_function(tmp)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        full = _disk_full_error(error)
        if full is not None:
            raise DiskFullError(
                f"{path}: cannot be written: {full.strerror or 'no space left on device'}; "
                "free some space and rerun the same command (it resumes where it "
                "stopped)") from None
        raise
    _fsync_directory(path.parent)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Writes `payload` to `path` atomically and durably."""
    atomic_write_with(path, lambda tmp: Path(tmp).write_bytes(payload))


def atomic_write_text(path: Path, text: str) -> None:
    """Writes `text` (UTF-8) to `path` atomically and durably."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, payload: dict) -> None:
    atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=False) + "\n")


def atomic_write_npz(path: Path, *, compressed: bool = False, **arrays) -> None:
    """Saves `arrays` as an .npz at `path` atomically and durably."""
    save = np.savez_compressed if compressed else np.savez

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as file:  # A file object: np.savez would append .npz to a name.
            save(file, **arrays)

    atomic_write_with(path, write)


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`, or None if it is missing or not valid JSON."""
    try:
        with open(path, encoding="utf-8") as file:
            payload = json.load(file)
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def _fsync_file(path: Path) -> None:
    """fsync by a new descriptor: POSIX flushes the file's data whichever descriptor asks."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_directory(folder: Path) -> None:
    """Makes a rename in `folder` durable, where the OS lets a folder be opened and fsynced."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows: folders cannot be opened.
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        if error.errno in _NO_DIRECTORY_FSYNC:
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in _NO_DIRECTORY_FSYNC:
            raise
    finally:
        os.close(descriptor)


def _disk_full_error(error: BaseException) -> OSError | None:
    """The ENOSPC/EDQUOT OSError in `error`'s chain of causes (writers such as h5py and
    Keras re-raise it wrapped), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
            return error
        error = error.__cause__ or error.__context__
    return None
