"""Do steps_torch and steps_tensorflow train the same numbers? One LeNet-5 variant from the
same initial weights (written by the TensorFlow process, read by the others), the same
300 digits images in the same orders, SGD 0.05, batch 32 (the last batch of 12), 2 epochs:
prints each epoch's (loss, accuracy, clean accuracy), the test (loss, accuracy), and
writes the final weights for the comparison at the end.

Run (repo root), the TensorFlow process first:
  for b in tensorflow torch; do KERAS_BACKEND=$b PYTHONPATH=. python benchmarks/steps_agreement.py VARIANT; done
  python benchmarks/steps_agreement.py compare
VARIANT: plain, l2 or batch_norm.
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

WEIGHTS = str(Path(tempfile.gettempdir()) / "steps_agreement_{}.npz")
VARIANTS = {"plain": {}, "l2": {"l2": 1e-3}, "batch_norm": {"batch_norm": True}}


def train(variant: str) -> None:
    import keras

    from lenet_bench import machine, runs
    from lenet_bench.inputs import data
    from lenet_bench.networks import models
    from lenet_bench.trainers.keras_replicas import steps_module

    machine.configure_threads(1)
    digits = data.load("digits")
    spec = runs.RunSpec(dataset="digits", seed=0, batch_size=32, **VARIANTS[variant])
    model = models.build_run_model(spec, digits)
    if keras.backend.backend() == "tensorflow":
        np.savez(WEIGHTS.format("initial"), *model.get_weights())
    with np.load(WEIGHTS.format("initial")) as stored:
        model.set_weights([stored[f"arr_{i}"] for i in range(len(stored.files))])
    train_epoch, evaluate = steps_module().make_step_functions(
        model, keras.optimizers.SGD(0.05), 10, jit_compile=False)
    rng = np.random.default_rng(0)
    epochs = [train_epoch(digits.train_images[:300], digits.train_labels[:300],
                          rng.permutation(300), 32) for _ in range(2)]
    print(variant, keras.backend.backend(), "epochs:", epochs, "test:",
          evaluate(digits.test_images, digits.test_labels)[:2])
    np.savez(WEIGHTS.format(keras.backend.backend()), *model.get_weights())


def compare() -> None:
    with np.load(WEIGHTS.format("tensorflow")) as a, np.load(WEIGHTS.format("torch")) as b:
        print("max |weight difference| after 2 epochs:",
              max(float(np.abs(a[name] - b[name]).max()) for name in a.files))


if __name__ == "__main__":
    compare() if sys.argv[1] == "compare" else train(sys.argv[1])
