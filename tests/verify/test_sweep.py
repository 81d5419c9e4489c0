"""Tests of the sweep: the family, the table, determinism, Dask on loopback, the command line."""
import json
import sys

import numpy as np
import pytest
from scipy.optimize import linprog

from attnsvm.verify.cli import main
from attnsvm.verify.errors import InputError
from attnsvm.verify.sweep import CLASSES, comparable, parse_int_list, random_dataset, sweep, sweep_point

SMALL = dict(inits=3, iterations=300)


def test_family_is_unit_norm_with_random_signs_and_reproducible():
    X, Y, v = random_dataset(3, 4, 5, seed=11)
    assert X.shape == (3, 4, 5) and np.allclose(np.linalg.norm(X, axis=2), 1)
    assert np.isclose(np.linalg.norm(v), 1) and set(Y) <= {-1.0, 1.0}
    X2, Y2, v2 = random_dataset(3, 4, 5, seed=11)
    assert np.array_equal(X, X2) and np.array_equal(Y, Y2) and np.array_equal(v, v2)
    assert not np.array_equal(X, random_dataset(3, 4, 5, seed=12)[0])


def test_row_fractions_partition_the_runs():
    row = sweep_point(2, 3, 3, 6, **SMALL)
    assert row["runs"] == 18 and row["datasets"] == 6
    assert sum(row["counts"].values()) == 18
    assert abs(sum(row["fractions"][c] for c in CLASSES) - 1) < 1e-12
    assert 0 <= row["feasible_optimal"] <= 1


def test_feasibility_matches_an_independent_lp():
    # fraction of datasets whose optimal-token p-SVM is feasible, recomputed with scipy's LP (HiGHS)
    n, T, d, seeds = 2, 4, 2, 12
    row = sweep_point(n, T, d, seeds, **SMALL)
    feas = []
    for s in range(seeds):
        X, Y, v = random_dataset(n, T, d, s)
        gamma = Y[:, None] * (X @ v)
        alpha = gamma.argmax(axis=1)
        A = np.concatenate([X[i, alpha[i]] - np.delete(X[i], alpha[i], axis=0) for i in range(n)])
        lp = linprog(np.zeros(d), A_ub=-A, b_ub=-np.ones(len(A)), bounds=[(None, None)] * d, method="highs")
        feas.append(lp.status == 0)
    assert row["feasible_optimal"] == pytest.approx(np.mean(feas))
    assert 0 < np.mean(feas) < 1          # this grid point has both kinds


def test_over_parameterised_point_is_always_feasible():
    # d >= n (T - 1): the constraint rows are independent almost surely
    row = sweep_point(2, 3, 5, 5, **SMALL)
    assert row["feasible_optimal"] == 1.0 and row["feasible_selections"] == 1.0


def test_sweep_is_deterministic():
    a = sweep([2], [3], [2, 4], 4, **SMALL)
    b = sweep([2], [3], [2, 4], 4, **SMALL)
    assert comparable(a) == comparable(b)
    assert [r["d"] for r in a["rows"]] == [2, 4]


def test_distributed_table_equals_local_table():
    distributed = pytest.importorskip("distributed")
    local = sweep([2], [3], [2, 3], 4, **SMALL)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = sweep([2], [3], [2, 3], 4, scheduler=cluster.scheduler_address, **SMALL)
    assert remote["where"].startswith("dask scheduler tcp://127.0.0.1")
    assert comparable(remote) == comparable(local)


def test_parse_int_list():
    assert parse_int_list("2,4, 6", "--d") == [2, 4, 6]
    with pytest.raises(InputError, match="--d"):
        parse_int_list("2,x", "--d")
    with pytest.raises(InputError, match="--T: every value must be >= 2"):
        parse_int_list("1", "--T", minimum=2)


def test_cli_writes_json_and_html(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", "--n", "2", "--T", "3", "--d", "2,3", "--seeds", "3", "--inits", "2",
                 "--iterations", "200", "--out", str(out)])
    assert code == 0
    table = json.loads((out / "sweep.json").read_text())
    assert table["schema"] == "attnsvm.sweep/1" and len(table["rows"]) == 2
    assert "<svg" in (out / "sweep.html").read_text()
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--d", "2,x"], "--d: expected comma-separated integers"),
    (["--T", "1"], "--T: every value must be >= 2"),
    (["--seeds", "0"], "seeds: expected a positive integer"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, args, message):
    code = main(["sweep", "--out", str(tmp_path / "o"), "--iterations", "10", "--seeds", "1"] + args)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_refuses_a_file_as_out(tmp_path, capsys):
    f = tmp_path / "data.json"
    f.write_text("keep me")
    assert main(["sweep", "--out", str(f), "--seeds", "1", "--iterations", "10"]) == 2
    assert f.read_text() == "keep me"
    assert "not a folder" in capsys.readouterr().err


def test_scheduler_without_dask_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)     # import distributed -> ImportError
    code = main(["sweep", "--out", str(tmp_path / "o"), "--seeds", "1", "--scheduler", "tcp://127.0.0.1:8786"])
    err = capsys.readouterr().err
    assert code == 2 and "needs dask.distributed" in err and err.count("\n") == 1


def test_apparent_contradictions_are_rechecked_on_longer_runs(monkeypatch):
    # mark every selection other than the optimal tokens "not locally optimal": the runs that converged to
    # another selection become suspects, are continued 10x longer, and are still counted exactly once
    import attnsvm.verify.sweep as sw

    real = sw.analyse_selection

    def fake(phi, gamma, sel, *a, **k):
        res = real(phi, gamma, sel, *a, **k)
        if res.feasible and tuple(sel) != tuple(int(t) for t in gamma.argmax(axis=1)):
            res.locally_optimal = False
        return res

    honest = sweep_point(2, 3, 3, 6, **SMALL)
    monkeypatch.setattr(sw, "analyse_selection", fake)
    row = sweep_point(2, 3, 3, 6, **SMALL)
    assert honest["counts"]["local"] > 0 and honest["rechecked"] == 0
    assert row["rechecked"] >= honest["counts"]["local"]
    assert row["counts"]["local"] == 0 and sum(row["counts"].values()) == row["runs"]
    assert row["counts"]["not_local"] > 0          # GD really does converge there: the recheck confirms it
