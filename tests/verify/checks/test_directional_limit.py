"""Check `directional-limit` on a dataset where the global theorem's encoded premises hold and GD goes elsewhere.

Found by bench/judge_stress.py (seed 0, dataset 32): n = 4 sequences of T = 2 tokens, so every sequence has a
single non-optimal token and the equal-scores premise holds trivially; Assumption A, unique optimal tokens, a
feasible p-SVM and the certified step all hold. Fixed-step GD from 0 (the theorem's algorithm, eta = 1/L)
nevertheless converges in direction to the p-SVM of the selection [1, 0, 1, 0], a locally optimal selection in
which sequence 2 keeps its lower-scoring token, while the regularisation path goes to p_mm of the optimal tokens.
So the premises this toolkit encodes for the global theorem (P1-T2, hypotheses unconfirmed) are not enough: the
claim must fail with a reproducible counterexample, and say that it refutes the encoded reading.
"""
from __future__ import annotations

import numpy as np
import pytest

from attnsvm.verify import Dataset, check

X = [[[-4.540821820658859, 2.646043895388702, 0.440508124823723],
      [0.4182858341260903, 2.4514047996962827, 8.709704950383284]],
     [[1.5120200606676728, -5.639199817826034, 4.490532377365745],
      [0.02369466938543818, 0.17522228809311138, 3.337962868958747]],
     [[2.9225168527925924, -1.2453113747293907, -7.217495318995102],
      [4.72051778546126, -4.648557041418246, -0.5745616723240261]],
     [[3.0324724903346283, 2.793518997339597, 6.792167177671396],
      [2.556243176519316, 2.3541023846413416, 6.399753761789877]]]
Y = [1, -1, -1, 1]
V = [-0.36446592248987286, 0.4978818044139356, 0.7869423741146042]


@pytest.fixture(scope="module")
def result():
    return check(Dataset(X=X, Y=Y, v=V, name="t2-local-trap"), only=["directional-limit", "regularization-path"])


def test_premises_of_the_global_theorem_hold(result):
    assert {p: v for p, v in result["directional-limit"].premises.items()} == {
        "assumption-A": "holds", "optimal-tokens": "holds", "p-svm": "holds", "equal-scores": "holds",
        "step-bound": "holds"}


def test_fixed_step_gd_converges_to_another_selection_a_counterexample(result):
    c = result["directional-limit"]
    assert c.verdict == "fails" and result.status == "counterexample"
    assert c.summary.startswith("counterexample to the statement as encoded here")
    ce = c.evidence["counterexample"]
    assert ce["selection"] == [1, 0, 1, 0] and ce["one_minus_corr_to_its_svm"] < 1e-6
    assert np.allclose(ce["init"], 0) and ce["step"] <= 1 / result["directional-limit"].evidence["lipschitz_bound"] \
        * (1 + 1e-12)
    # the selection GD reaches differs from the optimal tokens in sequence 2 only, where it keeps the lower score
    gamma = np.array(Y)[:, None] * np.einsum("itd,d->it", np.array(X), np.array(V))
    assert gamma[2, 1] < gamma[2, 0] and list(gamma.argmax(axis=1)) == [1, 0, 0, 0]


def test_the_regularisation_path_still_goes_to_the_optimal_tokens(result):
    assert result["regularization-path"].verdict == "holds"
