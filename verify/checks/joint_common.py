"""What the joint-training checks share, computed once per Context (cached on it).

* ``applicability(ctx)``: None, or why the joint checks do not apply (train "p", or a loss other than
  logistic / exponential, for which the joint ERM has no margin-maximising limit).
* ``v_svm(ctx)``: the v-SVM  min ||v|| s.t. Y_i v^T x_{i,alpha_i} >= 1  (numeric.solve_svm, then the KKT system
  polished in mpmath from the exact data), its support set S (sequences whose constraint is tight) and
  Gamma = 1/||v(alpha)||.
* ``relaxed_margins(ctx)``: b_i = 1 for i in S, 0 otherwise (the relaxed p-SVM's margins).
* ``p_path`` / ``joint_path`` / ``assumption_b``: the regularisation paths and Assumption B decided under
  both readings (numeric.regpath, numeric.assumption_b).
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

from attnsvm import numeric
from attnsvm.numeric import assumption_b as nb
from attnsvm.numeric import joint as nj
from attnsvm.numeric import regpath as rp

from .optimal_tokens import optimal_tokens

PATH_RADII = rp.geometric_radii(0.1, 1e4, 2)   # 0.1 ... 10^4, two radii per decade
JOINT_RATIO = 1.0                              # r = JOINT_RATIO * R on the joint path
SEED = 0
PATH_RANDOM, PATH_ITERATIONS = 3, 400          # random starts and projected-gradient iterations per radius
PATH_MAX_WORK = 5e8                            # starts x iterations x n T D per radius: less search on large data


def path_budget(n: int, T: int, D: int, fixed_starts: int) -> tuple[int, int]:
    """(random starts, iterations) per radius of the p path: PATH_RANDOM and PATH_ITERATIONS while
    (fixed_starts + random) x iterations x n T D <= PATH_MAX_WORK; beyond, fewer random starts first, then fewer
    iterations (at least 20).

    >>> path_budget(6, 8, 10, 2), path_budget(100, 32, 4096, 2)
    ((3, 400), (0, 20))
    """
    size = n * T * D
    for n_random in range(PATH_RANDOM, -1, -1):
        if (fixed_starts + n_random) * PATH_ITERATIONS * size <= PATH_MAX_WORK:
            return n_random, PATH_ITERATIONS
    return 0, max(20, int(PATH_MAX_WORK // (max(fixed_starts, 1) * size)))


def _cache(ctx) -> dict:
    if not hasattr(ctx, "_joint_cache"):
        ctx._joint_cache = {}
    return ctx._joint_cache


def applicability(ctx) -> str | None:
    """None when the joint checks apply, else the reason they do not."""
    if ctx.dataset.train != "vp":
        return 'the dataset trains p alone (train = "p"); joint (v, p) claims do not apply'
    if ctx.loss.name not in nj.JOINT_LOSSES:
        return f"joint training needs a logistic or exponential loss, not {ctx.loss.name}"
    return None


@dataclass
class VSVMRecord:
    """The v-SVM of the optimal tokens: solver answer, polished KKT solution, support set S, Gamma."""

    alpha: list
    A: np.ndarray
    solution: numeric.SVMSolution
    polished: numeric.PolishedSVM | None

    @property
    def feasible(self) -> bool:
        return self.solution.feasible

    @property
    def v_mm(self) -> np.ndarray | None:
        return self.polished.theta_float if self.polished is not None else self.solution.theta

    @property
    def support(self) -> list:
        """S: the sequences i whose constraint Y_i v^T x_{i,alpha_i} >= 1 is tight."""
        return sorted(int(j) for j in self.polished.active) if self.polished is not None else []

    @property
    def gamma_mp(self):
        with mpmath.workdps(self.polished.dps):
            return 1 / self.polished.norm

    def evidence(self) -> dict:
        ev = {"alpha": self.alpha, "feasible": self.feasible, "solver_status": self.solution.status}
        if self.polished is not None:
            pol = self.polished
            ev.update({"v_mm": numeric.mp_decimal_strings(pol.theta, 40),
                       "v_mm_norm": numeric.mp_decimal_strings([pol.norm], 40)[0],
                       "Gamma": numeric.mp_decimal_strings([self.gamma_mp], 40)[0],
                       "support": self.support,
                       "multipliers": numeric.mp_decimal_strings(pol.lam, 20),
                       "kkt_residual": float(pol.kkt_residual), "kkt_ok": pol.ok, "dps": pol.dps,
                       "solver_norm_error": float(abs(self.solution.norm - float(pol.norm)))})
        return ev


def v_svm(ctx, selection=None) -> VSVMRecord:
    """The v-SVM of ``selection`` (default: the optimal tokens alpha of the dataset's v), cached."""
    c = _cache(ctx)
    if selection is None:
        selection, _ = optimal_tokens(ctx.dataset)
    key = ("v_svm", tuple(int(a) for a in selection))
    if key not in c:
        ds = ctx.dataset
        sel = list(key[1])
        A = nj.v_svm_rows(ds.X, ds.Y, sel)
        sol = numeric.solve_svm(A, np.ones(ds.n))
        pol = None
        if sol.feasible:
            A_exact = nj.v_svm_rows(ds.X_exact, ds.Y_exact, sel)
            guess = numeric.active_set_guess(sol, A, np.ones(ds.n))
            pol = numeric.polish(A_exact, np.ones(ds.n, dtype=object), guess, dps=ctx.options["dps"])
        c[key] = VSVMRecord(alpha=sel, A=A, solution=sol, polished=pol)
    return c[key]


def relaxed_margins(ctx, selection=None) -> tuple:
    """b_i = 1 for i in S (support of the v-SVM of ``selection``), else 0."""
    rec = v_svm(ctx, selection)
    S = set(rec.support)
    return tuple(1 if i in S else 0 for i in range(ctx.dataset.n))


def unit_list(x) -> list:
    """x / ||x|| as a plain list (x itself when it is 0)."""
    x = np.asarray(x, dtype=float)
    nx = np.linalg.norm(x)
    return (x / nx).tolist() if nx > 0 else x.tolist()


def p_path(ctx) -> list:
    """p_R on PATH_RADII with v fixed at the dataset's v (starts: previous, p_mm of alpha, 3 random)."""
    c = _cache(ctx)
    if "p_path" not in c:
        alpha, _ = optimal_tokens(ctx.dataset)
        rec = ctx.svm(alpha)
        dirs = [rec.theta] if rec.feasible else []
        n_random, iterations = path_budget(*ctx.phi.shape, fixed_starts=1 + len(dirs))
        c["p_path_budget"] = {"random_starts": n_random, "iterations": iterations,
                              "scaled": (n_random, iterations) != (PATH_RANDOM, PATH_ITERATIONS)}
        c["p_path"] = rp.p_path(ctx.phi, ctx.gamma, ctx.loss, PATH_RADII, directions=dirs, n_random=n_random,
                                seed=SEED, max_iter=iterations)
    return c["p_path"]


def joint_path(ctx) -> list:
    """(v_r, p_R) on PATH_RADII with r = JOINT_RATIO * R; starts: previous, (v_mm, relaxed p-SVM),
    (v_mm, plain p-SVM), 2 random pairs."""
    c = _cache(ctx)
    if "joint_path" not in c:
        alpha, _ = optimal_tokens(ctx.dataset)
        vrec = v_svm(ctx)
        starts = []
        for margins in (relaxed_margins(ctx), None):
            rec = ctx.svm(alpha, margins)
            if rec.feasible and vrec.feasible:
                starts.append((vrec.v_mm, rec.theta))
        ds = ctx.dataset
        c["joint_path"] = rp.joint_path(ds.X, ds.Y, ctx.phi, ctx.loss, PATH_RADII, ratio=JOINT_RATIO,
                                        starts=starts, n_random=2, seed=SEED)
    return c["joint_path"]


def assumption_b(ctx):
    """Assumption B decided under both readings (numeric.assumption_b.decide_assumption_b), cached: exact
    v-SVM, certificates, and sampling seeded with the relaxed and plain p-SVM directions."""
    c = _cache(ctx)
    if "assumption_b" not in c:
        ds = ctx.dataset
        vrec = v_svm(ctx)
        alpha = vrec.alpha
        dirs = []
        for margins in (relaxed_margins(ctx), None):
            rec = ctx.svm(alpha, margins)
            if rec.feasible:
                dirs.append(rec.theta)
        guess = list(vrec.polished.basis) + list(vrec.polished.active) if vrec.polished is not None else []
        c["assumption_b"] = nb.decide_assumption_b(ds.X_exact, ds.Y_exact, ds.W_exact, alpha,
                                                   keys_exact=ds.features_exact(), v_active_guess=guess,
                                                   directions=dirs, seed=SEED)
    return c["assumption_b"]
