"""Confusion matrices and confusion pairs, for one run and over repeated runs.

Pure numpy on labels and predictions: the trainer calls `confusion_matrix`
at the end of a run, the report aggregates what the runs stored.
"""

from pathlib import Path

import numpy as np

from lenet_bench.config import RANK_RUNS_BY
from lenet_bench.files import atomic_write_npz


def row_normalize(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (a row of zeros stays zeros)."""
    counts = np.asarray(counts, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def confusion_matrix(true_labels: np.ndarray, predicted: np.ndarray,
                     num_classes: int) -> np.ndarray:
    """counts[i, j]: test images of true class i predicted as class j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(true_labels), np.asarray(predicted)), 1)
    return counts


def top_pairs(counts: np.ndarray, k: int = 3) -> list[dict]:
    """The k largest off-diagonal cells i -> j (true i predicted as j), largest first.

    Each: {"true", "predicted", "count", "rate"}, rate = count / images of class i.
    Ties are broken by (true, predicted) so the order is reproducible.
    """
    counts = np.asarray(counts)
    rates = row_normalize(counts)
    cells = [(int(counts[i, j]), i, j) for i in range(len(counts)) for j in range(len(counts))
             if i != j]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [{"true": i, "predicted": j, "count": count, "rate": float(rates[i, j])}
            for count, i, j in cells[:k]]


def top_unordered_pairs(counts: np.ndarray, k: int = 3) -> list[dict]:
    """The k largest i <-> j sums (count[i, j] + count[j, i]), largest first, with i < j."""
    counts = np.asarray(counts)
    cells = [(int(counts[i, j] + counts[j, i]), i, j) for i in range(len(counts))
             for j in range(i + 1, len(counts))]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [{"a": i, "b": j, "count": count, "a_to_b": int(counts[i, j]),
             "b_to_a": int(counts[j, i])} for count, i, j in cells[:k]]


def pair_statistics(matrices: list[np.ndarray], k: int = 3) -> list[dict]:
    """Confusion pairs over repeated runs (one matrix per run).

    Returns one entry per ordered pair that is in the top k of at least one
    run, ordered by mean count: mean and sample std (ddof=1) of its count over
    the runs, its mean rate and per-run rates, and in how many runs it is in the top k.
    """
    stack = np.asarray(matrices, dtype=float)
    in_top = {}
    for matrix in stack:
        for pair in top_pairs(matrix, k):
            key = (pair["true"], pair["predicted"])
            in_top[key] = in_top.get(key, 0) + 1
    rates = np.asarray([row_normalize(matrix) for matrix in stack])
    rows = []
    for (i, j), times in in_top.items():
        counts = stack[:, i, j]
        rows.append({"true": i, "predicted": j, "count_mean": float(counts.mean()),
                     "count_std": float(counts.std(ddof=1)) if len(counts) > 1 else float("nan"),
                     "rate_mean": float(rates[:, i, j].mean()),
                     "rates": [float(rate) for rate in rates[:, i, j]],
                     "in_top_k": times, "runs": len(stack)})
    rows.sort(key=lambda row: (-row["count_mean"], row["true"], row["predicted"]))
    return rows


def example_indices(true_labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
                    true_class: int, predicted_class: int, count: int = 8) -> np.ndarray:
    """Test indices of class `true_class` predicted as `predicted_class`, most confident first."""
    matches = np.flatnonzero((np.asarray(true_labels) == true_class)
                             & (np.asarray(predicted) == predicted_class))
    order = np.argsort(-np.asarray(confidence, dtype=float)[matches], kind="stable")
    return matches[order][:count]


# Spec fields that are not part of a grid point: the seed repeats a point.
REPEAT_FIELDS = ("seed",)


def point_of(run: dict) -> tuple:
    """A run's grid point: its spec without the seed, as a hashable tuple of items."""
    return tuple(sorted((name, value) for name, value in run["spec"].items()
                        if name not in REPEAT_FIELDS))


