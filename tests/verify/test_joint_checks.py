"""The joint-training checks and the dataset field ``train``: verdicts on the built-ins against hand-derived
SVMs, a dataset where Assumption B provably fails, and not-applicable verdicts for train = "p"."""
import json
from fractions import Fraction

import numpy as np
import pytest

from attnsvm.verify import Dataset, builtin, check
from attnsvm.verify.errors import DatasetError

JOINT_IDS = ["assumption-B[S]", "assumption-B[n]", "v-svm", "relaxed-p-svm", "joint-directional-limit",
             "joint-regularization-path"]


def _obj(**extra):
    obj = {"X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 0]}
    obj.update(extra)
    return obj


def test_train_field_defaults_and_validation(tmp_path):
    assert Dataset.from_dict(_obj()).train == "p"
    assert Dataset.from_dict(_obj(train="vp")).train == "vp"
    for bad in ("pv", 3, None, ["vp"]):
        with pytest.raises(DatasetError, match="train"):
            Dataset.from_dict(_obj(train=bad))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_obj(train="joint")))
    with pytest.raises(DatasetError, match=r"bad\.json: train"):
        Dataset.from_file(str(path))
    assert builtin("joint-tight").train == "vp" and builtin("multi-input").train == "p"


def test_builtins_are_the_figure_data():
    ds = builtin("joint-relaxed")
    assert ds.X_exact[2, 1].tolist() == [Fraction(1, 2), Fraction(3, 2)]
    assert builtin("joint-tight").X_exact[2, 1].tolist() == [Fraction(1, 2), Fraction(1)]
    assert ds.Y.tolist() == [1, -1, 1] and np.array_equal(ds.W, np.eye(2))


def test_svms_of_joint_relaxed_match_hand_solutions():
    """v-SVM: v = (0, 1), S = {0, 1} (sequence 2 has margin 1.5). Relaxed p-SVM (margins 1, 1, 0): p = (1, 0);
    plain p-SVM: p = (5/4, 1/4) (constraints of sequences 1 and 2 active) -- all derived by hand."""
    r = check("joint-relaxed", only=["v-svm", "relaxed-p-svm"])
    v = r["v-svm"]
    assert v.verdict == "holds"
    assert [float(x) for x in v.evidence["v_mm"]] == pytest.approx([0, 1], abs=1e-40)
    assert v.evidence["support"] == [0, 1]
    rp = r["relaxed-p-svm"]
    assert rp.verdict == "holds"
    assert rp.evidence["margins"] == [1, 1, 0]
    assert [float(x) for x in rp.evidence["relaxed"]["p_mm"]] == pytest.approx([1, 0], abs=1e-40)
    assert [float(x) for x in rp.evidence["plain"]["p_mm"]] == pytest.approx([1.25, 0.25], abs=1e-40)


def test_joint_tight_every_sequence_supports():
    r = check("joint-tight", only=["v-svm", "relaxed-p-svm"])
    assert r["v-svm"].evidence["support"] == [0, 1, 2]
    # p-SVM by hand: constraints of sequences 1, 2 active: p = (4/3, 1/3)
    assert [float(x) for x in r["relaxed-p-svm"].evidence["relaxed"]["p_mm"]] == pytest.approx([4 / 3, 1 / 3], rel=1e-30)
    assert r["relaxed-p-svm"].evidence["one_minus_corr_relaxed_plain"] == 0


def test_regularization_path_joint_relaxed_follows_relaxed_svm():
    c = check("joint-relaxed", only=["joint-regularization-path"])["joint-regularization-path"]
    assert c.verdict == "holds", c.summary
    assert c.premises["assumption-B[S]"] == "holds" and c.evidence["premises_beside"] == {"assumption-B[n]": "fails"}
    joint = c.evidence
    last = joint["rows"][-1]
    assert last["one_minus_corr_p_relaxed"] <= 1e-6 and last["one_minus_corr_v"] <= 1e-6
    assert last["one_minus_corr_p_plain"] > 1e-2
    omc = [r["one_minus_corr_p_relaxed"] for r in joint["rows"]]
    assert omc[-1] < omc[-3] / 10          # a visible trend over the last decade
    assert all(r["reached"] >= 1 for r in joint["rows"])


