"""``attnsvm report`` writes the same bytes on a re-run: in another process (another hash seed, other figures
drawn before), every file but ``timing.json`` is byte-identical; the pages hold no time at all."""
from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys

import pytest

from attnsvm.reports import build
from attnsvm.verify import builtin, check

WRITE = """
import pickle, sys
from attnsvm.reports import write_report
from attnsvm.reports.plots import _new_figure, to_svg
if sys.argv[3] == "draw-first":   # figures drawn before the report must not change its bytes
    fig = _new_figure(); fig.add_subplot().plot([0, 1]); to_svg(fig)
entries = pickle.load(open(sys.argv[1], "rb"))
write_report(entries, sys.argv[2], command="attnsvm report --out DIR")
"""


@pytest.fixture(scope="module")
def entries():
    ds = builtin("single-input-global")
    r = check(ds, only=["optimal-tokens", "p-svm", "norm-divergence", "directional-limit", "regularization-path"],
              max_iterations=300, fixed_iterations=300)
    return [(r, ds)]


def test_report_is_byte_identical_on_a_rerun(entries, tmp_path):
    data = tmp_path / "entries.pkl"
    data.write_bytes(pickle.dumps(entries))
    folders = []
    for seed, mode in (("1", "plain"), ("2", "draw-first")):
        out = tmp_path / f"out-{seed}"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONHASHSEED"] = seed
        proc = subprocess.run([sys.executable, "-c", WRITE, str(data), str(out), mode], env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        folders.append(out)
    names = sorted(os.listdir(folders[0]))
    assert names == sorted(os.listdir(folders[1]))
    assert build.TIMING in names and "single-input-global.html" in names
    for name in names:
        a, b = (folders[0] / name).read_bytes(), (folders[1] / name).read_bytes()
        if name != build.TIMING:
            assert a == b, f"{name} differs between two runs"
    page = (folders[0] / "single-input-global.html").read_text(encoding="utf-8")
    assert "<svg" in page                                   # figures are part of what is compared
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", page)     # no date
    assert not re.search(r"\b\d+(\.\d+)? s\b", page)         # no duration


def test_rendering_twice_in_one_process_is_identical(entries, tmp_path):
    build.write_report(entries, str(tmp_path / "a"))
    build.write_report(entries, str(tmp_path / "b"))
    for name in os.listdir(tmp_path / "a"):
        if name != build.TIMING:
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_pages_rendered_in_workers_are_the_pages_write_report_renders(entries, tmp_path):
    from attnsvm.reports.build import PageRenderer, safe_names

    stems = safe_names(r.dataset["name"] for r, _ in entries)
    render = PageRenderer(stems, "attnsvm report --out DIR")
    pages = [render(k, r, ds) for k, (r, ds) in enumerate(entries, 1)]
    build.write_report(entries, str(tmp_path / "a"), command="attnsvm report --out DIR")
    build.write_report(entries, str(tmp_path / "b"), command="attnsvm report --out DIR", pages=pages)
    for name in os.listdir(tmp_path / "a"):
        if name != build.TIMING:
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
