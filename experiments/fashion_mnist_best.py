"""The original study's best Fashion-MNIST setting: glorot normal, lr 0.005, decay 0.95.

    python -m lenet_bench --experiment=fashion_mnist_best --workdir=/tmp/wd --data_dir=../shared/datasets

Keep-best saves the best test epoch's weights. Measured: see BUILD_NOTES.md.
"""

from lenet_bench.config import ExperimentConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="fashion_mnist_best",
        dataset="fashion_mnist",
        initializer="glorot_normal",
        learning_rate=0.005,
        lr_decay=0.95,
        epochs=30,
        batch_size=32,  # Keras fit's default, as in the original study.
        seeds=1,
        keep_best=True,
    )
