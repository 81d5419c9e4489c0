"""Batched stable attention gradients and GD in torch (float64), for many datasets of one shape at once.

The same mathematics as :mod:`numeric.attention` (DESIGN.md section 3), with a leading batch axis b:
features Phi (B, n, T, D), scores gamma (B, n, T), parameters theta (B, D). For each b, with a_bi the
dominant token and r_bit = <theta_b, Phi_bit - Phi_{b,i,a_bi}> <= 0,

    grad L_b = (1/n) sum_i l'(u_bi) sum_{t != a_bi} s_bit ((gamma_bit - gamma_{b,i,a_bi}) + gap_bi) (Phi_bit - Phi_{b,i,a_bi})

and the normalised step uses the same vector times e^{-max_{i,t} r_bit}, so no direction underflows.
Runs on the CPU, or on a GPU when ``device="cuda"`` is given and present.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gd import checkpoint_schedule

# torch is imported where the torch engine runs: small problems on the CPU (the numpy engine) never load it
_DERIVATIVES = {
    "logistic": lambda torch: lambda u: -torch.sigmoid(-u),
    "exponential": lambda torch: lambda u: -torch.exp(-u),
    "correlation": lambda torch: lambda u: -torch.ones_like(u),
}


def loss_derivative(loss):
    """l'(u) in torch: for a built-in loss (its name, or a :class:`numeric.Loss` of that name) a torch
    formula; for any other :class:`numeric.Loss` (e.g. a loss expression) its numpy derivative applied to
    the tensor's values (on the CPU)."""
    import torch

    name = loss if isinstance(loss, str) else loss.name
    if name in _DERIVATIVES:
        return _DERIVATIVES[name](torch)
    if isinstance(loss, str):
        raise ValueError(f"batched GD supports the built-in losses {sorted(_DERIVATIVES)} or a numeric.Loss, "
                         f"not {loss!r}")

    def derivative(u: "torch.Tensor") -> "torch.Tensor":
        values = loss.derivative(u.detach().cpu().numpy())
        return torch.as_tensor(np.asarray(values, dtype=float), dtype=u.dtype, device=u.device)

    return derivative


