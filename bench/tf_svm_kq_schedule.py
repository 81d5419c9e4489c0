"""What makes GD on (K, Q) approach the nuclear-norm W-SVM: initialisation scale and balance, step schedule.

Runs batched normalised GD on (K, Q) over the tf-svm-local family (seeds 0-99, or --seeds) for each setting
and prints the median (10%, 90%) nuclear optimality gap of K_k Q_k^T scaled to margin 1, at a few
iterations, against the W-SVMs of the tokens each run finally selects.

    .venv/bin/python bench/tf_svm_kq_schedule.py --iterations 3000
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch


from bench.tf_svm import SVMCache, measure  # noqa: E402
from attnsvm import numeric  # noqa: E402
from attnsvm.numeric.batched_w import batched_kq_gd  # noqa: E402
from attnsvm.verify.builtins import family_batch  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=100)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    fam = family_batch("tf-svm-local")
    B = a.seeds
    X, Z, v, Y = fam["X"][:B], fam["Z"][:B], fam["v"][:B], fam["Y"][:B]
    d = X.shape[-1]
    gamma = Y[..., None] * np.einsum("bnta,ba->bnt", X, v)
    svms = SVMCache(np.stack([numeric.w_features(X[b], Z[b]) for b in range(B)]))
    rng = np.random.default_rng(0)
    eye = np.broadcast_to(np.eye(d), (B, d, d)).copy()
    G1, G2 = rng.standard_normal((2, B, d, d)) / np.sqrt(d)
    settings = [
        ("balanced I/10, relative c=0.1 decay 10", 0.1 * eye, 0.1 * eye, dict(rule="relative", step=0.1, decay=10.0)),
        ("balanced I/1000, relative c=0.1 decay 10", 1e-3 * eye, 1e-3 * eye, dict(rule="relative", step=0.1, decay=10.0)),
        ("balanced I, relative c=0.1 decay 10", eye, eye, dict(rule="relative", step=0.1, decay=10.0)),
        ("random (unbalanced) 0.1 N/sqrt(d), relative", 0.1 * G1, 0.1 * G2, dict(rule="relative", step=0.1, decay=10.0)),
        ("balanced K = Q = 0.1 N/sqrt(d), relative", 0.1 * G1, 0.1 * G1, dict(rule="relative", step=0.1, decay=10.0)),
        ("balanced I/10, constant step 0.1", 0.1 * eye, 0.1 * eye, dict(rule="constant", step=0.1)),
        ("balanced I/10, constant step 2", 0.1 * eye, 0.1 * eye, dict(rule="constant", step=2.0)),
        ("balanced I/1000, constant step 2", 1e-3 * eye, 1e-3 * eye, dict(rule="constant", step=2.0)),
        ("random (unbalanced) 0.1 N/sqrt(d), constant step 2", 0.1 * G1, 0.1 * G2, dict(rule="constant", step=2.0)),
        ("balanced I/10, relative c=0.01 (no decay)", 0.1 * eye, 0.1 * eye, dict(rule="relative", step=0.01)),
    ]
    for name, K0, Q0, kw in settings:
        tr = batched_kq_gd(K0, Q0, X, Z, gamma, iterations=a.iterations, device="cpu", **kw)
        parts = []
        for k_idx in np.unique(np.linspace(0, len(tr.iterations) - 1, 4).astype(int))[1:]:
            ms = [measure(tr.theta[k_idx, b].reshape(d, d), b, X, Z, svms) for b in range(B)]
            g = np.array([m["nuc_gap"] for m in ms if m and m["nuc_gap"] is not None])
            q = np.quantile(g, [0.1, 0.5, 0.9]) if g.size else [np.nan] * 3
            parts.append(f"k={tr.iterations[k_idx]}: {q[1]:.2e} ({q[0]:.1e}-{q[2]:.1e})")
        print(f"{name:<46} {tr.seconds:5.1f} s  " + "; ".join(parts), flush=True)


if __name__ == "__main__":
    main()
