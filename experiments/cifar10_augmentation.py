"""CIFAR-10 with and without augmentation: translation x horizontal flip, 10,000 images, 3 seeds.

    python -m lenet_bench --experiment=cifar10_augmentation --workdir=benchmarks/augmentation --data_dir=/work/shared/datasets

The cifar10_best setting (glorot_normal, lr 0.002, decay 0.9, batch 128) on
a stratified 10,000-image training subset, 12 epochs; random translation up
to 10% (zero fill) and random horizontal flip, each off or on.
Measured (2-core AMD EPYC CPU shared with other jobs, fused groups of 4):
final test accuracy %, mean ± std over 3 seeds: off 50.99 ± 0.34, flip
50.72 ± 1.06, translation 49.21 ± 1.69, both 50.59 ± 1.69: no measurable
effect, as 12 epochs leave LeNet-5 underfitting (59% training accuracy
without augmentation); 821 s of training (14 min). Raw results:
benchmarks/augmentation/cifar10_augmentation/.
"""

from experiments import cifar10_best, common

GRID = {"augment_translation": (0.0, 0.1), "augment_flip": (False, True)}


def get_config():
    return common.augmentation("cifar10_augmentation", cifar10_best.get_config(), GRID,
                               train_size=10000, epochs=12)
