"""``attnsvm report``: files written, safe names, clean re-runs, refusals, quiet progress."""
from __future__ import annotations

import json
import os

import pytest

from attnsvm.verify import api
from attnsvm.verify.checks import CHECK_IDS
from attnsvm.verify.cli import main

TINY = {"name": "tiny", "X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 0]}
FAST = ["--max-iterations", "300", "--time-budget", "1", "--jobs", "1"]


@pytest.fixture
def fast_checks(monkeypatch):
    """Make the fixed-step run of norm-divergence short too (the CLI has no option for it)."""
    real = api.check

    def check(dataset, only=None, **options):
        options.setdefault("fixed_iterations", 300)
        options.setdefault("cross_check_iterations", 300)
        return real(dataset, only=only, **options)

    monkeypatch.setattr(api, "check", check)


def write(tmp_path, stem, **fields):
    path = tmp_path / f"{stem}.json"
    path.write_text(json.dumps(dict(TINY, **fields)))
    return str(path)


def test_report_writes_pages_and_json(tmp_path, fast_checks, capsys):
    ds = write(tmp_path, "tiny")
    out = tmp_path / "out"
    code = main(["report", ds, "--out", str(out), *FAST])
    captured = capsys.readouterr()
    assert code in (0, 1)
    assert sorted(os.listdir(out)) == [".attnsvm-report.json", "index.html", "timing.json", "tiny.html", "tiny.json"]
    doc = json.loads((out / "tiny.json").read_text())
    assert doc["schema"] == "attnsvm.check/2" and len(doc["checks"]) == len(CHECK_IDS)
    assert captured.err == ""  # no progress when stderr is not a terminal
    assert "tiny" in captured.out and "wrote" in captured.out
    assert "attnsvm report" in (out / "index.html").read_text()


def test_hostile_names_stay_inside_the_folder(tmp_path, fast_checks, capsys):
    a = write(tmp_path, "a", name="<script>alert(1)</script>")
    b = write(tmp_path, "b", name="../../etc")
    c = write(tmp_path, "c", name="index")
    out = tmp_path / "deep" / "out"
    assert main(["report", a, b, c, "--out", str(out), *FAST]) in (0, 1)
    assert sorted(os.listdir(out)) == [".attnsvm-report.json", "dataset-index.html", "dataset-index.json", "etc.html",
                                       "etc.json", "index.html", "script-alert-1-script.html",
                                       "script-alert-1-script.json", "timing.json"]
    assert sorted(os.listdir(tmp_path / "deep")) == ["out"]


def test_rerun_overwrites_own_files_and_keeps_others(tmp_path, fast_checks, capsys):
    one, two = write(tmp_path, "one", name="one"), write(tmp_path, "two", name="two")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["report", one, two, "--out", str(out), *FAST]) in (0, 1)
    (out / "two.json").write_text("edited by hand")  # changed since the tool wrote it: kept
    assert main(["report", one, "--out", str(out), *FAST]) in (0, 1)
    assert sorted(os.listdir(out)) == [".attnsvm-report.json", "index.html", "notes.txt", "one.html", "one.json",
                                       "timing.json", "two.json"]
    assert (out / "notes.txt").read_text() == "mine" and (out / "two.json").read_text() == "edited by hand"
    manifest = json.loads((out / ".attnsvm-report.json").read_text())
    assert sorted(manifest["files"]) == ["index.html", "one.html", "one.json", "timing.json"]
    assert manifest["state"] == "complete"


def test_refuses_to_overwrite_foreign_files(tmp_path, fast_checks, capsys):
    ds = write(tmp_path, "tiny")
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("my own index")
    code = main(["report", ds, "--out", str(out), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "index.html" in err and "not written by attnsvm" in err
    assert (out / "index.html").read_text() == "my own index" and sorted(os.listdir(out)) == ["index.html"]


def test_dataset_file_in_out_dir_is_not_overwritten(tmp_path, fast_checks, capsys):
    ds = write(tmp_path, "tiny")  # tiny.json is also the name its JSON result would get
    before = open(ds).read()
    assert main(["report", ds, "--out", str(tmp_path), *FAST]) == 2
    assert open(ds).read() == before


def test_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    code = main(["report", "multi-input", "--out", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --out") and "is a file" in err and err.count("\n") == 1
    assert target.read_text() == "x"


def test_unknown_dataset_is_one_line(tmp_path, capsys):
    assert main(["report", "no-such-dataset", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-dataset" in err and not (tmp_path / "o").exists()


def test_progress_on_a_terminal(tmp_path, fast_checks, capsys, monkeypatch):
    ds = write(tmp_path, "tiny")
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["report", ds, "--out", str(tmp_path / "o"), *FAST]) in (0, 1)
    err = capsys.readouterr().err
    assert "0/2 tiny: directional-limit" in err and "1/2 report: writing the files" in err
    assert "\n" not in err and err.endswith("\r")   # one line, rewritten in place, erased at the end


def test_parallel_checks_keep_the_order():
    from attnsvm.verify import Dataset, check_many

    datasets = [Dataset(X=TINY["X"], Y=[1], v=[1, 0], name=name) for name in ("first", "second")]
    options = {"max_iterations": 50, "fixed_iterations": 50, "cross_check_iterations": 50}
    seen = []
    results = check_many(datasets, 2, progress=lambda k, ds, step: seen.append((ds.name, step)), **options)
    assert sorted(e for e in seen if e[1] == "done") == [("first", "done"), ("second", "done")]
    for name in ("first", "second"):   # each worker reports every check before it runs, in registry order
        steps = [step for ds, step in seen if ds == name]
        assert steps[-1] == "done" and steps[:-1] == [c for c in CHECK_IDS if c in steps[:-1]]
    assert [r.dataset["name"] for r in results] == ["first", "second"]
    assert [c.id for c in results[0]] == CHECK_IDS
