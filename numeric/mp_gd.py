"""Gradient descent in arbitrary precision (mpmath), mirroring :func:`numeric.gd.run_gd`.

* fixed step:       theta_{k+1} = theta_k - eta grad L(theta_k)
* normalised step:  theta_{k+1} = theta_k - eta_k grad L(theta_k) / ||grad L(theta_k)||, eta_k = eta or (``adaptive``)
  the step rule of :mod:`numeric.gd` (the sign of <g_k, g_{k-1}> exact, eta_k at the working precision)

with the stable gradient of DESIGN.md section 3 at ``dps`` decimal digits. Checkpoints (log-spaced, as in
float64) are :class:`MPCheckpoint`: theta as mpmath numbers, and, besides the float fields of
:class:`numeric.gd.Checkpoint`, the exact ``loss_mp``, ``excess_loss_mp`` (L - L_alpha, see
:func:`numeric.mp_attention.mp_excess_loss`), ``one_minus_mass_mp`` (max_i 1 - s_{i,a_i}) and
``grad_norm_mp``, which stay nonzero where their float64 counterparts underflow. Checkpoint quantities
come from the reference implementation :mod:`numeric.mp_attention`.

The inner loop (``kernel="fixed"``, the default) avoids per-element mpmath objects: theta and the features
are integers in fixed point (value * 2^P, P = the binary precision of ``dps`` plus guard bits), so logits
and the contraction sum_it w_it (Phi_it - Phi_{i,a_i}) are exact integer arithmetic; the O(nT) scalar part
(e^{r_it} with r_it = q_it - q_{i,a_i} exact, tails, gaps, l'(u_i), weights) uses mpmath's low-level
binary floats (mpf tuples, gmpy2 when installed) at P bits, so e^{-10^5} keeps its value; the weights are
then put on one integer scale relative to the largest, which is the e^{-max r} scaling of the direction.
At large norms most tokens lie far below the largest tail logit: the kernel leaves out those more than
(P + 64) ln 2 below it and keeps the result only when a bound on their possible contribution is below
2^-(P+8) of the computed gradient (built-in losses, whose |l'| and |l''| are bounded on the range of u),
else it recomputes with every token.
Fixed point gives absolute accuracy 2^-P in theta; P gets extra bits for features, steps and inits
smaller than 1 (:func:`small_bits`), so their relative precision is that of P-bit floating point.
``kernel="reference"`` steps with :func:`numeric.mp_attention.mp_gradient`
instead (slow; an independent implementation to test the fast one against).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from operator import mul
from typing import Any, Callable

import mpmath
import numpy as np
from mpmath.libmp import (dps_to_prec, fone, from_float, from_int, from_man_exp, from_rational, fzero, mpf_add,
                          mpf_div, mpf_exp, mpf_mul, mpf_neg, mpf_sub, mpf_sum)

from .batched import GROWTH, SHRINK
from .gd import METHODS, Checkpoint, CheckpointSchedule, StepState, Trajectory
from .losses import Loss
from .mp_attention import mp_array, mp_attention_state, mp_excess_loss, mp_gradient, mp_loss_value, mp_norm

KERNELS = ("fixed", "reference")
GUARD_BITS = 16


@dataclass
class MPCheckpoint(Checkpoint):
    """A :class:`numeric.gd.Checkpoint` of an mpmath run: ``theta`` is an object array of mpf; the float
    fields are the mpmath values rounded to float64 (so they may underflow to 0); the ``*_mp`` fields keep
    the values at ``dps`` digits: ||theta||, L, L - L_alpha, max_i (1 - s_{i,a_i}), ||grad L||."""

    dps: int = 0
    norm_mp: Any = None
    loss_mp: Any = None
    excess_loss_mp: Any = None
    one_minus_mass_mp: Any = None
    grad_norm_mp: Any = None


def _rational(x) -> Fraction:
    """x (Fraction, int, float, numpy scalar, decimal string or mpf) as an exact rational."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, mpmath.mpf):
        sign, man, exp, _ = x._mpf_
        if not man and exp:
            raise ValueError(f"not a finite number: {x}")
        return (-1) ** sign * Fraction(int(man)) * (Fraction(2) ** int(exp))
    return Fraction(x)


