"""Assumption B of joint (v, p) training: the ratio, its sampled infimum, and the decision of both readings.

With alpha the optimal tokens, v(alpha) = argmin ||v|| s.t. Y_i v^T x_{i,alpha_i} >= 1 and
Gamma = 1/||v(alpha)||, the mixed features z_i(p) = X_i^T s_i(p) have the label margin

    margin(p) = max_{||v|| <= 1} min_i Y_i v^T z_i(p)      (= 1/||v-SVM(z(p))|| when positive)

and Assumption B asks for nu > 0 with margin(p) <= Gamma - nu max_{i in I} (1 - s_{i,alpha_i}(p)) for all p,
that is nu_hat_I = inf_p ratio_I(p) > 0 with

    ratio_I(p) = (Gamma - margin(p)) / max_{i in I} (1 - s_{i,alpha_i}(p)).

Two readings: B[n] (I = every sequence, as the slides state it) and B[S] (I = the support S of the
v-SVM, the reading under which the relaxed p-SVM of Theorem II is not vacuous). B[n] implies B[S].

Evaluation (:class:`RatioEvaluator`): the denominator from the stable tails of numeric.attention; where it is
small, Gamma - margin(p) is a difference of nearly equal numbers, so below ``mp_below`` the margin is
recomputed in mpmath (z_i(p) at high precision, the v-SVM on z(p) polished with numeric.svm.polish).
:func:`estimate_nu` samples it; a sampled infimum is never a proof.

Decision (:func:`decide_assumption_b`): each reading is `holds` only with a certified rational nu
(symbolic.assumption_b.convexity_certificate; for B[n] with S != [n] also domination_certificate), `fails`
only with a certificate (a ray whose exact asymptotics send the ratio to 0, cross-checked in mpmath, or a
point where the margin provably exceeds Gamma), and `inconclusive` otherwise, with nu_hat, the search done
and its budget (counts). Candidates come from numeric.assumption_b_search.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import numpy as np

from attnsvm.symbolic import assumption_b as sab

from . import assumption_b_search as search
from .attention import attention_state
from .joint import mixed_features
from .lazy import cvxpy as cp
from .svm import polish, to_mpf


MARGIN_TOL = 1e-12          # accepted width of the duality bracket [lower, upper], times max(1, max |a_ij|)
MARGIN_GIVE_UP = 1e-10      # a bracket still wider than this after the refinements: the SOCP is solved instead
MARGIN_REFINEMENTS = 3      # rescaled NNLS passes after the first


def _nnls_bracket(A: np.ndarray) -> tuple[float, float, np.ndarray]:
    """One NNLS pass of :func:`hard_margin`: (lower, upper, v)."""
    from scipy.optimize import nnls

    n, d = A.shape
    E = np.empty((d + 1, n))
    E[:d] = A.T
    E[d] = 1.0
    f = np.zeros(d + 1)
    f[d] = 1.0
    u, _ = nnls(E, f, maxiter=50 * (n + d + 1))
    total = float(u.sum())
    if not total > 0:
        return -math.inf, math.inf, np.zeros(d)
    w = (u @ A) / total
    upper = math.sqrt(float(w @ w))
    if upper == 0.0:
        return 0.0, 0.0, np.zeros(d)
    v = w / upper
    return float(np.min(A @ v)), upper, v


def hard_margin(A: np.ndarray) -> tuple[float, float, np.ndarray, int] | None:
    """The hard margin through the origin of the rows a_i of A (n, d),

        margin = max_{||v|| <= 1} min_i <a_i, v> = min_{lambda in simplex} ||sum_i lambda_i a_i||

    (minimax of a bilinear function over two compact convex sets: the distance from 0 to the convex hull of the
    rows, so margin >= 0, and = 0 exactly when 0 is in the hull, attained by v = 0).

    NNLS min_{u >= 0} ||A^T u||^2 + (sum_i u_i - 1)^2 has the minimiser u = lambda* / (1 + margin^2) with lambda*
    the minimising simplex weights, so w = A^T u / sum(u) is the nearest point of the hull. Every simplex lambda
    gives the upper bound ||A^T lambda|| and every unit v the lower bound min_i <a_i, v>: with v = w / ||w|| the
    margin is bracketed by [max(0, min_i <a_i, v>), ||w||], and the answer is accepted when the bracket is at
    most MARGIN_TOL max(1, max |a_ij|) wide. When the margin is tiny against the rows, the NNLS gradients are of
    size margin^2 and its active set can be off: the pass is then repeated on A / ||w|| (margin ~ 1 there; the
    bracket scales back), at most MARGIN_REFINEMENTS times, keeping the narrowest bracket.

    Returns (margin, upper, v, passes): margin the lower end (attained by v, or 0 with v = 0), upper the upper end
    (both rounded); or None when the bracket stays wider than MARGIN_GIVE_UP max(1, max |a_ij|) (the caller solves
    the SOCP then)."""
    A = np.asarray(A, dtype=float)
    scale = max(1.0, float(np.max(np.abs(A)))) if A.size else 1.0
    lo, up, v = _nnls_bracket(A)
    passes = 1
    while up - max(lo, 0.0) > MARGIN_TOL * scale and 0 < up < math.inf and passes <= MARGIN_REFINEMENTS:
        lo2, up2, v2 = _nnls_bracket(A / up)
        passes += 1
        lo2, up2 = lo2 * up, up2 * up
        if not up2 - max(lo2, 0.0) < up - max(lo, 0.0):
            break
        lo, up, v = lo2, up2, v2
    if not up - max(lo, 0.0) <= MARGIN_GIVE_UP * scale:     # (rounded ends may cross by an ulp)
        return None
    if lo <= 0.0:
        return 0.0, up, np.zeros(A.shape[1]), passes
    return lo, up, v, passes


class MarginSolver:
    """margin(Z) = max t s.t. Y_i v^T z_i >= t, ||v|| <= 1 for shape (n, d): :func:`hard_margin` of the rows
    a_i = Y_i z_i (NNLS with a duality bracket of width <= MARGIN_TOL), or, when that bracket stays wide, the SOCP
    itself (cvxpy, Clarabel; compiled on that first need). Counts: ``solves`` and ``socp_solves``."""

    def __init__(self, n: int, d: int):
        self.n, self.d = n, d
        self._socp = None
        self.solves = 0
        self.socp_solves = 0

    def __call__(self, Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        A = np.asarray(Y, dtype=float)[:, None] * np.asarray(Z, dtype=float)
        self.solves += 1
        res = hard_margin(A)
        if res is None:
            return self._solve_socp(A)
        return res[0], res[2]

    def _solve_socp(self, A: np.ndarray) -> tuple[float, np.ndarray]:
        if self._socp is None:
            Ap, v, t = cp.Parameter((self.n, self.d)), cp.Variable(self.d), cp.Variable()
            self._socp = (Ap, v, t, cp.Problem(cp.Maximize(t), [Ap @ v >= t, cp.norm(v, 2) <= 1]))
        Ap, v, t, prob = self._socp
        Ap.value = A
        prob.solve(solver=cp.CLARABEL)
        self.socp_solves += 1
        return float(t.value), np.asarray(v.value, dtype=float)


def one_minus_s_alpha(st, alpha) -> np.ndarray:
    """1 - s_{i,alpha_i}: the stable tail where alpha_i is the dominant token, else 1 - s_{i,alpha_i} directly
    (then s_{i,alpha_i} <= 1/2 and nothing cancels)."""
    alpha = np.asarray(alpha)
    rows = np.arange(len(alpha))
    return np.where(st.dominant == alpha, st.one_minus_mass, 1.0 - st.s[rows, alpha])


_MARGIN_SOLVERS: dict = {}


def mp_margin(p, X_exact, Y_exact, W_exact, dps: int):
    """margin(p) in mpmath: z_i = X_i^T softmax(X_i W p) at ``dps`` digits, then the v-SVM
    min ||v|| s.t. Y_i z_i^T v >= 1 polished from the float solver's active set; margin = 1/||v||.
    Returns (margin, polished) or (None, reason) when the v-SVM on z(p) is infeasible."""
    keys = np.asarray(X_exact, dtype=object).dot(np.asarray(W_exact, dtype=object))
    rows, _ = mp_mixed_rows(p, X_exact, Y_exact, keys, None, dps)
    return mp_margin_of_rows(rows, dps)


def mp_mixed_rows(p, X_exact, Y_exact, keys_exact, alpha, dps: int) -> tuple[list, list | None]:
    """Rows Y_i z_i(p) (mpf, at ``dps`` digits) with logits q_it = <p, k_it> (p: Fractions or floats), and, when
    ``alpha`` is given, 1 - s_{i,alpha_i}(p): the tail sum_{t != alpha_i} e^{q_it - q_i,alpha_i} / (1 + tail) when
    alpha_i has the largest logit (no cancellation), else 1 - s_{i,alpha_i} directly (then s_{i,alpha_i} <= 1/2)."""
    X = np.asarray(X_exact, dtype=object)
    K = np.asarray(keys_exact, dtype=object)
    n, T, d = X.shape
    D = K.shape[2]
    rows, oms = [], ([] if alpha is not None else None)
    with mpmath.workdps(dps):
        pm = [to_mpf(x) for x in p]
        for i in range(n):
            toks = [[to_mpf(x) for x in X[i, t]] for t in range(T)]
            q = [mpmath.fsum(to_mpf(K[i, t, c]) * pm[c] for c in range(D)) for t in range(T)]
            qmax = max(q)
            e = [mpmath.exp(x - qmax) for x in q]
            zs = mpmath.fsum(e)
            z = [mpmath.fsum(e[t] * toks[t][c] for t in range(T)) / zs for c in range(d)]
            rows.append([to_mpf(Y_exact[i]) * zc for zc in z])
            if alpha is not None:
                a = int(alpha[i])
                if q[a] == qmax:
                    tail = mpmath.fsum(mpmath.exp(q[t] - q[a]) for t in range(T) if t != a)
                    oms.append(tail / (1 + tail))
                else:
                    oms.append(1 - e[a] / zs)
    return rows, oms


def mp_margin_of_rows(rows: list, dps: int):
    """margin of the rows a_i (mpf): the v-SVM min ||v|| s.t. <a_i, v> >= 1 solved in float64 for its active
    set, then polished at ``dps`` digits; margin = 1/||v||. Returns (margin, polished) or (None, reason)."""
    n, d = len(rows), len(rows[0])
    A_float = np.array([[float(x) for x in row] for row in rows])
    # the active set from the float hard margin (one solver per shape): rows with <a_i, w> = t
    if (n, d) not in _MARGIN_SOLVERS:
        _MARGIN_SOLVERS[(n, d)] = MarginSolver(n, d)
    t, w = _MARGIN_SOLVERS[(n, d)](A_float, np.ones(n))
    if not t > 0:
        return None, f"v-SVM on the mixed features infeasible (margin {t:.3g} <= 0)"
    slack = A_float @ w - t
    near = np.nonzero(slack <= 1e-5 * max(1.0, abs(t)))[0]
    guess = [int(j) for j in near[np.argsort(slack[near])]]
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


def mp_ratio(p, X_exact, Y_exact, keys_exact, alpha, gamma_sq, reading, dps: int) -> dict:
    """ratio_I(p) = (Gamma - margin(p)) / max_{i in I} (1 - s_{i,alpha_i}(p)) entirely in mpmath at ``dps`` digits
    (no float64 tail that could underflow): Gamma = sqrt(Gamma^2) from the exact Gamma^2, the margin from
    :func:`mp_margin_of_rows` (0 when the v-SVM on z(p) is infeasible: then only v = 0 reaches min >= 0).
    Returns {'ratio', 'numerator', 'denominator' (mpf), 'kkt_ok', 'dps'}."""
    rows, oms = mp_mixed_rows(p, X_exact, Y_exact, keys_exact, alpha, dps)
    m, pol = mp_margin_of_rows(rows, dps)
    with mpmath.workdps(dps):
        margin = mpmath.mpf(0) if m is None else m
        num = mpmath.sqrt(to_mpf(gamma_sq)) - margin
        den = max(oms[i] for i in reading)
        return {"ratio": num / den, "numerator": num, "denominator": den,
                "kkt_ok": True if m is None else bool(pol.ok), "dps": dps}


class RatioEvaluator:
    """ratio(p) of the module docstring for one dataset, float64 above ``mp_below``, mpmath below."""

    def __init__(self, X, Y, phi, alpha, Gamma, X_exact=None, Y_exact=None, W_exact=None,
                 Gamma_mp=None, support=None, mp_below: float = 1e-3, v_rows_exact=None, v_active=None,
                 gamma_digits: int = 50, gamma_sq=None):
        self.X, self.Y, self.phi = X, Y, phi
        self.gamma_sq = gamma_sq
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
        """(Gamma, digits): sqrt(gamma_sq) at ``dps`` digits when the exact Gamma^2 was given; else Gamma =
        1/||v(alpha)|| re-polished at ``dps`` digits from the exact v-SVM rows and its active set when they were
        given (cached), else the given Gamma_mp, trusted to ``gamma_digits``."""
        if self.gamma_sq is not None:
            with mpmath.workdps(dps):
                return mpmath.sqrt(to_mpf(self.gamma_sq)), dps
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


# -- the decision of both readings -------------------------------------------------------------------------

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


@dataclass(frozen=True)
class Budget:
    """Counts that bound the decision (never seconds): token choices of the convexity certificate, LPs and
    roundings of the ray search, offsets per tie ray, mpmath points on an accepted ray, candidate points,
    and the sampling of :func:`estimate_nu` (random directions, local searches and their evaluations)."""

    max_vertices: int = 4096
    ray_lps: int = 200
    roundings: int = 6
    offsets: int = 4
    cross_check_points: int = 5
    points: int = 6
    n_random: int = 24
    local_starts: int = 3
    local_evals: int = 60

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ReadingResult:
    """The decision of one reading: name ("B[n]" or "B[S]"), I, verdict, one-line summary, the certified nu
    (a Fraction, holds only), the certificate's evidence, its cross-check, the search done, the sampled
    nu_hat and where it was found."""

    name: str
    reading: list
    verdict: str
    summary: str
    nu: Fraction | None = None
    certificate: dict | None = None
    cross_check: dict | None = None
    search: dict = field(default_factory=dict)
    nu_hat: float | None = None
    p_worst: list | None = None

    def evidence(self) -> dict:
        return {"reading": self.name, "I": list(self.reading), "verdict": self.verdict, "summary": self.summary,
                "nu": None if self.nu is None else str(self.nu),
                "nu_float": None if self.nu is None else float(self.nu),
                "certificate": self.certificate, "cross_check": self.cross_check, "search": self.search,
                "nu_hat": self.nu_hat, "p_worst": self.p_worst}


@dataclass
class AssumptionBDecision:
    """Both readings, the exact v-SVM they rest on, the sampled estimate and the budget used."""

    vsvm: sab.ExactVSVM | None
    readings: dict
    estimate: dict | None
    budget: Budget

    @property
    def b_n(self) -> ReadingResult:
        return self.readings["B[n]"]

    @property
    def b_s(self) -> ReadingResult:
        return self.readings["B[S]"]


def _fmt(x) -> str:
    return f"{float(x):.4g}"


def _ray_text(cert: sab.RayCertificate) -> str:
    u = "(" + ", ".join(str(x) for x in cert.u) + ")"
    p0 = "" if not any(cert.p0) else " + (" + ", ".join(str(x) for x in cert.p0) + ")"
    if cert.tilt is not None:
        p0 += (f" (margin bounded with v + e^(-{cert.tilt['rho_eta']} a) g, g = (" + ", ".join(cert.tilt["g"]) +
               "): a support sequence without dual weight)")
    if cert.rate_numerator is None:
        return (f"ray p = a {u}{p0}: Gamma - margin is eventually <= 0 while max_(i in I) (1 - s_i,alpha_i) "
                f">= c e^(-{cert.rate_denominator} a) (exact logit gaps)")
    return (f"ray p = a {u}{p0}: Gamma - margin <= C e^(-{cert.rate_numerator} a), max_(i in I) (1 - s_i,alpha_i) "
            f">= c e^(-{cert.rate_denominator} a), ratio -> 0 at rate {cert.rate} (exact logit gaps)")


class _Decider:
    """Shared state of one decision: exact data, the exact v-SVM, the evaluator and the samples."""

    def __init__(self, X_exact, Y_exact, W_exact, alpha, keys_exact, v_active_guess, directions, budget, seed):
        self.X_exact = sab.fraction_array(X_exact)
        self.Y_exact = np.array([sab.as_fraction(y) for y in np.asarray(Y_exact, dtype=object)], dtype=object)
        self.W_exact = sab.fraction_array(W_exact)
        self.keys = sab.fraction_array(keys_exact if keys_exact is not None else self.X_exact.dot(self.W_exact))
        self.alpha = [int(a) for a in alpha]
        self.budget = budget
        self.n, self.T, _ = self.X_exact.shape
        self.vs = sab.exact_v_svm(self.X_exact, self.Y_exact, self.alpha, v_active_guess)
        self.estimate = None
        self.evaluator = None
        self.directions, self.seed = directions, seed
        self._points = None
        self._cache: dict = {}
        if self.vs is None:
            return
        to_f = np.vectorize(float, otypes=[float])
        X, Y, phi = to_f(self.X_exact), to_f(self.Y_exact), to_f(self.keys)
        gamma = math.sqrt(float(self.vs.gamma_sq))
        self.evaluator = RatioEvaluator(X, Y, phi, self.alpha, gamma, X_exact=self.X_exact, Y_exact=self.Y_exact,
                                        W_exact=self.W_exact, support=self.vs.support, gamma_sq=self.vs.gamma_sq)

    def sample(self, local: bool) -> None:
        """The sampled estimate (numeric.assumption_b.estimate_nu); with ``local`` also its local searches."""
        b = self.budget
        self.estimate = estimate_nu(self.evaluator, self.keys.shape[2], directions=self.directions, seed=self.seed,
                                    n_random=b.n_random, local_starts=b.local_starts if local else 0,
                                    local_evals=b.local_evals)
        self._points = None

    def cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # -- certificates --------------------------------------------------------------------------------
    def convexity(self, I) -> sab.ConvexityCertificate | None:
        return self.cached(("convexity", tuple(I)), lambda: self._convexity(I))

    def _convexity(self, I) -> sab.ConvexityCertificate | None:
        best = None
        for lam in search.dual_point_candidates(self.X_exact, self.Y_exact, self.vs, I, self.budget.max_vertices):
            cert = sab.convexity_certificate(self.X_exact, self.Y_exact, self.vs, I, lam, self.budget.max_vertices)
            if best is None or (cert.proved and (not best.proved or cert.nu > best.nu)):
                best = cert
        return best

    def rays(self, I) -> search.RaySearch:
        return self.cached(("rays", tuple(I)), lambda: self._rays(I))

    def _rays(self, I) -> search.RaySearch:
        b = self.budget
        rows = np.array([[self.Y_exact[i] * x for x in self.X_exact[i, self.alpha[i]]] for i in range(self.n)],
                        dtype=object)
        return search.find_rays(self.keys, self.vs, I, max_lps=b.ray_lps, roundings=b.roundings, offsets=b.offsets,
                                rows_exact=rows)

    def points(self) -> tuple:
        if self._points is None:
            cands = [np.zeros(self.keys.shape[2])]
            if self.estimate is not None:
                for key in ("p_worst", "p_worst_S"):
                    if self.estimate.get(key) is not None:
                        cands.append(np.asarray(self.estimate[key], dtype=float))

            def margin_at(p):
                st, _ = self.evaluator.denominators(p)
                return self.evaluator.margin(mixed_features(self.evaluator.X, st), self.evaluator.Y)

            self._points = search.find_point_certificates(self.keys, self.X_exact, self.Y_exact, self.vs, margin_at,
                                                          cands, self.budget.points)
        return self._points

    def sampled(self, name) -> tuple:
        if self.estimate is None:
            return None, None
        if name == "B[S]":
            return self.estimate.get("nu_hat_S"), self.estimate.get("p_worst_S")
        return self.estimate.get("nu_hat"), self.estimate.get("p_worst")

    def recheck(self, p, name) -> float | None:
        """ratio_I at p with the margin forced into mpmath."""
        old = self.evaluator.mp_below
        self.evaluator.mp_below = 2.0
        try:
            res = self.evaluator(np.asarray(p, dtype=float))
        finally:
            self.evaluator.mp_below = old
        return res.get("ratio_S" if name == "B[S]" else "ratio")

    # -- conclusions ---------------------------------------------------------------------------------
    def conclude(self, name, I, holds, holds_text, nu, fails, search_info) -> ReadingResult:
        """Combine a holds-certificate (evidence dict or None, with nu) and a fails-certificate (RayCertificate,
        PointCertificate or None) with the cross-checks into the reading's verdict."""
        nu_hat, p_worst = self.sampled(name)
        base = dict(name=name, reading=list(I), search=search_info, nu_hat=nu_hat, p_worst=p_worst)
        if holds is not None and fails is not None:
            return ReadingResult(verdict=INCONCLUSIVE, certificate={"holds": holds, "fails": fails.evidence()},
                                 summary="a proof and a disproof were both accepted: a defect of the certificates",
                                 **base)
        if holds is not None:
            agree = ""
            if nu_hat is not None and nu_hat < float(nu) * (1 - 1e-9) - 1e-12:
                again = self.recheck(p_worst, name)
                base["nu_hat"] = again
                if again is None or again < float(nu) * (1 - 1e-9) - 1e-12:
                    return ReadingResult(verdict=INCONCLUSIVE, certificate=holds, nu=nu,
                                         summary=f"the certificate gives nu = {_fmt(nu)} but a sampled ratio is "
                                                 f"{again} (mpmath): they disagree", **base)
            if base["nu_hat"] is not None:
                agree = f"; sampled nu_hat = {_fmt(base['nu_hat'])} >= nu"
            return ReadingResult(verdict=HOLDS, certificate=holds, nu=nu,
                                 summary=f"nu = {_fmt(nu)} ({holds_text}){agree}", **base)
        if fails is not None:
            if isinstance(fails, sab.RayCertificate):
                def ratio_at(p, dps):
                    return mp_ratio(p, self.X_exact, self.Y_exact, self.keys, self.alpha, self.vs.gamma_sq, I, dps)

                cross = self.cached(("cross", name, tuple(fails.u), tuple(fails.p0)), lambda: search.ray_cross_check(
                    ratio_at, self.keys, fails, self.budget.cross_check_points))
                last = cross["points"][-1]
                seen = (f"mpmath: ratio {last['ratio']:.3g} at a = {last['a']:.4g}" +
                        (f" (log-slope {cross['observed_log_slope']:.3g})" if cross["observed_log_slope"] is not None
                         else ""))
                if not cross["consistent"]:
                    return ReadingResult(verdict=INCONCLUSIVE, certificate=fails.evidence(), cross_check=cross,
                                         summary=f"{_ray_text(fails)}; but the mpmath evaluation along the ray does "
                                                 f"not show it ({seen}): a defect", **base)
                return ReadingResult(verdict=FAILS, certificate=fails.evidence(), cross_check=cross,
                                     summary=f"{_ray_text(fails)}; {seen}", **base)
            ratio = self.recheck([float(x) for x in fails.p], name)
            cross = {"ratio_mpmath": ratio, "consistent": ratio is not None and ratio < 0}
            if not cross["consistent"]:
                return ReadingResult(verdict=INCONCLUSIVE, certificate=fails.evidence(), cross_check=cross,
                                     summary="a point certificate is not confirmed by mpmath: a defect", **base)
            return ReadingResult(verdict=FAILS, certificate=fails.evidence(), cross_check=cross,
                                 summary=f"margin(p) > Gamma at p = {[_fmt(x) for x in fails.p]} (interval "
                                         f"arithmetic), ratio {ratio:.3g} < 0", **base)
        sampled = (f"sampled nu_hat = {nu_hat:.3g} at p = {np.round(p_worst, 4).tolist()} from "
                   f"{self.estimate['samples']} samples and {len(self.estimate['local_searches'])} local searches"
                   if nu_hat is not None else "no sampling")
        return ReadingResult(verdict=INCONCLUSIVE, summary=f"no certificate within the budget; {sampled}", **base)

    def decide_s(self) -> ReadingResult:
        S = list(self.vs.support)
        conv = self.convexity(S)
        rays = self.rays(S)
        point, tried = self.points()
        info = {"convexity": conv.evidence() if conv is not None else None, "rays": rays.summary(),
                "points_tried": tried}
        holds = conv.evidence() if conv is not None and conv.proved else None
        fails = rays.accepted[0] if rays.accepted else point
        text = f"convexity certificate over the {conv.vertices} token choices of S, exact" if holds else ""
        return self.conclude("B[S]", S, holds, text, conv.nu if holds else None, fails, info)

    def decide_n(self, b_s: ReadingResult) -> ReadingResult:
        everyone = list(range(self.n))
        S = list(self.vs.support)
        if S == everyone:
            out = ReadingResult(**{**b_s.__dict__, "name": "B[n]"})
            out.search = {**b_s.search, "note": "S = [n]: the two readings coincide"}
            return out
        conv = self.convexity(everyone)
        gaps = sab.gap_vectors(self.keys, self.alpha)
        combos, lps = search.domination_combinations(np.vectorize(float, otypes=[float])(self.keys), self.alpha, S,
                                                     gaps)
        dom = sab.domination_certificate(self.keys, self.alpha, S, combos)
        rays = self.rays(everyone)
        point, tried = self.points()
        fails = rays.accepted[0] if rays.accepted else point
        if fails is None and b_s.verdict == FAILS and b_s.certificate.get("kind") == "ray":
            # B[n] implies B[S]: the ray that disproves B[S] disproves B[n]; re-checked for I = [n]
            again = sab.ray_certificate(self.keys, self.vs.scores, self.alpha, everyone,
                                        [Fraction(x) for x in b_s.certificate["u"]],
                                        [Fraction(x) for x in b_s.certificate["p0"]])
            fails = again if again.accepted else None
        info = {"convexity": conv.evidence() if conv is not None else None, "domination": dom.evidence(),
                "domination_lps": lps, "rays": rays.summary(), "points_tried": tried}
        holds, nu, text = None, None, ""
        if dom.proved and b_s.verdict == HOLDS:
            nu = b_s.nu / dom.constant
            holds = {"kind": "B[S] and domination", "nu_S": str(b_s.nu), "constant": dom.constant,
                     "B[S]": b_s.certificate, "domination": dom.evidence()}
            text = (f"B[S] with nu_S = {_fmt(b_s.nu)} and max_i (1 - s_i,alpha_i) <= {dom.constant} max_(i in S) "
                    f"(1 - s_i,alpha_i) for every p: each non-support logit gap a combination of support gaps with "
                    f"weights >= 0 summing to >= 1, exact")
        return self.conclude("B[n]", everyone, holds, text, nu, fails, info)


