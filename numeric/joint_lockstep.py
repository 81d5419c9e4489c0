"""Joint GD on (v, p) from several initialisations at once, in lockstep: one array operation per step serves
every run, so on small data (where a step costs the fixed overhead of each numpy call, not its arithmetic) R runs
cost about what one does.

The stable joint formulas of :mod:`numeric.joint` (DESIGN.md section 3), with a leading run axis b and the head's
sign folded into the token features. With a_bi the dominant token of run b (largest logit <p_b, Phi_it>):

    r_bit     = <p_b, Phi_it - Phi_{i,a_bi}>  (<= 0; -inf at a_bi in the tail sums)
    dgamma_bit = <v_b, Y_i (x_it - x_{i,a_bi})>,   gamma_{b,i,a} = <v_b, Y_i x_{i,a_bi}>
    z_bi = 1 + sum_{t != a} e^{r_bit},   s_bit = e^{r_bit} / z_bi
    gap_bi = -sum_{t != a} s_bit dgamma_bit,   u_bi = gamma_{b,i,a} - gap_bi
    Y_i z_i(p_b) = Y_i x_{i,a_bi} + sum_{t != a} s_bit Y_i (x_it - x_{i,a_bi})            (mixed features)
    grad_v L_b = (1/n) sum_i l'(u_bi) Y_i z_i(p_b)
    grad_p L_b = (1/n) sum_i l'(u_bi) sum_{t != a} s_bit (dgamma_bit + gap_bi) (Phi_it - Phi_{i,a_bi})

dgamma is formed from the feature differences (not as a difference of two scores) and nothing forms
1 - s_{b,i,a}. For normalised steps each block of each run is scaled as in :meth:`numeric.joint.JointKernel.
scaled_gradient`: the v-weights l'(u_bi) by e^{-max_i log(-l'(u_bi))}, the p-weights l'(u_bi) s_bit by
e^{-max_{i,t} (log(-l'(u_bi)) + log s_bit)}, both in the log domain, so no direction underflows.

The checkpoints of every run are built by its own :class:`numeric.joint.JointKernel` (the same state as a
single run's), each run keeps its own checkpoint schedule and observer, and a run that stops leaves the lockstep.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from .gd import CheckpointSchedule, Trajectory
from .joint import JointCheckpoint, JointKernel, log_neg_derivative
from .losses import Loss

LOCKSTEP_MAX_ENTRIES = 1 << 18   # R runs share a lockstep while R^2 n (T D + (T + 1) d) stays within this


class JointLockstep:
    """The formulas above for R runs on shared data X (n, T, d), Y (n,), Phi (n, T, D), as products of 2-D arrays.

    Pairs (run b, sequence i) are numbered k = b n + i; per-token arrays are (T, R n), token-major. The parameters
    of every run are one vector ``theta`` = (p_0, ..., p_{R-1}, v_0, ..., v_{R-1}), owned here and updated in
    place by :meth:`step`. The rows Phi_it - Phi_{i,a_bi} (row t R n + k, columns of p_b) sit block-diagonally in
    ``dphi_bd`` (T R n, R D); the rows Y_i (x_it - x_{i,a_bi}) for t < T and Y_i x_{i,a_bi} (row T R n + k) in
    ``yq_bd`` ((T + 1) R n, R d). So one matrix-vector product gives every run's logits r, one every run's
    (dgamma, gamma_a), and each gradient block is one vector-matrix product (the v-weights l'(u_bi) (s_bi, 1) give
    sum_i l'(u_bi) (Y_i x_{i,a} + sum_t s_bit Y_i (x_it - x_{i,a})) = sum_i l'(u_bi) Y_i z_i(p_b)). The blocks of a
    pair are rebuilt where its dominant token changes (some r_bit > 0). Intermediate arrays are buffers reused
    from step to step (small data: a step is a few dozen numpy calls whatever R is)."""

    def __init__(self, X, Y, phi, v0s, p0s):
        self.X = np.asarray(X, dtype=float)
        self.Y = np.asarray(Y, dtype=float)
        self.phi = np.asarray(phi, dtype=float)
        if self.phi.ndim != 3:
            raise ValueError("joint lockstep GD: the features Phi must be a dense (n, T, D) array")
        self.n, self.T, self.d = self.X.shape
        self.D = self.phi.shape[2]
        self.yx = self.Y[:, None, None] * self.X                                  # Y_i x_it (n, T, d)
        self.ones_T = np.ones(self.T)
        self.tiny = np.finfo(float).tiny
        self.refreshes = 0
        V = np.array([np.asarray(v, dtype=float).ravel() for v in v0s]).reshape(len(v0s), self.d)
        P = np.array([np.asarray(p, dtype=float).ravel() for p in p0s]).reshape(len(p0s), self.D)
        self._build(P, V)

    def _build(self, P: np.ndarray, V: np.ndarray, dominant: np.ndarray | None = None) -> None:
        """Arrays and buffers for the runs with parameters P (R, D), V (R, d); every pair refreshed (with the
        given dominant tokens (R n,) when known)."""
        R, n, T, d, D = len(P), self.n, self.T, self.d, self.D
        Rn = R * n
        self.R = R
        self.theta = np.concatenate([P.ravel(), V.ravel()])
        self.p_flat, self.v_flat = self.theta[:R * D], self.theta[R * D:]
        self.dominant = np.zeros(Rn, dtype=np.intp)
        self.dphi_bd = np.zeros((T * Rn, R * D))
        self.yq_bd = np.zeros(((T + 1) * Rn, R * d))
        self.off = np.zeros((T, Rn))                                              # -inf at a_bi: out of the tails
        self.r = np.empty(T * Rn)
        self.scores = np.empty(((T + 1) * Rn))
        self.dgamma = self.scores.reshape(T + 1, Rn)[:T]                          # Y_i v_b^T (x_it - x_{i,a})
        self.gamma_a = self.scores.reshape(T + 1, Rn)[T]                          # Y_i v_b^T x_{i,a}
        self.s_ext = np.ones((T + 1, Rn))                                         # (s_bi, 1)
        self.ones_Rn = np.ones(Rn)
        self.coef = np.empty((T, Rn))
        self.logs = np.empty((T, Rn))
        self.w_v = np.empty((T + 1, Rn))
        self.w_p = np.empty((T, R, n))
        self.grad = np.empty(R * (D + d))
        sizes = np.r_[np.full(R, D), np.full(R, d)]
        self.block_starts = np.r_[0, np.cumsum(sizes)[:-1]]
        self.block_of = np.repeat(np.arange(2 * R), sizes)
        self._refresh(np.arange(Rn), dominant)

    def p_of(self) -> np.ndarray:
        """p_b of every run, (R, D) (a view of theta)."""
        return self.p_flat.reshape(self.R, self.D)

    def v_of(self) -> np.ndarray:
        """v_b of every run, (R, d) (a view of theta)."""
        return self.v_flat.reshape(self.R, self.d)

    def keep(self, rows: np.ndarray) -> None:
        """Keep only the runs ``rows`` (indices into the current runs), in that order."""
        self._build(self.p_of()[rows], self.v_of()[rows], self.dominant.reshape(self.R, self.n)[rows].ravel())

    def _rows(self, k: np.ndarray, tokens: int) -> np.ndarray:
        """Row indices t R n + k of the pairs k for t < ``tokens``, (len(k), tokens)."""
        return np.arange(tokens) * (self.R * self.n) + k[:, None]

    def _refresh(self, k: np.ndarray, dom: np.ndarray | None = None) -> None:
        """The dominant tokens (first largest logit, unless ``dom`` gives them) of the pairs ``k`` at theta, and
        their rows."""
        n, T, d, D = self.n, self.T, self.d, self.D
        bb, ii = k // n, k % n
        if dom is None:
            dom = np.argmax(np.einsum("jtc,jc->jt", self.phi[ii], self.p_of()[bb]), axis=1)
        self.dominant[k] = dom
        self.dphi_bd[self._rows(k, T)[:, :, None], (bb * D)[:, None, None] + np.arange(D)] = (
            self.phi[ii] - self.phi[ii, dom][:, None, :])
        ya = self.yx[ii, dom]
        self.yq_bd[self._rows(k, T + 1)[:, :, None], (bb * d)[:, None, None] + np.arange(d)] = np.concatenate(
            [self.yx[ii] - ya[:, None, :], ya[:, None, :]], axis=1)
        self.off[:, k] = 0.0
        self.off[dom, k] = -np.inf
        self.refreshes += 1

    def tail_logits(self) -> np.ndarray:
        """r (T, R n): r_bit at [t, b n + i], clipped at 0 after refreshing the pairs where some r_bit > 0."""
        r = np.dot(self.dphi_bd, self.p_flat, out=self.r).reshape(self.T, -1)
        if np.maximum.reduce(self.r) > 0:   # the dominant token's own r is exactly 0
            k = np.nonzero(np.maximum.reduce(r, axis=0) > 0)[0]
            self._refresh(k)
            rows = self._rows(k, self.T)
            cols = (k // self.n * self.D)[:, None] + np.arange(self.D)
            r[:, k] = np.einsum("jtc,jc->tj", self.dphi_bd[rows[:, :, None], cols[:, None, :]], self.p_flat[cols])
            np.minimum(r, 0.0, out=r)
        return r

    def descent(self, loss: Loss, scaled: bool) -> np.ndarray:
        """-(grad_p L_b for every b, grad_v L_b for every b) at theta, laid out as theta; with ``scaled`` each block of
        each run times its own positive factor (module docstring): exact directions, meaningless lengths. The answer
        is a buffer that the next call overwrites."""
        R, n, T = self.R, self.n, self.T
        RD = R * self.D
        r_tail = self.tail_logits() + self.off
        np.dot(self.yq_bd, self.v_flat, out=self.scores)
        dgamma = self.dgamma
        e_tail = np.exp(r_tail)
        tail = self.ones_T.dot(e_tail)
        z = tail + self.ones_Rn
        neg_gap = self.ones_T.dot(e_tail * dgamma) / z                               # -gap_bi
        u = self.gamma_a + neg_gap
        s_ext = self.s_ext
        np.divide(e_tail, z, out=s_ext[:T])
        coef = np.subtract(dgamma, neg_gap, out=self.coef)                           # dgamma + gap
        g = self.grad
        if scaled:
            lam = log_neg_derivative(loss, u)                                        # log(-l'(u_bi))
            lam_r = lam.reshape(R, n)
            wv = np.exp(lam_r - np.maximum.reduce(lam_r, axis=1)[:, None]).reshape(-1)
            np.dot(np.multiply(s_ext, wv, out=self.w_v).reshape(-1), self.yq_bd, out=g[RD:])
            if T == 1:                                                               # no tail: grad_p = 0
                g[:RD] = 0.0
                return g
            logs = np.add(r_tail, lam - np.log1p(tail), out=self.logs).reshape(T, R, n)   # log(-l'(u_bi) s_bit)
            m = np.maximum.reduce(logs, axis=(0, 2))
            w_p = np.multiply(np.exp(logs - m[:, None]), coef.reshape(T, R, n), out=self.w_p)
        else:
            ndl = np.asarray(loss.derivative(u), dtype=float) / -n                  # -l'(u_bi) / n
            np.dot(np.multiply(s_ext, ndl, out=self.w_v).reshape(-1), self.yq_bd, out=g[RD:])
            w_p = np.multiply(s_ext[:T] * ndl, coef, out=self.w_p.reshape(T, R * n))
        np.dot(w_p.reshape(-1), self.dphi_bd, out=g[:RD])
        return g

    def step(self, loss: Loss, eta: float, normalized: bool) -> None:
        """One GD step of every run, in place: theta += eta g with g the descent direction, each block (p_b, v_b)
        scaled to length 1 when ``normalized``, else the true negative gradient. (A block shorter than the smallest
        normal double, a zero block or one cancelled to denormals, is divided by that number: a zero block stays
        zero.)"""
        g = self.descent(loss, scaled=normalized)
        if normalized:
            norms = np.maximum(np.sqrt(np.add.reduceat(g * g, self.block_starts)), self.tiny)
            g /= norms[self.block_of]
        g *= eta
        self.theta += g


def _checkpoint(kernel: JointKernel, k: int, v: np.ndarray, p: np.ndarray, loss: Loss) -> JointCheckpoint:
    js = kernel.state(v, p)
    return JointCheckpoint(iteration=k, v=v.copy(), p=p.copy(), v_norm=float(np.linalg.norm(v)),
                           p_norm=float(np.linalg.norm(p)), loss=float(np.mean(loss.value(js.u))),
                           selected=tuple(int(a) for a in js.att.dominant),
                           one_minus_mass=float(np.max(js.att.one_minus_mass)))


def lockstep_groups(runs: int, n: int, T: int, d: int, D: int) -> list[range]:
    """Consecutive groups of the runs, R runs to a group while R^2 n (T D + (T + 1) d) <= LOCKSTEP_MAX_ENTRIES (the
    block-diagonal arrays of :class:`JointLockstep`), at least one.

    >>> lockstep_groups(3, 3, 2, 2, 2), lockstep_groups(3, 200, 64, 128, 128)
    ([range(0, 3)], [range(0, 1), range(1, 2), range(2, 3)])
    """
    size = max(1, math.isqrt(LOCKSTEP_MAX_ENTRIES // max(1, n * (T * D + (T + 1) * d))))
    return [range(a, min(a + size, runs)) for a in range(0, runs, size)]


def run_joint_gd_lockstep(v0s: Sequence, p0s: Sequence, X, Y, phi, loss: Loss, *, method: str = "normalized",
                          step: float = 1.0, max_iter: int = 100_000, time_budget: float | None = None,
                          per_decade: int = 10, observers: Sequence[Callable | None] | None = None) -> list:
    """Joint GD on (v, p) from each (v0s[b], p0s[b]), float64, with the stable gradients (module docstring):

    fixed:       (v, p) <- (v, p) - eta (grad_v L, grad_p L)
    normalized:  v <- v - eta grad_v L / ||grad_v L||,  p <- p - eta grad_p L / ||grad_p L||  (per block)

    Every run has the checkpoint schedule, stop rules and observer (``observers[b]``) of
    :func:`numeric.joint.run_joint_gd`; runs share a lockstep in the groups of :func:`lockstep_groups` (a run's
    ``seconds`` are those of its group up to its stop). Returns one JointTrajectory per run, in order."""
    if method not in ("normalized", "fixed"):
        raise ValueError(f"unknown GD method {method!r}")
    runs = len(v0s)
    if len(p0s) != runs:
        raise ValueError("run_joint_gd_lockstep: as many initial heads as initial prompts are needed")
    observers = list(observers) if observers is not None else [None] * runs
    X = np.asarray(X, dtype=float)
    n, T, d = X.shape
    D = np.asarray(phi).shape[2]
    out: list = [None] * runs
    for group in lockstep_groups(runs, n, T, d, D):
        for b, traj in zip(group, _run_group([v0s[b] for b in group], [p0s[b] for b in group], X, Y, phi, loss,
                                             method, step, max_iter, time_budget, per_decade,
                                             [observers[b] for b in group])):
            out[b] = traj
    return out


def _run_group(v0s, p0s, X, Y, phi, loss, method, step, max_iter, time_budget, per_decade, observers) -> list:
    R = len(v0s)
    books = [CheckpointSchedule(max_iter, per_decade, time_budget, obs) for obs in observers]
    states = [JointKernel(X, Y, phi) for _ in range(R)]
    reasons: list = [None] * R
    seconds = [0.0] * R
    active = list(range(R))                 # the run of each block of theta and of the lockstep arrays
    lock = JointLockstep(X, Y, phi, v0s, p0s)
    normalized = method == "normalized"
    k = 0
    while True:
        stopped = False
        for row, b in enumerate(active):
            if books[b].due(k):
                cp = _checkpoint(states[b], k, lock.v_of()[row], lock.p_of()[row], loss)
                reasons[b] = books[b].record(cp)
                if reasons[b] is not None:
                    seconds[b] = books[b].seconds
                    stopped = True
        if stopped:
            rows = np.array([row for row, b in enumerate(active) if reasons[b] is None], dtype=np.intp)
            active = [active[row] for row in rows]
            if not active:
                break
            lock.keep(rows)
        lock.step(loss, step, normalized)
        k += 1
    return [Trajectory(method=method, step=step, checkpoints=books[b].checkpoints, stop_reason=reasons[b],
                       seconds=seconds[b]) for b in range(R)]
