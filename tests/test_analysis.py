import numpy as np
import pytest

from lenet_bench.records import analysis


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    counts = analysis.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 0], 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [2, 0, 1]])


KNOWN = np.array([[50, 1, 0, 9],
                  [0, 40, 7, 0],
                  [0, 7, 60, 2],
                  [12, 0, 0, 30]])


def test_top_pairs_on_a_matrix_with_known_answer():
    pairs = analysis.top_pairs(KNOWN, k=3)
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [(3, 0, 12), (0, 3, 9),
                                                                         (1, 2, 7)]
    assert pairs[0]["rate"] == pytest.approx(12 / 42)
    # 1->2 and 2->1 tie at 7: the lower (true, predicted) comes first.
    assert analysis.top_pairs(KNOWN, k=4)[3]["true"] == 2


def test_unordered_pairs_sum_both_directions():
    pairs = analysis.top_unordered_pairs(KNOWN, k=2)
    assert [(p["a"], p["b"], p["count"], p["a_to_b"], p["b_to_a"]) for p in pairs] == [
        (0, 3, 21, 9, 12), (1, 2, 14, 7, 7)]


def test_pair_statistics_over_runs_match_numpy():
    rng = np.random.default_rng(0)
    matrices = [KNOWN + rng.integers(0, 3, KNOWN.shape) for _ in range(5)]
    rows = {(r["true"], r["predicted"]): r for r in analysis.pair_statistics(matrices, k=2)}
    stack = np.array(matrices)
    assert rows[3, 0]["count_mean"] == pytest.approx(stack[:, 3, 0].mean())
    assert rows[3, 0]["count_std"] == pytest.approx(stack[:, 3, 0].std(ddof=1))
    assert rows[3, 0]["in_top_k"] == sum((3, 0) in {(p["true"], p["predicted"])
                                                    for p in analysis.top_pairs(m, 2)}
                                         for m in matrices)
    assert all(row["runs"] == 5 for row in rows.values())


def test_example_indices_are_the_most_confident_mistakes_of_the_pair():
    true = np.array([4, 4, 4, 9, 4, 4])
    predicted = np.array([9, 9, 4, 4, 9, 1])
    confidence = np.array([0.5, 0.9, 0.99, 0.8, 0.7, 0.6])
    np.testing.assert_array_equal(analysis.example_indices(true, predicted, confidence, 4, 9, 2),
                                  [1, 4])
