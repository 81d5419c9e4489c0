"""Gradient descent on an attention parameter, float64, with log-spaced checkpoints.

* fixed step:       theta_{k+1} = theta_k - eta grad L(theta_k)
* normalised step:  theta_{k+1} = theta_k - eta_k grad L(theta_k) / ||grad L(theta_k)||, with eta_k = eta, or
  (``adaptive=True``) the step rule of :mod:`numeric.batched`: eta_k = f_k max(eta, rho ||theta_k||), where
  f_k halves when the new gradient points against the previous step (<g_k, g_{k-1}> < 0, a zigzag) and
  otherwise grows by 10%, capped at 1 (rho = ``relative``, default 0).

One step is :func:`float64_step` (the run's code path, also used to reproduce a step from a checkpoint: each
checkpoint keeps the step rule's state entering its iteration).

The gradient is the stable one of :mod:`numeric.attention`; the normalised step uses the scaled
gradient, whose direction survives at any norm. The loop records a :class:`Checkpoint` at
iterations spaced geometrically (``per_decade`` per factor of ten); an optional ``observer`` sees
every checkpoint and can stop the run. Budgets are iteration counts; a wall-clock budget is an option
(``time_budget``, default none), and when it cuts a run the trajectory says so (stop reason "time"). The stop
reason "stationary": the float64 gradient is exactly zero, or (fixed step) the step leaves theta unchanged in
float64, a fixed point of the float64 iteration (every later iterate would be the same).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .attention import StableAttention
from .losses import Loss

METHODS = ("normalized", "fixed")


@dataclass
class Checkpoint:
    """The state of GD after ``iteration`` steps.

    norm = ||theta_k||, loss = L(theta_k), selected = the dominant tokens a_i,
    one_minus_mass = max_i (1 - s_{i,a_i}) (computed without cancellation),
    grad_norm = ||grad L(theta_k)|| (0 when it underflows), grad_log10 = log10 ||grad L(theta_k)|| (finite
    where grad_norm underflows; -inf at an exact zero), step = the normalised step eta_k taken next (the
    fixed step for fixed-step GD), extra: what an observer added, step_state = the step rule's state entering
    iteration k (f_{k-1} and the previous unit direction), from which :func:`float64_step` reproduces the
    step taken at k exactly.
    """

    iteration: int
    theta: np.ndarray
    norm: float
    loss: float
    selected: tuple
    one_minus_mass: float
    grad_norm: float
    extra: dict = field(default_factory=dict)
    grad_log10: float | None = None
    step: float | None = None
    step_state: "StepState | None" = None


@dataclass
class StepState:
    """The state of the step rule entering an iteration: ``factor`` = f_{k-1} (1 before the first iteration)
    and ``direction`` = the previous unit step direction g_{k-1}/||g_{k-1}|| (None at the start)."""

    factor: float = 1.0
    direction: np.ndarray | None = None


@dataclass
class FloatStep:
    """One step of :func:`run_gd` from theta: the (scaled, for normalised GD) gradient ``g`` and its norm,
    the unit direction (normalised GD), the step rule's factor f_k and whether the zigzag test turned it down
    (None without a test), the step size eta_k, the update ``delta`` (theta_{k+1} = theta - delta) and the
    attention tails of the gradient computation."""

    g: np.ndarray
    grad_norm: float
    unit: np.ndarray | None
    factor: float
    turned: bool | None
    eta: float
    delta: np.ndarray
    tails: tuple
    scale: float = 0.0     # normalised GD: g = e^{-scale} grad L (the kernel's scale exponent)


def step_size(state: StepState, unit: np.ndarray, theta: np.ndarray, step: float, adaptive: bool,
              relative: float = 0.0) -> tuple:
    """(f_k, turned, eta_k) of normalised GD: eta_k = ``step``, or (``adaptive``) the rule of
    :mod:`numeric.batched`: f_k = f_{k-1} SHRINK when <unit_k, unit_{k-1}> < 0 (turned), else
    min(1, f_{k-1} GROWTH) (f_k = f_{k-1} without a previous direction), eta_k = f_k max(step, rho ||theta_k||)."""
    from .batched import GROWTH, SHRINK

    if not adaptive:
        return state.factor, None, float(step)
    factor, turned = state.factor, None
    if state.direction is not None:
        turned = float(unit @ state.direction) < 0
        factor = factor * SHRINK if turned else min(1.0, factor * GROWTH)
    return factor, turned, factor * max(float(step), relative * float(np.sqrt(theta @ theta)))


def float64_step(kernel: StableAttention, theta: np.ndarray, loss: Loss, state: StepState, *, method: str,
                 step: float, adaptive: bool = False, relative: float = 0.0) -> FloatStep:
    """The step :func:`run_gd` takes from theta with the step rule's ``state`` (the code path of the run):

    * normalised: g = e^{-max r} grad L(theta) (stable, scaled), unit = g/||g|| (0 when g = 0),
      (f_k, eta_k) = :func:`step_size`, delta = eta_k unit;
    * fixed: g = grad L(theta), delta = step g.
    """
    normalized = method == "normalized"
    tails = kernel.tails(theta)
    g = kernel.gradient(theta, loss, scaled=normalized, tails=tails)
    scale = kernel.scale_exponent
    gn = float(np.sqrt(g @ g))
    if not normalized:
        return FloatStep(g=g, grad_norm=gn, unit=None, factor=state.factor, turned=None, eta=float(step),
                         delta=step * g, tails=tails)
    unit = g / gn if gn > 0 else g
    factor, turned, eta = step_size(state, unit, theta, step, adaptive, relative)
    return FloatStep(g=g, grad_norm=gn, unit=unit, factor=factor, turned=turned, eta=eta, delta=eta * unit,
                     tails=tails, scale=scale)


@dataclass
class Trajectory:
    """A GD run: its checkpoints, and why it stopped ("observer", "iterations", "time", "stationary")."""

    method: str
    step: float
    checkpoints: list
    stop_reason: str
    seconds: float

    @property
    def final(self) -> Checkpoint:
        return self.checkpoints[-1]

    def selection_stable(self) -> bool:
        """The final selection held at every checkpoint of the second half of the run (k >= k_final / 2)."""
        final = self.final
        return all(c.selected == final.selected for c in self.checkpoints if c.iteration >= final.iteration / 2)


def checkpoint_schedule(max_iter: int, per_decade: int = 10) -> list[int]:
    """0 and the integers round(10^(j/per_decade)) up to max_iter (deduplicated), plus max_iter."""
    ks = {0, max_iter}
    j = 0
    while True:
        k = int(round(10 ** (j / per_decade)))
        if k > max_iter:
            break
        ks.add(k)
        j += 1
    return sorted(ks)


class CheckpointSchedule:
    """The bookkeeping every GD loop shares: checkpoints at the iterations of :func:`checkpoint_schedule`,
    the time budget, the observer, and the stop reasons ("observer", "time", "stationary", "iterations").

    A loop asks ``due(k, stationary)`` each step; when it is due it builds its checkpoint and calls
    ``record(cp, stationary)``, which returns the stop reason when the run ends there (else None).
    A run continued from iteration ``start`` has a checkpoint at ``start`` and then those of the schedule of
    an uninterrupted run.
    """

    def __init__(self, max_iter: int, per_decade: int, time_budget: float | None = None, observer=None,
                 start: int = 0, extra=()):
        self.iterations = [start] + sorted({k for k in checkpoint_schedule(max_iter, per_decade) if k > start} |
                                           {int(k) for k in extra if start < int(k) <= max_iter})
        self.time_budget = float("inf") if time_budget is None else time_budget
        self.observer = observer
        self.checkpoints: list = []
        self._next = 0
        self._late = False
        self.start = time.perf_counter()

    def due(self, k: int, stationary: bool = False) -> bool:
        self._late = time.perf_counter() - self.start > self.time_budget
        return k == self.iterations[self._next] or self._late or stationary

    def record(self, cp, stationary: bool = False) -> str | None:
        self.checkpoints.append(cp)
        while self._next < len(self.iterations) and self.iterations[self._next] <= cp.iteration:
            self._next += 1
        if self.observer is not None and self.observer(cp):
            return "observer"
        if self._late:
            return "time"
        if stationary:
            return "stationary"
        if self._next >= len(self.iterations):
            return "iterations"
        return None

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def run_gd(theta0: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss, *,
           method: str = "normalized", step: float = 1.0, max_iter: int = 300_000,
           time_budget: float | None = None, per_decade: int = 10,
           observer: Callable[[Checkpoint], bool] | None = None, adaptive: bool = False,
           relative: float = 0.0, readout=None, extra_checkpoints=()) -> Trajectory:
    """Run GD from theta0 and return its trajectory (see module docstring).

    ``observer(checkpoint) -> bool`` may add entries to ``checkpoint.extra``; returning True stops.
    ``readout`` (numeric.heads.Readout): a nonlinear head on y_i = X_i^T s_i instead of the fixed scores gamma.
    ``extra_checkpoints``: iterations checkpointed besides the log-spaced ones.
    """
    if method not in METHODS:
        raise ValueError(f"unknown GD method {method!r}; expected one of {METHODS}")
    theta = np.array(theta0, dtype=float).ravel().copy()
    book = CheckpointSchedule(max_iter, per_decade, time_budget, observer, extra=extra_checkpoints)
    kernel = StableAttention(phi, gamma, readout)
    normalized = method == "normalized"
    state = StepState()
    k = 0
    while True:
        fs = float64_step(kernel, theta, loss, state, method=method, step=step, adaptive=adaptive, relative=relative)
        tails, g, gn, eta = fs.tails, fs.g, fs.grad_norm, fs.eta
        new = theta - fs.delta
        # a zero gradient, or a float64 fixed point of fixed-step GD: the step leaves theta unchanged, so every later
        # step would too
        stationary = gn == 0.0 or (not normalized and bool(np.array_equal(new, theta)))
        if book.due(k, stationary):
            st = kernel.state(theta)
            true_g = kernel.gradient(theta, loss, tails=tails) if normalized else g
            if normalized:   # the scaled gradient is e^{-scale} grad L
                glog = float(np.log10(gn)) + fs.scale / np.log(10.0) if gn > 0 else float("-inf")
            else:
                glog = float(np.log10(gn)) if gn > 0 else float("-inf")
            cp = Checkpoint(iteration=k, theta=theta.copy(), norm=float(np.linalg.norm(theta)),
                            loss=float(np.mean(loss.value(st.u))),
                            selected=tuple(int(a) for a in st.dominant),
                            one_minus_mass=float(np.max(st.one_minus_mass)),
                            grad_norm=float(np.linalg.norm(true_g)), grad_log10=glog,
                            step=eta if normalized else float(step),
                            step_state=StepState(state.factor, None if state.direction is None
                                                 else state.direction.copy()))
            stop_reason = book.record(cp, stationary)
            if stop_reason:
                break
        theta = new
        if normalized:
            state = StepState(fs.factor, fs.unit)
        k += 1
    return Trajectory(method=method, step=step, checkpoints=book.checkpoints, stop_reason=stop_reason,
                      seconds=book.seconds)
