"""Shared computations of the multi-token SVM-equivalence check (cached on the Context, computed once).

* :func:`head_run` -- normalised GD on the trained parameter (p, or W of the self/cross models) with the dataset's
  head, from the dataset's first init, with a checkpoint at the authors' 2,000 steps (numeric.run_gd with a
  numeric.heads.Readout: the stable gradients of DESIGN.md section 3, no second copy of GD).
* :func:`direction_svm` -- theta_dir of given selected sets (numeric.multitoken): solved with cvxpy, polished in
  mpmath from the exact data by eliminating the equalities, certified exactly (symbolic.certify_equality_svm).
* :func:`finite_part` -- theta_fin of an iterate (the minimum-norm solution of its within-set logit
  differences), polished in mpmath and certified exactly (the right-hand sides are the float64 logit differences,
  exact binary rationals).
* :func:`fit_rows` -- the fit of every checkpoint against theta_fin + R theta_dir, theta_dir, and the one-token
  SVM.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from attnsvm import numeric, symbolic
from attnsvm.numeric import multitoken as mt
from attnsvm.numeric.equality_svm import polish_equality_svm, solve_and_polish_equality_svm
from attnsvm.numeric.heads import Readout

AUTHORS_STEPS = 2000     # the authors' run length (normalised GD, step 0.1)


def head_run(ctx):
    """Normalised GD (constant step: the context's step, the dataset's gd.step when given) with the dataset's head
    from its first init, up to ``max_iterations``, checkpoints log-spaced plus the authors' 2,000 steps."""
    if "head_run" not in ctx._w:
        ds, o = ctx.dataset, ctx.options
        ctx._w["head_run"] = numeric.run_gd(
            np.asarray(ds.inits[0], dtype=float).ravel(), ctx.phi, ctx.gamma, ctx.loss, method="normalized",
            step=o["step"], max_iter=o["max_iterations"], time_budget=o["time_budget"],
            readout=Readout(ds.head, ds.X, ds.Y), extra_checkpoints=(AUTHORS_STEPS,))
    return ctx._w["head_run"]


def kernel(ctx) -> numeric.StableAttention:
    ds = ctx.dataset
    return numeric.StableAttention(ctx.phi, ctx.gamma, Readout(ds.head, ds.X, ds.Y))


@dataclass
class DirectionSVM:
    """theta_dir of the selected sets: rows (float and exact), the solver's answer, the polished solution and
    (lazily) its exact certificate."""

    sets: list
    refs: tuple
    rows: mt.EquivalenceRows
    exact: mt.EquivalenceRows
    solution: object
    polished: object

    @property
    def feasible(self) -> bool:
        return bool(self.solution.feasible and self.polished is not None)

    @property
    def theta(self) -> np.ndarray | None:
        return self.polished.theta_float if self.polished is not None else None

    def certificate(self):
        if not hasattr(self, "_cert"):
            guess = list(self.polished.active) if self.polished is not None else []
            self._cert = symbolic.certify_equality_svm(self.exact.ineq, np.ones(len(self.exact.ineq), dtype=object),
                                                      self.exact.eq, np.zeros(len(self.exact.eq), dtype=object),
                                                      guess, polished=self.polished)
        return self._cert

    def evidence(self) -> dict:
        ev = {"selected_sets": [list(O) for O in self.sets], "references": list(self.refs),
              "equalities": [list(p) for p in self.rows.eq_pairs], "inequalities": [list(p) for p in self.rows.ineq_pairs],
              "feasible": self.feasible, "solver_status": self.solution.status}
        if self.polished is not None:
            pol = self.polished
            ev.update(norm=numeric.mp_decimal_strings([pol.norm], 20)[0], kkt_residual=float(pol.kkt_residual),
                      kkt_ok=pol.ok, dps=pol.dps,
                      support=[list(self.rows.ineq_pairs[j]) for j in pol.active])
        cert = self.certificate()
        ev["certificate"] = cert.status
        if cert.infeasible:
            ev["farkas_y"] = {str(j): str(y) for j, y in (cert.farkas or [])}
        if cert.reason:
            ev["certificate_reason"] = cert.reason
        return ev


