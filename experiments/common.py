"""Pieces shared by several studies (not an experiment itself)."""

import dataclasses

from lenet_bench.config import ExperimentConfig

# The original study's grid: initializer x start learning rate x per-epoch decay.
INIT_LR_DECAY_GRID = {
    "initializer": ("uniform", "glorot_normal", "truncated_normal"),
    "learning_rate": (0.01, 0.005, 0.003, 0.002),
    "lr_decay": (0.9, 0.95, 0.99),
}
NOISE_LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8)  # Symmetric label-noise eps.


def init_lr_grid(name: str, dataset: str, batch_size: int, margin: float) -> ExperimentConfig:
    """The grid study on one dataset: 36 points x 5 seeds, 5 epochs, Adam."""
    return ExperimentConfig(name=name, dataset=dataset, epochs=5,  # As in the original study.
                            batch_size=batch_size, seeds=5, grid=dict(INIT_LR_DECAY_GRID),
                            margin=margin)


def label_noise(name: str, best: ExperimentConfig) -> ExperimentConfig:
    """A dataset's best setting trained on noisy labels: 5 noise levels x 5 seeds, 20 epochs.

    Each run's training labels are corrupted with its seed (sampled mode: each
    label kept with probability 1 - eps, else one of the K - 1 other classes
    uniformly); the test set stays clean. The report shows the realized noise
    matrix next to the expected one, and accuracy on the noisy and the clean
    training labels and on the test set per eps. --noise_mode=exact flips
    exactly round(eps * n_c) labels of each class instead.
    """
    return dataclasses.replace(best, name=name, epochs=20, seeds=5, noise_mode="sampled",
                               grid={"label_noise": NOISE_LEVELS})


def augmentation(name: str, best: ExperimentConfig, grid: dict, **changes) -> ExperimentConfig:
    """A dataset's best setting trained with and without augmentation: the grid over
    augment_* fields (each off and on), 3 seeds; `changes` e.g. a train_size."""
    return dataclasses.replace(best, name=name, seeds=3, grid=dict(grid), **changes)
