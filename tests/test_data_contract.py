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


def fake_keras(monkeypatch, load_data):
    """A stand-in `keras` module whose datasets.<name>.load_data is `load_data(name)`."""
    import sys
    import types

    datasets = types.SimpleNamespace(**{
        name: types.SimpleNamespace(load_data=lambda name=name: load_data(name))
        for name in ("mnist", "fashion_mnist", "cifar10")})
    monkeypatch.setitem(sys.modules, "keras", types.SimpleNamespace(datasets=datasets))


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28)), ("fashion_mnist", (28, 28)),
                                         ("cifar10", (32, 32, 3))])
def test_the_keras_fallback_reads_each_dataset_as_the_loader_does(monkeypatch, name, shape):
    """keras hands (N, H, W) or (N, H, W, 3) images and (N,) or (N, 1) labels; the
    loader makes them (N, H, W, C) and int64 (N,), and records where they came from."""
    monkeypatch.delenv("LENET_BENCH_DATA", raising=False)
    rng = np.random.default_rng(0)

    def load_data(asked):
        assert asked == name
        return ((rng.integers(0, 256, (6,) + shape, dtype=np.uint8), np.arange(6)[:, None] % 10),
                (rng.integers(0, 256, (4,) + shape, dtype=np.uint8), np.arange(4) % 10))

    fake_keras(monkeypatch, load_data)
    dataset = data.load(name)
    assert dataset.train_images.shape == (6,) + tuple(data.IMAGE_SHAPES[name])
    assert dataset.train_labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert dataset.test_labels.dtype == np.int64 and dataset.test_labels.shape == (4,)
    assert dataset.class_names == PUBLISHED_CLASSES[name]
    assert dataset.source == f"keras.datasets.{name}"
    assert data.describe_data(dataset) == {
        "files": {}, "canonical": None, "source": f"keras.datasets.{name}", "train_images": 6,
        "test_images": 4, "classes": 6, "train_per_class": [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        "image_shape": list(data.IMAGE_SHAPES[name]),
        "note": "keras.datasets download or cache (keras checks the files it downloads; "
                "not hashed here)"}


def test_the_keras_fallback_failing_says_what_to_pass(monkeypatch):
    monkeypatch.delenv("LENET_BENCH_DATA", raising=False)

    def offline(name):
        raise OSError("URL fetch failure:\n  [Errno -2]   Name or service not known")

    fake_keras(monkeypatch, offline)
    with pytest.raises(data.DataNotFoundError) as raised:
        data.load("fashion_mnist")
    assert str(raised.value) == (
        "fashion_mnist: no --data_dir or LENET_BENCH_DATA given, and keras.datasets could not "
        "load it (URL fetch failure: [Errno -2] Name or service not known); pass "
        "--data_dir=DIR (make bench DATA_DIR=DIR, or set LENET_BENCH_DATA) to a folder holding "
        "fashion-mnist/")


def test_what_a_record_says_of_data_read_without_release_files(tmp_path):
    """Decoded image folders: the arrays' digest and why they are never the release; data
    made in memory (synthetic): no files hashed."""
    from test_data_errors import write_image_folder

    write_image_folder(tmp_path / "mnist", tuple("0123456789"), (28, 28), mode="L")
    record = data.describe_data(data.load("mnist", tmp_path, cache_dir=tmp_path / "cache"))
    assert len(record.pop("arrays_sha256")) == 64
    assert record == {
        "files": {}, "canonical": False,
        "note": "image folder: decoded arrays hashed; never the published release (that is "
                "IDX or pickle files)",
        "source": str(tmp_path / "mnist"), "train_images": 10, "test_images": 10,
        "classes": 10, "train_per_class": [1] * 10, "image_shape": [28, 28, 1]}
    synthetic = data.make_synthetic(num_train=20, num_test=5)
    assert data.describe_data(synthetic) == {
        "files": {}, "canonical": None, "note": "synthetic(seed=0), no files hashed",
        **data.counts_provenance(synthetic)}


def test_digits_are_sklearns_images_blown_up_3x3_and_split_with_random_state_0():
    """Each image is its own sklearn digit (each pixel a 3x3 block, 0..16 scaled to 0..255,
    padded by 2), beside its own label, in scikit-learn's stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    train, test = train_test_split(np.arange(1797), test_size=0.25, stratify=digits.target,
                                   random_state=0)
    dataset = data.load("digits")
    assert (dataset.name, dataset.source) == ("digits", "sklearn.datasets.load_digits")
    assert dataset.train_labels.tolist() == digits.target[train].tolist()
    for split, index in (("train", train), ("test", test)):
        images = getattr(dataset, f"{split}_images")[..., 0]
        assert images.shape == (len(index), 28, 28)
        for row in (0, 1, len(index) - 1):
            expected = np.round(digits.images[index[row]] * 255 / 16)
            np.testing.assert_array_equal(images[row, 2:26, 2:26][::3, ::3], expected)
            np.testing.assert_array_equal(images[row, 3:27:3, 4:28:3], expected)


def test_synthetic_has_its_documented_sizes_and_every_class():
    dataset = data.load("synthetic")
    assert (len(dataset.train_labels), len(dataset.test_labels)) == (1000, 200)
    assert sorted(np.unique(dataset.train_labels)) == list(range(10))


def test_how_to_provide_names_each_folder():
    assert data.how_to_provide(["mnist", "cifar10"]) == (
        "pass --data_dir=DIR (make bench DATA_DIR=DIR, or set LENET_BENCH_DATA) to a folder "
        "holding mnist/, cifar10/ (each with IDX files, CIFAR-10 python batches, or "
        "train/<class>/ and test/<class>/ image folders), or run with network access so "
        "keras.datasets can download them")
