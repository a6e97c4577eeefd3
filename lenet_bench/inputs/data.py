"""Datasets as uint8 arrays: real loaders for the formats users have on disk.

`load(name, data_dir)` returns a `Dataset` for mnist, fashion_mnist, cifar10,
digits (scikit-learn's 8x8 digits, upscaled to 28x28: always offline) or
synthetic (tests). Where a real dataset is looked for, in order:

1. `data_dir` (else the LENET_BENCH_DATA environment variable): a root with
   one folder per dataset (`mnist/`, `fashion-mnist/`, `cifar10/`, ...), or a
   dataset folder itself. A folder may hold IDX files (gzipped or not), the
   official CIFAR-10 python pickles, or an image-folder tree
   `train/<class>/*.png|jpg` + `test/<class>/...`.
2. `keras.datasets.<name>.load_data()`, which reads the keras cache
   (~/.keras/datasets) and otherwise downloads.

Everything read is checked (magic numbers, counts, label range, image size);
a bad file raises InputError naming the file and what was expected. Files
are only data: CIFAR-10 pickles go through an unpickler that builds nothing
but a batch's dict, bytes, ints and uint8 array, and .npz files are read
without pickles.
"""

import dataclasses
import gzip
import hashlib
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from lenet_bench.errors import DataNotFoundError, DiskFullError, InputError
from lenet_bench.files import atomic_write_npz

DATA_DIR_ENV = "LENET_BENCH_DATA"
CACHE_DIR_ENV = "LENET_BENCH_CACHE"

DIGIT_CLASSES = tuple(str(digit) for digit in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

# Folder names a dataset may have under a data root, in the order tried.
FOLDER_NAMES = {
    "mnist": ("mnist", "MNIST"),
    "fashion_mnist": ("fashion-mnist", "fashion_mnist", "Fashion-MNIST"),
    "cifar10": ("cifar10", "cifar-10-batches-py", "cifar-10", "CIFAR-10"),
}
CLASS_NAMES = {"mnist": DIGIT_CLASSES, "fashion_mnist": FASHION_MNIST_CLASSES,
               "cifar10": CIFAR10_CLASSES}
IMAGE_SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1),
                "cifar10": (32, 32, 3)}

IDX_FILES = {  # split -> (images file, labels file), without a .gz suffix
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR_PICKLES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                 "test": ("test_batch",)}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A train/test split of uint8 images (N, H, W, C) and int64 labels."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source: str  # Where it was read from, for the record.
    # What was read, for every run record (`describe_data`): the files' SHA-256, whether
    # they are the published release, the counts and the shape of the whole files.
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])


def load(name: str, data_dir: str | os.PathLike | None = None,
         cache_dir: str | os.PathLike | None = None, before_keras=None) -> Dataset:
    """Loads a dataset by name; see the module docstring for where it looks.

    Args:
      name: mnist, fashion_mnist, cifar10, digits or synthetic.
      data_dir: a data root or dataset folder; None reads LENET_BENCH_DATA.
      cache_dir: where decoded image-folder arrays are cached; None reads
        LENET_BENCH_CACHE, else ~/.cache/lenet_bench.
      before_keras: called before keras is first imported for the download
        fallback (the CLI imports TensorFlow there without its start-up noise);
        a dataset found locally never imports keras.

    Raises:
      InputError: unknown name, a bad file, or a data_dir that does not exist.
      DataNotFoundError: found neither locally nor by keras download.
    """
    if name == "digits":
        return load_digits()
    if name == "synthetic":
        return make_synthetic()
    if name not in FOLDER_NAMES:
        raise InputError(f"--dataset={name!r} is unknown: expected one of "
                         "mnist, fashion_mnist, cifar10, digits, synthetic")
    flag = "--data_dir"
    if data_dir is None and os.environ.get(DATA_DIR_ENV):
        data_dir, flag = os.environ[DATA_DIR_ENV], DATA_DIR_ENV
    looked_in = "no --data_dir or LENET_BENCH_DATA given"
    if data_dir is not None:
        root = Path(data_dir)
        if not root.is_dir():
            raise InputError(f"{flag}={data_dir}: no such directory")
        folder = find_dataset_folder(name, root)
        if folder is not None:
            check_folder_name(name, folder)
            return load_folder(name, folder, cache_dir)
        looked_in = (f"nothing under {flag}={data_dir} "
                     f"(looked for {', '.join(f'{sub}/' for sub in FOLDER_NAMES[name])})")
    if before_keras is not None:
        before_keras()
    return _load_from_keras(name, looked_in)


