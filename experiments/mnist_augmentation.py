"""MNIST with and without augmentation: translation x rotation (off/on), 3 seeds, 20 epochs.

Command:
    python -m lenet_bench --experiment=mnist_augmentation --workdir=benchmarks/augmentation --data_dir=../shared/datasets

Result: final test accuracy 98.16 +/- 0.14 % over 3 seeds at augment_translation=0.1
    augment_rotation=0.05, the best of 4 grid points
    (benchmarks/augmentation/mnist_augmentation/runs)
Result: final test accuracy 97.84 +/- 0.14 % over 3 seeds at augment_translation=0.0
    augment_rotation=0.0 (benchmarks/augmentation/mnist_augmentation/runs)
Time: 12.9 min of training over 12 runs on a 2-core AMD EPYC CPU
    (benchmarks/augmentation/mnist_augmentation/runs)

The mnist_best setting (truncated_normal, lr 0.005, decay 0.9) on the 5,000
training images; augmentation is random translation up to 10% of the size
and rotation up to 0.05 of a turn (18 degrees), each off or on, applied to
training batches only with each run's seed (lenet_bench.trainers.augmentation).
Other jobs shared the cores (the time is an upper bound). All four points and
the cost per epoch: benchmarks/RESULTS.md#augmentation-and-early-stopping.
"""

from experiments import common, mnist_best

GRID = {"augment_translation": (0.0, 0.1), "augment_rotation": (0.0, 0.05)}


# Margin: mnist_best's (its get_config says why).
def get_config():
    return common.augmentation("mnist_augmentation", mnist_best.get_config(), GRID)
