"""What a trained model costs: training time, inference time per image, size on disk, parameters.

`trainers.group_loop.train_group` gives each finished run its figures as the run record's
`cost`. All but the two training times depend on the architecture and the machine, not on
the weights (a `.keras` file is an uncompressed zip, so its size does not either): they are
measured once per group, on the final weights of its first finished run, and shared by
the group's runs (measuring each of R identical architectures again only adds noise and
time).

- train_seconds, epoch_seconds_mean: from the record's history (the time
  the trainer spent; on the fused path a group's time divided by its runs).
- inference_ms_per_image_batch1: median of INFERENCE_REPEATS single-image
  predictions through the backend's compiled forward pass
  (`inference.compiled_forward`: tf.function on TensorFlow, jax.jit of
  stateless_call on JAX, eager under torch.no_grad on PyTorch), after
  warm-up, each timed until its output is on the host as numpy.
- inference_ms_per_image_large_batch: the median time of one batch of
  `inference_large_batch` test images (LARGE_BATCH, or all if fewer), per image.
- keras_file_bytes: the size of the model saved as a `.keras` file
  (architecture and weights, no optimizer state), in a temporary folder.
- params, trainable_params: all weights (batch-norm statistics included) and
  the trainable ones.

Times are wall-clock on whatever else the machine is doing; medians keep a
stray slow call out. Not `model.predict_on_batch`: on TensorFlow it may
XLA-compile (jit_compile='auto'), which would change the figures recorded
before other backends existed; on JAX and PyTorch the two timed the same
within the noise of a shared 2-core CPU (benchmarks/inference_forward.txt).
"""

import statistics
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from lenet_bench.networks import inference

INFERENCE_REPEATS = 50
LARGE_BATCH = 1000
LARGE_BATCH_REPEATS = 5
WARMUP_CALLS = 3
COST_KEYS = ("train_seconds", "epoch_seconds_mean", "inference_ms_per_image_batch1",
             "inference_ms_per_image_large_batch", "inference_large_batch", "keras_file_bytes",
             "params", "trainable_params")


class CostMeter:
    """Measures the cost of `model`: at the first `measure` call, with the weights it holds
    then; later calls give those figures again, with their own record's training times.

    One meter per model object (a group's runs all have its architecture).

    Args:
      model: a Keras model taking float images in [0, 1].
      test_images: uint8 images (N, H, W, C); the first LARGE_BATCH are used.
    """

    def __init__(self, model: keras.Model, test_images: np.ndarray):
        self.model = model
        self.large_batch = inference.scaled(test_images[:LARGE_BATCH])
        self.single_image = inference.scaled(test_images[:1])
        self.predict = inference.compiled_forward(model)
        self.model_figures = None  # The figures that depend on the model alone, once measured.

    def _median_seconds(self, inputs, repeats: int) -> float:
        for _ in range(WARMUP_CALLS):
            keras.ops.convert_to_numpy(self.predict(inputs))
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            keras.ops.convert_to_numpy(self.predict(inputs))
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def measure(self, record: dict | None = None) -> dict:
        """The cost figures (see the module docstring); times from `record`'s history."""
        epoch_seconds = [s for s in ((record or {}).get("history") or {}).get("epoch_seconds", [])
                         if s is not None]
        if self.model_figures is None:
            self.model_figures = self._measure_model()
        return {
            "train_seconds": (record or {}).get("wall_seconds"),
            "epoch_seconds_mean": float(np.mean(epoch_seconds)) if epoch_seconds else None,
            **self.model_figures,
        }

    def _measure_model(self) -> dict:
        """The figures of the model alone: inference times, file size, parameters."""
        batch = int(self.large_batch.shape[0])
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            self.model.save(path)
            keras_file_bytes = path.stat().st_size
        return {
            "inference_ms_per_image_batch1":
                1000 * self._median_seconds(self.single_image, INFERENCE_REPEATS),
            "inference_ms_per_image_large_batch":
                1000 * self._median_seconds(self.large_batch, LARGE_BATCH_REPEATS) / batch,
            "inference_large_batch": batch,
            "keras_file_bytes": int(keras_file_bytes),
            "params": int(self.model.count_params()),
            "trainable_params": int(sum(np.prod(v.shape) for v in self.model.trainable_weights)),
        }
