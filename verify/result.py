"""Verdicts with evidence: the data every check returns, and the JSON result (schema attnsvm.check/1)."""
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
SCHEMA = "attnsvm.check/1"


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


@dataclass
class CheckResult:
    """One claim about one dataset: ``id``, ``verdict`` (holds / fails / inconclusive /
    not-applicable), a one-line ``summary``, the ``claim`` in words, and the ``evidence``.

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

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    def to_dict(self) -> dict:
        return {"id": self.id, "verdict": self.verdict, "summary": self.summary, "claim": self.claim,
                "evidence": jsonable(self.evidence)}


@dataclass
class Result:
    """All checks of one dataset.

    ``result["p-svm"]`` is that check's :class:`CheckResult`; iterating gives the checks in the
    order they ran; ``result.ok`` is True when every applicable verdict holds; ``result.to_dict()``
    and ``result.to_json(indent=1)`` give the ``attnsvm.check/1`` document (dataset summary, ok,
    options, seconds, and per check id, verdict, summary, claim, evidence).

    >>> r = Result(dataset={"name": "demo"}, checks=[CheckResult("p-svm", "holds", "fine"),
    ...                                              CheckResult("directional-limit", "inconclusive", "short run")])
    >>> r["p-svm"].verdict, r.ok, [c.id for c in r]
    ('holds', False, ['p-svm', 'directional-limit'])
    >>> r.to_dict()["checks"][1]["verdict"]
    'inconclusive'
    >>> print(r.to_json(indent=None)[:45])
    {"schema": "attnsvm.check/1", "dataset": {"na
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
    def ok(self) -> bool:
        return all(c.verdict in (HOLDS, NOT_APPLICABLE) for c in self.checks)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "dataset": jsonable(self.dataset), "ok": self.ok,
                "options": jsonable(self.options), "seconds": round(self.seconds, 3),
                "checks": [c.to_dict() for c in self.checks]}

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)
