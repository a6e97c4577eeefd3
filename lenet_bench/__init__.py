"""lenet_bench: LeNet-5 benchmark suite on Keras 3 (TensorFlow, JAX and PyTorch backends).

    import lenet_bench

    study = lenet_bench.run_study("digits_smoke", "results", seeds=2, epochs=2)
    study.runs  # a pandas DataFrame: one row per run

Importing the package loads nothing heavy: the names below are imported when
first used (`run_study` from lenet_bench.api), and TensorFlow or Keras only
when a study starts, on the backend it asks for (see lenet_bench.api).
"""

import importlib

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first use (PEP 562).
_LAZY = {"run_study": "lenet_bench.api", "StudyResult": "lenet_bench.api",
         "RunOptions": "lenet_bench.options", "ExperimentConfig": "lenet_bench.config",
         "decide": "lenet_bench.records.decision", "race_look": "lenet_bench.records.decision"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'lenet_bench' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
