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
