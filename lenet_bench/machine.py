"""What a run trained on: the machine, the device, the library versions, the threads.

Recorded in every run record and in config.json, and shown in report headers.
TensorFlow is imported inside the functions that ask it, so importing this
module stays cheap.
"""

import os
import platform
import sys

import numpy as np

import lenet_bench


THREADS_ENV = "LENET_BENCH_THREADS"


def default_threads() -> int:
    """TensorFlow intra- and inter-op threads when --threads is not given: $LENET_BENCH_THREADS
    if set (e.g. several studies sharing a machine, or the test workers), else one per core
    of this machine. The Ray engine gives its tasks the driver's count, so an experiment
    gives the same numbers on either engine."""
    value = os.environ.get(THREADS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else os.cpu_count() or 1


def configure_tensorflow_threads(threads: int, deterministic: bool = False) -> None:
    """Sets TensorFlow's thread pools (they are fixed at its first op; later calls in a
    process that already ran one are ignored) and, if asked, op determinism."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow is already running (a reused Ray worker, a test).
        pass
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def tensorflow_threads() -> int:
    """The intra-op thread count TensorFlow runs with in this process (0 means one per
    core, TensorFlow's default)."""
    import tensorflow as tf

    return tf.config.threading.get_intra_op_parallelism_threads() or default_threads()


def describe_device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)} x{len(gpus)}"
    return f"CPU: {describe_machine()['cpu']}"


def onednn_setting() -> str:
    """TensorFlow's oneDNN CPU kernels as this process asked for them: 'on', 'off', or
    'tf default' (on only for CPUs with AVX-512 VNNI/BF16/AMX)."""
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if value is None:
        return "tf default"
    return "on" if value.strip().lower() in ("1", "true") else "off"


def describe_machine() -> dict:
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "gpus": [gpu.name for gpu in tf.config.list_physical_devices("GPU")]}


def library_versions() -> dict:
    import keras
    import tensorflow as tf

    return {"lenet_bench": lenet_bench.__version__, "python": sys.version.split()[0],
            "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}
