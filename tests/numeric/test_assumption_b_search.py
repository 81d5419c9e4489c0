"""numeric.assumption_b_search.face_minimax: the dual-face minimax of the convexity certificate against a
hand-derived optimum and against cvxpy's SOCP, and the candidate it gives on joint-tight (a larger certified nu
than the KKT multipliers)."""
from fractions import Fraction as Fr

import numpy as np
import pytest

from attnsvm.numeric import assumption_b_search as search
from attnsvm.symbolic import assumption_b as sab


def _objective(V, lam):
    return float(np.max(np.linalg.norm(np.einsum("msd,s->md", V, lam), axis=1)))


def test_hand_derived_optimum():
    """d = 1, rows a = (1, 1, 1), target 1: the face is the whole simplex. max(2 l_1, l_2, l_3) is smallest where
    2 l_1 = l_2 = l_3 = t, l_1 + l_2 + l_3 = 1: t = 2/5, lambda = (1/5, 2/5, 2/5)."""
    V = np.zeros((3, 3, 1))
    V[0, 0, 0], V[1, 1, 0], V[2, 2, 0] = 2.0, 1.0, 1.0
    lam = search.face_minimax(V, np.ones((3, 1)), np.ones(1), np.full(3, 1 / 3))
    np.testing.assert_allclose(lam, [0.2, 0.4, 0.4], atol=1e-9)
    assert _objective(V, lam) == pytest.approx(0.4, abs=1e-12)


def test_a_point_face_is_returned_as_is():
    rows = np.array([[1.0, 0.0], [0.0, 1.0]])
    lam0 = np.array([0.5, 0.5])
    assert search.face_minimax(np.ones((2, 2, 2)), rows, rows.T @ lam0, lam0) is lam0


@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_the_socp(seed):
    """Random faces (s rows in d < s dimensions, m token choices): the SLSQP minimum equals the SOCP's to 1e-7
    (Clarabel's tolerance), and its point is on the face."""
    rng = np.random.default_rng(seed)
    s, d, m = 4, 2, 6
    rows = rng.standard_normal((s, d))
    lam0 = rng.dirichlet(np.ones(s))
    target = rows.T @ lam0
    V = rng.standard_normal((m, s, d))
    lam = search.face_minimax(V, rows, target, lam0)
    ref = search._face_minimax_socp(V, rows, target, [True] * s)
    assert lam is not None and ref is not None
    assert np.min(lam) >= 0 and lam.sum() == pytest.approx(1, abs=1e-9)
    np.testing.assert_allclose(rows.T @ lam, target, atol=1e-9)
    assert _objective(V, lam) <= _objective(V, ref) + 1e-7
    assert _objective(V, lam) >= _objective(V, ref) - 1e-7


def test_joint_tight_candidate_beats_the_multipliers():
    """joint-tight (S = [n], three support rows in the plane: the dual face is a segment): the face point gives a
    certified nu larger than the KKT multipliers' (and than the hand point's 1 - sqrt(10)/4)."""
    X = np.array([[[0, 0], [1, 1]], [[0, 0], [1, -1]], [[0, 0], [Fr(1, 2), 1]]], dtype=object)
    X = np.vectorize(Fr, otypes=[object])(X)
    Y = [Fr(1), Fr(-1), Fr(1)]
    vs = sab.exact_v_svm(X, Y, [1, 1, 1], [0, 1])
    cands = search.dual_point_candidates(X, Y, vs, [0, 1, 2])
    assert len(cands) == 2
    nus = [sab.convexity_certificate(X, Y, vs, [0, 1, 2], lam).nu for lam in cands]
    assert nus[1] is not None and (nus[0] is None or nus[1] > nus[0])
    assert float(nus[1]) > 1 - 10 ** 0.5 / 4
    # the same certificate from the SOCP's point of the face (an independent solver)
    Xf = np.vectorize(float, otypes=[float])(X)
    rows = np.array([float(Y[i]) * Xf[i, 1] for i in range(3)])
    taus = [t for t in np.ndindex(2, 2, 2) if t != (1, 1, 1)]
    V = np.array([[float(Y[i]) * Xf[i, t[i]] for i in range(3)] for t in taus])
    ref = search._face_minimax_socp(V, rows, np.array([float(x) for x in vs.v]) / float(vs.norm_sq), [True] * 3)
    ref_nu = sab.convexity_certificate(X, Y, vs, [0, 1, 2], sab.project_to_dual_face(X, Y, vs, ref)).nu
    assert abs(float(nus[1]) - float(ref_nu)) <= 2e-6
