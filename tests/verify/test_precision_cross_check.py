"""The precision-cross-check check: holds on a built-in, fails when a float64 step is perturbed (mutation)."""
import json

import mpmath
import numpy as np
import pytest

from attnsvm.numeric import attention
from attnsvm.verify.api import check
from attnsvm.verify.checks import CHECK_IDS
from attnsvm.verify.errors import InputError

FAST = dict(max_iterations=2000, time_budget=3.0, cross_check_iterations=600)


def test_registered_after_directional_limit():
    # it certifies the directional-limit runs, so it comes after them (and before the W and joint checks)
    assert CHECK_IDS.index("directional-limit") < CHECK_IDS.index("precision-cross-check") < CHECK_IDS.index("w-svm")


def test_holds_on_multi_input_with_evidence():
    res = check("multi-input", only=["precision-cross-check"], **FAST)
    r = res["precision-cross-check"]
    assert r.verdict == "holds", r.summary
    ev = r.evidence
    assert ev["dps"] == 30 and ev["tol"] == 1e-10
    for run in ev["runs"]:
        assert run["first_parting"] is None and run["min_digits"] >= 10
        assert run["iterations_mp"] == run["iterations_float64"] == 600
        compared = [c for c in run["checkpoints"] if c["direction"] is not None]
        assert compared and all(c["direction"] <= 1e-10 for c in compared)
        assert all(c.get("rel_one_minus_corr") is not None for c in compared[1:])
        fin = run["final"]
        assert fin["one_minus_mass_float64"] == 0.0 and mpmath.mpf(fin["one_minus_mass_mp"]) > 0
    cert = ev["certified"]
    assert cert["dps"] == 50 and cert["worst_direction_error"] < 1e-12
    nw = ev["naive_warning"]
    assert nw["departure_norm"] < nw["stall_norm"]
    json.dumps(res.to_dict())  # the evidence is JSON


def test_detects_a_perturbed_float64_step(monkeypatch):
    """Mutation: one float64 step (the 120th evaluation of the step direction) is perturbed by 1e-7 relative;
    the check must fail and name a checkpoint at or after it."""
    real = attention.StableAttention.gradient
    calls = {"n": 0}

    def perturbed(*args, **kwargs):
        g = real(*args, **kwargs)
        calls["n"] += bool(kwargs.get("scaled"))
        if kwargs.get("scaled") and calls["n"] == 120:
            g = g + 1e-7 * np.linalg.norm(g) * np.array([0.0, 1.0, 0.0])
        return g

    monkeypatch.setattr(attention.StableAttention, "gradient", perturbed)
    r = check("multi-input", only=["precision-cross-check"], **FAST)["precision-cross-check"]
    assert r.verdict == "fails", r.summary
    part = r.evidence["runs"][0]["first_parting"]
    assert part is not None and part["iteration"] >= 100 and part["direction"] > 1e-10
    assert "part at iteration" in r.summary


def test_bad_options_are_input_errors():
    with pytest.raises(InputError, match="cross_check_dps"):
        check("single-input-global", only=["precision-cross-check"], cross_check_dps=0)
    with pytest.raises(InputError, match="naive_tol"):
        check("single-input-global", only=["precision-cross-check"], naive_tol="x")


def test_too_short_a_budget_is_inconclusive_not_holds():
    r = check("multi-input", only=["precision-cross-check"], **dict(FAST, cross_check_time_budget=1e-3))
    r = r["precision-cross-check"]
    assert r.verdict == "inconclusive", r.summary
    for run in r.evidence["runs"]:
        assert run["cut_by_time_budget"] and run["iterations_mp"] < 100
        assert run["iterations_float64"] == run["iterations_mp"]
