"""--backend: chosen before Keras starts; a missing package or a switch is one line, exit 2."""

import importlib.util

import keras
import pytest

from lenet_bench import backends, trainers
from lenet_bench.errors import InputError


def test_unknown_backend_names_the_choices():
    with pytest.raises(InputError, match=r"^--backend='mxnet' is invalid: expected one of "
                                         r"tensorflow, jax, torch$"):
        backends.check("mxnet")


def test_a_backend_that_is_not_installed_says_what_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "jax" else real_find_spec(name, *args))
    monkeypatch.delitem(__import__("sys").modules, "jax", raising=False)
    with pytest.raises(InputError, match=r"^--backend=jax needs the jax package, which is not "
                                         r"installed: expected `pip install -r "
                                         r"requirements-jax.txt` first$"):
        backends.check("jax")


def test_keras_cannot_switch_backend_once_running():
    assert keras.backend.backend() == "tensorflow" == backends.active()
    backends.select("tensorflow")  # The one it runs on: nothing to do.
    other = "jax" if backends.installed("jax") else "torch"
    if not backends.installed(other):
        pytest.skip("neither jax nor torch is installed")
    with pytest.raises(InputError, match=rf"^--backend={other}: Keras is already running on "
                                         r"tensorflow in this process"):
        backends.select(other)


def test_tensorflow_only_features_and_fused_on_torch_are_refused(monkeypatch):
    monkeypatch.setattr(backends, "active", lambda: "torch")
    with pytest.raises(InputError, match=r"^--augment_zoom needs --backend=tensorflow"):
        backends.require_tensorflow("--augment_zoom")
    from lenet_bench import config, runs

    spec = runs.run_specs(config.ExperimentConfig(name="t", dataset="digits", seeds=1))[0]
    with pytest.raises(InputError, match=r"^--trainer=fused is not available on --backend=torch"):
        trainers.make_trainer("fused", [spec], [None], None, None)