def find_dataset_folder(name: str, root: Path) -> Path | None:
    """The folder under `root` (or `root` itself) holding `name`'s files."""
    for folder in [root / sub for sub in FOLDER_NAMES[name]] + [root]:
        if folder.is_dir() and _detect_format(folder) is not None:
            return folder
        if folder != root and folder.is_dir():
            raise InputError(
                f"{folder}: holds no {name} data: expected IDX files "
                "(train-images-idx3-ubyte[.gz], ...), CIFAR-10 pickles "
                "(data_batch_1..5, test_batch) or train/<class>/ and test/<class>/ "
                "image folders")
    return None


def _detect_format(folder: Path) -> str | None:
    if any((folder / name).is_file() for name in _idx_names(IDX_FILES["train"][0])):
        return "idx"
    if (folder / "data_batch_1").is_file():
        return "cifar_pickle"
    if (folder / "cifar-10-batches-py" / "data_batch_1").is_file():
        return "cifar_pickle_nested"
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        return "image_folder"
    return None


def load_folder(name: str, folder: Path, cache_dir=None) -> Dataset:
    """Reads `name` from a dataset folder in whichever format it holds.

    Raises:
      InputError: a bad file, or files that hold another dataset than `name` (another
        dataset's published release, another image shape, fewer classes).
    """
    fmt = _detect_format(folder)
    if fmt == "idx":
        paths = [_find_idx_file(folder, stem) for split in IDX_FILES for stem in IDX_FILES[split]]
        release = files_provenance(name, paths)
        splits = {split: read_idx_split(folder, split, len(CLASS_NAMES[name]))
                  for split in IDX_FILES}
    elif fmt in ("cifar_pickle", "cifar_pickle_nested"):
        if fmt == "cifar_pickle_nested":
            folder = folder / "cifar-10-batches-py"
        paths = [folder / f for files in CIFAR_PICKLES.values() for f in files]
        release = files_provenance(name, [path for path in paths if path.is_file()])
        splits = {split: read_cifar_pickles([folder / f for f in files])
                  for split, files in CIFAR_PICKLES.items()}
    else:
        splits = read_image_folder_cached(folder, CLASS_NAMES[name], cache_dir)
        release = arrays_provenance(splits, "image folder: decoded arrays hashed; never "
                                    "the published release (that is IDX or pickle files)")
    dataset = Dataset(name, *splits["train"], *splits["test"],
                      class_names=CLASS_NAMES[name], source=str(folder))
    _check_shape(dataset, IMAGE_SHAPES[name], folder)
    _check_classes(dataset, folder)
    return dataclasses.replace(dataset, provenance={**release, **counts_provenance(dataset)})


def _check_shape(dataset: Dataset, expected: tuple, folder: Path) -> None:
    for split in ("train", "test"):
        shape = tuple(getattr(dataset, f"{split}_images").shape[1:])
        if shape != expected:
            like = " or ".join(other for other, other_shape in IMAGE_SHAPES.items()
                               if other_shape == shape)
            raise InputError(f"{folder}: {split} images are {shape_text(shape)}"
                             + (f" (like {like})" if like else "")
                             + f", not the {shape_text(expected)} of {dataset.name}: "
                             f"expected a folder holding {dataset.name}")


# A training set of at least this many images per class that lacks a class holds
# another dataset (a small one may lack a class by chance: tests, toy copies).
IMAGES_PER_CLASS_FOR_ALL_CLASSES = 100


def _check_classes(dataset: Dataset, folder: Path) -> None:
    present = np.unique(dataset.train_labels)
    enough = len(dataset.train_labels) >= IMAGES_PER_CLASS_FOR_ALL_CLASSES * dataset.num_classes
    if enough and len(present) < dataset.num_classes:
        raise InputError(f"{folder}: its training labels hold {len(present)} classes "
                         f"({', '.join(str(label) for label in present[:12])}), not the "
                         f"{dataset.num_classes} of {dataset.name}: expected a folder "
                         f"holding {dataset.name}")


