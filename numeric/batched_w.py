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


def batched_w_gradient(W: torch.Tensor, X: torch.Tensor, Z: torch.Tensor, gamma: torch.Tensor, dloss,
                       scaled: bool = False):
    """(grad_W L_b (B, d, d), dominant (B, n), one_minus_mass (B, n)) by the factored stable formula
    of the module docstring; ``scaled`` multiplies each grad_b by e^{-max r_b} (same direction)."""
    B, n, T, d = X.shape
    Wz = torch.bmm(Z, W.transpose(1, 2))                                   # W_b z_bi, (B, n, d)
    q = torch.matmul(X, Wz[..., None])[..., 0]                             # (B, n, T)
    dominant = q.argmax(dim=2)
    idx = dominant[..., None]
    X_a = torch.gather(X, 2, idx[..., None].expand(B, n, 1, d))[:, :, 0]   # x_{b,i,a_bi}
    gamma_a = torch.gather(gamma, 2, idx)[..., 0]
    mask = torch.arange(T, device=X.device) != idx
    r = q - torch.gather(q, 2, idx)                                        # (x_bit - x_{b,i,a})^T W z_bi
    c, omm, _ = batched_weights(r, mask, gamma - gamma_a[..., None], gamma_a, dloss, scaled)
    # sum_t c_bit (x_bit - x_{b,i,a}) = sum_t c_bit x_bit - (sum_t c_bit) x_{b,i,a}
    y = (c[..., None] * X).sum(dim=2) - c.sum(dim=2)[..., None] * X_a
    grad = torch.bmm(y.transpose(1, 2), Z) / n
    return grad, dominant, omm


def _tensors(device, *arrays):
    f64 = dict(dtype=torch.float64, device=device)
    return [torch.as_tensor(np.asarray(a, dtype=float), **f64).clone() for a in arrays]


def batched_w_gd(W0, X, Z, gamma, loss: str = "logistic", *, step: float = 0.1, iterations: int = 2000,
                 rule: str = "constant", decay: float | None = None, per_decade: int = 10,
                 device: str | None = None) -> BatchedTrajectory:
    """Normalised GD on W for every dataset b: W_b <- W_b - eta_k G_b / ||G_b||_F. Inputs (B, d, d),
    (B, n, T, d), (B, n, d), (B, n, T); checkpoints hold theta = vec(W_b) (K, B, d*d)."""
    return _run("W", [W0], X, Z, gamma, loss, step, iterations, rule, decay, per_decade, device)


def batched_kq_gd(K0, Q0, X, Z, gamma, loss: str = "logistic", *, step: float = 0.1, iterations: int = 2000,
                  rule: str = "constant", decay: float | None = None, per_decade: int = 10,
                  device: str | None = None) -> BatchedTrajectory:
    """Normalised GD on the joint (K_b, Q_b) for every dataset b (K, Q of shape (B, d, m)):
    (K, Q) <- (K, Q) - eta_k (G Q, G^T K) / ||(G Q, G^T K)||_F; checkpoints hold theta = vec(K_b Q_b^T)."""
    return _run("KQ", [K0, Q0], X, Z, gamma, loss, step, iterations, rule, decay, per_decade, device)


def _run(kind, params0, X, Z, gamma, loss, step, iterations, rule, decay, per_decade, device):
    if rule not in STEP_RULES:
        raise ValueError(f"unknown step rule {rule!r}; expected one of {STEP_RULES}")
    device = device or default_device()
    params = _tensors(device, *params0)
    X, Z, gamma = _tensors(device, X, Z, gamma)
    dloss = loss_derivative(loss)
    schedule = set(checkpoint_schedule(iterations, per_decade))
    its, thetas, sels, omms = [], [], [], []
    start = time.perf_counter()
    with torch.no_grad():
        for k in range(iterations + 1):
            W = params[0] if kind == "W" else params[0] @ params[1].transpose(1, 2)
            G, dominant, omm = batched_w_gradient(W, X, Z, gamma, dloss, scaled=True)
            if k in schedule:
                its.append(k)
                thetas.append(W.reshape(W.shape[0], -1).cpu().numpy().copy())
                sels.append(dominant.cpu().numpy().copy())
                omms.append(omm.amax(dim=1).cpu().numpy().copy())
            if k == iterations:
                break
            grads = [G] if kind == "W" else [G @ params[1], G.transpose(1, 2) @ params[0]]
            gn = torch.sqrt(sum((g * g).sum(dim=(1, 2)) for g in grads))[:, None, None]
            eta = step if decay is None else step / (1.0 + k / decay) ** 0.5
            if rule == "relative":
                pn = torch.sqrt(sum((p * p).sum(dim=(1, 2)) for p in params))[:, None, None]
                eta = eta * pn.clamp_min(1.0)
            safe = gn.clamp_min(1e-300)
            params = [p - torch.where(gn > 0, eta * g / safe, torch.zeros_like(g)) for p, g in zip(params, grads)]
    return BatchedTrajectory(iterations=np.array(its), theta=np.stack(thetas), selected=np.stack(sels),
                             one_minus_mass=np.stack(omms), seconds=time.perf_counter() - start)
