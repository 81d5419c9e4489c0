"""What the command line writes to a terminal: lines with every control character escaped, a progress
line on stderr (only when stderr is a terminal), and quiet handling of a closed pipe.

Dataset names, loss expressions and any other string that comes from a dataset may hold control
characters; written raw, ``"\\x1b[31m"`` would colour the user's terminal and ``"\\r"`` would overwrite
the line before it. :func:`printable` shows them as Python-style escapes.
"""
from __future__ import annotations

import re
import sys
import threading
import time

# C0 controls, DEL, C1 controls, and the Unicode line separators and bidirectional overrides/isolates
# (they reorder or break what the terminal shows).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text) -> str:
    """``str(text)`` with every control character shown as an escape (``\\n``, ``\\r``, ``\\t``,
    ``\\x1b``, ``\\u202e``); everything else, including non-ASCII letters, unchanged.

    >>> printable("a\\nb\\r\\x1b[31mred")
    'a\\\\nb\\\\r\\\\x1b[31mred'
    >>> printable("naïve γ_it ✓")
    'naïve γ_it ✓'
    >>> printable("abc\\u202edef")
    'abc\\\\u202edef'
    """
    return _CONTROL.sub(_escape, str(text))


def write_lines(lines, stream=None) -> None:
    """Write each of ``lines`` (a list of strings; a single string is one line) as one terminal line,
    through :func:`printable`: a line break inside an entry is shown as ``\\n``, never obeyed.

    >>> write_lines(["name: a\\nb", "done"])
    name: a\\nb
    done
    """
    stream = sys.stdout if stream is None else stream
    if isinstance(lines, str):
        lines = [lines]
    stream.write("".join(printable(line) + "\n" for line in lines))
    stream.flush()


class Progress:
    """One status line on stderr, rewritten in place while work runs: ``[k/N] name: step  12.3 s`` with
    a bar of the finished fraction. Silent (every method a no-op) unless stderr is a terminal, so pipes,
    CI logs and ``--json`` output never see it. A background thread refreshes the elapsed time.

    >>> import io
    >>> p = Progress(3, stream=io.StringIO())   # not a terminal: nothing is written
    >>> p.show(1, "multi-input", "p-svm"); p.close(); p.stream.getvalue()
    ''
    """

    def __init__(self, total: int, *, stream=None, enabled: bool | None = None, interval: float = 0.25):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            try:
                enabled = self.stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = bool(enabled)
        self.total = max(int(total), 1)
        self.done_count = 0
        self.label = ""
        self.started = time.monotonic()
        self.step_started = self.started
        self.width = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, args=(interval,), daemon=True)
            self._thread.start()

    def _columns(self) -> int:
        import shutil

        return max(shutil.get_terminal_size((100, 24)).columns - 1, 20)

    def _render(self) -> None:
        now = time.monotonic()
        frac = self.done_count / self.total
        bar = "#" * int(round(frac * 20))
        line = (f"[{bar:<20}] {self.done_count}/{self.total} {self.label}  "
                f"{now - self.step_started:.1f} s (total {now - self.started:.0f} s)")
        line = printable(line)[:self._columns()]
        self.stream.write("\r" + line + " " * max(self.width - len(line), 0) + "\r" + line)
        self.stream.flush()
        self.width = len(line)

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with self._lock:
                if self.width:
                    try:
                        self._render()
                    except (OSError, ValueError):
                        return

    def show(self, done: int, name: str, step: str) -> None:
        """``done`` items of ``total`` are finished; ``name`` is now at ``step``."""
        if not self.enabled:
            return
        with self._lock:
            if done != self.done_count or not self.label.endswith(f": {step}"):
                self.step_started = time.monotonic()
            self.done_count = min(max(int(done), 0), self.total)
            self.label = f"{name[:40]}: {step}"
            self._render()

    def close(self) -> None:
        """Stop the refresh and erase the line."""
        if not self.enabled:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        with self._lock:
            if self.width:
                self.stream.write("\r" + " " * self.width + "\r")
                self.stream.flush()
                self.width = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
