"""Which experiments a command names: registered names, experiment files, configs, with
the overrides of flags or `run_study`'s keywords applied (config.apply_overrides).

No TensorFlow or Keras here.
"""

import importlib.util
import os
from pathlib import Path
from typing import Sequence

from lenet_bench.config import ExperimentConfig, apply_overrides
from lenet_bench.errors import InputError, did_you_mean


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
