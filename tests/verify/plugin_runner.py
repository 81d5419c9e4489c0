"""Run pytest in this process with the attnsvm plugin, in an empty folder, and collect the reports.

In-process (not a subprocess) so that the plugin's per-process cache of check results is shared
with the rest of the test session: the built-in datasets are checked once."""
from __future__ import annotations

import pytest


class Recorder:
    def __init__(self):
        self.reports = []
        self.collect_errors = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            self.reports.append(report)

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append(report)

    def outcomes(self):
        return {r.nodeid: r.outcome for r in self.reports}

    def text(self, nodeid):
        return next(r.longreprtext for r in self.reports if r.nodeid == nodeid)


def run_inner_pytest(tmp_path, monkeypatch, *args):
    """``pytest <tmp_path> -c <empty ini> ARGS`` in-process; returns (exit code, Recorder)."""
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\n")
    monkeypatch.chdir(tmp_path)
    rec = Recorder()
    code = pytest.main([str(tmp_path), "-c", str(ini), "--rootdir", str(tmp_path), "-p", "no:cacheprovider",
                        "-q", *args], plugins=[rec])
    return int(code), rec
