"""CIFAR-10 with and without augmentation: translation x horizontal flip, 10,000 images, 3 seeds.

Command:
    python -m lenet_bench --experiment=cifar10_augmentation --workdir=benchmarks/augmentation --data_dir=../shared/datasets

Result: final test accuracy 50.99 +/- 0.34 % over 3 seeds at augment_translation=0.0
    augment_flip=False, the best of 4 grid points
    (benchmarks/augmentation/cifar10_augmentation/runs)
Result: final test accuracy 50.59 +/- 1.69 % over 3 seeds at augment_translation=0.1
    augment_flip=True (benchmarks/augmentation/cifar10_augmentation/runs)
Time: 13.0 min of training over 12 runs on a 2-core AMD EPYC CPU
    (benchmarks/augmentation/cifar10_augmentation/runs)

The cifar10_best setting (glorot_normal, lr 0.002, decay 0.9, batch 128) on
a stratified 10,000-image training subset, 12 epochs; random translation up
to 10% (zero fill) and random horizontal flip, each off or on; runs of one
seed train in one fused group of 4. LeNet-5 underfits CIFAR-10 in 12 epochs,
so the differences are within about one std. Other jobs shared the cores (the
time is an upper bound). All four points:
benchmarks/RESULTS.md#augmentation-and-early-stopping.
"""

from experiments import cifar10_best, common

GRID = {"augment_translation": (0.0, 0.1), "augment_flip": (False, True)}


# Margin: cifar10_best's (its get_config says why).
def get_config():
    return common.augmentation("cifar10_augmentation", cifar10_best.get_config(), GRID,
                               train_size=10000, epochs=12)
