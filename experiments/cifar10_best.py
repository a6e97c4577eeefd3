"""The original study's best CIFAR-10 setting: glorot normal, lr 0.002, decay 0.9, batch 128.

    python -m lenet_bench --experiment=cifar10_best --workdir=/tmp/wd --data_dir=../shared/datasets

32x32x3 input with a 'valid' first convolution (62,006 parameters).
Measured (2-core AMD EPYC CPU, seed 0): best 60.01% test accuracy at epoch 25,
59.89% after 30; 501 s of training (about 16.5 s per epoch). The learning
rate has decayed to 1e-4 by the end and training accuracy stalls at 71%:
see cifar10_tuned. Raw results: benchmarks/reference/cifar10_best/. Over 5
seeds (the full make bench): 61.69 ± 1.23% final, 61.85 ± 1.31% at the best
epoch, benchmarks/make_bench_full_study/cifar10_best/.
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
