"""Assumption B of joint (v, p) training, estimated by sampling p.

With alpha the optimal tokens, v(alpha) = argmin ||v|| s.t. Y_i v^T x_{i,alpha_i} >= 1 and
Gamma = 1/||v(alpha)||, the mixed features z_i(p) = X_i^T s_i(p) have the label margin

    margin(p) = max_{||v|| <= 1} min_i Y_i v^T z_i(p)      (= 1/||v-SVM(z(p))|| when positive)

and Assumption B asks for nu > 0 with margin(p) <= Gamma - nu max_i (1 - s_{i,alpha_i}(p)) for all p,
that is nu_hat = inf_p ratio(p) > 0 with

    ratio(p) = (Gamma - margin(p)) / max_i (1 - s_{i,alpha_i}(p)).

ratio(p) <= 0 at one p proves the assumption fails. nu_hat > 0 can only be estimated by sampling;
it is never a proof. The denominator is computed without cancellation (the stable tails of
numeric.attention). Where it is small the numerator Gamma - margin(p) is a difference of nearly
equal margins, so below ``mp_below`` the margin is recomputed in mpmath: z_i(p) at high precision and
the KKT system of the v-SVM on z(p) polished with numeric.svm.polish.
"""
from __future__ import annotations

import math

import cvxpy as cp
import mpmath
import numpy as np

from .attention import attention_state
from .joint import mixed_features
from .svm import active_set_guess, polish, solve_svm, to_mpf


