"""Benchmark: fixed-step GD at the theorems' scale, simulated (numeric.simulate_fixed_step) against literal GD.

For each dataset (default multi-input and single-input-global, their logistic loss) prints
  * the certified bound L (numeric.lipschitz_bound), 1/L, and the dataset's own step judged against it;
  * per init, with eta = 1/L: seconds to reach ||theta|| = 1e4 ||p_mm|| with the simulator, log10 of the
    equivalent number of GD steps, 1 - corr with p_mm there, the switch point, integrator counts, the
    truncation estimate, and the second-order remainder rho = theta - p_mm ln k (last value, drift, settles);
  * the baseline in the same run: literal GD (numeric.run_gd, method "fixed") for --literal-steps steps
    (default 1e6): its seconds and the ||theta|| it reaches; and, for eta = 1/L and eta = 0.1, the
    agreement of simulator and literal GD at 1e4, 1e5, 1e6 steps (1 - corr, relative norm difference);
with --mp: the mpmath simulator (dps 30) against the float64 one at ||theta|| = 1e4 ||p_mm||;
with --tightness N: bound / largest Hessian norm found (numeric.search_hessian_norm, its default budget and a
stronger one) over N random datasets of the papers' kind per loss (median, 90th percentile, maximum, share
above 10).
p_mm is the SVM of the selection the run ends on (numeric.least_distance; confirmed by
numeric.solve_and_polish). Prints, never asserts.

    .venv/bin/python bench/fixed_step.py [--datasets multi-input single-input-global] [--literal-steps 1000000]
                                         [--mp] [--tightness 0]
"""
from __future__ import annotations

import argparse
import math
import os
import time

import mpmath
import numpy as np

from attnsvm import numeric
from attnsvm.verify.builtins import builtin


def p_mm_of(phi, phi_exact, selection):
    """The unit-margin SVM solution of ``selection``: float64 least-distance, and its polished value."""
    con = numeric.svm_constraints(phi, selection)
    ldp = numeric.least_distance(con.A, con.b)
    exact = numeric.svm_constraints(phi_exact, selection)
    _, pol = numeric.solve_and_polish(con.A, con.b, exact.A, exact.b)
    return ldp.x, (pol.theta_float if pol is not None and pol.ok else None)


def literal_agreement(sim, lit, ks):
    out = []
    for k in ks:
        a = sim.at_iteration(k)
        b = next((c for c in lit.checkpoints if c.iteration == k), None)
        if a is None or b is None:
            continue
        out.append(f"k=1e{round(math.log10(k))}: 1-corr {numeric.one_minus_corr(a.theta, b.theta):.1e}, "
                   f"|norm/norm-1| {abs(a.norm / b.norm - 1):.1e}")
    return "; ".join(out)


def run_dataset(name, literal_steps, with_mp):
    ds = builtin(name)
    phi, gamma = ds.features(), ds.gamma
    loss = numeric.BUILTIN_LOSSES[ds.loss_spec.name]
    bound = numeric.lipschitz_bound(phi, gamma, loss)
    own = ds.gd.get("step", 1.0)
    judged = numeric.judge_step(own, bound)
    print(f"\n== {name}: n, T, D = {phi.shape}, loss {loss.name}; L = {bound.value:.6g}, 1/L = {bound.max_step:.6g}; "
          f"dataset step {own:g}: within 1/L {judged.within} (step * L = {judged.ratio:.3g})")
    eta = bound.max_step
    for j, init in enumerate(ds.inits):
        probe = numeric.simulate_fixed_step(init, phi, gamma, loss, eta, max_log10_steps=30)
        sel = probe.final.selected
        p, p_pol = p_mm_of(phi, ds.features_exact(), sel)
        target = 1e4 * np.linalg.norm(p)
        t0 = time.perf_counter()
        sim = numeric.simulate_fixed_step(init, phi, gamma, loss, eta, target_norm=target,
                                          lipschitz_bound=bound.value)
        sec = time.perf_counter() - t0
        omc = numeric.one_minus_corr(sim.final.theta, p)
        omc_pol = numeric.one_minus_corr(sim.final.theta, p_pol) if p_pol is not None else float("nan")
        rem = numeric.remainder(sim, p)
        st = sim.integrator
        print(f"init {j} {np.round(init, 3).tolist()}: simulator {sec:.2f} s to ||theta|| = {sim.final_norm:.6g} "
              f"(1e4 ||p_mm||), stop {sim.stop_reason}; log10 k = {sim.steps_equivalent_log10:.6f}; "
              f"1 - corr(p_mm) = {omc:.3e} (polished p_mm {omc_pol:.3e}); selection {sim.final.selected} "
              f"stable {sim.selection_stable()}")
        print(f"    literal steps {sim.literal_steps} (eps {sim.switch_epsilon:.2e}); integrator {st.accepted} steps "
              f"({st.rejected} rejected), {st.evaluations} evaluations, max h||J|| {st.max_stiffness:.3g}; "
              f"truncation estimate {sim.truncation_estimate:.1e}")
        print(f"    remainder rho = theta - p_mm ln k: last {np.round(rem.final, 9).tolist()}, |rho| {rem.rho_norm[-1]:.9g}, "
              f"last drifts {[f'{x:.1e}' for x in rem.drift[-3:]]}, settles {rem.settles}; "
              f"|rho_perp|^2 / (2 |theta|^2) = {perp_prediction(rem.final, p, sim.final_norm):.3e}")
        if with_mp and j == 0:
            mp_cross_check(ds, loss, init, eta, target, sim)
    ks = [10 ** e for e in range(4, int(math.log10(literal_steps)) + 1)]
    for eta_name, eta_v in (("1/L", bound.max_step), ("0.1", 0.1)):
        init = ds.inits[-1]
        t0 = time.perf_counter()
        lit = numeric.run_gd(init, phi, gamma, loss, method="fixed", step=eta_v, max_iter=literal_steps,
                             time_budget=math.inf)
        lsec = time.perf_counter() - t0
        t0 = time.perf_counter()
        sim = numeric.simulate_fixed_step(init, phi, gamma, loss, eta_v, max_log10_steps=math.log10(literal_steps))
        ssec = time.perf_counter() - t0
        print(f"eta = {eta_name} ({eta_v:.6g}), init {np.round(init, 3).tolist()}: literal {literal_steps:.0e} steps "
              f"{lsec:.1f} s -> ||theta|| {lit.final.norm:.6g}; simulator to the same k {ssec:.2f} s "
              f"(literal part {sim.literal_steps} steps)")
        print(f"    agreement: {literal_agreement(sim, lit, ks)}")


