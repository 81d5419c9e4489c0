"""The generated pages in a real browser: headless Chromium opens each one from file://, logs no
console message (the pages carry no script and forbid loading anything, so any message is an error
or a blocked request), and its screenshot is not blank."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; "
                                                         ".ci/run installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]\s*(.*)")


def open_page(path, tmp_path, *, screenshot=None, dump_dom=False, size=(1200, 2400)):
    """Run Chromium on a file:// page, taking a screenshot or dumping the DOM; return (console
    messages, stdout)."""
    profile = tmp_path / f"profile-{os.urandom(4).hex()}"
    args = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"]
    if dump_dom:
        args.append("--dump-dom")
    else:  # headless Chromium exits after a screenshot (or a DOM dump); without either it waits
        args.append(f"--screenshot={screenshot or profile.with_suffix('.png')}")
    args.append(path.resolve().as_uri())
    proc = subprocess.run(args, capture_output=True, text=True, timeout=90, env={**os.environ, "HOME": str(tmp_path)})
    messages = [m.group(1) for m in CONSOLE.finditer(proc.stderr)]
    return messages, proc.stdout


def screenshot_stats(png):
    from matplotlib.image import imread

    img = imread(str(png))[..., :3]
    return float(img.std()), float((np.abs(img - img.mean(axis=(0, 1))) > 0.1).any(axis=-1).mean())


def test_console_detector_sees_errors(tmp_path):
    # a page with an error and a blocked external request: the detector must report both
    page = tmp_path / "canary.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" '
                    "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"></head><body><h1>x</h1>"
                    '<img src="https://cdn.invalid/x.png"></body></html>')
    messages, _ = open_page(page, tmp_path)
    assert any("Content Security Policy" in m for m in messages), messages
    page.write_text("<!DOCTYPE html><html><body><script>console.error('canary'); missing();</script></body></html>")
    messages, _ = open_page(page, tmp_path)
    assert any("canary" in m for m in messages) and any("missing" in m for m in messages), messages


def test_every_page_opens_cleanly(builtin_report, hostile_report, tmp_path):
    pages = sorted(builtin_report.glob("*.html")) + sorted(hostile_report.glob("*.html"))
    assert len(pages) >= 5
    for page in pages:
        png = tmp_path / f"{page.parent.name}-{page.stem}.png"
        messages, _ = open_page(page, tmp_path, screenshot=png)
        assert messages == [], f"{page.name}: console: {messages}"
        assert png.exists(), f"{page.name}: no screenshot"
        std, inked = screenshot_stats(png)
        assert std > 0.05 and inked > 0.02, f"{page.name}: screenshot looks blank (std {std:.3f}, inked {inked:.3f})"


def test_blank_screenshot_is_detected(tmp_path):
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    png = tmp_path / "blank.png"
    open_page(page, tmp_path, screenshot=png, size=(400, 300))
    std, inked = screenshot_stats(png)
    assert std < 0.05 and inked < 0.02


def test_hostile_name_is_text_in_the_dom(hostile_report, tmp_path):
    page = hostile_report / "script-alert-1-script.html"
    messages, dom = open_page(page, tmp_path, dump_dom=True)
    assert messages == []
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


MEASURE = """<script>
(function () {
  function wide() {
    var vw = document.documentElement.clientWidth, out = [];
    document.querySelectorAll('table').forEach(function (t, k) {
      var r = t.getBoundingClientRect();
      var shown = r.width > 0 && (!t.checkVisibility || t.checkVisibility());
      if (shown && (r.right > vw + 0.5 || r.left < -0.5)) {
        var s = t.closest('section');
        out.push({table: k, left: Math.round(r.left), right: Math.round(r.right), section: s ? s.id : ''});
      }
    });
    return {viewport: vw, page: document.documentElement.scrollWidth, wide: out};
  }
  var res = {closed: wide()};
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  res.open = wide();
  var pre = document.createElement('pre'); pre.id = 'attnsvm-measure'; pre.textContent = JSON.stringify(res);
  document.body.appendChild(pre);
})();
</script>"""


def table_overflow(page, tmp_path, width=1400):
    """Open ``page`` in Chromium at ``width`` px with a measuring script added (the pages forbid scripts, so a
    copy gets it): the tables whose box leaves the viewport, with every <details> closed and then all open."""
    import html
    import json

    text = page.read_text(encoding="utf-8")
    text = text.replace("style-src 'unsafe-inline'", "style-src 'unsafe-inline'; script-src 'unsafe-inline'", 1)
    copy = tmp_path / f"measure-{page.parent.name}-{page.name}"
    copy.write_text(text.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    messages, dom = open_page(copy, tmp_path, dump_dom=True, size=(width, 1000))
    found = re.search(r'<pre id="attnsvm-measure">(.*?)</pre>', dom, re.S)
    assert found, f"{page.name}: the measuring script did not run ({messages})"
    return json.loads(html.unescape(found.group(1)))


def test_overflow_detector_sees_a_wide_table(tmp_path):
    page = tmp_path / "wide.html"
    cells = "".join(f"<td>column-{k}-with-a-long-unbreakable-value</td>" for k in range(30))
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" '
                    "content=\"default-src 'none'; style-src 'unsafe-inline'\"></head><body>"
                    f"<table><tr>{cells}</tr></table><details><summary>x</summary><table><tr>{cells}</tr></table>"
                    "</details></body></html>")
    m = table_overflow(page, tmp_path)
    assert len(m["closed"]["wide"]) == 1 and len(m["open"]["wide"]) == 2 and m["open"]["page"] > 1400


def test_no_table_is_wider_than_1400_px(builtin_report, hostile_report, tmp_path):
    """Every table of every page fits a 1400 px window, also with every <details> open (the wide record tables
    show a few columns and keep the other fields behind each row; long values wrap)."""
    pages = sorted(builtin_report.glob("*.html")) + sorted(hostile_report.glob("*.html"))
    assert len(pages) >= 5
    for page in pages:
        m = table_overflow(page, tmp_path)
        for state in ("closed", "open"):
            assert m[state]["wide"] == [], f"{page.name} ({state}): tables wider than 1400 px: {m[state]['wide']}"
            assert m[state]["page"] <= m[state]["viewport"], f"{page.name} ({state}): the page scrolls sideways"
