"""Exact certificates for Assumption B of joint (v, p) training, under either reading.

Notation. alpha: the optimal tokens; a_i = Y_i x_{i,alpha_i}; v = v(alpha) = argmin ||v|| s.t.
<a_i, v> >= 1; Gamma = 1/||v||; the normalised scores c_it = Y_i v^T x_it, so that the unit direction
vhat = v/||v|| scores Y_i vhat^T x_it = Gamma c_it, with c_{i,alpha_i} >= 1 and c_{i,alpha_i} = 1 exactly
on the support set S (the tight constraints). Keys k_it (the rows of phi = X W), attention
s_i(p) = softmax(K_i p), mixed features z_i(p) = X_i^T s_i(p), label margin
margin(p) = max_{||w|| <= 1} min_i Y_i w^T z_i(p). For a set of sequences I (the reading: I = [n] as the
slides state it, or I = S), with h_I(p) = max_{i in I} (1 - s_{i,alpha_i}(p)),

    B[I]:  there is nu > 0 with  Gamma - margin(p) >= nu h_I(p)  for every p.

Since h_S <= h_[n], B[n] implies B[S]. Three certificates, each checked in exact rational arithmetic
(fractions, python-flint) or in interval arithmetic (mpmath.iv) where an exponential enters:

* :func:`convexity_certificate` proves B[I] with a rational nu (weak duality and convexity over the
  token choices);
* :func:`domination_certificate` proves h_[n] <= C h_S for every p, hence B[n] from B[S] with nu/C;
* :func:`ray_certificate` disproves B[I]: along p(a) = a u + p0 the ratio (Gamma - margin)/h_I tends to 0
  at an exponential rate read off the logit gaps exactly.

The float searches that propose lambda, mu, u live in numeric.assumption_b; nothing here trusts them.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import numpy as np
from mpmath import iv

from .kkt import certify_svm, independent_rows, to_fmpq_mat

Fr = Fraction


def as_fraction(x) -> Fraction:
    """An exact rational (Fraction, int, python-flint fmpq, the exact binary value of a float, or a string)."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    if isinstance(x, (float, np.floating)):
        return Fraction(float(x))
    if hasattr(x, "p") and hasattr(x, "q"):
        return Fraction(int(x.p), int(x.q))
    return Fraction(x)


def fraction_array(a) -> np.ndarray:
    """An object array of Fractions with the shape of ``a``."""
    a = np.asarray(a, dtype=object)
    return np.vectorize(as_fraction, otypes=[object])(a) if a.size else a


def _dot(x, y) -> Fraction:
    return sum((a * b for a, b in zip(x, y)), Fraction(0))


@contextmanager
def _iv_dps(dps: int):
    """mpmath.iv at ``dps`` digits for the block (its precision is global state; restored after)."""
    old = iv.dps
    iv.dps = dps
    try:
        yield
    finally:
        iv.dps = old


def _endpoint_str(e) -> str:
    """An interval endpoint (a degenerate mpmath.iv interval) as a 25-digit decimal string."""
    with mpmath.workprec(iv.prec):
        return mpmath.nstr(mpmath.mpf(e._mpi_[0]), 25)


