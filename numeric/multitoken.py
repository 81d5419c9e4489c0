"""The second paper's SVM equivalence for several selected tokens per sequence (a conjecture there).

After GD, the selected set of sequence i is O_i = {t : s_it >= tau} (the authors take tau = 1e-3). With a reference
token o_i in O_i (here the dominant one) and the features Phi (logits q_it = <theta, Phi_it>; W models:
Phi_it = vec(x_it z_i^T)), the conjecture compares theta_k with theta_fin + R theta_dir where

    theta_dir = argmin ||theta||  s.t.  <theta, Phi_it - Phi_{i,tau}> = 0   for t, tau in O_i,
                                        <theta, Phi_it - Phi_{i,tau}> >= 1  for t in O_i, tau not in O_i;
    theta_fin = argmin ||theta||  s.t.  <theta, Phi_it - Phi_{i,tau}> = log(s_it / s_{i,tau})   for t, tau in O_i.

Both are written with the reference token only, which gives the same problems: the pairs (t, o_i), t in O_i \\ {o_i},
span every within-O_i difference, and on {equalities hold} the inequality of (t, tau) equals that of (o_i, tau).
The finite part's right-hand sides are the iterate's own logit differences <theta_k, Phi_it - Phi_{i,o_i}>, which
equal log(s_it / s_{i,o_i}) exactly and need no logarithm of a rounded softmax.

Uniqueness of the decomposition (our choice, stated): theta_fin is the minimum-norm solution, so it lies in the
span E of the equality rows {Phi_it - Phi_{i,o_i}}; theta_dir satisfies those rows with 0, so it lies in E's
orthogonal complement. Hence <theta_fin, theta_dir> = 0 and theta_fin is exactly the orthogonal projection of
theta_k onto E (the minimum-norm element of {theta : same within-O logit differences as theta_k}); R is the
orthogonal coordinate R = <theta_k - theta_fin, theta_dir> / ||theta_dir||^2, which is also the least-squares fit
min_R ||theta_k - theta_fin - R theta_dir|| the authors use.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .directions import one_minus_corr

DEFAULT_TAU = 1e-3      # the authors' selected-set threshold
MASKED_TAU = 1e-6       # the authors' "zero" threshold (their runs with values in (1e-6, 1e-3] are discarded)


def selected_sets(s: np.ndarray, tau: float = DEFAULT_TAU) -> list:
    """O_i = {t : s_it >= tau} as sorted tuples, one per sequence."""
    s = np.asarray(s, dtype=float)
    return [tuple(int(t) for t in np.nonzero(s[i] >= tau)[0]) for i in range(s.shape[0])]


def masked_mass(s: np.ndarray, sets) -> float:
    """max_{i, tau not in O_i} s_i,tau (0 when every token is selected)."""
    s = np.asarray(s, dtype=float)
    vals = [s[i, t] for i, O in enumerate(sets) for t in range(s.shape[1]) if t not in O]
    return float(max(vals)) if vals else 0.0


@dataclass
class EquivalenceRows:
    """The constraint rows of both SVMs (float or exact object arrays): ``eq`` (Phi_it - Phi_{i,o_i}, t in
    O_i \\ {o_i}) with ``eq_pairs`` [(i, t, o_i)], ``ineq`` (Phi_{i,o_i} - Phi_{i,tau}, tau not in O_i) with
    ``ineq_pairs`` [(i, o_i, tau)], the references o_i and the sets."""

    eq: np.ndarray
    eq_pairs: list
    ineq: np.ndarray
    ineq_pairs: list
    refs: tuple
    sets: list


def equivalence_rows(phi, sets, refs) -> EquivalenceRows:
    """The rows of the module docstring for the features ``phi`` (n, T, D) (float or exact rationals)."""
    phi = np.asarray(phi)
    n, T = phi.shape[:2]
    phi2 = phi.reshape(n, T, -1)
    D = phi2.shape[2]
    eq, eq_pairs, ineq, ineq_pairs = [], [], [], []
    for i, (O, o) in enumerate(zip(sets, refs)):
        if o not in O:
            raise ValueError(f"reference token {o} of sequence {i} is not in its selected set {O}")
        for t in O:
            if t != o:
                eq.append(phi2[i, t] - phi2[i, o])
                eq_pairs.append((i, int(t), int(o)))
        for t in range(T):
            if t not in O:
                ineq.append(phi2[i, o] - phi2[i, t])
                ineq_pairs.append((i, int(o), int(t)))
    dtype = phi2.dtype
    as_rows = (lambda rows: np.array(rows, dtype=dtype).reshape(len(rows), D))
    return EquivalenceRows(eq=as_rows(eq), eq_pairs=eq_pairs, ineq=as_rows(ineq), ineq_pairs=ineq_pairs,
                           refs=tuple(int(o) for o in refs), sets=[tuple(O) for O in sets])


def finite_part(theta: np.ndarray, eq_rows: np.ndarray) -> np.ndarray:
    """theta_fin = the minimum-norm solution of E theta' = E theta (float64): the orthogonal projection of theta
    onto the row space E (lstsq; 0 when there are no equality rows)."""
    theta = np.asarray(theta, dtype=float).ravel()
    E = np.asarray(eq_rows, dtype=float)
    if E.shape[0] == 0:
        return np.zeros_like(theta)
    return np.linalg.lstsq(E, E @ theta, rcond=None)[0]


def fit_R(theta, theta_fin, theta_dir) -> float:
    """R = <theta - theta_fin, theta_dir> / ||theta_dir||^2 (the least-squares coefficient)."""
    theta_dir = np.asarray(theta_dir, dtype=float).ravel()
    return float((np.asarray(theta, dtype=float).ravel() - np.asarray(theta_fin, dtype=float).ravel()) @ theta_dir
                 / (theta_dir @ theta_dir))


def equivalence_fit(theta, eq_rows, theta_dir, theta_fin=None) -> dict:
    """The fit of one iterate: theta_fin (default: its own projection onto E), R, 1 - corr(theta, theta_fin +
    R theta_dir) ("svmeq"), 1 - corr(theta, theta_dir) ("dir"), and the relative size of the residual
    ||theta - theta_fin - R theta_dir|| / ||theta||."""
    theta = np.asarray(theta, dtype=float).ravel()
    fin = finite_part(theta, eq_rows) if theta_fin is None else np.asarray(theta_fin, dtype=float).ravel()
    R = fit_R(theta, fin, theta_dir)
    model = fin + R * np.asarray(theta_dir, dtype=float).ravel()
    nt = float(np.linalg.norm(theta))
    return {"R": R, "one_minus_corr_svmeq": one_minus_corr(theta, model) if np.any(model) and nt > 0 else None,
            "one_minus_corr_dir": one_minus_corr(theta, theta_dir) if nt > 0 else None,
            "residual_relative": float(np.linalg.norm(theta - model) / nt) if nt > 0 else None,
            "norm": nt, "finite_norm": float(np.linalg.norm(fin))}
