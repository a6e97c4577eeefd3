"""Which Keras 3 backend trains: tensorflow, jax or torch.

Keras reads its backend once, from $KERAS_BACKEND, when it is first imported,
so the CLI calls `select` before anything imports Keras; everything after asks
`active()`. Nothing here imports TensorFlow, JAX or PyTorch: `select` only
checks that the backend's package is installed, and says what to install if
not.
"""

import importlib.util
import os
import sys

from lenet_bench.errors import InputError

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKEND = "tensorflow"
ENV = "KERAS_BACKEND"
# The importable package of each backend, and the requirements file that installs it.
PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
REQUIREMENTS = {"tensorflow": "requirements.txt", "jax": "requirements-jax.txt",
                "torch": "requirements-torch.txt"}


def check(name: str) -> None:
    """Raises InputError unless `name` is a backend whose package is installed."""
    if name not in BACKENDS:
        raise InputError(f"--backend={name!r} is invalid: expected one of {', '.join(BACKENDS)}")
    if not installed(name):
        raise InputError(f"--backend={name} needs the {PACKAGES[name]} package, which is not "
                         f"installed: expected `pip install -r {REQUIREMENTS[name]}` first")


def installed(name: str) -> bool:
    """Whether `name`'s package can be imported (without importing it)."""
    package = PACKAGES[name]
    if package in sys.modules:
        return sys.modules[package] is not None
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def select(name: str) -> None:
    """Makes `name` the backend Keras starts with in this process.

    Raises:
      InputError: an unknown or uninstalled backend, or Keras already running
        on another backend in this process (it cannot switch).
    """
    check(name)
    if "keras" in sys.modules:
        running = active()
        if running != name:
            raise InputError(f"--backend={name}: Keras is already running on {running} in this "
                             f"process: expected --backend={running} (the backend is chosen "
                             "before Keras is first imported)")
        return
    os.environ[ENV] = name


def active() -> str:
    """The backend Keras runs on in this process (or will, once imported)."""
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    return os.environ.get(ENV, DEFAULT_BACKEND)


def check_running(name: str) -> None:
    """Raises InputError unless Keras runs (or will start) on backend `name` here."""
    check(name)
    running = active()
    if running != name:
        raise InputError(f"--backend={name}: Keras runs on {running} in this process: expected "
                         f"--backend={running}, or ${ENV}={name} set before Keras is imported")


JAX_CACHE_SETTINGS = {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                      "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def use_jax_compilation_cache(folder) -> None:
    """On JAX, keeps compiled programs in `folder` (unless $JAX_COMPILATION_CACHE_DIR says
    where): every run of the per-run trainer, and every fused group of one shape, is
    the same XLA program, compiled once and then read back (seconds each on a CPU).
    Must run before JAX is imported; a no-op on the other backends."""
    if active() != "jax" or "jax" in sys.modules:
        return
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(folder))
    for name, value in JAX_CACHE_SETTINGS.items():
        os.environ.setdefault(name, value)


def keep_keras_off_tensorflow() -> None:
    """On JAX and PyTorch, stops Keras from importing TensorFlow where it merely asks
    whether TensorFlow is there (its `.keras` saving does, through a lazy module), so
    a run on those backends never loads TensorFlow, installed or not. Keras keeps
    that answer in a private attribute; if a Keras version lacks it, nothing changes."""
    if active() == "tensorflow":
        return
    from keras.src.utils import module_utils

    lazy_tensorflow = getattr(module_utils, "tensorflow", None)
    if lazy_tensorflow is not None and "tensorflow" not in sys.modules and hasattr(
            lazy_tensorflow, "_available"):
        lazy_tensorflow._available = False


def require_tensorflow(feature: str, backend: str | None = None) -> None:
    """Raises InputError when `feature` (a flag text) is asked for on another backend:
    `backend` (a config's, checked before Keras starts), else the one Keras runs on."""
    running = backend or active()
    if running != "tensorflow":
        raise InputError(f"{feature} needs --backend=tensorflow (it runs TensorFlow ops): "
                         f"expected it off on --backend={running}")
