"""Check `assumption-B`: the label margin of the mixed features is at most Gamma - nu max_i (1 - s_{i,alpha_i}).

    nu_hat = inf_p (Gamma - margin(p)) / max_i (1 - s_{i,alpha_i}(p)),   Gamma = 1/||v(alpha)||,
    margin(p) = max_{||v|| <= 1} min_i Y_i v^T X_i^T s_i(p)

Estimated by sampling p (seeded random directions and the relaxed and plain p-SVM directions, each also
perturbed, at norms 0.1 ... 100) and Nelder-Mead from the worst samples (numeric.assumption_b). Where the
denominator is below 1e-3 the margin is recomputed in mpmath (mixed features at high precision, v-SVM
polished), since Gamma - margin(p) is then a difference of nearly equal numbers.

A proof is attempted first (numeric.assumption_b.convexity_certificate): by weak duality
margin(p) <= ||sum_i lambda_i Y_i X_i^T s_i|| for lambda on the v-SVM's dual face, and the bound plus
nu max_i (1 - s_{i,alpha_i}) is convex in the attention vectors, so checking the T^n token choices in exact
rational arithmetic proves Assumption B with nu = nu_cert when nu_cert > 0.

Verdict: `holds` when the certificate proves it (and the sampled nu_hat does not contradict it);
`fails` only when ratio(p) <= 0 at a p re-evaluated in mpmath with a certified (polished) v-SVM
(a proof: no nu > 0 can work). Otherwise `inconclusive`: nu_hat > 0 from samples is not a proof that
the infimum is positive. The same estimate with the maximum over the support sequences S only
(nu_hat_S) is reported beside it.
"""
from __future__ import annotations

import mpmath
import numpy as np

from attnsvm.numeric import assumption_b as nb
from attnsvm.numeric import joint as nj

from ..claims import STATEMENTS
from ..result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from . import joint_common as jc

ROLE = "premise"
ID = "assumption-B"
STATEMENT = STATEMENTS["P1-B"]
CLAIM = ("There is nu > 0 such that for every p the v-SVM margin on the mixed features X_i^T s_i(p) is at most "
         "Gamma - nu max_i (1 - s_{i,alpha_i}(p)).")


def _result(*args):
    return CheckResult(*args, role=ROLE, statement=STATEMENT.to_dict())


