"""Random datasets of the papers' kind, reproducible from (seed, k): the family that bench/judge_stress.py judges
and the tests take their hard cases from.

Dataset k of seed s draws, from numpy's generator on SeedSequence([s, k]): n uniform in 1-8, T in 2-8, d in 2-12,
a token scale uniform in [0.5, 4], tokens X (n, T, d) Gaussian times that scale, a unit head v, labels Y uniform in
{-1, +1}; W = I and the logistic loss (the defaults of :class:`verify.Dataset`).
"""
from __future__ import annotations

import numpy as np

from .dataset import Dataset


def stress_dataset(k: int, seed: int = 0) -> Dataset:
    """Dataset k of the stress family of ``seed`` (module docstring), named ``stress-<seed>-<k>``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, k]))
    n, T, d = int(rng.integers(1, 9)), int(rng.integers(2, 9)), int(rng.integers(2, 13))
    scale = float(rng.uniform(0.5, 4.0))
    X = scale * rng.standard_normal((n, T, d))
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    Y = rng.choice([-1, 1], size=n)
    return Dataset(X=X.tolist(), Y=Y.tolist(), v=v.tolist(), name=f"stress-{seed}-{k}",
                   description=f"n={n} T={T} d={d} scale={scale:.2f}")