def to_fixed(x, bits: int) -> int:
    """round(x * 2^bits) for an exact rational or a float (the fixed-point representation)."""
    q = _rational(x)
    return (2 * q.numerator * (1 << bits) + q.denominator) // (2 * q.denominator)


def from_fixed(m: int, bits: int) -> mpmath.mpf:
    """The mpf m / 2^bits, exactly (not rounded to the working precision)."""
    return mpmath.mp.make_mpf(from_man_exp(int(m), -bits))


def small_bits(values) -> int:
    """Extra fixed-point bits so that the smallest nonzero |x| among ``values`` keeps full relative precision:
    at least max(0, -log2 min |x|) (0 when all are zero)."""
    mags = [abs(_rational(x)) for x in np.asarray(values, dtype=object).reshape(-1)]
    m = min((x for x in mags if x), default=None)
    if m is None or m >= 1:
        return 0
    return m.denominator.bit_length() - m.numerator.bit_length() + 1


def _tuple(x, prec: int):
    """x as an mpf tuple rounded to prec bits."""
    q = _rational(x)
    return from_rational(q.numerator, q.denominator, prec, "n")


def _derivative_tuple(loss: Loss, prec: int) -> Callable:
    """l' on mpf tuples at prec bits: closed forms for the built-in losses (checked against
    ``loss.mp_derivative`` at two points), else ``loss.mp_derivative`` through mpmath numbers."""
    def generic(u):
        with mpmath.workprec(prec):
            return mpmath.mpf(loss.mp_derivative(mpmath.mpf(u)))._mpf_

    m1 = from_int(-1)
    fast = {
        "logistic": lambda u: mpf_neg(mpf_div(fone, mpf_add(fone, mpf_exp(u, prec), prec), prec)),
        "exponential": lambda u: mpf_neg(mpf_exp(mpf_neg(u), prec)),
        "correlation": lambda u: m1,
    }.get(loss.name)
    if fast is None:
        return generic
    for x in (from_float(0.375), from_float(-1.25)):
        a, b = mpmath.mpf(fast(x)), mpmath.mpf(generic(x))
        if abs(a - b) > abs(b) * mpmath.ldexp(1, 8 - prec):
            return generic
    fast.builtin = loss.name
    return fast


def _log_int(x) -> float:
    """ln x for a positive integer of any size (-inf for 0)."""
    if not x:
        return -math.inf
    sh = max(int(x).bit_length() - 60, 0)
    return math.log(int(x >> sh)) + sh * math.log(2)


