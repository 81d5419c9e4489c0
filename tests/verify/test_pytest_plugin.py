"""The pytest plugin's semantics, on results planted in its cache (no checks are computed here):
items per dataset x check, failing verdicts fail with the evidence, inconclusive fails unless
allowed, not-applicable skips, bad datasets are one-line collection errors, the fixture caches."""
from __future__ import annotations

import json

import pytest

from attnsvm.verify import CHECK_IDS, CheckResult, Result
from attnsvm.verify import pytest_plugin as plugin

from .plugin_runner import run_inner_pytest

TINY = {"name": "tiny", "X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 0]}


@pytest.fixture
def planted(tmp_path):
    """A dataset file whose result (one verdict of each kind) is planted in the plugin's cache."""
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    verdicts = ["fails", "inconclusive", "not-applicable"] + ["holds"] * len(CHECK_IDS)
    checks = [CheckResult(cid, v, f"summary of {cid}", f"claim of {cid}", {"marker": f"evidence-{cid}", "long": list(range(50))})
              for cid, v in zip(CHECK_IDS, verdicts)]
    key = plugin.cache_key(str(path), {})
    plugin._CACHE[key] = (Result(dataset={"name": "tiny"}, checks=checks), None)
    yield str(path), dict(zip(CHECK_IDS, verdicts))
    plugin._CACHE.pop(key, None)


def test_items_and_verdicts(planted, tmp_path, monkeypatch):
    spec, verdicts = planted
    code, rec = run_inner_pytest(tmp_path, monkeypatch, "--attnsvm", spec)
    outcomes = rec.outcomes()
    want = {"fails": "failed", "inconclusive": "failed", "not-applicable": "skipped", "holds": "passed"}
    assert outcomes == {f"attnsvm[{spec}]::{cid}": want[v] for cid, v in verdicts.items()}
    assert code == 1
    failing = next(cid for cid, v in verdicts.items() if v == "fails")
    text = rec.text(f"attnsvm[{spec}]::{failing}")
    assert "verdict FAILS" in text and f"summary of {failing}" in text and f"evidence-{failing}" in text
    assert "more" in text  # long evidence lists are shortened


def test_allow_inconclusive(planted, tmp_path, monkeypatch):
    spec, verdicts = planted
    code, rec = run_inner_pytest(tmp_path, monkeypatch, "--attnsvm", spec, "--attnsvm-allow-inconclusive")
    failed = [k for k, v in rec.outcomes().items() if v == "failed"]
    assert failed == [f"attnsvm[{spec}]::{cid}" for cid, v in verdicts.items() if v == "fails"]


def test_deselect_by_keyword(planted, tmp_path, monkeypatch):
    spec, _ = planted
    last = CHECK_IDS[-1]
    code, rec = run_inner_pytest(tmp_path, monkeypatch, "--attnsvm", spec, "-k", last)
    assert list(rec.outcomes()) == [f"attnsvm[{spec}]::{last}"]


def test_bad_dataset_is_a_collection_error(tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(TINY, Y=[2])))
    code, rec = run_inner_pytest(tmp_path, monkeypatch, "--attnsvm", str(bad))
    assert code == 2 and not rec.reports
    (err,) = rec.collect_errors
    assert "Y[0]: labels must be -1 or 1" in err.longreprtext and "Traceback" not in err.longreprtext


def test_fixture_caches_per_dataset(attnsvm_check, tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    fast = dict(fixed_iterations=20, random_inits=4, cross_check_iterations=50)
    first = attnsvm_check(str(path), max_iterations=20, **fast)
    assert first is attnsvm_check(str(path), max_iterations=20, **fast)
    assert first is not attnsvm_check(str(path), max_iterations=21, **fast)
    assert [c.id for c in first] == CHECK_IDS
