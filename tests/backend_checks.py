"""What the JAX and PyTorch sessions check alike: `import tensorflow` made to fail, as on
a machine where it is not installed (the GPU machine: put NoTensorFlow first on
`sys.meta_path`), and the post-passes (cost, inspection) running on a model there."""

import dataclasses
import importlib.abc
import importlib.machinery

import keras
import numpy as np

from lenet_bench.study import inspection
from lenet_bench.observers import cost


class NoTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes `import tensorflow` raise ImportError, as where it is not installed (its
    spec is still found: torch._dynamo looks for one, and only importing fails)."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        raise ImportError(f"{spec.name} is unimportable in this test")

    def exec_module(self, module):
        raise ImportError(f"{module.__name__} is unimportable in this test")


def assert_post_passes_run(spec, model, dataset, folder) -> tuple:
    """Runs cost and inspection on `model` (spec's run, untrained is fine) and checks their
    output against the model itself. Returns (the cost meter, max confidences)."""
    meter = cost.CostMeter(model, dataset.test_images)
    figures = meter.measure({"wall_seconds": 2.0})
    assert figures["inference_large_batch"] == len(dataset.test_images)
    assert figures["inference_ms_per_image_batch1"] > 0 and figures["keras_file_bytes"] > 0
    model.save_weights(folder / f"{spec.key}.weights.h5")
    record = {"key": spec.key, "status": "done", "spec": dataclasses.asdict(spec),
              "history": {"test_accuracy": [0.5]}, "best_test_accuracy": 0.5, "best_epoch": 1,
              "final_test_accuracy": 0.5, "confusion_matrix": np.eye(10).tolist()}
    assert inspection.write_model_internals(folder / "internals.npz", [record], folder, dataset)
    with np.load(folder / "internals.npz") as stored:
        np.testing.assert_array_equal(stored["0/conv1_kernel/trained"],
                                      keras.ops.convert_to_numpy(model.get_layer("conv1").kernel))
        assert stored["feature_maps/conv2"].shape == (4, 10, 10, 16)
    confidence = inspection.max_confidence(model, dataset.test_images)
    probabilities = keras.ops.convert_to_numpy(model(dataset.test_images / 255.0, training=False))
    np.testing.assert_allclose(confidence, probabilities.max(axis=-1), rtol=1e-5)
    return meter, confidence