def sqrt_bounds(q: Fraction, bits: int = 80) -> tuple[Fraction, Fraction]:
    """Rationals lo <= sqrt(q) <= hi with hi - lo <= 2^(1 - bits), checked exactly (lo^2 <= q <= hi^2)."""
    q = as_fraction(q)
    if q < 0:
        raise ValueError("sqrt of a negative number")
    scale = 1 << bits
    num = q.numerator * scale * scale
    lo_int = math.isqrt(num // q.denominator)
    lo = Fraction(lo_int, scale)
    hi = Fraction(lo_int + 1, scale)
    assert lo * lo <= q <= hi * hi
    return lo, hi


def round_down(x: Fraction, digits: int = 6) -> Fraction:
    """The largest decimal with ``digits`` significant digits that is <= x (x itself when x <= 0)."""
    x = as_fraction(x)
    if x <= 0:
        return x
    k = digits - 1 - math.floor(math.log10(x))
    scale = Fraction(10) ** k
    out = Fraction(math.floor(x * scale)) / scale
    assert out <= x
    return out


# -- the v-SVM, exactly -------------------------------------------------------------------------------

@dataclass
class ExactVSVM:
    """v(alpha) over the rationals: v, ||v||^2, Gamma^2 = 1/||v||^2, the KKT multipliers per sequence
    (v = sum_i mult_i a_i), the support S = {i: <a_i, v> = 1} (exact), and the normalised scores
    c_it = Y_i v^T x_it (n x T Fractions; Y_i vhat^T x_it = Gamma c_it)."""

    alpha: list
    v: list
    norm_sq: Fraction
    multipliers: list
    support: list
    scores: np.ndarray

    @property
    def gamma_sq(self) -> Fraction:
        return 1 / self.norm_sq

    def dual_point(self) -> list:
        """lambda = multipliers / ||v||^2: in the simplex (sum_i mult_i = sum_i mult_i <a_i, v> = ||v||^2) with
        sum_i lambda_i a_i = v/||v||^2, whose norm is Gamma (a point of the dual face)."""
        return [m / self.norm_sq for m in self.multipliers]


def exact_v_svm(X_exact, Y_exact, alpha, active_guess=()) -> ExactVSVM | None:
    """The v-SVM of ``alpha`` certified over the rationals (symbolic.certify_svm), or None when it cannot be."""
    X = fraction_array(X_exact)
    Y = [as_fraction(y) for y in np.asarray(Y_exact, dtype=object)]
    n, T, d = X.shape
    alpha = [int(a) for a in alpha]
    A = np.array([[Y[i] * X[i, alpha[i], c] for c in range(d)] for i in range(n)], dtype=object)
    cert = certify_svm(A, np.array([Fr(1)] * n, dtype=object), list(active_guess))
    if cert.status != "exact":
        return None
    v = list(cert.theta)
    scores = np.array([[Y[i] * _dot(v, X[i, t]) for t in range(T)] for i in range(n)], dtype=object)
    support = [i for i in range(n) if scores[i, alpha[i]] == 1]
    return ExactVSVM(alpha=alpha, v=v, norm_sq=cert.norm_squared, multipliers=list(cert.lam), support=support,
                     scores=scores)


# -- holds: the convexity certificate -----------------------------------------------------------------

@dataclass
class ConvexityCertificate:
    """A proof of B[I] with nu = ``nu`` (a rational) when ``proved``; ``checks`` names each exact condition."""

    reading: list
    proved: bool
    nu: Fraction | None
    lam: list
    vertices: int
    worst_vertex: list | None
    worst_norm_sq: Fraction | None
    gamma_sq: Fraction
    checks: dict = field(default_factory=dict)
    reason: str = ""

    def evidence(self) -> dict:
        return {"kind": "convexity", "proved": self.proved, "reading": list(self.reading),
                "nu": None if self.nu is None else str(self.nu),
                "nu_float": None if self.nu is None else float(self.nu),
                "lambda": [str(x) for x in self.lam], "vertices": self.vertices,
                "worst_vertex": self.worst_vertex,
                "worst_vertex_norm_squared": None if self.worst_norm_sq is None else str(self.worst_norm_sq),
                "Gamma_squared": str(self.gamma_sq), "checks": dict(self.checks), "reason": self.reason,
                "arithmetic": "exact rationals; nu = (rational lower bound of Gamma) - (rational upper bound "
                              "of the worst vertex norm), rounded down to 6 significant digits"}


def convexity_certificate(X_exact, Y_exact, vsvm: ExactVSVM, reading, lam, max_vertices: int = 4096,
                          bits: int = 80) -> ConvexityCertificate:
    """Prove B[I] (I = ``reading``, a list of sequence indices) from a dual point ``lam`` (Fractions).

    Why this is a proof over ALL p. (1) Weak duality: for lambda in the simplex and any ||w|| <= 1,
    min_i Y_i w^T z_i <= sum_i lambda_i Y_i w^T z_i <= ||sum_i lambda_i Y_i z_i||, so
    margin(p) <= ||sum_i lambda_i Y_i X_i^T s_i(p)||. (2) Hence
    margin(p) + nu h_I(p) <= g(s(p)) with g(s) = ||sum_i lambda_i Y_i X_i^T s_i|| + nu max_{i in I} (1 - s_{i,alpha_i}),
    a norm of a linear map plus a maximum of affine maps: convex on the product of the n probability
    simplices, which contains every attention s(p). (3) A convex function on a polytope is at most its
    largest value at a vertex; the vertices are the token choices tau (s_i = e_{tau_i}), where
    g = ||w_tau|| + nu [tau_I != alpha_I] with w_tau = sum_i lambda_i Y_i x_{i,tau_i}. (4) So
    Gamma - margin(p) >= nu h_I(p) for every p as soon as, over the tokens of U = supp(lambda) + I
    (w_tau and the indicator depend on nothing else):
      - lambda is in the simplex;
      - ||w_tau||^2 <= Gamma^2 for every tau with tau_I = alpha_I (this includes tau = alpha: lambda on
        the dual face of the v-SVM);
      - ||w_tau|| + nu <= Gamma for every tau with tau_I != alpha_I.
    All three are checked exactly: squared norms in rationals, and nu = lo - hi with rationals
    lo <= Gamma and hi >= max ||w_tau|| (lo^2 <= Gamma^2 and hi^2 >= max ||w_tau||^2 checked exactly).
    No p is sampled: the vertices cover every p at once.

    Scope: a dual point lies on the dual face only if it is supported on S (the multipliers of a minimum-norm
    point vanish off the tight constraints). For I = [n] with S != [n] a choice tau equal to alpha on S but
    not on some j outside S then has w_tau = w_alpha, ||w_tau|| = Gamma, so no nu > 0 passes: this
    certificate proves B[n] only when S = [n] (numeric.assumption_b then uses
    :func:`domination_certificate`)."""
    X = fraction_array(X_exact)
    Y = [as_fraction(y) for y in np.asarray(Y_exact, dtype=object)]
    n, T, d = X.shape
    alpha = vsvm.alpha
    lam = [as_fraction(x) for x in lam]
    I = sorted(set(int(i) for i in reading))
    gamma_sq = vsvm.gamma_sq
    checks = {"lambda_in_simplex": all(x >= 0 for x in lam) and sum(lam) == 1}
    U = sorted(set(i for i in range(n) if lam[i] != 0) | set(I))
    count = T ** len(U)
    base = dict(reading=I, lam=lam, gamma_sq=gamma_sq)
    if not checks["lambda_in_simplex"]:
        return ConvexityCertificate(proved=False, nu=None, vertices=0, worst_vertex=None, worst_norm_sq=None,
                                    checks=checks, reason="lambda is not in the simplex", **base)
    if count > max_vertices:
        return ConvexityCertificate(proved=False, nu=None, vertices=0, worst_vertex=None, worst_norm_sq=None,
                                    checks=checks, reason=f"{count} token choices exceed the budget of "
                                    f"{max_vertices}", **base)
    # integer arithmetic over a common denominator: B[i][t] = L lambda_i Y_i x_it
    vecs = {i: [[lam[i] * Y[i] * X[i, t, c] for c in range(d)] for t in range(T)] for i in U}
    L = 1
    for i in U:
        for row in vecs[i]:
            for x in row:
                L = L * x.denominator // math.gcd(L, x.denominator)
    W = np.zeros((1, d), dtype=object)
    W[:] = 0
    outer = np.zeros(1, dtype=bool)                        # tau_I != alpha_I so far
    for i in U:
        Bi = np.array([[int(x * L) for x in row] for row in vecs[i]], dtype=object)   # (T, d)
        W = (W[:, None, :] + Bi[None, :, :]).reshape(-1, d)
        changed = np.array([t != alpha[i] and i in I for t in range(T)])
        outer = (outer[:, None] | changed[None, :]).reshape(-1)
    sq = np.array([sum(int(x) * int(x) for x in row) for row in W], dtype=object)
    L2 = L * L
    inner_sq = [Fraction(int(s), L2) for s, o in zip(sq, outer) if not o]
    checks["inner_vertices_within_gamma"] = all(s <= gamma_sq for s in inner_sq)
    outer_idx = [k for k in range(len(sq)) if outer[k]]
    if not outer_idx:
        return ConvexityCertificate(proved=False, nu=None, vertices=len(sq), worst_vertex=None, worst_norm_sq=None,
                                    checks=checks, reason="no token choice differs from alpha on I", **base)
    k_worst = max(outer_idx, key=lambda k: sq[k])
    worst_sq = Fraction(int(sq[k_worst]), L2)
    tau_U = np.unravel_index(k_worst, (T,) * len(U))
    worst = [int(alpha[i]) for i in range(n)]
    for pos, i in enumerate(U):
        worst[i] = int(tau_U[pos])
    g_lo, _ = sqrt_bounds(gamma_sq, bits)
    _, w_hi = sqrt_bounds(worst_sq, bits)
    nu = round_down(g_lo - w_hi)        # any smaller positive nu keeps ||w_tau|| + nu <= Gamma
    checks["outer_vertices_nu_positive"] = nu > 0
    proved = all(checks.values())
    if proved:
        reason = ""
    elif not checks["outer_vertices_nu_positive"]:
        reason = (f"the token choice {worst} (tau_I != alpha_I) has ||w_tau||^2 = {worst_sq}, not below Gamma^2 = "
                  f"{gamma_sq}: no nu > 0 passes")
    else:
        reason = "a token choice with tau_I = alpha_I has ||w_tau|| > Gamma: lambda is off the dual face"
    return ConvexityCertificate(proved=proved, nu=nu if proved else None, vertices=len(sq), worst_vertex=worst,
                                worst_norm_sq=worst_sq, checks=checks, reason=reason, **base)


def project_to_dual_face(X_exact, Y_exact, vsvm: ExactVSVM, lam_float, zero_below: float = 1e-9) -> list | None:
    """A rational dual point near ``lam_float`` (any floats): mu = ||v||^2 lambda is rounded on S (entries
    below ``zero_below`` set to 0), then corrected exactly so that sum_{i in S} mu_i a_i = v (a minimum-norm
    correction on independent rows a_i); lambda = mu/||v||^2. None when the result has a negative entry."""
    X = fraction_array(X_exact)
    Y = [as_fraction(y) for y in np.asarray(Y_exact, dtype=object)]
    n, T, d = X.shape
    S = list(vsvm.support)
    keep = [i for i in S if float(lam_float[i]) > zero_below]
    if not keep:
        return None
    rows = [[Y[i] * X[i, vsvm.alpha[i], c] for c in range(d)] for i in range(n)]
    mu = {i: Fraction(float(lam_float[i])).limit_denominator(10 ** 12) * vsvm.norm_sq for i in keep}
    r = [vsvm.v[c] - sum(mu[i] * rows[i][c] for i in keep) for c in range(d)]
    Af = to_fmpq_mat(np.array([rows[i] for i in keep], dtype=object))
    basis = [keep[k] for k in independent_rows(Af, list(range(len(keep))))]
    AB = to_fmpq_mat(np.array([rows[i] for i in basis], dtype=object))       # (|B|, d)
    G = AB * AB.transpose()
    rhs = AB * to_fmpq_mat(np.array(r, dtype=object))
    y = G.solve(rhs)
    for k, i in enumerate(basis):
        mu[i] += as_fraction(y[k, 0])
    if any(sum(mu[i] * rows[i][c] for i in keep) != vsvm.v[c] for c in range(d)):
        return None
    lam = [mu.get(i, Fraction(0)) / vsvm.norm_sq for i in range(n)]
    if any(x < 0 for x in lam) or sum(lam) != 1:
        return None
    return lam


# -- holds for B[n] from B[S]: domination of the non-support tails --------------------------------------

@dataclass
class DominationCertificate:
    """h_[n](p) <= constant * h_S(p) for every p, when ``proved``; combinations[(j, t)] = {(i, tau): mu}."""

    proved: bool
    constant: int
    combinations: dict
    checks: dict = field(default_factory=dict)
    reason: str = ""

    def evidence(self) -> dict:
        return {"kind": "domination", "proved": self.proved, "constant": self.constant,
                "combinations": {f"{j},{t}": {f"{i},{tau}": str(m) for (i, tau), m in combo.items()}
                                 for (j, t), combo in self.combinations.items()},
                "checks": dict(self.checks), "reason": self.reason}


def gap_vectors(keys_exact, alpha) -> dict:
    """d_it = k_{i,alpha_i} - k_it for t != alpha_i (Fractions): the logit gap q_{i,alpha_i} - q_it = <p, d_it>."""
    K = fraction_array(keys_exact)
    n, T, D = K.shape
    return {(i, t): [K[i, alpha[i], c] - K[i, t, c] for c in range(D)]
            for i in range(n) for t in range(T) if t != alpha[i]}


def domination_certificate(keys_exact, alpha, support, combinations: dict) -> DominationCertificate:
    """Prove 1 - s_{j,alpha_j}(p) <= C h_S(p) for every p and every j outside S, with C = max(2, T(T-1)).

    Conditions, checked exactly for every j not in S and t != alpha_j: d_jt = sum mu_{i,tau} d_{i,tau} over
    i in S, tau != alpha_i, with mu >= 0 and sum mu >= 1 (``combinations[(j, t)]``).

    Proof. Write g_it(p) = <p, d_it>. If some g_{i,tau}(p) <= 0 with i in S, then s_{i,tau} >= s_{i,alpha_i}, so
    s_{i,alpha_i} <= 1/2 and h_S(p) >= 1/2 >= (1 - s_{j,alpha_j})/2. Otherwise m = min_{i in S, tau} g_{i,tau}(p) > 0,
    attained at (i*, tau*): 1 - s_{i*,alpha} >= s_{i*,tau*} = e^-m / (1 + sum_tau e^-g) >= e^-m / T; and
    g_jt(p) = sum mu g_{i,tau}(p) >= (sum mu) m >= m, so 1 - s_{j,alpha_j} <= sum_t e^{-g_jt} <= (T - 1) e^-m
    <= T (T - 1) h_S(p). Hence h_[n] <= max(1, C) h_S and B[S] with nu gives B[n] with nu / C.
    (The condition is the exact form of "every p with all support gaps >= m > 0 has g_jt(p) >= m"
    (non-homogeneous Farkas lemma); where it fails, numeric.assumption_b looks for a disproving ray.)"""
    gaps = gap_vectors(keys_exact, alpha)
    K = np.asarray(keys_exact, dtype=object)
    n, T, D = K.shape
    S = set(int(i) for i in support)
    C = max(2, T * (T - 1))
    checks = {"nonnegative": True, "sum_at_least_one": True, "represents": True, "support_terms_only": True}
    missing = []
    out = {}
    for (j, t), d_jt in gaps.items():
        if j in S:
            continue
        combo = combinations.get((j, t))
        if combo is None:
            missing.append((j, t))
            continue
        combo = {k: as_fraction(m) for k, m in combo.items()}
        out[(j, t)] = combo
        checks["support_terms_only"] &= all(i in S and (i, tau) in gaps for (i, tau) in combo)
        checks["nonnegative"] &= all(m >= 0 for m in combo.values())
        checks["sum_at_least_one"] &= sum(combo.values()) >= 1
        checks["represents"] &= all(
            sum((m * gaps[(i, tau)][c] for (i, tau), m in combo.items() if (i, tau) in gaps), Fraction(0)) == d_jt[c]
            for c in range(D))
    checks["every_pair_covered"] = not missing
    proved = all(checks.values())
    reason = "" if proved else "failed: " + ", ".join(k for k, ok in checks.items() if not ok) + (
        f" (no combination for {missing[:4]})" if missing else "")
    return DominationCertificate(proved=proved, constant=C, combinations=out, checks=checks, reason=reason)


def exact_conic_combination(columns: list, target: list, guess: list) -> dict | None:
    """mu over the indices ``guess`` (an independent subset is taken, exactly) with
    sum_k mu_k columns[k] = target exactly, or None when the equality has no solution on it."""
    if not guess:
        return None if any(x != 0 for x in target) else {}
    A = to_fmpq_mat(np.array([columns[k] for k in guess], dtype=object))      # rows = the columns
    basis = [guess[k] for k in independent_rows(A, list(range(len(guess))))]
    B = to_fmpq_mat(np.array([columns[k] for k in basis], dtype=object))      # (|B|, D)
    try:
        y = (B * B.transpose()).solve(B * to_fmpq_mat(np.array(target, dtype=object)))
    except ZeroDivisionError:
        return None
    mu = {k: as_fraction(y[i, 0]) for i, k in enumerate(basis)}
    D = len(target)
    if any(sum((mu[k] * as_fraction(columns[k][c]) for k in basis), Fraction(0)) != as_fraction(target[c])
           for c in range(D)):
        return None
    return mu


# -- fails: a ray along which the ratio tends to 0 ------------------------------------------------------

INF = None   # a rate of +infinity (the numerator bound is eventually <= 0)


@dataclass
class RayCertificate:
    """p(a) = a u + p0; accepted when the ratio (Gamma - margin)/h_I provably tends to 0 (or below).

    rate_numerator: exponential rate of the upper bound of Gamma - margin (None: eventually <= 0);
    rate_denominator: rate of the lower bound of h_I; rate = their difference (None: infinite);
    sequences: per sequence the top slope set M_i, the class of its limit ("zero": every top token
    scores Gamma; "negative": the limit of Gamma - Y_i vhat^T z_i is < 0; "positive": rejected) and its rates."""

    reading: list
    u: list
    p0: list
    accepted: bool
    rate_numerator: Fraction | None
    rate_denominator: Fraction | None
    slow_sequence: int | None
    sequences: list
    checks: dict = field(default_factory=dict)
    reason: str = ""
    tilt: dict | None = None

    @property
    def rate(self) -> Fraction | None:
        if self.rate_numerator is None:
            return None
        return self.rate_numerator - self.rate_denominator

    def evidence(self) -> dict:
        s = lambda x: None if x is None else str(x)  # noqa: E731
        return {"kind": "ray", "accepted": self.accepted, "reading": list(self.reading),
                "u": [str(x) for x in self.u], "p0": [str(x) for x in self.p0],
                "rate_numerator": s(self.rate_numerator) if self.rate_numerator is not None else "infinity",
                "rate_denominator": s(self.rate_denominator), "rate": s(self.rate) if self.rate is not None else
                "infinity", "slow_sequence": self.slow_sequence, "sequences": self.sequences,
                "tilt": self.tilt, "checks": dict(self.checks), "reason": self.reason}


def _limit_sign(weights_log: list, coeffs: list, dps: int) -> tuple[int | None, str]:
    """Sign of sum_t exp(l_t) c_t (l_t, c_t Fractions): exact when every l_t is 0 or there is one term, else
    by interval arithmetic at ``dps`` digits (None when the interval contains 0)."""
    if len(coeffs) == 1 or all(x == 0 for x in weights_log):
        total = sum(coeffs, Fraction(0))
        return (total > 0) - (total < 0), str(total if len(coeffs) > 1 else coeffs[0])
    with _iv_dps(dps):
        acc = iv.mpf(0)
        for lt, ct in zip(weights_log, coeffs):
            acc += iv.exp(iv.mpf(lt.numerator) / lt.denominator) * (iv.mpf(ct.numerator) / ct.denominator)
    if acc.b < 0:
        return -1, str(acc)
    if acc.a > 0:
        return 1, str(acc)
    return None, str(acc)


def ray_certificate(keys_exact, scores, alpha, reading, u, p0=None, dps: int = 30, tilt=None, rows=None,
                    v=None) -> RayCertificate:
    """Decide whether the ray p(a) = a u + p0 (u, p0 rational) disproves B[I], I = ``reading``.

    Asymptotics along the ray. Logits q_it(a) = a sigma_it + o_it with slopes sigma_it = <u, k_it> and
    offsets o_it = <p0, k_it> (exact). Let M_i = argmax_t sigma_it. Attention tends to the softmax of o over
    M_i; tokens off M_i decay like e^{-a (sigma_max - sigma_it)}.

    Numerator: margin(p) >= min_i Y_i vhat^T z_i(p), so
    Gamma - margin(p) <= Gamma max_i sum_t s_it (1 - c_it). Per sequence the leading term is the limit
    L_i = sum_{t in M_i} e^{o_it} (1 - c_it) (up to a positive factor):
      - if c_it = 1 for every t in M_i ("zero"), the sum is e_i(a) = sum_{t not in M_i} s_it (1 - c_it)
        <= K e^{-a rho_i}, rho_i = min over t not in M_i with c_it < 1 of sigma_max - sigma_it (infinite if
        there is none);
      - if L_i < 0 ("negative", the sign checked exactly, or by interval arithmetic when the weights are
        exponentials), the term is eventually negative;
      - otherwise ("positive") the bound does not vanish and the ray is rejected.
    rho_num = min_i rho_i.
    Denominator: for i in I, if M_i = {alpha_i} then 1 - s_{i,alpha_i} >= s_{i,t*} >= e^{-a rho'_i + O(1)}/T with
    rho'_i = sigma_{i,alpha_i} - max_{t != alpha_i} sigma_it > 0 (leading coefficient e^{o}/T > 0); else it tends
    to a positive limit (rho'_i = 0). rho_den = min_{i in I} rho'_i.
    Accepted iff every sequence is "zero" or "negative" and rho_num > rho_den (or rho_num infinite): then
    ratio(p(a)) <= K e^{-a (rho_num - rho_den)} -> 0 (or <= 0 for large a), so no nu > 0 satisfies B[I].

    Tilt (a curve in the SVM direction, for support sequences whose multiplier vanishes): with ``tilt`` = g
    (rational), ``rows`` a_i = Y_i x_{i,alpha_i} and ``v`` = v(alpha), bound the margin with
    w(a) = v + eta(a) g, eta = e^{-a rho_eta}, instead of v. Conditions (exact): <v, g> = 0; <g, a_i> >= 0 for
    every i in S; every "zero" sequence is in S with M_i = {alpha_i}; T = {i in S: <g, a_i> > 0} is not empty;
    rho_eta = (3/4) min_{i in T} rho_i. Then ||w|| <= ||v|| (1 + O(eta^2)) and
    Y_i w^T z_i = 1 - e_i + eta (<g, a_i> + O(leak_i)), leak_i = rate rho'_i of 1 - s_{i,alpha_i}, so per zero
    sequence Gamma - Y_i w^T z_i/||w|| <= Gamma (e_i - eta <g, a_i> + eta C leak_i + C' eta^2): for i in T the
    first terms are eventually negative (e_i, eta leak_i = o(eta)), leaving rate 2 rho_eta; for the others
    the rate is min(rho_i, rho_eta + rho'_i, 2 rho_eta). "negative" sequences stay negative (an O(eta) change
    of a negative limit). A zero-multiplier support sequence can so lose attention at rate rho while the
    margin loses only ~eta^2: second order."""
    K = fraction_array(keys_exact)
    n, T, D = K.shape
    c = fraction_array(scores)
    alpha = [int(a) for a in alpha]
    I = sorted(set(int(i) for i in reading))
    u = [as_fraction(x) for x in u]
    p0 = [Fraction(0)] * D if p0 is None else [as_fraction(x) for x in p0]
    seqs = []
    classified = True
    zero_rates, leaks, tops = {}, {}, {}
    rho_den = None
    slow = None
    for i in range(n):
        sig = [_dot(u, K[i, t]) for t in range(T)]
        off = [_dot(p0, K[i, t]) for t in range(T)]
        top = max(sig)
        M = [t for t in range(T) if sig[t] == top]
        tops[i] = M
        others = [sig[t] for t in range(T) if t not in M]
        leaks[i] = (top - max(others)) if others else INF
        info = {"sequence": i, "slopes": [str(x) for x in sig], "top_tokens": M}
        if all(c[i, t] == 1 for t in M):
            rel = [top - sig[t] for t in range(T) if t not in M and c[i, t] < 1]
            zero_rates[i] = min(rel) if rel else INF
            info.update(limit="zero", numerator_rate=str(zero_rates[i]) if zero_rates[i] is not None else "infinity")
        else:
            ref = off[M[0]]
            sign, value = _limit_sign([off[t] - ref for t in M], [1 - c[i, t] for t in M], dps)
            info.update(limit_value=value)
            if sign is not None and sign < 0:
                info.update(limit="negative", numerator_rate="infinity")
            else:
                info.update(limit="positive" if sign is not None and sign > 0 else "undecided")
                classified = False
        if i in I:
            r = sig[alpha[i]] - max(sig[t] for t in range(T) if t != alpha[i]) if M == [alpha[i]] else Fraction(0)
            info["denominator_rate"] = str(r)
            if rho_den is None or r < rho_den:
                rho_den, slow = r, i
        seqs.append(info)
    checks = {"limits_classified": classified}
    rho_num = INF

    def lower(x, y):                      # min with None = infinity
        return y if x is None else (x if y is None else min(x, y))

    tilt_info = None
    if tilt is None:
        for i, r in zero_rates.items():
            rho_num = lower(rho_num, r)
    else:
        g = [as_fraction(x) for x in tilt]
        a_rows = fraction_array(rows)
        ga = [_dot(g, a_rows[i]) for i in range(n)]
        S = [i for i in range(n) if c[i, alpha[i]] == 1]
        tilted = [i for i in S if ga[i] > 0]
        checks["tilt_orthogonal_to_v"] = _dot(g, [as_fraction(x) for x in v]) == 0
        checks["tilt_nonnegative_on_support"] = all(ga[i] >= 0 for i in S)
        checks["tilt_zero_limits_concentrate_in_S"] = all(i in S and tops[i] == [alpha[i]] for i in zero_rates)
        finite = [zero_rates[i] for i in tilted if i in zero_rates and zero_rates[i] is not None]
        checks["tilt_raises_a_slow_sequence"] = bool(finite)
        if all(checks.values()):
            rho_eta = Fraction(3, 4) * min(finite)
            eta_sq = 2 * rho_eta                  # the eta^2 term (||w|| and the tilt's own cost)
            for i, r in zero_rates.items():
                if i in tilted and (r is None or r > rho_eta):
                    rho_num = lower(rho_num, eta_sq)
                else:
                    cross = rho_eta + leaks[i] if leaks[i] is not None else None
                    rho_num = lower(rho_num, lower(r, lower(cross, eta_sq)))
            tilt_info = {"g": [str(x) for x in g], "rho_eta": str(rho_eta), "tilted": tilted}
    gap_ok = all(checks.values()) and rho_den is not None and (rho_num is None or rho_num > rho_den)
    checks["rate_gap_positive"] = gap_ok
    if gap_ok:
        reason = ""
    elif not classified:
        reason = "a sequence's limit keeps Gamma - Y vhat^T z_i positive (or undecided)"
    elif not all(v_ for k, v_ in checks.items() if k != "rate_gap_positive"):
        reason = "tilt conditions fail: " + ", ".join(k for k, v_ in checks.items() if not v_ and k.startswith("tilt"))
    else:
        reason = f"rate of the numerator {rho_num} does not exceed that of the denominator {rho_den}"
    return RayCertificate(reading=I, u=u, p0=p0, accepted=gap_ok, rate_numerator=rho_num, rate_denominator=rho_den,
                          slow_sequence=slow, sequences=seqs, checks=checks, reason=reason, tilt=tilt_info)


# -- fails: a point where the margin exceeds Gamma ------------------------------------------------------

@dataclass
class PointCertificate:
    """margin(p) > Gamma at the rational point p, shown by the direction w: min_i Y_i w^T z_i(p) > Gamma ||w||
    (interval arithmetic). Then Gamma - margin(p) < 0 < nu h_I(p) for every nu > 0 and every reading I
    (at a finite p every s_it > 0, so h_I(p) > 0)."""

    p: list
    w: list
    proved: bool
    min_lower: str
    gamma_norm_upper: str
    dps: int
    reason: str = ""

    def evidence(self) -> dict:
        return {"kind": "point", "proved": self.proved, "p": [str(x) for x in self.p], "w": [str(x) for x in self.w],
                "min_i_Y_i_w_z_i_lower": self.min_lower, "Gamma_norm_w_upper": self.gamma_norm_upper,
                "dps": self.dps, "reason": self.reason,
                "arithmetic": "attention by interval arithmetic (mpmath.iv) from the exact logits; Gamma ||w|| "
                              "bounded above by a rational checked exactly"}


def point_certificate(keys_exact, X_exact, Y_exact, gamma_sq, p, w, dps: int = 40) -> PointCertificate:
    """Prove margin(p) > Gamma at p (rational) with the direction w (rational, nonzero): margin(p) >=
    min_i Y_i (w/||w||)^T z_i(p), z_i(p) = sum_t s_it(p) x_it; the softmax enclosed in intervals (exact logits
    <p, k_it>, shifted by their maximum), each Y_i w^T x_it exact; proved iff the lower end of the minimum
    exceeds a rational upper bound of Gamma ||w|| = sqrt(Gamma^2 ||w||^2)."""
    K = fraction_array(keys_exact)
    X = fraction_array(X_exact)
    Y = [as_fraction(y) for y in np.asarray(Y_exact, dtype=object)]
    n, T, D = K.shape
    p = [as_fraction(x) for x in p]
    w = [as_fraction(x) for x in w]
    ww = _dot(w, w)
    if ww == 0:
        return PointCertificate(p=p, w=w, proved=False, min_lower="", gamma_norm_upper="", dps=dps, reason="w = 0")
    _, bound = sqrt_bounds(as_fraction(gamma_sq) * ww)
    lows = []
    with _iv_dps(dps):
        for i in range(n):
            q = [_dot(p, K[i, t]) for t in range(T)]
            qmax = max(q)
            e = [iv.exp(iv.mpf((q[t] - qmax).numerator) / (q[t] - qmax).denominator) for t in range(T)]
            z = sum(e[1:], e[0])
            coef = [Y[i] * _dot(w, X[i, t]) for t in range(T)]
            score = sum((e[t] * (iv.mpf(coef[t].numerator) / coef[t].denominator) for t in range(T)), iv.mpf(0)) / z
            lows.append(score)
        low = lows[0].a
        for x in lows[1:]:
            if x.a < low:                        # degenerate intervals (endpoints): exact comparisons
                low = x.a
        upper = (iv.mpf(bound.numerator) / bound.denominator).b
        proved = bool(low > upper)
        low_s, upper_s = _endpoint_str(low), _endpoint_str(upper)
    return PointCertificate(p=p, w=w, proved=proved, min_lower=low_s, gamma_norm_upper=upper_s, dps=dps,
                            reason="" if proved else "min_i Y_i w^T z_i(p) does not exceed Gamma ||w|| provably")


__all__ = ["ExactVSVM", "exact_v_svm", "ConvexityCertificate", "convexity_certificate", "project_to_dual_face",
           "DominationCertificate", "domination_certificate", "gap_vectors", "exact_conic_combination", "round_down",
           "RayCertificate", "ray_certificate", "PointCertificate", "point_certificate", "sqrt_bounds", "as_fraction",
           "fraction_array"]
