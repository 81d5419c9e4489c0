"""Check `assumption-A`, and the not-applicable GD verdicts when it fails (verify.api)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from attnsvm.verify import Dataset, builtin_names, check
from attnsvm.verify.checks.assumption_a import output_bound

FAST = {"max_iterations": 300, "fixed_iterations": 300}


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
    for cid in ("norm-divergence", "directional-limit", "locally-optimal", "regularization-path"):
        c = r[cid]
        assert c.verdict == "not-applicable" and c.premises["assumption-A"] == "fails"
        assert c.summary.startswith("outside the theory") and "assumption-A fails" in c.summary
        assert c.evidence["observation"]["outcome"] in ("observed", "contradicted", "undecided")
    # the checks that do not rest on Assumption A keep their verdicts
    assert r["p-svm"].verdict == "holds" and r["svm-certificate"].verdict == "holds"
    assert r.status == "outside the theory" and r.ok


def test_assumption_a_is_applied_even_when_not_requested():
    r = check(square_loss_dataset("2"), only=["norm-divergence"], **FAST)
    assert [c.id for c in r] == ["norm-divergence"] and r["norm-divergence"].verdict == "not-applicable"
    assert r["norm-divergence"].premises["assumption-A"] == "fails"


def test_a_complex_valued_loss_is_reported_and_no_check_crashes():
    ds = Dataset(X=[[["1", "0"], ["0", "1"], ["-1", "0.5"]]], Y=[1], v=["2", "0"], loss={"expr": "sqrt(-u)"})
    r = check(ds, **FAST)
    assert r["assumption-A"].verdict == "fails" and r["assumption-A"].evidence["failure"] == "undefined"
    crashed = [c.id for c in r if "internal error" in c.summary]
    assert not crashed, crashed


def test_square_loss_fails_even_when_the_outputs_stay_below_1():
    # scores in [-1, 1]: l' = 2(u - 1) <= 0 there, but Assumption A is about all of R (l increases for u > 1),
    # and on the outputs l' vanishes at u_max = 1, the end GD approaches (flagged)
    a = check(square_loss_dataset("1"), only=["assumption-A"])["assumption-A"]
    assert a.verdict == "fails" and a.evidence["method"] == "exact" and a.evidence["failure"] == "increasing"
    w = Fraction(a.evidence["witness"])
    assert w > 1 and 2 * (w - 1) > 0
    assert a.evidence["interval"] == ["-1", "1"] and a.evidence["vanishes_at_end"] is True
    assert a.evidence["M1"] >= 4 and a.evidence["M0"] >= 2        # sup |2(u - 1)| = 4, |l''| = 2 on [-1, 1]
    assert "l'(u_max) = 0" in a.summary


def test_output_interval_is_min_and_max_score():
    from attnsvm.verify.checks.assumption_a import output_interval

    ds = Dataset(X=[[["1", "0"], ["0", "1"], ["-1", "0.5"]], [["2", "0"], ["0", "1"], ["0.5", "1"]]], Y=[1, -1],
                 v=["1", "0"], loss="logistic")
    assert output_interval(ds) == (Fraction(-2), Fraction(1))    # scores (1, 0, -1) and -(2, 0, 1/2)
    a = check(ds, only=["assumption-A"])["assumption-A"]
    assert a.verdict == "holds" and a.evidence["interval"] == ["-2", "1"]
    assert a.evidence["M1"] >= 1 / (1 + 2.718281828459045 ** -2)   # sup 1/(1 + e^u) on [-2, 1], at u = -2


def test_expression_loss_runs_gd():
    ds = Dataset(X=[[["1", "0"], ["0", "1"], ["-1", "0.5"]]], Y=[1], v=["1", "0"], loss={"expr": "log(1 + exp(-u))"})
    r = check(ds, only=["norm-divergence"], **FAST)
    run = r["norm-divergence"].evidence["runs"][0]
    assert run["checkpoints"][-1]["norm"] > 1 and run["selected"] == [0]
