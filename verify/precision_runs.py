"""The runs and measurements of the `precision-cross-check` instrument, computed once per Context.

* float64 runs (:func:`float64_runs`): numeric.run_gd from every init of the dataset, normalised GD with the
  zigzag step rule (``adaptive=True``, nominal step ``step``; a fixed step when the options' method is
  "fixed"), ``cross_check_iterations`` steps. These are the NGD runs of the claims, run here by the
  instrument itself (``Context.ngd_runs`` keeps no iterates to check); every checkpoint keeps the step rule's
  state, so the step taken there can be reproduced exactly.
* one-step consistency (:func:`one_step_rows`): at every checkpoint, the float64 update computed by the run's
  code path (numeric.gd.float64_step) and by both engines of batched GD (numeric.batched.batched_step on torch
  tensors and on numpy arrays) from the checkpoint's iterate and state, against mpmath (numeric.step_check) at ``certify_dps`` digits on the
  exact data, with the reference itself checked 20 digits higher.
* mpmath runs (:func:`mp_run`): the same GD (same init, step rule, iterations) at ``cross_check_dps`` digits on
  the exact data (numeric.run_gd_mp), in rounds of growing length (as far as the float64 run needed to
  converge, then ``cross_check_iterations``) so that a run decided early is not continued; an optional
  ``cross_check_time_budget`` (seconds) may cut it.
* restarts (:func:`restart`): mpmath GD continued from a float64 checkpoint's exact iterate and state.
* segment replay (:func:`replay_segment`): the float64 steps between two checkpoints, each checked in mpmath.
* tangent growth (:func:`tangents`): the finite-time Lyapunov estimate along each float64 run, as far as its
  mpmath comparison went (numeric.lyapunov).
* naive walks (:func:`naive_walks`): where the naive float64 gradient departs and stalls along the float64 runs
  and on along their final rays (numeric.naive_breakdown).
"""
from __future__ import annotations

import mpmath
import numpy as np

from attnsvm import numeric
from attnsvm.numeric.convergence import RELATIVE_STEP
from attnsvm.numeric.gd import StepState, float64_step
from attnsvm.numeric.lyapunov import tangent_growth
from attnsvm.numeric.step_check import (REFERENCE_EXTRA_DPS, MPData, StepReference, check_step, mp_step,
                                        rounding_bound)

FIRST_MP_BUDGET = 1000   # first round of an mpmath run when the float64 run does not tell
MIN_MP_BUDGET = 100


def cache(ctx) -> dict:
    """The instrument's cache on the Context (its ``_precision`` dict)."""
    store = getattr(ctx, "_precision", None)
    if store is None:
        store = {}
        ctx._precision = store
    return store


def settings(ctx) -> dict:
    """The GD the instrument checks: method, nominal step, step rule, iterations."""
    o = ctx.options
    method = o.get("method") or "normalized"
    return {"method": method, "step": float(o["step"]), "adaptive": method == "normalized",
            "relative": float(RELATIVE_STEP), "iterations": int(o["cross_check_iterations"])}


def float64_runs(ctx) -> list:
    """Per init, the float64 run (module docstring), computed once."""
    c = cache(ctx)
    if "float64" not in c:
        s = settings(ctx)
        with np.errstate(all="ignore"):
            c["float64"] = [numeric.run_gd(init, ctx.phi, ctx.gamma, ctx.loss, method=s["method"], step=s["step"],
                                           max_iter=s["iterations"], adaptive=s["adaptive"], relative=s["relative"])
                            for init in ctx.dataset.inits]
    return c["float64"]


def mp_data(ctx, dps: int) -> MPData:
    """The exact data rounded once to ``dps`` digits, cached."""
    c = cache(ctx).setdefault("mp_data", {})
    if dps not in c:
        c[dps] = MPData(ctx.dataset.features_exact(), ctx.dataset.gamma_exact, dps)
    return c[dps]


BACKENDS = ("numpy", "torch", "batched-numpy")
LARGEST_BATCH = 192      # the most runs the exploration batches at once besides the random inits (16 cones x 4 x 3)


