"""Everything the checks of one dataset share: options, the numeric loss, features, and caches of
SVM solutions and GD runs (each computed once, whichever check asks first)."""
from __future__ import annotations

import contextlib

from dataclasses import dataclass, field

import numpy as np

from attnsvm import numeric
from attnsvm import symbolic

from . import memory
from .dataset import Dataset
from .errors import InputError

DEFAULT_OPTIONS = {
    "max_iterations": 32_000,    # normalised GD: the last of the doubling budgets (1000, 2000, ... up to this)
    "time_budget": None,         # optional wall-clock seconds per GD batch (default none: results are deterministic)
    "tol": 1e-6,                 # 1 - corr below which the theorem algorithm's direction counts as converged
    "dps": 50,                   # mpmath digits for polishing SVM solutions
    "step": None,                # nominal normalised step (default: the dataset's gd.step when its method is
                                 # normalized, else 1); the zigzag rule may shorten it
    "fixed_step": None,          # fixed step of the theorem algorithm (default: min(the dataset's fixed step, 1/L))
    "random_inits": 64,          # random inits of the exploration behind locally-optimal (basins)
    "fixed_iterations": 200_000, # fixed-step GD: the most literal steps before its modified equation takes over
    "fixed_max_log10_steps": 1e5,   # fixed-step GD: the most equivalent steps, as a base-10 exponent
    "cross_check_iterations": 3000,  # steps of the precision-cross-check's float64 runs (at most, of its mpmath runs)
    "cross_check_dps": 30,       # mpmath digits of the precision-cross-check's mpmath GD runs (at least 30)
    "cross_check_time_budget": None,  # optional seconds per mpmath cross-check run (default none: deterministic)
    "cross_check_max_entries": 1024,  # precision-cross-check: the most entries n T D of Phi its mpmath runs take;
                                 # larger datasets: a subsample of the sequences (stated in the evidence)
    "cross_check_tol": 1e-13,    # least tolerance of the one-step consistency (relative; the rounding bound may
                                 # be larger)
    "certify_dps": 50,           # mpmath digits of the one-step consistency and SVM certificates (at least 30)
    "naive_tol": 1e-8,           # direction distance at which the naive float64 gradient counts as departed
    "selected_threshold": 1e-3,  # svm-equivalence: token t is selected in sequence i when s_it >= this (the authors')
    "kq_step": None,             # (K, Q) GD: normalised step (default: an explicit step (option or the dataset's
                                 # gd.step), else verify.w_runs.KQ_STEP)
    "kq_normalization": None,    # (K, Q) GD: "joint" (default) or "per-factor" (the authors'); dataset gd.normalization
    "kq_ridge": None,            # (K, Q) GD: lambda of lambda (||K||^2 + ||Q||^2) (default 0; the authors: 2.2e-16)
}
FIRST_BUDGET, BUDGET_FACTOR = 1000, 2
NGD_MAX_WORK = 4e10   # normalised GD: iterations x n T D per run; the last budget shrinks on large data


