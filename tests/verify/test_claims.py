"""The judge's semantics (verify.claims): premises apart from conclusions, a verdict that means one thing, the
dataset's status and exit status, isolated checks, timing kept apart from the deterministic JSON."""
import json

import numpy as np
import pytest

from attnsvm.verify import Dataset, check
from attnsvm.verify import claims as cl
from attnsvm.verify.checks import CHECK_IDS, MODULES
from attnsvm.verify.result import CheckResult, Result, split_timing


class FakeContext:
    """A context whose premises have given verdicts."""

    def __init__(self, verdicts):
        self.verdicts = verdicts

    def premise(self, pid):
        return CheckResult(pid, self.verdicts[pid], "", role="premise")


STATEMENT = cl.Statement("X", "P1", "a test statement", "unconfirmed", "theorem", "text",
                         premises=("a", "b"), conclusion="c")


@pytest.mark.parametrize("a,b,outcome,verdict", [
    ("holds", "holds", cl.OBSERVED, "holds"),
    ("holds", "holds", cl.UNDECIDED, "inconclusive"),
    ("holds", "fails", cl.OBSERVED, "not-applicable"),
    ("holds", "fails", cl.CONTRADICTED, "not-applicable"),      # outside the theory: never a counterexample
    ("holds", "not-applicable", cl.OBSERVED, "not-applicable"),
    ("inconclusive", "holds", cl.OBSERVED, "inconclusive"),     # an undecided premise never gives holds
    ("inconclusive", "fails", cl.OBSERVED, "not-applicable"),
])
def test_verdict_from_premises_and_observation(a, b, outcome, verdict):
    ce = {"init": [0.0]} if outcome == cl.CONTRADICTED else None
    res = cl.judge(FakeContext({"a": a, "b": b}), "x", STATEMENT, cl.Observation(outcome, "seen", {"k": 1}, ce))
    assert res.verdict == verdict and res.role == "claim"
    assert res.premises == {"a": a, "b": b}
    assert res.evidence["observation"]["outcome"] == outcome           # what was observed is always kept
    if verdict == "not-applicable":
        assert res.summary.startswith("outside the theory") and "seen" in res.summary


def test_holds_and_fails_need_all_premises_and_a_contradiction_needs_its_counterexample():
    res = cl.judge(FakeContext({"a": "holds", "b": "holds"}), "x", STATEMENT,
                   cl.Observation(cl.CONTRADICTED, "bad", {}, {"init": [1.0], "iterate": [2.0]}))
    assert res.verdict == "fails" and res.evidence["counterexample"]["iterate"] == [2.0]
    with pytest.raises(ValueError, match="counterexample"):
        cl.Observation(cl.CONTRADICTED, "bad", {})


def test_every_check_declares_its_role_and_statement():
    for cid in CHECK_IDS:
        m = MODULES[cid]
        assert m.ROLE in cl.ROLES and isinstance(m.STATEMENT, cl.Statement), cid
        for p in m.STATEMENT.premises:
            assert p in MODULES and MODULES[p].ROLE == "premise", (cid, p)
    unconfirmed = [s for s in cl.STATEMENTS.values() if s.confidence == "unconfirmed"]
    assert unconfirmed and all(s.to_dict()["confidence_meaning"].startswith("recollection") for s in unconfirmed)


def R(role, verdict):
    return CheckResult(f"{role}-{verdict}", verdict, "", role=role)


@pytest.mark.parametrize("checks,status,ok", [
    ([R("premise", "holds"), R("claim", "holds"), R("claim", "not-applicable")], cl.CONSISTENT, True),
    ([R("premise", "fails"), R("claim", "not-applicable")], cl.OUTSIDE, True),
    ([R("claim", "holds"), R("claim", "fails")], cl.COUNTEREXAMPLE, False),
    ([R("claim", "holds"), R("claim", "inconclusive")], cl.UNDECIDED_STATUS, False),
    ([R("claim", "holds"), R("instrument", "fails")], cl.UNDECIDED_STATUS, False),
    ([R("claim", "holds"), R("instrument", "inconclusive")], cl.UNDECIDED_STATUS, False),
    ([R("premise", "fails"), R("claim", "holds")], cl.CONSISTENT, True),   # a failed premise is no defect
])
def test_dataset_status(checks, status, ok):
    r = Result(dataset={"name": "d"}, checks=checks)
    assert r.status == status and r.ok is ok
    assert r.to_dict()["status"] == status


