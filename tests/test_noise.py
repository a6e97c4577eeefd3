import numpy as np
import pytest

from lenet_bench.inputs import noise
from lenet_bench.records import analysis

# Its module-scoped fixtures are built once: one worker runs the module (tests/conftest.py).
pytestmark = pytest.mark.xdist_group(__name__)

K = 10


@pytest.fixture(scope="module")
def labels():
    return np.random.default_rng(0).integers(0, K, 20_000)


@pytest.mark.parametrize("mode", noise.NOISE_MODES)
def test_eps_zero_is_the_identity(labels, mode):
    noisy = noise.corrupt_labels(labels, K, 0.0, mode, seed=3)
    np.testing.assert_array_equal(noisy, labels)
    np.testing.assert_array_equal(noise.transition_counts(labels, noisy, K),
                                  np.diag(np.bincount(labels, minlength=K)))


@pytest.mark.parametrize("mode", noise.NOISE_MODES)
@pytest.mark.parametrize("eps", [0.2, 0.4, 0.6, 0.8])
def test_realized_rates_match_the_nominal_matrix(labels, mode, eps):
    original = labels.copy()
    noisy = noise.corrupt_labels(labels, K, eps, mode, seed=1)
    np.testing.assert_array_equal(labels, original)  # The input is never changed.
    counts = noise.transition_counts(labels, noisy, K)
    realized = analysis.row_normalize(counts)
    expected = noise.expected_matrix(K, eps)
    class_counts = np.bincount(labels, minlength=K)
    if mode == "exact":
        flipped = class_counts - np.diag(counts)
        np.testing.assert_array_equal(flipped, np.round(eps * class_counts).astype(int))
        off_diagonal = counts[~np.eye(K, dtype=bool)].reshape(K, K - 1)
        assert (off_diagonal.max(axis=1) - off_diagonal.min(axis=1) <= 1).all()  # even spread
        assert np.abs(realized - expected).max() <= 1 / class_counts.min()
    else:  # 2,000 labels per class: a cell's standard error is at most ~0.011.
        assert np.abs(realized - expected).max() < 0.05
        assert np.abs(np.diag(realized) - (1 - eps)).max() < 0.05
    check = noise.check_realized(counts, eps, mode)
    assert check["within"], check


@pytest.mark.parametrize("mode", noise.NOISE_MODES)
def test_same_seed_same_labels_other_seed_other_labels(labels, mode):
    first = noise.corrupt_labels(labels, K, 0.4, mode, seed=7)
    np.testing.assert_array_equal(first, noise.corrupt_labels(labels, K, 0.4, mode, seed=7))
    assert (first != noise.corrupt_labels(labels, K, 0.4, mode, seed=8)).mean() > 0.3


@pytest.mark.parametrize("mode", noise.NOISE_MODES)
def test_noise_is_nested_across_eps_for_one_seed(labels, mode):
    low = noise.corrupt_labels(labels, K, 0.2, mode, seed=5)
    high = noise.corrupt_labels(labels, K, 0.6, mode, seed=5)
    flipped_low = low != labels
    np.testing.assert_array_equal(high[flipped_low], low[flipped_low])


def test_flipped_labels_never_keep_their_class(labels):
    noisy = noise.corrupt_labels(labels, K, 0.8, "sampled", seed=2)
    counts = noise.transition_counts(labels, noisy, K)
    assert 0.78 < 1 - np.trace(counts) / counts.sum() < 0.82


def test_check_flags_a_matrix_that_is_not_symmetric_noise():
    counts = np.diag(np.full(K, 800))
    counts[:, 1] += 200  # Every flip goes to class 1: rate right, shape wrong.
    counts[1, 1] -= 200
    result = noise.check_realized(counts, 0.2, "sampled")
    assert not result["within"] and result["max_abs_deviation"] > 0.15


def test_degenerate_eps_is_flagged():
    assert not noise.is_degenerate(K, 0.8)
    assert noise.is_degenerate(K, 0.9) and noise.is_degenerate(K, 0.95)
    assert noise.is_degenerate(2, 0.5) and not noise.is_degenerate(2, 0.4)


def test_bad_eps_and_mode_are_refused(labels):
    with pytest.raises(ValueError, match="outside"):
        noise.corrupt_labels(labels, K, 1.0, "sampled", 0)
    with pytest.raises(ValueError, match="not one of"):
        noise.corrupt_labels(labels, K, 0.1, "uniform", 0)
