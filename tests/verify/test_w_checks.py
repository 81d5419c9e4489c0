"""The self/cross-attention checks on a built-in of the tf-svm-local family (short budgets)."""
import numpy as np
import pytest

from attnsvm import verify
from attnsvm.verify.cli import main


@pytest.fixture(scope="module")
def result():
    return verify.check("tf-svm-local-1", only=["p-svm", "w-svm", "directional-limit", "kq-directional-limit"],
                        max_iterations=4000, fixed_iterations=3000)


def test_prompt_premises_step_aside_and_the_w_svm_is_certified(result):
    assert result["p-svm"].verdict == verify.NOT_APPLICABLE
    assert result["w-svm"].verdict == verify.HOLDS and result["w-svm"].role == "premise"
    ev = result["w-svm"].evidence
    cert = ev["optimal"]["nuclear"]["certificate"]
    assert cert["ok"] and cert["relative_gap"] < 1e-6
    assert ev["optimal"]["frobenius"]["kkt_ok"]
    assert ev["optimal"]["frobenius"]["rank"] != ev["optimal"]["nuclear"]["rank"]


def test_the_w_theorem_is_judged_and_kq_is_an_observation(result):
    dl = result["directional-limit"]
    assert dl.statement["id"] == "P2-T-GD" and "w_model" in dl.evidence
    kq = result["kq-directional-limit"]
    assert kq.statement["kind"] == "observation"
    ev = kq.evidence
    assert ev["closer_to_nuclear"] and ev["svms_differ"]
    assert ev["final"]["nuc_gap"] < ev["nuclear_gap_of_frobenius_solution"] / 3
    # short runs: whatever the verdict, it may not claim the run contradicts the observation
    assert kq.verdict in (verify.INCONCLUSIVE, verify.HOLDS)


def test_w_checks_not_applicable_on_prompt_datasets():
    res = verify.check("single-input-global", only=["w-svm", "kq-directional-limit"])
    assert all(c.verdict == verify.NOT_APPLICABLE for c in res.checks)


def test_list_shows_the_family_in_one_line(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert sum("tf-svm-local" in line for line in out.splitlines()) == 1
    assert "tf-svm-local-<seed>" in out and "seeds 0-99" in out


def _planted_kq_run(W, selection):
    """A (K, Q) run whose product W_k = k W sits on one W-SVM solution at every checkpoint."""
    from attnsvm.numeric.gd import Checkpoint, Trajectory
    cps = [Checkpoint(iteration=k, theta=k * W, norm=float(k * np.linalg.norm(W)), loss=0.0, selected=selection,
                      one_minus_mass=0.0, grad_norm=1.0) for k in (1, 10, 100, 1000)]
    return Trajectory("planted", 1.0, cps, "iterations", 0.0)


def test_a_kq_run_on_the_frobenius_solution_contradicts_the_observation(monkeypatch):
    """On tf-svm-local-1 the two W-SVMs differ (ranks 6 and 4). A run sitting on W_F^mm is told apart as
    closer to the Frobenius solution: a counterexample; one sitting on W_*^mm is not."""
    from attnsvm.verify import builtin, w_runs
    from attnsvm.verify.checks import kq_directional_limit as kq_mod
    from attnsvm.verify.checks.optimal_tokens import optimal_tokens
    from attnsvm.verify.context import Context
    ctx = Context.create(builtin("tf-svm-local-1"))
    alpha = tuple(optimal_tokens(ctx.dataset)[0])
    svms = w_runs.w_svm(ctx, alpha)
    W_F, W_nuc = np.asarray(svms.fro.theta, float), np.asarray(svms.nuc.W, float).ravel()
    monkeypatch.setattr(kq_mod, "kq_run", lambda c: _planted_kq_run(W_F, alpha))
    res = kq_mod.run(ctx)
    assert res.verdict == verify.FAILS and res.evidence["svms_differ"] and not res.evidence["closer_to_nuclear"]
    assert res.evidence["final"]["fro_gap"] < 1e-12 and "frobenius_gap" in res.evidence["counterexample"]
    monkeypatch.setattr(kq_mod, "kq_run", lambda c: _planted_kq_run(W_nuc, alpha))
    res = kq_mod.run(ctx)
    assert res.verdict != verify.FAILS and res.evidence["closer_to_nuclear"]


def test_svms_too_large_for_the_exact_solve_or_the_sdp_say_so(monkeypatch):
    """Above the size caps (lowered here): the Frobenius W-SVM keeps its float64 solution unpolished, its
    certificate is `none` with the reason, the nuclear SVM is not solved and the (K, Q) claim is undecided
    with the size, never judged against a missing solution."""
    from attnsvm.verify import builtin, w_runs
    from attnsvm.verify import context as context_module
    from attnsvm.verify.checks import kq_directional_limit as kq_mod
    from attnsvm.verify.context import Context

    monkeypatch.setattr(context_module, "EXACT_MAX_WORK", 0.5)
    monkeypatch.setattr(w_runs, "NUC_MAX_ENTRIES", 1)
    ctx = Context.create(builtin("tf-svm-local-1"))
    res = ctx.run_check("w-svm")
    assert res.verdict == "holds" and "nuclear SVM not solved" in res.summary and "too large" in res.summary
    rec = w_runs.w_svm(ctx, res.evidence["optimal"]["selection"])
    assert rec.fro.polished is None and rec.fro.feasible
    cert = rec.fro.certificate()
    assert cert.status == "none" and cert.reason.startswith("too large for the exact KKT solve")
    assert "size_limit" in rec.fro.evidence()
    alpha = tuple(res.evidence["optimal"]["selection"])
    monkeypatch.setattr(kq_mod, "kq_run", lambda c: _planted_kq_run(np.asarray(rec.fro.theta, float), alpha))
    kq = ctx.run_check("kq-directional-limit")
    assert kq.verdict == "inconclusive" and "too large for the SDP solver" in kq.summary
