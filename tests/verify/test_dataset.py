import json
from fractions import Fraction as F

import numpy as np
import pytest

from attnsvm.verify import Dataset, DatasetError, builtin, builtin_names

GOOD = {"name": "tiny", "X": [[[1, 0], [0, 1]], [["0.5", "1/3"], [1, 1]]], "Y": [1, -1], "v": [1, 0]}


def with_(**changes):
    obj = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def test_strings_are_exact_and_floats_are_their_binary_value():
    ds = Dataset.from_dict(with_(X=[[["0.1", "1/3"], [0.1, 2]], [[1, 1], [0, 0]]]))
    assert ds.X_exact[0, 0, 0] == F(1, 10) and ds.X_exact[0, 0, 1] == F(1, 3)
    assert ds.X_exact[0, 1, 0] == F(0.1) != F(1, 10)
    assert ds.X[0, 0, 1] == 1 / 3
    assert ds.gamma_exact[0, 0] == F(1, 10) and ds.gamma_exact[1, 0] == -1


def test_defaults():
    ds = Dataset.from_dict(GOOD)
    assert ds.model == "prompt" and ds.loss_spec.name == "logistic"
    assert np.array_equal(ds.W, np.eye(2)) and np.array_equal(ds.inits, np.zeros((1, 2)))
    assert ds.features().shape == (2, 2, 2)


@pytest.mark.parametrize("changes, message", [
    ({"X": [[[1, 0], [0, float("nan")]], [[1, 0], [0, 1]]]}, "X[0][1][1]: NaN is not a finite number"),
    ({"X": [[[1, 0], [0, 1]], [[1, 0], [0]]]}, "X[1][1]: ragged array"),
    ({"X": [[[1, 0], [0, 1]], [[1, 0]]]}, "X[1]: ragged array"),
    ({"X": [[[1, 0]], [[0, 1]]]}, "at least 2 tokens"),
    ({"X": []}, "X: empty"),
    ({"X": [[[1, 0], [0, "abc"]], [[1, 0], [0, 1]]]}, "X[0][1][1]: cannot parse 'abc'"),
    ({"X": [[[1, 0], [0, "1/0"]], [[1, 0], [0, 1]]]}, "X[0][1][1]: cannot parse"),
    ({"X": [[[1, 0], [0, True]], [[1, 0], [0, 1]]]}, "X[0][1][1]: expected a number"),
    ({"X": "data"}, "X: expected a list"),
    ({"Y": [1, 0]}, "Y[1]: labels must be -1 or 1"),
    ({"Y": [1]}, "Y: expected 2 labels"),
    ({"v": [1, 0, 0]}, "v: expected 2 numbers"),
    ({"W": [[1, 0], [0, 1], [0, 0]]}, "W: expected a 2 x 2 matrix"),
    ({"W": [[1, 0], [0, "inf"]]}, "W[1][1]: cannot parse"),
    ({"loss": "hinge"}, "loss: unknown loss 'hinge'"),
    ({"loss": {"expr": 3}}, "loss: expected"),
    ({"model": "rnn"}, "model: unknown model 'rnn'"),
    ({"inits": [[0, 0, 0]]}, "inits: each initial p needs 2 numbers"),
    ({"gd": {"method": "adam"}}, "gd.method: unknown method 'adam'"),
    ({"gd": {"step": -1}}, "gd.step: must be positive"),
    ({"gd": {"iterations": 0}}, "gd.iterations: expected a positive integer"),
    ({"gd": {"momentum": 0.9}}, "gd: unknown field 'momentum'"),
    ({"Y": None}, "Y: missing required field"),
    ({"colour": "red"}, "unknown field 'colour'"),
])
def test_bad_input_names_the_field(changes, message):
    with pytest.raises(DatasetError) as info:
        Dataset.from_dict(with_(**changes))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_zero_sequences():
    with pytest.raises(DatasetError, match="X: empty"):
        Dataset(X=np.zeros((0, 2, 2)), Y=[], v=[1, 0])


