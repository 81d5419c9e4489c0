"""Where GD goes from many inits: the runs behind `locally-optimal` and `cone-convergence` (computed once).

Three families of runs of normalised GD (zigzag step rule, growing budgets; every run judged by the one rule
of :mod:`numeric.convergence`):

* the dataset's own inits (:meth:`Context.ngd_runs`);
* ``random_inits`` random inits (an option, default 64, cut to RANDOM_MAX_WORK / (n T D) on large data; fixed
  seed): directions uniform on the sphere, radii uniform up to the norm at
  which the largest logit difference within a sequence reaches RANDOM_LOGIT_SPREAD;
* cone inits around each locally optimal selection alpha: R p_mm/||p_mm|| plus a perturbation of norm
  CONE_PERTURBATION / A (A the largest key difference, so the perturbation moves any logit gap by at most
  CONE_PERTURBATION margins; since A ||p_mm|| >= 1 its angle to p_mm is at most CONE_PERTURBATION / c and shrinks
  like 1/R), for R = c ||p_mm||, c in CONE_RADII, in two batches: the radii up to 16 ||p_mm|| for every such
  alpha, then, where none of them worked, the first radius at or past what :func:`cone_reach` says a
  near-support competitor needs (the theorem asks for some R; the smallest working R tested is reported);
  their normalised steps scale with the cone: eta = rate ||theta||, rate = min(0.1 / (A ||p_mm||), 3 / 1000)
  with A the largest key difference, so that a step changes any logit gap by at most a tenth of the margin
  scale ||theta||/||p_mm|| and the norm grows about e^3-fold over the first budget of 1000 steps (the zigzag
  rule shortens the step further where GD overshoots); and at least 3 / CONE_MAX_ITERATIONS, so that even a
  selection whose p_mm is long against the key differences can grow e^3-fold within the cone runs' budget.
  Cone runs stop at CONE_MAX_ITERATIONS (8000) normalised steps: a selection with no working radius by then
  gets fixed-step runs (the local theorem's own algorithm, :meth:`Exploration._fixed_step_cones`) far out.

Candidate selections: all T^n when T^n <= MAX_ENUMERATION, else the optimal tokens, the selections runs
reached and their single-sequence variations. Each candidate's p-SVM is solved in float64 (least distance by
NNLS, :mod:`numeric.selections`); every selection reported (locally optimal, or reached by a run) is solved
again (numeric.solve_svm) and polished in mpmath from the exact data, and its local optimality decided from the
polished active set with the scores compared as exact rationals. A run that seems to converge to a
selection that is not locally optimal (which the theory rules out) is run to the last budget.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from attnsvm import numeric
from attnsvm.numeric import CONVERGED, STALLED, MIXED, UNDECIDED
from attnsvm.numeric.selections import candidate_selections, is_locally_optimal

from .context import FIRST_BUDGET

from .checks.optimal_tokens import optimal_tokens

RANDOM_SEED = 2023
RANDOM_LOGIT_SPREAD = 5.0
CONE_RADII = (0.25, 1.0, 4.0, 16.0) + tuple(4.0 ** j for j in range(3, 11))   # R in units of ||p_mm||, up to 4^10
CONE_MIN_RADII = 4        # radii tried at least (up to 16 ||p_mm||), further ones only as far as a competitor needs
CONE_PERTURBATIONS = 3
CONE_PERTURBATION = 0.02
CONE_STEP = 0.1           # cone runs: a step changes a logit gap by at most 10% of the margin scale
CONE_GROWTH = 3.0         # ... and ||theta|| grows at most e^3-fold over the first budget of iterations
MAX_CONE_SELECTIONS = 16
CONE_MAX_ITERATIONS = 8000      # normalised cone runs stop here; a cone still without a working radius goes to
                                # the fixed-step runs (the theorem's own algorithm), which decide it far out
FIXED_CONE_GROWTH = 100.0       # fixed-step cone runs: to ||theta|| = 100 R
FIXED_CONE_LITERAL_STEPS = 20_000
FIXED_CONE_INTEGRATOR_STEPS = 4_000   # attempted steps of the flow's integrator per fixed-step cone run
MAX_ENUMERATION = 4096
MAX_TABLE = 256
# -- budgets scaled to the data (counts, never seconds; the evidence reports what ran) --------------------------
RANDOM_MAX_WORK = 1e6          # random inits x n T D: fewer random inits on large data (at least RANDOM_MIN_INITS)
RANDOM_MIN_INITS = 4
CANDIDATE_MAX_WORK = 2e7       # candidates x m D (m constraints): float SVMs examined for the cone selections
CONE_MAX_ENTRIES = 2.5e6         # cone runs x n T D in one batch: fewer cone selections on large data (at least 1)


def exact_status(ctx, sel) -> dict:
    """The polished p-SVM of ``sel`` and its local optimality decided exactly (None when unknown), with the
    witness of a failure: a support token that scores at least as high as the selected one."""
    rec = ctx.svm(sel)
    out = {"selection": list(sel), "feasible": rec.feasible, "p_mm_norm": None, "support": [],
           "locally_optimal": False if not rec.feasible else None, "exact": False}
    if rec.feasible and rec.polished is not None:
        sup = rec.support()
        out["p_mm_norm"] = float(rec.polished.norm)
        out["support"] = sup
        out["kkt_residual"] = float(rec.polished.kkt_residual)
        if rec.polished.ok:
            g = ctx.dataset.gamma_exact
            out["locally_optimal"] = is_locally_optimal(g, sel, sup)
            out["exact"] = True
            bad = [[i, t] for i, t in sup if not g[i, t] < g[i, sel[i]]]
            if bad:
                i, t = bad[0]
                out["witness"] = {"support_token": [i, t], "score": str(g[i, t]), "selected_score": str(g[i, sel[i]]),
                                  "meaning": "a support token scores at least as high as the selected token"}
    return out


def cone_reach(ctx, sel) -> float:
    """How far out (in units of ||p_mm||) the cone of ``sel`` may have to start: at R = c ||p_mm|| along p_mm, a
    token outside the support with margin m > 1 has a logit gap c m against the support tokens' c, so its weight
    relative to theirs is about e^{-c (m - 1)}; a competitor with m close to 1 (a near-support token) needs
    c (m - 1) of several units before the support tokens alone steer GD. Returns 20 / min (m - 1) over the
    non-support tokens (at least the radii always tried, at most the largest radius)."""
    rec = ctx.svm(sel)
    con = rec.constraints
    margins = con.A @ rec.theta
    support = {tuple(x) for x in rec.support()}
    gaps = [m / b - 1 for (i, t), m, b in zip(con.pairs.tolist(), margins, con.b) if (i, t) not in support and b > 0]
    delta = min(gaps, default=np.inf)
    always = CONE_RADII[min(CONE_MIN_RADII, len(CONE_RADII)) - 1]
    return float(np.clip(20.0 / max(delta, 1e-12), always, CONE_RADII[-1]))


def _past(reach: float) -> float:
    """The first radius factor of CONE_RADII at or past ``reach`` (the largest one if none is)."""
    return next((c for c in CONE_RADII if c >= reach), CONE_RADII[-1])


def _perturbation(rng, shape, spread: float) -> np.ndarray:
    """A random vector of norm CONE_PERTURBATION / A (A = ``spread``, the largest key difference): it moves any
    logit gap by at most CONE_PERTURBATION, a fiftieth of the margin of p_mm."""
    e = rng.standard_normal(shape)
    return e * (CONE_PERTURBATION / max(spread, 1e-300) / np.linalg.norm(e))


def _radius_works(sel, c, judgements, labels) -> bool:
    """All cone runs of selection ``sel`` at radius factor ``c`` stayed on ``sel`` and converged."""
    js = [j for j, lab in zip(judgements, labels) if lab[0] == sel and lab[1] == c]
    return bool(js) and all(j is not None and j.status == CONVERGED and j.selection == sel for j in js)


def key_spread(phi) -> float:
    """A = max_{i, t, tau} ||Phi_it - Phi_i tau||: the most a unit step can change a logit gap (one token t at a
    time: temporaries of the size of phi)."""
    best = 0.0
    for t in range(phi.shape[1]):
        diffs = phi - phi[:, t:t + 1, :]
        best = max(best, float(np.max(np.einsum("itk,itk->it", diffs, diffs))))
    return float(np.sqrt(best))


def scaled_random_inits(ctx) -> int:
    """The ``random_inits`` option, cut to RANDOM_MAX_WORK / (n T D) on large data (at least RANDOM_MIN_INITS)."""
    n, T, D = ctx.phi.shape
    return int(min(ctx.options["random_inits"], max(RANDOM_MIN_INITS, RANDOM_MAX_WORK // (n * T * D))))


def _random_inits(ctx, rng) -> np.ndarray:
    phi = ctx.phi
    spread = key_spread(phi)
    rho_max = RANDOM_LOGIT_SPREAD / spread if spread > 0 else 1.0
    count = scaled_random_inits(ctx)
    u = rng.standard_normal((count, phi.shape[2]))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u * rng.uniform(0.0, rho_max, count)[:, None]


def _fixed_cone_run(init, traj, sel, pm) -> dict:
    """The record of one fixed-step cone run and whether it stayed and converged: it reached the target norm (two
    decades past its start), selected ``sel`` at every checkpoint of its last decade of ||theta||, and ended with
    1 - corr(theta, p_mm) <= the convergence rule's tol, having fallen at least min_drop-fold over that decade."""
    from attnsvm.numeric.convergence import RULE

    cps = traj.checkpoints
    final = cps[-1]
    tail = [cp for cp in cps if cp.norm >= final.norm / 10]
    start = tail[0] if tail else final
    omc_end = numeric.one_minus_corr(final.theta, pm)
    omc_start = numeric.one_minus_corr(start.theta, pm)
    stable = all(tuple(int(a) for a in cp.selected) == tuple(sel) for cp in tail)
    converged = (traj.stop_reason == "target-norm" and stable and omc_end <= RULE["tol"]
                 and omc_end * RULE["min_drop"] <= omc_start)
    return {"init": init, "converged": bool(converged), "stop_reason": traj.stop_reason,
            "final_norm": float(final.norm), "steps_equivalent_log10": traj.steps_equivalent_log10,
            "literal_steps": traj.literal_steps, "selection_stable_last_decade": bool(stable),
            "one_minus_corr": float(omc_end), "one_minus_corr_decade_start": float(omc_start)}