def torch_used(dataset, random_inits: int) -> bool:
    """Whether the runs of ``dataset`` take batched GD's torch engine: always for self/cross-attention (its factored
    runs are torch's), else when the largest batch (``random_inits`` or LARGEST_BATCH runs) on its features is
    beyond the numpy engine's size (numeric.batched.engine_for). A pure function of the sizes: the command line
    loads torch before a memory limit only where this holds (verify.memory.load_libraries)."""
    from attnsvm.numeric.batched import engine_for

    if dataset.model != "prompt":
        return True
    big = max(int(random_inits), LARGEST_BATCH)
    return engine_for(big, dataset.features().shape) == "torch"


def backends(ctx) -> tuple:
    """The float64 code paths this dataset's runs take, each checked: numeric.run_gd's step ("numpy"), batched GD's
    numpy engine ("batched-numpy"), and its torch engine ("torch") where :func:`torch_used` says the runs go
    there."""
    torch_used_here = torch_used(ctx.dataset, ctx.options["random_inits"])
    return tuple(b for b in BACKENDS if b != "torch" or torch_used_here)


def _batched_numpy_step(ctx, theta, state: StepState, s: dict):
    """(delta, eta, turned) of batched GD's numpy engine (numeric.batched.batched_step on arrays) from theta."""
    from attnsvm.numeric import batched_numpy
    from attnsvm.numeric.batched import batched_step

    prev = None if state.direction is None else np.array(state.direction, dtype=float)[None]
    bs = batched_step(np.asarray(theta, dtype=float)[None].copy(), ctx.phi[None], ctx.gamma[None],
                      batched_numpy.loss_derivative(ctx.loss), np.array([float(state.factor)]), prev,
                      method=s["method"], step=s["step"], adaptive=s["adaptive"], relative=s["relative"])
    turned = None if prev is None or not s["adaptive"] else bool(float(bs.factor[0]) < float(state.factor))
    return np.array(bs.delta[0]), float(bs.eta[0]), turned


def _torch_step(ctx, theta, state: StepState, s: dict):
    """(delta, eta, turned) of batched GD's torch step (numeric.batched.batched_step) from theta with ``state``
    (turned: the zigzag test held, read off the factor; None without a test)."""
    import torch

    from attnsvm.numeric.batched import batched_step, loss_derivative

    f64 = dict(dtype=torch.float64, device="cpu")
    c = cache(ctx)
    if "torch_data" not in c:
        # copies: the dataset's arrays are read-only, which torch cannot share
        c["torch_data"] = (torch.as_tensor(np.array(ctx.phi[None], dtype=float), **f64),
                           torch.as_tensor(np.array(ctx.gamma[None], dtype=float), **f64),
                           loss_derivative(ctx.loss))
    phi_t, gamma_t, dloss = c["torch_data"]
    prev = None if state.direction is None else torch.as_tensor(np.array(state.direction, dtype=float)[None], **f64)
    with torch.no_grad():
        bs = batched_step(torch.as_tensor(np.asarray(theta, dtype=float)[None], **f64), phi_t, gamma_t, dloss,
                          torch.as_tensor([float(state.factor)], **f64), prev, method=s["method"], step=s["step"],
                          adaptive=s["adaptive"], relative=s["relative"])
    turned = None if prev is None or not s["adaptive"] else bool(float(bs.factor[0]) < float(state.factor))
    return bs.delta[0].numpy(), float(bs.eta[0]), turned


def reference(ctx, theta, state: StepState):
    """The mpmath steps from ``theta`` and ``state`` (numeric.step_check.StepReference) at ``certify_dps`` digits,
    with the 20 digits higher ones to measure their error."""
    s = settings(ctx)
    dps = int(ctx.options["certify_dps"])
    return StepReference(theta, state, mp_data(ctx, dps), ctx.loss, method=s["method"], step=s["step"],
                         adaptive=s["adaptive"], relative=s["relative"], high=mp_data(ctx, dps + REFERENCE_EXTRA_DPS))


