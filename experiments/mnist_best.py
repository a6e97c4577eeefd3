"""The original study's best MNIST setting: truncated normal, lr 0.005, decay 0.9.

    python -m lenet_bench --experiment=mnist_best --workdir=/tmp/wd --data_dir=../shared/datasets

Measured: see BUILD_NOTES.md ("Reference runs").
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
        seeds=1,
    )
