"""Self/cross-attention datasets: fields, errors, the tf-svm-local family."""
import json
from fractions import Fraction

import numpy as np
import pytest

from attnsvm import verify
from attnsvm.verify import Dataset, DatasetError


def _cross(**kw):
    base = dict(X=[[[1, 0], [0, 1], [1, 1]], [[0, 1], [1, 0], [-1, 0]]], Y=[1, -1], v=[1, 0], model="cross",
                Z=[[1, 0], [0, 1]])
    base.update(kw)
    return Dataset(**base)


def test_cross_features_are_x_z_outer_products_exactly():
    ds = _cross(Z=[["1/3", 0], [0, 1]])
    phi = ds.features_exact()
    assert phi.shape == (2, 3, 4)
    assert phi[0, 0, 0] == Fraction(1, 3) and phi[0, 2, 2] == Fraction(1, 3) and phi[1, 1, 1] == 1 and phi[1, 1, 0] == 0
    assert np.allclose(ds.features(), np.einsum("ita,ib->itab", ds.X, ds.Z).reshape(2, 3, 4))
    assert ds.inits.shape == (1, 2, 2) and not ds.inits.any()          # default W_0 = 0


def test_self_attention_uses_the_query_token():
    ds = Dataset(X=[[[1, 2], [3, 4], [5, 6]]], Y=[1], v=[1, 0], model="self", query_index=2)
    assert ds.Z.tolist() == [[5.0, 6.0]]
    assert Dataset(X=[[[1, 2], [3, 4]]], Y=[1], v=[1, 0], model="self").Z.tolist() == [[1.0, 2.0]]


def test_kq_parameterisation_inits():
    ds = _cross(parameterization="KQ", rank=1)
    assert ds.kq_inits.shape == (1, 2, 2, 1)
    np.testing.assert_array_equal(ds.kq_inits[0, 0], [[0.1], [0.0]])
    np.testing.assert_allclose(ds.inits[0], ds.kq_inits[0, 0] @ ds.kq_inits[0, 1].T)
    ds2 = _cross(parameterization="KQ", inits=[[[[1, 0], [0, 1]], [[2, 0], [0, 2]]]])
    np.testing.assert_array_equal(ds2.inits[0], [[2, 0], [0, 2]])


@pytest.mark.parametrize("kw, where", [
    (dict(Z=None), "Z: missing"),
    (dict(Z=[[1, 0]]), "Z: expected 2 x 2"),
    (dict(Z=[[1, 0, 0], [0, 1, 0]]), "Z: expected 2 x 2"),
    (dict(query_index=0), "query_index: only for the self model"),
    (dict(parameterization="QK"), "parameterization: unknown"),
    (dict(parameterization="KQ", rank=0), "rank: expected a positive integer"),
    (dict(parameterization="KQ", rank=1.5), "rank: expected a positive integer"),
    (dict(rank=2), "rank: only for parameterization KQ"),
    (dict(W=[[1, 0], [0, 1]]), "W: not a field of the cross model"),
    (dict(inits=[[[1, 0, 0], [0, 1, 0]]]), "inits: each initial W needs 2 x 2"),
    (dict(parameterization="KQ", inits=[[[1, 0], [0, 1]]]), "inits"),
    (dict(model="selfish"), "model: unknown model"),
])
def test_bad_fields_are_one_line_errors_naming_the_field(kw, where):
    with pytest.raises(DatasetError) as exc:
        _cross(**kw)
    assert str(exc.value).startswith(where) and "\n" not in str(exc.value)


def test_self_model_errors():
    with pytest.raises(DatasetError, match="query_index: 3 is out of range for T = 2"):
        Dataset(X=[[[1, 2], [3, 4]]], Y=[1], v=[1, 0], model="self", query_index=3)
    with pytest.raises(DatasetError, match="query_index: expected an integer"):
        Dataset(X=[[[1, 2], [3, 4]]], Y=[1], v=[1, 0], model="self", query_index="0")
    with pytest.raises(DatasetError, match="Z: only for the cross model"):
        Dataset(X=[[[1, 2], [3, 4]]], Y=[1], v=[1, 0], model="self", Z=[[1, 0]])
    with pytest.raises(DatasetError, match="parameterization: only for the self and cross models"):
        Dataset(X=[[[1, 2], [3, 4]]], Y=[1], v=[1, 0], parameterization="W")


def test_file_round_trip(tmp_path):
    path = tmp_path / "cross.json"
    path.write_text(json.dumps({"model": "cross", "X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 0], "Z": [[0, 1]],
                                "parameterization": "KQ", "rank": 1}))
    ds = Dataset.from_file(str(path))
    assert (ds.model, ds.parameterization, ds.rank) == ("cross", "KQ", 1)
    path.write_text(json.dumps({"model": "cross", "X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 0], "Z": [[0, 1, 2]]}))
    with pytest.raises(DatasetError, match="Z: expected 1 x 2"):
        Dataset.from_file(str(path))


def test_tf_svm_local_family():
    ds = verify.builtin("tf-svm-local-17")
    assert (ds.model, ds.n, ds.T, ds.d, ds.name) == ("cross", 6, 8, 10, "tf-svm-local-17")
    np.testing.assert_allclose(np.linalg.norm(ds.X, axis=2), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(ds.Z, axis=1), 1.0, rtol=1e-14)
    assert abs(np.linalg.norm(ds.v) - 1) < 1e-14 and set(ds.Y.tolist()) <= {-1.0, 1.0}
    # the same generator recipe as tools/make_tf_svm_local.py reproduces the stored seed
    rng = np.random.default_rng(17)
    X = rng.standard_normal((6, 8, 10))
    np.testing.assert_array_equal(ds.X, X / np.linalg.norm(X, axis=-1, keepdims=True))
    assert verify.load("tf-svm-local-0").name == "tf-svm-local-0"
    for bad in ("tf-svm-local-100", "tf-svm-local-", "tf-svm-local-01x"):
        with pytest.raises(DatasetError, match="seeds 0 to 99"):
            verify.builtin(bad)
    fams = verify.builtin_families()
    assert [f["pattern"] for f in fams] == ["tf-svm-local-<seed>", "tf-svm-multitoken-<seed>"]
    assert fams[0]["seeds"] == (0, 99) and fams[1]["seeds"] == (0, 99)


def test_npz_self_attention_file(tmp_path):
    path = tmp_path / "self.npz"
    np.savez(path, model=np.array("self"), X=np.eye(3)[None], Y=np.array([1]), v=np.array([1.0, 0, 0]),
             query_index=np.array(2), parameterization=np.array("KQ"), rank=np.array(2))
    ds = Dataset.from_file(str(path))
    assert (ds.model, ds.query_index, ds.parameterization, ds.rank) == ("self", 2, "KQ", 2)
    assert ds.Z.tolist() == [[0.0, 0.0, 1.0]] and ds.kq_inits.shape == (1, 2, 3, 2)
    np.savez(path, model=np.array("self"), X=np.eye(3)[None], Y=np.array([1]), v=np.array([1.0, 0, 0]),
             query_index=np.array(5))
    with pytest.raises(DatasetError, match="query_index: 5 is out of range"):
        Dataset.from_file(str(path))
