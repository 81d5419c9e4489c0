"""Ranks from certificates: exact rank of exact solutions, the nuclear effective rank from a dual certificate, and the
absolute-threshold rule it replaces."""
from fractions import Fraction

import numpy as np

from attnsvm import numeric
from attnsvm.numeric.ranks import absolute_rank, exact_rank, nuclear_effective_rank


def test_exact_rank_and_the_absolute_rule_on_solver_noise():
    a, b = np.array([1, 2, 3]), np.array([Fraction(1, 3), 0, -1])
    M = np.outer(a, b)                                 # rank 1, exactly
    assert exact_rank(list(M.ravel()), 3) == 1
    noisy = M.astype(float) + 1e-6 * np.random.default_rng(0).standard_normal((3, 3))
    assert absolute_rank(noisy) == 3                   # solver-size noise counts at tol 1e-7


def test_nuclear_effective_rank_from_a_certified_dual():
    """A nuclear SVM whose solution is rank 1 by construction: one constraint <A, W> >= 1 with A = u v^T has the
    solution W = u v^T / (|u|^2 |v|^2), nuclear norm 1 / (|u| |v|), dual lambda = 1 / (|u| |v|), M = lambda A."""
    rng = np.random.default_rng(1)
    u, v = rng.standard_normal(4), rng.standard_normal(4)
    A = np.outer(u, v)
    W = A / (u @ u * (v @ v))
    opt = 1 / (np.linalg.norm(u) * np.linalg.norm(v))
    res = nuclear_effective_rank(W, A, lower=opt, upper=opt)
    assert res["rank"] == 1 and res["tail_bound"] == 0
    # a solver's answer: rank-1 solution plus noise; with a tight certificate the rank stays 1, and an honest
    # certificate too loose for any level gives no rank at all
    sol = numeric.solve_nuclear_svm(A.reshape(1, -1), np.ones(1), 4)
    cert = numeric.nuclear_certificate(A.reshape(1, -1), np.ones(1), sol.W, sol.dual, 4)
    M = (sol.dual @ A.reshape(1, -1)).reshape(4, 4)
    Ws, _ = numeric.margin_scaled(sol.W.ravel(), A.reshape(1, -1), np.ones(1))
    assert nuclear_effective_rank(Ws.reshape(4, 4), M, float(cert.lower), float(cert.upper))["rank"] == 1
    two = np.outer(u, v) + np.outer(rng.standard_normal(4), rng.standard_normal(4))
    loose = nuclear_effective_rank(two, two, lower=0.5 * opt, upper=opt)
    assert loose["rank"] is None and loose["tail_bound"] is None
