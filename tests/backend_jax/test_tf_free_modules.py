"""The post-passes (cost, inspection) on JAX with TensorFlow unimportable. Runs only with
KERAS_BACKEND=jax."""

import dataclasses
import sys

import keras
import numpy as np

from no_tensorflow import NoTensorFlow
from lenet_bench import cost, inspection, models, runs


def test_cost_and_inspection_run_without_tensorflow(digits, tmp_path, monkeypatch):
    assert keras.backend.backend() == "jax"
    assert "tensorflow" not in sys.modules, "an earlier test of this session imported TensorFlow"
    monkeypatch.setattr(sys, "meta_path", [NoTensorFlow(), *sys.meta_path])
    monkeypatch.setattr(cost, "INFERENCE_REPEATS", 5)  # A smoke test, not a timing.
    spec = runs.RunSpec(dataset="digits", seed=0)
    model = models.build_run_model(spec, digits)
    meter = cost.CostMeter(model, digits.test_images)
    figures = meter.measure({"wall_seconds": 2.0})
    assert figures["inference_large_batch"] == len(digits.test_images)
    assert figures["inference_ms_per_image_batch1"] > 0 and figures["keras_file_bytes"] > 0
    # The jitted forward takes the variables as arguments: new weights are seen.
    first = keras.ops.convert_to_numpy(meter.predict(meter.single_image))
    model.set_weights([weight * 2 for weight in model.get_weights()])
    assert not np.allclose(keras.ops.convert_to_numpy(meter.predict(meter.single_image)), first)
    model.save_weights(tmp_path / f"{spec.key}.weights.h5")
    record = {"key": spec.key, "status": "done", "spec": dataclasses.asdict(spec),
              "history": {"test_accuracy": [0.5]}, "best_test_accuracy": 0.5, "best_epoch": 1,
              "final_test_accuracy": 0.5, "confusion_matrix": np.eye(10).tolist()}
    assert inspection.write_model_internals(tmp_path / "internals.npz", [record], tmp_path, digits)
    with np.load(tmp_path / "internals.npz") as stored:
        np.testing.assert_array_equal(stored["0/conv1_kernel/trained"],
                                      keras.ops.convert_to_numpy(model.get_layer("conv1").kernel))
        assert stored["feature_maps/conv2"].shape == (4, 10, 10, 16)
    confidence = inspection.max_confidence(model, digits.test_images)
    probabilities = keras.ops.convert_to_numpy(model(digits.test_images / 255.0, training=False))
    np.testing.assert_allclose(confidence, probabilities.max(axis=-1), rtol=1e-5)
    assert "tensorflow" not in sys.modules