class FixedPointKernel:
    """The stable (scaled) gradient at a fixed-point theta (see the module docstring).

    ``gradient(theta)`` for integer theta (value * 2^P) returns (selection, G, M) with G integers such that
    grad L = G * 2^(M - 2P) / n; G is the direction of grad L to relative accuracy about 2^-P.
    """

    def __init__(self, phi, gamma, loss: Loss, dps: int, extra_bits: int = 0):
        self.dps = dps
        phi_o = np.asarray(phi, dtype=object)
        self.P = P = dps_to_prec(dps) + GUARD_BITS + max(extra_bits, small_bits(phi_o))
        self.gamma_o = np.asarray(gamma, dtype=object)
        self.n, self.T, self.D = phi_o.shape
        self.F = [[[to_fixed(x, P) for x in phi_o[i, t]] for t in range(self.T)] for i in range(self.n)]
        self.lprime = _derivative_tuple(loss, P)
        self._prepared: dict = {}
        self._skip_constants(loss, phi_o)

    def _prepare(self, sel: tuple):
        """Per selection: for each i the tokens t != a_i with gamma_t - gamma_a (and its negative) as mpf
        tuples, gamma_a, and the columns of Phi_it - Phi_{i,a_i} (fixed point) over all such (i, t)."""
        P = self.P
        seqs, rows = [], []
        for i, a in enumerate(sel):
            toks = [t for t in range(self.T) if t != a]
            dg = [_tuple(_rational(self.gamma_o[i, t]) - _rational(self.gamma_o[i, a]), P) for t in toks]
            seqs.append((a, toks, dg, [mpf_neg(x) for x in dg], _tuple(self.gamma_o[i, a], P)))
            Fa = self.F[i][a]
            rows.extend([f - fa for f, fa in zip(self.F[i][t], Fa)] for t in toks)
        cols = [[row[k] for row in rows] for k in range(self.D)]
        self._prepared[sel] = (seqs, cols)
        return self._prepared[sel]

    def _skip_constants(self, loss: Loss, phi_o) -> None:
        """Constants of the bound that lets :meth:`gradient` leave out tokens far below the largest tail
        logit (built-in losses only): Dg = max gamma - min gamma, Phi_max >= max ||Phi_it - Phi_is||,
        L1 >= |l'(u)|, L2 >= |l''(u)| for u in [min gamma, max gamma] (u_i is a convex combination of gamma_i)."""
        g = [float(_rational(x)) for x in self.gamma_o.reshape(-1)]
        dg = max(g) - min(g)
        e = math.exp(-min(g)) if -min(g) < 700 else math.inf
        bounds = {"logistic": (1.0, 0.25), "correlation": (1.0, 0.0), "exponential": (e, e)}.get(loss.name)
        self.skip = (bounds is not None and getattr(self.lprime, "builtin", None) == loss.name and dg > 0
                     and math.isfinite(bounds[0]) and self.T > 1)
        self.skipped_last = 0
        if not self.skip:
            return
        l1, l2 = bounds
        phimax = 2 * max(math.sqrt(sum(float(_rational(x)) ** 2 for x in phi_o[i, t]))
                         for i in range(self.n) for t in range(self.T))
        self.log_k_direct = math.log(2 * l1 * dg * phimax * 1.01 + 1e-300)
        self.log_k_induced = math.log(phimax * (4 * l2 * dg * dg + 4 * l1 * dg) * 1.01 + 1e-300)
        self.cut = (self.P + 64) * math.log(2)

    def gradient(self, theta: list, skip: bool = True) -> tuple:
        """(selection, G, M) at the fixed-point theta (class docstring).

        With ``skip``, tokens whose logit is more than (P + 64) ln 2 below the largest tail logit are left
        out, and the result is kept only if a bound on what they could contribute (directly, and through
        1 + tail_i, gap_i and l'(u_i) of their sequence) is below 2^-(P+8) of the computed gradient;
        otherwise the gradient is recomputed with every token."""
        P = self.P
        m2p = -2 * P
        self.skipped_last = 0
        qs, sel = [], []
        for Fi in self.F:
            q = [sum(map(mul, row, theta)) for row in Fi]
            sel.append(q.index(max(q)))
            qs.append(q)
        sel = tuple(sel)
        seqs, cols = self._prepared.get(sel) or self._prepare(sel)
        skip = skip and self.skip
        if skip:
            scale = 1 << (2 * P)
            rs = [[(q[t] - q[a]) / scale for t in toks] for q, (a, toks, *_) in zip(qs, seqs)]
            cut = max(max(r) for r in rs) - self.cut
            keep = [[x >= cut for x in r] for r in rs]
            if all(all(k) for k in keep):
                skip = False
        lprime = self.lprime
        weights = []
        log_err = []
        for i, (q, (a, toks, dg, ndg, ga)) in enumerate(zip(qs, seqs)):
            qa = q[a]
            if skip and not all(keep[i]):
                ks = keep[i]
                out = [x for x, k in zip(rs[i], ks) if not k]
                inn = [x for x, k in zip(rs[i], ks) if k]
                a_log = max(out) + math.log(sum(math.exp(x - max(out)) for x in out))
                b_log = max(inn) + math.log(sum(math.exp(x - max(inn)) for x in inn)) if inn else -math.inf
                log_err.append(max(self.log_k_direct + a_log, self.log_k_induced + a_log + b_log) + math.log(2))
                E = [mpf_exp(from_man_exp(q[t] - qa, m2p), P) if k else fzero for t, k in zip(toks, ks)]
            else:
                E = [mpf_exp(from_man_exp(q[t] - qa, m2p), P) for t in toks]
            z = mpf_add(fone, mpf_sum(E, P), P)
            gap = mpf_div(mpf_sum([mpf_mul(e, d) for e, d in zip(E, ndg)], P), z, P)
            c = mpf_div(lprime(mpf_sub(ga, gap, P)), z, P)
            # exact products: rounding happens once, in the fixed-point step
            weights += [mpf_mul(mpf_mul(c, e), mpf_add(d, gap, P)) if e[1] else fzero for e, d in zip(E, dg)]
        M = max((w[2] + w[3] for w in weights if w[1]), default=None)
        if M is None:
            return self.gradient(theta, skip=False) if skip else (sel, [0] * self.D, 0)
        W = []
        for sign, man, exp, _ in weights:
            sh = exp - M + P
            m = man << sh if sh >= 0 else man >> -sh
            W.append(-m if sign else m)
        G = [sum(map(mul, W, col)) for col in cols]
        if skip:
            gn2 = sum(x * x for x in G)
            log_g = _log_int(gn2) / 2 - (2 * P - M) * math.log(2)
            err = max(log_err) + math.log(len(log_err))
            if not err <= log_g - (P + 8) * math.log(2):
                return self.gradient(theta, skip=False)
            self.skipped_last = sum(k.count(False) for k in keep)
        return sel, G, M


