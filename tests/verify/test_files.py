"""verify.files: atomic writes onto regular files, write-through onto devices and FIFOs, the dataset file never
written (not even through a link), refusals before any work, no temporary file left behind."""
from __future__ import annotations

import os
import socket
import stat
import threading

import pytest

from attnsvm.verify.files import OutputPathError, output_kind, write_atomically


def leftovers(folder):
    return [n for n in os.listdir(folder) if n.startswith(".attnsvm-")]


def test_regular_file_is_replaced_atomically(tmp_path):
    p = tmp_path / "out.json"
    p.write_text("old")
    inode = p.stat().st_ino
    assert write_atomically(str(p), "new") == b"new"
    assert p.read_text() == "new" and p.stat().st_ino != inode   # a new file renamed over the old one
    assert leftovers(tmp_path) == []


def test_existing_mode_is_kept(tmp_path):
    p = tmp_path / "out.json"
    p.write_text("old")
    p.chmod(0o640)
    write_atomically(str(p), "new")
    assert stat.S_IMODE(p.stat().st_mode) == 0o640


def test_dev_null_is_written_through_not_replaced():
    before = os.stat("/dev/null")
    assert output_kind("/dev/null") == "through"
    write_atomically("/dev/null", "x" * 1000)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino and after.st_rdev == before.st_rdev


def test_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    write_atomically(str(fifo), "through the fifo")
    reader.join(timeout=10)
    assert got == [b"through the fifo"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert leftovers(tmp_path) == []


def test_symlink_target_is_replaced_and_the_link_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomically(str(link), "new")
    assert link.is_symlink() and real.read_text() == "new"


@pytest.mark.parametrize("how", ["same path", "symlink", "symlink chain", "hard link", "relative path"])
def test_the_dataset_file_is_never_written(tmp_path, monkeypatch, how):
    data = tmp_path / "data.json"
    data.write_text('{"X": 1}')
    target = data
    if how == "symlink":
        target = tmp_path / "out.json"
        target.symlink_to(data)
    elif how == "symlink chain":
        (tmp_path / "mid").symlink_to(data)
        target = tmp_path / "out.json"
        target.symlink_to(tmp_path / "mid")
    elif how == "hard link":
        target = tmp_path / "out.json"
        os.link(data, target)
    elif how == "relative path":
        monkeypatch.chdir(tmp_path)
        target = "./sub/../data.json"
        (tmp_path / "sub").mkdir()
    with pytest.raises(OutputPathError, match="dataset file"):
        output_kind(str(target), protect=[str(data)])
    with pytest.raises(OutputPathError, match="dataset file"):
        write_atomically(str(target), "clobbered", protect=[str(data)])
    assert data.read_text() == '{"X": 1}'
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("make, message", [
    (lambda d: "", "empty file name"),
    (lambda d: str(d), "is a folder"),
    (lambda d: str(d) + "/", "is a folder"),
    (lambda d: str(d / "missing" / "out.json"), "does not exist"),
])
def test_refusals(tmp_path, make, message):
    with pytest.raises(OutputPathError, match=message):
        output_kind(make(tmp_path))


def test_socket_is_refused(tmp_path):
    path = tmp_path / "s.sock"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
        with pytest.raises(OutputPathError, match="neither a regular file"):
            write_atomically(str(path), "x")
    finally:
        s.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write read-only files and folders")
def test_read_only_file_is_refused(tmp_path):
    p = tmp_path / "ro.json"
    p.write_text("keep")
    p.chmod(0o444)
    with pytest.raises(OutputPathError, match="read-only"):
        write_atomically(str(p), "x")
    assert p.read_text() == "keep"


def test_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    p = tmp_path / "out.json"
    p.write_text("old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(str(p), "new")
    assert p.read_text() == "old" and leftovers(tmp_path) == []
