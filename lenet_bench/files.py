"""Atomic writes, so a kill never leaves half a file behind."""

import json
import os
from pathlib import Path

import numpy as np


def atomic_write_text(path: Path, text: str) -> None:
    """Writes `text` to a temporary name beside `path`, then renames it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Writes `payload` to a temporary name beside `path`, then renames it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as file:
        file.write(payload)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def atomic_write_npz(path: Path, *, compressed: bool = False, **arrays) -> None:
    """Saves `arrays` as an .npz at a temporary name beside `path`, then renames it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as file:
        (np.savez_compressed if compressed else np.savez)(file, **arrays)
    os.replace(tmp, path)


def atomic_write_json(path: Path, payload: dict) -> None:
    atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=False) + "\n")


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`, or None if it is missing or not valid JSON."""
    try:
        with open(path, encoding="utf-8") as file:
            payload = json.load(file)
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def atomic_write_with(path: Path, write) -> None:
    """Calls `write(temporary_path)` (e.g. a Keras `save_weights`), then renames the file
    to `path`. The temporary name ends like `path`, for writers that check the suffix."""
    path = Path(path)
    tmp = path.with_name(f".tmp{os.getpid()}.{path.name}")
    write(tmp)
    os.replace(tmp, path)