def shape_text(shape) -> str:
    """(28, 28, 1) -> '28x28x1'."""
    return "x".join(str(size) for size in shape)


def check_folder_name(name: str, folder: Path) -> None:
    """Raises InputError when `folder` is named for another dataset than `name` (a
    fashion-mnist/ folder given to an MNIST experiment)."""
    named = _dataset_named(folder.name)
    if named is not None and named != name:
        raise InputError(f"{folder}: is a {named} folder (by its name), not {name}: expected "
                         f"--data_dir to hold {name} ({FOLDER_NAMES[name][0]}/)")


def _dataset_named(folder_name: str) -> str | None:
    def plain(text):
        return text.lower().replace("-", "").replace("_", "")

    for dataset, names in FOLDER_NAMES.items():
        if plain(folder_name) in {plain(candidate) for candidate in names}:
            return dataset
    return None


# ---------------------------------------------------------------- IDX files


def read_idx(path: Path) -> np.ndarray:
    """Reads an IDX file of unsigned bytes, gzipped or not (detected by content)."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] == 0:
        magic = raw[:4].hex() if len(raw) >= 4 else "(file shorter than 4 bytes)"
        raise InputError(f"{path}: wrong IDX magic number {magic}: expected "
                         "0000080N (unsigned bytes, N dimensions)")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise InputError(f"{path}: truncated IDX header: expected {ndim} dimensions")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected = int(np.prod(dims))
    if len(raw) - header_size != expected:
        raise InputError(f"{path}: holds {len(raw) - header_size} data bytes, "
                         f"expected {expected} for shape {dims} (truncated file?)")
    return np.frombuffer(raw, np.uint8, offset=header_size).reshape(dims)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise InputError(f"{path}: truncated or corrupt gzip file ({error})") from None


def read_idx_split(folder: Path, split: str, num_classes: int):
    """Reads one split's images (N, 28, 28, 1) and labels from IDX files."""
    images_path, labels_path = (_find_idx_file(folder, stem) for stem in IDX_FILES[split])
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise InputError(f"{images_path}: has {images.ndim} dimensions, expected 3 (N, rows, cols)")
    if labels.ndim != 1:
        raise InputError(f"{labels_path}: has {labels.ndim} dimensions, expected 1 (N,)")
    return _checked_split(images[..., None], labels, num_classes, images_path, labels_path)


def _idx_names(stem: str) -> tuple[str, ...]:
    """The names an IDX file goes by: gzipped, plain, and with a dot before "idx"
    (train-images.idx3-ubyte, as some mirrors spell it)."""
    return stem + ".gz", stem, stem.replace("-idx", ".idx")


def _find_idx_file(folder: Path, stem: str) -> Path:
    for candidate in _idx_names(stem):
        if (folder / candidate).is_file():
            return folder / candidate
    raise InputError(f"{folder / stem}[.gz]: missing (expected beside "
                     f"{IDX_FILES['train'][0]}[.gz])")


def _checked_split(images, labels, num_classes, images_source, labels_source):
    if len(images) != len(labels):
        raise InputError(f"{images_source}: holds {len(images)} images but "
                         f"{labels_source} holds {len(labels)} labels: expected equal counts")
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise InputError(f"{images_source}: holds no images")
    out_of_range = labels[(labels < 0) | (labels >= num_classes)]
    if len(out_of_range):
        raise InputError(f"{labels_source}: label {out_of_range[0]} is out of range: "
                         f"expected 0..{num_classes - 1}")
    return np.ascontiguousarray(images, dtype=np.uint8), labels


# --------------------------------------------------------- CIFAR-10 pickles

