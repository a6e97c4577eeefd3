"""MNIST with symmetric training-label noise eps in {0, .2, .4, .6, .8}: 5 seeds, 20 epochs.

    python -m lenet_bench --experiment=mnist_label_noise --workdir=/tmp/wd --data_dir=../shared/datasets

The mnist_best setting (truncated_normal, lr 0.005, decay 0.9) trained on labels
corrupted with the run's seed (sampled mode: each label kept with
probability 1 - eps, else one of the 9 other classes uniformly); the test
set stays clean. The report shows the realized noise matrix next to the
expected one, and accuracy on noisy and clean training labels and on the
test set per eps. Measured figures are in BUILD_NOTES.md and benchmarks/.
Try --noise_mode=exact for exactly round(eps * n_c) flips per class.
"""

from experiments import common, mnist_best


def get_config():
    return common.label_noise("mnist_label_noise", mnist_best.get_config())
