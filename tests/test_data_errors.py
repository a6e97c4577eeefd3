"""Every way a data folder can be wrong gets its one-line error, whole (the file, what is
wrong, what was expected), and the odd-but-valid layouts load: IDX headers byte by byte,
a folder named for another dataset, images of another shape, a training set missing a
class, CIFAR-10 batches that are not batches, image folders with a class missing or
empty. Files are tiny and written here; `make mutation` runs these against data.py."""

import gzip
import pickle
import re

import numpy as np
import pytest
from conftest import idx_bytes, write_idx_dataset
from test_data_contract import PUBLISHED_CLASSES

from lenet_bench.errors import InputError
from lenet_bench.inputs import data

MAGIC_EXPECTED = "expected 0000080N (unsigned bytes, N dimensions)"
CIFAR_EXPECTED = "expected a dict with b'data' (uint8, N x 3072) and b'labels' (N ints)"


def refused(load, message: str) -> None:
    """`load()` raises InputError whose whole text is `message`."""
    with pytest.raises(InputError) as raised:
        load()
    assert str(raised.value) == message


def write_gz(path, payload: bytes) -> None:
    path.write_bytes(gzip.compress(payload))


@pytest.mark.parametrize("header, magic", [
    (b"\x00\x00", "(file shorter than 4 bytes)"),
    (b"\x01\x00\x08\x03", "01000803"), (b"\x00\x01\x08\x03", "00010803"),
    (b"\x00\x00\x09\x03", "00000903"), (b"\x00\x00\x08\x00", "00000800"),
])
def test_each_byte_of_the_idx_magic_number_is_checked(tmp_path, header, magic):
    write_idx_dataset(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    write_gz(path, header)
    refused(lambda: data.load("mnist", tmp_path),
            f"{path}: wrong IDX magic number {magic}: {MAGIC_EXPECTED}")


def test_a_header_shorter_than_its_dimensions_is_truncated(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    write_gz(path, b"\x00\x00\x08\x03" + (12).to_bytes(4, "big"))
    refused(lambda: data.load("mnist", tmp_path),
            f"{path}: truncated IDX header: expected 3 dimensions")


@pytest.mark.parametrize("stem, array, message", [
    ("train-images-idx3-ubyte", np.zeros((12, 784), np.uint8),
     "has 2 dimensions, expected 3 (N, rows, cols)"),
    ("train-labels-idx1-ubyte", np.zeros((12, 1), np.uint8),
     "has 2 dimensions, expected 1 (N,)"),
])
def test_idx_files_of_the_wrong_rank(tmp_path, stem, array, message):
    write_idx_dataset(tmp_path / "mnist")
    path = tmp_path / "mnist" / f"{stem}.gz"
    write_gz(path, idx_bytes(array))
    refused(lambda: data.load("mnist", tmp_path), f"{path}: {message}")


def test_a_missing_idx_file_is_named_with_its_neighbour(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    refused(lambda: data.load("mnist", tmp_path),
            f"{tmp_path / 'mnist' / 't10k-labels-idx1-ubyte'}[.gz]: missing (expected beside "
            "train-images-idx3-ubyte[.gz])")


def test_counts_empty_splits_and_labels_out_of_range(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_dataset(folder)
    images, labels = folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    write_gz(labels, idx_bytes(np.zeros(11, np.uint8)))
    refused(lambda: data.load("mnist", tmp_path),
            f"{images}: holds 12 images but {labels} holds 11 labels: expected equal counts")
    write_gz(images, idx_bytes(np.zeros((0, 28, 28), np.uint8)))
    write_gz(labels, idx_bytes(np.zeros(0, np.uint8)))
    refused(lambda: data.load("mnist", tmp_path), f"{images}: holds no images")
    write_idx_dataset(folder)
    write_gz(labels, idx_bytes(np.array([0, 9, 10, 3] * 3, np.uint8)))
    refused(lambda: data.load("mnist", tmp_path),
            f"{labels}: label 10 is out of range: expected 0..9")


def test_the_dotted_spelling_of_some_mirrors_is_read(tmp_path):
    """train-images.idx3-ubyte and its three siblings, as some MNIST mirrors name them."""
    arrays = write_idx_dataset(tmp_path / "mnist", gz=False)
    for path in (tmp_path / "mnist").iterdir():
        path.rename(path.with_name(path.name.replace("-idx", ".idx")))
    dataset = data.load("mnist", tmp_path)
    np.testing.assert_array_equal(dataset.test_labels, arrays["test"][1])


@pytest.mark.parametrize("folder_name", ["fashion-mnist", "Fashion_MNIST", "FASHIONMNIST"])
def test_a_folder_named_for_another_dataset_is_refused(tmp_path, folder_name):
    """Named as fashion-mnist, whatever the case and the - or _: not MNIST's folder."""
    write_idx_dataset(tmp_path / folder_name)
    refused(lambda: data.load("mnist", tmp_path / folder_name),
            f"{tmp_path / folder_name}: is a fashion_mnist folder (by its name), not mnist: "
            "expected --data_dir to hold mnist (mnist/)")


def write_image_folder(root, classes, size, mode="RGB", per_class=1, skip=()):
    from PIL import Image

    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        for name in classes:
            (root / split / name).mkdir()
            if name in skip:
                continue
            for index in range(per_class):
                pixels = np.full(size + ((3,) if mode == "RGB" else ()), index * 40, np.uint8)
                Image.fromarray(pixels, mode).save(root / split / name / f"{index}.png")


DIGITS = PUBLISHED_CLASSES["mnist"]


@pytest.mark.parametrize("size, like", [((32, 32), " (like cifar10)"), ((30, 30), "")])
def test_images_of_another_shape_are_refused(tmp_path, size, like):
    write_image_folder(tmp_path / "mnist", DIGITS, size)
    shape = f"{size[0]}x{size[1]}x3"
    refused(lambda: data.load("mnist", tmp_path, cache_dir=tmp_path / "cache"),
            f"{tmp_path / 'mnist'}: train images are {shape}{like}, not the 28x28x1 of mnist: "
            "expected a folder holding mnist")


def test_grey_images_load_as_one_channel(tmp_path):
    write_image_folder(tmp_path / "mnist", DIGITS, (28, 28), mode="L", per_class=2)
    dataset = data.load("mnist", tmp_path, cache_dir=tmp_path / "cache")
    assert dataset.train_images.shape == (20, 28, 28, 1)
    assert sorted(np.unique(dataset.train_images)) == [0, 40]


@pytest.mark.parametrize("count, refuse", [(1000, True), (999, False)])
def test_a_training_set_of_100_images_a_class_that_lacks_a_class_is_refused(
        tmp_path, count, refuse):
    """From 100 images a class up, a missing class means another dataset; fewer may lack
    one by chance."""
    folder = tmp_path / "mnist"
    write_idx_dataset(folder, train=count)
    write_gz(folder / "train-labels-idx1-ubyte.gz", idx_bytes(np.arange(count) % 9))
    load = lambda: data.load("mnist", tmp_path)  # noqa: E731
    if refuse:
        refused(load, f"{folder}: its training labels hold 9 classes (0, 1, 2, 3, 4, 5, 6, 7, "
                      "8), not the 10 of mnist: expected a folder holding mnist")
    else:
        assert len(load().train_labels) == count


def write_batches(folder, change=None):
    """CIFAR-10 python batches of 2 images each; `change(name, batch)` edits one."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [1, 7]}
        batch = change(name, batch) if change else batch
        (folder / name).write_bytes(pickle.dumps(batch))


def test_the_release_extracted_inside_a_cifar10_folder_is_found(tmp_path):
    """cifar10/cifar-10-batches-py/: the tarball unpacked where the dataset folder is."""
    write_batches(tmp_path / "cifar10" / "cifar-10-batches-py")
    dataset = data.load("cifar10", tmp_path)
    assert dataset.source == str(tmp_path / "cifar10" / "cifar-10-batches-py")
    assert dataset.train_images.shape == (10, 32, 32, 3) and list(dataset.test_labels) == [1, 7]


@pytest.mark.parametrize("batch, message", [
    ([1, 2], f"not a CIFAR-10 python batch: {CIFAR_EXPECTED}"),
    ({b"data": np.zeros((2, 3072))},
     f"not a CIFAR-10 python batch: {CIFAR_EXPECTED}"),
    ({b"data": np.zeros((2, 3072)), b"labels": [1, 7]},
     f"data is ndarray float64 of shape (2, 3072): {CIFAR_EXPECTED}"),
    ({b"data": np.zeros((2, 3071), np.uint8), b"labels": [1, 7]},
     f"data is ndarray uint8 of shape (2, 3071): {CIFAR_EXPECTED}"),
    ({b"data": [[0] * 3072] * 2, b"labels": [1, 7]},
     f"data is list  of shape None: {CIFAR_EXPECTED}"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [[1], [7]]},
     f"labels are int64 of shape (2, 1): {CIFAR_EXPECTED}"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1.0, 7.0]},
     f"labels are float64 of shape (2,): {CIFAR_EXPECTED}"),
])
def test_a_cifar_batch_that_is_not_one(tmp_path, batch, message):
    write_batches(tmp_path / "cifar10", lambda name, b: batch if name == "test_batch" else b)
    refused(lambda: data.load("cifar10", tmp_path),
            f"{tmp_path / 'cifar10' / 'test_batch'}: {message}")


def test_a_missing_cifar_batch_and_one_that_runs_code(tmp_path):
    write_batches(tmp_path / "cifar10")
    (tmp_path / "cifar10" / "data_batch_3").unlink()
    refused(lambda: data.load("cifar10", tmp_path),
            f"{tmp_path / 'cifar10' / 'data_batch_3'}: missing (expected the CIFAR-10 python "
            "batches data_batch_1..5 and test_batch)")

    class Runs:
        def __reduce__(self):
            return (print, ("ran",))

    (tmp_path / "cifar10" / "data_batch_3").write_bytes(pickle.dumps(Runs()))
    refused(lambda: data.load("cifar10", tmp_path),
            f"{tmp_path / 'cifar10' / 'data_batch_3'}: refused: the pickle calls "
            "'builtins.print', which a CIFAR-10 batch never holds (expected only a dict of "
            "bytes, int labels and a uint8 array); nothing in it was run")


def test_a_corrupt_cifar_batch_names_the_error(tmp_path):
    write_batches(tmp_path / "cifar10")
    (tmp_path / "cifar10" / "test_batch").write_bytes(b"\x80\x05garbage")
    with pytest.raises(InputError) as raised:
        data.load("cifar10", tmp_path)
    assert re.fullmatch(rf"{re.escape(str(tmp_path / 'cifar10' / 'test_batch'))}: not a "
                        r"CIFAR-10 python batch \(\w+Error: .+\)", str(raised.value))


CIFAR10 = PUBLISHED_CLASSES["cifar10"]
CLASS_LIST = ", ".join(CIFAR10)


def test_image_folders_missing_a_split_or_classes_or_images(tmp_path):
    root = tmp_path / "cifar10"
    load = lambda: data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache")  # noqa: E731
    write_image_folder(root, CIFAR10[:7], (32, 32))
    refused(load, f"{root / 'train' / 'horse'} is missing (and ship, truck): expected one "
                  f"folder per class: {CLASS_LIST}")
    for name in CIFAR10[7:]:
        (root / "train" / name).mkdir()
    refused(load, f"{root / 'train' / 'horse'} holds no images (and ship, truck): expected at "
                  "least one .png/.jpg/.jpeg/.bmp file in each class folder")


def test_files_beside_the_class_folders_are_ignored_and_one_missing_class_is_alone(tmp_path):
    root = tmp_path / "cifar10"
    write_image_folder(root, CIFAR10, (32, 32), skip=("truck",))
    (root / "train" / "README.txt").write_text("not a class")
    refused(lambda: data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache"),
            f"{root / 'train' / 'truck'} holds no images: expected at least one "
            ".png/.jpg/.jpeg/.bmp file in each class folder")


def test_an_image_folder_without_its_test_split(tmp_path):
    root = tmp_path / "cifar10"
    write_image_folder(root, CIFAR10, (32, 32))
    (root / "test").rename(root / "test_")
    (root / "test").write_text("")  # A file, not a folder: neither detected nor read.
    refused(lambda: data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache"),
            f"{root}: holds no cifar10 data: expected IDX files (train-images-idx3-ubyte[.gz], "
            "...), CIFAR-10 pickles (data_batch_1..5, test_batch) or train/<class>/ and "
            "test/<class>/ image folders")


def test_an_idx_file_of_exactly_its_magic_number_is_a_truncated_header(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    write_gz(path, b"\x00\x00\x08\x03")
    refused(lambda: data.load("mnist", tmp_path),
            f"{path}: truncated IDX header: expected 3 dimensions")


def test_a_full_training_set_with_every_class_loads(tmp_path):
    write_idx_dataset(tmp_path / "mnist", train=1000)
    assert len(np.unique(data.load("mnist", tmp_path).train_labels)) == 10


def test_a_folder_named_for_another_dataset_however_it_is_spelled(tmp_path):
    """Cifar_10_Batches_Py matches cifar-10-batches-py only with case, - and _ ignored."""
    write_idx_dataset(tmp_path / "Cifar_10_Batches_Py")
    refused(lambda: data.load("mnist", tmp_path / "Cifar_10_Batches_Py"),
            f"{tmp_path / 'Cifar_10_Batches_Py'}: is a cifar10 folder (by its name), not mnist: "
            "expected --data_dir to hold mnist (mnist/)")


@pytest.mark.parametrize("batch, message", [
    ({b"labels": [1, 7]}, f"not a CIFAR-10 python batch: {CIFAR_EXPECTED}"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]},
     "label 10 is out of range: expected 0..9"),
])
def test_a_cifar_batch_without_data_or_with_a_label_past_nine(tmp_path, batch, message):
    write_batches(tmp_path / "cifar10", lambda name, b: batch if name == "test_batch" else b)
    refused(lambda: data.load("cifar10", tmp_path),
            f"{tmp_path / 'cifar10' / 'test_batch'}: {message}")


@pytest.mark.parametrize("mode, pixels", [
    ("1", np.zeros((28, 28), bool)), ("LA", np.zeros((28, 28, 2), np.uint8)),
    ("I;16", np.zeros((28, 28), np.uint16))])
def test_bilevel_grey_alpha_and_16_bit_images_load_as_one_channel(tmp_path, mode, pixels):
    from PIL import Image

    for split in ("train", "test"):
        for name in DIGITS:
            (tmp_path / "mnist" / split / name).mkdir(parents=True)
            Image.fromarray(pixels).save(tmp_path / "mnist" / split / name / "0.png")
    assert data.load("mnist", tmp_path, cache_dir=tmp_path / "c").train_images.shape == (
        10, 28, 28, 1)


def test_images_of_two_sizes_in_one_folder_name_both(tmp_path):
    from PIL import Image

    root = tmp_path / "mnist"
    write_image_folder(root, DIGITS, (28, 28), mode="L")
    odd = root / "train" / "3" / "1.png"
    Image.fromarray(np.zeros((27, 28), np.uint8)).save(odd)
    refused(lambda: data.load("mnist", tmp_path, cache_dir=tmp_path / "c"),
            f"{odd}: image is (27, 28, 1), expected (28, 28, 1) like {root / 'train' / '0' / '0.png'}")


def test_two_empty_classes_are_both_named(tmp_path):
    root = tmp_path / "cifar10"
    write_image_folder(root, CIFAR10, (32, 32), skip=("ship", "truck"))
    refused(lambda: data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache"),
            f"{root / 'train' / 'ship'} holds no images (and truck): expected at least one "
            ".png/.jpg/.jpeg/.bmp file in each class folder")


def test_an_unknown_class_folder_lists_every_class(tmp_path):
    root = tmp_path / "cifar10"
    write_image_folder(root, CIFAR10 + ("kangaroo",), (32, 32))
    refused(lambda: data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache"),
            f"{root / 'train' / 'kangaroo'}: 'kangaroo' is not a known class: expected one of "
            f"{CLASS_LIST}")


def test_the_cache_serves_the_second_load_and_keeps_other_folders_entries(tmp_path, monkeypatch):
    """A cache nested in folders that do not exist yet; two dataset folders cached side by
    side; the second load of each decodes nothing."""
    cache = tmp_path / "deep" / "er" / "cache"
    for where in ("a", "b"):
        write_image_folder(tmp_path / where / "mnist", DIGITS, (28, 28), mode="L")
        data.load("mnist", tmp_path / where, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 2

    def no_decoding(pairs):
        raise AssertionError("decoded again instead of read from the cache")

    monkeypatch.setattr(data, "_decode_images", no_decoding)
    for where in ("a", "b"):
        assert data.load("mnist", tmp_path / where, cache_dir=cache).train_images.shape == (
            10, 28, 28, 1)


def test_the_cache_defaults_to_dot_cache_in_the_home_folder(tmp_path, monkeypatch):
    for name in ("LENET_BENCH_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.cache_root() == tmp_path / ".cache" / "lenet_bench"


def test_a_split_kind_is_read_by_its_name_not_its_length():
    for text in ("holdout:5:1:0", "kfolds:5:1:0"):
        with pytest.raises(InputError, match=f"^--split={text!r} is invalid"):
            data.parse_split(text)


@pytest.mark.parametrize("labels, smallest", [([0, 0, 2, 2, 2], 2), ([0, 1, 1, 1], 1)])
def test_the_rarest_present_class_bounds_the_folds(labels, smallest):
    """A class absent from the labels does not count; a class of one image does."""
    with pytest.raises(InputError) as raised:
        data.kfold_indices(np.array(labels), 3, seed=0)
    assert str(raised.value) == (f"--cv_folds=3 is invalid: expected at most {smallest} "
                                 "(the images of the rarest class in the training set used)")


def test_batches_pickled_with_protocol_5_load():
    """Python 3.8+ pickles numpy arrays through numpy's _frombuffer at protocol 5."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "cifar10"
        root.mkdir()
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"data": np.full((2, 3072), 7, np.uint8), b"labels": [1, 7]}
            (root / name).write_bytes(pickle.dumps(batch, protocol=5))
        assert data.load("cifar10", folder).train_images.shape == (10, 32, 32, 3)


def test_a_second_image_of_another_size_is_named(tmp_path):
    from PIL import Image

    root = tmp_path / "mnist"
    write_image_folder(root, DIGITS, (28, 28), mode="L")
    (root / "train" / "0" / "0.png").unlink()
    odd = root / "train" / "1" / "0.png"
    Image.fromarray(np.zeros((27, 28), np.uint8)).save(odd)
    first = root / "train" / "0" / "1.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(first)
    refused(lambda: data.load("mnist", tmp_path, cache_dir=tmp_path / "c"),
            f"{odd}: image is (27, 28, 1), expected (28, 28, 1) like {first}")


def test_split_messages_whole():
    with pytest.raises(InputError) as raised:
        data.parse_split("kfold:1:0:0")
    assert str(raised.value) == ("--split='kfold:1:0:0' is invalid: expected steps "
                                 "'kfold:K:F:SEED' (K >= 2, 0 <= F < K) or "
                                 "'holdout:FRACTION:SEED' (0 < FRACTION < 1), joined by '/'")
    with pytest.raises(InputError) as raised:
        data.holdout_indices(np.array([0, 0, 0, 1, 1, 2, 2, 2]), 0.1, seed=0)
    assert re.fullmatch(r"--holdout_fraction=0\.1 is invalid for 8 training images: \S.+",
                        str(raised.value))
