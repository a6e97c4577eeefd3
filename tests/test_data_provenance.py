"""What a run says about its data: file hashes, counts, published release or not; and
folders that hold another dataset than the experiment asks for, refused before training."""

import gzip
import hashlib

import numpy as np
import pytest
from conftest import idx_bytes, write_idx_dataset

from lenet_bench.errors import InputError
from lenet_bench.inputs import data
from lenet_bench.reports import report


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def register_release(monkeypatch, name, folder, kind="sha256"):
    """Makes the IDX files in `folder` `name`'s published release, by their file digest
    ('sha256') or by their uncompressed content ('idx-sha256')."""
    release = {}
    for path in folder.iterdir():
        content = path.read_bytes()
        if kind == "idx-sha256":
            content = gzip.decompress(content)
        release[path.name.removesuffix(".gz")] = {f"{kind}:{hashlib.sha256(content).hexdigest()}"}
    monkeypatch.setitem(data.RELEASES, name, release)


def test_a_copy_records_its_files_counts_and_shape(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    provenance = data.load("mnist", tmp_path).provenance
    folder = tmp_path / "mnist"
    assert provenance["files"] == {path.name: sha256(path) for path in folder.iterdir()}
    assert provenance["canonical"] is False and provenance["release_files"] == "0 of 4"
    assert (provenance["train_images"], provenance["test_images"]) == (12, 5)
    assert provenance["classes"] == 10 and provenance["image_shape"] == [28, 28, 1]
    assert provenance["train_per_class"] == [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("kind", ["sha256", "idx-sha256"])
def test_the_published_release_is_recognised(tmp_path, monkeypatch, kind):
    write_idx_dataset(tmp_path / "mnist")
    register_release(monkeypatch, "mnist", tmp_path / "mnist", kind)
    assert data.load("mnist", tmp_path).provenance["canonical"] is True
    # A subset of the release (its test files kept, its training files replaced) is not it.
    (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes((np.arange(12) + 1) % 10)))
    provenance = data.load("mnist", tmp_path).provenance
    assert provenance["canonical"] is False and provenance["release_files"] == "3 of 4"


def test_another_datasets_release_is_refused(tmp_path, monkeypatch):
    write_idx_dataset(tmp_path / "mnist")
    register_release(monkeypatch, "fashion_mnist", tmp_path / "mnist")
    with pytest.raises(InputError, match=r"^\S+/mnist/train-images-idx3-ubyte.gz: is a file of "
                                         r"the published fashion_mnist release, not of mnist: "
                                         r"expected a folder holding mnist$"):
        data.load("mnist", tmp_path)


def test_a_folder_named_for_another_dataset_is_refused(tmp_path):
    write_idx_dataset(tmp_path / "fashion-mnist")
    with pytest.raises(InputError, match=r"fashion-mnist: is a fashion_mnist folder \(by its "
                                         r"name\), not mnist: expected --data_dir to hold mnist"):
        data.load("mnist", tmp_path / "fashion-mnist")
    assert data.load("fashion_mnist", tmp_path / "fashion-mnist").provenance["classes"] == 10


def test_other_image_shapes_and_fewer_classes_are_refused(tmp_path):
    write_idx_dataset(tmp_path / "digits28", train=1000)
    with pytest.raises(InputError, match=r"digits28: train images are 28x28x1 \(like mnist or "
                                         r"fashion_mnist\), not the 32x32x3 of cifar10: "
                                         r"expected a folder holding cifar10$"):
        data.load("cifar10", tmp_path / "digits28")
    labels = tmp_path / "digits28" / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.arange(1000) % 2)))
    with pytest.raises(InputError, match=r"digits28: its training labels hold 2 classes \(0, 1\), "
                                         r"not the 10 of mnist"):
        data.load("mnist", tmp_path / "digits28")


def test_run_records_say_what_they_trained_on(tmp_path):
    from lenet_bench.options import RunOptions
    from lenet_bench.runs import RunSpec
    from lenet_bench.trainers import group_loop

    write_idx_dataset(tmp_path / "mnist", train=40, test=10)
    dataset = data.load("mnist", tmp_path)
    spec = RunSpec(dataset="mnist", seed=0, epochs=1, batch_size=8)
    record = group_loop.train_run(spec, data.take_train_subset(dataset, 20, 0),
                                  options=RunOptions(jit="off"))
    assert record["data"]["files"] == dataset.provenance["files"]
    assert record["data"]["train_images"] == 40 and record["train_size"] == 20
    assert record["key"] == spec.key  # The data stays out of the key.


def test_report_line(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    recorded = data.describe_data(data.load("mnist", tmp_path))
    older = {"status": "done"}
    assert report.data_text([older], "mnist") == (
        "not recorded (run files written before lenet_bench recorded their data)")
    assert report.data_text([{"data": recorded}, older], "mnist") == (
        "**not the published mnist release** (0 of 4 of its files match; SHA-256 in each run "
        "file's `data`); 12 training and 5 test images read, 10 classes, 28x28x1; "
        "not recorded for 1 older run files")
    canonical = {**recorded, "canonical": True}
    assert report.data_text([{"data": canonical}], "mnist").startswith(
        "the published mnist release (4 files;")