def scaled_max_iterations(max_iterations: int, n: int, T: int, D: int) -> int:
    """``max_iterations``, cut to NGD_MAX_WORK / (n T D) on large data (never below the first budget).

    >>> scaled_max_iterations(32000, 6, 8, 10), scaled_max_iterations(32000, 100, 32, 4096)
    (32000, 3051)
    """
    return int(min(max_iterations, max(FIRST_BUDGET, NGD_MAX_WORK // (n * T * D))))


def budgets(max_iterations: int) -> tuple:
    """The growing iteration budgets of normalised GD up to ``max_iterations``: 1000, 2000, 4000, ... (doubling: a
    run is judged within a factor 2 of the iterations it needs, and a batch steps only that far).

    >>> budgets(32000), budgets(5000), budgets(300)
    ((1000, 2000, 4000, 8000, 16000, 32000), (1000, 2000, 4000, 5000), (300,))
    """
    out = []
    b = FIRST_BUDGET
    while b < max_iterations:
        out.append(b)
        b *= BUDGET_FACTOR
    out.append(int(max_iterations))
    return tuple(out)


def resolve_options(dataset: Dataset, options: dict) -> dict:
    """Defaults, then the dataset's ``gd`` block, then explicit options; unknown names and values that would
    make a verdict meaningless (tol >= 1, a mpmath precision too low to compare with float64) are errors."""
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise InputError(f"unknown option {unknown[0]!r} (known: {', '.join(sorted(DEFAULT_OPTIONS))})")
    opts = dict(DEFAULT_OPTIONS)
    gd = dataset.gd
    method = gd.get("method", "normalized")
    if "step" in gd:
        opts["step" if method == "normalized" else "fixed_step"] = gd["step"]
    if "iterations" in gd:
        opts["max_iterations"] = gd["iterations"]
    for key in ("normalization", "ridge"):
        if key in gd:
            opts[f"kq_{key}"] = gd[key]
    if method == "normalized" and "step" in gd:
        opts["kq_step"] = gd["step"]
    for key, value in options.items():
        if value is not None:
            opts[key] = value
    if options.get("step") is not None and options.get("kq_step") is None:
        opts["kq_step"] = options["step"]       # an explicit --step applies to (K, Q) too
    if opts["kq_normalization"] not in (None, "joint", "per-factor"):
        raise InputError(f"kq_normalization: expected joint or per-factor, got {opts['kq_normalization']!r}")
    if opts["kq_ridge"] is not None:
        try:
            opts["kq_ridge"] = float(opts["kq_ridge"])
        except (TypeError, ValueError):
            raise InputError(f"kq_ridge: expected a number, got {opts['kq_ridge']!r}") from None
        if not (opts["kq_ridge"] >= 0 and np.isfinite(opts["kq_ridge"])):
            raise InputError(f"kq_ridge: expected a number >= 0, got {opts['kq_ridge']!r}")
    opts["step"] = 1.0 if opts["step"] is None else opts["step"]
    for key in ("max_iterations", "random_inits", "fixed_iterations", "dps", "cross_check_iterations", "cross_check_dps",
                "certify_dps", "cross_check_max_entries"):
        if not isinstance(opts[key], (int, np.integer)) or isinstance(opts[key], bool) or opts[key] < 1:
            raise InputError(f"{key}: expected a positive integer, got {opts[key]!r}")
        opts[key] = int(opts[key])
    for key in ("time_budget", "tol", "step", "fixed_step", "fixed_max_log10_steps", "cross_check_time_budget",
                "cross_check_tol", "naive_tol", "kq_step"):
        if opts[key] is None:
            continue
        try:
            value = float(opts[key])
        except (TypeError, ValueError):
            raise InputError(f"{key}: expected a number, got {opts[key]!r}") from None
        if not value > 0 or not np.isfinite(value):
            raise InputError(f"{key}: expected a positive number, got {opts[key]!r}")
        opts[key] = value
    tau = opts["selected_threshold"]
    if isinstance(tau, bool) or not isinstance(tau, (int, float, np.floating)) or not 0 < float(tau) < 0.5:
        raise InputError(f"selected_threshold: expected a number in (0, 0.5), got {tau!r}")
    opts["selected_threshold"] = float(tau)
    for key in ("tol", "cross_check_tol", "naive_tol"):
        if opts[key] >= 1e-2:
            raise InputError(f"{key}: {opts[key]:g} would make the verdict meaningless (1 - corr lies in [0, 2]; "
                             "use a value below 0.01)")
    if opts["step"] > 1e6 or (opts["fixed_step"] is not None and opts["fixed_step"] > 1e6):
        raise InputError("step: at most 1e6 (a larger step leaves float64's range within a few iterations)")
    for key in ("dps", "certify_dps", "cross_check_dps"):
        if opts[key] < 30:
            raise InputError(f"{key}: {opts[key]} digits cannot certify float64 results (at least 30 needed)")
    if opts["dps"] > 10_000 or opts["certify_dps"] > 10_000 or opts["cross_check_dps"] > 10_000:
        raise InputError("dps: at most 10000 digits")
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


EXACT_MAX_WORK = 1e8   # k^2 (D + k) for k active rows in D dimensions: the largest arb/exact KKT solve attempted


def exact_too_large(sol: numeric.SVMSolution, con: numeric.SVMConstraints) -> str | None:
    """None when the polish and the exact certificate of a feasible SVM are within reach; else the reason: their
    KKT system on the k constraints the solver leaves active costs about k^2 (D + k) operations at 50 digits or
    over the rationals, capped at EXACT_MAX_WORK (an iteration count, not a time)."""
    k = len(numeric.active_set_guess(sol, con.A, con.b))
    D = con.A.shape[1]
    work = float(k) ** 2 * (D + k)
    if work <= EXACT_MAX_WORK:
        return None
    return (f"too large for the exact KKT solve: {k} active constraints in {D} dimensions (k^2 (D + k) = {work:.2g} "
            f"> {EXACT_MAX_WORK:.0e}); the float64 solution ({sol.solver}) is reported unpolished")


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
    too_large: str | None = None   # why the polish and the exact certificate were not attempted (exact_too_large)

    def certificate(self) -> symbolic.SVMCertificate:
        """The exact certificate of this SVM (symbolic.certify_svm from the polished active set), cached."""
        if self._certificate is None:
            if self.too_large:
                self._certificate = symbolic.SVMCertificate(status="none", reason=self.too_large)
            elif not self.feasible:
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
        if self.too_large:
            ev["size_limit"] = self.too_large
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
    _float_svms: dict = field(default_factory=dict)
    _stationary: dict = field(default_factory=dict)
    _ngd: numeric.DecidedRuns | None = None
    _exploration: object = None                  # verify.exploration.Exploration, computed once
    _theorem: dict = field(default_factory=dict)  # verify.theorem_runs: the step choice and the fixed-step runs
    _precision: dict = field(default_factory=dict)  # cache of verify/precision_runs.py
    _w: dict = field(default_factory=dict)   # caches of the self/cross-attention checks (verify/w_runs.py)
    _checks: dict = field(default_factory=dict)   # check id -> CheckResult, each check run once

    def run_check(self, check_id: str):
        """The result of one check, computed once (premises are shared by every claim that rests on them).

        The check runs isolated: an unexpected error becomes that check's `inconclusive` with the error's
        message (the other checks go on), and floating-point warnings are not printed but recorded in its
        evidence (``numerical_warnings``)."""
        if check_id not in self._checks:
            self._checks[check_id] = _run_isolated(self, check_id)
        return self._checks[check_id]

    def premise(self, premise_id: str):
        """The result of the premise-role check ``premise_id`` (computed once)."""
        return self.run_check(premise_id)

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
            sol = numeric.solve_svm(con.A, con.b)
            too_large = exact_too_large(sol, con) if sol.feasible else None
            if too_large is None:
                sol, polished = numeric.solve_and_polish(con.A, con.b, exact.A, exact.b, dps=self.options["dps"],
                                                         solution=sol)
            else:
                polished = None
            rec = SVMRecord(selection=key[0], margins=key[1], constraints=con, solution=sol, polished=polished)
            rec.exact = exact
            rec.too_large = too_large
            self._svms[key] = rec
        return self._svms[key]

    def svms(self) -> list:
        return list(self._svms.values())

    # -- float SVM estimates, stationary points ----------------------------------------------------
    def selection_svm(self, selection) -> numeric.SelectionSVM:
        """The p-SVM of ``selection`` in float64 (least distance by NNLS, :mod:`numeric.selections`): feasible,
        p_mm, support tokens, local optimality from float scores. Cheap and cached: what GD loops and the
        convergence rule use; reported SVMs go through :meth:`svm` (polished, certified)."""
        key = tuple(int(a) for a in selection)
        if key not in self._float_svms:
            self._float_svms[key] = numeric.analyse_selection(self.phi, self.gamma, key)
        return self._float_svms[key]

    def p_mm_float(self, selection):
        """p_mm of ``selection`` in float64, or None when its p-SVM is infeasible."""
        return self.selection_svm(selection).p_mm

    def certify_stationary(self, theta) -> dict:
        """Whether a finite stationary point of L lies near ``theta`` (where a run settles): Newton's method in
        float64 from ``theta`` (:func:`numeric.find_stationary_point`), then Krawczyk's test in ball arithmetic
        on the exact data (:func:`numeric.certify_stationary_point`). Returns the certificate as a dict with
        ``certified`` (and the reason when not), cached per starting point."""
        key = tuple(np.round(np.asarray(theta, dtype=float).ravel(), 12))
        if key not in self._stationary:
            newton = numeric.find_stationary_point(np.asarray(theta, dtype=float).ravel(), self.phi, self.gamma,
                                                   self.loss)
            out = {"newton": {"converged": bool(newton.converged), "iterations": int(newton.iterations),
                              "grad_norm": float(newton.grad_norm), "theta_norm": float(newton.theta_norm),
                              "reason": newton.reason}}
            if newton.converged:
                cert = numeric.certify_stationary_point(newton.theta, self.dataset.features_exact(),
                                                        self.dataset.gamma_exact, self.loss)
                out.update(cert.to_dict())
                out["distance_from_start"] = float(np.linalg.norm(np.asarray(newton.theta) - np.asarray(theta)))
            else:
                out.update(certified=False, reason=f"Newton did not converge: {newton.reason}")
            self._stationary[key] = out
        return self._stationary[key]

    # -- normalised GD from the dataset's inits -------------------------------------------------------
    def ngd_runs(self) -> numeric.DecidedRuns:
        """Normalised GD from every init of the dataset (the authors' experimental algorithm, with the zigzag
        step rule), in rounds of growing budgets until each run is decided by the rule of
        :mod:`numeric.convergence` (computed once)."""
        if self._ngd is None:
            inits = np.asarray(self.dataset.inits, dtype=float).reshape(len(self.dataset.inits), -1)
            self._ngd = self.decide(inits)
        return self._ngd

    def suspicious(self, judgement) -> bool:
        """An apparent convergence to a selection that is not locally optimal (float test): such a run is continued
        to the last budget (a transient passing near a saddle selection's SVM direction must not become a
        counterexample after a short budget)."""
        return (judgement.status == numeric.CONVERGED
                and self.selection_svm(judgement.selection).locally_optimal is not True)

    def decide(self, theta0, keep_going=None, step=None, relative=0.0, settled=None,
               max_iterations: int | None = None) -> numeric.DecidedRuns:
        """:func:`numeric.decide_runs` from the rows of ``theta0`` on this dataset (torch float64, one thread);
        ``step`` (default: the nominal step) and ``relative`` may be given per run; ``settled`` as there;
        ``keep_going`` defaults to :meth:`suspicious`; ``max_iterations`` caps the last budget below the option's
        (the cone runs, which have a fixed-step fallback)."""
        keep_going = self.suspicious if keep_going is None else keep_going
        last = scaled_max_iterations(self.options["max_iterations"], *self.phi.shape)
        if max_iterations is not None:
            last = min(last, max(int(max_iterations), 1))
        with numeric.torch_threads(1):
            return numeric.decide_runs(theta0, self.phi, self.gamma, self.loss, lambda b, sel: self.p_mm_float(sel),
                                       step=self.options["step"] if step is None else step, relative=relative,
                                       budgets=budgets(last),
                                       certify=lambda b, th: self.certify_stationary(th), keep_going=keep_going,
                                       time_budget=self.options["time_budget"], settled=settled)


@contextlib.contextmanager
def _long_integer_strings():
    """Lift Python's limit on int-to-decimal conversions (4300 digits) while a check runs: the exact fractions of a
    certificate (p_mm, multipliers) are our own numbers and may be longer on large data; the dataset's strings are
    bounded when parsed (at most 1000 digits each), so the guard against untrusted input is not needed here."""
    import sys

    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(previous)


def _run_isolated(ctx, check_id: str):
    import time
    import traceback
    import warnings

    from .checks import MODULES
    from .result import INCONCLUSIVE, CheckResult

    module = MODULES[check_id]
    role = getattr(module, "ROLE", "claim")
    statement = getattr(module, "STATEMENT", None)
    head = ctx.dataset.head
    if not head.is_linear and head.kind not in getattr(module, "HEADS", ("linear",)):
        # the check's mathematics assumes the linear head (fixed token scores); see svm-equivalence for others
        from .claims import out_of_scope

        return out_of_scope(check_id, statement, f"{head.kind} head: this check assumes the linear head "
                            "(fixed token scores); see svm-equivalence", role=role)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _long_integer_strings():
                result = module.run(ctx)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - one check's defect must not take the others down
            if memory.is_out_of_memory(exc):   # MemoryError is an Exception: the memory limit was reached
                result = _out_of_memory(check_id, statement, role, exc)
                result.seconds = time.perf_counter() - start
                return result
            frames = traceback.extract_tb(exc.__traceback__)
            where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
            result = CheckResult(check_id, INCONCLUSIVE, f"internal error: {type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:300]} (at {where})",
                                 getattr(statement, "text", ""), {"error": {"type": type(exc).__name__,
                                                                            "message": str(exc)[:2000],
                                                                            "where": where}},
                                 role=role, statement=statement.to_dict() if statement is not None else None)
    if caught:
        seen = []
        for w in caught:
            text = f"{w.category.__name__}: {w.message}"
            if text not in seen:
                seen.append(text)
        result.evidence = {**result.evidence, "numerical_warnings": seen[:20]}
    result.seconds = time.perf_counter() - start
    return result


def _out_of_memory(check_id: str, statement, role: str, exc: BaseException):
    """The `inconclusive` result of a check that ran out of memory (verify.memory): the limit and what failed."""
    from .result import INCONCLUSIVE, CheckResult

    limit = memory.current_limit()
    within = f"the memory limit ({memory.format_bytes(limit)}, --max-memory)" if limit else "the machine's memory"
    what = " ".join(str(exc).split())[:200] or type(exc).__name__
    return CheckResult(check_id, INCONCLUSIVE, f"out of memory: the check needs more than {within} ({what})",
                       getattr(statement, "text", ""),
                       {"out_of_memory": {"limit_bytes": limit, "error": f"{type(exc).__name__}: {what}"}},
                       role=role, statement=statement.to_dict() if statement is not None else None)
