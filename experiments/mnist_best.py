"""The original study's best MNIST setting: truncated normal, lr 0.005, decay 0.9.

    python -m lenet_bench --experiment=mnist_best --workdir=/tmp/wd --data_dir=../shared/datasets

Measured (2-core AMD EPYC CPU, seed 0, the 5,000-image MNIST training subset
in ../shared/datasets): 97.57% test accuracy after 20 epochs, best 97.61% at
epoch 16; 57 s of training (about 2.4 s per epoch). Raw results:
benchmarks/reference/mnist_best/. Over 5 seeds (the full make bench):
97.78 ± 0.15% final, benchmarks/make_bench_full_study/mnist_best/.
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
