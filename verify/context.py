"""Everything the checks of one dataset share: options, the numeric loss, features, and caches of
SVM solutions and GD runs (each computed once, whichever check asks first)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import numeric
from numeric import Trajectory

from .dataset import Dataset
from .errors import InputError

DEFAULT_OPTIONS = {
    "max_iterations": 300_000,   # budget of each directional-limit run
    "time_budget": 20.0,         # seconds per directional-limit run
    "tol": 1e-6,                 # 1 - corr below which a direction counts as converged
    "stop_tol": 1e-10,           # a run stops once 1 - corr <= stop_tol with a stable selection
    "dps": 50,                   # mpmath digits for polishing SVM solutions
    "fixed_iterations": 100_000, # budget of the fixed-step run of norm-divergence
    "fixed_time_budget": 5.0,
    "fixed_step": None,          # default: the dataset's step when its method is fixed, else 1
    "method": None,              # default: the dataset's gd.method, else normalized
    "step": None,                # default: the dataset's gd.step, else 1
}


def resolve_options(dataset: Dataset, options: dict) -> dict:
    """Defaults, then the dataset's ``gd`` block, then explicit options; unknown names are errors."""
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise InputError(f"unknown option {unknown[0]!r} (known: {', '.join(sorted(DEFAULT_OPTIONS))})")
    opts = dict(DEFAULT_OPTIONS)
    gd = dataset.gd
    opts["method"] = gd.get("method", "normalized")
    opts["step"] = gd.get("step", 1.0)
    if "iterations" in gd:
        opts["max_iterations"] = gd["iterations"]
    opts["fixed_step"] = gd["step"] if gd.get("method") == "fixed" and "step" in gd else 1.0
    for key, value in options.items():
        if value is not None:
            opts[key] = value
    if opts["method"] not in numeric.METHODS:
        raise InputError(f"method: unknown GD method {opts['method']!r}; expected normalized or fixed")
    for key in ("max_iterations", "fixed_iterations", "dps"):
        if not isinstance(opts[key], (int, np.integer)) or isinstance(opts[key], bool) or opts[key] < 1:
            raise InputError(f"{key}: expected a positive integer, got {opts[key]!r}")
    for key in ("time_budget", "fixed_time_budget", "tol", "stop_tol", "step", "fixed_step"):
        try:
            value = float(opts[key])
        except (TypeError, ValueError):
            raise InputError(f"{key}: expected a number, got {opts[key]!r}") from None
        if not value > 0 or not np.isfinite(value):
            raise InputError(f"{key}: expected a positive number, got {opts[key]!r}")
        opts[key] = value
    return opts


def numeric_loss(dataset: Dataset) -> numeric.Loss:
    """The dataset's loss as a numeric.Loss."""
    spec = dataset.loss_spec
    if spec.expr is not None:
        raise InputError("loss: loss expressions ({\"expr\": ...}) are not supported yet; use logistic, "
                         "exponential or correlation")
    return numeric.BUILTIN_LOSSES[spec.name]


@dataclass
class SVMRecord:
    """A p-SVM for one token selection: the solver's answer and its polished KKT solution."""

    selection: tuple
    margins: tuple | None
    constraints: numeric.SVMConstraints
    solution: numeric.SVMSolution
    polished: numeric.PolishedSVM | None = None

    @property
    def feasible(self) -> bool:
        return self.solution.feasible

    @property
    def theta(self) -> np.ndarray | None:
        """p_mm in float64 (from the polished solution when there is one)."""
        if self.polished is not None:
            return self.polished.theta_float
        return self.solution.theta

    def support(self) -> list:
        """[i, t] of every active constraint (the support tokens)."""
        if self.polished is None:
            return []
        return [[int(i), int(t)] for i, t in self.constraints.pairs[self.polished.active]]

    def evidence(self) -> dict:
        ev = {"selection": list(self.selection), "feasible": self.feasible, "solver_status": self.solution.status}
        if self.margins is not None:
            ev["margins"] = list(self.margins)
        if self.polished is not None:
            pol = self.polished
            ev.update({
                "p_mm": numeric.mp_decimal_strings(pol.theta, 40),
                "p_mm_norm": numeric.mp_decimal_strings([pol.norm], 40)[0],
                "support": self.support(),
                "multipliers": {f"{i},{t}": numeric.mp_decimal_strings([pol.lam[j]], 20)[0]
                                for j, (i, t) in enumerate(self.constraints.pairs.tolist()) if pol.lam[j] != 0},
                "kkt_residual": float(pol.kkt_residual),
                "kkt_ok": pol.ok,
                "dps": pol.dps,
                "solver_norm_error": float(abs(self.solution.norm - float(pol.norm))),
            })
            if pol.notes:
                ev["notes"] = pol.notes
        return ev


