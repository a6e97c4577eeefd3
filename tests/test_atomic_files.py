"""lenet_bench.files past the writers' happy path (tests/test_files.py): what each writer puts
on disk, reading JSON back, the folder fsync where the OS refuses it, and finding a full disk
in a chain of wrapped errors. Fast, no Keras: `make mutation` runs them against files.py."""

import errno
import json
import os
import zipfile

import numpy as np
import pytest

from lenet_bench import files
from lenet_bench.errors import DiskFullError


def test_json_is_written_as_run_files_hold_it(tmp_path):
    payload = {"z": 1, "a": [1.5, None], "ü": "é"}
    files.atomic_write_json(tmp_path / "r.json", payload)
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert text == json.dumps(payload, indent=1) + "\n"
    assert list(json.loads(text)) == ["z", "a", "ü"]  # Insertion order kept, not sorted.


def test_text_is_utf8(tmp_path):
    files.atomic_write_text(tmp_path / "t.md", "ü")
    assert (tmp_path / "t.md").read_bytes() == "ü".encode("utf-8")


@pytest.mark.parametrize("compressed, method", [(False, zipfile.ZIP_STORED),
                                                (True, zipfile.ZIP_DEFLATED)])
def test_npz_is_compressed_only_when_asked(tmp_path, compressed, method):
    path = tmp_path / "a.npz"
    files.atomic_write_npz(path, compressed=compressed, x=np.zeros(1000), y=np.arange(3))
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["x.npy", "y.npy"]
        assert {info.compress_type for info in archive.infolist()} == {method}
    with np.load(path) as stored:
        assert stored["y"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]


def test_npz_is_stored_uncompressed_by_default(tmp_path):
    """Checkpoints: rewritten every epoch, read back at once; compression only costs time."""
    files.atomic_write_npz(tmp_path / "c.npz", x=np.zeros(1000))
    with zipfile.ZipFile(tmp_path / "c.npz") as archive:
        assert archive.getinfo("x.npy").compress_type == zipfile.ZIP_STORED


def test_read_json(tmp_path):
    path = tmp_path / "r.json"
    assert files.read_json(path) is None
    for text, expected in (('{"a": 1}', {"a": 1}), ("[1]", None), ("{torn", None),
                           ('{"ü": "é"}', {"ü": "é"})):
        path.write_text(text, encoding="utf-8")
        assert files.read_json(path) == expected, text
    (tmp_path / "folder.json").mkdir()
    assert files.read_json(tmp_path / "folder.json") is None


def test_the_temporary_path_is_beside_the_destination(tmp_path):
    assert files.temporary_path(str(tmp_path / "a.json")) == tmp_path / f".tmp{os.getpid()}.a.json"


def refusing_fsync(code, on_folders_only=True):
    real = os.fsync

    def fsync(descriptor):
        if not on_folders_only or os.path.isdir(f"/proc/self/fd/{descriptor}"):
            raise OSError(code, os.strerror(code))
        real(descriptor)

    return fsync


@pytest.mark.parametrize("code", sorted(files._NO_DIRECTORY_FSYNC))
def test_a_folder_fsync_the_os_refuses_is_skipped(tmp_path, monkeypatch, code):
    monkeypatch.setattr(os, "fsync", refusing_fsync(code))
    files.atomic_write_text(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "new"


@pytest.mark.parametrize("code", sorted(files._NO_DIRECTORY_FSYNC))
def test_a_folder_the_os_will_not_open_is_skipped(tmp_path, monkeypatch, code):
    real_open = os.open

    def open_refusing_folders(path, flags, *args):
        if flags & os.O_DIRECTORY:
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", open_refusing_folders)
    files.atomic_write_text(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "new"


def test_other_folder_errors_are_raised_and_the_descriptor_closed(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", refusing_fsync(errno.EIO))
    closed, real_close = [], os.close
    monkeypatch.setattr(os, "close", lambda fd: (closed.append(fd), real_close(fd)))
    with pytest.raises(OSError) as raised:
        files._fsync_directory(tmp_path)
    assert raised.value.errno == errno.EIO and len(closed) == 1

    def open_failing(path, flags, *args):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "open", open_failing)
    with pytest.raises(OSError):
        files._fsync_directory(tmp_path)


def test_the_folder_is_opened_read_only_as_a_folder(tmp_path, monkeypatch):
    opened, real_open = [], os.open
    monkeypatch.setattr(os, "open", lambda path, flags, *args: (
        opened.append((str(path), flags)), real_open(path, flags, *args))[1])
    files.atomic_write_text(tmp_path / "a.txt", "new")
    temporary = str(files.temporary_path(tmp_path / "a.txt"))
    assert (temporary, os.O_RDONLY) in opened
    assert opened[-1] == (str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)


def test_without_o_directory_no_folder_is_opened(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_DIRECTORY")
    monkeypatch.setattr(os, "fsync", refusing_fsync(errno.EIO))  # Would fail if called on it.
    files._fsync_directory(tmp_path)


def test_a_file_fsync_closes_its_descriptor_even_when_it_fails(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    monkeypatch.setattr(os, "fsync", refusing_fsync(errno.EIO, on_folders_only=False))
    closed, real_close = [], os.close
    monkeypatch.setattr(os, "close", lambda fd: (closed.append(fd), real_close(fd)))
    with pytest.raises(OSError):
        files._fsync_file(tmp_path / "f")
    assert len(closed) == 1


def chained(*errors):
    """errors[0] raised from errors[1] raised from ... (as __cause__)."""
    for outer, inner in zip(errors, errors[1:]):
        outer.__cause__ = inner
    return errors[0]


def test_a_full_disk_is_found_anywhere_in_the_chain():
    full = OSError(errno.ENOSPC, "No space left on device")
    assert files._disk_full_error(full) is full
    assert files._disk_full_error(chained(RuntimeError("h5"), ValueError("x"), full)) is full
    context = RuntimeError("wrapped")
    context.__context__ = full
    assert files._disk_full_error(context) is full
    quota = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert files._disk_full_error(chained(RuntimeError(), quota)) is quota
    assert files._disk_full_error(OSError(errno.EIO, "I/O")) is None
    assert files._disk_full_error(RuntimeError()) is None
    assert files._disk_full_error(None) is None


def test_a_loop_in_the_chain_ends():
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert files._disk_full_error(first) is None


def test_a_full_disk_without_a_message_still_says_so(tmp_path):
    def full(tmp):
        raise OSError(errno.ENOSPC, "")

    with pytest.raises(DiskFullError, match=r"a\.txt: cannot be written: no space left on device;"):
        files.atomic_write_with(tmp_path / "a.txt", full)


def test_a_killed_write_leaves_no_temporary_file(tmp_path):
    def interrupted(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        files.atomic_write_with(tmp_path / "a.txt", interrupted)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old"
