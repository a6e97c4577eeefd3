"""Fashion-MNIST with symmetric training-label noise eps in {0, .2, .4, .6, .8}: 5 seeds, 20 epochs.

    python -m lenet_bench --experiment=fashion_mnist_label_noise --workdir=results/wd --data_dir=../shared/datasets

The fashion_mnist_best setting (glorot_normal, lr 0.005, decay 0.95) on noisy
training labels; what is corrupted, how, and what the report shows:
common.label_noise. What it reaches and how long it takes: benchmarks/RESULTS.md#label-noise.
"""

from experiments import common, fashion_mnist_best


def get_config():
    return common.label_noise("fashion_mnist_label_noise", fashion_mnist_best.get_config())
