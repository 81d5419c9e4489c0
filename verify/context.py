"""Everything the checks of one dataset share: options, the numeric loss, features, and caches of
SVM solutions and GD runs (each computed once, whichever check asks first)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from attnsvm import numeric
from attnsvm import symbolic
from attnsvm.numeric import Trajectory

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
    "cross_check_iterations": 3000,  # steps of the float64 and mpmath runs of precision-cross-check
    "cross_check_dps": 30,       # mpmath digits of the precision-cross-check runs
    "cross_check_time_budget": 20.0,  # seconds per mpmath cross-check run (then float64 matches its length)
    "cross_check_tol": 1e-10,    # direction distance above which float64 and mpmath count as parted
    "certify_dps": 50,           # mpmath digits of the certified checkpoints
    "naive_tol": 1e-8,           # direction distance at which the naive float64 gradient counts as departed
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
    for key in ("max_iterations", "fixed_iterations", "dps", "cross_check_iterations", "cross_check_dps",
                "certify_dps"):
        if not isinstance(opts[key], (int, np.integer)) or isinstance(opts[key], bool) or opts[key] < 1:
            raise InputError(f"{key}: expected a positive integer, got {opts[key]!r}")
    for key in ("time_budget", "fixed_time_budget", "tol", "stop_tol", "step", "fixed_step",
                "cross_check_time_budget", "cross_check_tol", "naive_tol"):
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
        try:
            fns = symbolic.lambdify_loss(symbolic.parse_loss(spec.expr))
        except symbolic.LossExpressionError as exc:
            raise InputError(f"loss.expr: {exc}") from None
        return numeric.Loss(name="expr", value=fns.value, derivative=fns.derivative, mp_value=fns.mp_value,
                            mp_derivative=fns.mp_derivative, expression=spec.expr)
    return numeric.BUILTIN_LOSSES[spec.name]


def loss_expression(dataset: Dataset):
    """The dataset's loss as a sympy expression in u (built-in, or the parsed ``expr``)."""
    spec = dataset.loss_spec
    if spec.expr is not None:
        return symbolic.parse_loss(spec.expr)
    return symbolic.BUILTIN_LOSSES[spec.name]


@dataclass
class SVMRecord:
    """A p-SVM for one token selection: the solver's answer and its polished KKT solution."""

    selection: tuple
    margins: tuple | None
    constraints: numeric.SVMConstraints
    solution: numeric.SVMSolution
    polished: numeric.PolishedSVM | None = None
    exact: numeric.SVMConstraints | None = None
    _certificate: symbolic.SVMCertificate | None = None

    def certificate(self) -> symbolic.SVMCertificate:
        """The exact certificate of this SVM (symbolic.certify_svm from the polished active set), cached."""
        if self._certificate is None:
            if not self.feasible:
                # no solver answer: the exact method from scratch certifies a solution or proves infeasibility
                self._certificate = symbolic.certify_svm(self.exact.A, self.exact.b, [])
                if self._certificate.status != "exact" and not self._certificate.infeasible:
                    self._certificate.reason = f"the solver reports {self.solution.status}; {self._certificate.reason}"
            else:
                guess = list(self.polished.basis) + list(self.polished.active) if self.polished else []
                self._certificate = symbolic.certify_svm(self.exact.A, self.exact.b, guess, polished=self.polished)
        return self._certificate

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
        if self.exact is not None:
            cert = self.certificate()
            ev["certificate"] = cert.status
            if cert.status == "exact":
                ev["p_mm_exact"] = cert.theta_strings()
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
    _precision: dict = field(default_factory=dict)
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
            exact = self.dataset.exact_constraints(key[0], margins, approx=con.A)   # exact rows on demand
            sol, polished = numeric.solve_and_polish(con.A, con.b, exact.A, exact.b, dps=self.options["dps"])
            rec = SVMRecord(selection=key[0], margins=key[1], constraints=con, solution=sol, polished=polished)
            rec.exact = exact
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

    # -- float64 against mpmath (precision-cross-check) --------------------------------------------
    def precision_runs(self) -> list:
        """Per init: (float64 trajectory, mpmath trajectory) of the same GD (method and step of the options,
        the mpmath one at ``cross_check_dps`` digits on the exact data), computed once. The mpmath run goes
        first, for ``cross_check_iterations`` steps or ``cross_check_time_budget`` seconds; the float64 run
        then takes exactly as many steps, so both have the same checkpoints."""
        if "runs" not in self._precision:
            o = self.options
            runs = []
            for init in self.dataset.inits:
                tmp = numeric.run_gd_mp(init, self.dataset.features_exact(), self.dataset.gamma_exact, self.loss,
                                        dps=o["cross_check_dps"], method=o["method"], step=o["step"],
                                        max_iter=o["cross_check_iterations"],
                                        time_budget=o["cross_check_time_budget"])
                t64 = numeric.run_gd(init, self.phi, self.gamma, self.loss, method=o["method"], step=o["step"],
                                     max_iter=tmp.final.iteration, time_budget=float("inf"))
                runs.append((t64, tmp))
            self._precision["runs"] = runs
        return self._precision["runs"]

    def certified_checkpoints(self) -> list:
        """Per directional-limit run: its checkpoints' float64 gradient directions against mpmath at
        ``certify_dps`` digits (numeric.certify_checkpoints), computed once."""
        if "certified" not in self._precision:
            self._precision["certified"] = [
                numeric.certify_checkpoints(traj, self.phi, self.gamma, self.dataset.features_exact(),
                                            self.dataset.gamma_exact, self.loss, dps=self.options["certify_dps"])
                for traj in self.gd_runs()]
        return self._precision["certified"]

    def naive_walks(self) -> list:
        """Per directional-limit run: where the naive float64 gradient departs from the stable one and where
        it stalls, walking along the run and on along its final ray (numeric.naive_breakdown), computed once."""
        if "naive" not in self._precision:
            self._precision["naive"] = [
                numeric.naive_breakdown([c.theta for c in traj.checkpoints], self.phi, self.gamma, self.loss,
                                        tol=self.options["naive_tol"])
                for traj in self.gd_runs()]
        return self._precision["naive"]
