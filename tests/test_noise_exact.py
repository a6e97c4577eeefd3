"""Label noise in detail (lenet_bench.inputs.noise), beyond its statistics (tests/test_noise.py):
the exact labels one seed gives (a run file's results must be reproducible by its key), the
even spread of `exact` mode, and `check_realized`'s figures worked by hand and against scipy.
Fast; `make mutation` runs them against noise.py."""

import numpy as np
import pytest
from scipy import stats

from lenet_bench.inputs import noise

LABELS = np.arange(30) % 3

# What the code gave when these were written: a change here changes the noisy labels of
# every run with label noise, so results stop matching the runs their keys name.
SAMPLED_3_04_SEED7 = [0, 1, 2, 2, 1, 1, 0, 1, 1, 0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 2, 2, 0, 1, 0, 0,
                      1, 2, 0, 2, 1]
EXACT_3_04_SEED7 = [0, 1, 2, 2, 2, 0, 0, 1, 1, 0, 1, 2, 2, 1, 2, 1, 1, 1, 0, 0, 2, 0, 0, 0, 0,
                    1, 2, 1, 2, 2]
EXACT_4_05_SEED2 = [2, 3, 1, 3, 3, 1, 2, 0, 0, 1, 0, 3, 0, 0, 1, 3, 3, 1, 2, 3, 1, 1, 2, 0, 2,
                    3, 2, 1, 0, 2, 3, 3, 0, 1, 3, 2, 0, 0, 2, 1]


def test_one_seed_gives_the_same_noisy_labels_as_ever():
    assert noise.corrupt_labels(LABELS, 3, 0.4, "sampled", 7).tolist() == SAMPLED_3_04_SEED7
    assert noise.corrupt_labels(LABELS, 3, 0.4, "exact", 7).tolist() == EXACT_3_04_SEED7
    assert noise.corrupt_labels(np.arange(40) % 4, 4, 0.5, "exact", 2).tolist() == \
        EXACT_4_05_SEED2


def test_exact_flips_are_spread_evenly_over_the_other_classes():
    labels = np.repeat(np.arange(4), 100)
    noisy = noise.corrupt_labels(labels, 4, 0.3, "exact", seed=5)
    counts = noise.transition_counts(labels, noisy, 4)
    assert np.all(np.diag(counts) == 70)
    off = counts[~np.eye(4, dtype=bool)].reshape(4, 3)
    assert np.all(off.max(axis=1) - off.min(axis=1) == 0)  # 30 over 3 classes: 10 each.


def test_sampled_flip_counts_scatter_and_exact_ones_do_not():
    labels = np.repeat(np.arange(10), 1000)
    sampled = noise.transition_counts(labels, noise.corrupt_labels(labels, 10, 0.3, "sampled",
                                                                   1), 10)
    exact = noise.transition_counts(labels, noise.corrupt_labels(labels, 10, 0.3, "exact", 1), 10)
    assert np.all(np.diag(exact) == 700)
    assert len(set(np.diag(sampled))) > 3


def test_a_class_without_members_is_skipped():
    labels = np.array([0, 0, 0, 0, 2, 2, 2, 2])
    noisy = noise.corrupt_labels(labels, 3, 0.5, "exact", seed=0)
    assert (noisy[:4] != 0).sum() == 2 and (noisy[4:] != 2).sum() == 2


def test_bad_eps_and_mode_messages():
    with pytest.raises(ValueError) as raised:
        noise.corrupt_labels(LABELS, 3, 1.0, "sampled", 0)
    assert str(raised.value) == "label noise eps=1.0 is outside [0, 1)"
    with pytest.raises(ValueError) as raised:
        noise.corrupt_labels(LABELS, 3, 0.1, "both", 0)
    assert str(raised.value) == "noise mode 'both' is not one of ('sampled', 'exact')"


def test_degenerate_noise():
    assert noise.is_degenerate(10, 0.9) and noise.is_degenerate(2, 0.5)
    assert not noise.is_degenerate(10, 0.89) and not noise.is_degenerate(2, 0.49)


def test_check_realized_by_hand_for_sampled_noise():
    counts = np.array([[8, 2], [6, 14]])  # Class counts 10 and 20.
    result = noise.check_realized(counts, 0.2, "sampled")
    # Row 1 realizes [0.3, 0.7] against [0.2, 0.8]: 0.1 off, standard error sqrt(.16 / 20).
    assert result["max_abs_deviation"] == pytest.approx(0.1)
    assert result["max_deviation_cell"][0] == 1
    assert result["realized_flip_rate"] == pytest.approx(8 / 30)
    assert result["max_z"] == pytest.approx(0.1 / np.sqrt(0.16 / 20))
    assert result["bound"] == pytest.approx(stats.norm.ppf(1 - 0.05 / 8), abs=1e-9)
    assert result["bound_kind"] == f"|z| <= {result['bound']:.2f} (5% Bonferroni over 4 cells)"
    assert result["within"] is True
    assert noise.check_realized(np.array([[10, 10], [0, 20]]), 0.2, "sampled")["within"] is False
    three = noise.check_realized(np.array([[7, 2, 1], [1, 7, 2], [0, 10, 0]]), 0.3, "sampled")
    assert three["max_deviation_cell"] == [2, 1] and three["max_abs_deviation"] == \
        pytest.approx(0.85)


def test_each_row_is_judged_by_its_own_class_count():
    # Row 0 (10 labels) is 0.2 off: z = 0.2 / sqrt(0.16 / 10), whatever row 1's count (20).
    result = noise.check_realized(np.array([[6, 4], [4, 16]]), 0.2, "sampled")
    assert result["max_z"] == pytest.approx(0.2 / np.sqrt(0.16 / 10))
    # A class of one label: its standard error is sqrt(0.16 / 1).
    single = noise.check_realized(np.array([[1, 0], [2, 8]]), 0.2, "sampled")
    assert single["max_z"] == pytest.approx(0.2 / 0.4)
    assert noise.check_realized(np.array([[1, 0], [2, 8]]), 0.2, "exact")["bound"] == 1.0


def test_check_realized_without_noise():
    clean = noise.check_realized(np.diag([5, 7, 9]), 0.0, "sampled")
    assert clean["max_z"] == 0 and clean["within"] is True and clean["realized_flip_rate"] == 0
    one_flip = noise.check_realized(np.array([[5, 1, 0], [0, 7, 0], [0, 0, 9]]), 0.0, "sampled")
    assert one_flip["max_z"] == np.inf and one_flip["within"] is False
    assert noise.check_realized(np.array([[1, 0], [0, 0]]), 0.0, "sampled")[
        "realized_flip_rate"] == 0


def test_check_realized_by_hand_for_exact_noise():
    counts = np.array([[4, 0], [1, 3]])  # Row 0 is off by 1/4, one label: the rounding bound.
    result = noise.check_realized(counts, 0.25, "exact")
    assert result["bound"] == 0.25 and result["bound_kind"] == "rounding (1 label per class)"
    assert result["max_abs_deviation"] == 0.25 and result["within"] is True
    assert "max_z" not in result
    assert noise.check_realized(np.array([[1, 3], [1, 3]]), 0.25, "exact")["within"] is False
    assert noise.check_realized(np.array([[8, 0], [1, 3]]), 0.25, "exact")["bound"] == 0.25


@pytest.mark.parametrize("p", [0.5, 0.9, 0.975, 1 - 0.05 / 200, 1 - 1e-6, 0.01])
def test_the_normal_quantile_is_scipys(p):
    assert noise._normal_quantile(p) == pytest.approx(stats.norm.ppf(p), abs=1e-9)
