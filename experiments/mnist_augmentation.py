"""MNIST with and without augmentation: translation x rotation (off/on), 3 seeds, 20 epochs.

    python -m lenet_bench --experiment=mnist_augmentation --workdir=benchmarks/augmentation --data_dir=../shared/datasets

The mnist_best setting (truncated_normal, lr 0.005, decay 0.9) on the 5,000
training images; augmentation is random translation up to 10% of the size
and rotation up to 0.05 of a turn (18 degrees), each off or on, applied to
training batches only with each run's seed (lenet_bench.trainers.augmentation).
What it reaches and how long it takes: benchmarks/RESULTS.md#augmentation-and-early-stopping
(raw: benchmarks/augmentation/mnist_augmentation/).
"""

from experiments import common, mnist_best

GRID = {"augment_translation": (0.0, 0.1), "augment_rotation": (0.0, 0.05)}


def get_config():
    return common.augmentation("mnist_augmentation", mnist_best.get_config(), GRID)
