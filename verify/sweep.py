"""Sweeps over a random family of datasets: how often the p-SVM is feasible and GD converges globally.

Family (the second paper's synthetic data): for each grid point (n, T, d) and seed s, the tokens x_it are
standard Gaussian vectors in R^d normalised to unit length, the head v is a unit-norm Gaussian vector,
the labels Y_i are independent random signs, W = I (so the keys are the tokens and p lives in R^d; any
fixed invertible W only reparameterises p). Every number comes from numpy's PCG64 generator seeded with
SeedSequence([base_seed, n, T, d, s]), so a grid point's data do not depend on the rest of the grid or on
where the point is computed.

Per grid point (one batch, torch float64, on a GPU when present): GD with normalised steps (step 1,
``iterations`` steps, logistic loss) from p = 0 and from ``inits - 1`` random inits (directions uniform
on the sphere, radius ``init_radius``), for every dataset at once. Each run is judged by the rule of
:mod:`numeric.convergence` (converged to S / stalled / mixed / undecided), and a converged run is classified by
its selection S: the optimal tokens, another locally optimal selection, or a selection that is not
locally optimal (which the theory rules out; such a run is first continued for 10x the iterations and
judged again on the continuation). The row reports the fractions of runs in each class, the
fraction of datasets whose optimal-token p-SVM is feasible, the same fractions for the runs from p = 0 alone, and (for T^n <= 256) the mean fraction of
all selections whose p-SVM is feasible and the mean number of locally optimal selections per dataset.

With a Dask scheduler address the grid points are submitted as tasks to that cluster and gathered into
the same table (``pip install 'attnsvm[dist]'``).
"""
from __future__ import annotations

import time
from collections import Counter

import numpy as np

from attnsvm.numeric.batched import default_device
from attnsvm.numeric.convergence import CONVERGED, RULE as CONVERGENCE_RULE, decide_runs
from attnsvm.numeric.selections import all_selections, analyse_selection, feasible_many
from attnsvm.numeric.threads import torch_threads

from .errors import InputError

SCHEMA = "attnsvm.sweep/1"
CLASSES = ("optimal", "local", "not_local", "stalled", "mixed", "undecided")
JUDGE = dict(CONVERGENCE_RULE)
BUDGET_FACTORS = (1, 4, 16)   # rounds of decide_runs: iterations, 4 x, 16 x for the runs still undecided
RULE = ("the rule of numeric.convergence: converged to S: the dominant tokens equal S over the last decade of "
        "iterations, ||p|| grew >= {min_growth:g}x over that decade, the p-SVM of S is feasible and 1 - corr(p_K, "
        "p_mm(S)) <= {tol:g} having fallen >= {min_drop:g}-fold; stalled: a certified finite stationary point "
        "(not attempted in sweeps: such runs stay undecided); mixed: ||p|| diverges while max_i (1 - s_i,a_i) >= "
        "{mixed_mass:g} stays; undecided: neither after the last round. Normalised GD with the zigzag step rule "
        "(the step halves when consecutive gradients disagree), in rounds of growing budgets").format(**JUDGE)


def random_dataset(n: int, T: int, d: int, seed: int, base_seed: int = 0):
    """(X (n, T, d), Y (n,), v (d,)) of the family: unit-norm Gaussian tokens and head, random signs."""
    rng = np.random.default_rng(np.random.SeedSequence([base_seed, n, T, d, seed]))
    X = rng.standard_normal((n, T, d))
    X /= np.linalg.norm(X, axis=2, keepdims=True)
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    Y = rng.choice(np.array([-1.0, 1.0]), size=n)
    return X, Y, v


