"""Verdicts with evidence: the data every check returns, and the JSON result (schema attnsvm.check/2)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

HOLDS, FAILS, INCONCLUSIVE, NOT_APPLICABLE = "holds", "fails", "inconclusive", "not-applicable"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_APPLICABLE)
SCHEMA = "attnsvm.check/2"


def jsonable(obj: Any) -> Any:
    """Evidence as plain JSON values: numpy scalars and arrays become numbers and lists, mpmath
    numbers become decimal strings, Fractions become "p/q" strings, non-finite floats become strings.

    >>> from fractions import Fraction
    >>> jsonable({"a": np.arange(2), "b": Fraction(1, 3), "c": float("inf")})
    {'a': [0, 1], 'b': '1/3', 'c': 'inf'}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if isinstance(obj, mpmath.mpf):
        return mpmath.nstr(obj, 40)
    if isinstance(obj, Fraction):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"evidence value of type {type(obj).__name__} is not JSON-serialisable")


TIMING_KEYS = ("seconds",)


def split_timing(evidence: Any, path: str = "") -> tuple[Any, dict]:
    """(evidence without its timing fields, {path: seconds}): every key named ``seconds`` or starting with
    ``seconds_`` is taken out, so that the rest is a deterministic function of the input (the JSON of a
    re-run is byte-identical) and the wall-clock times are kept apart, under one key.

    >>> split_timing({"a": 1, "runs": [{"seconds": 0.5, "b": 2}], "seconds_mp": 3.0})
    ({'a': 1, 'runs': [{'b': 2}]}, {'runs[0].seconds': 0.5, 'seconds_mp': 3.0})
    """
    timing: dict = {}
    if isinstance(evidence, dict):
        out = {}
        for k, v in evidence.items():
            key = str(k)
            where = f"{path}.{key}" if path else key
            if key in TIMING_KEYS or key.startswith("seconds_"):
                timing[where] = v
                continue
            out[k], sub = split_timing(v, where)
            timing.update(sub)
        return out, timing
    if isinstance(evidence, (list, tuple)):
        out = []
        for j, v in enumerate(evidence):
            item, sub = split_timing(v, f"{path}[{j}]")
            out.append(item)
            timing.update(sub)
        return out, timing
    return evidence, timing


@dataclass
class CheckResult:
    """One check of one dataset: ``id``, ``verdict`` (holds / fails / inconclusive / not-applicable), a
    one-line ``summary``, the ``claim`` in words, the ``evidence``, its ``role`` (premise, claim or
    instrument: see :mod:`verify.claims`), the ``statement`` it tests (paper, statement, confidence,
    premises, conclusion) and the verdicts of its ``premises``.

    >>> c = CheckResult("p-svm", "holds", "||p_mm|| = 1", "the p-SVM is feasible", {"p_mm": np.array([1.0, 0.0])})
    >>> c.to_dict()["evidence"]
    {'p_mm': [1.0, 0.0]}
    >>> CheckResult("p-svm", "maybe", "")
    Traceback (most recent call last):
    ...
    ValueError: unknown verdict 'maybe'
    """

    id: str
    verdict: str
    summary: str
    claim: str = ""
    evidence: dict = field(default_factory=dict)
    role: str = "claim"
    statement: dict | None = None
    premises: dict = field(default_factory=dict)
    seconds: float | None = field(default=None, compare=False)   # wall time of the check (kept out of to_dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")
        if self.role not in ("premise", "claim", "instrument"):
            raise ValueError(f"unknown role {self.role!r}")

    def to_dict(self) -> dict:
        evidence, _ = split_timing(jsonable(self.evidence))
        out = {"id": self.id, "role": self.role, "verdict": self.verdict, "summary": self.summary,
               "claim": self.claim}
        if self.statement is not None:
            out["statement"] = jsonable(self.statement)
        if self.premises:
            out["premises"] = dict(self.premises)
        out["evidence"] = evidence
        return out

    def timing(self) -> dict:
        """The check's wall time (``seconds``) and the wall-clock fields of its evidence ({path: seconds})."""
        out = {} if self.seconds is None else {"seconds": round(self.seconds, 3)}
        out.update(split_timing(jsonable(self.evidence))[1])
        return out


@dataclass
class Result:
    """All checks of one dataset.

    ``result["p-svm"]`` is that check's :class:`CheckResult`; iterating gives the checks in the
    order they ran; ``result.status`` is the dataset's summary (consistent with the theory /
    counterexample / undecided / outside the theory, see :func:`verify.claims.dataset_status`);
    ``result.ok`` is True when nothing is contradicted or undecided; ``result.to_dict()`` and
    ``result.to_json(indent=1)`` give the ``attnsvm.check/2`` document (dataset summary, status, ok,
    options, the checks grouped by role in the order they ran, and every wall-clock time under
    ``timing``, so the rest is byte-identical on a re-run).

    >>> r = Result(dataset={"name": "demo"}, checks=[CheckResult("p-svm", "holds", "fine", role="premise"),
    ...                                              CheckResult("directional-limit", "inconclusive", "short run")])
    >>> r["p-svm"].verdict, r.ok, r.status, [c.id for c in r]
    ('holds', False, 'undecided', ['p-svm', 'directional-limit'])
    >>> r.to_dict()["checks"][1]["verdict"]
    'inconclusive'
    >>> print(r.to_json(indent=None)[:45])
    {"schema": "attnsvm.check/2", "dataset": {"na
    """

    dataset: dict
    checks: list
    options: dict = field(default_factory=dict)
    seconds: float = 0.0

    def __getitem__(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def __iter__(self):
        return iter(self.checks)

    @property
    def status(self) -> str:
        from .claims import dataset_status

        return dataset_status(self.checks)

    @property
    def ok(self) -> bool:
        from .claims import CONSISTENT, OUTSIDE

        return self.status in (CONSISTENT, OUTSIDE)

    def by_role(self, role: str) -> list:
        """The checks of one role (premise, claim, instrument), in the order they ran."""
        return [c for c in self.checks if c.role == role]

    def to_dict(self) -> dict:
        timing = {"total": round(self.seconds, 3)}
        for c in self.checks:
            t = c.timing()
            if t:
                timing[c.id] = t
        return {"schema": SCHEMA, "dataset": jsonable(self.dataset), "status": self.status, "ok": self.ok,
                "options": jsonable(self.options), "checks": [c.to_dict() for c in self.checks],
                "timing": jsonable(timing)}

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)
