"""Fashion-MNIST with and without augmentation: translation x rotation, 10,000 images, 3 seeds.

    python -m lenet_bench --experiment=fashion_mnist_augmentation --workdir=benchmarks/augmentation --data_dir=/work/shared/datasets

The fashion_mnist_best setting (glorot_normal, lr 0.005, decay 0.95) on a
stratified 10,000-image training subset (where it overfits, so augmentation
has something to fix), 12 epochs; random translation up to 10% and rotation
up to 0.05 of a turn, each off or on (no flip: InputError).
Measured (2-core AMD EPYC CPU shared with other jobs, fused groups of 4):
final test accuracy %, mean ± std over 3 seeds: off 86.63 ± 0.25,
translation 85.36 ± 0.43, rotation 85.14 ± 1.50, both 83.20 ± 0.58. In 12
epochs augmentation underfits here: it closes the train-test gap (94.2% vs
86.6% train/test without, 82.6% vs 83.2% with both) but lowers both;
842 s of training (14 min). Raw results:
benchmarks/augmentation/fashion_mnist_augmentation/.
"""

from experiments import common, fashion_mnist_best

GRID = {"augment_translation": (0.0, 0.1), "augment_rotation": (0.0, 0.05)}


def get_config():
    return common.augmentation("fashion_mnist_augmentation", fashion_mnist_best.get_config(),
                               GRID, train_size=10000, epochs=12)