# The globals a CIFAR-10 python batch needs: numpy's array reconstruction for its uint8
# data (numpy 1.x and 2.x spell the module differently; protocol 5 pickles go through
# _frombuffer). The dict, the label list and the bytes need none. A pickle can run any
# function it names, so every other global is refused and the file is not read.
CIFAR_PICKLE_GLOBALS = {
    **{(module, "_reconstruct"): ("multiarray", "_reconstruct")
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "_frombuffer"): ("numeric", "_frombuffer")
       for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): None,
    ("numpy", "dtype"): None,
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR-10 batch holds (CIFAR_PICKLE_GLOBALS)."""

    def __init__(self, file, path: Path):
        super().__init__(file, encoding="bytes")
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in CIFAR_PICKLE_GLOBALS:
            called = ascii(f"{module}.{name}")  # From the file: one line, whatever it holds.
            raise InputError(f"{self.path}: refused: the pickle calls {called}, which a "
                             "CIFAR-10 batch never holds (expected only a dict of bytes, int "
                             "labels and a uint8 array); nothing in it was run")
        where = CIFAR_PICKLE_GLOBALS[(module, name)]
        if where is None:
            return getattr(np, name)
        return getattr(getattr(_numpy_core(), where[0]), where[1])


def _numpy_core():
    """numpy's core package, without numpy 2's deprecation warning for `numpy.core`."""
    core = getattr(np, "_core", None)
    if core is None:  # numpy 1.x
        import numpy.core as core
    return core


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One official CIFAR-10 python batch: its data rows (N, 3072) uint8 and its labels,
    read by a restricted unpickler (a batch is data; its file cannot run code)."""
    if not path.is_file():
        raise InputError(f"{path}: missing (expected the CIFAR-10 python batches "
                         "data_batch_1..5 and test_batch)")
    try:
        with open(path, "rb") as file:
            batch = _CifarUnpickler(file, path).load()
    except InputError:
        raise
    except Exception as error:  # pickle raises many types on corrupt input
        raise InputError(f"{path}: not a CIFAR-10 python batch "
                         f"({type(error).__name__}: {error})") from None
    expected = "expected a dict with b'data' (uint8, N x 3072) and b'labels' (N ints)"
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise InputError(f"{path}: not a CIFAR-10 python batch: {expected}")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 32 * 32 * 3:
        shape = getattr(data, "shape", None)
        raise InputError(f"{path}: data is {type(data).__name__} "
                         f"{getattr(data, 'dtype', '')} of shape {shape}: {expected}")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise InputError(f"{path}: labels are {labels.dtype} of shape {labels.shape}: {expected}")
    return data, labels


def read_cifar_pickles(paths: list[Path]):
    """Reads official CIFAR-10 python batches into (N, 32, 32, 3) uint8 + labels."""
    images, labels = [], []
    for path in paths:
        data, batch_labels = read_cifar_batch(path)
        data = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        images.append(data)
        labels.append(_checked_split(data, batch_labels, 10, path, path)[1])
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


# ------------------------------------------------------------ image folders


def read_image_folder_cached(folder: Path, class_names, cache_dir=None) -> dict:
    """Image-folder splits, decoded once and cached as .npz.

    The cache key covers the folder's path and every file's name, size and
    mtime, so an edited tree is decoded again; the entry it replaces (same
    folder path, older files) is then deleted, so the cache holds one entry
    per folder. The tree is listed and checked (every class has a folder with
    images in each split) before the cache is looked at, so a cache never
    serves a tree that is bad now.
    """
    files = {split: _list_image_files(folder / split, class_names) for split in ("train", "test")}
    folder_digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    digest = hashlib.sha256(folder_digest.encode())
    for split in files:
        for path, _ in files[split]:
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    folder_prefix = f"{folder.name}-{folder_digest}-"
    cache_path = _cache_dir(cache_dir) / f"{folder_prefix}{digest.hexdigest()[:16]}.npz"
    if cache_path.is_file():
        try:
            with np.load(cache_path, allow_pickle=False) as cached:
                return {split: (cached[f"{split}_images"], cached[f"{split}_labels"])
                        for split in files}
        except (OSError, ValueError, KeyError, EOFError, zlib.error, zipfile.BadZipFile):
            pass  # A damaged cache is rebuilt below.
    splits = {split: _decode_images(pairs) for split, pairs in files.items()}
    arrays = {f"{split}_{part}": array for split, (images, labels) in splits.items()
              for part, array in (("images", images), ("labels", labels))}
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_npz(cache_path, **arrays)
        for stale in cache_path.parent.glob(f"{folder_prefix}*.npz"):
            if stale != cache_path:
                stale.unlink(missing_ok=True)
    except (OSError, DiskFullError):
        pass  # No cache is slower, not wrong.
    return splits