def test_assumption_b_fails_with_certified_counterexample():
    """One sequence, x_alpha = (1, 0), other token (0.5, 5), v = (1, 0): Gamma = 1, but mixing in the other token
    makes the single mixed feature longer (at p = 0, margin = ||(3/4, 5/2)|| > 1), so ratio(p) < 0 there: both
    readings fail with a point certificate (interval arithmetic), confirmed in mpmath."""
    ds = Dataset(X=[[[1, 0], ["0.5", 5]]], Y=[1], v=[1, 0], train="vp", name="b-fails")
    r = check(ds, only=["assumption-B[S]", "assumption-B[n]"])
    for name in ("B[S]", "B[n]"):
        c = r[f"assumption-{name}"]
        assert c.verdict == "fails" and c.role == "premise", c.summary
        e = c.evidence[name]
        assert e["verdict"] == "fails" and e["certificate"]["kind"] == "point" and e["certificate"]["proved"]
        assert e["cross_check"]["ratio_mpmath"] < 0
def test_joint_checks_not_applicable_for_train_p():
    r = check("single-input-global", only=JOINT_IDS)
    for cid in JOINT_IDS:
        assert r[cid].verdict == "not-applicable"
        assert "train" in r[cid].summary


def test_regularization_path_p_alone_on_p_dataset():
    c = check("single-input-global", only=["regularization-path"])["regularization-path"]
    assert c.verdict == "holds", c.summary
    assert c.statement["id"] == "P1-T1"


def test_joint_gd_and_assumption_b_on_joint_relaxed_serialise():
    r = check("joint-relaxed", only=["assumption-B[S]", "assumption-B[n]", "joint-directional-limit"])
    gd = r["joint-directional-limit"]
    assert gd.verdict == "holds", gd.summary
    assert gd.premises["assumption-B[S]"] == "holds"                          # judged under B[S]
    assert all(run["one_minus_corr_p_plain"] > 1e-2 for run in gd.evidence["runs"])
    bs, bn = r["assumption-B[S]"], r["assumption-B[n]"]
    assert bs.verdict == "holds" and bs.evidence["B[S]"]["nu_float"] > 0.29
    assert bn.verdict == "fails" and bn.evidence["B[n]"]["certificate"]["kind"] == "ray"
    assert "(B[n] fails)" in bs.summary
    doc = json.loads(r.to_json())
    assert [c["id"] for c in doc["checks"]] == ["assumption-B[S]", "assumption-B[n]", "joint-directional-limit"]
    ev_s, ev_n = doc["checks"][0]["evidence"], doc["checks"][1]["evidence"]
    assert Fraction(ev_n["B[n]"]["certificate"]["rate"]) > 0 and ev_s["B[S]"]["nu"] == "292893/1000000"
def test_reading_results_as_separate_premise_results():
    """assumption_b_s / assumption_b_n: each reading as its own result (ids assumption-B[S], assumption-B[n])."""
    from attnsvm.verify.checks.assumption_b import assumption_b_n, assumption_b_s
    from attnsvm.verify.context import Context

    ctx = Context.create(builtin("joint-relaxed"))
    s_res, n_res = assumption_b_s(ctx), assumption_b_n(ctx)
    assert (s_res.id, s_res.verdict) == ("assumption-B[S]", "holds")
    assert (n_res.id, n_res.verdict) == ("assumption-B[n]", "fails")
    assert n_res.evidence["B[n]"]["cross_check"]["consistent"]
    ctx_p = Context.create(builtin("single-input-global"))
    assert assumption_b_s(ctx_p).verdict == "not-applicable"
