"""The original study's best Fashion-MNIST setting: glorot normal, lr 0.005, decay 0.95.

    python -m lenet_bench --experiment=fashion_mnist_best --workdir=results/wd --data_dir=../shared/datasets

The full 60,000-image training set, 30 epochs, batch 32. Keep-best saves the
best test epoch's weights (an optimistic figure; the reports show the final
epoch beside it).
What it reaches and how long it takes: benchmarks/RESULTS.md#the-full-study (5 seeds) and
benchmarks/RESULTS.md#reference-runs-one-seed (seed 0).
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
        seeds=5,
        keep_best=True,
    )