def test_timing_is_kept_apart_from_the_evidence():
    c = CheckResult("x", "holds", "", evidence={"runs": [{"seconds": 1.5, "a": 1}], "seconds_mp": 2.0, "b": 2})
    r = Result(dataset={"name": "d"}, checks=[c], seconds=3.25)
    d = r.to_dict()
    assert d["checks"][0]["evidence"] == {"runs": [{"a": 1}], "b": 2}
    assert d["timing"] == {"total": 3.25, "x": {"runs[0].seconds": 1.5, "seconds_mp": 2.0}}
    assert "seconds" not in json.dumps(d["checks"])
    assert split_timing({"seconds": 1})[0] == {}


TIE = Dataset(X=[[[1, 0], [0, 1], [0, 0]]], Y=[1], v=[1, 1], name="tie")


def test_a_tie_is_a_failed_premise_and_makes_gd_claims_not_applicable_without_warnings(recwarn):
    r = check(TIE, only=["optimal-tokens", "directional-limit", "norm-divergence"], max_iterations=2000,
              fixed_iterations=2000)
    assert r["optimal-tokens"].verdict == "fails" and r["optimal-tokens"].evidence["witness"] == \
        [{"sequence": 0, "tokens": [0, 1]}]
    for cid in ("directional-limit", "norm-divergence"):
        assert r[cid].verdict == "not-applicable" and r[cid].premises["optimal-tokens"] == "fails"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_equal_scores_premise():
    equal = Dataset(X=[[[1, 0, 2], [0, 1, 1], [0, -1, 1]]], Y=[1], v=[0, 0, 1], name="eq")
    unequal = Dataset(X=[[[1, 0, 2], [0, 1, 1], [0, -1, 0]]], Y=[1], v=[0, 0, 1], name="ne")
    assert check(equal, only=["equal-scores"])["equal-scores"].verdict == "holds"
    res = check(unequal, only=["equal-scores"])["equal-scores"]
    assert res.verdict == "fails" and res.evidence["witness"] == {"sequence": 0, "scores": ["0", "1"]}


def test_infeasible_p_svm_is_a_failed_premise_with_an_exact_farkas_witness():
    # one sequence whose optimal token's key is the midpoint of two others: it can never be the strict argmax
    ds = Dataset(X=[[[0, 0, 1], [1, 0, 0], [-1, 0, 0]]], Y=[1], v=[0, 0, 1], W=[[1, 0, 0], [0, 1, 0], [0, 0, 0]],
                 name="midpoint")
    res = check(ds, only=["p-svm"])["p-svm"]
    assert res.verdict == "fails" and res.role == "premise"
    y = {int(k): v for k, v in res.evidence["witness"]["farkas_y"].items()}
    assert set(y) == {0, 1} and y[0] == y[1]          # A^T y = 0: the two difference rows cancel


def test_an_unexpected_error_in_one_check_does_not_take_the_others_down(monkeypatch):
    from attnsvm.verify.checks import equal_scores

    def boom(ctx):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(equal_scores, "run", boom)
    r = check("single-input-global", only=["optimal-tokens", "equal-scores"])
    assert r["optimal-tokens"].verdict == "holds"
    bad = r["equal-scores"]
    assert bad.verdict == "inconclusive" and "planted" in bad.summary and bad.evidence["error"]["type"] == \
        "ZeroDivisionError"


def test_floating_point_warnings_are_recorded_in_the_evidence_not_printed(monkeypatch, capsys):
    from attnsvm.verify.checks import equal_scores

    real = equal_scores.run

    def noisy(ctx):
        np.exp(np.array([1e6]))        # overflow: a RuntimeWarning
        return real(ctx)

    monkeypatch.setattr(equal_scores, "run", noisy)
    res = check("single-input-global", only=["equal-scores"])["equal-scores"]
    assert any("overflow" in w for w in res.evidence["numerical_warnings"])
    assert "RuntimeWarning" not in capsys.readouterr().err
