"""The textbook autograd loop: equal to our GD where float64 suffices, and its breakdown reported."""
import numpy as np

from attnsvm import numeric
from attnsvm.numeric.heads import Readout, make_head
from attnsvm.numeric.textbook import side_by_side, textbook_gd
from attnsvm.verify import builtin


def test_textbook_float64_follows_ours_early_then_freezes_and_parts():
    ds = builtin("multi-input")
    phi, gamma = ds.features(), ds.gamma
    ours = numeric.run_gd(np.zeros(3), phi, gamma, numeric.LOGISTIC, method="normalized", step=1.0, max_iter=400)
    tb = textbook_gd(np.zeros(3), phi, gamma, "logistic", dtype="float64", step=1.0, iterations=400,
                     checkpoints=[c.iteration for c in ours.checkpoints])
    sbs = side_by_side(ours, tb, tol=1e-8)
    early = [r for r in sbs["rows"] if r["iteration"] <= 5]
    assert early and all(r["one_minus_corr_between"] < 1e-20 and r["same_selection"] for r in early)
    assert sbs["parted_at"] is not None and sbs["frozen_at"] is not None
    # frozen: the guarded step g / (||g|| + eps) stops the textbook run while ours moves one unit per step
    assert sbs["rows"][-1]["norm_textbook"] < 100 < sbs["rows"][-1]["norm_ours"]
    f32 = textbook_gd(np.zeros(3), phi, gamma, "logistic", dtype="float32", step=1.0, iterations=400)
    assert f32.first_frozen is not None and f32.first_frozen <= tb.first_frozen


def test_textbook_with_a_relu_head_matches_ours_at_small_norms():
    rng = np.random.default_rng(0)
    n, T, d = 3, 4, 4
    X = rng.standard_normal((n, T, d))
    Z = rng.standard_normal((n, d))
    Y = np.array([1.0, -1.0, 1.0])
    head = make_head("relu", np.ones(d), rng.standard_normal((d, d)) / 4)
    phi = numeric.w_features(X, Z)
    ro = Readout(head, X, Y)
    ours = numeric.run_gd(np.zeros(d * d), phi, head.token_scores(X, Y), numeric.LOGISTIC, step=0.1, max_iter=30,
                          readout=ro)
    tb = textbook_gd(np.zeros(d * d), phi, head.token_scores(X, Y), "logistic", step=0.1, iterations=30,
                     checkpoints=[c.iteration for c in ours.checkpoints], readout=ro)
    sbs = side_by_side(ours, tb)
    assert sbs["parted_at"] is None and sbs["switched_tokens_at"] is None
