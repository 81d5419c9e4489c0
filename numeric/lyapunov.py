"""How GD amplifies perturbations: a finite-time Lyapunov estimate along a float64 run.

GD is the map theta_{k+1} = F_k(theta_k) = theta_k - delta_k(theta_k) (:func:`numeric.gd.float64_step`; for
normalised GD delta_k = eta_k g(theta)/||g(theta)|| with eta_k held at the run's value: the zigzag rule's
discrete choice is not differentiated). A perturbation e_k of theta_k becomes, to first order,
e_{k+1} = J_k e_k with J_k = I - eta_k (I - u u^T) (dg/dtheta) / ||g|| (u = g/||g||), the Jacobian of the step.
Along the run a tangent vector v (unit, fixed seed) is propagated, v <- J_k v / ||J_k v||, and the growth
factors ||J_k v|| are multiplied: G_k = prod_{j<k} ||J_j v_j|| estimates how much the most amplified
perturbation has grown by iteration k (the tangent vector turns towards the most expanding direction),
and ln G_k / k is the finite-time Lyapunov exponent.

J_k v is a Jacobian-vector product by central differences of the float64 step direction,
(d(theta + h v) - d(theta - h v)) / (2h) with h = ``h`` / max ||Phi_it - Phi_is|| (accurate to a few digits,
enough for a growth factor; the tests compare it with torch's forward-mode JVP).

The rounding that float64 commits at step k is at most about eps_k = u (||theta_{k+1}|| + eta_k (1 + rho_k))
(the rounding of the update and of the step direction, rho_k = ||theta_k|| max ||Phi_it - Phi_{i,a_i}||;
u = 2^-53). Carried along with the growth factors, R_{k+1} = R_k ||J_k v_k|| + eps_k estimates how far a
float64 run may drift from the exact run by iteration k: trajectories part (R_k ~ ||theta_k||) where the
dynamics amplifies enough, without any step being wrong.
"""
from __future__ import annotations

import numpy as np

from .attention import StableAttention
from .gd import StepState, checkpoint_schedule, float64_step
from .losses import Loss

U = 2.0 ** -53


def _direction(kernel, theta, loss, normalized):
    g = kernel.gradient(theta, loss, scaled=normalized)
    if not normalized:
        return g
    gn = float(np.sqrt(g @ g))
    return g / gn if gn > 0 else g


def initial_tangent(D: int, seed: int = 0) -> np.ndarray:
    """The unit tangent vector the propagation starts from (standard normal, ``seed``)."""
    v = np.random.default_rng(seed).standard_normal(D)
    return v / np.linalg.norm(v)


def step_jvp(kernel, theta, v, loss: Loss, eta: float, *, normalized: bool = True, h: float = 1e-6) -> np.ndarray:
    """J v for the step map F(theta) = theta - eta d(theta), d = g/||g|| (normalised) or grad L (fixed), by
    central differences: v - eta (d(theta + h v) - d(theta - h v)) / (2h). ``kernel`` is a
    :class:`numeric.attention.StableAttention` of its own (its cache moves with the evaluation points)."""
    theta = np.asarray(theta, dtype=float)
    v = np.asarray(v, dtype=float)
    plus = _direction(kernel, theta + h * v, loss, normalized)
    minus = _direction(kernel, theta - h * v, loss, normalized)
    return v - eta * (plus - minus) / (2 * h)


def tangent_growth(theta0, phi, gamma, loss: Loss, *, iterations: int, method: str = "normalized",
                   step: float = 1.0, adaptive: bool = False, relative: float = 0.0, per_decade: int = 10,
                   h: float = 1e-6, seed: int = 0) -> dict:
    """Replay GD from ``theta0`` (the steps of :func:`numeric.gd.run_gd`, bit for bit) for ``iterations``
    steps and propagate a tangent vector (module docstring). Returns, at the checkpoints of run_gd's schedule:
    iterations, theta (the replayed iterates, to confirm the replay), log10 G_k, the Lyapunov exponent
    ln G_k / k, and log10 R_k (the rounding drift estimate); plus the largest one-step growth and where."""
    with np.errstate(all="ignore"):
        return _tangent_growth(theta0, phi, gamma, loss, iterations=iterations, method=method, step=step,
                               adaptive=adaptive, relative=relative, per_decade=per_decade, h=h, seed=seed)


def _tangent_growth(theta0, phi, gamma, loss, *, iterations, method, step, adaptive, relative, per_decade, h, seed):
    phi = np.asarray(phi, dtype=float)
    theta = np.array(theta0, dtype=float).ravel().copy()
    D = theta.size
    kernel = StableAttention(phi, gamma)
    fd_kernel = StableAttention(phi, gamma)   # its own cache, so the replay's is untouched
    normalized = method == "normalized"
    flat = phi.reshape(-1, D)
    span = float(np.max(np.linalg.norm(flat[:, None, :] - flat[None, :, :], axis=2))) if len(flat) > 1 else 1.0
    hh = h / max(span, 1e-300)
    dmax = float(np.max(np.linalg.norm(phi - phi[:, :1, :], axis=2))) if phi.shape[1] > 1 else 0.0
    v = initial_tangent(D, seed)
    schedule = set(checkpoint_schedule(iterations, per_decade))
    state = StepState()
    log_g = 0.0
    drift = 0.0
    out = {"iterations": [], "theta": [], "log10_growth": [], "lyapunov": [], "log10_drift": []}
    worst = (0.0, 0)
    for k in range(iterations + 1):
        if k in schedule:
            out["iterations"].append(k)
            out["theta"].append(theta.copy())
            out["log10_growth"].append(log_g / np.log(10.0))
            out["lyapunov"].append(log_g / k if k else 0.0)
            out["log10_drift"].append(float(np.log10(drift)) if drift > 0 else float("-inf"))
        if k == iterations:
            break
        fs = float64_step(kernel, theta, loss, state, method=method, step=step, adaptive=adaptive, relative=relative)
        eta = fs.eta
        jv = step_jvp(fd_kernel, theta, v, loss, eta, normalized=normalized, h=hh)
        growth = float(np.linalg.norm(jv))
        if not np.isfinite(growth) or growth == 0.0:
            growth = 1.0
            jv = v
        if np.log(growth) > worst[0]:
            worst = (float(np.log(growth)), k)
        log_g += np.log(growth)
        v = jv / np.linalg.norm(jv)
        theta_next = theta - fs.delta
        rho = float(np.linalg.norm(theta)) * dmax
        drift = drift * growth + U * (float(np.linalg.norm(theta_next)) + eta * (1.0 + rho))
        theta = theta_next
        if normalized:
            state = StepState(fs.factor, fs.unit)
    out["max_step_log10_growth"] = worst[0] / np.log(10.0)
    out["max_step_growth_at"] = worst[1]
    out["h"] = hh
    return out