@dataclass
class Context:
    """Shared state of one ``check`` call."""

    dataset: Dataset
    options: dict
    loss: numeric.Loss = None
    phi: np.ndarray = None
    gamma: np.ndarray = None
    _svms: dict = field(default_factory=dict)
    _runs: list | None = None
    _fixed_run: Trajectory | None = None
    _w: dict = field(default_factory=dict)   # caches of the self/cross-attention checks (verify/w_runs.py)

    @classmethod
    def create(cls, dataset: Dataset, **options) -> "Context":
        opts = resolve_options(dataset, options)
        ctx = cls(dataset=dataset, options=opts, loss=numeric_loss(dataset))
        ctx.phi = dataset.features()
        ctx.gamma = dataset.gamma
        return ctx

    def svm(self, selection, margins=None) -> SVMRecord:
        """The p-SVM of ``selection`` (one token per sequence), solved and polished, cached."""
        key = (tuple(int(a) for a in selection), None if margins is None else tuple(margins))
        if key not in self._svms:
            con = numeric.svm_constraints(self.phi, key[0], margins)
            sol = numeric.solve_svm(con.A, con.b)
            rec = SVMRecord(selection=key[0], margins=key[1], constraints=con, solution=sol)
            if sol.feasible:
                exact = numeric.svm_constraints(self.dataset.features_exact(), key[0], margins)
                guess = numeric.active_set_guess(sol, con.A, con.b)
                rec.polished = numeric.polish(exact.A, exact.b, guess, dps=self.options["dps"])
            self._svms[key] = rec
        return self._svms[key]

    def svms(self) -> list:
        return list(self._svms.values())

    # -- GD runs ---------------------------------------------------------------------------------
    def _observer(self, stop_tol: float):
        """At each checkpoint: 1 - corr against p_mm of the currently selected tokens; stop once it is
        below ``stop_tol``, the selection has not changed over the last 5 checkpoints and a decade of
        ||p|| on that selection lies behind (so the trend can be judged)."""
        history: list = []

        def observe(cp) -> bool:
            rec = self.svm(cp.selected)
            omc = None
            if rec.feasible and cp.norm > 0:
                omc = numeric.one_minus_corr(cp.theta, rec.theta)
            cp.extra["one_minus_corr"] = omc
            history.append(cp)
            if omc is None or omc > stop_tol or len(history) < 6:
                return False
            if any(h.selected != cp.selected for h in history[-6:]):
                return False
            same = [h for h in history if h.selected == cp.selected]
            return cp.norm >= 100 and any(h.norm <= cp.norm / 10 for h in same)

        return observe

    def gd_runs(self) -> list:
        """The directional-limit GD runs, one per init (computed once)."""
        if self._runs is None:
            o = self.options
            self._runs = [numeric.run_gd(init, self.phi, self.gamma, self.loss, method=o["method"], step=o["step"],
                                         max_iter=o["max_iterations"], time_budget=o["time_budget"],
                                         observer=self._observer(o["stop_tol"]))
                          for init in self.dataset.inits]
        return self._runs

    def fixed_run(self) -> Trajectory:
        """A fixed-step GD run from the first init (for norm-divergence), computed once."""
        if self._fixed_run is None:
            o = self.options
            self._fixed_run = numeric.run_gd(self.dataset.inits[0], self.phi, self.gamma, self.loss, method="fixed",
                                             step=o["fixed_step"], max_iter=o["fixed_iterations"],
                                             time_budget=o["fixed_time_budget"], per_decade=10)
        return self._fixed_run
