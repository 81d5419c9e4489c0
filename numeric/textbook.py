"""The textbook GD loop, for comparison only: softmax, the loss written out, torch autograd, in float32 or float64.

This is the computation the papers' notebooks run (and what DESIGN.md section 3 warns about): logits q = Phi theta,
s_i = softmax(q_i), outputs u_i = sum_t s_it gamma_it (linear head) or Y_i h(X_i^T s_i) (numeric.heads), the loss
(1/n) sum_i log(1 + exp(-u_i)) as written (logistic) or l(u_i), its gradient by autograd, and the normalised step
theta <- theta - eta g / (||g|| + eps) with eps the dtype's machine epsilon (the authors' guard; it also freezes the
step once ||g|| < eps) or the fixed step theta <- theta - eta g. Once e^{-margin} falls below the dtype's epsilon
the dominant tokens' terms are lost and the direction drifts; later the gradient is exactly 0 and the run stalls.
:func:`side_by_side` lines such a run up with one of ours (numeric.run_gd) on the same data and reports where the
two part, where the textbook run switches tokens, and where it stalls.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .directions import one_minus_corr

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class TextbookTrajectory:
    """Checkpoints of a textbook run: iterations, theta (float64 copies), norms, dominant tokens, gradient norms
    (in the run's dtype; 0.0 when exactly zero), the dtype and the first iteration whose gradient was exactly 0."""

    dtype: str
    iterations: list = field(default_factory=list)
    theta: list = field(default_factory=list)
    norm: list = field(default_factory=list)
    selected: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    first_zero_gradient: int | None = None
    first_frozen: int | None = None      # normalised runs: first k with ||g|| < eps (the step shrinks below eta / 2)
    seconds: float = 0.0


def _torch_loss(name: str):
    if name == "logistic":
        return lambda u: torch.log(1 + torch.exp(-u))
    if name == "exponential":
        return lambda u: torch.exp(-u)
    if name == "correlation":
        return lambda u: -u
    raise ValueError(f"the textbook loop supports the built-in losses, not {name!r}")


def textbook_gd(theta0, phi, gamma, loss_name: str = "logistic", *, dtype: str = "float64",
                method: str = "normalized", step: float = 0.1, iterations: int = 2000, checkpoints=None,
                readout=None) -> TextbookTrajectory:
    """Run the textbook loop (module docstring) from theta0 on features phi (n, T, D) with scores gamma (n, T), or
    with ``readout`` (numeric.heads.Readout) a nonlinear head; checkpoints at ``checkpoints`` (iterations) and at
    the end."""
    import time

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}")
    tdt = DTYPES[dtype]
    eps = float(torch.finfo(tdt).eps)
    phi_t = torch.as_tensor(np.array(phi, dtype=float), dtype=tdt)
    gamma_t = torch.as_tensor(np.array(gamma, dtype=float), dtype=tdt)
    loss = _torch_loss(loss_name)
    head = None
    if readout is not None and not readout.head.is_linear:
        h = readout.head
        X_t = torch.as_tensor(np.array(readout.X, dtype=float), dtype=tdt)
        Y_t = torch.as_tensor(np.array(readout.Y, dtype=float), dtype=tdt)
        v_t = torch.as_tensor(np.array(h.v, dtype=float), dtype=tdt)
        V_t = None if h.V is None else torch.as_tensor(np.array(h.V, dtype=float), dtype=tdt)

        def head(s):
            y = torch.einsum("it,itd->id", s, X_t)
            if h.kind == "relu":
                f = torch.relu(y @ V_t) @ v_t
            else:
                f = y @ v_t - h.lam * (y * y).sum(dim=1)
            return Y_t * f

    theta = torch.as_tensor(np.array(theta0, dtype=float).ravel(), dtype=tdt).clone().requires_grad_(True)
    marks = set(int(k) for k in (checkpoints or ())) | {0, iterations}
    out = TextbookTrajectory(dtype=dtype)
    t0 = time.perf_counter()
    for k in range(iterations + 1):
        q = phi_t @ theta
        s = torch.softmax(q, dim=1)
        u = (s * gamma_t).sum(dim=1) if head is None else head(s)
        L = loss(u).mean()
        g, = torch.autograd.grad(L, theta)
        gn = float(g.norm())
        if gn == 0.0 and out.first_zero_gradient is None:
            out.first_zero_gradient = k
        if method == "normalized" and gn < eps and out.first_frozen is None:
            out.first_frozen = k
        if k in marks:
            th = theta.detach().double().numpy().copy()
            out.iterations.append(k)
            out.theta.append(th)
            out.norm.append(float(np.linalg.norm(th)))
            out.selected.append(tuple(int(a) for a in q.detach().argmax(dim=1)))
            out.grad_norm.append(gn)
        if k == iterations:
            break
        with torch.no_grad():
            if method == "normalized":
                theta -= step * g / (g.norm() + eps)
            else:
                theta -= step * g
    out.seconds = time.perf_counter() - t0
    return out


def side_by_side(ours, textbook: TextbookTrajectory, tol: float = 1e-8) -> dict:
    """Line up our trajectory (numeric.gd.Trajectory) and a textbook one at their common checkpoints: per row
    iteration, both norms, 1 - corr between the two iterates, both selections, the textbook gradient norm; and the
    first iteration where 1 - corr exceeds ``tol`` (they part), where the selections differ (the textbook run
    switches tokens), where its gradient norm falls below eps (its guarded normalised step g / (||g|| + eps) then
    shrinks: it freezes) and where it is exactly 0 (it stalls)."""
    mine = {c.iteration: c for c in ours.checkpoints}
    rows = []
    parted = switched = None
    for k, th, nm, sel, gn in zip(textbook.iterations, textbook.theta, textbook.norm, textbook.selected,
                                  textbook.grad_norm):
        if k not in mine:
            continue
        c = mine[k]
        omc = one_minus_corr(c.theta, th) if c.norm > 0 and nm > 0 else 0.0
        same = tuple(c.selected) == tuple(sel)
        rows.append({"iteration": k, "norm_ours": c.norm, "norm_textbook": nm, "one_minus_corr_between": omc,
                     "selected_ours": list(c.selected), "selected_textbook": list(sel), "same_selection": same,
                     "textbook_grad_norm": gn})
        if parted is None and omc > tol:
            parted = k
        if switched is None and not same:
            switched = k
    return {"dtype": textbook.dtype, "rows": rows, "parted_at": parted, "switched_tokens_at": switched,
            "frozen_at": textbook.first_frozen, "stalled_at": textbook.first_zero_gradient, "tol": tol,
            "seconds_textbook": textbook.seconds}
