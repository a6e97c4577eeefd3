"""Fashion-MNIST with and without augmentation: translation x rotation, 10,000 images, 3 seeds.

Command:
    python -m lenet_bench --experiment=fashion_mnist_augmentation --workdir=benchmarks/augmentation --data_dir=../shared/datasets

Result: final test accuracy 86.63 +/- 0.25 % over 3 seeds at augment_translation=0.0
    augment_rotation=0.0, the best of 4 grid points
    (benchmarks/augmentation/fashion_mnist_augmentation/runs)
Result: final test accuracy 83.20 +/- 0.58 % over 3 seeds at augment_translation=0.1
    augment_rotation=0.05 (benchmarks/augmentation/fashion_mnist_augmentation/runs)
Time: 13.4 min of training over 12 runs on a 2-core AMD EPYC CPU
    (benchmarks/augmentation/fashion_mnist_augmentation/runs)

The fashion_mnist_best setting (glorot_normal, lr 0.005, decay 0.95) on a
stratified 10,000-image training subset, 12 epochs; random translation up to
10% and rotation up to 0.05 of a turn, each off or on (no flip: InputError).
In 12 epochs augmentation leaves the model underfitting, so no augmentation is
best here. Other jobs shared the cores (the time is an upper bound). All four
points: benchmarks/RESULTS.md#augmentation-and-early-stopping.
"""

from experiments import common, fashion_mnist_best

GRID = {"augment_translation": (0.0, 0.1), "augment_rotation": (0.0, 0.05)}


# Margin: fashion_mnist_best's (its get_config says why).
def get_config():
    return common.augmentation("fashion_mnist_augmentation", fashion_mnist_best.get_config(),
                               GRID, train_size=10000, epochs=12)