def direction_svm(ctx, sets, refs) -> DirectionSVM:
    """theta_dir of ``sets`` with reference tokens ``refs`` (cached)."""
    key = ("svmeq", tuple(tuple(O) for O in sets), tuple(int(o) for o in refs))
    if key not in ctx._w:
        rows = mt.equivalence_rows(ctx.phi, sets, refs)
        exact = mt.equivalence_rows(ctx.dataset.features_exact(), sets, refs)
        m, k = len(rows.ineq), len(rows.eq)
        sol, pol = solve_and_polish_equality_svm(rows.ineq, np.ones(m), rows.eq, np.zeros(k), exact.ineq,
                                                 np.ones(m, dtype=object), exact.eq, np.zeros(k, dtype=object),
                                                 dps=ctx.options["dps"])
        ctx._w[key] = DirectionSVM(sets=[tuple(O) for O in sets], refs=key[2], rows=rows, exact=exact, solution=sol,
                                   polished=pol)
    return ctx._w[key]


def finite_part(ctx, theta, svm: DirectionSVM) -> dict:
    """theta_fin of the iterate ``theta`` for the rows of ``svm``: float64 (the projection onto the equality rows),
    polished in mpmath and certified exactly (right-hand sides: the float64 logit differences of the iterate)."""
    theta = np.asarray(theta, dtype=float).ravel()
    fin = mt.finite_part(theta, svm.rows.eq)
    out = {"theta_fin": fin, "norm": float(np.linalg.norm(fin))}
    k = len(svm.rows.eq)
    if k == 0:
        out.update(certificate="exact", note="no equalities: theta_fin = 0")
        return out
    rhs = svm.rows.eq @ theta                      # <theta, Phi_it - Phi_{i,o_i}> = log(s_it / s_{i,o_i})
    rhs_exact = np.array([Fraction(float(x)) for x in rhs], dtype=object)
    pol = polish_equality_svm(np.zeros((0, svm.rows.eq.shape[1])), np.zeros(0), svm.exact.eq, rhs_exact, [],
                              dps=ctx.options["dps"])
    cert = symbolic.certify_equality_svm(np.zeros((0, svm.rows.eq.shape[1]), dtype=object), np.zeros(0, dtype=object),
                                         svm.exact.eq, rhs_exact, [], polished=pol)
    out.update(theta_fin=pol.theta_float, norm=float(pol.norm), kkt_residual=float(pol.kkt_residual),
               certificate=cert.status, float_vs_polished=float(np.linalg.norm(fin - pol.theta_float)),
               log_ratios=[float(x) for x in rhs])
    return out


def fit_rows(ctx, traj, svm: DirectionSVM, one_token_theta, tau: float) -> list:
    """For every checkpoint: iteration, ||theta||, its selected sets, the masked mass (w.r.t. the final sets), and
    the fits (numeric.multitoken.equivalence_fit with the checkpoint's own theta_fin; 1 - corr against the
    one-token SVM)."""
    kern = kernel(ctx)
    rows = []
    for c in traj.checkpoints:
        st = kern.state(c.theta)
        row = {"iteration": c.iteration, "norm": c.norm, "selected_sets": [list(O) for O in mt.selected_sets(st.s, tau)],
               "masked_mass": mt.masked_mass(st.s, svm.sets), "loss": c.loss}
        if c.norm > 0 and svm.feasible:
            fit = mt.equivalence_fit(c.theta, svm.rows.eq, svm.theta)
            row.update(R=fit["R"], one_minus_corr_svmeq=fit["one_minus_corr_svmeq"],
                       one_minus_corr_dir=fit["one_minus_corr_dir"], residual_relative=fit["residual_relative"])
        if c.norm > 0 and one_token_theta is not None:
            row["one_minus_corr_one_token"] = numeric.one_minus_corr(c.theta, one_token_theta)
        rows.append(row)
    return rows
