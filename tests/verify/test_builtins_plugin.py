"""The project's own verification of the built-in datasets, through the pytest plugin: every check
of every built-in must hold (not-applicable checks are skipped; inconclusive is not allowed). Assumption B
is judged under B[S] (README, "Joint training"): on joint-relaxed B[S] holds with a certified nu while
B[n] (the slides' maximum over all sequences) fails with a ray certificate, reported in the evidence."""
from __future__ import annotations

from attnsvm.verify import CHECK_IDS, builtin_names

from .plugin_runner import run_inner_pytest


def test_builtins_hold_through_the_plugin(tmp_path, monkeypatch):
    names = builtin_names()
    code, rec = run_inner_pytest(tmp_path, monkeypatch, "--attnsvm", *names)
    outcomes = rec.outcomes()
    expected = {f"attnsvm[{n}]::{c}" for n in names for c in CHECK_IDS}
    assert set(outcomes) == expected
    bad = {k: v for k, v in outcomes.items() if v == "failed"}
    assert not bad, "\n\n".join(rec.text(k) for k in bad)
