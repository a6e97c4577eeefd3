"""The readers on tiny files the tests write, and their error messages."""

import gzip
import pickle
import re
import shutil

import numpy as np
import pytest
from conftest import idx_bytes, write_idx_dataset
from test_data_contract import PUBLISHED_CLASSES

from lenet_bench.errors import DataNotFoundError, InputError
from lenet_bench.inputs import data


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    arrays = write_idx_dataset(tmp_path / "mnist", gz=gz)
    dataset = data.load("mnist", tmp_path)
    assert dataset.train_images.shape == (12, 28, 28, 1) and dataset.train_images.dtype == np.uint8
    np.testing.assert_array_equal(dataset.train_images[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(dataset.test_labels, arrays["test"][1])
    assert dataset.class_names == tuple("0123456789")
    assert dataset.source == str(tmp_path / "mnist")


def test_fashion_folder_names_and_dataset_folder_itself(tmp_path):
    write_idx_dataset(tmp_path / "fashion-mnist")
    assert data.load("fashion_mnist", tmp_path).class_names[6] == "Shirt"
    assert data.load("fashion_mnist", tmp_path / "fashion-mnist").train_images.shape[0] == 12


def corrupt(folder, stem, mutate):
    path = folder / f"{stem}.gz"
    path.write_bytes(mutate(path.read_bytes()))
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda raw: raw[: len(raw) // 2], r"truncated or corrupt gzip file"),
    (lambda raw: gzip.compress(b"\x00\x00\x0c\x03" + gzip.decompress(raw)[4:]),
     r"wrong IDX magic number 00000c03: expected 0000080N"),
    (lambda raw: gzip.compress(gzip.decompress(raw)[:-7]),
     r"holds 9401 data bytes, expected 9408 for shape \(12, 28, 28\) \(truncated file\?\)"),
])
def test_corrupt_idx_files_name_the_file(tmp_path, mutate, message):
    write_idx_dataset(tmp_path / "mnist")
    path = corrupt(tmp_path / "mnist", "train-images-idx3-ubyte", mutate)
    with pytest.raises(InputError, match=rf"^{path}: {message}"):
        data.load("mnist", tmp_path)


def test_image_and_label_counts_must_match(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    labels = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(11, np.uint8))))
    with pytest.raises(InputError, match=r"holds 12 images but .*train-labels.* holds 11 labels"):
        data.load("mnist", tmp_path)


def test_labels_out_of_range(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    labels = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.array([0, 1, 12, 3, 4]))))
    with pytest.raises(InputError, match=r"t10k-labels-idx1-ubyte.gz: label 12 is out of range: expected 0..9"):
        data.load("mnist", tmp_path)


def test_missing_data_dir_and_empty_dataset_folder(tmp_path):
    with pytest.raises(InputError, match=rf"^--data_dir={tmp_path / 'nope'}: no such directory$"):
        data.load("mnist", tmp_path / "nope")
    (tmp_path / "mnist").mkdir()
    with pytest.raises(InputError, match=r"mnist: holds no mnist data: expected IDX files"):
        data.load("mnist", tmp_path)


def test_data_dir_from_environment(tmp_path, monkeypatch):
    write_idx_dataset(tmp_path / "mnist")
    monkeypatch.setenv("LENET_BENCH_DATA", str(tmp_path))
    assert data.load("mnist").source == str(tmp_path / "mnist")
    monkeypatch.setenv("LENET_BENCH_DATA", str(tmp_path / "missing"))
    with pytest.raises(InputError, match=r"^LENET_BENCH_DATA=.*missing: no such directory"):
        data.load("mnist")


