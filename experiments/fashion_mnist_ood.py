"""Out-of-distribution test the other way round: Fashion-MNIST model, MNIST test images.

    python -m lenet_bench --experiment=fashion_mnist_ood --workdir=results/wd --data_dir=../shared/datasets

fashion_mnist_best's setting (glorot normal, lr 0.005, decay 0.95, batch 32)
on a class-stratified 10,000-image training subset for 5 epochs over 3 seeds;
then each run's best-epoch model sees the Fashion-MNIST test set (in
distribution) and the MNIST test set (out of distribution).
What it reaches and how long it takes: benchmarks/RESULTS.md#soft-metrics-and-ood
(raw: benchmarks/companion_studies/fashion_mnist_ood/).
"""

import dataclasses

from experiments import fashion_mnist_best


def get_config():
    return dataclasses.replace(fashion_mnist_best.get_config(), name="fashion_mnist_ood",
                               train_size=10_000, epochs=5, seeds=3, ood_dataset="mnist")