def check_point(ctx, theta, state: StepState, backend: str = "numpy", ref=None) -> dict:
    """One-step consistency (numeric.step_check.check_step) of the float64 step of ``backend`` ("numpy": the
    code path of numeric.run_gd; "torch" and "batched-numpy": the two engines of numeric.batched.batched_gd) from ``theta`` and ``state``
    (``ref``: a StepReference of the same iterate to share; ``high`` None skips the reference's own error)."""
    s = settings(ctx)
    o = ctx.options
    kernel = numeric.StableAttention(ctx.phi, ctx.gamma)
    with np.errstate(all="ignore"):
        if backend == "numpy":
            fs = float64_step(kernel, np.asarray(theta, dtype=float).copy(), ctx.loss, state, method=s["method"],
                              step=s["step"], adaptive=s["adaptive"], relative=s["relative"])
            delta, eta, turned = fs.delta, fs.eta, fs.turned
        elif backend == "torch":
            delta, eta, turned = _torch_step(ctx, theta, state, s)
        else:
            delta, eta, turned = _batched_numpy_step(ctx, theta, state, s)
        bound = rounding_bound(kernel, theta, ctx.loss, normalized=s["method"] == "normalized")
    if not np.all(np.isfinite(delta)):
        tol = max(o["cross_check_tol"], bound)
        return {"backend": backend, "norm": float(np.linalg.norm(theta)), "consistent": False,
                "rel_error": float("inf"), "tolerance": tol, "bound": bound, "ratio": float("inf"),
                "delta_float64": [float(x) for x in delta], "note": "the float64 update is not finite"}
    row = check_step(delta, eta, ref if ref is not None else reference(ctx, theta, state), bound=bound,
                     floor=o["cross_check_tol"], turned64=turned)
    row["backend"] = backend
    row["delta_float64"] = [float(x) for x in delta]
    return row


def one_step_rows(ctx) -> list:
    """Per float64 run, per checkpoint, the one-step rows of every backend the dataset's runs use (:func:`backends`;
    computed once). The reference's own
    error (the mpmath step 20 digits higher) is measured at the first and last checkpoints of each run and where
    the step came closest to its tolerance (``reference_error``; None elsewhere)."""
    c = cache(ctx)
    if "one_step" not in c:
        out = []
        for traj in float64_runs(ctx):
            rows, refs = [], []
            for cp in traj.checkpoints:
                ref = reference(ctx, cp.theta, cp.step_state)
                high, ref.high = ref.high, None
                refs.append((ref, high))
                for backend in backends(ctx):
                    row = check_point(ctx, cp.theta, cp.step_state, backend, ref)
                    row["iteration"] = cp.iteration
                    rows.append(row)
            k = len(backends(ctx))
            ratios = [max(rows[k * j + b].get("ratio", 0.0) for b in range(k)) for j in range(len(refs))]
            for j in sorted({0, len(refs) - 1, int(np.argmax(ratios))}):
                ref, high = refs[j]
                ref.high = high
                cp = traj.checkpoints[j]
                for b, backend in enumerate(backends(ctx)):
                    if "rel_error" in rows[k * j + b] and np.isfinite(rows[k * j + b]["rel_error"]):
                        again = check_point(ctx, cp.theta, cp.step_state, backend, ref)
                        rows[k * j + b]["reference_error"] = again.get("reference_error")
            out.append(rows)
        c["one_step"] = out
    return c["one_step"]


def mp_run(ctx, index: int, budget: int):
    """The mpmath run of init ``index`` up to ``budget`` iterations (continued from where a shorter one
    stopped; cached). Its checkpoints' step_state lets it be continued exactly."""
    s = settings(ctx)
    o = ctx.options
    runs = cache(ctx).setdefault("mp_runs", {})
    have = runs.get(index)
    if have is not None and (have.final.iteration >= budget or have.stop_reason == "time"):
        return have
    phi, gamma = ctx.dataset.features_exact(), ctx.dataset.gamma_exact
    tb = o.get("cross_check_time_budget")
    if have is None:
        traj = numeric.run_gd_mp(ctx.dataset.inits_exact[index], phi, gamma, ctx.loss, dps=o["cross_check_dps"],
                                 method=s["method"], step=s["step"], max_iter=budget, adaptive=s["adaptive"],
                                 relative=s["relative"], time_budget=tb)
    else:
        last = have.final
        more = numeric.run_gd_mp(last.theta, phi, gamma, ctx.loss, dps=o["cross_check_dps"], method=s["method"],
                                 step=s["step"], max_iter=budget, adaptive=s["adaptive"], relative=s["relative"],
                                 time_budget=tb, state=last.step_state, start=last.iteration)
        traj = numeric.Trajectory(method=have.method, step=have.step,
                                  checkpoints=have.checkpoints + more.checkpoints[1:], stop_reason=more.stop_reason,
                                  seconds=have.seconds + more.seconds)
    runs[index] = traj
    return traj


