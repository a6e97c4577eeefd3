"""What the loader promises a user about their files (lenet_bench.inputs.data), spelled
out here rather than read from the module, so that a slip in one of its tables fails a
test: the published class names in label order (reports name confusion pairs with them),
every folder name a dataset is found under, which of --data_dir and LENET_BENCH_DATA wins,
where LENET_BENCH_CACHE puts decoded image folders, and the Dataset's shape. No keras,
no network: `make mutation` runs these against data.py."""

import dataclasses

import numpy as np
import pytest
from conftest import write_idx_dataset

from lenet_bench.errors import InputError
from lenet_bench.inputs import data

PUBLISHED_CLASSES = {
    "mnist": ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                "ship", "truck"),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_CLASSES))
def test_class_names_are_the_published_ones_in_label_order(name):
    assert data.CLASS_NAMES[name] == PUBLISHED_CLASSES[name]


@pytest.mark.parametrize("name, folder", [
    ("mnist", "mnist"), ("mnist", "MNIST"),
    ("fashion_mnist", "fashion-mnist"), ("fashion_mnist", "fashion_mnist"),
    ("fashion_mnist", "Fashion-MNIST"),
])
def test_an_idx_dataset_is_found_under_each_of_its_folder_names(tmp_path, name, folder):
    write_idx_dataset(tmp_path / folder)
    dataset = data.load(name, tmp_path)
    assert dataset.source == str(tmp_path / folder)
    assert dataset.class_names == PUBLISHED_CLASSES[name]


@pytest.mark.parametrize("folder", ["cifar10", "cifar-10-batches-py", "cifar-10", "CIFAR-10"])
def test_cifar10_is_found_under_each_of_its_folder_names(tmp_path, monkeypatch, folder):
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "data_batch_1").touch()  # Detected as CIFAR-10 pickles, not read.
    found = []
    monkeypatch.setattr(data, "load_folder", lambda name, path, cache: found.append(path))
    monkeypatch.setattr(data, "check_folder_name", lambda name, path: None)
    data.load("cifar10", tmp_path)
    assert found == [tmp_path / folder]


def test_the_data_dir_flag_wins_over_the_environment(tmp_path, monkeypatch):
    write_idx_dataset(tmp_path / "flag" / "mnist")
    write_idx_dataset(tmp_path / "environment" / "mnist", train=7)
    monkeypatch.setenv("LENET_BENCH_DATA", str(tmp_path / "environment"))
    assert data.load("mnist", tmp_path / "flag").source == str(tmp_path / "flag" / "mnist")
    assert len(data.load("mnist").train_labels) == 7


def test_with_no_data_dir_anywhere_the_download_is_told_so(monkeypatch):
    monkeypatch.delenv("LENET_BENCH_DATA", raising=False)
    monkeypatch.setattr(data, "_load_from_keras", lambda name, looked_in: looked_in)
    assert data.load("mnist") == "no --data_dir or LENET_BENCH_DATA given"


def test_the_cache_environment_variable_places_decoded_image_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("LENET_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_root() == tmp_path / "cache"
    monkeypatch.delenv("LENET_BENCH_CACHE")
    assert data.cache_root() == tmp_path / "xdg" / "lenet_bench"


def test_an_unknown_dataset_name_is_one_line_naming_the_choices():
    with pytest.raises(InputError, match=r"^--dataset='emnist' is unknown: expected one of "
                       r"mnist, fashion_mnist, cifar10, digits, synthetic$"):
        data.load("emnist")


def test_synthetic_loads_by_name_and_a_dataset_is_frozen_with_hwc_images():
    dataset = data.load("synthetic")
    assert dataset.name == "synthetic"
    assert dataset.image_shape == dataset.train_images.shape[1:] == (28, 28, 1)
    assert dataset.num_classes == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        dataset.name = "mnist"
    other = dataclasses.replace(dataset, provenance={"files": "elsewhere"})
    assert other == dataset  # What was read is for the record, not the data's identity.
    assert np.array_equal(other.train_labels, dataset.train_labels)


def test_a_data_dir_without_the_dataset_says_where_it_looked_before_the_download(
        tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(data, "_load_from_keras", lambda name, looked_in: (
        calls.append("download"), looked_in)[1])
    looked_in = data.load("fashion_mnist", tmp_path, before_keras=lambda: calls.append("hook"))
    assert looked_in == (f"nothing under --data_dir={tmp_path} (looked for fashion-mnist/, "
                         "fashion_mnist/, Fashion-MNIST/)")
    assert calls == ["hook", "download"]


def test_synthetic_pixels_are_clipped_not_wrapped():
    """Pattern plus noise, clipped to 0..255: where a class is bright on average, its
    pixels are almost never black (a value of 256 cast to uint8 would wrap to 0)."""
    dataset = data.make_synthetic(num_train=2000, num_test=10)
    images, labels = dataset.train_images[..., 0], dataset.train_labels
    means = np.stack([images[labels == label].mean(0) for label in range(10)])
    bright = means[labels] > 180
    assert bright.sum() > 10_000
    assert (images[bright] == 0).mean() < 0.01
    assert (images[bright] == 255).mean() > 0.05
