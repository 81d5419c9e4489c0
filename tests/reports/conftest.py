"""Shared report fixtures: the built-in datasets' results (computed once per process through the
plugin's cached check, shared with the plugin tests) and the report written from them."""
from __future__ import annotations

import pytest

from attnsvm.reports import write_report
from attnsvm.verify import CheckResult, Dataset, Result, builtin, builtin_names
from attnsvm.verify.pytest_plugin import cached_checks

HOSTILE = "<script>alert(1)</script>"
HOSTILE_LOSS = "<img src=x onerror=alert(2)>"


@pytest.fixture(scope="session")
def builtin_entries():
    """(result, dataset) of every built-in dataset with the default options (checked in parallel,
    cached in the plugin for the whole process)."""
    names = builtin_names()
    return list(zip(cached_checks(names), [builtin(n) for n in names]))


@pytest.fixture(scope="session")
def builtin_report(builtin_entries, tmp_path_factory):
    """The report folder of all built-ins, as ``attnsvm report --out DIR`` writes it."""
    out = tmp_path_factory.mktemp("report") / "out"
    write_report(builtin_entries, str(out), command="attnsvm report --out DIR")
    return out


def hostile_result() -> tuple:
    """A hand-made Result whose every dataset-provided string is hostile HTML (rendering only)."""
    ds = Dataset(X=[[[1, 0], [0, 1]]], Y=[1], v=[1, 0], name=HOSTILE, description=HOSTILE_LOSS)
    checks = [
        CheckResult("optimal-tokens", "holds", f"alpha = [0] {HOSTILE}", HOSTILE,
                    {"alpha": [0], "note": HOSTILE_LOSS}),
        CheckResult("directional-limit", "fails", HOSTILE_LOSS, HOSTILE,
                    {"runs": [{"verdict": "fails", "init": [0, 0], "reason": HOSTILE, "selected": [0],
                               "trajectory": [{"iteration": 1, "norm": 1.0, "one_minus_corr": 0.1,
                                               "mass_selected": 0.6, "one_minus_mass": 0.4, "theta": [1.0, 0.0]}]}],
                     "tol": 1e-6}),
        CheckResult("some-future-check", "inconclusive", "a check the report has no special layout for",
                    "generic rendering", {"table": [{"a": 1, "b": HOSTILE}], "x": 1.5, "flag": True}),
    ]
    summary = dict(ds.summary(), loss=HOSTILE_LOSS, source=HOSTILE)
    return Result(dataset=summary, checks=checks, options={"tol": 1e-6}, seconds=0.1), ds


@pytest.fixture(scope="session")
def hostile_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile") / "out"
    write_report([hostile_result()], str(out), command=f"attnsvm report {HOSTILE!r}")
    return out