def mp_run_digits(ctx, traj, pairs: int = 6) -> dict:
    """How many digits the mpmath run really carries: for its first ``pairs`` consecutive checkpoints k, k + 1,
    the step it took, theta_k - theta_{k+1}, against the step the reference (numeric.step_check.mp_step,
    ``certify_dps + 20`` digits) computes from theta_k and the checkpoint's step state. Returns the worst
    relative difference (a run at d digits shows about 10^-d) and the number of steps compared."""
    s = settings(ctx)
    data = mp_data(ctx, int(ctx.options["certify_dps"]) + REFERENCE_EXTRA_DPS)
    by_k = {c.iteration: c for c in traj.checkpoints}
    ks = [k for k in sorted(by_k) if k + 1 in by_k][:pairs]
    worst = 0.0
    with mpmath.workdps(data.dps):
        for k in ks:
            a, b = by_k[k], by_k[k + 1]
            ref = mp_step(a.theta, a.step_state, data, ctx.loss, method=s["method"], step=s["step"],
                          adaptive=s["adaptive"], relative=s["relative"])
            taken = [x - y for x, y in zip(a.theta, b.theta)]
            den = numeric.mp_norm(ref.delta)
            if den:
                worst = max(worst, float(numeric.mp_norm([x - y for x, y in zip(taken, ref.delta)]) / den))
    return {"steps_compared": len(ks), "worst_rel_difference": worst}


def mp_budgets(ctx, index: int, judge) -> tuple:
    """The rounds of mpmath run ``index``: first the earliest checkpoint iteration (at least MIN_MP_BUDGET) at
    which the float64 run, cut there, is judged converged by ``judge`` (a list of checkpoints -> judgement;
    FIRST_MP_BUDGET when it never is), then ``cross_check_iterations``. Chosen from the float64 run alone, so
    deterministic; a run whose comparison is decided in the first round is not continued."""
    k = settings(ctx)["iterations"]
    cps = float64_runs(ctx)[index].checkpoints
    first = FIRST_MP_BUDGET
    for j, cp in enumerate(cps):
        if MIN_MP_BUDGET <= cp.iteration < k and judge(cps[:j + 1]).status == numeric.CONVERGED:
            first = cp.iteration
            break
    return (first, k) if k > first else (k,)


def restart(ctx, index: int, checkpoint, until: int, stop=None):
    """mpmath GD (``cross_check_dps`` digits) from a float64 checkpoint's exact iterate and step rule state,
    up to iteration ``until`` or until ``stop(checkpoints)`` (the restart's checkpoints so far) is True
    (cached)."""
    s = settings(ctx)
    o = ctx.options
    key = (index, checkpoint.iteration, until)
    c = cache(ctx).setdefault("restarts", {})
    if key not in c:
        seen: list = []

        def observer(cp) -> bool:
            seen.append(cp)
            return stop is not None and stop(seen)

        c[key] = numeric.run_gd_mp(checkpoint.theta, ctx.dataset.features_exact(), ctx.dataset.gamma_exact, ctx.loss,
                                   dps=o["cross_check_dps"], method=s["method"], step=s["step"], max_iter=until,
                                   adaptive=s["adaptive"], relative=s["relative"], state=checkpoint.step_state,
                                   start=checkpoint.iteration,
                                   time_budget=o.get("cross_check_time_budget"), observer=observer)
    return c[key]


