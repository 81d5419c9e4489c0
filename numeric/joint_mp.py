"""Joint (v, p) gradients and GD in mpmath, by the same stable decomposition as numeric.joint.

With a_i the dominant token and r_it = <p, Phi_it - Phi_{i,a_i}> <= 0:

    s_it = e^{r_it} / (1 + sum_{tau != a_i} e^{r_i tau}),   z_i = x_{i,a_i} + sum_{t != a_i} s_it (x_it - x_{i,a_i})
    gap_i = -sum_{t != a_i} s_it Y_i v^T (x_it - x_{i,a_i}),   u_i = Y_i v^T x_{i,a_i} - gap_i
    grad_v L = (1/n) sum_i l'(u_i) Y_i z_i
    grad_p L = (1/n) sum_i l'(u_i) sum_{t != a_i} s_it (Y_i v^T (x_it - x_{i,a_i}) + gap_i) (Phi_it - Phi_{i,a_i})

mpmath's exponent range is unbounded, so nothing underflows and no rescaling is needed; the working
precision only has to cover the digits wanted, not the size of the logits (unlike the textbook formula,
which cancels e^{-margin} against 1). Used as an independent check of the float64 implementation.
"""
from __future__ import annotations

import mpmath
import numpy as np

from .losses import Loss
from .svm import to_mpf


def _mp_array(a):
    a = np.asarray(a, dtype=object)
    return np.vectorize(to_mpf, otypes=[object])(a) if a.size else a


def mp_joint_gradient_stable(v, p, X, Y, phi, loss: Loss, dps: int = 30) -> tuple[list, list, list]:
    """(grad_v L, grad_p L, u) in mpmath at ``dps`` digits by the stable formulas above.

    X (n, T, d), phi (n, T, D) may be float or exact (Fraction) arrays; v, p sequences of numbers."""
    with mpmath.workdps(dps):
        Xm, Pm = _mp_array(X), _mp_array(phi)
        vm, pm = [to_mpf(x) for x in v], [to_mpf(x) for x in p]
        Ym = [to_mpf(y) for y in Y]
        n, T, d = Xm.shape
        D = Pm.shape[2]
        gv = [mpmath.mpf(0)] * d
        gp = [mpmath.mpf(0)] * D
        us = []
        for i in range(n):
            q = [mpmath.fsum(Pm[i, t, c] * pm[c] for c in range(D)) for t in range(T)]
            a = max(range(T), key=lambda t: q[t])
            others = [t for t in range(T) if t != a]
            r = {t: mpmath.fsum((Pm[i, t, c] - Pm[i, a, c]) * pm[c] for c in range(D)) for t in others}
            e = {t: mpmath.exp(min(r[t], 0)) for t in others}
            z_norm = 1 + mpmath.fsum(e.values())
            s = {t: e[t] / z_norm for t in others}
            dg = {t: Ym[i] * mpmath.fsum((Xm[i, t, c] - Xm[i, a, c]) * vm[c] for c in range(d)) for t in others}
            gap = -mpmath.fsum(s[t] * dg[t] for t in others)
            u = Ym[i] * mpmath.fsum(Xm[i, a, c] * vm[c] for c in range(d)) - gap
            us.append(u)
            lp = loss.mp_derivative(u)
            z = [Xm[i, a, c] + mpmath.fsum(s[t] * (Xm[i, t, c] - Xm[i, a, c]) for t in others) for c in range(d)]
            for c in range(d):
                gv[c] += lp * Ym[i] * z[c] / n
            for c in range(D):
                gp[c] += lp * mpmath.fsum(s[t] * (dg[t] + gap) * (Pm[i, t, c] - Pm[i, a, c]) for t in others) / n
        return gv, gp, us


def mp_run_joint_gd(v0, p0, X, Y, phi, loss: Loss, *, method: str = "normalized", step=1, iterations: int = 100,
                    dps: int = 30) -> tuple[list, list]:
    """``iterations`` steps of joint GD in mpmath (fixed, or normalised per block as in numeric.joint);
    returns the final (v, p) as lists of mpf."""
    with mpmath.workdps(dps):
        v = [to_mpf(x) for x in v0]
        p = [to_mpf(x) for x in p0]
        eta = to_mpf(step)
        for _ in range(iterations):
            gv, gp, _ = mp_joint_gradient_stable(v, p, X, Y, phi, loss, dps)
            if method == "normalized":
                nv = mpmath.sqrt(mpmath.fsum(x * x for x in gv))
                npn = mpmath.sqrt(mpmath.fsum(x * x for x in gp))
                v = [a - eta * g / nv for a, g in zip(v, gv)] if nv > 0 else v
                p = [a - eta * g / npn for a, g in zip(p, gp)] if npn > 0 else p
            else:
                v = [a - eta * g for a, g in zip(v, gv)]
                p = [a - eta * g for a, g in zip(p, gp)]
        return v, p