def test_not_found_anywhere_says_what_to_do(tmp_path, monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure: [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(DataNotFoundError, match=r"^cifar10: nothing under --data_dir=.* \(looked for "
                       r"cifar10/, .*\), and keras.datasets could not load it \(URL fetch failure.*\); "
                       r"pass --data_dir=DIR \(make bench DATA_DIR=DIR, or set LENET_BENCH_DATA\)"):
        data.load("cifar10", tmp_path)


def write_cifar_pickles(folder, per_batch=4):
    """Writes the official layout: rows of 3072 bytes, channel-major (R, G, B planes)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:  # The release's.
        rows = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()  # Python ints, as in CIFAR-10
        with open(folder / name, "wb") as file:
            pickle.dump({b"data": rows, b"labels": labels, b"batch_label": name.encode()}, file)
        batches[name] = rows, labels
    return batches


def test_cifar_pickles_round_trip(tmp_path):
    batches = write_cifar_pickles(tmp_path / "cifar-10-batches-py")
    dataset = data.load("cifar10", tmp_path)
    assert dataset.train_images.shape == (20, 32, 32, 3)
    assert dataset.test_images.shape == (4, 32, 32, 3)
    rows, labels = batches["data_batch_2"]
    image = dataset.train_images[4]  # first image of the second batch
    np.testing.assert_array_equal(image[..., 0].ravel(), rows[0, :1024])  # red plane
    np.testing.assert_array_equal(image[..., 2].ravel(), rows[0, 2048:])  # blue plane
    assert dataset.train_labels[4] == labels[0]
    assert dataset.class_names[3] == "cat"


def test_corrupt_cifar_pickle(tmp_path):
    write_cifar_pickles(tmp_path / "cifar10")
    (tmp_path / "cifar10" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match=r"test_batch: not a CIFAR-10 python batch"):
        data.load("cifar10", tmp_path)


CIFAR10_CLASSES = PUBLISHED_CLASSES["cifar10"]


def write_image_folder(root, classes=CIFAR10_CLASSES, per_class=2, size=(32, 32), suffix=".png"):
    from PIL import Image

    rng = np.random.default_rng(2)
    for split in ("train", "test"):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, size + (3,), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i:04d}{suffix}")


def test_image_folder_reads_and_caches(tmp_path):
    write_image_folder(tmp_path / "cifar10")
    cache = tmp_path / "cache"
    dataset = data.load("cifar10", tmp_path, cache_dir=cache)
    assert dataset.train_images.shape == (20, 32, 32, 3)
    assert list(dataset.train_labels) == [label for label in range(10) for _ in range(2)]
    assert len(list(cache.glob("*.npz"))) == 1
    from PIL import Image
    expected = np.asarray(Image.open(tmp_path / "cifar10" / "test" / "dog" / "0001.png"))
    again = data.load("cifar10", tmp_path, cache_dir=cache)  # served from the cache
    np.testing.assert_array_equal(again.test_images[2 * 5 + 1], expected)  # dog is class 5
    # An edited tree is decoded again, and its old entry does not linger.
    (tmp_path / "cifar10" / "test" / "dog" / "0001.png").unlink()
    cached_before = set(cache.glob("*.npz"))
    edited = data.load("cifar10", tmp_path, cache_dir=cache)
    assert len(edited.test_images) == len(again.test_images) - 1
    assert len(list(cache.glob("*.npz"))) == 1 and set(cache.glob("*.npz")) != cached_before


def test_image_folder_errors(tmp_path):
    write_image_folder(tmp_path / "cifar10", classes=("cat", "kangaroo"))
    with pytest.raises(InputError, match=r"kangaroo: 'kangaroo' is not a known class: expected one of airplane"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache")
    write_image_folder(tmp_path / "other" / "cifar10")
    broken = tmp_path / "other" / "cifar10" / "train" / "cat" / "0001.png"
    broken.write_bytes(b"\x89PNG garbage")
    with pytest.raises(InputError, match=rf"^{broken}: unreadable image"):
        data.load("cifar10", tmp_path / "other", cache_dir=tmp_path / "cache")


def class_list():
    return re.escape(", ".join(CIFAR10_CLASSES))


def test_image_folder_missing_class_folder_is_refused(tmp_path):
    write_image_folder(tmp_path / "cifar10", per_class=1)
    shutil.rmtree(tmp_path / "cifar10" / "test" / "truck")
    missing = tmp_path / "cifar10" / "test" / "truck"
    with pytest.raises(InputError, match=rf"^{re.escape(str(missing))} is missing: expected one "
                       rf"folder per class: {class_list()}$"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache")
    shutil.rmtree(tmp_path / "cifar10" / "test" / "bird")
    with pytest.raises(InputError, match=r"test/bird is missing \(and truck\): expected one folder"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache")


def test_image_folder_empty_class_folder_is_refused(tmp_path):
    write_image_folder(tmp_path / "cifar10", per_class=1, suffix=".jpg")
    empty = tmp_path / "cifar10" / "train" / "deer"
    for image in empty.iterdir():
        image.unlink()
    (empty / "notes.txt").write_text("not an image")
    with pytest.raises(InputError, match=rf"^{re.escape(str(empty))} holds no images: expected at "
                       r"least one \.png/\.jpg/\.jpeg/\.bmp file in each class folder$"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache")


def test_image_folder_cache_never_serves_a_tree_that_is_bad_now(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    write_image_folder(tmp_path / "cifar10", per_class=1, size=(32, 32))
    data.load("cifar10", tmp_path, cache_dir=cache)  # a cache of the good tree
    shutil.rmtree(tmp_path / "cifar10" / "test" / "ship")
    with pytest.raises(InputError, match=r"test/ship is missing"):
        data.load("cifar10", tmp_path, cache_dir=cache)
    # A cache written from the bad tree itself (as a version without the check did).
    def unchecked(split_dir, class_names):
        return [(path, class_names.index(path.parent.name))
                for path in sorted(split_dir.glob("*/*.png"))]

    with monkeypatch.context() as patch:
        patch.setattr(data, "_list_image_files", unchecked)
        assert len(data.load("cifar10", tmp_path, cache_dir=cache).test_labels) == 9
    assert len(list(cache.glob("*.npz"))) == 1
    with pytest.raises(InputError, match=r"test/ship is missing"):
        data.load("cifar10", tmp_path, cache_dir=cache)


def test_digits_is_28x28_with_a_fixed_split():
    dataset = data.load("digits")
    assert dataset.train_images.shape[1:] == (28, 28, 1)
    assert len(dataset.train_labels) + len(dataset.test_labels) == 1797
    assert dataset.train_images.max() == 255 and dataset.train_images[:, :2].max() == 0  # padded
    np.testing.assert_array_equal(data.load("digits").test_labels, dataset.test_labels)


def test_stratified_subset_of_class_sorted_data_has_every_class():
    labels = np.repeat(np.arange(10), 500)  # stored sorted by class, like ../shared mnist
    order = data.stratified_order(labels, seed=0)
    for n in (10, 20, 55):
        counts = np.bincount(labels[order[:n]], minlength=10)
        assert counts.min() >= n // 10 and counts.max() <= -(-n // 10)
    assert sorted(order) == list(range(5000))
    assert not np.array_equal(order, data.stratified_order(labels, seed=1))
    np.testing.assert_array_equal(order, data.stratified_order(labels, seed=0))


def test_stratified_subset_keeps_class_proportions():
    labels = np.array([0] * 80 + [1] * 20)
    counts = np.bincount(labels[data.stratified_order(labels, seed=5)[:10]])
    assert list(counts) == [8, 2]


def test_take_train_subset_rejects_too_many():
    dataset = data.make_synthetic(num_train=30, num_test=5)
    assert len(data.take_train_subset(dataset, 20, seed=0).train_labels) == 20
    with pytest.raises(InputError, match=r"^--train_size=31 is invalid: expected at most 30"):
        data.take_train_subset(dataset, 31, seed=0)