def perp_prediction(rho, p, norm):
    """1 - corr expected from a settled remainder: |rho - (rho.u) u|^2 / (2 |theta|^2), u = p/|p|."""
    u = p / np.linalg.norm(p)
    perp = rho - (rho @ u) * u
    return float(perp @ perp) / (2 * norm ** 2)


def mp_cross_check(ds, loss, init, eta, target, sim):
    t0 = time.perf_counter()
    msim = numeric.mp_simulate_fixed_step(init, ds.features_exact(), ds.gamma_exact, loss, eta, dps=30,
                                          target_norm=target, rtol=1e-18, atol=1e-18, integrator_order=10)
    sec = time.perf_counter() - t0
    with mpmath.workdps(30):
        a = np.array([mpmath.mpf(x) for x in sim.final.theta], dtype=object)
        d = float(numeric.mp_norm(a - msim.final.theta))
    print(f"    mpmath simulator (dps 30) {sec:.1f} s: log10 k {msim.steps_equivalent_log10:.9f} (float64 "
          f"{sim.steps_equivalent_log10:.9f}), |theta_f64 - theta_mp| = {d:.2e} at |theta| {msim.final_norm:.6g}; "
          f"{msim.integrator.accepted} steps")


STRONG_SEARCH = dict(n_random=400, n_ascent=8, max_iter=100)


def tightness(N):
    """bound / largest ||hess L|| found, for the default search (numeric.search_hessian_norm: 120 random thetas,
    BFGS ascent from the 3 best, 50 iterations) and a stronger one (STRONG_SEARCH: 400 thetas, 8 ascents, 100
    iterations, another seed); the bound is compared with the larger of the two."""
    losses = {"logistic": numeric.LOGISTIC, "exponential": numeric.EXPONENTIAL, "correlation": numeric.CORRELATION}
    print(f"\n== tightness of the bound over {N} random prompt datasets per loss (seeds 1000..{999 + N}); "
          f"strong search {STRONG_SEARCH}")
    for name, loss in losses.items():
        ratios, strong, worst = [], [], None
        t0 = time.perf_counter()
        for seed in range(1000, 1000 + N):
            rng = np.random.default_rng(seed)
            n, T, d = int(rng.integers(1, 9)), int(rng.integers(2, 9)), int(rng.integers(2, 13))
            X = rng.uniform(0.5, 4) * rng.standard_normal((n, T, d))
            v = rng.standard_normal(d)
            v /= np.linalg.norm(v)
            gamma = rng.choice([-1.0, 1.0], n)[:, None] * (X @ v)
            b = numeric.lipschitz_bound(X, gamma, loss).value
            seen, _ = numeric.search_hessian_norm(X, gamma, loss, seed=seed)
            seen2, _ = numeric.search_hessian_norm(X, gamma, loss, seed=seed + 7919, **STRONG_SEARCH)
            ratios.append(b / seen)
            strong.append(b / max(seen, seen2))
            if worst is None or strong[-1] > worst[0]:
                worst = (strong[-1], seed, X.shape)
        for label, r in (("default search", np.array(ratios)), ("strong search", np.array(strong))):
            print(f"{name} ({label}): bound / seen median {np.median(r):.2f}, p90 {np.quantile(r, 0.9):.2f}, "
                  f"max {r.max():.2f}, share > 10: {(r > 10).mean():.3f}, never exceeded: {bool(r.min() >= 1)}")
        print(f"    worst (strong): seed {worst[1]}, n, T, d = {worst[2]} [{time.perf_counter() - t0:.0f} s]")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=["multi-input", "single-input-global"])
    ap.add_argument("--literal-steps", type=int, default=1_000_000)
    ap.add_argument("--mp", action="store_true")
    ap.add_argument("--tightness", type=int, default=0)
    args = ap.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (seconds are wall clock)")
    for name in args.datasets:
        run_dataset(name, args.literal_steps, args.mp)
    if args.tightness:
        tightness(args.tightness)


if __name__ == "__main__":
    main()