def _direction(G: list) -> list:
    """The integer direction G as mpf numbers scaled by a power of two (exactly; only the direction matters)."""
    shift = max((abs(int(x)).bit_length() for x in G), default=0)
    return [mpmath.mp.make_mpf(from_man_exp(int(x), -shift)) for x in G]


def _round(q: Fraction) -> int:
    """The integer nearest to a rational."""
    return (2 * q.numerator + q.denominator) // (2 * q.denominator)


def _checkpoint(k, theta_fixed, P, phi, gamma, loss, dps, step_fixed=None) -> MPCheckpoint:
    theta = np.array([from_fixed(x, P) for x in theta_fixed], dtype=object)
    with mpmath.workdps(dps):
        st = mp_attention_state(theta, phi, gamma, dps)
        nrm = mp_norm(theta)
        L = mp_loss_value(theta, phi, gamma, loss, dps, st)
        exc = mp_excess_loss(theta, phi, gamma, loss, dps, st)
        omm = max(st.one_minus_mass)
        gnorm = mp_norm(mp_gradient(theta, phi, gamma, loss, dps, st))
    return MPCheckpoint(iteration=k, theta=theta, norm=float(nrm), loss=float(L),
                        selected=tuple(int(a) for a in st.dominant), one_minus_mass=float(omm),
                        grad_norm=float(gnorm), dps=dps, step=None if step_fixed is None else step_fixed / 2 ** P,
                        norm_mp=nrm, loss_mp=L, excess_loss_mp=exc, one_minus_mass_mp=omm, grad_norm_mp=gnorm)


