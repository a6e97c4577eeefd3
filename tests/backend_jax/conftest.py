"""The JAX backend's session (KERAS_BACKEND=jax; see tests/conftest.py).

Compiling dominates these tests: XLA on CPU takes seconds per LeNet-5 train
step, and every Keras model and batch shape is a program of its own. JAX's
compilation cache holds the session's programs, so a model built again (with
another seed) compiles to a program already made, which is read back.
"""

import pytest


@pytest.fixture(scope="session", autouse=True)
def jax_compilation_cache(tmp_path_factory):
    import jax

    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("jax_cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
