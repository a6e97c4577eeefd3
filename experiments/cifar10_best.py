"""The original study's best CIFAR-10 setting: glorot normal, lr 0.002, decay 0.9, batch 128.

    python -m lenet_bench --experiment=cifar10_best --workdir=results/wd --data_dir=../shared/datasets

32x32x3 input with a 'valid' first convolution (62,006 parameters). With
decay 0.9 the learning rate has fallen to 1e-4 by epoch 30 (see cifar10_tuned).
What it reaches and how long it takes: benchmarks/RESULTS.md#the-full-study (5 seeds) and
benchmarks/RESULTS.md#reference-runs-one-seed (seed 0).
"""

from lenet_bench.config import ExperimentConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="cifar10_best",
        dataset="cifar10",
        initializer="glorot_normal",
        learning_rate=0.002,
        lr_decay=0.9,
        epochs=30,
        batch_size=128,
        seeds=5,
        keep_best=True,
    )
