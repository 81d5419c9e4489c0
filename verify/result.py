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
    numbers become decimal strings, Fractions become "p/q" strings, non-finite floats become strings."""
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
    not-applicable), a one-line ``summary``, the ``claim`` in words, and the ``evidence``."""

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

    ``result["p-svm"]`` is that check's :class:`CheckResult`; ``result.ok`` is True when every
    applicable verdict holds; ``result.to_json()`` is the ``attnsvm.check/1`` document.
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
