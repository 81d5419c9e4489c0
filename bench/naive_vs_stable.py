"""Normalised GD on multi-input: the stable gradient (ours) against a plain torch float64 autograd loop.

Prints, for the same init and iteration budget, the wall time and 1 - corr with p_mm at log-spaced
checkpoints for both, the best 1 - corr the autograd loop reaches, and the norm at which its gradient
becomes exactly zero. Also times `verify.check` on every built-in dataset.

    .venv/bin/python bench/naive_vs_stable.py [--iterations 100000]
"""
import argparse
import time

import numpy as np
import torch

from attnsvm.numeric import LOGISTIC, checkpoint_schedule, one_minus_corr, run_gd
from attnsvm.verify import builtin, builtin_names, check
from attnsvm.verify.context import Context


def autograd_run(phi, gamma, iterations):
    """p <- p - g/||g|| with g from torch autograd of mean(log(1 + exp(-softmax(Phi p) . gamma)))."""
    phi_t, gamma_t = torch.tensor(phi), torch.tensor(gamma)
    p = torch.zeros(phi.shape[2], dtype=torch.float64, requires_grad=True)
    out, zero_at = [], None
    marks = set(checkpoint_schedule(iterations, 10))
    for k in range(iterations + 1):
        s = torch.softmax(torch.einsum("ntd,d->nt", phi_t, p), dim=1)
        loss = torch.nn.functional.softplus(-(s * gamma_t).sum(dim=1)).mean()
        (g,) = torch.autograd.grad(loss, p)
        if k in marks:
            out.append((k, p.detach().numpy().copy()))
        gn = g.norm()
        if gn == 0:
            zero_at = float(p.detach().norm())
            out.append((k, p.detach().numpy().copy()))
            break
        with torch.no_grad():
            p -= g / gn
    return out, zero_at


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100_000)
    args = ap.parse_args()
    ds = builtin("multi-input")
    ctx = Context.create(ds)
    p_mm = ctx.svm((0, 0, 0)).theta
    phi, gamma = ds.features(), ds.gamma

    t = time.perf_counter()
    ours = run_gd(np.zeros(3), phi, gamma, LOGISTIC, max_iter=args.iterations, time_budget=1e9)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    base, zero_at = autograd_run(phi, gamma, args.iterations)
    t_base = time.perf_counter() - t

    print(f"multi-input, normalised GD from 0, step 1, up to {args.iterations} iterations")
    print(f"  stable (ours):     {t_ours:6.2f} s, {ours.final.iteration / t_ours:8.0f} it/s")
    print(f"  torch autograd:    {t_base:6.2f} s, {base[-1][0] / t_base:8.0f} it/s"
          + (f", gradient exactly 0 at ||p|| = {zero_at:.1f} (k = {base[-1][0]})" if zero_at else ""))
    print(f"  {'k':>8} {'||p|| ours':>12} {'1-corr ours':>12} {'1-corr autograd':>16}")
    base_by_k = dict(base)
    for cp in ours.checkpoints:
        if cp.iteration in base_by_k and cp.iteration >= 10:
            b = base_by_k[cp.iteration]
            print(f"  {cp.iteration:>8} {cp.norm:>12.1f} {one_minus_corr(cp.theta, p_mm):>12.2e} "
                  f"{one_minus_corr(b, p_mm):>16.2e}")
    best = min((one_minus_corr(b, p_mm), k) for k, b in base if k > 0)
    print(f"  autograd best 1 - corr {best[0]:.2e} at k = {best[1]}; ours final "
          f"{one_minus_corr(ours.final.theta, p_mm):.2e}")
    print("\nverify.check on the built-ins (wall time, default options):")
    for name in builtin_names():
        t = time.perf_counter()
        r = check(name)
        print(f"  {name:<24} {time.perf_counter() - t:6.1f} s  {'ok' if r.ok else 'NOT OK'}")


if __name__ == "__main__":
    main()
