"""MNIST with and without augmentation: translation x rotation (off/on), 3 seeds, 20 epochs.

    python -m lenet_bench --experiment=mnist_augmentation --workdir=benchmarks/augmentation --data_dir=/work/shared/datasets

The mnist_best setting (truncated_normal, lr 0.005, decay 0.9) on the 5,000
training images; augmentation is random translation up to 10% of the size
and rotation up to 0.05 of a turn (18 degrees), each off or on, applied to
training batches only with each run's seed (lenet_bench.augmentation).
Measured (2-core AMD EPYC CPU shared with other jobs, fused groups of 4):
final test accuracy %, mean ± std over 3 seeds: off 97.84 ± 0.14,
rotation 97.99 ± 0.19, translation 98.14 ± 0.16, both 98.16 ± 0.14
(training accuracy 100% without augmentation, 98.2% with both); 828 s of
training (14 min). Raw results: benchmarks/augmentation/mnist_augmentation/.
"""

from experiments import common, mnist_best

GRID = {"augment_translation": (0.0, 0.1), "augment_rotation": (0.0, 0.05)}


def get_config():
    return common.augmentation("mnist_augmentation", mnist_best.get_config(), GRID)
