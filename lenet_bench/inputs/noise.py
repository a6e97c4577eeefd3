"""Symmetric label noise on the training labels, and the check that it is what was asked.

A label is kept with probability 1 - eps, and otherwise replaced by each other
class with probability eps / (K - 1). Two modes:

- `sampled`: every label is drawn independently (the original study); the
  realized rate scatters around eps with binomial sampling error.
- `exact`: in every class c of n_c labels exactly round(eps * n_c) are flipped,
  spread as evenly as possible over the other K - 1 classes.

Both are seeded and nested: with one seed, a label flipped at eps = 0.2 is
also flipped, to the same class, at eps = 0.4. Only training labels are ever
passed here; the test set stays clean.
"""

import math

import numpy as np

from lenet_bench.config import NOISE_MODES
from lenet_bench.records.analysis import row_normalize

_NOISE_STREAM = 0x6E6F697365  # Keeps the noise draws apart from other uses of the run seed.


def corrupt_labels(labels: np.ndarray, num_classes: int, eps: float, mode: str,
                   seed: int) -> np.ndarray:
    """The noisy copy of `labels` (int, shape (N,)); `labels` itself is not changed."""
    labels = np.asarray(labels)
    if not 0 <= eps < 1:
        raise ValueError(f"label noise eps={eps} is outside [0, 1)")
    if mode not in NOISE_MODES:
        raise ValueError(f"noise mode {mode!r} is not one of {NOISE_MODES}")
    rng = np.random.default_rng([seed, _NOISE_STREAM])
    # One uniform draw and one offset in 1..K-1 per label, whatever eps is: that
    # makes the noise nested across eps values for one seed.
    uniforms = rng.random(len(labels))
    offsets = rng.integers(1, num_classes, len(labels))
    noisy = labels.copy()
    if eps == 0:
        return noisy
    if mode == "sampled":
        flip = uniforms < eps
        noisy[flip] = (labels[flip] + offsets[flip]) % num_classes
        return noisy
    for label in range(num_classes):
        members = np.flatnonzero(labels == label)
        flipped = members[np.argsort(uniforms[members], kind="stable")][:round(eps * len(members))]
        # Even spread: offsets 1..K-1 cycled, starting at a seeded place per class.
        start = int(offsets[members[0]]) if len(members) else 1
        cycle = (start - 1 + np.arange(len(flipped))) % (num_classes - 1) + 1
        noisy[flipped] = (label + cycle) % num_classes
    return noisy


def transition_counts(clean: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[i, j]: training labels of true class i that carry label j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(clean), np.asarray(noisy)), 1)
    return counts


def expected_matrix(num_classes: int, eps: float) -> np.ndarray:
    """The nominal transition matrix: 1 - eps on the diagonal, eps / (K - 1) elsewhere."""
    matrix = np.full((num_classes, num_classes), eps / (num_classes - 1))
    np.fill_diagonal(matrix, 1 - eps)
    return matrix


def is_degenerate(num_classes: int, eps: float) -> bool:
    """True when the kept label is no more likely than some other class (eps >= (K-1)/K)."""
    return 1 - eps <= eps / (num_classes - 1) + 1e-12


def check_realized(counts: np.ndarray, eps: float, mode: str) -> dict:
    """Compares a realized transition-count matrix with the nominal one.

    For `sampled`, each cell is binomial with n = the class count, so the
    deviation is measured in standard errors and called within sampling error
    when no cell is more than a Bonferroni-corrected 5% two-sided bound away
    (|z| <= about 3.5 for 10 x 10 cells). For `exact`, the bound is rounding:
    one label per class, spread over the row.
    """
    counts = np.asarray(counts, dtype=float)
    num_classes = counts.shape[0]
    expected = expected_matrix(num_classes, eps)
    realized = row_normalize(counts)
    class_counts = counts.sum(axis=1, keepdims=True)
    deviation = np.abs(realized - expected)
    largest = np.unravel_index(int(np.argmax(deviation)), deviation.shape)
    result = {"max_abs_deviation": float(deviation.max()),
              "max_deviation_cell": [int(largest[0]), int(largest[1])],
              "realized_flip_rate": float(1 - np.trace(counts) / max(counts.sum(), 1))}
    if mode == "exact":
        bound = float((1.0 / np.maximum(class_counts, 1)).max())
        result.update(bound=bound, bound_kind="rounding (1 label per class)",
                      within=bool(deviation.max() <= bound + 1e-12))
        return result
    std_error = np.sqrt(expected * (1 - expected) / np.maximum(class_counts, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std_error > 0, deviation / std_error, np.where(deviation > 0, np.inf, 0.0))
    cells = num_classes * num_classes
    z_bound = _normal_quantile(1 - 0.05 / (2 * cells))
    result.update(max_z=float(z.max()), bound=z_bound,
                  bound_kind=f"|z| <= {z_bound:.2f} (5% Bonferroni over {cells} cells)",
                  within=bool(z.max() <= z_bound))
    return result


def _normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF, by bisection on math.erf (no scipy needed)."""
    low, high = -10.0, 10.0
    for _ in range(100):
        middle = (low + high) / 2
        if 0.5 * (1 + math.erf(middle / math.sqrt(2))) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2
