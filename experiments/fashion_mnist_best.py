"""The original study's best Fashion-MNIST setting: glorot normal, lr 0.005, decay 0.95.

Command:
    python -m lenet_bench --experiment=fashion_mnist_best --workdir=benchmarks/make_bench_full_study --data_dir=../shared/datasets

Result: final test accuracy 89.80 +/- 0.29 % over 5 seeds at its setting
    (benchmarks/make_bench_full_study/fashion_mnist_best/runs)
Result: best-epoch test accuracy 90.28 +/- 0.30 % over 5 seeds at its setting
    (benchmarks/make_bench_full_study/fashion_mnist_best/runs)
Time: 13.7 min of training over 5 runs on a 2-core AMD EPYC CPU
    (benchmarks/make_bench_full_study/fashion_mnist_best/runs)

The full 60,000-image training set, 30 epochs, batch 32. Keep-best saves the
best test epoch's weights (an optimistic figure, chosen on the test set; the
final epoch is the honest one). One experiment of `make bench
WORKDIR=benchmarks/make_bench_full_study DATA_DIR=../shared/datasets`; tables and the original
study's bar: benchmarks/RESULTS.md#the-full-study; one seed of an earlier version:
benchmarks/RESULTS.md#reference-runs-one-seed.
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
        # Margin: LeNet-5 sits near 89-90% on Fashion-MNIST, with a seed spread of about 0.3-0.5
        # points; a difference under 0.5 points (50 test images) changes no one's choice.
        margin=0.5,
        keep_best=True,
    )