def run_gd_mp(theta0, phi, gamma, loss: Loss, *, dps: int = 30, method: str = "normalized", step: float = 1.0,
              max_iter: int = 300_000, time_budget: float | None = None, per_decade: int = 10,
              observer: Callable[[Checkpoint], bool] | None = None, kernel: str = "fixed", adaptive: bool = False,
              relative: float = 0.0, state=None, start: int = 0) -> Trajectory:
    """Run GD from theta0 at ``dps`` digits and return its trajectory of :class:`MPCheckpoint` (module docstring).

    Same schedule, stop reasons, observer protocol and step rule as :func:`numeric.gd.run_gd` (``adaptive``:
    eta_k = f_k max(step, rho ||theta_k||), f_k = f_{k-1} SHRINK when <g_k, g_{k-1}> < 0, else
    min(1, f_{k-1} GROWTH), rho = ``relative``; the sign of the inner product is exact, f_k and eta_k are
    rounded to the working precision). ``phi``/``gamma`` may be exact
    (Fractions, e.g. ``Dataset.features_exact()``) or floats; ``theta0`` and ``step`` are taken exactly.
    ``state`` (a :class:`numeric.gd.StepState`, e.g. a float64 checkpoint's) and ``start`` continue a run
    from iteration ``start`` with that step rule state (checkpoints as in the uninterrupted run).
    """
    if method not in METHODS:
        raise ValueError(f"unknown GD method {method!r}; expected one of {METHODS}")
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
    if not isinstance(dps, (int, np.integer)) or dps < 1:
        raise ValueError(f"dps must be a positive integer, got {dps!r}")
    ker = FixedPointKernel(phi, gamma, loss, dps, extra_bits=small_bits(list(np.asarray(theta0, dtype=object).reshape(-1))
                                                                         + [step]))
    P, n = ker.P, ker.n
    theta = [to_fixed(x, P) for x in np.asarray(theta0, dtype=object).reshape(-1)]
    if len(theta) != ker.D:
        raise ValueError(f"theta0 has {len(theta)} entries, the features have {ker.D}")
    S_nominal = S = to_fixed(step, P)
    one = 1 << P
    F = one if state is None else to_fixed(state.factor, P)          # the step rule's factor f, fixed point
    prev = None if state is None or state.direction is None else \
        [to_fixed(x, P) for x in np.asarray(state.direction, dtype=object).reshape(-1)]
    shrink, growth, rho = _rational(SHRINK), _rational(GROWTH), _rational(relative)
    book = CheckpointSchedule(max_iter, per_decade, time_budget, observer, start=start)
    normalized = method == "normalized"
    with mpmath.workdps(dps + 10):   # the data of the checkpoint quantities, rounded once
        phi_c, gamma_c = mp_array(phi), mp_array(gamma)
    k = start
    while True:
        if kernel == "fixed":
            _, G, M = ker.gradient(theta)
            zero = not any(G)
        else:
            with mpmath.workprec(P):
                th = [from_fixed(x, P) for x in theta]
                g = mp_gradient(th, phi, gamma, loss, dps, scaled=normalized)
                gn_mp = mp_norm(g)
                # the direction (normalised) or the gradient times 2^P (fixed), in fixed point
                G = [to_fixed(x / gn_mp if normalized else x * 2 ** P, P) for x in g] if gn_mp else [0] * ker.D
                M, zero = None, not gn_mp
        F_in = F
        if normalized and adaptive:
            if prev is not None:
                # the step rule: the sign of <G_k, G_{k-1}> is exact in fixed point
                F = _round(F * shrink) if sum(map(mul, G, prev)) < 0 else min(one, _round(F * growth))
            base = max(S_nominal, _round(rho * math.isqrt(sum(t * t for t in theta)))) if rho else S_nominal
            S = (F * base + (one >> 1)) >> P
        if book.due(k, zero):
            cp = _checkpoint(k, theta, P, phi_c, gamma_c, loss, dps, S)
            cp.step_state = StepState(factor=from_fixed(F_in, P), direction=None if prev is None else _direction(prev))
            stop_reason = book.record(cp, zero)
            if stop_reason:
                break
        if normalized:
            prev = G
        if M is None and normalized:  # reference kernel: G is the unit direction in fixed point
            theta = [t - (S * x) // (1 << P) for t, x in zip(theta, G)]
        elif M is None:  # reference kernel, fixed step: G is 2^P grad L in fixed point
            theta = [t - (S * x) // (1 << (2 * P)) for t, x in zip(theta, G)]
        elif normalized:
            gn = math.isqrt(sum(x * x for x in G))
            theta = [t - (S * x) // gn for t, x in zip(theta, G)]
        else:
            # eta grad_k * 2^P = S G_k 2^(M - 2P) / n
            sh = 2 * P - M
            if sh >= 0:
                den = n << sh
                theta = [t - (S * x) // den for t, x in zip(theta, G)]
            else:
                theta = [t - ((S * x) << -sh) // n for t, x in zip(theta, G)]
        k += 1
    return Trajectory(method=method, step=step, checkpoints=book.checkpoints, stop_reason=stop_reason,
                      seconds=book.seconds)
