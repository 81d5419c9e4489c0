"""The self/cross-attention checks on a built-in of the tf-svm-local family (short budgets)."""
import pytest

from attnsvm import verify
from attnsvm.verify.cli import main


@pytest.fixture(scope="module")
def result():
    return verify.check("tf-svm-local-1", max_iterations=4000)


def test_prompt_checks_step_aside_and_w_checks_report(result):
    assert result["p-svm"].verdict == verify.NOT_APPLICABLE
    assert result["directional-limit"].verdict == verify.NOT_APPLICABLE
    assert result["w-svm"].verdict == verify.HOLDS
    ev = result["w-svm"].evidence
    cert = ev["optimal"]["nuclear"]["certificate"]
    assert cert["ok"] and cert["relative_gap"] < 1e-6
    assert ev["optimal"]["frobenius"]["kkt_ok"]
    assert ev["optimal"]["frobenius"]["rank"] != ev["optimal"]["nuclear"]["rank"]


def test_w_and_kq_runs_are_told_apart(result):
    w = result["w-directional-limit"].evidence
    kq = result["kq-directional-limit"].evidence
    assert w["final"]["one_minus_corr_fro"] < 1e-4 and w["told_apart"]
    assert w["final"]["fro_gap"] < w["final"]["nuc_gap"]
    assert kq["closer_to_nuclear"] and kq["svms_differ"]
    assert kq["final"]["nuc_gap"] < kq["nuclear_gap_of_frobenius_solution"] / 3
    # short runs: whatever the verdicts, neither may claim the run contradicts the theory
    assert result["w-directional-limit"].verdict in (verify.INCONCLUSIVE, verify.HOLDS)
    assert result["kq-directional-limit"].verdict in (verify.INCONCLUSIVE, verify.HOLDS)


def test_w_checks_not_applicable_on_prompt_datasets():
    res = verify.check("single-input-global", only=["w-svm", "w-directional-limit", "kq-directional-limit"])
    assert all(c.verdict == verify.NOT_APPLICABLE for c in res.checks)


def test_list_shows_the_family_in_one_line(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert sum("tf-svm-local" in line for line in out.splitlines()) == 1
    assert "tf-svm-local-<seed>" in out and "seeds 0-99" in out
