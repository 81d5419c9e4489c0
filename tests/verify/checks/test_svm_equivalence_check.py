"""Claim `svm-equivalence` on members of the tf-svm-multitoken family (short budgets) and its scope."""
import json

import numpy as np
import pytest

from attnsvm import verify
from attnsvm.verify.context import Context


def _run(name, **options):
    ctx = Context.create(verify.builtin(name), **options)
    return ctx.run_check("svm-equivalence")


def test_member_that_fits_holds_with_certified_direction_svm():
    res = _run("tf-svm-multitoken-0", max_iterations=4000)
    ev = res.evidence
    assert res.verdict == verify.HOLDS, res.summary
    assert res.role == "claim" and res.statement["kind"] == "conjecture" and res.statement["paper"] == "P2"
    assert ev["selected_sets"] == [[0, 1, 2, 3], [2], [0]]
    assert ev["direction_svm"]["certificate"] == "exact" and ev["direction_svm"]["kkt_ok"]
    assert ev["finite_part"]["certificate"] == "exact"
    assert ev["one_minus_corr_svmeq"] < 1e-4 < 1e-1 < ev["one_minus_corr_one_token"]
    assert ev["at_authors_steps"]["iteration"] == 2000 and ev["improvement_since_authors_steps"] > 3   # twice the norm: ~4x
    assert ev["masked_mass"] <= 1e-6 and ev["R_fit"] > 0
    # the trend: the fit falls as ||W|| grows
    rows = [r for r in ev["trend"] if r["iteration"] >= 1000]
    assert all(b["one_minus_corr_svmeq"] < a["one_minus_corr_svmeq"] for a, b in zip(rows, rows[1:]))
    json.dumps(verify.result.jsonable(ev))


def test_member_with_a_constant_output_sequence_is_a_counterexample():
    """Member 1: sequence 2 keeps tokens 1, 2, 3 and masks token 0, but every relu unit is off at its attended vector,
    so no gradient reaches it; its masked token's margin grows at a seventh of the others' rate, and the fit to
    W_fin + R W_dir stays at 0.12 while ||W|| grows tenfold."""
    res = _run("tf-svm-multitoken-1", max_iterations=12000)
    assert res.verdict == verify.FAILS, res.summary
    ce = res.evidence["counterexample"]
    assert ce["selected_sets"] == [[0], [1], [1, 2, 3]]
    assert ce["sequences_with_constant_output"] == [{"sequence": 2, "masks_a_token": True}]
    assert ce["one_minus_corr_svmeq"] > 0.1 and res.evidence["last_decade"]["norm_growth"] > 3
    assert res.evidence["direction_svm"]["certificate"] == "exact"


def test_linear_head_and_kq_are_out_of_scope_and_other_checks_step_aside_for_nonlinear_heads():
    assert _run("multi-input").verdict == verify.NOT_APPLICABLE
    assert "linear head" in _run("tf-svm-local-0").summary
    res = verify.check("tf-svm-multitoken-0", only=["w-svm", "optimal-tokens"])
    assert all(c.verdict == verify.NOT_APPLICABLE and "relu head" in c.summary for c in res.checks)


def test_quadratic_head_dataset_runs_and_threshold_option_is_validated():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 3, 3))
    X /= np.linalg.norm(X, axis=-1, keepdims=True)
    ds = verify.Dataset(X=X, Y=[1, -1], v=[1, 0.5, -0.5], Z=rng.standard_normal((2, 3)), model="cross",
                        head={"kind": "quadratic", "lambda": "1/2"}, name="quad")
    res = Context.create(ds, max_iterations=3000, step=0.1).run_check("svm-equivalence")
    assert res.verdict in (verify.HOLDS, verify.INCONCLUSIVE)
    assert res.evidence["head"] == {"kind": "quadratic", "lambda": 0.5}
    for bad in (0.0, 0.7, "x"):
        with pytest.raises(verify.InputError):
            Context.create(ds, selected_threshold=bad)
