"""Losses l(u) of the attention ERM and their derivatives, for float64 (numpy) and mpmath.

A loss enters the theory only through l and l' evaluated at the outputs u_i = Y_i f(X_i).
Built-ins:

* logistic     l(u) = log(1 + e^{-u}),  l'(u) = -1 / (1 + e^{u})
* exponential  l(u) = e^{-u},           l'(u) = -e^{-u}
* correlation  l(u) = -u,               l'(u) = -1

Every formula is written so that it neither overflows nor cancels for large |u|.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mpmath
import numpy as np
from scipy.special import expit


@dataclass(frozen=True)
class Loss:
    """A scalar loss l with its derivative, in two backends.

    ``value``/``derivative`` act elementwise on float64 arrays; ``mp_value``/``mp_derivative``
    act on one mpmath number at the working precision.
    """

    name: str
    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    mp_value: Callable
    mp_derivative: Callable
    expression: str = ""


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) without overflow: max(x, 0) + log1p(e^{-|x|})."""
    x = np.asarray(x, dtype=float)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _logistic_derivative(u: np.ndarray) -> np.ndarray:
    """-1/(1 + e^u) = -sigma(-u), with scipy's overflow-free logistic sigmoid."""
    return -expit(-np.asarray(u, dtype=float))


LOGISTIC = Loss(
    name="logistic",
    value=lambda u: _softplus(-np.asarray(u, dtype=float)),
    derivative=_logistic_derivative,
    mp_value=lambda u: mpmath.log1p(mpmath.exp(-u)),
    mp_derivative=lambda u: -1 / (1 + mpmath.exp(u)),
    expression="log(1 + exp(-u))",
)

EXPONENTIAL = Loss(
    name="exponential",
    value=lambda u: np.exp(-np.asarray(u, dtype=float)),
    derivative=lambda u: -np.exp(-np.asarray(u, dtype=float)),
    mp_value=lambda u: mpmath.exp(-u),
    mp_derivative=lambda u: -mpmath.exp(-u),
    expression="exp(-u)",
)

CORRELATION = Loss(
    name="correlation",
    value=lambda u: -np.asarray(u, dtype=float),
    derivative=lambda u: -np.ones_like(np.asarray(u, dtype=float)),
    mp_value=lambda u: -u,
    mp_derivative=lambda u: mpmath.mpf(-1),
    expression="-u",
)

BUILTIN_LOSSES = {loss.name: loss for loss in (LOGISTIC, EXPONENTIAL, CORRELATION)}
