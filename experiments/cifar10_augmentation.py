"""CIFAR-10 with and without augmentation: translation x horizontal flip, 10,000 images, 3 seeds.

    python -m lenet_bench --experiment=cifar10_augmentation --workdir=benchmarks/augmentation --data_dir=../shared/datasets

The cifar10_best setting (glorot_normal, lr 0.002, decay 0.9, batch 128) on
a stratified 10,000-image training subset, 12 epochs; random translation up
to 10% (zero fill) and random horizontal flip, each off or on; runs of one
seed train in one fused group of 4.
What it reaches and how long it takes: benchmarks/RESULTS.md#augmentation-and-early-stopping
(raw: benchmarks/augmentation/cifar10_augmentation/).
"""

from experiments import cifar10_best, common

GRID = {"augment_translation": (0.0, 0.1), "augment_flip": (False, True)}


def get_config():
    return common.augmentation("cifar10_augmentation", cifar10_best.get_config(), GRID,
                               train_size=10000, epochs=12)
