"""MNIST with symmetric training-label noise eps in {0, .2, .4, .6, .8}: 5 seeds, 20 epochs.

    python -m lenet_bench --experiment=mnist_label_noise --workdir=results/wd --data_dir=../shared/datasets

The mnist_best setting (truncated_normal, lr 0.005, decay 0.9) on noisy
training labels; what is corrupted, how, and what the report shows:
common.label_noise. What it reaches and how long it takes: benchmarks/RESULTS.md#label-noise.
"""

from experiments import common, mnist_best


def get_config():
    return common.label_noise("mnist_label_noise", mnist_best.get_config())