def cache_root() -> Path:
    """Where the suite caches what it can make again: $LENET_BENCH_CACHE, else
    ~/.cache/lenet_bench (decoded image folders; JAX's compiled programs)."""
    return _cache_dir(None)


def _cache_dir(cache_dir) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lenet_bench"


def _list_image_files(split_dir: Path, class_names) -> list[tuple[Path, int]]:
    """(image path, label) of every image under `split_dir`/<class>/, in name order.

    Raises:
      InputError: the split folder is missing, a folder is not a class, or a class's
        folder is missing or holds no image (a split without a class would train or
        test on fewer classes without a word).
    """
    if not split_dir.is_dir():
        raise InputError(f"{split_dir}: missing (expected {split_dir.name}/<class>/ folders)")
    images_by_class = {}
    for entry in sorted(os.scandir(split_dir), key=lambda e: e.name):
        if not entry.is_dir():
            continue
        if entry.name not in class_names:
            raise InputError(f"{entry.path}: '{entry.name}' is not a known class: "
                             f"expected one of {', '.join(class_names)}")
        images_by_class[entry.name] = [
            Path(file.path) for file in sorted(os.scandir(entry.path), key=lambda e: e.name)
            if file.name.lower().endswith(IMAGE_SUFFIXES)]
    missing = [name for name in class_names if name not in images_by_class]
    if missing:
        more = f" (and {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise InputError(f"{split_dir / missing[0]} is missing{more}: expected one folder "
                         f"per class: {', '.join(class_names)}")
    empty = [name for name in class_names if not images_by_class[name]]
    if empty:
        more = f" (and {', '.join(empty[1:])})" if len(empty) > 1 else ""
        raise InputError(f"{split_dir / empty[0]} holds no images{more}: expected at least one "
                         f"{'/'.join(IMAGE_SUFFIXES)} file in each class folder")
    return [(path, class_names.index(name))  # Folders in name order, as they were read.
            for name, paths in images_by_class.items() for path in paths]


def _decode_images(pairs):
    from PIL import Image  # matplotlib's own dependency; see BUILD_NOTES.md.

    images = []
    for path, _ in pairs:
        try:
            with Image.open(path) as image:
                grey = image.mode in ("1", "L", "LA", "I", "I;16", "F")
                pixels = np.asarray(image.convert("L" if grey else "RGB"))
        except Exception as error:  # PIL raises many types on corrupt input
            raise InputError(f"{path}: unreadable image ({type(error).__name__}: {error})") from None
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        if images and pixels.shape != images[0].shape:
            raise InputError(f"{path}: image is {pixels.shape}, expected "
                             f"{images[0].shape} like {pairs[0][0]}")
        images.append(pixels)
    labels = np.array([label for _, label in pairs], dtype=np.int64)
    return np.stack(images).astype(np.uint8), labels


# ------------------------------------------------------------ provenance