def replay_segment(ctx, checkpoint, until: int) -> dict:
    """Replay the float64 steps of numeric.run_gd from ``checkpoint`` (its iterate and step rule state) up to
    iteration ``until``, checking every step in mpmath (numpy backend). Returns the rows of the steps that are
    not consistent (with their iterate and state), the worst ratio, the number of steps and the iterate
    reached (which must equal the run's own at ``until``)."""
    s = settings(ctx)
    kernel = numeric.StableAttention(ctx.phi, ctx.gamma)
    theta = np.array(checkpoint.theta, dtype=float)
    state = checkpoint.step_state
    bad, worst, steps = [], 0.0, 0
    with np.errstate(all="ignore"):
        for k in range(checkpoint.iteration, until):
            ref = reference(ctx, theta, state)
            ref.high = None    # the reference's own error is measured at the checkpoints
            row = check_point(ctx, theta, state, "numpy", ref)
            steps += 1
            worst = max(worst, row["ratio"])
            if not row["consistent"]:
                row.update(iteration=k, theta=theta.copy(),
                           step_state={"factor": state.factor, "direction": state.direction})
                bad.append(row)
                if len(bad) >= 3:
                    break
            fs = float64_step(kernel, theta, ctx.loss, state, method=s["method"], step=s["step"],
                              adaptive=s["adaptive"], relative=s["relative"])
            theta = theta - fs.delta
            if s["method"] == "normalized":
                state = StepState(fs.factor, fs.unit)
    return {"from": checkpoint.iteration, "to": until, "steps": steps, "inconsistent": bad, "worst_ratio": worst,
            "theta_reached": theta}


def tangents(ctx, index: int, iterations: int) -> dict:
    """The tangent growth along float64 run ``index`` up to ``iterations`` (numeric.lyapunov.tangent_growth),
    computed once."""
    c = cache(ctx).setdefault("tangents", {})
    if (index, iterations) not in c:
        s = settings(ctx)
        c[(index, iterations)] = tangent_growth(ctx.dataset.inits[index], ctx.phi, ctx.gamma, ctx.loss,
                                                iterations=iterations, method=s["method"], step=s["step"],
                                                adaptive=s["adaptive"], relative=s["relative"])
    return c[(index, iterations)]


def naive_walks(ctx) -> list:
    """Per float64 run: where the naive float64 gradient departs from the stable one and where it stalls,
    walking along the run and on along its final ray (numeric.naive_breakdown), computed once."""
    c = cache(ctx)
    if "naive" not in c:
        with np.errstate(all="ignore"):
            c["naive"] = [numeric.naive_breakdown([cp.theta for cp in traj.checkpoints], ctx.phi, ctx.gamma, ctx.loss,
                                                  tol=ctx.options["naive_tol"])
                          for traj in float64_runs(ctx)]
    return c["naive"]


def loss_defect(ctx, samples: int = 33) -> dict | None:
    """Where the loss is not a real function on the outputs GD can reach: u_i is a convex combination of the
    scores gamma_it, so GD evaluates l and l' on [min gamma, max gamma]. Evaluates both in float64 and in
    mpmath at ``samples`` points of that interval (its ends included); returns the first u where a value is
    complex, not finite, or raises (with what happened), else None. A sample, not a proof: the runs are
    guarded as well."""
    lo, hi = float(np.min(ctx.gamma)), float(np.max(ctx.gamma))
    for u in np.unique(np.linspace(lo, hi, samples)):
        with np.errstate(all="ignore"):
            try:
                vals = [float(np.asarray(ctx.loss.value(np.array([u])), dtype=float)[0]),
                        float(np.asarray(ctx.loss.derivative(np.array([u])), dtype=float)[0])]
            except (TypeError, ValueError, ArithmeticError) as exc:
                return {"u": float(u), "backend": "float64", "what": f"{type(exc).__name__}: {exc}"}
        if not all(np.isfinite(vals)):
            return {"u": float(u), "backend": "float64", "what": f"l, l' = {vals[0]!r}, {vals[1]!r}"}
        with mpmath.workdps(30):
            try:
                mvals = [ctx.loss.mp_value(mpmath.mpf(u)), ctx.loss.mp_derivative(mpmath.mpf(u))]
            except (TypeError, ValueError, ArithmeticError) as exc:
                return {"u": float(u), "backend": "mpmath", "what": f"{type(exc).__name__}: {exc}"}
            for name, m in zip(("l", "l'"), mvals):
                if not isinstance(m, mpmath.mpf) or not mpmath.isfinite(m):
                    return {"u": float(u), "backend": "mpmath", "what": f"{name}({u:g}) = {mpmath.nstr(m, 10)}"}
    return None
