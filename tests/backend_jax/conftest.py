"""The JAX backend's session (KERAS_BACKEND=jax; see tests/conftest.py).

Compiling dominates these tests: XLA on CPU takes seconds per LeNet-5 train
step, and every Keras model and batch shape is a program of its own. So here
XLA's backend optimization is off (it changes speed, not what is computed),
and JAX's compilation cache holds the session's programs: a model built again
with another seed compiles to the same program and is read back, not rebuilt.
"""

import os

import pytest

# Read when JAX first starts its CPU backend, which no test has done while this loads.
os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""),
                                    "--xla_backend_optimization_level=0"]).strip()


@pytest.fixture(scope="session", autouse=True)
def jax_compilation_cache(tmp_path_factory):
    import jax

    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("jax_cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