class Exploration:
    """The three families of runs, the candidate selections and their status (see module docstring)."""

    def __init__(self, ctx):
        self.ctx = ctx
        ds = ctx.dataset
        self.alpha, self.argmax_sets = optimal_tokens(ds)
        self.exact: dict = {}
        rng = np.random.default_rng(RANDOM_SEED)
        self.dataset_runs = ctx.ngd_runs()
        self.random_inits = _random_inits(ctx, rng)
        self.random_runs = ctx.decide(self.random_inits)
        reached = [j.selection for j in self.dataset_runs.judgements + self.random_runs.judgements]
        base = list(dict.fromkeys([tuple(self.alpha)] + reached))
        self.enumerated = ds.T ** ds.n <= MAX_ENUMERATION
        self.candidates = candidate_selections(ds.n, ds.T, base, limit=MAX_ENUMERATION)
        # float SVMs of the candidates, in order, until MAX_CONE_SELECTIONS locally optimal ones are found or the
        # size budget (CANDIDATE_MAX_WORK / (m D) candidates, at least the base) is spent
        n, T, D = ctx.phi.shape
        self.candidates_examined = min(len(self.candidates),
                                       max(len(base), int(CANDIDATE_MAX_WORK // (n * (T - 1) * D))))
        float_local = []
        for c in self.candidates[:self.candidates_examined]:
            if ctx.selection_svm(c).locally_optimal:
                float_local.append(tuple(int(a) for a in c))
                if len(float_local) >= MAX_CONE_SELECTIONS:
                    break
        for sel in dict.fromkeys(base + float_local[:MAX_CONE_SELECTIONS]):
            self.status(sel)
        self.local = [s for s, e in self.exact.items() if e["locally_optimal"]]
        n_cone = int(max(1, min(MAX_CONE_SELECTIONS, CONE_MAX_ENTRIES // (CONE_MIN_RADII * CONE_PERTURBATIONS
                                                                          * n * T * D))))
        self.cone_selections = self.local[:n_cone]
        self._cone_runs(rng)

    def _cone_runs(self, rng) -> None:
        """Cone inits in two batches: first every selection at the radii always tried (up to
        CONE_RADII[CONE_MIN_RADII - 1]), then, for the selections for which none of those worked (a working
        radius: all its perturbed inits stay and converge), the first radius at or past their cone_reach. Each
        batch is one set of runs (one decide_runs), so a selection costs at most two rounds of budgets, and the
        costly far-out runs are made only where they are needed."""
        ctx = self.ctx
        inits, labels, judgements, histories = [], [], [], []
        pending = list(self.cone_selections)
        budgets = []
        spread = key_spread(ctx.phi)
        reach = {sel: cone_reach(ctx, sel) for sel in pending}
        first = min(CONE_MIN_RADII, len(CONE_RADII))
        for far, group in enumerate((CONE_RADII[:first], CONE_RADII[first:])):
            level, level_labels, rates = [], [], []
            for sel in pending:
                pm = ctx.svm(sel).theta
                unit = pm / np.linalg.norm(pm)
                rate = max(min(CONE_STEP / (spread * float(np.linalg.norm(pm))), CONE_GROWTH / FIRST_BUDGET),
                           CONE_GROWTH / min(ctx.options["max_iterations"], CONE_MAX_ITERATIONS))
                for c in group:
                    # beyond the radii always tried: the first radius at or past the selection's reach
                    if far and c != _past(reach[sel]):
                        continue
                    R = c * float(np.linalg.norm(pm))
                    for _ in range(CONE_PERTURBATIONS):
                        e = _perturbation(rng, pm.shape, spread)
                        level.append(R * unit + e)
                        level_labels.append((sel, c, R))
                        rates.append(rate)
            if not level:
                break
            # steps in scale with the cone: eta = rate ||theta|| changes any logit gap by at most CONE_STEP times the
            # margin scale ||theta|| / ||p_mm|| per step (rate = CONE_STEP / (A ||p_mm||), A the largest key difference)
            rates = np.array(rates)

            def settled(judged, rounds, level_labels=level_labels):
                """From the second round on: the runs of selections that already have a working radius in this
                batch (the first two budgets still decide the smaller radii that work, for the reported R)."""
                if rounds < 2:
                    return []
                done = {sel for sel in pending for c in group
                        if _radius_works(sel, c, judged, level_labels)}
                return [b for b, lab in enumerate(level_labels) if lab[0] in done]

            runs = ctx.decide(np.array(level), step=rates * np.linalg.norm(level, axis=1),
                              relative=rates, settled=settled, max_iterations=CONE_MAX_ITERATIONS)
            budgets = runs.budgets
            inits.extend(level)
            labels.extend(level_labels)
            judgements.extend(runs.judgements)
            histories.extend(runs.histories)
            worked = {sel for sel in pending for c in group if _radius_works(sel, c, runs.judgements, level_labels)}
            pending = [sel for sel in pending if sel not in worked]
            if not pending:
                break
        self.fixed_cones = self._fixed_step_cones(pending, rng)
        self.cone_labels = labels
        self.cone_inits = np.array(inits).reshape(len(inits), ctx.phi.shape[2])
        self.cone_runs = None
        if inits:
            from attnsvm.numeric import DecidedRuns

            self.cone_runs = DecidedRuns(judgements=judgements, histories=histories, budgets=budgets,
                                         rounds=0, iterations=[h["iterations"][-1] for h in histories])

    def _fixed_step_cones(self, pending, rng) -> dict:
        """The local theorem's own algorithm for the selections no normalised cone run settled: fixed-step GD
        with the certified step (:func:`numeric.simulate_fixed_step`: literal steps, then its modified equation
        in log-time) from CONE_PERTURBATIONS perturbed inits at R = c ||p_mm||, c the first radius at or past
        the selection's reach (at least 16), run to ||theta|| = FIXED_CONE_GROWTH R; each run judged by
        :func:`_fixed_cone_run`."""
        from .theorem_runs import size_budgets, step_choice

        ctx = self.ctx
        out: dict = {}
        step = step_choice(ctx)["step"] if pending else None
        if step is None:
            return out
        spread = key_spread(ctx.phi)
        size = size_budgets(ctx)            # the theorem runs' budgets scaled to the data cap these runs too
        for sel in pending:
            pm = ctx.svm(sel).theta
            norm_pm = float(np.linalg.norm(pm))
            c = _past(max(16.0, cone_reach(ctx, sel)))
            R = c * norm_pm
            runs = []
            for _ in range(CONE_PERTURBATIONS):
                init = R * pm / norm_pm + _perturbation(rng, pm.shape, spread)
                # the norm grows like ||p_mm|| ln k: 100 R needs ln k ~ 99 c, so the cap on log10 k is raised to reach it
                max_log10 = max(float(ctx.options["fixed_max_log10_steps"]), 100.0 * c)
                try:
                    traj = numeric.simulate_fixed_step(init, ctx.phi, ctx.gamma, ctx.loss, step,
                                                       target_norm=FIXED_CONE_GROWTH * R,
                                                       max_log10_steps=max_log10,
                                                       max_literal_steps=min(FIXED_CONE_LITERAL_STEPS,
                                                                             size["literal_steps"]),
                                                       max_integrator_steps=min(FIXED_CONE_INTEGRATOR_STEPS,
                                                                                size["integrator_steps"])
                                                       if size["flow"] else 0)
                except (OverflowError, FloatingPointError) as exc:   # the flow left float64's range: undecided
                    runs.append({"init": init, "converged": False, "stop_reason": f"float range ({exc})"})
                    continue
                runs.append(_fixed_cone_run(init, traj, sel, pm))
            out[sel] = {"selection": list(sel), "R": R, "R_over_p_mm_norm": c, "step": step,
                        "target_norm": FIXED_CONE_GROWTH * R, "runs": runs,
                        "ok": all(r["converged"] for r in runs),
                        "algorithm": "fixed-step GD with the certified step (numeric.simulate_fixed_step)"}
        return out

    def status(self, sel) -> dict:
        sel = tuple(int(a) for a in sel)
        if sel not in self.exact:
            self.exact[sel] = exact_status(self.ctx, sel)
            self.exact[sel]["optimal"] = all(a in s for a, s in zip(sel, self.argmax_sets))
            self.exact[sel]["float_locally_optimal"] = self.ctx.selection_svm(sel).locally_optimal
        return self.exact[sel]

    def families(self):
        """(name, inits, DecidedRuns, labels) of each family of runs."""
        inits = np.asarray(self.ctx.dataset.inits, dtype=float).reshape(len(self.ctx.dataset.inits), -1)
        out = [("dataset init", inits, self.dataset_runs, None), ("random init", self.random_inits, self.random_runs, None)]
        if self.cone_runs is not None:
            out.append(("cone", self.cone_inits, self.cone_runs, self.cone_labels))
        return out

    def contradictions(self) -> list:
        """Runs judged converged to a selection that is exactly not locally optimal: counterexamples, each with
        what reproduces it (init, final iterate, iteration, step, the witness)."""
        out = []
        for name, inits, runs, labels in self.families():
            for k, j in enumerate(runs.judgements):
                if j.status == CONVERGED and self.status(j.selection)["locally_optimal"] is False:
                    src = f"{name} {k}" if labels is None else \
                        f"cone of {list(labels[k][0])} at R = {labels[k][2]:.4g}"
                    out.append({"source": src, "init": inits[k], "selection": list(j.selection),
                                "final_iterate": runs.histories[k]["theta_final"], "iteration": j.iteration,
                                "one_minus_corr": j.one_minus_corr, "step": self.ctx.options["step"],
                                "algorithm": "normalised GD with the zigzag step rule (numeric.decide_runs)",
                                "witness": self.status(j.selection).get("witness"),
                                "status": self.status(j.selection)})
        return out

    def cones(self) -> dict:
        """Per locally optimal selection tested: per radius, how many cone runs stayed and converged."""
        out = {}
        if self.cone_runs is None:
            return out
        for sel in self.cone_selections:
            per_r = []
            for c in CONE_RADII:
                js = [j for j, lab in zip(self.cone_runs.judgements, self.cone_labels) if lab[0] == sel and lab[1] == c]
                if not js:
                    continue
                ok = sum(j.status == CONVERGED and j.selection == sel for j in js)
                per_r.append({"R": c * self.exact[sel]["p_mm_norm"], "R_over_p_mm_norm": c, "runs": len(js),
                              "stayed_and_converged": ok, "ok": ok == len(js),
                              "statuses": dict(Counter(j.status for j in js))})
            worked = [p for p in per_r if p["ok"]]
            out[sel] = {"selection": list(sel), "smallest_R": worked[0]["R"] if worked else None,
                        "smallest_R_over_p_mm_norm": worked[0]["R_over_p_mm_norm"] if worked else None,
                        "radii": per_r, "algorithm": "normalised GD"}
            fixed = getattr(self, "fixed_cones", {}).get(sel)
            if fixed is not None:
                out[sel]["fixed_step"] = fixed
                if not worked and fixed["ok"]:
                    out[sel].update(smallest_R=fixed["R"], smallest_R_over_p_mm_norm=fixed["R_over_p_mm_norm"],
                                    algorithm="fixed-step GD (the theorem's algorithm)")
        return out

    def basins(self) -> list:
        """Which selections attract GD from the random inits, and how often (with the other outcomes)."""
        judged = self.random_runs.judgements
        counts = Counter((j.status, j.selection if j.status == CONVERGED else None) for j in judged)
        out = []
        for (status, sel), cnt in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0])):
            entry = {"status": status, "runs": cnt, "fraction": cnt / max(1, len(judged))}
            if sel is not None:
                entry.update(selection=list(sel), optimal=self.status(sel)["optimal"],
                             locally_optimal=self.status(sel)["locally_optimal"])
            out.append(entry)
        return out

    def run_table(self, runs, inits) -> list:
        """The evidence of a family of runs, one row per run."""
        rows = []
        for k, j in enumerate(runs.judgements):
            row = {"init": inits[k], **j.to_dict()}
            if j.status == CONVERGED:
                row["locally_optimal"] = self.status(j.selection)["locally_optimal"]
                row["optimal"] = self.status(j.selection)["optimal"]
            rows.append(row)
        return rows

    def fixed_step_stall(self, k: int) -> dict | None:
        """For the dataset's run k when normalised GD left it undecided: the theorem's fixed-step GD from the same
        init (verify.theorem_runs, run by `norm-divergence`) when it settles at a finite point, i.e. it stopped at a
        float64 fixed point (or a zero gradient) or ||theta|| changed by less than 1% over its last decade of k, and
        Krawczyk's test (Context.certify_stationary) proves a unique stationary point of L in a box that contains its
        final iterate. None otherwise (the run stays undecided)."""
        from .theorem_runs import theorem_runs

        runs = theorem_runs(self.ctx)
        if k >= len(runs):
            return None
        run = runs[k]
        cps = run.checkpoints
        last = cps[-1]
        x_end = last["log10_iteration"]
        start = next((c for c in cps if c["log10_iteration"] is not None and x_end is not None
                      and c["log10_iteration"] >= x_end - 1), cps[0])
        flat = last["norm"] <= 1.01 * start["norm"] and start["norm"] <= 1.01 * last["norm"]
        if not (run.stop_reason == "stationary" or (flat and run.stop_reason != "target norm")):
            return None
        cert = self.ctx.certify_stationary(last["theta"])
        inside = cert.get("certified") and cert.get("distance_from_start", np.inf) <= cert.get("radius", 0.0)
        if not inside:
            return None
        return {"status": STALLED, "algorithm": "fixed-step GD (the theorems' algorithm, verify.theorem_runs)",
                "step": run.step, "stop_reason": run.stop_reason, "iteration_log10": x_end, "norm": last["norm"],
                "selection": list(last["selected"]), "certificate": cert,
                "reason": f"fixed-step GD settles at ||theta|| = {last['norm']:.6g} ({run.stop_reason}); a unique "
                          f"stationary point ({cert.get('kind', 'stationary point')}) is certified within "
                          f"{cert.get('radius', 0.0):.2g} of it"}

    def candidate_evidence(self) -> dict:
        ctx = self.ctx
        analysed = [ctx.selection_svm(c) for c in self.candidates]
        return {"examined": int(len(self.candidates)), "all": bool(self.enumerated),
                "feasible": int(sum(a.feasible for a in analysed)),
                "locally_optimal_float": [list(a.selection) for a in analysed if a.locally_optimal],
                "table": [{"selection": list(a.selection), "feasible": a.feasible,
                           "support": [list(x) for x in a.support], "locally_optimal": a.locally_optimal}
                          for a in analysed] if len(analysed) <= MAX_TABLE else None}

    def counts(self) -> dict:
        return {name: runs.counts() for name, _, runs, _ in self.families()}


def exploration(ctx) -> Exploration:
    """The exploration of ``ctx``'s dataset (computed once)."""
    if getattr(ctx, "_exploration", None) is None:
        ctx._exploration = Exploration(ctx)
    return ctx._exploration


STATUS_WORDS = {CONVERGED: "converged", STALLED: "stalled (certified)", MIXED: "mixed", UNDECIDED: "undecided"}