def group_by_point(runs: list[dict]) -> dict[tuple, list[dict]]:
    """Runs grouped by grid point, in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault(point_of(run), []).append(run)
    return groups


def final_accuracy(run: dict) -> float:
    """Test accuracy of a finished run's final model: its last epoch's, or with early
    stopping that of its restored best validation epoch."""
    if run["status"] == "done" and run.get("final_test_accuracy") is not None:
        return run["final_test_accuracy"]
    values = run["history"]["test_accuracy"]
    return values[-1] if run["status"] == "done" and values and values[-1] is not None else np.nan


def best_point_runs(runs: list[dict]) -> list[dict]:
    """The finished runs of the grid point with the highest mean final test accuracy."""
    best, best_mean = [], -1.0
    for members in group_by_point(runs).values():
        done = [run for run in members if run["status"] == "done" and "confusion_matrix" in run]
        if done and (mean := float(np.mean([final_accuracy(run) for run in done]))) > best_mean:
            best, best_mean = done, mean
    return best


def write_confusion_examples(path, runs: list[dict], runs_dir, test_images: np.ndarray,
                             test_labels: np.ndarray, k: int = 3, per_pair: int = 8) -> bool:
    """Saves example test images of the top-k confusion pairs to `path` (.npz).

    The pairs are those of the best grid point's summed confusion matrix; the
    images are that point's lowest-seed run's most confident mistakes, read
    from its `<key>.predictions.npz`. The report shows them without needing
    the dataset. Returns False when no finished run has predictions.
    """
    best = sorted(best_point_runs(runs), key=lambda run: run["spec"]["seed"])
    prediction_files = [Path(runs_dir) / f"{run['key']}.predictions.npz" for run in best]
    if not best or not prediction_files[0].is_file():
        return False
    with np.load(prediction_files[0]) as stored:
        predicted, confidence = stored["predicted"], stored["confidence"].astype(np.float32)
    pairs = top_pairs(np.sum([run["confusion_matrix"] for run in best], axis=0), k)
    images = np.zeros((len(pairs), per_pair) + test_images.shape[1:], dtype=np.uint8)
    confidences = np.full((len(pairs), per_pair), np.nan, dtype=np.float32)
    indices = np.full((len(pairs), per_pair), -1, dtype=np.int64)
    for row, pair in enumerate(pairs):
        found = example_indices(test_labels, predicted, confidence, pair["true"],
                                pair["predicted"], per_pair)
        images[row, :len(found)] = test_images[found]
        confidences[row, :len(found)] = confidence[found]
        indices[row, :len(found)] = found
    atomic_write_npz(path, compressed=True,
                     pairs=np.array([[p["true"], p["predicted"]] for p in pairs]),
                     images=images, confidence=confidences, test_indices=indices,
                     run_key=np.array(best[0]["key"]))
    return True


# ------------------------------------------------------------- soft metrics


def soft_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The mean softmax probability at the true label: (N, K) probabilities, (N,) labels."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    return float(probabilities[np.arange(len(labels)), labels].mean())


def soft_confusion(probabilities: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Row i: the mean softmax vector over the images of true class i (rows sum to 1;
    a class with no image gets a row of zeros)."""
    sums = np.zeros((num_classes, num_classes))
    np.add.at(sums, np.asarray(labels), np.asarray(probabilities, dtype=np.float64))
    return soft_confusion_from_sums(sums)


def soft_confusion_from_sums(sums: np.ndarray) -> np.ndarray:
    """Row-normalizes one_hot(labels)^T @ probabilities (what the trainers accumulate):
    each row's sum is the number of images of that class, since probabilities sum to 1."""
    sums = np.asarray(sums, dtype=np.float64)
    totals = sums.sum(axis=1, keepdims=True)
    return np.divide(sums, totals, out=np.zeros_like(sums), where=totals > 0)


# ------------------------------------------------ best, worst, median runs

def run_accuracy(run: dict, rank_by: str) -> float:
    """A run's final ('final') or best-epoch ('best') test accuracy (NaN if it has none)."""
    if rank_by == "best":
        value = run.get("best_test_accuracy")
        return np.nan if value is None else float(value)
    return float(final_accuracy(run))


def best_worst_median(runs: list[dict], rank_by: str = "final") -> dict[str, dict]:
    """{'best', 'median', 'worst'}: runs of one grid point ranked by `rank_by` accuracy.

    Only finished runs ('done') count. Ties go to the lower seed; for an even
    count the median is the lower-ranked of the two middle runs. Empty if no
    run finished.
    """
    if rank_by not in RANK_RUNS_BY:
        raise ValueError(f"rank_by {rank_by!r} is not one of {RANK_RUNS_BY}")
    done = [run for run in runs if run["status"] == "done"
            and np.isfinite(run_accuracy(run, rank_by))]
    if not done:
        return {}
    ranked = sorted(done, key=lambda run: (-run_accuracy(run, rank_by), run["spec"]["seed"]))
    return {"best": ranked[0], "median": ranked[len(ranked) // 2], "worst": ranked[-1]}


# ------------------------------------------------------ out of distribution

OOD_THRESHOLD = 0.9
OOD_HISTOGRAM_BINS = 20


def ood_metrics(in_confidence: np.ndarray, out_confidence: np.ndarray,
                threshold: float = OOD_THRESHOLD) -> dict:
    """Max-softmax confidence as an out-of-distribution detector.

    Args:
      in_confidence: max softmax probability of each in-distribution image.
      out_confidence: the same for each out-of-distribution image.
      threshold: the confidence above which an image counts as 'confident'.

    Returns:
      'auroc' (scikit-learn's ROC AUC with in-distribution as the positive
      class: the chance that a random in-distribution image gets a higher
      confidence than a random OOD image, ties counting half),
      'ood_confident_fraction' and 'in_confident_fraction' (share with
      confidence > threshold), the mean confidences, and histograms of both
      over OOD_HISTOGRAM_BINS equal bins of [0, 1].
    """
    from sklearn.metrics import roc_auc_score

    in_confidence = np.asarray(in_confidence, dtype=np.float64)
    out_confidence = np.asarray(out_confidence, dtype=np.float64)
    scores = np.concatenate([in_confidence, out_confidence])
    is_in = np.concatenate([np.ones(len(in_confidence)), np.zeros(len(out_confidence))])
    edges = np.linspace(0, 1, OOD_HISTOGRAM_BINS + 1)
    return {"auroc": float(roc_auc_score(is_in, scores)),
            "threshold": threshold,
            "ood_confident_fraction": float((out_confidence > threshold).mean()),
            "in_confident_fraction": float((in_confidence > threshold).mean()),
            "ood_confidence_mean": float(out_confidence.mean()),
            "in_confidence_mean": float(in_confidence.mean()),
            "in_histogram": np.histogram(in_confidence, edges)[0].tolist(),
            "ood_histogram": np.histogram(out_confidence, edges)[0].tolist()}
