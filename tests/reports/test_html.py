"""The generated HTML: self-contained (no URL of any kind), escaped, one section per check in the
result's order, verdict words beside the colours, the reproducibility footer."""
from __future__ import annotations

import html.parser
import json
import re

from attnsvm.reports import render_dataset_page
from attnsvm.verify import CHECK_IDS, builtin_names

from .conftest import HOSTILE, HOSTILE_LOSS, hostile_result


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v or "") for k, v in attrs)

    def handle_data(self, data):
        self.text.append(data)


def parse(text):
    p = _Collector()
    p.feed(text)
    return p


def pages(folder):
    return sorted(folder.glob("*.html"))


def assert_self_contained(text, allowed_files):
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"url\(\s*['\"]?(?!#)", text), "url() pointing outside the page"
    assert "@import" not in text
    p = parse(text)
    assert "script" not in p.tags and "iframe" not in p.tags and "link" not in p.tags
    for tag, key, value in p.attrs:
        if key in ("src", "href", "xlink:href", "action", "poster", "srcset"):
            target = value.split("#")[0]
            inline = value.startswith("#") or value.startswith("data:image/")  # matplotlib's colour bars
            assert inline or target in allowed_files, f"{tag} {key}={value[:60]!r} leaves the report"
        assert not key.startswith("on"), f"event handler attribute {key} on {tag}"


def test_builtin_report_files(builtin_report):
    names = sorted(p.name for p in builtin_report.iterdir())
    expected = ["index.html"] + [f"{n}{ext}" for n in builtin_names() for ext in (".html", ".json")]
    assert names == sorted(expected + [".attnsvm-report.json"])
    for n in builtin_names():
        doc = json.loads((builtin_report / f"{n}.json").read_text())
        assert doc["schema"] == "attnsvm.check/1" and doc["dataset"]["name"] == n


def test_pages_have_no_external_urls(builtin_report, hostile_report):
    for folder in (builtin_report, hostile_report):
        allowed = {p.name for p in folder.iterdir()}
        for page in pages(folder):
            assert_self_contained(page.read_text(encoding="utf-8"), allowed)


def test_url_detector_catches_external_references():
    # the checker itself must be able to fail
    for bad in ('<img src="https://cdn.example/x.png">', '<a href="//cdn.example/x">x</a>',
                '<div style="background:url(http://x/y.png)"></div>', '<script src="x.js"></script>'):
        try:
            assert_self_contained(f"<html><body>{bad}</body></html>", {"index.html"})
        except AssertionError:
            continue
        raise AssertionError(f"not detected: {bad}")


def test_hostile_strings_are_escaped(hostile_report):
    files = sorted(p.name for p in hostile_report.iterdir())
    assert files == [".attnsvm-report.json", "index.html", "script-alert-1-script.html", "script-alert-1-script.json"]
    for page in pages(hostile_report):
        text = page.read_text(encoding="utf-8")
        assert HOSTILE not in text and HOSTILE_LOSS not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        p = parse(text)
        assert "script" not in p.tags and "img" not in p.tags
        assert HOSTILE in "".join(p.text)  # shown to the reader as text
    page = (hostile_report / "script-alert-1-script.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(2)&gt;" in page


def test_sections_follow_the_result_order(builtin_entries, builtin_report):
    for result, ds in builtin_entries:
        text = (builtin_report / f"{ds.name}.html").read_text(encoding="utf-8")
        positions = [text.index(f'id="check-{c.id}"') for c in result.checks]
        assert positions == sorted(positions)
        assert [c.id for c in result.checks] == [c for c in CHECK_IDS if c in {x.id for x in result.checks}]
        for c in result.checks:  # the verdict word is always printed next to its colour
            assert re.search(rf'<h2>{re.escape(c.id)} <span class="badge {c.verdict} big"[^>]*>\S+ {c.verdict}</span>',
                             text)


def test_unknown_checks_render_generically():
    result, ds = hostile_result()
    text = render_dataset_page(result, ds)
    assert 'id="check-some-future-check"' in text and "inconclusive" in text
    assert "<th>a</th>" in text and "<th>b</th>" in text  # the list of records became a table


def test_plots_and_maths_are_in_the_page(builtin_report):
    text = (builtin_report / "multi-input.html").read_text(encoding="utf-8")
    assert text.count("<svg") >= 4  # 1 - corr, mass, plane, norm growth
    assert "GD trajectories and SVM directions in the plane of the keys" in text
    assert "Norm divergence: ||p_k|| against k" in text
    for needle in ("KKT conditions", "p-SVM", "∇<sub><var>p</var></sub><var>L</var>", "ℓ′"):
        assert needle in text


def test_reproducibility_footer(builtin_report):
    text = (builtin_report / "index.html").read_text(encoding="utf-8")
    footer = text[text.index("<footer>"):]
    for needle in ("attnsvm report --out DIR", "numpy", "mpmath", "matplotlib", "backend: float64",
                   "mpmath digits: 50", "seeds", "max_iterations=300000"):
        assert needle in footer, needle


def test_index_lists_every_dataset_and_verdict(builtin_entries, builtin_report):
    text = (builtin_report / "index.html").read_text(encoding="utf-8")
    for result, ds in builtin_entries:
        assert f'href="{ds.name}.html"' in text and f'href="{ds.name}.json"' in text
        for c in result.checks:
            assert f'href="{ds.name}.html#check-{c.id}"' in text
