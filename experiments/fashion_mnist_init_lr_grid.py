"""Fashion-MNIST: initializer x start learning rate x decay, 36 grid points x 5 seeds, 5 epochs.

    python -m lenet_bench --experiment=fashion_mnist_init_lr_grid --workdir=results/wd --data_dir=../shared/datasets

The original study's grid on Fashion-MNIST (60,000 training images): uniform,
glorot normal and truncated normal kernels, start lr 0.01/0.005/0.003/0.002,
per-epoch decay 0.9/0.95/0.99, Adam, batch 32. 180 runs.
What it reaches and how long it takes: benchmarks/RESULTS.md#the-full-study.
"""

from experiments import common


def get_config():
    return common.init_lr_grid("fashion_mnist_init_lr_grid", "fashion_mnist", batch_size=32)
