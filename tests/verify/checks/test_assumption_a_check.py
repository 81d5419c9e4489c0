"""Check `assumption-A`, and the not-applicable GD verdicts when it fails (verify.api)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from attnsvm.verify import Dataset, builtin_names, check
from attnsvm.verify.checks.assumption_a import output_bound

FAST = {"max_iterations": 300, "time_budget": 0.5, "fixed_iterations": 300, "fixed_time_budget": 0.5}


@pytest.mark.parametrize("name", builtin_names())
@pytest.mark.parametrize("loss", ["logistic", "exponential", "correlation"])
def test_holds_for_builtin_losses_on_builtin_data(name, loss):
    from attnsvm.verify import builtin

    ds = builtin(name)
    text = np.vectorize(str, otypes=[object])      # the exact values, as fraction strings
    ds = Dataset(X=text(ds.X_exact).tolist(), Y=text(ds.Y_exact).tolist(), v=text(ds.v_exact).tolist(),
                 W=text(ds.W_exact).tolist(), loss=loss, name=ds.name)
    res = check(ds, only=["assumption-A"])["assumption-A"]
    assert res.verdict == "holds", res.summary
    assert res.evidence["M1"] >= 0 and Fraction(res.evidence["U"]) == output_bound(ds)


def square_loss_dataset(scale: str) -> Dataset:
    return Dataset(X=[[["1", "0"], ["0", "1"], ["-1", "0.5"]]], Y=[1], v=[scale, "0"], loss={"expr": "(1 - u)**2"},
                   name="square")


def test_output_bound_is_max_abs_score():
    assert output_bound(square_loss_dataset("2")) == 2


def test_square_loss_fails_and_gd_checks_become_not_applicable():
    r = check(square_loss_dataset("2"), **FAST)
    a = r["assumption-A"]
    assert a.verdict == "fails" and a.evidence["witness"] is not None
    for cid in ("norm-divergence", "directional-limit"):
        c = r[cid]
        assert c.verdict == "not-applicable"
        assert c.evidence["verdict_without_assumption_a"] in ("holds", "fails", "inconclusive")
        assert "Assumption A fails" in c.summary
    # the checks that do not rest on Assumption A keep their verdicts
    assert r["p-svm"].verdict == "holds" and r["svm-certificate"].verdict == "holds"


def test_assumption_a_is_applied_even_when_not_requested():
    r = check(square_loss_dataset("2"), only=["norm-divergence"], **FAST)
    assert [c.id for c in r] == ["norm-divergence"] and r["norm-divergence"].verdict == "not-applicable"


def test_square_loss_on_a_small_interval_holds():
    # U = 1: l' = 2(u - 1) <= 0 on [-1, 1], vanishing only at u = 1
    r = check(square_loss_dataset("1"), only=["assumption-A"])
    assert r["assumption-A"].verdict == "holds" and r["assumption-A"].evidence["method"] == "symbolic"


def test_expression_loss_runs_gd():
    ds = Dataset(X=[[["1", "0"], ["0", "1"], ["-1", "0.5"]]], Y=[1], v=["1", "0"], loss={"expr": "log(1 + exp(-u))"})
    r = check(ds, only=["norm-divergence"], **FAST)
    assert r["norm-divergence"].evidence["checkpoints"][-1]["norm"] > 0
