"""Dataset fields of the head, joint training's v0 and the (K, Q) GD controls: parsing, validation, where they act."""
from fractions import Fraction

import numpy as np
import pytest

from attnsvm import verify
from attnsvm.verify.cli import main
from attnsvm.verify.context import Context
from attnsvm.verify.dataset import Dataset
from attnsvm.verify.errors import DatasetError

BASE = {"X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 1]}


def test_heads_parse_exactly_and_give_token_scores():
    relu = Dataset.from_dict({**BASE, "head": {"kind": "relu", "V": [["1/2", -1], [0, 2]]}})
    assert relu.head.kind == "relu" and relu.head.exact["V"][0, 0] == Fraction(1, 2)
    # gamma_it = Y_i h(x_it): h(e1) = ReLU(1/2) + ReLU(-1) = 1/2, h(e2) = ReLU(0) + ReLU(2) = 2
    assert relu.gamma_exact.tolist() == [[Fraction(1, 2), Fraction(2)]] and relu.gamma.tolist() == [[0.5, 2.0]]
    quad = Dataset.from_dict({**BASE, "head": {"kind": "quadratic", "lambda": "1/4"}})
    assert quad.gamma_exact.tolist() == [[Fraction(3, 4), Fraction(3, 4)]]
    assert Dataset.from_dict({**BASE, "head": "linear"}).head.is_linear
    assert Dataset.from_dict(BASE).summary().get("head") is None and relu.summary()["head"] == "relu"


@pytest.mark.parametrize("head, message", [
    ("sigmoid", "head: unknown head"), ({"kind": "relu"}, "head.V: missing"), ({"kind": "relu", "V": [[1, 2]]}, "head.V"),
    ({"kind": "quadratic", "lambda": "x"}, "head.lambda"), ({"kind": "quadratic", "lambda": 1, "V": 1}, "unknown field 'V'"),
    ({"kind": "tanh"}, "head.kind"), (3, "head: expected")])
def test_bad_heads_are_one_line_errors(head, message):
    with pytest.raises(DatasetError, match=message.replace("(", r"\(")):
        Dataset.from_dict({**BASE, "head": head})


def test_v0_is_joint_trainings_initial_head():
    ds = Dataset.from_dict({**BASE, "train": "vp", "v0": [-1, 0]})
    assert ds.v0.tolist() == [-1.0, 0.0] and ds.v.tolist() == [1.0, 1.0]
    with pytest.raises(DatasetError, match="v0: only for joint training"):
        Dataset.from_dict({**BASE, "v0": [-1, 0]})
    with pytest.raises(DatasetError, match="v0: expected 2 numbers"):
        Dataset.from_dict({**BASE, "train": "vp", "v0": [1]})
    with pytest.raises(DatasetError, match="joint training"):
        Dataset.from_dict({**BASE, "train": "vp", "head": {"kind": "quadratic", "lambda": 1}})


def test_kq_controls_from_the_dataset_and_the_options_reach_the_run():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 3, 2))
    obj = {"model": "cross", "X": X.tolist(), "Y": [1, -1], "v": [1, 0], "Z": rng.standard_normal((2, 2)).tolist(),
           "parameterization": "KQ", "gd": {"step": "0.5", "normalization": "per-factor", "ridge": "2.2e-16"}}
    ctx = Context.create(Dataset.from_dict(obj), max_iterations=50)
    from attnsvm.verify.w_runs import kq_run, kq_settings

    st = kq_settings(ctx)
    assert (st["step"], st["normalization"], st["ridge"]) == (0.5, "per-factor", 2.2e-16)
    assert "per-factor" in kq_run(ctx).method and kq_run(ctx).step == 0.5
    ctx2 = Context.create(Dataset.from_dict({**obj, "gd": {}}), step=0.25, kq_normalization="joint")
    assert kq_settings(ctx2)["step"] == 0.25 and kq_settings(ctx2)["normalization"] == "joint"
    assert kq_settings(Context.create(Dataset.from_dict({**obj, "gd": {}})))["step_source"] == "default"
    with pytest.raises(DatasetError, match="gd.normalization"):
        Dataset.from_dict({**obj, "gd": {"normalization": "each"}})
    with pytest.raises(DatasetError, match="gd.ridge"):
        Dataset.from_dict({**obj, "gd": {"ridge": -1}})
    with pytest.raises(verify.InputError, match="kq_ridge"):
        Context.create(Dataset.from_dict(obj), kq_ridge=-1.0)


def test_textbook_command_and_the_multitoken_family_listing(capsys, tmp_path):
    assert main(["textbook", "multi-input", "--iterations", "300", "--step", "1", "--json", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert "textbook float32" in out and "textbook float64" in out and (tmp_path / "t.json").exists()
    assert main(["textbook", "multi-input", "--iterations", "0"]) == 2
    assert main(["list"]) == 0
    assert "tf-svm-multitoken-<seed>" in capsys.readouterr().out
    ds = verify.builtin("tf-svm-multitoken-7")
    assert ds.head.kind == "relu" and ds.gd["step"] == 0.1 and ds.inits.shape == (1, 10, 10) and ds.n == 3
