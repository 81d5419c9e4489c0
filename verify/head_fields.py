"""Dataset fields of the prediction head and of joint training's initial head (validation and conversion).

``head`` (default ``"linear"``): the head h acting on the attended vector y_i = X_i^T s_i (numeric.heads):

* ``"linear"`` or ``{"kind": "linear"}``: h(y) = v^T y (the papers' model);
* ``{"kind": "relu", "V": d x d matrix}``: h(y) = sum_j v_j ReLU((V^T y)_j) (the second paper's nonlinear
  experiment has v = 1);
* ``{"kind": "quadratic", "lambda": number}``: h(y) = v^T y - lambda ||y||^2.

``v0`` (joint training, ``train = "vp"``, only): the initial head of joint GD, d numbers (default: v). The dataset's
v then still defines the token scores gamma_it = Y_i v^T x_it; v0 is where GD starts (the first paper's joint demo
starts from v0 = (-1, 0)).
"""
from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import DatasetError

HEAD_FIELDS = {"linear": set(), "relu": {"V"}, "quadratic": {"lambda"}}


def _matrix(value: Any, rows: int, cols: int, where: str) -> np.ndarray:
    from .dataset import parse_number

    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != rows:
        got = len(value) if isinstance(value, (list, tuple)) else type(value).__name__
        raise DatasetError(f"{where}: expected a {rows} x {cols} matrix (d = {rows}), got {got} rows")
    out = np.empty((rows, cols), dtype=object)
    for a, row in enumerate(value):
        if isinstance(row, np.ndarray):
            row = row.tolist()
        if not isinstance(row, (list, tuple)) or len(row) != cols:
            raise DatasetError(f"{where}[{a}]: expected {cols} numbers")
        for b, x in enumerate(row):
            out[a, b] = parse_number(x, f"{where}[{a}][{b}]")
    return out


def parse_head(value: Any, v_exact: np.ndarray, d: int):
    """The dataset's ``head`` field as a :class:`numeric.heads.Head` (exact rationals kept in ``head.exact``)."""
    from attnsvm.numeric.heads import make_head

    from .dataset import parse_number

    v_float = np.array([float(x) for x in v_exact])
    exact = {"v": list(v_exact)}
    if value is None or value == "linear":
        return make_head("linear", v_float, exact=exact)
    if isinstance(value, str):
        raise DatasetError(f"head: unknown head {value[:40]!r}; expected \"linear\", {{\"kind\": \"relu\", \"V\": ...}} "
                           "or {\"kind\": \"quadratic\", \"lambda\": ...}")
    if not isinstance(value, dict):
        raise DatasetError(f"head: expected \"linear\" or an object with a kind, got {type(value).__name__}")
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in HEAD_FIELDS:
        raise DatasetError(f"head.kind: expected one of {', '.join(HEAD_FIELDS)}, got {json.dumps(kind, default=str)[:40]}")
    unknown = sorted(set(value) - {"kind"} - HEAD_FIELDS[kind])
    if unknown:
        raise DatasetError(f"head: unknown field {unknown[0]!r} for the {kind} head (known: "
                           f"{', '.join(['kind'] + sorted(HEAD_FIELDS[kind]))})")
    missing = sorted(HEAD_FIELDS[kind] - set(value))
    if missing:
        raise DatasetError(f"head.{missing[0]}: missing required field of the {kind} head")
    if kind == "linear":
        return make_head("linear", v_float, exact=exact)
    if kind == "relu":
        V = _matrix(value["V"], d, d, "head.V")
        exact["V"] = V
        return make_head("relu", v_float, V=np.vectorize(float, otypes=[float])(V), exact=exact)
    lam = parse_number(value["lambda"], "head.lambda")
    exact["lambda"] = lam
    return make_head("quadratic", v_float, lam=float(lam), exact=exact)


def exact_token_scores(head, X_exact: np.ndarray, Y_exact: np.ndarray) -> np.ndarray:
    """gamma_it = Y_i h(x_it) in exact rationals (object array (n, T))."""
    n, T, d = X_exact.shape
    v = head.exact["v"]
    out = np.empty((n, T), dtype=object)
    for i in range(n):
        for t in range(T):
            x = X_exact[i, t]
            if head.kind == "linear":
                h = sum((v[a] * x[a] for a in range(d)), Fraction(0))
            elif head.kind == "relu":
                V = head.exact["V"]
                h = sum((v[j] * max(Fraction(0), sum((V[a, j] * x[a] for a in range(d)), Fraction(0)))
                         for j in range(d)), Fraction(0))
            else:
                h = sum((v[a] * x[a] for a in range(d)), Fraction(0)) - head.exact["lambda"] * \
                    sum((x[a] * x[a] for a in range(d)), Fraction(0))
            out[i, t] = Y_exact[i] * h
    return out


def parse_v0(value: Any, train: str, d: int) -> np.ndarray | None:
    """The dataset's ``v0`` field (exact rationals, (d,)) or None."""
    from .dataset import parse_number

    if value is None:
        return None
    if train != "vp":
        raise DatasetError("v0: only for joint training (train = \"vp\"), where it is the initial head of GD")
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != d:
        got = len(value) if isinstance(value, (list, tuple)) else type(value).__name__
        raise DatasetError(f"v0: expected {d} numbers (d of X), got {got}")
    return np.array([parse_number(x, f"v0[{k}]") for k, x in enumerate(value)], dtype=object)


def apply(ds) -> None:
    """Validate and convert ``ds.head`` and ``ds.v0`` in place (called at the end of Dataset validation): ``ds.head``
    becomes a numeric.heads.Head, ``ds.v0`` the float initial head (or None) and ``ds.v0_exact`` its rationals."""
    if ds.head is not None and not isinstance(ds.head, (str, dict)) and hasattr(ds.head, "kind"):
        return  # already converted
    head = parse_head(ds.head, np.asarray(ds.v_exact, dtype=object), ds.d)
    if not head.is_linear and getattr(ds, "train", "p") == "vp":
        raise DatasetError("head: joint training (train = \"vp\") needs the linear head")
    ds.head = head
    ds.v0_exact = parse_v0(ds.v0, getattr(ds, "train", "p"), ds.d)
    ds.v0 = None if ds.v0_exact is None else np.array([float(x) for x in ds.v0_exact])
