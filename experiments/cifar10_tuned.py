"""cifar10_best with a slower decay (0.95 instead of 0.9), so the learning rate is still useful late.

    python -m lenet_bench --experiment=cifar10_tuned --workdir=results/wd --data_dir=../shared/datasets

With decay 0.9, cifar10_best's learning rate is 1e-4 by epoch 30 and it
underfits. Only the decay changes here.
What it reaches and how long it takes: benchmarks/RESULTS.md#reference-runs-one-seed.
"""

import dataclasses

from experiments import cifar10_best
from lenet_bench.config import ExperimentConfig


def get_config() -> ExperimentConfig:
    return dataclasses.replace(cifar10_best.get_config(), name="cifar10_tuned", lr_decay=0.95)
