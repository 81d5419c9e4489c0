"""verify.terminal: control characters escaped in every terminal line; the progress line only on a terminal."""
from __future__ import annotations

import io
import time
import unicodedata

from attnsvm.verify.terminal import Progress, printable, write_lines

HOSTILE = "a\nb\r\x1b[31mred\x07\x9b2J\u202egnp.exe"


def test_every_control_character_is_escaped():
    for code in range(0x3000):
        ch = chr(code)
        out = printable(f"x{ch}y")
        control = unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029\u200e\u200f" or 0x202A <= code <= 0x202E \
            or 0x2066 <= code <= 0x2069
        if control:
            assert ch not in out and out.startswith("x\\") and out.endswith("y"), hex(code)
            assert all(unicodedata.category(c) != "Cc" for c in out)
        else:
            assert out == f"x{ch}y", hex(code)


def test_hostile_name_becomes_one_visible_line():
    out = printable(HOSTILE)
    assert out == "a\\nb\\r\\x1b[31mred\\x07\\x9b2J\\u202egnp.exe"
    assert "\x1b" not in out and "\n" not in out and "\r" not in out


def test_write_lines_writes_one_terminal_line_per_entry():
    buf = io.StringIO()
    write_lines([f"first {HOSTILE}", "second"], buf)
    assert buf.getvalue().split("\n") == ["first " + printable(HOSTILE), "second", ""]
    buf = io.StringIO()
    write_lines(HOSTILE, buf)   # a string is one line
    assert buf.getvalue() == printable(HOSTILE) + "\n"


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_silent_off_a_terminal():
    buf = io.StringIO()
    p = Progress(3, stream=buf)
    p.show(1, HOSTILE, "p-svm")
    time.sleep(0.3)
    p.close()
    assert buf.getvalue() == ""


def test_progress_on_a_terminal_names_the_step_and_erases_itself(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")          # a wide terminal: the line is not cut
    buf = FakeTTY()
    with Progress(4, stream=buf, interval=0.05) as p:
        p.show(1, HOSTILE, "directional-limit")
        time.sleep(0.2)   # the refresh thread rewrites the elapsed time
        p.show(2, HOSTILE, "precision-cross-check")
    text = buf.getvalue()
    assert "1/4" in text and "directional-limit" in text and "2/4" in text and "precision-cross-check" in text
    assert "\x1b" not in text and "\n" not in text            # the hostile name is escaped, one line only
    assert text.count("directional-limit") >= 2               # refreshed while it ran
    assert text.endswith("\r")                                # erased at the end
