"""The original study's best MNIST setting: truncated normal, lr 0.005, decay 0.9.

    python -m lenet_bench --experiment=mnist_best --workdir=results/wd --data_dir=../shared/datasets

20 epochs, batch 32, on the 5,000-image MNIST training subset in
../shared/datasets. What it reaches and how long it takes: benchmarks/RESULTS.md#the-full-study
(5 seeds) and benchmarks/RESULTS.md#reference-runs-one-seed (seed 0); with a validation
split and early stopping: benchmarks/RESULTS.md#augmentation-and-early-stopping.
"""

from lenet_bench.config import ExperimentConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="mnist_best",
        dataset="mnist",
        initializer="truncated_normal",
        learning_rate=0.005,
        lr_decay=0.9,
        epochs=20,
        batch_size=32,  # Keras fit's default, as in the original study.
        seeds=5,
    )
