"""Tests of the check `locally-optimal` on the built-in datasets (small GD budgets)."""
import pytest

from attnsvm.verify import check
from attnsvm.verify.checks import CHECK_IDS
from attnsvm.verify.checks import locally_optimal as lo

FAST = dict(stop_tol=1e-7, max_iterations=20000, time_budget=5.0)


@pytest.fixture(scope="module")
def single_local():
    return check("single-input-local", only=["locally-optimal"], **FAST)["locally-optimal"]


@pytest.fixture(scope="module")
def from_zero():
    return check("local-from-zero", only=["locally-optimal"], **FAST)["locally-optimal"]


def test_registered_after_directional_limit():
    assert CHECK_IDS.index("locally-optimal") == CHECK_IDS.index("directional-limit") + 1


def test_single_input_local_has_two_locally_optimal_selections_with_cones_and_basins(single_local):
    assert single_local.verdict == "holds"
    ev = single_local.evidence
    sels = {tuple(e["selection"]): e for e in ev["locally_optimal"]}
    assert set(sels) == {(0,), (1,)}
    assert sels[(0,)]["optimal"] and not sels[(1,)]["optimal"]
    # [1]'s only support token is token 2 (score 0 < 0.9), decided from the polished SVM
    assert sels[(1,)]["support"] == [[0, 2]] and sels[(1,)]["exact"]
    assert abs(sels[(1,)]["p_mm_norm"] - 1.0) < 1e-12
    for e in sels.values():
        assert e["cone"]["smallest_R"] is not None
        assert e["cone"]["all_larger_R_ok"]
    basin = {tuple(b["selection"]): b["fraction"] for b in ev["random_inits"]["basins"] if "selection" in b}
    assert basin[(0,)] > 0 and basin[(1,)] > 0
    assert ev["contradictions"] == []
    # [2] is feasible but not locally optimal (both support tokens score higher)
    assert ev["candidates"]["examined"] == 3 and ev["candidates"]["feasible"] == 3
    table = {tuple(r["selection"]): r for r in ev["candidates"]["table"]}
    assert table[(2,)]["feasible"] and table[(2,)]["locally_optimal"] is False
    assert sorted(table[(2,)]["support"]) == [[0, 0], [0, 1]]


def test_gd_from_zero_reaching_a_local_selection_is_reported_as_local(from_zero):
    assert from_zero.verdict == "holds"
    run0 = from_zero.evidence["dataset_runs"][0]
    assert run0["selected"] == [1] and run0["converged"]
    assert run0["locally_optimal"] and not run0["optimal"]
    assert "init 0 -> [1] locally but not globally optimal" in from_zero.summary
    sels = {tuple(e["selection"]): e for e in from_zero.evidence["locally_optimal"]}
    # hand-solved: [1] has p_mm = (0, 1) (constraints (-0.5, 1.2).p >= 1, (0, 1).p >= 1), support token 2;
    # [0] has p_mm = (0.5, -0.2) / 0.29 (constraint (0.5, -1.2).p >= 1 inactive), norm 1 / sqrt(0.29)
    assert sels[(1,)]["support"] == [[0, 2]] and abs(sels[(1,)]["p_mm_norm"] - 1) < 1e-12
    assert sels[(0,)]["support"] == [[0, 2]] and abs(sels[(0,)]["p_mm_norm"] - 0.29 ** -0.5) < 1e-12


def test_a_converged_run_on_a_non_local_selection_fails(monkeypatch):
    # pretend only the optimal tokens are locally optimal: GD from zero then contradicts the theory
    monkeypatch.setattr(lo, "is_locally_optimal", lambda gamma, sel, support: tuple(sel) == (0,))
    res = check("local-from-zero", only=["locally-optimal"], **FAST)["locally-optimal"]
    assert res.verdict == "fails"
    assert {"source": "init 0", "selection": [1]} in res.evidence["contradictions"]