def verify_counterexample(ctx, p) -> dict:
    """ratio(p) re-evaluated with the margin in mpmath (forced), with its certificate."""
    ds = ctx.dataset
    vrec = jc.v_svm(ctx)
    ev = nb.RatioEvaluator(ds.X, ds.Y, ctx.phi, vrec.alpha, float(vrec.gamma_mp), X_exact=ds.X_exact,
                           Y_exact=ds.Y_exact, W_exact=ds.W_exact, Gamma_mp=vrec.gamma_mp,
                               v_rows_exact=nj.v_svm_rows(ds.X_exact, ds.Y_exact, vrec.alpha),
                               v_active=vrec.polished.active, gamma_digits=vrec.polished.dps,
                           support=vrec.support, mp_below=2.0)
    res = ev(np.asarray(p, dtype=float))
    out = {k: v for k, v in res.items() if k != "numerator_mp"}
    num = res.get("numerator_mp")
    if num is not None:
        digits = int(res["digits"])          # the precision both Gamma and the margin were computed to
        with mpmath.workdps(max(digits, 15)):
            tol = mpmath.mpf(10) ** (-(digits // 2))
            out["numerator_mp"] = mpmath.nstr(num, 30)
            out["proof"] = bool(res.get("kkt_ok")) and digits > 0 and num < -tol
            out["tolerance"] = mpmath.nstr(tol, 5)
    else:
        out["proof"] = False
    return out


def run(ctx) -> CheckResult:
    why = jc.applicability(ctx)
    if why:
        return _result(ID, NOT_APPLICABLE, why, CLAIM, {"train": ctx.dataset.train})
    vrec = jc.v_svm(ctx)
    if not vrec.feasible or vrec.polished is None or not vrec.polished.ok:
        return _result(ID, NOT_APPLICABLE, "no certified v-SVM: Gamma is undefined", CLAIM, {})
    est = jc.assumption_b(ctx)
    ev = dict(est)
    at = dict(ev.pop("at_worst") or {})
    if "numerator_mp" in at:
        at["numerator_mp"] = mpmath.nstr(at["numerator_mp"], 30)
    ev["at_worst"] = at
    ev["Gamma"] = float(vrec.gamma_mp)
    ev["support"] = vrec.support
    cert = nb.convexity_certificate(ctx.dataset.X_exact, ctx.dataset.Y_exact, vrec.alpha, vrec.polished.basis)
    ev["certificate"] = {k: (mpmath.nstr(v, 20) if isinstance(v, mpmath.mpf) else v) for k, v in cert.items()}
    proved = bool(cert.get("proved"))
    nu = est["nu_hat"]
    if nu is None and not proved:
        return _result(ID, INCONCLUSIVE, "no sample gave a finite ratio", CLAIM, ev)
    unproven = ""
    nu_cert = float(cert["nu_cert"]) if proved else None
    if nu is not None and (nu <= 0 or (proved and nu < nu_cert * (1 - 1e-9) - 1e-12)):
        # a float64 value that matters: re-evaluate it with the margin in mpmath before using it
        check = verify_counterexample(ctx, est["p_worst"])
        ev["counterexample"] = check
        if check["proof"] and not proved:
            return _result(ID, FAILS, f"ratio(p) = {check['ratio']:.3g} <= 0 at p = "
                               f"{np.round(est['p_worst'], 6).tolist()} (margin recomputed in mpmath, v-SVM "
                               "certified): no nu > 0 works", CLAIM, ev)
        if nu <= 0:
            unproven = (f"; float64 gave ratio {nu:.3g} <= 0 at p = {np.round(est['p_worst'], 4).tolist()} but the "
                        f"mpmath re-evaluation gives {check['ratio']:.3g}: not a counterexample")
        if check["ratio"] is not None:
            ev["nu_hat_float"], ev["nu_hat"] = nu, check["ratio"]
            nu = check["ratio"]
    if proved:
        if nu is not None and nu < nu_cert * (1 - 1e-9) - 1e-12:
            return _result(ID, INCONCLUSIVE, f"the convexity certificate gives nu >= {nu_cert:.6g} but a sampled "
                               f"ratio is {nu:.6g} (re-evaluated in mpmath): the two disagree", CLAIM, ev)
        return _result(ID, HOLDS, f"proved with nu = {nu_cert:.6g}: convexity certificate over the {cert['vertices']} "
                           f"token choices tau != alpha, exact rational arithmetic (lambda on the v-SVM dual face); "
                           + (f"sampling agrees: nu_hat = {nu:.6g} >= nu_cert" if nu is not None else
                              "no finite sampled ratio to compare"), CLAIM, ev)
    nu_s = est["nu_hat_S"]
    note = unproven
    if nu_s is not None and nu < 1e-6 * nu_s:
        note += (f"; the ratio nearly vanishes where only sequences outside S lose attention mass (the "
                f"infimum over all i looks like 0, not attained), while over S alone nu_hat_S = {nu_s:.3g}")
    elif nu_s is not None:
        note += f"; over S alone nu_hat_S = {nu_s:.3g}"
    sign = "> 0" if nu > 0 else "(0 within the evaluation's precision, not a proof)"
    return _result(ID, INCONCLUSIVE, f"nu_hat = {nu:.3g} {sign} at p = {np.round(est['p_worst'], 4).tolist()} "
                       f"from {est['samples']} samples and {len(est['local_searches'])} local searches "
                       f"({est['mp_evaluations']} in mpmath): sampling cannot prove nu > 0" + note, CLAIM, ev)