def decide_assumption_b(X_exact, Y_exact, W_exact, alpha, *, keys_exact=None, v_active_guess=(), directions=(),
                        budget: Budget | None = None, sample: bool = True, seed: int = 0) -> AssumptionBDecision:
    """Decide B[S] and B[n] for the prompt model (keys k_it = W^T x_it unless ``keys_exact`` is given).

    B[S]: `holds` with the convexity certificate's rational nu; `fails` with an accepted ray or point
    certificate; else `inconclusive`. B[n]: the same as B[S] when S = [n]; else `holds` with nu_S / C when B[S]
    holds and the domination certificate proves max_i (1 - s_{i,alpha_i}) <= C max_{i in S} (1 - s_{i,alpha_i})
    (the convexity certificate alone cannot prove B[n] then: see its docstring); `fails` with a ray or a point
    (or B[S]'s ray, re-checked for I = [n], since B[n] implies B[S]). A holds-certificate is cross-checked
    against the sampled nu_hat (re-evaluated in mpmath when lower), a ray against the ratio evaluated in
    mpmath along it; a disagreement, or a proof and a disproof together, give `inconclusive` (a defect).
    ``directions``: extra sampling directions (e.g. the p-SVM solutions); ``sample=False`` skips sampling
    (the certificates do not need it; the cross-check against nu_hat and the inconclusive nu_hat do). The
    local searches of the sampling run only when a reading is left inconclusive by the certificates."""
    budget = budget or Budget()
    dec = _Decider(X_exact, Y_exact, W_exact, alpha, keys_exact, v_active_guess, directions, budget, seed)
    if dec.vs is None:
        why = "the v-SVM of the optimal tokens could not be certified in exact arithmetic"
        n = dec.n
        res = {name: ReadingResult(name=name, reading=[], verdict=INCONCLUSIVE, summary=why)
               for name in ("B[n]", "B[S]")}
        res["B[n]"].reading = list(range(n))
        return AssumptionBDecision(vsvm=None, readings=res, estimate=None, budget=budget)
    if sample:
        dec.sample(local=False)
    b_s = dec.decide_s()
    b_n = dec.decide_n(b_s)
    if sample and budget.local_starts > 0 and INCONCLUSIVE in (b_s.verdict, b_n.verdict):
        dec.sample(local=True)              # the local searches only serve an undecided reading's nu_hat
        b_s = dec.decide_s()
        b_n = dec.decide_n(b_s)
    return AssumptionBDecision(vsvm=dec.vs, readings={"B[n]": b_n, "B[S]": b_s}, estimate=dec.estimate,
                               budget=budget)