def test_files(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    assert Dataset.from_file(good).name == "tiny"
    nan = tmp_path / "nan.json"
    nan.write_text('{"X": [[[1, NaN], [0, 1]]], "Y": [1], "v": [1, 0]}')
    with pytest.raises(DatasetError, match=r"nan.json: X\[0\]\[0\]\[1\]: NaN is not a finite number"):
        Dataset.from_file(nan)
    broken = tmp_path / "broken.json"
    broken.write_text('{"X": [')
    with pytest.raises(DatasetError, match="broken.json: not valid JSON"):
        Dataset.from_file(broken)
    with pytest.raises(DatasetError, match="no such file"):
        Dataset.from_file(tmp_path / "missing.json")
    with pytest.raises(DatasetError, match="unknown file type"):
        (tmp_path / "data.csv").write_text("1,2")
        Dataset.from_file(tmp_path / "data.csv")
    with pytest.raises(DatasetError, match="is a directory"):
        Dataset.from_file(tmp_path)


def test_npz_round_trip_and_no_pickle(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([[[1.0, 0.0], [0.0, 1.0]]]), Y=np.array([1]), v=np.array([1.0, 0.0]),
             name=np.array("from-npz"), loss=np.array("exponential"))
    ds = Dataset.from_file(path)
    assert ds.name == "from-npz" and ds.loss_spec.name == "exponential" and ds.n == 1
    bad = tmp_path / "obj.npz"
    np.savez(bad, X=np.array([[[1.0, 0.0], [0.0, 1.0]]], dtype=object), Y=np.array([1]), v=np.array([1.0, 0.0]))
    with pytest.raises(DatasetError, match="obj.npz"):
        Dataset.from_file(bad)


def test_builtins_have_their_documented_shapes():
    assert {"single-input-global", "single-input-local", "multi-input"} <= set(builtin_names())
    assert builtin("multi-input").summary() == {"name": "multi-input", "model": "prompt", "n": 3, "T": 7, "d": 3}
    local = builtin("single-input-local")
    assert local.X_exact[0, 2].tolist() == [0, 0, 0] and local.X_exact[0, 0, 0] == F(-1, 10)
    multi = builtin("multi-input")
    assert [row[2] for row in multi.X[0]] == [1.0] + [0.5] * 6
    with pytest.raises(DatasetError, match="not a built-in"):
        builtin("nope")


# -- exact values on demand (issue 16) --------------------------------------------------------------------

def _random_dataset(n, T, d, seed=0, **extra):
    rng = np.random.default_rng(seed)
    obj = {"X": np.round(rng.standard_normal((n, T, d)), 6).tolist(), "Y": rng.choice([-1, 1], size=n).tolist(),
           "v": np.round(rng.standard_normal(d), 6).tolist()}
    obj.update(extra)
    return Dataset.from_dict(obj)


def test_lazy_exact_arrays_equal_the_fraction_arithmetic():
    """X_exact, gamma_exact and features_exact (python-flint) against Fraction arithmetic written out here."""
    ds = Dataset.from_dict(with_(X=[[["0.1", "1/3"], [0.1, 2]], [[1, "-7/5"], [0, 0.25]]], W=[["1/2", 1], [0, "3/7"]]))
    X = [[[F(1, 10), F(1, 3)], [F(0.1), F(2)]], [[F(1), F(-7, 5)], [F(0), F(1, 4)]]]
    W = [[F(1, 2), F(1)], [F(0), F(3, 7)]]
    assert ds.X_exact.tolist() == X
    phi = [[[sum(X[i][t][a] * W[a][c] for a in range(2)) for c in range(2)] for t in range(2)] for i in range(2)]
    assert ds.features_exact().tolist() == phi
    assert ds.features_exact_rows([(1, 0), (0, 1)]) == [phi[1][0], phi[0][1]]
    gamma = [[y * (X[i][t][0] * 1 + X[i][t][1] * 0) for t in range(2)] for i, y in enumerate([1, -1])]
    assert ds.gamma_exact.tolist() == gamma


def test_exact_constraints_rows_and_error_bound():
    """Dataset.exact_constraints: exact rows equal the dense exact constraint matrix, the float rows are within
    the stated error of them, and rows are computed only when asked for."""
    from attnsvm import numeric

    for ds in (_random_dataset(5, 4, 3, W=[["1/3", 0.25, 0], [0, 1, "2/7"], [1e-3, 0, 1]]),
               _random_dataset(4, 3, 3, model="self", query_index=1),
               Dataset.from_dict(with_(X=[[["0.1", "1/3"], [0.1, 2]], [[1, "-7/5"], [0, 0.25]]]))):
        sel = [0] * ds.n
        dense = numeric.svm_constraints(ds.features_exact(), sel)
        lazy = ds.exact_constraints(sel)
        assert lazy.A.fetched == 0
        rows = lazy.A.rows(range(lazy.A.shape[0]))
        assert [list(r) for r in dense.A] == rows and lazy.b.tolist() == dense.b.tolist()
        assert np.array_equal(lazy.pairs, dense.pairs)
        worst = max(float(abs(F(x) - F(float(a)))) - e for row, arow, e in zip(rows, lazy.A.approx, lazy.A.error)
                    for x, a in zip(row, arow))
        assert worst <= 0


def test_certificate_takes_only_the_rows_it_needs():
    """n = 200, T = 16, d = 16: the KKT certificate from the lazy rows takes at most a few times D rows exactly;
    the same theta as the certificate from all rows."""
    from attnsvm import numeric, symbolic

    rng = np.random.default_rng(3)
    X = np.round(rng.standard_normal((200, 16, 16)), 6)
    X[:, 0, 0] += 6.0          # token 0 of every sequence stands out along e_0: its p-SVM is feasible
    ds = Dataset(X=X, Y=rng.choice([-1, 1], size=200), v=rng.standard_normal(16))
    sel = [0] * 200
    con = numeric.svm_constraints(ds.features(), sel)
    lazy = ds.exact_constraints(sel, approx=con.A)
    sol, pol = numeric.solve_and_polish(con.A, con.b, lazy.A, lazy.b)
    assert sol.feasible and pol.ok and pol.rows_in_mpmath <= 4 * ds.d
    cert = symbolic.certify_svm(lazy.A, lazy.b, list(pol.basis), polished=pol)
    assert cert.status == "exact" and cert.exact_rows <= 4 * ds.d < con.A.shape[0]
    assert np.allclose([float(x) for x in cert.theta], pol.theta_float, rtol=1e-12, atol=1e-14)
    # the same theta from every row taken exactly (the dense path)
    dense = symbolic.certify_svm(lazy.A.dense(), lazy.b, list(pol.basis))
    assert dense.status == "exact" and dense.theta == cert.theta and dense.active == cert.active
    # an infeasible selection (n = 200 > d): settled by a Farkas certificate on a small support
    bad = ds.exact_constraints(ds.gamma.argmin(axis=1))
    inf = symbolic.certify_svm(bad.A, bad.b, [])
    assert inf.infeasible and bad.A.fetched <= ds.d + 1


def test_medium_dataset_loads_and_runs_the_numeric_core_quickly_in_bounded_memory(tmp_path):
    """n = 200, T = 16, d = 16 written as JSON, loaded, 200 GD steps, one SVM solved, polished and certified
    from the lazy exact rows: a few seconds, and the Python heap stays within a small multiple of the data."""
    import time
    import tracemalloc

    from attnsvm import numeric, symbolic

    rng = np.random.default_rng(7)
    n, T, d = 200, 16, 16
    path = tmp_path / "medium.json"
    path.write_text(json.dumps({"X": np.round(rng.standard_normal((n, T, d)), 6).tolist(),
                                "Y": rng.choice([-1, 1], size=n).tolist(), "v": rng.standard_normal(d).tolist()}))
    tracemalloc.start()
    t0 = time.perf_counter()
    ds = Dataset.from_file(path)
    load_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    traj = numeric.run_gd(ds.inits[0], ds.features(), ds.gamma, numeric.LOGISTIC, max_iter=200, time_budget=1e9)
    con = numeric.svm_constraints(ds.features(), traj.final.selected)
    lazy = ds.exact_constraints(traj.final.selected, approx=con.A)
    sol, pol = numeric.solve_and_polish(con.A, con.b, lazy.A, lazy.b)
    if pol is not None:
        symbolic.certify_svm(lazy.A, lazy.b, list(pol.basis), polished=pol)
    seconds = time.perf_counter() - t0
    core_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    data = ds.X.nbytes   # 400 KiB of float64
    assert load_peak < 40 * data, load_peak     # the JSON tree of Python floats dominates (about 15x)
    assert core_peak < 40 * data, core_peak
    assert lazy.A.fetched < 10 * d
    assert seconds < 30, seconds               # a few seconds on an idle machine
