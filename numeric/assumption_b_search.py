"""Float searches that propose the certificates of Assumption B (checked exactly in symbolic.assumption_b).

Notation as in symbolic.assumption_b: d_it = k_{i,alpha_i} - k_it (so q_{i,alpha_i} - q_it = <p, d_it>), the
normalised scores c_it = Y_i v(alpha)^T x_it (c = 1 on the support S, Gamma c_it = Y_i vhat^T x_it), a
reading I (the sequences whose 1 - s_{i,alpha_i} enters the maximum). Every function here only proposes:
a dual point lambda (SLSQP on the dual face; cvxpy's SOCP only as its fallback), conic combinations mu and ray
directions u (scipy's HiGHS LPs), points p (from the sampled ratio). What they propose is rounded to rationals
and accepted only if the exact check passes. Budgets are counts (LPs, roundings, offsets, points), never seconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy.optimize import linprog

from attnsvm.symbolic import assumption_b as sab

from .lazy import cvxpy as cp

U_BOUND = 1e3          # box |u_k| <= U_BOUND keeps the ray LPs bounded
DELTA_MAX = 0.5        # the LPs maximise the slack delta up to this
DENOMINATORS = (1, 2, 4, 10, 100, 10 ** 4, 10 ** 6, 10 ** 9)   # rationalisations, smallest first


def rationalise(x, den: int) -> list:
    """Each entry as the nearest Fraction with denominator <= den."""
    return [Fraction(float(v)).limit_denominator(den) for v in np.asarray(x, dtype=float)]


# -- holds: dual points of the convexity certificate ----------------------------------------------------

def dual_point_candidates(X_exact, Y_exact, vsvm: sab.ExactVSVM, reading, max_vertices: int = 4096) -> list:
    """Dual points lambda (Fractions) to try in symbolic.assumption_b.convexity_certificate for reading I.

    First the exact KKT multipliers of v(alpha) scaled into the simplex (the only point of the dual face when
    the support rows are independent). When the face is larger: the point on it minimising the largest
    ||sum_i lambda_i Y_i x_{i,tau_i}|| over the token choices tau of U = S + I with tau_I != alpha_I
    (:func:`face_minimax`; the SOCP by cvxpy only when that fails), rounded and projected exactly back onto the
    face."""
    out = [vsvm.dual_point()]
    X = np.vectorize(float, otypes=[float])(np.asarray(X_exact, dtype=object))
    Y = np.array([float(y) for y in np.asarray(Y_exact, dtype=object)])
    n, T, d = X.shape
    S = list(vsvm.support)
    I = sorted(set(int(i) for i in reading))
    U = sorted(set(S) | set(I))
    if len(S) <= 1 or T ** len(U) > max_vertices:
        return out
    alpha = vsvm.alpha
    rows = Y[:, None] * X[np.arange(n), alpha]
    if np.linalg.matrix_rank(rows[S]) == len(S):
        return out                                  # the face is a point: the multipliers are the only choice
    taus = np.array(np.meshgrid(*[np.arange(T)] * len(U), indexing="ij")).reshape(len(U), -1).T
    outer = np.array([any(tau[k] != alpha[i] for k, i in enumerate(U) if i in I) for tau in taus])
    taus = taus[outer]
    V = np.stack([np.stack([Y[i] * X[i, tau[k]] for k, i in enumerate(U)]) for tau in taus])   # (m, |U|, d)
    v = np.array([float(x) for x in vsvm.v])
    target = v / float(vsvm.norm_sq)
    on_s = [k for k, i in enumerate(U) if i in S]              # lambda vanishes on U \ S
    lam0 = np.array([float(vsvm.dual_point()[i]) for i in S])
    lam_s = face_minimax(V[:, on_s, :], rows[S], target, lam0)
    if lam_s is None:
        lam_s = _face_minimax_socp(V, rows[U], target, [k in on_s for k in range(len(U))])
    if lam_s is None:
        return out
    lam_u = np.zeros(len(U))
    lam_u[on_s] = lam_s
    full = np.zeros(n)
    full[U] = lam_u
    exact = sab.project_to_dual_face(X_exact, Y_exact, vsvm, full)
    if exact is not None:
        out.append(exact)
    return out


FACE_ITERATIONS = 200      # SLSQP iterations of the dual-face minimax


def face_minimax(V: np.ndarray, rows: np.ndarray, target: np.ndarray, lam0: np.ndarray) -> np.ndarray | None:
    """min_lambda max_k ||V_k^T lambda|| over the dual face {lambda >= 0, sum lambda = 1, rows^T lambda = target}
    (V (m, s, d), rows (s, d), lam0 a point of the face, e.g. the scaled KKT multipliers).

    The face is lam0 + N mu with N a basis of the null space of [rows^T; 1^T] (SVD), so the problem is
    min t over (mu, t) s.t. t >= ||V_k^T (lam0 + N mu)||^2 for every k and lam0 + N mu >= 0 (convex constraints,
    linear objective: the same minimiser), solved by SLSQP (scipy; at most FACE_ITERATIONS iterations) from
    mu = 0. Its answer is taken when SLSQP converged, or stopped because no line search step improves any more
    (at the optimum to rounding), and the point is on the face to 1e-9; else None (the SOCP then runs). A
    proposal only: the convexity certificate checks what it is rounded to."""
    from scipy.linalg import null_space
    from scipy.optimize import minimize

    E = np.vstack([rows.T, np.ones((1, rows.shape[0]))])
    N = null_space(E)
    k = N.shape[1]
    if k == 0:
        return lam0
    C = np.einsum("msd,s->md", V, lam0)            # V_k^T lam0, (m, d)
    M = np.einsum("msd,sk->mdk", V, N)              # V_k^T N, (m, d, k)

    def images(x):
        return C + M @ x[:k]

    def cons_norm(x):
        w = images(x)
        return x[k] - np.einsum("md,md->m", w, w)

    def jac_norm(x):
        J = np.empty((len(C), k + 1))
        J[:, :k] = -2.0 * np.einsum("md,mdk->mk", images(x), M)
        J[:, k] = 1.0
        return J

    jac_face = np.hstack([N, np.zeros((len(N), 1))])
    cons = [{"type": "ineq", "fun": cons_norm, "jac": jac_norm},
            {"type": "ineq", "fun": lambda x: lam0 + N @ x[:k], "jac": lambda x: jac_face}]
    x0 = np.zeros(k + 1)
    x0[k] = float(np.max(np.einsum("md,md->m", C, C)))
    unit = np.eye(k + 1)[k]
    res = minimize(lambda x: x[k], x0, jac=lambda x: unit, constraints=cons, method="SLSQP",
                   options={"maxiter": FACE_ITERATIONS, "ftol": 1e-15})
    if res.status not in (0, 8):    # 8: positive directional derivative in the line search
        return None
    lam = lam0 + N @ res.x[:k]
    if np.min(lam) < -1e-9 or np.max(np.abs(E @ lam - np.append(target, 1.0))) > 1e-9:
        return None
    return np.maximum(lam, 0.0)


def _face_minimax_socp(V: np.ndarray, rows: np.ndarray, target: np.ndarray, on_s: list) -> np.ndarray | None:
    """:func:`face_minimax` as an SOCP (cvxpy, Clarabel) over lambda on U (zero where ``on_s`` is False); the
    fallback when SLSQP does not converge. Returns lambda on S, or None."""
    lam = cp.Variable(V.shape[1])
    t = cp.Variable()
    cons = [lam >= 0, cp.sum(lam) == 1, rows.T @ lam == target]
    cons += [lam[k] == 0 for k, keep in enumerate(on_s) if not keep]
    cons += [cp.norm(V[k].T @ lam, 2) <= t for k in range(len(V))]
    try:
        cp.Problem(cp.Minimize(t), cons).solve(solver=cp.CLARABEL)
    except cp.error.SolverError:                    # pragma: no cover - the multipliers remain
        return None
    if lam.value is None:
        return None
    return np.asarray(lam.value, dtype=float)[[k for k, keep in enumerate(on_s) if keep]]


# -- holds for B[n]: conic combinations of the support gaps ---------------------------------------------

def domination_combinations(keys, alpha, support, gaps_exact: dict) -> tuple[dict, int]:
    """For every j outside S and t != alpha_j, mu >= 0 with sum mu >= 1 and d_jt = sum mu_{i,tau} d_{i,tau}
    over the support gaps (an LP, then solved exactly on the LP's support by
    symbolic.assumption_b.exact_conic_combination). Returns ({(j, t): {(i, tau): mu}}, LPs solved); a pair
    without a combination is left out (the certificate then fails on it)."""
    keys = np.asarray(keys, dtype=float)
    n, T, D = keys.shape
    S = set(int(i) for i in support)
    cols = [(i, t) for (i, t) in sorted(gaps_exact) if i in S]
    if not cols:
        return {}, 0
    Dmat = np.array([[float(x) for x in gaps_exact[k]] for k in cols]).T          # (D, m)
    out, lps = {}, 0
    for (j, t) in sorted(gaps_exact):
        if j in S:
            continue
        target = np.array([float(x) for x in gaps_exact[(j, t)]])
        lps += 1
        res = linprog(np.ones(len(cols)), A_ub=-np.ones((1, len(cols))), b_ub=[-1.0], A_eq=Dmat, b_eq=target,
                      bounds=[(0, None)] * len(cols), method="highs")
        if res.status != 0:
            continue
        guess = [k for k in range(len(cols)) if res.x[k] > 1e-9]
        mu = sab.exact_conic_combination([gaps_exact[c] for c in cols], gaps_exact[(j, t)], guess)
        if mu is not None:
            out[(j, t)] = {cols[k]: m for k, m in mu.items()}
    return out, lps


# -- fails: rays ------------------------------------------------------------------------------------------

@dataclass
class RaySearch:
    """What the ray search did: LPs solved, candidate rays checked exactly, the accepted certificates."""

    lps: int = 0
    candidates: int = 0
    offsets: int = 0
    accepted: list = field(default_factory=list)
    rejected: list = field(default_factory=list)     # (pair, mode, reason) of the LP solutions that failed
    exhausted: bool = False                          # the LP budget ran out before every pair was tried

    def summary(self) -> dict:
        return {"lps": self.lps, "candidates_checked": self.candidates, "offsets_tried": self.offsets,
                "accepted": len(self.accepted), "rejected": self.rejected[:12], "budget_exhausted": self.exhausted}


def _ray_lp(gaps: dict, classes: dict, slow, mode: str):
    """Two LPs over u (and the slack delta). First max delta s.t. <u, d_it> >= 1 on the rate pairs, >= delta on
    the others, and for the slow pair <u, d_jt> <= 1 - delta with a lower bound delta ("strict"), = 0 ("tie")
    or none ("free"); |u_k| <= U_BOUND, 0 <= delta <= DELTA_MAX. Then, with delta >= delta*/2 fixed, min
    ||u||_1, so that no logit gap is needlessly large (the mpmath cross-check then reaches the asymptotic
    regime at moderate a). Returns (u, delta) or None when infeasible."""
    D = len(next(iter(gaps.values())))
    A_ub, b_ub, A_eq, b_eq = [], [], [], []
    for pair, d in gaps.items():
        df = np.array([float(x) for x in d])
        if not df.any():
            if classes[pair] == "rate" and pair != slow:
                return None                          # a token that can never be separated from alpha
            continue
        if pair == slow:
            A_ub.append(np.r_[df, 1.0]), b_ub.append(1.0)
            if mode == "strict":
                A_ub.append(np.r_[-df, 1.0]), b_ub.append(0.0)
            elif mode == "tie":
                A_eq.append(np.r_[df, 0.0]), b_eq.append(0.0)
        elif classes[pair] == "rate":
            A_ub.append(np.r_[-df, 0.0]), b_ub.append(-1.0)
        else:
            A_ub.append(np.r_[-df, 1.0]), b_ub.append(0.0)
    c = np.zeros(D + 1)
    c[-1] = -1.0
    A_ub = np.array(A_ub) if A_ub else np.zeros((0, D + 1))
    A_eq = np.array(A_eq) if A_eq else None
    res = linprog(c, A_ub=A_ub if len(A_ub) else None, b_ub=b_ub or None, A_eq=A_eq, b_eq=b_eq or None,
                  bounds=[(-U_BOUND, U_BOUND)] * D + [(0.0, DELTA_MAX)], method="highs")
    if res.status != 0:
        return None
    delta = float(res.x[-1])
    # second stage: variables (u, delta, t) with t >= |u|, delta >= delta*/2, minimise sum t
    Z = np.zeros((len(A_ub), D))
    A2 = [np.c_[A_ub, Z]] if len(A_ub) else []
    eye = np.eye(D)
    A2.append(np.c_[eye, np.zeros((D, 1)), -eye])
    A2.append(np.c_[-eye, np.zeros((D, 1)), -eye])
    b2 = list(b_ub) + [0.0] * (2 * D)
    Aeq2 = np.c_[A_eq, np.zeros((A_eq.shape[0], D))] if A_eq is not None else None
    c2 = np.r_[np.zeros(D + 1), np.ones(D)]
    res2 = linprog(c2, A_ub=np.vstack(A2), b_ub=b2, A_eq=Aeq2, b_eq=b_eq or None,
                   bounds=[(-U_BOUND, U_BOUND)] * D + [(delta / 2, DELTA_MAX)] + [(0, None)] * D, method="highs")
    if res2.status == 0:
        return res2.x[:D], float(res2.x[D])
    return res.x[:D], delta


def tilt_direction(vsvm: sab.ExactVSVM, rows_exact, k: int, roundings: int = 6) -> list | None:
    """A rational g with <v, g> = 0, <g, a_i> >= 0 for every i in S and <g, a_k> > 0 (checked exactly), or None.

    Such a g exists exactly when no dual point of the v-SVM puts weight on a_k (the multiplier of k vanishes on
    the whole dual face; Farkas). g is searched in the coordinates of a rational basis of v's orthogonal
    complement (so <v, g> = 0 survives rounding): an LP with <g, a_k> >= 1 and minimal ||g||_1."""
    a = sab.fraction_array(rows_exact)
    v = list(vsvm.v)
    d = len(v)
    j = max(range(d), key=lambda c: abs(v[c]))
    if v[j] == 0 or d < 2:
        return None
    basis = []
    for c in range(d):
        if c != j:
            b = [Fraction(0)] * d
            b[c] = Fraction(1)
            b[j] = -v[c] / v[j]
            basis.append(b)
    S = list(vsvm.support)
    B = np.array([[float(x) for x in b] for b in basis])                  # (d - 1, d)
    A = np.array([[float(x) for x in a[i]] for i in S]) @ B.T               # <g, a_i> in basis coordinates
    ak = np.array([float(x) for x in a[k]]) @ B.T
    m = len(basis)
    # variables (y, t): g = B^T y, |y| <= t; minimise sum t
    A_ub = [np.r_[-A[r], np.zeros(m)] for r in range(len(S))] + [np.r_[-ak, np.zeros(m)]]
    b_ub = [0.0] * len(S) + [-1.0]
    eye = np.eye(m)
    A_ub += list(np.c_[eye, -eye]) + list(np.c_[-eye, -eye])
    b_ub += [0.0] * (2 * m)
    res = linprog(np.r_[np.zeros(m), np.ones(m)], A_ub=np.array(A_ub), b_ub=b_ub,
                  bounds=[(-U_BOUND, U_BOUND)] * m + [(0, None)] * m, method="highs")
    if res.status != 0:
        return None
    for den in DENOMINATORS[:roundings]:
        y = rationalise(res.x[:m], den)
        g = [sum((y[r] * basis[r][c] for r in range(m)), Fraction(0)) for c in range(d)]
        ga = [sum((g[c] * a[i][c] for c in range(d)), Fraction(0)) for i in range(len(a))]
        if all(ga[i] >= 0 for i in S) and ga[k] > 0:
            return g
    return None


def find_rays(keys_exact, vsvm: sab.ExactVSVM, reading, max_lps: int = 200, roundings: int = 6, offsets: int = 4,
              stop_after: int = 1, rows_exact=None) -> RaySearch:
    """Search rays p(a) = a u + p0 that disprove B[I] (I = ``reading``), each checked by
    symbolic.assumption_b.ray_certificate.

    Idea: make the support sequences concentrate on alpha fast (every gap of a token scoring below Gamma,
    c_it < 1, at rate >= 1: the "rate" pairs) while one sequence j in I loses its alpha-mass slowly (the
    "slow" pair (j, t), rate <= 1 - delta), and keep every other token below alpha (rate >= delta). Pairs:
    j outside S with c_jt < 1 are tried "strict" (0 < rate <= 1 - delta, j still concentrates on its
    alpha, which scores above Gamma) and then "tie" (rate 0: the relaxed p-SVM's constraint active with
    equality, j keeps a fixed share off alpha; offsets p0 = b w, b = 1, 2, 4, ..., shift that share towards
    alpha when the share at p0 = 0 is too large); pairs with c_jt >= 1 (any j in I) are tried "free" (token t
    may even overtake alpha, since it scores >= Gamma). A support pair (k, t) with c_kt < 1 can be slow only with a
    tilt (``rows_exact`` a_i = Y_i x_{i,alpha_i} given, and :func:`tilt_direction` finds g for k: k's multiplier
    vanishes on the whole dual face), tried "strict" with the margin bounded by v + eta g.
    Each LP solution is rounded to rationals with growing denominators (``roundings``) until the exact check
    accepts one. Stops after ``stop_after`` accepted rays or ``max_lps`` LPs."""
    K = sab.fraction_array(keys_exact)
    n, T, D = K.shape
    alpha = vsvm.alpha
    c = vsvm.scores
    S = set(vsvm.support)
    I = sorted(set(int(i) for i in reading))
    gaps = sab.gap_vectors(K, alpha)
    classes = {(i, t): ("rate" if i in S and c[i, t] < 1 else "positive") for (i, t) in gaps}
    plan, ties = [], []
    for (j, t) in sorted(gaps):
        if j not in I:
            continue
        zero = not any(x != 0 for x in gaps[(j, t)])    # identical keys: a tie along every ray
        if c[j, t] >= 1:
            plan.append(((j, t), "free"))
        elif j not in S:
            if not zero:
                plan.append(((j, t), "strict"))
            ties.append(((j, t), "tie"))
    tilts = {}
    if rows_exact is not None:
        for (j, t) in sorted(gaps):
            if j in I and j in S and c[j, t] < 1 and any(x != 0 for x in gaps[(j, t)]):
                if j not in tilts:
                    out_lp = tilt_direction(vsvm, rows_exact, j, roundings)
                    tilts[j] = out_lp
                if tilts[j] is not None:
                    ties.append(((j, t), "tilt"))
    plan += ties
    out = RaySearch()
    for pair, mode in plan:
        if len(out.accepted) >= stop_after:
            break
        if out.lps >= max_lps:
            out.exhausted = True
            break
        out.lps += 2
        sol = _ray_lp(gaps, classes, pair, "strict" if mode == "tilt" else mode)
        if sol is None or (mode != "tie" and sol[1] <= 1e-9):
            continue
        u_f = sol[0]
        cert = None
        for den in DENOMINATORS[:roundings]:
            u = rationalise(u_f, den)
            if mode == "tie":                       # keep the slow gap exactly 0 after rounding, if possible
                if sum(a * b for a, b in zip(u, gaps[pair])) != 0:
                    continue
            out.candidates += 1
            if mode == "tilt":
                cert = sab.ray_certificate(K, c, alpha, I, u, tilt=tilts[pair[0]], rows=rows_exact, v=vsvm.v)
            else:
                cert = sab.ray_certificate(K, c, alpha, I, u)
            if cert.accepted:
                break
        if cert is not None and not cert.accepted and mode == "tie":
            cert = _tie_offsets(K, c, alpha, I, cert, gaps, pair, offsets, out)
        if cert is not None and cert.accepted:
            out.accepted.append(cert)
        elif cert is not None:
            out.rejected.append({"pair": list(pair), "mode": mode, "reason": cert.reason})
    return out


def _tie_offsets(K, c, alpha, I, cert, gaps, pair, offsets: int, out: RaySearch):
    """Offsets p0 = b w (b = 1, 2, 4, ...) for a tie ray, with w an LP direction that raises every tied gap of
    the slow sequence (so its limit share moves towards alpha); the limit sign is then checked by interval
    arithmetic in ray_certificate."""
    j = pair[0]
    tied = [t for t in cert.sequences[j]["top_tokens"] if t != alpha[j]]
    rows = [np.array([float(x) for x in gaps[(j, t)]]) for t in tied]
    if not rows or not all(r.any() for r in rows):
        return cert
    D = len(rows[0])
    res = linprog(np.zeros(D), A_ub=-np.array(rows), b_ub=-np.ones(len(rows)),
                  bounds=[(-U_BOUND, U_BOUND)] * D, method="highs")
    out.lps += 1
    if res.status != 0:
        return cert
    w = rationalise(res.x, 100)
    for k in range(offsets):
        out.offsets += 1
        p0 = [Fraction(2 ** k) * x for x in w]
        trial = sab.ray_certificate(K, c, alpha, I, cert.u, p0)
        if trial.accepted:
            return trial
    return cert


def ray_cross_check(ratio_at, keys, cert: sab.RayCertificate, points: int = 5, max_dps: int = 2000) -> dict:
    """The ratio evaluated along the ray entirely in mpmath (``ratio_at(p, dps)``, e.g.
    numeric.assumption_b.mp_ratio) at a = a_max 2^-(points-1), ..., a_max, with p = a u + p0 exact. a_max
    puts the proved rate at 32 units of decay (for an infinite rate: 32 units of the slowest attention
    tail), lowered if the digits needed (every logit spread resolved: spread a / ln 10 * 1.2 + 40) would
    exceed ``max_dps``. ``consistent``: the ratio falls from the first to the last point, and either ends
    <= 0 or falls at least half as fast as the proved rate between the last two points (the proof bounds
    the ratio from above: faster is fine)."""
    import math

    K = np.asarray(keys, dtype=float)
    u = np.array([float(x) for x in cert.u])
    slopes = np.sort(K @ u, axis=1)
    spread = float(np.max(slopes[:, -1] - slopes[:, 0]))
    tails = slopes[:, -1] - slopes[:, -2]
    rate = None if cert.rate is None else float(cert.rate)
    slowest = float(np.min(tails[tails > 0])) if np.any(tails > 0) else 1.0
    a_max = 32.0 / (rate if rate else slowest)
    if spread > 0:
        a_max = min(a_max, (max_dps - 40) * math.log(10) / (1.2 * spread))
    a_vals = [Fraction(a_max * 2.0 ** (k - points + 1)).limit_denominator(1000) for k in range(points)]
    rows = []
    for a in a_vals:
        dps = int(spread * float(a) / math.log(10) * 1.2) + 40
        res = ratio_at([a * x + y for x, y in zip(cert.u, cert.p0)], dps)
        rows.append({"a": float(a), "ratio": float(res["ratio"]), "numerator": float(res["numerator"]),
                     "denominator": float(res["denominator"]), "dps": dps, "kkt_ok": res["kkt_ok"]})
    vals = [r["ratio"] for r in rows]
    slope = None
    if vals[-1] > 0 and vals[-2] > 0:
        slope = (math.log(vals[-1]) - math.log(vals[-2])) / (rows[-1]["a"] - rows[-2]["a"])
    ok = vals[-1] <= vals[0] and all(r["kkt_ok"] for r in rows) and (
        vals[-1] <= 0 or rate is None or (slope is not None and slope <= -0.5 * rate))
    return {"points": rows, "observed_log_slope": slope, "proved_rate": rate, "consistent": bool(ok),
            "backend": "mpmath: exact logits, attention and margin at the digits shown (v-SVM polished)"}


# -- fails: points -----------------------------------------------------------------------------------------

def find_point_certificates(keys_exact, X_exact, Y_exact, vsvm: sab.ExactVSVM, margin_at, points,
                            max_points: int = 6) -> tuple[sab.PointCertificate | None, int]:
    """Try points p (floats, e.g. p = 0 and the sampled points with the smallest ratio): p rounded to
    rationals, w from the float margin SOCP at p (``margin_at(p) -> (margin, w)``), rounded, then
    symbolic.assumption_b.point_certificate. Returns (the first proved certificate or None, points tried)."""
    tried = 0
    for p in points[:max_points]:
        p = np.asarray(p, dtype=float)
        m, w = margin_at(p)
        tried += 1
        if w is None or not np.all(np.isfinite(w)) or not np.any(w):
            continue
        for den in (10 ** 6, 10 ** 12):
            cert = sab.point_certificate(keys_exact, X_exact, Y_exact, vsvm.gamma_sq, rationalise(p, den),
                                         rationalise(w, 10 ** 12))
            if cert.proved:
                return cert, tried
    return None, tried
