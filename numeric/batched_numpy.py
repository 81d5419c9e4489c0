"""Batched stable attention gradients in numpy (float64): the CPU engine of :func:`numeric.batched.batched_gd` for
small batches, where a torch step costs its per-operation overhead (tens of microseconds per call) many times over.

The mathematics is that of :mod:`numeric.batched` (DESIGN.md section 3), term for term: features Phi (B, n, T, D)
or (n, T, D) shared by every element, scores gamma, parameters theta (B, D); a_bi the dominant token,
r_bit = <theta_b, Phi_bit - Phi_{b,i,a_bi}> <= 0, s_bit = e^{r_bit} / (1 + sum_{t != a} e^{r_bit}),

    grad L_b = (1/n) sum_i l'(u_bi) sum_{t != a_bi} s_bit ((gamma_bit - gamma_{b,i,a_bi}) + gap_bi) (Phi_bit - Phi_{b,i,a_bi}),
    gap_bi = -sum_{t != a} s_bit (gamma_bit - gamma_{b,i,a_bi}) = gamma_{b,i,a_bi} - u_bi,

with the normalised (``scaled``) variant multiplying every coefficient by e^{-max_{i,t != a} r_bit}, so that no
direction underflows. Nothing here subtracts 1 - s_a. The torch engine and this one are independent codings of the
same formulas; tests/numeric/test_batched_numpy.py holds them to each other (and both to numeric.run_gd).
"""
from __future__ import annotations

import numpy as np

from .losses import BUILTIN_LOSSES


def loss_derivative(loss):
    """l'(u) on float64 arrays: a built-in loss by name, or the ``derivative`` of a :class:`numeric.Loss`."""
    if isinstance(loss, str):
        if loss not in BUILTIN_LOSSES:
            raise ValueError(f"batched GD supports the built-in losses {sorted(BUILTIN_LOSSES)} or a numeric.Loss, "
                             f"not {loss!r}")
        return BUILTIN_LOSSES[loss].derivative
    return lambda u: np.asarray(loss.derivative(u), dtype=float)


def weights(r: np.ndarray, mask: np.ndarray, dgamma: np.ndarray, gamma_a: np.ndarray, dloss, scaled: bool = False):
    """(c, one_minus_mass, rmax), as :func:`numeric.batched.batched_weights` (linear heads):

        c_bit = l'(u_bi) s_bit ((gamma_bit - gamma_{b,i,a_bi}) + gap_bi) for t != a_bi, 0 at a_bi,
        u_bi = gamma_{b,i,a_bi} - gap_bi,  gap_bi = -sum_{t != a} e^{r_bit} (gamma_bit - gamma_{b,i,a_bi}) / z_bi,
        z_bi = 1 + sum_{t != a} e^{r_bit},  one_minus_mass_bi = (z_bi - 1) / z_bi (summed tail, no cancellation);

    ``r`` <= 0 (logits minus the dominant one); with ``scaled`` the coefficients are multiplied by e^{-rmax_b},
    rmax_b = max_{i, t != a} r_bit."""
    r = np.where(mask, r, -np.inf)                                   # the dominant token out of every tail sum
    e = np.exp(r)
    tail = e.sum(axis=2)
    z = 1.0 + tail
    dg = dgamma * mask
    gap = -(e * dg).sum(axis=2) / z
    w = (dg + gap[..., None]) * (dloss(gamma_a - gap) / z)[..., None]
    if scaled:
        rmax = r.max(axis=(1, 2))
        return np.exp(r - rmax[:, None, None]) * w, tail / z, rmax
    return e * w, tail / z, np.zeros(r.shape[0])


def gradient(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, dloss, scaled: bool = False):
    """(grad, dominant, one_minus_mass, rmax) for every batch element, as :func:`numeric.batched.batched_gradient`:
    grad_b = (1/n) sum_{i,t} c_bit (Phi_bit - Phi_{b,i,a_bi}), computed as (1/n)(sum_{i,t} c_bit Phi_bit -
    sum_i (sum_t c_bit) Phi_{b,i,a_bi}) when the features are shared (n, T, D), so nothing of size B n T D is formed."""
    B = theta.shape[0]
    if phi.ndim == 3:
        n, T, D = phi.shape
        flat = phi.reshape(n * T, D)
        q = (theta @ flat.T).reshape(B, n, T)
        dominant = q.argmax(axis=2)
        rows = np.arange(n)
        r = q - q.max(axis=2, keepdims=True)                          # the max is the dominant token's logit
        gamma_a = gamma[rows, dominant]                                # (B, n)
        mask = np.arange(T) != dominant[..., None]
        c, omm, rmax = weights(r, mask, gamma - gamma_a[..., None], gamma_a, dloss, scaled)
        phi_a = phi[rows, dominant]                                    # (B, n, D)
        grad = (c.reshape(B, n * T) @ flat - (c.sum(axis=2)[..., None] * phi_a).sum(axis=1)) / n
        return grad, dominant, omm, rmax
    B, n, T, D = phi.shape
    q = np.einsum("bntd,bd->bnt", phi, theta)
    dominant = q.argmax(axis=2)
    bi = np.arange(B)[:, None]
    ni = np.arange(n)[None, :]
    gamma_a = gamma[bi, ni, dominant]
    mask = np.arange(T) != dominant[..., None]
    dphi = phi - phi[bi, ni, dominant][:, :, None, :]
    r = np.einsum("bntd,bd->bnt", dphi, theta)
    c, omm, rmax = weights(np.minimum(r, 0.0), mask, gamma - gamma_a[..., None], gamma_a, dloss, scaled)
    grad = np.einsum("bnt,bntd->bd", c, dphi) / n
    return grad, dominant, omm, rmax
