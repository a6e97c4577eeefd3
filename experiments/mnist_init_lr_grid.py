"""MNIST: initializer x start learning rate x decay, 36 grid points x 5 seeds, 5 epochs.

    python -m lenet_bench --experiment=mnist_init_lr_grid --workdir=/tmp/wd --data_dir=../shared/datasets

The original study's grid on MNIST (the 5,000-image training subset in ../shared/datasets): uniform, glorot normal
and truncated normal kernels, start lr 0.01/0.005/0.003/0.002, per-epoch
decay 0.9/0.95/0.99, Adam, batch 32. 180 runs; measured figures are in
BUILD_NOTES.md and benchmarks/.
"""

from lenet_bench.config import ExperimentConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="mnist_init_lr_grid",
        dataset="mnist",
        epochs=5,  # As in the original study.
        batch_size=32,
        seeds=5,
        grid={
            "initializer": ("uniform", "glorot_normal", "truncated_normal"),
            "learning_rate": (0.01, 0.005, 0.003, 0.002),
            "lr_decay": (0.9, 0.95, 0.99),
        },
    )
