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
    expected = ["index.html", "timing.json"] + [f"{n}{ext}" for n in builtin_names() for ext in (".html", ".json")]
    assert names == sorted(expected + [".attnsvm-report.json"])
    timing = json.loads((builtin_report / "timing.json").read_text())["datasets"]
    for n in builtin_names():
        doc = json.loads((builtin_report / f"{n}.json").read_text())
        assert doc["schema"] == "attnsvm.check/2" and doc["dataset"]["name"] == n
        assert "timing" not in doc and timing[n]["total"] > 0   # the times live in timing.json only


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
    assert files == [".attnsvm-report.json", "index.html", "script-alert-1-script.html", "script-alert-1-script.json",
                     "timing.json"]
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
            words = "does not hold" if (c.role, c.verdict) == ("premise", "fails") else c.verdict
            assert re.search(rf'<h3 class="check-title">{re.escape(c.id)} <span class="badge [a-z-]+ big" '
                             rf'title="verdict: {c.verdict}">\S+ {words}</span>', text), c.id


def test_unknown_checks_render_generically():
    result, ds = hostile_result()
    text = render_dataset_page(result, ds)
    assert 'id="check-some-future-check"' in text and "inconclusive" in text
    assert "<th>a</th>" in text and "<th>b</th>" in text  # the list of records became a table


def test_plots_and_maths_are_in_the_page(builtin_report):
    text = (builtin_report / "multi-input.html").read_text(encoding="utf-8")
    assert text.count("<svg") >= 4  # 1 - corr, 1 - s, norm growth, regularisation path
    for title in ("Directional convergence: 1 - corr against ||p||", "Attention off the selected tokens",
                  "Norm divergence: ||p_k|| against k", "1 - corr along the regularisation path"):
        assert title in text, title
    for needle in ("KKT conditions", "p-SVM", "∇<sub><var>p</var></sub><var>L</var>", "ℓ′"):
        assert needle in text


def test_reproducibility_footer(builtin_report):
    text = (builtin_report / "index.html").read_text(encoding="utf-8")
    footer = text[text.index("<footer>"):]
    for needle in ("attnsvm report --out DIR", "numpy", "mpmath", "matplotlib", "backend: ", "float64",
                   "mpmath digits: 50", "seeds", "max_iterations="):
        assert needle in footer, needle
    assert "generated" not in footer and not re.search(r"\b20\d\d-\d\d-\d\d\b", text)


def test_index_lists_every_dataset_and_verdict(builtin_entries, builtin_report):
    text = (builtin_report / "index.html").read_text(encoding="utf-8")
    for result, ds in builtin_entries:
        assert f'href="{ds.name}.html"' in text and f'href="{ds.name}.json"' in text
        for c in result.checks:
            assert f'href="{ds.name}.html#check-{c.id}"' in text


def test_pages_present_roles_statements_and_premises(builtin_entries, builtin_report):
    """The dataset's status first; premises, claims and instruments in separate groups; each claim with its
    statement (paper, name, kind, confidence of the wording) and its premises linked with their verdicts."""
    for result, ds in builtin_entries:
        text = (builtin_report / f"{ds.name}.html").read_text(encoding="utf-8")
        header = text[text.index("<header"):text.index("</header>")]
        assert f'title="dataset status: {result.status}"' in header
        groups = [text.index(f'id="{role}s"') for role in ("premise", "claim", "instrument")
                  if any(c.role == role for c in result.checks)]
        assert groups == sorted(groups)
        for c in result.checks:
            start = text.index(f'id="check-{c.id}"')
            section = text[start:text.index("</section>", start)]
            group = max(g for g in groups if g < start)
            assert text[group:].startswith(f'id="{c.role}s"')
            if c.statement:
                for key in ("paper", "statement", "kind", "confidence_meaning"):
                    assert str(c.statement[key]) in section.replace("&#39;", "'"), (c.id, key)
            for p, v in (c.premises or {}).items():
                assert f'<a href="#check-{p}">{p}</a>' in section and f'title="verdict: {v}"' in section
            assert "<b>Observed:</b>" in section


def test_index_groups_checks_by_role(builtin_entries, builtin_report):
    text = (builtin_report / "index.html").read_text(encoding="utf-8")
    heads = [text.index(f">{t}</th>") for t in ("Premises", "Claims", "Instruments")]
    assert heads == sorted(heads)
    for result, _ in builtin_entries:
        assert f'title="dataset status: {result.status}"' in text


def test_wide_record_tables_keep_the_other_fields_behind_each_row():
    from attnsvm.reports.views import MAX_COLUMNS, record_table

    records = [{f"field_{k}": k * 1.5 for k in range(20)} | {"reason": "x " * 100, "run": j} for j in range(3)]
    t = record_table("runs", records)
    assert t.columns[0] == "run" and len(t.columns) <= MAX_COLUMNS
    assert all(len(extra) == 22 - len(t.columns) for extra in t.row_details)   # 20 fields, reason, run
    assert any(k == "reason" for k, _ in t.row_details[0])