def test_regularization_path_reports_another_joint_optimum():
    """Tokens (1, 0) and (0, 1) are equally good once v is trained: the joint path may settle on token 1, and
    the check must not call that convergence to alpha = [0]'s SVMs."""
    ds = Dataset(X=[[[1, 0], [0, 1], ["0.5", "0.5"]]], Y=[1], v=[1, 0], loss="exponential", train="vp", name="sym")
    r = check(ds, only=["regularization-path", "joint-regularization-path"])
    c = r["joint-regularization-path"]
    assert c.evidence["rows"][-1]["selected"] == [1]      # the seeded search lands on the other optimum
    assert c.verdict == "inconclusive" and "not alpha" in c.summary
    assert r["regularization-path"].verdict == "holds"    # the path sits on p_mm to solver accuracy


def test_float_false_positive_is_not_reported_as_failure(monkeypatch):
    """If the float64 sampling reported ratio <= 0 at a p where the mpmath value is positive (here p = 0, ratio 1 by
    hand: every z_i = x_{i,1}/2, margin 1/2 (sequence 2 is off the support), max(1 - s) = 1/2), no verdict rests on
    it: B[S] still holds by its certificate (the sample re-evaluated in mpmath), B[n] fails by its ray only."""
    from attnsvm.numeric import assumption_b as nb

    fake = {"nu_hat": -1e-9, "p_worst": [0.0, 0.0], "nu_hat_S": -1e-9, "p_worst_S": [0.0, 0.0], "samples": 1,
            "skipped_underflow": 0, "directions": 1, "norms": [0.0], "local_searches": [], "evaluations": 1,
            "mp_evaluations": 0}
    monkeypatch.setattr(nb, "estimate_nu", lambda *a, **k: fake)
    r = check("joint-relaxed", only=["assumption-B[S]", "assumption-B[n]"])
    assert r["assumption-B[S]"].verdict == "holds"
    assert r["assumption-B[S]"].evidence["B[S]"]["nu_hat"] == pytest.approx(1.0, rel=1e-12)
    assert r["assumption-B[n]"].evidence["B[n]"]["certificate"]["kind"] == "ray"
def test_joint_gd_targets_the_tokens_it_selects():
    """Random data (3 x 3 x 2) where joint GD leaves the optimal tokens of the dataset's v: the run is compared
    with the v-SVM of the tokens it selects (solved here independently with scipy) and says it is not alpha."""
    from scipy.optimize import minimize

    X = [[[0.13, -0.13], [0.64, 0.1], [-0.54, 0.36]], [[1.3, 0.95], [-0.7, -1.27], [-0.62, 0.04]],
         [[-2.33, -0.22], [-1.25, -0.73], [-0.54, -0.32]]]
    ds = Dataset(X=X, Y=[-1, -1, -1], v=[-0.13, 1.37], train="vp", name="random-0")
    c = check(ds, only=["joint-directional-limit"], max_iterations=20000)["joint-directional-limit"]
    run = c.evidence["runs"][0]
    assert run["selected_is_alpha"] is False and "0/1 runs select alpha" in c.summary
    Xa = np.array(X)[np.arange(3), run["selected"]]
    rows = -Xa                                                  # Y_i x_{i, selected_i} with Y = -1
    sol = minimize(lambda w: w @ w, np.ones(2), constraints=[{"type": "ineq", "fun": lambda w: rows @ w - 1}],
                   method="SLSQP", options={"ftol": 1e-14})
    assert np.linalg.norm(np.array(run["v_target_unit"]) - sol.x / np.linalg.norm(sol.x)) < 1e-6


def test_assumption_b_proved_on_joint_tight():
    c = check("joint-tight", only=["assumption-B[S]"])["assumption-B[S]"]
    assert c.verdict == "holds" and "(B[n] holds)" in c.summary
    cert = c.evidence["B[S]"]["certificate"]
    assert cert["kind"] == "convexity" and cert["proved"] is True
    assert c.evidence["B[S]"]["nu_hat"] >= float(Fraction(cert["nu"]))