# The published releases, recognised by their files' digests, per file (the IDX names
# without .gz). "sha256:": the file as published (the gzipped IDX files of the MNIST
# mirrors and of zalandoresearch/fashion-mnist: the sums tensorflow_datasets and
# other loaders check); "idx-sha256:": the same file's uncompressed IDX content (so a
# copy gunzipped or gzipped anew is recognised too); "md5:": a CIFAR-10 python batch
# of cifar-10-python.tar.gz (the sums torchvision checks). BUILD_NOTES.md says where
# each comes from.
RELEASES = {
    "mnist": {
        "train-images-idx3-ubyte": {
            "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
        "train-labels-idx1-ubyte": {
            "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
        "t10k-images-idx3-ubyte": {
            "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "idx-sha256:0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
        "t10k-labels-idx1-ubyte": {
            "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "idx-sha256:ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": {
            "sha256:3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "idx-sha256:c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
        "train-labels-idx1-ubyte": {
            "sha256:a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "idx-sha256:bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
        "t10k-images-idx3-ubyte": {
            "sha256:346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "idx-sha256:5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
        "t10k-labels-idx1-ubyte": {
            "sha256:67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "idx-sha256:0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
    },
    "cifar10": {
        "data_batch_1": {"md5:c99cafc152244af753f735de768cd75f"},
        "data_batch_2": {"md5:d4bba439e000b95fd0a9bffe97cbabec"},
        "data_batch_3": {"md5:54ebc095f3ab1f0389bbae665268c751"},
        "data_batch_4": {"md5:634d18415352ddfa80567beed471001a"},
        "data_batch_5": {"md5:482c414d41f54cd18b22e5b47cb7c3cb"},
        "test_batch": {"md5:40351d587109b95175f43aff81a1287e"},
    },
}


def files_provenance(name: str, paths: list[Path]) -> dict:
    """The SHA-256 of each file read, and whether they are `name`'s published release.

    Returns:
      {"files": {file name: sha256}, "canonical": True when every file of the release
      is there and matches it, "release_files": "K of N" (of `name`'s release files,
      how many matched)}.

    Raises:
      InputError: a file is another dataset's published file (Fashion-MNIST's given
        for MNIST): one line naming both.
    """
    files, matched = {}, 0
    for path in paths:
        digests = _digests(path)
        files[path.name] = digests[0].split(":", 1)[1]
        stem = _release_stem(path.name)
        if RELEASES[name].get(stem, set()) & set(digests):
            matched += 1
            continue
        for other, release in RELEASES.items():
            if other != name and release.get(stem, set()) & set(digests):
                raise InputError(f"{path}: is a file of the published {other} release, "
                                 f"not of {name}: expected a folder holding {name}")
    expected = len(RELEASES[name])
    return {"files": files, "canonical": matched == expected and len(paths) == expected,
            "release_files": f"{matched} of {expected}"}


def _release_stem(file_name: str) -> str:
    stem = file_name[:-3] if file_name.endswith(".gz") else file_name
    return stem.replace(".idx", "-idx")


def _digests(path: Path) -> list[str]:
    """'sha256:...' of the file (first), 'md5:...' of it, and 'idx-sha256:...' of its
    uncompressed content (the file itself when it is not gzipped)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    sha256 = hashlib.sha256(raw).hexdigest()
    digests = [f"sha256:{sha256}", f"md5:{hashlib.md5(raw, usedforsecurity=False).hexdigest()}"]
    if raw[:2] == b"\x1f\x8b":
        try:
            digests.append(f"idx-sha256:{hashlib.sha256(gzip.decompress(raw)).hexdigest()}")
        except (EOFError, OSError, zlib.error):
            pass  # The reader names the corrupt file.
    else:
        digests.append(f"idx-sha256:{sha256}")
    return digests


def arrays_provenance(splits: dict, note: str) -> dict:
    """Provenance of data that is not read from release files: the SHA-256 of its arrays."""
    digest = hashlib.sha256()
    for split in sorted(splits):
        for array in splits[split]:
            digest.update(np.ascontiguousarray(array).tobytes())
    return {"files": {}, "arrays_sha256": digest.hexdigest(), "canonical": False, "note": note}


def counts_provenance(dataset: Dataset) -> dict:
    """The counts and shape of the data as read (before any --train_size subset)."""
    return {"source": dataset.source, "train_images": int(len(dataset.train_labels)),
            "test_images": int(len(dataset.test_labels)),
            "classes": int(len(np.unique(dataset.train_labels))),
            "train_per_class": np.bincount(dataset.train_labels,
                                           minlength=dataset.num_classes).tolist(),
            "image_shape": list(dataset.image_shape)}


def describe_data(dataset: Dataset) -> dict:
    """What a run record says about the data it trained on (see `Dataset.provenance`)."""
    return dict(dataset.provenance) or {
        "files": {}, "canonical": None, "note": f"{dataset.source}, no files hashed",
        **counts_provenance(dataset)}


# ------------------------------------------------------------ keras fallback


def _load_from_keras(name: str, looked_in: str) -> Dataset:
    import keras

    module = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist,
              "cifar10": keras.datasets.cifar10}[name]
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as error:  # urllib, zip and OS errors alike mean "not available"
        reason = " ".join(str(error).split())[:200]
        raise DataNotFoundError(
            f"{name}: {looked_in}, and keras.datasets could not load it ({reason}); "
            f"pass --data_dir=DIR (make bench DATA_DIR=DIR, or set {DATA_DIR_ENV}) to a "
            f"folder holding {FOLDER_NAMES[name][0]}/") from None
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    dataset = Dataset(name, x_train, y_train.reshape(-1).astype(np.int64),
                      x_test, y_test.reshape(-1).astype(np.int64),
                      class_names=CLASS_NAMES[name], source=f"keras.datasets.{name}")
    return dataclasses.replace(dataset, provenance={
        "files": {}, "canonical": None, **counts_provenance(dataset),
        "note": "keras.datasets download or cache (keras checks the files it downloads; "
                "not hashed here)"})


def how_to_provide(names: list[str]) -> str:
    """What a user gives so that datasets `names` are found (one clause, no newline)."""
    folders = ", ".join(f"{FOLDER_NAMES[name][0]}/" for name in names)
    return (f"pass --data_dir=DIR (make bench DATA_DIR=DIR, or set {DATA_DIR_ENV}) to a folder "
            f"holding {folders} (each with IDX files, CIFAR-10 python batches, or "
            "train/<class>/ and test/<class>/ image folders), or run with network access so "
            "keras.datasets can download them")


# ------------------------------------------------------ digits and synthetic


def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits as 28x28x1 uint8, a fixed stratified split.

    Each pixel (0..16) becomes a 3x3 block (0..255), padded by 2 to 28x28 like
    MNIST's centred digits. 75% train, 25% test, split with random_state=0.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    images = np.kron(images, np.ones((1, 3, 3), dtype=np.uint8))
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))[..., None]
    labels = digits.target.astype(np.int64)
    train_index, test_index = train_test_split(
        np.arange(len(labels)), test_size=0.25, stratify=labels, random_state=0)
    return Dataset("digits", images[train_index], labels[train_index],
                   images[test_index], labels[test_index],
                   class_names=DIGIT_CLASSES, source="sklearn.datasets.load_digits")


def make_synthetic(num_train: int = 1000, num_test: int = 200,
                   image_shape: tuple[int, int, int] = (28, 28, 1),
                   num_classes: int = 10, seed: int = 0) -> Dataset:
    """A learnable toy dataset: each class is a fixed random pattern plus noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(0, 255, (num_classes,) + tuple(image_shape))

    def split(count):
        labels = rng.integers(0, num_classes, count)
        noise = rng.normal(0, 60, (count,) + tuple(image_shape))
        images = np.clip(patterns[labels] + noise, 0, 255).astype(np.uint8)
        return images, labels.astype(np.int64)

    return Dataset("synthetic", *split(num_train), *split(num_test),
                   class_names=tuple(f"class_{i}" for i in range(num_classes)),
                   source=f"synthetic(seed={seed})")


# ------------------------------------------------------------------ subsets


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded order of indices in which every prefix is class-stratified.

    Shuffle with `seed`, then interleave the classes so that each class's
    k-th element sits at the fraction (k + 0.5) / count of the order. Taking
    the first N therefore gives every class its share of N (within one), and
    never depends on the order the file stored the images in.
    """
    permutation = np.random.default_rng(seed).permutation(len(labels))
    shuffled = labels[permutation]
    counts = np.bincount(shuffled)
    rank_in_class = np.empty(len(shuffled))
    for label in np.unique(shuffled):
        members = shuffled == label
        rank_in_class[members] = np.arange(counts[label])
    position = (rank_in_class + 0.5) / counts[shuffled]
    return permutation[np.argsort(position, kind="stable")]


def take_train_subset(dataset: Dataset, train_size: int | None, seed: int) -> Dataset:
    """The first `train_size` training images of the seeded stratified order."""
    if train_size is None:
        return dataset
    available = len(dataset.train_labels)
    if train_size > available:
        raise InputError(f"--train_size={train_size} is invalid: expected at most "
                         f"{available} (training images in {dataset.name})")
    index = np.sort(stratified_order(dataset.train_labels, seed)[:train_size])
    return dataclasses.replace(dataset, train_images=dataset.train_images[index],
                               train_labels=dataset.train_labels[index])


# ------------------------------------------------- validation splits (search)

def parse_split(split: str) -> list[tuple]:
    """A run's validation split from its text; '' is the real train/test split.

    'kfold:K:F:SEED' holds out fold F (from 0) of K stratified folds of the
    training set; 'holdout:FRACTION:SEED' holds out a stratified FRACTION of
    it. Steps joined by '/' apply in turn (nested cross-validation:
    'kfold:5:2:0/kfold:3:1:0' is inner fold 1 of outer fold 2's training part).

    Returns:
      One tuple per step: ('kfold', K, F, SEED) or ('holdout', FRACTION, SEED).

    Raises:
      InputError: the text is not of that form.
    """
    steps = []
    for text in split.split("/") if split else ():
        kind, *parts = text.split(":")
        try:
            if kind == "kfold" and len(parts) == 3:
                folds, fold, seed = (int(part) for part in parts)
                if folds >= 2 and 0 <= fold < folds:
                    steps.append(("kfold", folds, fold, seed))
                    continue
            elif kind == "holdout" and len(parts) == 2:
                fraction, seed = float(parts[0]), int(parts[1])
                if 0 < fraction < 1:
                    steps.append(("holdout", fraction, seed))
                    continue
        except ValueError:
            pass
        raise InputError(f"--split={split!r} is invalid: expected steps 'kfold:K:F:SEED' "
                         "(K >= 2, 0 <= F < K) or 'holdout:FRACTION:SEED' (0 < FRACTION < 1), "
                         "joined by '/'")
    return steps


def kfold_indices(labels: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training, held-out) index arrays of each of `folds` stratified folds.

    scikit-learn's StratifiedKFold, shuffled with `seed`: the held-out parts are
    disjoint, cover every index once, and each has every class's share within
    one image.

    Raises:
      InputError: a class has fewer than `folds` images.
    """
    from sklearn.model_selection import StratifiedKFold

    present = np.bincount(labels)
    smallest = int(present[present > 0].min()) if present.any() else 0
    if smallest < folds:
        raise InputError(f"--cv_folds={folds} is invalid: expected at most {smallest} "
                         "(the images of the rarest class in the training set used)")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(np.sort(train), np.sort(held_out))
            for train, held_out in splitter.split(np.zeros(len(labels)), labels)]


def holdout_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) index arrays: a stratified, seeded `fraction` held out."""
    from sklearn.model_selection import train_test_split

    try:
        train, held_out = train_test_split(np.arange(len(labels)), test_size=fraction,
                                           stratify=labels, random_state=seed)
    except ValueError as error:
        raise InputError(f"--holdout_fraction={fraction} is invalid for {len(labels)} training "
                         f"images: {error}") from None
    return np.sort(train), np.sort(held_out)


def validation_dataset(dataset: Dataset, train_index: np.ndarray,
                       held_out_index: np.ndarray, description: str) -> Dataset:
    """The dataset with training images `train_index` and, as its "test" split, the
    held-out training images: the runner then validates where it would test."""
    return dataclasses.replace(
        dataset, train_images=dataset.train_images[train_index],
        train_labels=dataset.train_labels[train_index],
        test_images=dataset.train_images[held_out_index],
        test_labels=dataset.train_labels[held_out_index],
        source=f"{dataset.source} [{description}]")


def cv_fold(dataset: Dataset, folds: int, fold: int, seed: int) -> Dataset:
    """Fold `fold` of `folds` stratified folds of the training set as the test split;
    the test set is dropped."""
    train, held_out = kfold_indices(dataset.train_labels, folds, seed)[fold]
    return validation_dataset(dataset, train, held_out, f"kfold:{folds}:{fold}:{seed}")


def holdout_split(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    """A stratified `fraction` of the training set as the test split; the test set is dropped."""
    train, held_out = holdout_indices(dataset.train_labels, fraction, seed)
    return validation_dataset(dataset, train, held_out, f"holdout:{fraction:g}:{seed}")


def apply_split(dataset: Dataset, split: str) -> Dataset:
    """The dataset a run with validation split `split` (see parse_split) trains and
    evaluates on; '' gives `dataset` itself."""
    for step in parse_split(split):
        if step[0] == "kfold":
            dataset = cv_fold(dataset, *step[1:])
        else:
            dataset = holdout_split(dataset, *step[1:])
    return dataset
