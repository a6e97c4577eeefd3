"""Fashion-MNIST with and without augmentation: translation x rotation, 10,000 images, 3 seeds.

    python -m lenet_bench --experiment=fashion_mnist_augmentation --workdir=benchmarks/augmentation --data_dir=../shared/datasets

The fashion_mnist_best setting (glorot_normal, lr 0.005, decay 0.95) on a
stratified 10,000-image training subset (where it overfits, so augmentation
has something to fix), 12 epochs; random translation up to 10% and rotation
up to 0.05 of a turn, each off or on (no flip: InputError).
What it reaches and how long it takes: benchmarks/RESULTS.md#augmentation-and-early-stopping
(raw: benchmarks/augmentation/fashion_mnist_augmentation/).
"""

from experiments import common, fashion_mnist_best

GRID = {"augment_translation": (0.0, 0.1), "augment_rotation": (0.0, 0.05)}


def get_config():
    return common.augmentation("fashion_mnist_augmentation", fashion_mnist_best.get_config(),
                               GRID, train_size=10000, epochs=12)
