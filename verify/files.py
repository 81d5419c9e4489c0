"""Writing output files without ever leaving a half-written one: a temporary file in the same folder,
then an atomic rename over the target."""
from __future__ import annotations

import os
import tempfile


def write_atomically(path: str, text: str) -> bytes:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and ``os.replace``; return the bytes
    written. Raises OSError (the temporary file is removed) when the folder cannot be written."""
    data = text.encode("utf-8")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".attnsvm-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return data