class MarginSolver:
    """margin(Z) = max t s.t. Y_i v^T z_i >= t, ||v|| <= 1 (an SOCP, compiled once for shape (n, d))."""

    def __init__(self, n: int, d: int):
        self.A = cp.Parameter((n, d))
        self.v = cp.Variable(d)
        self.t = cp.Variable()
        self.prob = cp.Problem(cp.Maximize(self.t), [self.A @ self.v >= self.t, cp.norm(self.v, 2) <= 1])

    def __call__(self, Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        self.A.value = Y[:, None] * Z
        self.prob.solve(solver=cp.CLARABEL)
        return float(self.t.value), np.asarray(self.v.value, dtype=float)


def one_minus_s_alpha(st, alpha) -> np.ndarray:
    """1 - s_{i,alpha_i}: the stable tail where alpha_i is the dominant token, else 1 - s_{i,alpha_i} directly
    (then s_{i,alpha_i} <= 1/2 and nothing cancels)."""
    alpha = np.asarray(alpha)
    rows = np.arange(len(alpha))
    return np.where(st.dominant == alpha, st.one_minus_mass, 1.0 - st.s[rows, alpha])


def mp_margin(p, X_exact, Y_exact, W_exact, dps: int):
    """margin(p) in mpmath: z_i = X_i^T softmax(X_i W p) at ``dps`` digits, then the v-SVM
    min ||v|| s.t. Y_i z_i^T v >= 1 polished from the float solver's active set; margin = 1/||v||.
    Returns (margin, polished) or (None, reason) when the v-SVM on z(p) is infeasible."""
    X = np.asarray(X_exact, dtype=object)
    n, T, d = X.shape
    with mpmath.workdps(dps):
        pm = [to_mpf(x) for x in p]
        Wm = [[to_mpf(x) for x in row] for row in np.asarray(W_exact, dtype=object)]
        rows = []
        for i in range(n):
            toks = [[to_mpf(x) for x in X[i, t]] for t in range(T)]
            q = [mpmath.fsum(toks[t][a] * mpmath.fsum(Wm[a][c] * pm[c] for c in range(d)) for a in range(d))
                 for t in range(T)]
            qmax = max(q)
            e = [mpmath.exp(x - qmax) for x in q]
            zs = mpmath.fsum(e)
            z = [mpmath.fsum(e[t] * toks[t][c] for t in range(T)) / zs for c in range(d)]
            rows.append([to_mpf(Y_exact[i]) * zc for zc in z])
        A_float = np.array([[float(x) for x in row] for row in rows])
    sol = solve_svm(A_float, np.ones(n))
    if not sol.feasible:
        return None, f"v-SVM on the mixed features infeasible ({sol.status})"
    guess = active_set_guess(sol, A_float, np.ones(n))
    A_mp, b_mp = np.array(rows, dtype=object), np.ones(n, dtype=object)
    pol = polish(A_mp, b_mp, guess, dps=dps)
    if not pol.ok:
        # degenerate active sets (more nearly tight rows than dimensions) can make the refinement
        # cycle: restart it from every subset of the candidate rows of size <= d
        from itertools import combinations
        cand = guess[: min(len(guess), 6)]
        for k in range(1, min(d, len(cand)) + 1):
            for sub in combinations(cand, k):
                trial = polish(A_mp, b_mp, list(sub), dps=dps)
                if trial.ok:
                    pol = trial
                    break
            if pol.ok:
                break
    with mpmath.workdps(dps):
        return 1 / pol.norm, pol


class RatioEvaluator:
    """ratio(p) of the module docstring for one dataset, float64 above ``mp_below``, mpmath below."""

    def __init__(self, X, Y, phi, alpha, Gamma, X_exact=None, Y_exact=None, W_exact=None,
                 Gamma_mp=None, support=None, mp_below: float = 1e-3, v_rows_exact=None, v_active=None,
                 gamma_digits: int = 50):
        self.X, self.Y, self.phi = X, Y, phi
        self.alpha = np.asarray(alpha, dtype=int)
        self.Gamma = float(Gamma)
        self.Gamma_mp = Gamma_mp
        self.v_rows_exact, self.v_active = v_rows_exact, v_active
        self._gamma_cache: dict = {}
        self.gamma_digits = gamma_digits
        self.X_exact, self.Y_exact, self.W_exact = X_exact, Y_exact, W_exact
        self.support = None if support is None else np.asarray(support, dtype=int)
        self.mp_below = mp_below
        self.margin = MarginSolver(X.shape[0], X.shape[2])
        self.zero_gamma = np.zeros(X.shape[:2])
        self.evaluations = 0
        self.mp_evaluations = 0

    def gamma_at(self, dps: int):
        """(Gamma, digits): Gamma = 1/||v(alpha)|| re-polished at ``dps`` digits from the exact v-SVM rows and
        its active set when they were given (cached), else the given Gamma_mp, trusted to ``gamma_digits``."""
        if self.v_rows_exact is None or self.v_active is None:
            return self.Gamma_mp, self.gamma_digits
        if dps not in self._gamma_cache:
            n = len(self.v_rows_exact)
            pol = polish(self.v_rows_exact, np.ones(n, dtype=object), list(self.v_active), dps=dps)
            with mpmath.workdps(dps):
                self._gamma_cache[dps] = (1 / pol.norm, dps if pol.ok else 0)
        return self._gamma_cache[dps]

    def denominators(self, p):
        st = attention_state(np.asarray(p, float), self.phi, self.zero_gamma)
        return st, one_minus_s_alpha(st, self.alpha)

    def __call__(self, p) -> dict:
        """{'ratio', 'ratio_S', 'numerator', 'denominator', 'denominator_S', 'backend'} at p (ratio None
        when the denominator underflows)."""
        self.evaluations += 1
        st, oms = self.denominators(p)
        den = float(np.max(oms))
        den_s = float(np.max(oms[self.support])) if self.support is not None and len(self.support) else None
        out = {"denominator": den, "denominator_S": den_s}
        if den <= 0 or not math.isfinite(den):
            out.update(ratio=None, ratio_S=None, numerator=None, backend="underflow")
            return out
        if den >= self.mp_below or self.X_exact is None:
            Z = mixed_features(self.X, st)
            m, _ = self.margin(Z, self.Y)
            num = self.Gamma - m
            out.update(numerator=num, backend="float64", margin=m)
        else:
            self.mp_evaluations += 1
            smallest = float(np.min(oms))
            if smallest <= 0:
                out.update(ratio=None, ratio_S=None, numerator=None, backend="underflow")
                return out
            digits = int(-math.log10(smallest)) + 1
            dps = max(40, int(digits * 1.8) + 30)
            m, pol = mp_margin(p, self.X_exact, self.Y_exact, self.W_exact, dps)
            if m is None:
                Z = mixed_features(self.X, st)
                m_f, _ = self.margin(Z, self.Y)
                out.update(numerator=self.Gamma - m_f, backend="float64", margin=m_f)
            else:
                G, g_dps = self.gamma_at(dps)
                with mpmath.workdps(dps):
                    num = G - m
                out.update(numerator=float(num), numerator_mp=num, backend=f"mpmath ({dps} digits)",
                           margin=float(m), kkt_ok=bool(pol.ok), digits=min(dps, g_dps))
        num = out.get("numerator_mp", out["numerator"])
        out["ratio"] = float(num / den)
        out["ratio_S"] = float(num / den_s) if den_s else None
        return out


def estimate_nu(evaluator: RatioEvaluator, D: int, directions=(), norms=None, n_random: int = 24,
                seed: int = 0, local_starts: int = 3, local_evals: int = 60) -> dict:
    """nu_hat = min of ratio(p) over samples and local searches.

    Samples: ``n_random`` seeded random unit directions and the given ``directions`` (e.g. the SVM
    directions, each also perturbed), at every norm in ``norms`` (default 0.1 ... 100, geometric).
    Then Nelder-Mead on ratio from the ``local_starts`` worst samples (``local_evals`` evaluations each).
    Returns the minimum, the minimiser, counts, and the same for ratio_S (max over the v-SVM's support
    sequences only)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    norms = list(norms) if norms is not None else [0.1 * 10 ** (k / 2) for k in range(7)]
    dirs = [g / np.linalg.norm(g) for g in rng.standard_normal((n_random, D))]
    for u in directions:
        u = np.asarray(u, dtype=float)
        if np.linalg.norm(u) == 0:
            continue
        u = u / np.linalg.norm(u)
        dirs.append(u)
        for _ in range(2):
            w = u + 0.05 * rng.standard_normal(D)
            dirs.append(w / np.linalg.norm(w))
    samples = []
    skipped = 0
    for u in dirs:
        for R in norms:
            p = u * R
            res = evaluator(p)
            if res["ratio"] is None:
                skipped += 1
                continue
            samples.append((res["ratio"], p, res))
    samples.sort(key=lambda s: s[0])
    best_ratio, best_p, best_res = samples[0] if samples else (None, None, None)
    local = []

    def f(p):
        res = evaluator(p)
        return res["ratio"] if res["ratio"] is not None else float("inf")

    for ratio0, p0, _ in samples[:local_starts]:
        opt = minimize(f, p0, method="Nelder-Mead", options={"maxfev": local_evals, "xatol": 1e-10, "fatol": 1e-14})
        local.append({"start_ratio": ratio0, "ratio": float(opt.fun), "p": opt.x.tolist()})
        if opt.fun < best_ratio:
            best_ratio, best_p = float(opt.fun), np.asarray(opt.x)
            best_res = evaluator(best_p)
    ratios_S = [(s[2]["ratio_S"], s[1]) for s in samples if s[2].get("ratio_S") is not None]
    best_S = min(ratios_S, key=lambda s: s[0]) if ratios_S else (None, None)
    return {"nu_hat": best_ratio, "p_worst": None if best_p is None else np.asarray(best_p).tolist(),
            "at_worst": best_res, "samples": len(samples), "skipped_underflow": skipped,
            "directions": len(dirs), "norms": norms, "local_searches": local,
            "nu_hat_S": best_S[0], "p_worst_S": None if best_S[1] is None else best_S[1].tolist(),
            "evaluations": evaluator.evaluations, "mp_evaluations": evaluator.mp_evaluations,
            "sample_ratios": [[float(np.linalg.norm(s[1])), s[0]] for s in samples]}


def convexity_certificate(X_exact, Y_exact, alpha, basis, max_vertices: int = 4096) -> dict:
    """A proof of Assumption B with an explicit nu, when one exists of this form.

    Weak duality: for any lambda in the simplex and unit v, min_i Y_i v^T z_i <= ||sum_i lambda_i Y_i z_i||, so
    margin(p) + nu max_i (1 - s_{i,alpha_i}) <= g(s) := ||sum_i lambda_i Y_i X_i^T s_i|| + nu max_i (1 - s_{i,alpha_i}).
    g is convex in (s_1, ..., s_n) on the product of simplices, so its maximum is at a vertex: one token tau_i
    per sequence. If lambda lies on the dual face of the v-SVM (||sum_i lambda_i Y_i x_{i,alpha_i}|| = Gamma),
    then g <= Gamma everywhere as soon as

        nu <= nu_cert := Gamma - max_{tau != alpha} ||sum_i lambda_i Y_i x_{i,tau_i}||,

    and Assumption B holds with nu = nu_cert whenever nu_cert > 0. lambda is chosen by cvxpy (minimising the
    largest vertex norm on the face), then made exact: v(alpha) is solved in rationals on the polished basis
    (exact KKT check), mu = ||v||^2 lambda is projected exactly onto {sum_{i in S} mu_i Y_i x_{i,alpha_i} = v},
    and every comparison is done in rationals (squared norms). Returns {'proved', 'nu_cert', 'lambda', ...}.
    """
    import itertools
    from fractions import Fraction

    import sympy

    X = np.asarray(X_exact, dtype=object)
    n, T, d = X.shape
    Yf = [Fraction(y) for y in Y_exact]
    alpha = [int(a) for a in alpha]
    if n * np.log2(T) > 62 or T ** n - 1 > max_vertices:
        return {"proved": False, "reason": f"{T}^{n} - 1 vertices exceed the limit {max_vertices}"}
    rows = [[Yf[i] * Fraction(X[i, alpha[i], c]) for c in range(d)] for i in range(n)]
    # exact v(alpha) on the polished basis, with an exact KKT check
    AB = sympy.Matrix([[sympy.Rational(x.numerator, x.denominator) for x in rows[j]] for j in basis])
    try:
        lamB = (AB * AB.T).inv() * sympy.ones(len(basis), 1)
    except (ValueError, sympy.matrices.common.NonInvertibleMatrixError):
        return {"proved": False, "reason": "the v-SVM basis is singular"}
    vvec = AB.T * lamB
    v = [Fraction(int(sympy.fraction(x)[0]), int(sympy.fraction(x)[1])) for x in vvec]
    slack = [sum(r[c] * v[c] for c in range(d)) - 1 for r in rows]
    if any(x < 0 for x in lamB) or any(s < 0 for s in slack):
        return {"proved": False, "reason": "the exact v-SVM on the polished basis fails its KKT check"}
    S = [i for i in range(n) if slack[i] == 0]
    vv = sum(x * x for x in v)                       # ||v||^2 = 1/Gamma^2
    # every vertex tau != alpha as rows Y_i x_{i,tau_i}
    verts = [tau for tau in itertools.product(range(T), repeat=n) if list(tau) != alpha]
    Xf = np.vectorize(float, otypes=[float])(X)
    Af = np.array([[float(x) for x in r] for r in rows])
    Vf = np.array([[Xf[i, tau[i]] * float(Yf[i]) for i in range(n)] for tau in verts])   # (V, n, d)
    lam = cp.Variable(n)
    t = cp.Variable()
    gamma_f = 1 / math.sqrt(float(vv))
    vhat = np.array([float(x) for x in v]) / math.sqrt(float(vv))
    cons = [lam >= 0, cp.sum(lam) == 1, Af.T @ lam == gamma_f * vhat]
    cons += [cp.norm(Vf[k].T @ lam, 2) <= t for k in range(len(verts))]
    prob = cp.Problem(cp.Minimize(t), cons)
    try:
        prob.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:  # pragma: no cover
        return {"proved": False, "reason": f"solver error: {exc}"}
    if lam.value is None:
        return {"proved": False, "reason": f"no lambda on the dual face ({prob.status})"}
    # exact projection of mu = ||v||^2 lambda onto {sum_{i in S} mu_i rows_i = v}
    mu_f = [Fraction(float(x)).limit_denominator(10 ** 12) * vv for x in lam.value]
    M = sympy.Matrix([[sympy.Rational(rows[i][c].numerator, rows[i][c].denominator) for i in S] for c in range(d)])
    mu_S = sympy.Matrix([sympy.Rational(mu_f[i].numerator, mu_f[i].denominator) for i in S])
    target = sympy.Matrix([sympy.Rational(x.numerator, x.denominator) for x in v])
    mu_S = mu_S + M.pinv() * (target - M * mu_S)
    if M * mu_S != target:
        return {"proved": False, "reason": "exact projection onto the dual face failed"}
    mu = [Fraction(0)] * n
    for k, i in enumerate(S):
        num, den = sympy.fraction(sympy.nsimplify(mu_S[k]))
        mu[i] = Fraction(int(num), int(den))
    if any(m < 0 for m in mu):
        return {"proved": False, "reason": "the exact dual weights are not all non-negative"}
    lam_exact = [m / vv for m in mu]                 # sum = 1, sum lam_i rows_i = v / ||v||^2
    assert sum(lam_exact) == 1
    worst_sq, worst_tau = Fraction(-1), None
    for tau in verts:
        w = [sum(lam_exact[i] * Yf[i] * Fraction(X[i, tau[i], c]) for i in range(n)) for c in range(d)]
        sq = sum(x * x for x in w)
        if sq > worst_sq:
            worst_sq, worst_tau = sq, tau
    gamma_sq = 1 / vv
    with mpmath.workdps(50):
        nu_cert = mpmath.sqrt(to_mpf(gamma_sq)) - mpmath.sqrt(to_mpf(worst_sq))
    return {"proved": worst_sq < gamma_sq, "nu_cert": nu_cert, "lambda": [str(x) for x in lam_exact],
            "worst_vertex": list(worst_tau), "vertices": len(verts), "Gamma_squared": str(gamma_sq),
            "worst_vertex_norm_squared": str(worst_sq)}
