"""What a run trained on: the machine, the device, the library versions, the threads.

Recorded in every run record and in config.json, and shown in report headers.
The active backend's library (lenet_bench.backends) is imported inside the
functions that ask it, so importing this module stays cheap and imports no
backend.
"""

import importlib
import os
import platform
import sys

import numpy as np

import lenet_bench
from lenet_bench import backends

THREADS_ENV = "LENET_BENCH_THREADS"
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
XLA_DETERMINISTIC = "--xla_gpu_deterministic_ops=true"


def default_threads() -> int:
    """The backend's CPU threads (TensorFlow's intra- and inter-op pools) when --threads is not given: $LENET_BENCH_THREADS
    if set (e.g. several studies sharing a machine, or the test workers), else one per core
    of this machine. The Ray engine gives its tasks the driver's count, so an experiment
    gives the same numbers on either engine."""
    value = os.environ.get(THREADS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else os.cpu_count() or 1


def configure_threads(threads: int, deterministic: bool = False) -> None:
    """Sets the active backend's CPU thread count and, if asked, deterministic ops.

    TensorFlow's pools are fixed at its first op, and XLA's (JAX) when JAX is
    first imported: later calls in a process that already ran are ignored.
    """
    backend = backends.active()
    if backend == "tensorflow":
        _configure_tensorflow(threads, deterministic)
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
        if deterministic:
            torch.use_deterministic_algorithms(True)
    elif "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if threads == 1 and XLA_ONE_THREAD not in flags:
            flags += " " + XLA_ONE_THREAD
        if deterministic and XLA_DETERMINISTIC not in flags:
            flags += " " + XLA_DETERMINISTIC
        os.environ["XLA_FLAGS"] = flags.strip()


def _configure_tensorflow(threads: int, deterministic: bool) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow is already running (a reused Ray worker, a test).
        pass
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def training_threads() -> int:
    """The CPU thread count the active backend trains with in this process."""
    backend = backends.active()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.config.threading.get_intra_op_parallelism_threads() or default_threads()
    if backend == "torch":
        import torch

        return torch.get_num_threads()
    return 1 if XLA_ONE_THREAD in os.environ.get("XLA_FLAGS", "") else default_threads()


def accelerators() -> list[str]:
    """The active backend's GPUs, by name (empty on a CPU-only machine)."""
    backend = backends.active()
    if backend == "tensorflow":
        import tensorflow as tf

        return [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
                for gpu in tf.config.list_physical_devices("GPU")]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    import jax

    return [device.device_kind for device in jax.devices() if device.platform == "gpu"]


def describe_device() -> str:
    gpus = accelerators()
    if gpus:
        return f"GPU: {gpus[0]} x{len(gpus)}"
    return f"CPU: {describe_machine(with_gpus=False)['cpu']}"


def onednn_setting() -> str:
    """TensorFlow's oneDNN CPU kernels as this process asked for them: 'on', 'off', or
    'tf default' (on only for CPUs with AVX-512 VNNI/BF16/AMX); 'not used' on the other
    Keras backends."""
    if backends.active() != "tensorflow":
        return "not used"
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if value is None:
        return "tf default"
    return "on" if value.strip().lower() in ("1", "true") else "off"


def describe_machine(with_gpus: bool = True) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            **({"gpus": accelerators()} if with_gpus else {})}


def library_versions() -> dict:
    """The versions that decide a run's numbers: the active backend's library among them."""
    import keras

    backend = backends.active()
    versions = {"lenet_bench": lenet_bench.__version__, "python": sys.version.split()[0]}
    versions[backend] = importlib.import_module(backend).__version__
    if backend == "jax":
        versions["jaxlib"] = importlib.import_module("jaxlib").__version__
    versions.update({"keras": keras.__version__, "numpy": np.__version__})
    return versions
