"""Writing output files without ever leaving a half-written one, and checking output paths before any
work starts.

A regular file (or a new one) is written through a temporary file in the same folder and an atomic
rename over the target; a symbolic link is resolved and its final target replaced (the link stays).
A character device (``/dev/null``, a terminal) or a FIFO is written through, never replaced; any other
kind of file (a folder, a block device, a socket) is refused. Paths in ``protect`` (the dataset file)
are never written, whatever links lead to them.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile


class OutputPathError(OSError):
    """An output path that cannot or must not be written; ``strerror`` says why in words."""


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def output_kind(path: str, protect=()) -> str:
    """How ``path`` would be written: ``"replace"`` (a regular file or a new one: atomic rename) or
    ``"through"`` (a character device or a FIFO: opened and written). Raises :class:`OutputPathError`
    when it cannot be: an empty name, a folder, a missing or read-only folder, a read-only file, another
    kind of file, or a path that is (or links to) one of ``protect``.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> output_kind(os.path.join(d, "new.json")), output_kind("/dev/null")
    ('replace', 'through')
    >>> output_kind(d)
    Traceback (most recent call last):
    ...
    attnsvm.verify.files.OutputPathError: [Errno 21] is a folder
    """
    if not isinstance(path, str) or path == "":
        raise OutputPathError(errno.ENOENT, "empty file name")
    for p in protect:
        if p and os.path.exists(p) and os.path.lexists(path) and _same(path, p):
            raise OutputPathError(errno.EPERM, "refusing to overwrite the dataset file")
    if path.endswith(os.sep) or os.path.isdir(path):
        raise OutputPathError(errno.EISDIR, "is a folder")
    target = os.path.realpath(path)
    try:
        st = os.stat(path)   # follows links, also /proc/self/fd/N onto a pipe
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise OutputPathError(errno.ENOTDIR, f"{os.path.dirname(os.path.abspath(path))} is not a folder") from None
    except OSError as exc:
        raise OutputPathError(exc.errno, exc.strerror or "cannot inspect it") from None
    if st is not None:
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            if not os.access(path, os.W_OK):
                raise OutputPathError(errno.EACCES, "not writable")
            return "through"
        if not stat.S_ISREG(st.st_mode):
            raise OutputPathError(errno.EINVAL, "exists and is neither a regular file, a character device nor a FIFO")
        if not os.access(target, os.W_OK):
            raise OutputPathError(errno.EACCES, "the file is read-only")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise OutputPathError(errno.ENOENT, f"folder {os.path.dirname(os.path.abspath(path))} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(errno.EACCES, f"folder {folder} is not writable")
    return "replace"


def write_atomically(path: str, text: str, *, protect=()) -> bytes:
    """Write ``text`` (UTF-8) to ``path`` and return the bytes written: through a temporary file and
    ``os.replace`` onto the final target of ``path`` (links resolved) when that is a regular file or
    new, or straight through when it is a character device or a FIFO (see :func:`output_kind`). Raises
    OSError (the temporary file is removed, also on KeyboardInterrupt) when it cannot be written.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "out.json")
    >>> write_atomically(p, "{}\\n"), open(p).read(), sorted(os.listdir(d))
    (b'{}\\n', '{}\\n', ['out.json'])
    >>> write_atomically("/dev/null", "discarded")
    b'discarded'
    """
    data = text.encode("utf-8")
    kind = output_kind(path, protect)
    if kind == "through":
        with open(path, "wb") as fh:
            fh.write(data)
        return data
    target = os.path.realpath(path)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".attnsvm-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        for p in protect:  # once more, right before the rename
            if p and os.path.exists(p) and os.path.exists(target) and _same(target, p):
                raise OutputPathError(errno.EPERM, "refusing to overwrite the dataset file")
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return data