def default_device() -> str:
    """"cuda" when a GPU is present, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def batched_weights(r: torch.Tensor, mask: torch.Tensor, dgamma: torch.Tensor, gamma_a: torch.Tensor, dloss,
                    scaled: bool = False, u: torch.Tensor | None = None):
    """The coefficients c_bit of the stable gradient, grad L_b = (1/n) sum_{i,t} c_bit (Phi_bit - Phi_{b,i,a_bi}):

        c_bit = l'(u_bi) s_bit ((gamma_bit - gamma_{b,i,a_bi}) + gap_bi)   for t != a_bi, 0 at a_bi,

    from r = logits minus the dominant logit (B, n, T), mask (t != a_bi), dgamma = gamma - gamma_a and
    gamma_a (B, n). With ``scaled`` every c_b is multiplied by e^{-max_{i,t != a} r_bit}.
    Returns (c, one_minus_mass, rmax) with one_minus_mass[b, i] = 1 - s_{b,i,a_bi} (no cancellation) and
    rmax[b] the scaling exponent (0 when not scaled), so the true gradient is e^{rmax} times the scaled one.
    Any model whose logits are linear in its parameter reuses this; only the contraction with the
    feature differences depends on the model. A nonlinear head (numeric.heads) passes its effective score
    differences as ``dgamma`` and its outputs u_bi = Y_bi h(y_bi) as ``u`` (``gamma_a`` is then unused); the
    scale is then set by the largest actual coefficient, as in numeric.attention.StableAttention.coefficients."""
    import torch

    r = r.clamp(max=0.0).masked_fill(~mask, -torch.inf)                   # -inf at a_bi: out of every tail sum
    e = torch.exp(r)
    tail = e.sum(dim=2)                                                    # sum_{t != a} e^{r}
    z = 1.0 + tail
    dg = dgamma.masked_fill(~mask, 0.0)
    gap = -(e * dg).sum(dim=2) / z
    head_scale = u is not None
    u = gamma_a - gap if u is None else u
    if scaled and head_scale:
        # a nonlinear head: scale by the largest actual coefficient (tokens of a sequence whose output is constant
        # carry no weight), c_bit = sign(w) e^{r + ln|w| - m_b}, w = (dgamma + gap) l'(u) / z (numeric.attention)
        w = (dg + gap[..., None]) * (dloss(u) / z)[..., None]
        live = mask & (w != 0)
        expo = torch.where(live, r + torch.log(torch.abs(torch.where(live, w, torch.ones_like(w)))),
                           torch.full_like(r, -torch.inf))
        m = expo.amax(dim=(1, 2))
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        c = torch.where(live, torch.sign(w) * torch.exp(expo - m[:, None, None]), torch.zeros_like(r))
        return c, tail / z, m
    if scaled:
        rmax = r.amax(dim=(1, 2))                                          # (B,), finite: T >= 2
        base = torch.exp(r - rmax[:, None, None])
    else:
        rmax = torch.zeros(r.shape[0], dtype=r.dtype, device=r.device)
        base = e
    return base * (dg + gap[..., None]) * (dloss(u) / z)[..., None], tail / z, rmax


def batched_gradient(theta: torch.Tensor, phi: torch.Tensor, gamma: torch.Tensor, dloss, scaled: bool = False):
    """(grad, dominant, one_minus_mass, rmax) for every batch element; features Phi (B, n, T, D), or (n, T, D)
    with scores (n, T) shared by every element (nothing of size B n T D is formed then);
    ``scaled`` multiplies each grad_b by e^{-max r_b} (same direction, no underflow; the true gradient is
    e^{rmax_b} grad_b)."""
    import torch

    shared = phi.dim() == 3
    if shared:
        n, T, D = phi.shape
        B = theta.shape[0]
        q = torch.einsum("ntd,bd->bnt", phi, theta)
        gamma = gamma.expand(B, n, T)
    else:
        B, n, T, D = phi.shape
        q = torch.einsum("bntd,bd->bnt", phi, theta)
    dominant = q.argmax(dim=2)                                             # (B, n)
    idx = dominant[..., None]
    gamma_a = torch.gather(gamma, 2, idx)[..., 0]                          # (B, n)
    mask = torch.arange(T, device=phi.device) != idx
    if shared:
        r = q - torch.gather(q, 2, idx)                                    # q_bit - q_{b,i,a_bi}
        c, omm, rmax = batched_weights(r, mask, gamma - gamma_a[..., None], gamma_a, dloss, scaled)
        rows = torch.arange(n, device=phi.device)
        phi_a = phi[rows[None, :], dominant]                               # (B, n, D)
        grad = (torch.einsum("bnt,ntd->bd", c, phi) - torch.einsum("bn,bnd->bd", c.sum(dim=2), phi_a)) / n
        return grad, dominant, omm, rmax
    phi_a = torch.gather(phi, 2, idx[..., None].expand(B, n, 1, D))
    dphi = phi - phi_a
    r = torch.einsum("bntd,bd->bnt", dphi, theta)
    c, omm, rmax = batched_weights(r, mask, gamma - gamma_a[..., None], gamma_a, dloss, scaled)
    grad = torch.einsum("bnt,bntd->bd", c, dphi) / n
    return grad, dominant, omm, rmax


@dataclass
class BatchedTrajectory:
    """Checkpoints of a batched run: iterations (K,), theta (K, B, D), selected (K, B, n),
    one_minus_mass (K, B) = max_i (1 - s_{b,i,a_bi}), grad_log10 (K, B) = log10 ||grad L_b|| (finite even
    where the gradient underflows float64; -inf at an exact zero), step (K, B) = the normalised step used
    next; ``state``: what :func:`batched_gd` needs to continue the run exactly; seconds of wall time."""

    iterations: np.ndarray
    theta: np.ndarray
    selected: np.ndarray
    one_minus_mass: np.ndarray
    seconds: float
    grad_log10: np.ndarray | None = None
    step: np.ndarray | None = None
    state: dict | None = None

    def select(self, rows) -> "BatchedTrajectory":
        """The same trajectory restricted to the batch elements ``rows``."""
        rows = np.asarray(rows, dtype=int)
        state = None if self.state is None else {k: (v[rows] if isinstance(v, np.ndarray) and v.ndim else v)
                                                  for k, v in self.state.items()}
        return BatchedTrajectory(self.iterations, self.theta[:, rows], self.selected[:, rows],
                                 self.one_minus_mass[:, rows], self.seconds,
                                 None if self.grad_log10 is None else self.grad_log10[:, rows],
                                 None if self.step is None else self.step[:, rows], state)


# The step rule of normalised GD (every float64 backend uses it, numeric.gd too): the step is
#     eta_k = f_k * max(eta, rho ||theta_k||),
# where the factor f_k halves when the new gradient points against the previous step's direction
# (<g_k, g_{k-1}> < 0: the last step overshot a valley, GD zigzags) and otherwise grows by GROWTH, capped at 1.
# It keeps normalised GD in its monotone regime at every scale without knowing the curvature. The base grows
# with the norm when ``relative`` = rho > 0: the direction of normalised GD changes on the time scale of
# ||theta|| (a step of rho ||theta|| turns it by at most rho radians), so a run started far out, in a cone,
# still moves through several decades of ||theta|| within its budget.
SHRINK, GROWTH = 0.5, 1.1


@dataclass
class BatchedStep:
    """One step of :func:`batched_gd` for every batch element (``step`` and ``relative``: numbers, or one value per
    element): the (scaled, for normalised GD) gradient g (B, D),
    dominant tokens, 1 - s_a, the scaling exponent rmax, ||g||, the unit direction, the step rule's factors
    f (B,), the step sizes eta (B,) and the update delta (theta_{k+1} = theta - delta)."""

    g: torch.Tensor
    dominant: torch.Tensor
    one_minus_mass: torch.Tensor
    rmax: torch.Tensor
    grad_norm: torch.Tensor
    unit: torch.Tensor
    factor: torch.Tensor
    eta: torch.Tensor
    delta: torch.Tensor


def batched_step(theta, phi, gamma, dloss, factor, prev, *, method: str = "normalized", step: float = 1.0,
                 adaptive: bool = False, relative: float = 0.0, update: bool = True) -> BatchedStep:
    """The step :func:`batched_gd` takes from theta (B, D) (its code path): g = the stable gradient (scaled by
    e^{-max r} for normalised GD), unit = g/||g|| (0 where g = 0); normalised: eta_b = ``step``, or with
    ``adaptive`` the step rule above from the previous factors ``factor`` (B,) and directions ``prev`` (B, D)
    (the factors are not updated when ``update`` is False or there is no previous direction),
    delta = eta_b unit_b; fixed: delta = step g. Torch tensors take the torch engine; numpy arrays (with ``dloss``
    from :func:`numeric.batched_numpy.loss_derivative`) the numpy engine, :mod:`numeric.batched_numpy`."""
    if isinstance(theta, np.ndarray):
        return _numpy_step(theta, phi, gamma, dloss, factor, prev, method=method, step=step, adaptive=adaptive,
                           relative=relative, update=update)
    import torch

    normalized = method == "normalized"
    B = theta.shape[0]
    step = _per_element(step, B, theta)
    relative = _per_element(relative, B, theta)
    g, dominant, omm, rmax = batched_gradient(theta, phi, gamma, dloss, scaled=normalized)
    gn = g.norm(dim=1)
    unit = torch.where(gn[:, None] > 0, g / gn.clamp_min(1e-300)[:, None], torch.zeros_like(g))
    if normalized and adaptive and prev is not None and update:
        turned = (unit * prev).sum(dim=1) < 0
        factor = torch.where(turned, factor * SHRINK, torch.clamp(factor * GROWTH, max=1.0))
    if normalized and adaptive:
        eta = factor * torch.maximum(relative * theta.norm(dim=1), step)
    else:
        eta = step.clone()
    delta = eta[:, None] * unit if normalized else step[:, None] * g
    return BatchedStep(g, dominant, omm, rmax, gn, unit, factor, eta, delta)


def _numpy_step(theta, phi, gamma, dloss, factor, prev, *, method, step, adaptive, relative, update) -> BatchedStep:
    """:func:`batched_step` on numpy arrays (the same rule, the numpy engine's gradient)."""
    from . import batched_numpy

    normalized = method == "normalized"
    B = theta.shape[0]
    if np.ndim(step) != 1:
        step = np.broadcast_to(np.asarray(step, dtype=float), (B,))
    if np.ndim(relative) != 1:
        relative = np.broadcast_to(np.asarray(relative, dtype=float), (B,))
    with np.errstate(over="ignore", invalid="ignore"):       # as torch: l' may overflow to inf far from the data
        g, dominant, omm, rmax = batched_numpy.gradient(theta, phi, gamma, dloss, scaled=normalized)
    gn = np.sqrt((g * g).sum(axis=1))
    unit = g / np.where(gn > 0, gn, np.inf)[:, None]          # 0 where g = 0
    if normalized and adaptive and prev is not None and update:
        turned = (unit * prev).sum(axis=1) < 0
        factor = np.where(turned, factor * SHRINK, np.minimum(factor * GROWTH, 1.0))
    if normalized and adaptive:
        eta = factor * np.maximum(relative * np.sqrt((theta * theta).sum(axis=1)), step)
    else:
        eta = np.array(step, dtype=float)
    delta = eta[:, None] * unit if normalized else step[:, None] * g
    return BatchedStep(g, dominant, omm, rmax, gn, unit, factor, eta, delta)


# Below this work per step (B n T D multiply-adds, shared features or not), batched GD on the CPU runs the numpy
# engine: a torch step there costs its per-call overhead (about 0.6 ms for the ~40 calls of a
# step), a numpy step a tenth of that (bench/batched_engines.py measures the crossover).
NUMPY_MAX_SIZE = 200_000


def engine_for(B: int, phi_shape, device: str | None = None) -> str:
    """"numpy" or "torch": the engine :func:`batched_gd` uses for B runs on features of shape ``phi_shape`` on
    ``device`` (None: not chosen; numpy only on the CPU, for small problems; a pure function of the sizes, so runs
    are reproducible, and without a device small problems run on the CPU even where a GPU is present)."""
    if device not in (None, "cpu"):
        return "torch"
    size = B * int(np.prod(phi_shape[-3:]))
    return "numpy" if size <= NUMPY_MAX_SIZE else "torch"


def _per_element(value, B: int, like: torch.Tensor) -> torch.Tensor:
    """A step or rate given as a number or as one value per batch element, as a (B,) tensor."""
    import torch

    if torch.is_tensor(value):
        return value
    return torch.as_tensor(np.broadcast_to(np.asarray(value, dtype=float), (B,)).copy(), dtype=like.dtype,
                           device=like.device)


def _writable(a) -> np.ndarray:
    """``a`` as a float64 array torch may share: a read-only array (the dataset's) is copied, others are not."""
    a = np.asarray(a, dtype=float)
    return a if a.flags.writeable else a.copy()


def batched_gd(theta0, phi, gamma, loss="logistic", *, method: str = "normalized", step: float = 1.0,
               iterations: int = 10_000, per_decade: int = 10, device: str | None = None,
               adaptive: bool = False, relative: float = 0.0, state: dict | None = None,
               start: int = 0, engine: str | None = None) -> BatchedTrajectory:
    """GD on every batch element at once: theta <- theta - step g (fixed) or - eta_b g/||g|| (normalised,
    per element; eta_b = ``step``, or with ``adaptive`` the step rule above with rho = ``relative``; both may
    be numbers or arrays (B,), one value per element). Inputs are arrays (B, D),
    (B, n, T, D), (B, n, T), or (n, T, D), (n, T) for data shared by every element; float64 throughout. ``state`` (a previous trajectory's ``state``) continues a
    run exactly, with iteration numbers counted from ``start`` (checkpoints on the same log-spaced
    schedule as an uninterrupted run). ``engine``: "torch" or "numpy" (:mod:`numeric.batched_numpy`); by default
    :func:`engine_for` picks by size and device."""
    import contextlib
    import time

    theta = np.array(theta0, dtype=float)
    B = theta.shape[0]
    engine = engine or engine_for(B, np.shape(phi), device)
    if engine not in ("numpy", "torch"):
        raise ValueError(f"unknown batched GD engine {engine!r}")
    if method not in ("normalized", "fixed"):
        raise ValueError(f"unknown GD method {method!r}")
    no_grad = contextlib.nullcontext
    if engine == "torch":
        import torch

        from .threads import torch_loaded

        torch_loaded(torch)
        device = device or default_device()
        no_grad = torch.no_grad
        f64 = dict(dtype=torch.float64, device=device)
        theta = torch.as_tensor(theta, **f64)
        phi_e = torch.as_tensor(_writable(phi), **f64)
        gamma_e = torch.as_tensor(_writable(gamma), **f64)
        dloss = loss_derivative(loss)
        step = _per_element(step, B, theta)
        relative = _per_element(relative, B, theta)
        factor = torch.ones(B, **f64)
        to_engine = lambda a: torch.as_tensor(np.asarray(a, dtype=float), **f64)  # noqa: E731
        to_numpy = lambda t: t.cpu().numpy().copy()  # noqa: E731
    else:
        from . import batched_numpy

        phi_e = np.asarray(phi, dtype=float)
        gamma_e = np.asarray(gamma, dtype=float)
        dloss = batched_numpy.loss_derivative(loss)
        step = np.broadcast_to(np.asarray(step, dtype=float), (B,)).copy()
        relative = np.broadcast_to(np.asarray(relative, dtype=float), (B,)).copy()
        factor = np.ones(B)
        to_engine = lambda a: np.array(a, dtype=float)  # noqa: E731
        to_numpy = lambda a: np.array(a)  # noqa: E731
    end = start + iterations
    schedule = {k for k in checkpoint_schedule(end, per_decade) if k >= start}
    its, thetas, sels, omms, glogs, etas = [], [], [], [], [], []
    t0 = time.perf_counter()
    normalized = method == "normalized"
    prev = None
    if state is not None:
        factor = to_engine(state["factor"])
        prev = None if state.get("direction") is None else to_engine(state["direction"])
    ln10 = float(np.log(10.0))
    with no_grad():
        for k in range(start, end + 1):
            last = k == end
            bs = batched_step(theta, phi_e, gamma_e, dloss, factor, prev, method=method, step=step,
                              adaptive=adaptive, relative=relative, update=not last)
            factor = bs.factor
            if k in schedule and not (state is not None and k == start):
                its.append(k)
                thetas.append(to_numpy(theta))
                sels.append(to_numpy(bs.dominant))
                omms.append(to_numpy(bs.one_minus_mass).max(axis=1))
                with np.errstate(divide="ignore"):
                    glogs.append(np.log10(to_numpy(bs.grad_norm)) + to_numpy(bs.rmax) / ln10)
                etas.append(to_numpy(bs.eta))
            if last:
                break
            theta = theta - bs.delta
            if normalized:
                prev = bs.unit
    state = {"factor": to_numpy(factor), "direction": None if prev is None else to_numpy(prev),
             "theta": to_numpy(theta), "iteration": end}
    return BatchedTrajectory(iterations=np.array(its), theta=np.stack(thetas), selected=np.stack(sels),
                             one_minus_mass=np.stack(omms), seconds=time.perf_counter() - t0,
                             grad_log10=np.stack(glogs), step=np.stack(etas), state=state)
