"""The subsets a run trains and validates on (lenet_bench.inputs.data): the `train_size`
subset, and the search's validation splits. A slip here trains on other images than the
record says, or leaks validation images into training, with no error; these tests are fast
(no Keras) and `make mutation` runs them against data.py."""

import dataclasses

import numpy as np
import pytest

from lenet_bench.errors import InputError
from lenet_bench.inputs import data

TRAIN = 600


def tagged(train=TRAIN, test=20) -> data.Dataset:
    """Synthetic images whose first two pixels spell their row number."""
    dataset = data.make_synthetic(num_train=train, num_test=test)
    images = dataset.train_images.copy()
    rows = np.arange(train)
    images[:, 0, 0, 0], images[:, 0, 1, 0] = rows // 256, rows % 256
    return dataclasses.replace(dataset, train_images=images)


def rows_of(images: np.ndarray) -> np.ndarray:
    return images[:, 0, 0, 0].astype(int) * 256 + images[:, 0, 1, 0]


def share_within_one(labels, part, size) -> bool:
    full = np.bincount(labels, minlength=10)
    counts = np.bincount(part, minlength=10)
    return bool(np.all(np.abs(counts - full * size / full.sum()) <= 1))


# ------------------------------------------------------------------ train_size


@pytest.mark.parametrize("train_size", [10, 57, 300])
def test_the_subset_is_stratified_and_its_images_keep_their_labels(train_size):
    dataset = tagged()
    subset = data.take_train_subset(dataset, train_size, seed=0)
    rows = rows_of(subset.train_images)
    assert len(set(rows)) == train_size and list(rows) == sorted(rows)
    np.testing.assert_array_equal(subset.train_labels, dataset.train_labels[rows])
    assert share_within_one(dataset.train_labels, subset.train_labels, train_size)
    assert subset.test_images is dataset.test_images and subset.name == dataset.name


def test_the_subset_follows_its_seed_and_grows_by_prefix():
    dataset = tagged()
    first = set(rows_of(data.take_train_subset(dataset, 100, seed=0).train_images))
    assert set(rows_of(data.take_train_subset(dataset, 100, seed=0).train_images)) == first
    assert set(rows_of(data.take_train_subset(dataset, 100, seed=1).train_images)) != first
    assert set(rows_of(data.take_train_subset(dataset, 40, seed=0).train_images)) < first


def test_no_train_size_and_the_whole_set():
    dataset = tagged()
    assert data.take_train_subset(dataset, None, seed=0) is dataset
    whole = data.take_train_subset(dataset, TRAIN, seed=3)
    np.testing.assert_array_equal(rows_of(whole.train_images), np.arange(TRAIN))


def test_stratified_order_interleaves_the_classes():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    order = data.stratified_order(labels, seed=4)
    assert sorted(order) == list(range(100))
    for size in (1, 7, 10, 33, 99):
        counts = np.bincount(labels[order[:size]], minlength=3)
        assert np.all(np.abs(counts - np.array([50, 30, 20]) * size / 100) <= 1), (size, counts)
    shuffled = np.random.default_rng(1).permutation(100)
    assert set(data.stratified_order(labels[shuffled], seed=4)[:10]) != set(order[:10])


def test_stratified_order_with_an_absent_class():
    labels = np.array([0, 0, 2, 2, 2, 2])
    order = data.stratified_order(labels, seed=0)
    assert sorted(order) == list(range(6))
    assert sorted(labels[order[:3]]) == [0, 2, 2]


# ------------------------------------------------------------------ validation splits


@pytest.mark.parametrize("text, steps", [
    ("", []),
    ("kfold:3:0:0", [("kfold", 3, 0, 0)]),
    ("kfold:2:1:7", [("kfold", 2, 1, 7)]),
    ("holdout:0.2:5", [("holdout", 0.2, 5)]),
    ("kfold:5:2:0/kfold:3:1:0", [("kfold", 5, 2, 0), ("kfold", 3, 1, 0)]),
    ("holdout:0.5:1/kfold:4:3:2", [("holdout", 0.5, 1), ("kfold", 4, 3, 2)]),
])
def test_parse_split(text, steps):
    assert data.parse_split(text) == steps


@pytest.mark.parametrize("text", [
    "kfold:1:0:0", "kfold:3:3:0", "kfold:3:-1:0", "kfold:3:0", "kfold:3:0:0:1", "kfold:a:0:0",
    "holdout:0:0", "holdout:1:0", "holdout:1.5:0", "holdout:0.2", "holdout:0.2:x",
    "other:1:2", "kfold:3:0:0/", "/kfold:3:0:0", "kfold:3:0:0//holdout:0.2:0"])
def test_bad_splits_are_refused(text):
    with pytest.raises(InputError, match=f"^--split={text!r} is invalid: expected steps "
                                         r"'kfold:K:F:SEED' \(K >= 2, 0 <= F < K\)"):
        data.parse_split(text)


def check_split(dataset, split, held_out_size):
    """The split's training and held-out images: disjoint training images, labels kept."""
    result = data.apply_split(dataset, split)
    train, held_out = rows_of(result.train_images), rows_of(result.test_images)
    assert not set(train) & set(held_out)
    assert len(held_out) == held_out_size
    np.testing.assert_array_equal(result.train_labels, dataset.train_labels[train])
    np.testing.assert_array_equal(result.test_labels, dataset.train_labels[held_out])
    assert list(train) == sorted(train) and list(held_out) == sorted(held_out)
    assert result.source == dataset.source + "".join(f" [{step}]" for step in split.split("/"))
    return train, held_out


def test_kfold_folds_partition_the_training_set():
    dataset = tagged()
    held_out = []
    for fold in range(3):
        train, held = check_split(dataset, f"kfold:3:{fold}:0", TRAIN // 3)
        assert set(train) | set(held) == set(range(TRAIN))
        assert share_within_one(dataset.train_labels, dataset.train_labels[held], TRAIN // 3)
        held_out.append(set(held))
    assert set().union(*held_out) == set(range(TRAIN))
    other_seed = set(rows_of(data.apply_split(dataset, "kfold:3:0:1").test_images))
    assert other_seed != held_out[0]


def test_holdout_holds_out_a_stratified_fraction():
    dataset = tagged()
    train, held = check_split(dataset, "holdout:0.25:0", TRAIN // 4)
    assert set(train) | set(held) == set(range(TRAIN))
    assert share_within_one(dataset.train_labels, dataset.train_labels[held], TRAIN // 4)
    assert set(rows_of(data.apply_split(dataset, "holdout:0.25:1").test_images)) != set(held)
    assert data.apply_split(dataset, "") is dataset


def test_nested_splits_split_the_outer_training_part():
    dataset = tagged()
    outer_train, _ = check_split(dataset, "kfold:3:1:0", TRAIN // 3)
    inner_train, inner_held = check_split(dataset, "kfold:3:1:0/kfold:2:0:0", TRAIN // 3)
    assert set(inner_train) | set(inner_held) == set(outer_train)


def test_too_few_images_for_the_folds_or_the_fraction():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    with pytest.raises(InputError, match=r"^--cv_folds=3 is invalid: expected at most 2 "):
        data.kfold_indices(labels, 3, seed=0)
    assert len(data.kfold_indices(labels, 2, seed=0)) == 2
    with pytest.raises(InputError, match=r"^--cv_folds=2 is invalid: expected at most 0 "):
        data.kfold_indices(np.array([], dtype=np.int64), 2, seed=0)
    with pytest.raises(InputError, match=r"^--holdout_fraction=0.1 is invalid for 8 training "):
        data.holdout_indices(labels, 0.1, seed=0)
