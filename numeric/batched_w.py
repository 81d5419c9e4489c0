"""Batched GD on W and on (K, Q) for self/cross attention, torch float64, many datasets of one shape at once.

Logits q_bit = x_bit^T W_b z_bi. With a_bi the dominant token, the stable coefficients c_bit of
:func:`numeric.batched.batched_weights` (DESIGN.md section 3) give, without forming the (d*d)-dimensional
features Phi_bit = x_bit z_bi^T,

    r_bit       = q_bit - q_{b,i,a_bi} = (x_bit - x_{b,i,a_bi})^T W_b z_bi   (clamped <= 0)
    grad_W L_b  = (1/n) sum_i (sum_t c_bit (x_bit - x_{b,i,a_bi})) z_bi^T
    grad_K L_b  = G_b Q_b,   grad_Q L_b = G_b^T K_b        (W_b = K_b Q_b^T, G_b = grad_W L_b)

Steps are normalised per dataset (theta <- theta - eta_k g / ||g||, on W or on the joint (K, Q)). The step
eta_k is ``step`` ("constant") or ``step * max(1, ||theta_k||)`` ("relative": the norm grows geometrically),
both optionally divided by sqrt(1 + k/decay). bench/tf_svm_kq_schedule.py compares them on (K, Q): with
stable gradients, constant steps of about 2 on the joint (K, Q) did best on the tf-svm-local family.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .batched import BatchedTrajectory, batched_weights, default_device, loss_derivative
from .gd import checkpoint_schedule

STEP_RULES = ("constant", "relative")


class BatchedHead:
    """The heads of :mod:`numeric.heads` for a batch, in torch: ``kind`` (one for the batch), labels Y (B, n),
    weights v (B, d), V (B, d, d) (relu), lam (B,) (quadratic). :meth:`scores` gives the effective score
    differences and the outputs that replace the fixed scores in the stable gradient (numeric.heads)."""

    def __init__(self, kind: str, Y, v, V=None, lam=None, device: str | None = None):
        from .heads import HEAD_KINDS

        if kind not in HEAD_KINDS:
            raise ValueError(f"unknown head {kind!r}; expected one of {HEAD_KINDS}")
        f64 = dict(dtype=torch.float64, device=device or default_device())
        self.kind = kind
        self.Y = torch.as_tensor(np.array(Y, dtype=float), **f64)
        self.v = torch.as_tensor(np.array(v, dtype=float), **f64)
        self.V = None if V is None else torch.as_tensor(np.array(V, dtype=float), **f64)
        self.lam = None if lam is None else torch.as_tensor(np.array(lam, dtype=float), **f64)

    def select(self, rows) -> "BatchedHead":
        """The heads of the batch elements ``rows``."""
        out = BatchedHead.__new__(BatchedHead)
        idx = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=self.Y.device)
        out.kind = self.kind
        out.Y, out.v = self.Y[idx], self.v[idx]
        out.V = None if self.V is None else self.V[idx]
        out.lam = None if self.lam is None else self.lam[idx]
        return out

    def value_and_gradient(self, y: torch.Tensor):
        """(h(y_bi) (B, n), grad h(y_bi) (B, n, d)) for y (B, n, d)."""
        if self.kind == "linear":
            return torch.einsum("bnd,bd->bn", y, self.v), self.v[:, None, :].expand_as(y)
        if self.kind == "relu":
            pre = torch.bmm(y, self.V)                                      # V^T y, (B, n, d)
            val = torch.einsum("bnj,bj->bn", pre.clamp(min=0.0), self.v)
            grad = torch.bmm((pre > 0).to(y.dtype) * self.v[:, None, :], self.V.transpose(1, 2))
            return val, grad
        lam = self.lam[:, None]
        val = torch.einsum("bnd,bd->bn", y, self.v) - lam * (y * y).sum(dim=2)
        return val, self.v[:, None, :] - 2.0 * lam[..., None] * y

    def scores(self, X: torch.Tensor, X_a: torch.Tensor, r: torch.Tensor, mask: torch.Tensor):
        """(dgamma~ (B, n, T), u (B, n)): y_bi - x_{b,i,a} = sum_{t != a} s_bit (x_bit - x_{b,i,a}),
        dgamma~_bit = Y_bi grad h(y_bi)^T (x_bit - x_{b,i,a}), u_bi = Y_bi h(y_bi) (numeric.heads)."""
        e = torch.where(mask, torch.exp(r.clamp(max=0.0)), torch.zeros_like(r))
        s = e / (1.0 + e.sum(dim=2))[..., None]
        dX = X - X_a[:, :, None, :]
        y = X_a + torch.einsum("bnt,bntd->bnd", s, dX)
        val, g = self.value_and_gradient(y)
        return self.Y[..., None] * torch.einsum("bntd,bnd->bnt", dX, g), self.Y * val


def batched_w_gradient(W: torch.Tensor, X: torch.Tensor, Z: torch.Tensor, gamma: torch.Tensor, dloss,
                       scaled: bool = False, head: BatchedHead | None = None, with_scale: bool = False):
    """(grad_W L_b (B, d, d), dominant (B, n), one_minus_mass (B, n)) by the factored stable formula
    of the module docstring; ``scaled`` multiplies each grad_b by e^{-max r_b} (same direction). With a
    nonlinear ``head`` its effective scores replace gamma (numeric.heads). ``with_scale`` appends rmax (B,),
    the exponent of that scale (the true gradient is e^{rmax_b} grad_b)."""
    B, n, T, d = X.shape
    Wz = torch.bmm(Z, W.transpose(1, 2))                                   # W_b z_bi, (B, n, d)
    q = torch.matmul(X, Wz[..., None])[..., 0]                             # (B, n, T)
    dominant = q.argmax(dim=2)
    idx = dominant[..., None]
    X_a = torch.gather(X, 2, idx[..., None].expand(B, n, 1, d))[:, :, 0]   # x_{b,i,a_bi}
    gamma_a = torch.gather(gamma, 2, idx)[..., 0]
    mask = torch.arange(T, device=X.device) != idx
    r = q - torch.gather(q, 2, idx)                                        # (x_bit - x_{b,i,a})^T W z_bi
    if head is None or head.kind == "linear":
        c, omm, rmax = batched_weights(r, mask, gamma - gamma_a[..., None], gamma_a, dloss, scaled)
    else:
        dgamma, u = head.scores(X, X_a, r, mask)
        c, omm, rmax = batched_weights(r, mask, dgamma, gamma_a, dloss, scaled, u=u)
    # sum_t c_bit (x_bit - x_{b,i,a}) = sum_t c_bit x_bit - (sum_t c_bit) x_{b,i,a}
    y = (c[..., None] * X).sum(dim=2) - c.sum(dim=2)[..., None] * X_a
    grad = torch.bmm(y.transpose(1, 2), Z) / n
    if with_scale:
        return grad, dominant, omm, rmax
    return grad, dominant, omm


def _tensors(device, *arrays):
    f64 = dict(dtype=torch.float64, device=device)
    return [torch.as_tensor(np.array(a, dtype=float), **f64).clone() for a in arrays]


def batched_w_gd(W0, X, Z, gamma, loss: str = "logistic", *, step: float = 0.1, iterations: int = 2000,
                 rule: str = "constant", decay: float | None = None, per_decade: int = 10,
                 device: str | None = None, adaptive: bool = False, head: BatchedHead | None = None,
                 schedule=None) -> BatchedTrajectory:
    """Normalised GD on W for every dataset b: W_b <- W_b - eta_k G_b / ||G_b||_F. Inputs (B, d, d),
    (B, n, T, d), (B, n, d), (B, n, T); checkpoints hold theta = vec(W_b) (K, B, d*d). ``adaptive``: the
    zigzag step rule of :mod:`numeric.batched` per dataset (eta halves when the new gradient points against the
    previous step, else grows by 10% up to ``step``). ``head``: a nonlinear head (:class:`BatchedHead`).
    ``schedule``: the checkpoint iterations (default: ``per_decade`` log-spaced ones)."""
    return _run("W", [W0], X, Z, gamma, loss, step, iterations, rule, decay, per_decade, device, adaptive=adaptive,
                head=head, schedule=schedule)


KQ_NORMALIZATIONS = ("joint", "per-factor")


def batched_kq_gd(K0, Q0, X, Z, gamma, loss: str = "logistic", *, step: float = 0.1, iterations: int = 2000,
                  rule: str = "constant", decay: float | None = None, per_decade: int = 10,
                  device: str | None = None, adaptive: bool = False, normalization: str = "joint",
                  ridge: float = 0.0, head: BatchedHead | None = None, schedule=None) -> BatchedTrajectory:
    """Normalised GD on the joint (K_b, Q_b) for every dataset b (K, Q of shape (B, d, m)):
    (K, Q) <- (K, Q) - eta_k (G Q, G^T K) / ||(G Q, G^T K)||_F (``normalization="joint"``), or each factor's
    gradient normalised on its own, K <- K - eta_k G Q / ||G Q||, Q <- Q - eta_k G^T K / ||G^T K|| ("per-factor",
    the authors' choice). ``ridge`` = lambda adds lambda (||K||_F^2 + ||Q||_F^2) to the loss (the authors use
    float64's machine epsilon); its gradient 2 lambda (K, Q) is combined with the scaled attention gradient
    e^{-rmax} (G Q, G^T K) without overflow. Checkpoints hold theta = vec(K_b Q_b^T)."""
    if normalization not in KQ_NORMALIZATIONS:
        raise ValueError(f"unknown normalisation {normalization!r}; expected one of {KQ_NORMALIZATIONS}")
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}")
    return _run("KQ", [K0, Q0], X, Z, gamma, loss, step, iterations, rule, decay, per_decade, device,
                adaptive=adaptive, normalization=normalization, ridge=ridge, head=head, schedule=schedule)


def _combine_ridge(grads, params, rmax, ridge):
    """The direction of e^{rmax} grads + 2 ridge params without overflow: with c = ln(2 ridge) - rmax,
    e^{min(0, -c)} grads + e^{min(0, c)} params, which is the true gradient times e^{-(rmax + max(0, c))};
    returns the vectors and that exponent rmax + max(0, c) (B,)."""
    c = float(np.log(2.0 * ridge)) - rmax
    w_att = torch.exp(torch.clamp(-c, max=0.0))[:, None, None]
    w_ridge = torch.exp(torch.clamp(c, max=0.0))[:, None, None]
    return [w_att * g + w_ridge * p for g, p in zip(grads, params)], rmax + c.clamp(min=0.0)


def _run(kind, params0, X, Z, gamma, loss, step, iterations, rule, decay, per_decade, device, *, adaptive=False,
         normalization="joint", ridge=0.0, head=None, schedule=None, state=None, start=0):
    """The shared loop. ``state`` (a previous trajectory's ``state``: params, step and last direction) continues
    a run exactly, with iterations counted from ``start``; checkpoints then lie on the same log-spaced schedule
    as an uninterrupted run. The returned trajectory's ``state`` holds "theta" (the parameters flattened and
    concatenated, (B, P)), "eta" (B,) and "direction" (B, P)."""
    from .batched import GROWTH, SHRINK

    if rule not in STEP_RULES:
        raise ValueError(f"unknown step rule {rule!r}; expected one of {STEP_RULES}")
    device = device or default_device()
    f64 = dict(dtype=torch.float64, device=device)
    shapes = [np.asarray(p).shape[1:] for p in params0]
    sizes = [int(np.prod(sh)) for sh in shapes]

    def split(flat):
        flat = torch.as_tensor(np.array(flat, dtype=float), **f64)
        out, k = [], 0
        for sh, sz in zip(shapes, sizes):
            out.append(flat[:, k:k + sz].reshape(flat.shape[0], *sh).clone())
            k += sz
        return out

    params = _tensors(device, *params0) if state is None else split(state["theta"])
    X, Z, gamma = _tensors(device, X, Z, gamma)
    B = X.shape[0]
    dloss = loss_derivative(loss)
    end = start + iterations
    if schedule is None:
        schedule = {k for k in checkpoint_schedule(end, per_decade) if k >= start}
    else:
        schedule = {int(k) for k in schedule if start <= int(k) <= end} | {end}
    its, thetas, sels, omms, glogs, etas = [], [], [], [], [], []
    eta_b = torch.full((B, 1, 1), float(step), **f64)
    prev = None
    if state is not None:
        eta_b = torch.as_tensor(np.array(state["eta"], dtype=float), **f64).reshape(B, 1, 1).clone()
        prev = None if state.get("direction") is None else split(state["direction"])
    ln10 = float(np.log(10.0))
    t0 = time.perf_counter()
    with torch.no_grad():
        for k in range(start, end + 1):
            W = params[0] if kind == "W" else params[0] @ params[1].transpose(1, 2)
            G, dominant, omm, rmax = batched_w_gradient(W, X, Z, gamma, dloss, scaled=True, head=head,
                                                        with_scale=True)
            grads = [G] if kind == "W" else [G @ params[1], G.transpose(1, 2) @ params[0]]
            if ridge > 0:
                grads, rmax = _combine_ridge(grads, params, rmax, ridge)
            if kind == "KQ" and normalization == "per-factor":
                norms = [torch.sqrt((g * g).sum(dim=(1, 2)))[:, None, None] for g in grads]
            else:
                joint = torch.sqrt(sum((g * g).sum(dim=(1, 2)) for g in grads))[:, None, None]
                norms = [joint] * len(grads)
            units = [torch.where(gn > 0, g / gn.clamp_min(1e-300), torch.zeros_like(g)) for g, gn in zip(grads, norms)]
            if adaptive and prev is not None and k < end:
                turned = sum((u * p).sum(dim=(1, 2)) for u, p in zip(units, prev)) < 0
                eta_b = torch.where(turned[:, None, None], eta_b * SHRINK, torch.clamp(eta_b * GROWTH, max=float(step)))
            eta = eta_b if decay is None else eta_b / (1.0 + k / decay) ** 0.5
            if rule == "relative":
                pn = torch.sqrt(sum((p * p).sum(dim=(1, 2)) for p in params))[:, None, None]
                eta = eta * pn.clamp_min(1.0)
            if k in schedule and not (state is not None and k == start):
                its.append(k)
                thetas.append(W.reshape(B, -1).cpu().numpy().copy())
                sels.append(dominant.cpu().numpy().copy())
                omms.append(omm.amax(dim=1).cpu().numpy().copy())
                gn_true = norms[0][:, 0, 0].cpu().numpy() if len(norms) == 1 else \
                    torch.sqrt(sum((g * g).sum(dim=(1, 2)) for g in grads)).cpu().numpy()
                with np.errstate(divide="ignore"):
                    glogs.append(np.log10(gn_true) + rmax.cpu().numpy() / ln10)
                etas.append(eta[:, 0, 0].cpu().numpy().copy())
            if k == end:
                break
            params = [p - eta * u for p, u in zip(params, units)]
            prev = units
    flat = (lambda ts: np.concatenate([t.reshape(B, -1).cpu().numpy() for t in ts], axis=1))
    new_state = {"theta": flat(params), "eta": eta_b[:, 0, 0].cpu().numpy(),
                 "direction": None if prev is None else flat(prev), "iteration": end}
    return BatchedTrajectory(iterations=np.array(its), theta=np.stack(thetas), selected=np.stack(sels),
                             one_minus_mass=np.stack(omms), seconds=time.perf_counter() - t0,
                             grad_log10=np.stack(glogs), step=np.stack(etas), state=new_state)


def runner(kind: str, X, Z, gamma, params_shape: tuple, *, loss="logistic", step: float = 1.0, head=None,
           normalization: str = "joint", ridge: float = 0.0, device: str | None = None):
    """A ``runner`` for :func:`numeric.convergence.decide_runs`: normalised GD on W (``kind="W"``) or on (K, Q)
    (``"KQ"``) with the zigzag step rule, in rounds. decide_runs passes the rows of its theta0 (the parameters
    flattened: vec(W), or vec(K) then vec(Q), shapes ``params_shape`` = ((d, d),) or ((d, m), (d, m))), the
    indices of the runs still active, the iterations of this round, the previous round's state and the first
    iteration number; the trajectory's checkpoints hold theta = vec(W) (W = K Q^T), which decide_runs judges."""
    sizes = [int(np.prod(sh)) for sh in params_shape]
    X, Z, gamma = (np.asarray(a, dtype=float) for a in (X, Z, gamma))

    def run(theta_rows, active, iterations, state, start):
        rows = np.asarray(theta_rows if state is None else state["theta"], dtype=float)
        params0, k = [], 0
        for sh, sz in zip(params_shape, sizes):
            params0.append(rows[:, k:k + sz].reshape(len(rows), *sh))
            k += sz
        sub_head = None if head is None else head.select(active)
        return _run(kind, params0, X[active], Z[active], gamma[active], loss, step, iterations, "constant", None,
                    10, device, adaptive=True, normalization=normalization, ridge=ridge, head=sub_head,
                    state=state, start=start)

    return run
