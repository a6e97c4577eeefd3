"""The post-passes (cost, inspection) on JAX with TensorFlow unimportable. Runs only with
KERAS_BACKEND=jax."""

import sys

import keras
import numpy as np

from lenet_bench import runs
from lenet_bench.networks import models
from lenet_bench.observers import cost

from backend_checks import NoTensorFlow, assert_post_passes_run


def test_cost_and_inspection_run_without_tensorflow(digits, tmp_path, monkeypatch):
    assert keras.backend.backend() == "jax"
    assert "tensorflow" not in sys.modules, "an earlier test of this session imported TensorFlow"
    monkeypatch.setattr(sys, "meta_path", [NoTensorFlow(), *sys.meta_path])
    monkeypatch.setattr(cost, "INFERENCE_REPEATS", 5)  # A smoke test, not a timing.
    spec = runs.RunSpec(dataset="digits", seed=0)
    model = models.build_run_model(spec, digits)
    meter, _ = assert_post_passes_run(spec, model, digits, tmp_path)
    # Weights set after the meter was made are seen: the jitted forward takes the
    # variables as arguments.
    first = keras.ops.convert_to_numpy(meter.predict(meter.single_image))
    model.set_weights([weight * 2 for weight in model.get_weights()])
    assert not np.allclose(keras.ops.convert_to_numpy(meter.predict(meter.single_image)), first)
    assert "tensorflow" not in sys.modules