def random_inits(n: int, T: int, d: int, seed: int, count: int, radius: float, base_seed: int = 0) -> np.ndarray:
    """p = 0 and ``count - 1`` inits radius * u, u uniform on the unit sphere of R^d (own generator)."""
    rng = np.random.default_rng(np.random.SeedSequence([base_seed, n, T, d, seed, 1]))
    u = rng.standard_normal((count - 1, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return np.vstack([np.zeros((1, d)), radius * u])


MODELS = ("p", "W", "KQ")


def sweep_point(n: int, T: int, d: int, seeds: int, *, inits: int = 5, init_radius: float = 2.0,
                iterations: int = 2000, base_seed: int = 0, device: str | None = None, threads: int | None = 1,
                model: str = "p", ranks: bool = True) -> dict:
    """One row of the sweep table (see module docstring; ``model`` "W" or "KQ": verify.sweep_w). ``threads`` caps
    torch's CPU threads during the batch (one thread is fastest for these small tensors on a busy machine; None
    leaves torch's setting). ``ranks`` (W, KQ): the certified ranks of both W-SVMs of the optimal tokens."""
    start = time.perf_counter()
    device = device or default_device()
    with torch_threads(threads):
        if model == "p":
            row = _sweep_point(n, T, d, seeds, inits, init_radius, iterations, base_seed, device)
        else:
            from .sweep_w import sweep_point_w

            row = sweep_point_w(model, n, T, d, seeds, inits, init_radius, iterations, base_seed, device,
                                budget_factors=BUDGET_FACTORS, ranks=ranks)
    row["seconds"] = round(time.perf_counter() - start, 3)
    row["device"] = device
    return row


def _sweep_point(n, T, d, seeds, inits, init_radius, iterations, base_seed, device) -> dict:
    data = [random_dataset(n, T, d, s, base_seed) for s in range(seeds)]
    X = np.stack([x for x, _, _ in data])                             # (S, n, T, d)
    gamma = np.stack([y[:, None] * (x @ v) for x, y, v in data])      # (S, n, T)
    alpha = gamma.argmax(axis=2)                                      # (S, n); ties have probability 0
    theta0 = np.concatenate([random_inits(n, T, d, s, inits, init_radius, base_seed) for s in range(seeds)])
    owner = np.repeat(np.arange(seeds), inits)
    cache: dict = {}

    def analysis(s: int, sel: tuple):
        key = (s, sel)
        if key not in cache:
            cache[key] = analyse_selection(X[s], gamma[s], sel)
        return cache[key]

    def suspicious(b, j):
        # an apparent convergence to a selection that is not locally optimal is run to the last budget
        return (j.status == CONVERGED and j.selection != tuple(int(a) for a in alpha[owner[b]])
                and not analysis(int(owner[b]), j.selection).locally_optimal)

    budgets = tuple(f * iterations for f in BUDGET_FACTORS)
    t0 = time.perf_counter()
    decided = decide_runs(theta0, X[owner], gamma[owner], "logistic",
                          lambda b, sel: analysis(int(owner[b]), sel).p_mm, step=1.0, budgets=budgets, device=device)
    judged = decided.judgements
    suspect = [b for b, j in enumerate(judged) if suspicious(b, j)]
    if suspect:   # continue the suspicious runs alone to the last budget, judged on their whole history
        again = decide_runs(theta0[suspect], X[owner[suspect]], gamma[owner[suspect]], "logistic",
                            lambda k, sel: analysis(int(owner[suspect[k]]), sel).p_mm, step=1.0,
                            budgets=(budgets[-1],), device=device)
        for b, j in zip(suspect, again.judgements):
            judged[b] = j
    gd_seconds = time.perf_counter() - t0
    counts, zero_counts = classify_runs(judged, owner, alpha, inits, analysis)
    feasible_opt = [analysis(s, tuple(int(a) for a in alpha[s])).feasible for s in range(seeds)]
    row = {"n": n, "T": T, "d": d, "datasets": seeds, "runs": len(judged), "rechecked": len(suspect),
           "feasible_optimal": float(np.mean(feasible_opt)),
           "feasible_selections": None, "locally_optimal_per_dataset": None}
    if n * np.log2(T) <= 8:   # T^n <= 256
        sels = all_selections(n, T)
        frac, nloc = [], []
        for s in range(seeds):
            ok = feasible_many(X[s], sels)
            frac.append(float(np.mean(ok)))
            nloc.append(sum(bool(analysis(s, tuple(int(a) for a in sel)).locally_optimal) for sel in sels[ok]))
        row["feasible_selections"] = float(np.mean(frac))
        row["locally_optimal_per_dataset"] = float(np.mean(nloc))
    row["counts"] = {c: int(counts.get(c, 0)) for c in CLASSES}
    row["fractions"] = {c: counts.get(c, 0) / len(judged) for c in CLASSES}
    row["fractions"]["neither"] = sum(counts.get(c, 0) for c in ("not_local", "stalled", "mixed")) / len(judged)
    row["fractions_from_zero"] = {c: zero_counts.get(c, 0) / seeds for c in CLASSES}
    row["gd_seconds"] = round(gd_seconds, 3)
    return row


def classify_runs(judgements, owner, alpha, inits: int, analysis) -> tuple[Counter, Counter]:
    """Counts of the run classes: converged to the optimal tokens alpha[s] of its dataset s = owner[b]
    ("optimal"), to another selection that ``analysis(s, selection).locally_optimal`` says is locally optimal
    ("local") or is not ("not_local"), else the run's status; the second Counter for the first run of each
    dataset (every ``inits``-th run: the run from 0)."""
    counts, zero_counts = Counter(), Counter()
    for b, j in enumerate(judgements):
        s = int(owner[b])
        if j.status == CONVERGED:
            if j.selection == tuple(int(a) for a in alpha[s]):
                cls = "optimal"
            elif analysis(s, j.selection).locally_optimal:
                cls = "local"
            else:
                cls = "not_local"
        else:
            cls = j.status
        counts[cls] += 1
        if b % inits == 0:                  # the run from 0
            zero_counts[cls] += 1
    return counts, zero_counts


def point_memory_bytes(n: int, T: int, d: int, seeds: int, inits: int) -> int:
    """An estimate of the peak memory of one grid point: the tokens of every dataset (seeds x n T d floats),
    the batch's features and their differences to the dominant tokens (2 x seeds x inits x n T d) and a dozen
    (seeds x inits x n T) temporaries of the GD step, 8 bytes each."""
    runs = seeds * inits
    return 8 * (n * T * d * (seeds + 2 * runs) + 12 * runs * n * T)


def available_memory_bytes() -> int:
    """The memory the system reports available (MemAvailable of /proc/meminfo; else the physical memory)."""
    from .memory import proc_bytes

    avail = proc_bytes("/proc/meminfo", "MemAvailable")
    if avail is not None:
        return avail
    import os

    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # pragma: no cover - platform without sysconf
        return 1 << 62


def check_memory(grid, seeds: int, inits: int, fraction: float = 0.5) -> None:
    """A one-line InputError before anything runs when a grid point would need more than ``fraction`` of
    the available memory (:func:`point_memory_bytes`)."""
    avail = available_memory_bytes()
    for n, T, d in grid:
        need = point_memory_bytes(n, T, d, seeds, inits)
        if need > fraction * avail:
            raise InputError(f"--n {n} --T {T} --d {d}: one grid point needs about {_gib(need)} of memory "
                             f"({seeds} seeds x {inits} inits), more than {fraction:.0%} of the {_gib(avail)} "
                             f"available; use smaller sizes or fewer --seeds/--inits")


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2 ** 30:.3g} GiB"


def parse_int_list(text: str, name: str, minimum: int = 1) -> list[int]:
    """"2,4,6" -> [2, 4, 6] (each >= minimum); a one-line InputError naming the option otherwise."""
    try:
        values = [int(x) for x in str(text).split(",") if x.strip() != ""]
    except ValueError:
        raise InputError(f"{name}: expected comma-separated integers, got {str(text)[:40]!r}") from None
    if not values:
        raise InputError(f"{name}: expected at least one integer")
    bad = [x for x in values if x < minimum]
    if bad:
        raise InputError(f"{name}: every value must be >= {minimum}, got {bad[0]}")
    return values


def sweep(ns, Ts, ds, seeds: int, *, inits: int = 5, init_radius: float = 2.0, iterations: int = 2000,
          base_seed: int = 0, scheduler: str | None = None, device: str | None = None, model: str = "p",
          ranks: bool = True) -> dict:
    """The sweep table over the grid ns x Ts x ds: {"schema", "family", "options", "rule", "rows", ...}.
    With ``scheduler`` (a Dask scheduler address) the grid points run as tasks on that cluster. ``model``: "p"
    (the prompt model), "W" or "KQ" (cross-attention, verify.sweep_w)."""
    if model not in MODELS:
        raise InputError(f"model: expected one of {', '.join(MODELS)}, got {str(model)[:20]!r}")
    for name, value in (("seeds", seeds), ("inits", inits), ("iterations", iterations)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name}: expected a positive integer, got {value!r}")
    if not (np.isfinite(init_radius) and init_radius > 0):
        raise InputError(f"init_radius: expected a positive number, got {init_radius!r}")
    grid = [(int(n), int(T), int(d)) for n in ns for T in Ts for d in ds]
    if scheduler is None:
        check_memory(grid, int(seeds), int(inits))
    opts = {"inits": int(inits), "init_radius": float(init_radius), "iterations": int(iterations),
            "base_seed": int(base_seed), "model": model}
    if model != "p":
        opts["ranks"] = bool(ranks)
    start = time.perf_counter()
    if scheduler is None:
        rows = [sweep_point(n, T, d, int(seeds), device=device, **opts) for n, T, d in grid]
        where = "local"
    else:
        rows = _sweep_distributed(grid, int(seeds), opts, scheduler, device)
        where = f"dask scheduler {scheduler}"
    family = {"name": "unit-norm Gaussian", "tokens": "x_it ~ N(0, I_d) / ||.||", "head": "v ~ N(0, I_d) / ||.||",
              "labels": "Y_i uniform on {-1, +1}", "W": "identity",
              "seeding": "numpy PCG64, SeedSequence([base_seed, n, T, d, seed])"}
    if model != "p":
        family.update(W=f"trained ({'W' if model == 'W' else 'W = K Q^T, K, Q of shape d x d'})",
                      queries="cross-attention z_i ~ N(0, I_d) / ||.||, SeedSequence([base_seed, n, T, d, seed, 2])")
    return {"schema": SCHEMA, "model": model, "family": family,
            "gd": {"method": "normalized", "step": 1.0, "loss": "logistic", "backend": "batched float64 (numeric.batched_gd; numpy engine for small problems, torch otherwise)",
                   "parameter": {"p": "p", "W": "W", "KQ": "(K, Q), normalised jointly"}[model],
                   "target": {"p": "p-SVM", "W": "Frobenius W-SVM", "KQ": "nuclear-norm W-SVM"}[model]},
            "options": {**opts, "seeds": int(seeds)}, "rule": RULE, "judge": dict(JUDGE),
            "classes": {"optimal": "converged to the optimal tokens",
                        "local": "converged to another locally optimal selection",
                        "not_local": "converged to a selection that is not locally optimal (ruled out by the theory)",
                        "stalled": "the norm stops growing: GD settles near a finite stationary point",
                        "mixed": "attention stays spread over several tokens of some sequence",
                        "undecided": "no decision within the iteration budget",
                        "neither": "not_local + stalled + mixed"},
            "rows": rows, "where": where, "seconds": round(time.perf_counter() - start, 3)}


def _sweep_distributed(grid, seeds, opts, scheduler, device) -> list:
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask.distributed, which is not installed "
                         "(pip install 'attnsvm[dist]')") from None
    try:
        client = Client(scheduler, timeout=15, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--scheduler {scheduler}: cannot connect: {' '.join(str(exc).split())[:160]}") from None
    try:
        futures = [client.submit(sweep_point, n, T, d, seeds, device=device, pure=False, **opts) for n, T, d in grid]
        return client.gather(futures)
    finally:
        client.close()


def comparable(table: dict) -> dict:
    """The table without timings, devices and placement: what two runs of the same sweep must share."""
    rows = [{k: v for k, v in r.items() if k not in ("seconds", "gd_seconds", "device")} for r in table["rows"]]
    return {k: v for k, v in table.items() if k not in ("seconds", "where", "rows")} | {"rows": rows}


__all__ = ["CLASSES", "RULE", "SCHEMA", "check_memory", "comparable", "point_memory_bytes", "parse_int_list", "random_dataset", "random_inits", "sweep",
           "sweep_point"]

