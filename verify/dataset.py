"""The Dataset type and its files (JSON or .npz).

A dataset of the prompt model f(X) = <X v, softmax(X W p)>: n sequences X_i in R^{T x d}, labels
Y_i in {-1, +1}, a head v in R^d, a key matrix W in R^{d x d} (keys k_it = W^T x_it), a loss l,
initial prompts and GD options. Every number is kept twice: as float64 arrays for computation and
as exact rationals (``fractions.Fraction``) for certificates. A number given as a string ("0.1",
"1/3") is parsed exactly; a number given as a float is the exact binary value of that float.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from . import head_fields
from .errors import DatasetError

MODELS = ("prompt", "self", "cross")
ATTENTION_MODELS = ("self", "cross")   # logits x_it^T W z_i, trained as W or as W = K Q^T
PARAMETERIZATIONS = ("W", "KQ")
BUILTIN_LOSS_NAMES = ("logistic", "exponential", "correlation")
GD_METHODS = ("normalized", "fixed")
TRAIN_MODES = ("p", "vp")   # "p": v fixed at the dataset's v; "vp": v and p trained jointly


def parse_number(value: Any, where: str) -> Fraction:
    """A JSON number or a string holding a decimal or a fraction, as an exact finite rational."""
    if isinstance(value, bool) or value is None:
        raise DatasetError(f"{where}: expected a number, got {json.dumps(value)}")
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise DatasetError(f"{where}: {float(value)} is not a finite number")
        return Fraction(float(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            frac = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise DatasetError(f"{where}: cannot parse {value[:40]!r} as a number (use a decimal like \"0.1\" "
                               f"or a fraction like \"1/3\")") from None
        return frac
    raise DatasetError(f"{where}: expected a number, got {type(value).__name__}")


def _exact_array(value: Any, shape_names: tuple, where: str) -> np.ndarray:
    """Nested lists (or an array) of numbers with the given rank, as an object array of Fractions."""
    rank = len(shape_names)

    def rec(obj, path, depth):
        if depth == rank:
            return parse_number(obj, path)
        if isinstance(obj, np.ndarray):
            obj = list(obj)
        if not isinstance(obj, (list, tuple)):
            raise DatasetError(f"{path}: expected a list ({shape_names[depth]} entries), got "
                               f"{type(obj).__name__}")
        return [rec(x, f"{path}[{k}]", depth + 1) for k, x in enumerate(obj)]

    nested = rec(value, where, 0)
    # check the shape is rectangular
    shape = []
    level = nested
    for depth in range(rank):
        shape.append(len(level))
        if depth < rank - 1:
            if len(level) == 0:
                raise DatasetError(f"{where}: empty along {shape_names[depth]}")
            level = level[0]

    def check(obj, path, depth):
        if depth == rank:
            return
        if len(obj) != shape[depth]:
            raise DatasetError(f"{path}: ragged array: expected {shape[depth]} {shape_names[depth]} entries, "
                               f"got {len(obj)}")
        for k, x in enumerate(obj):
            check(x, f"{path}[{k}]", depth + 1)

    check(nested, where, 0)
    arr = np.empty(tuple(shape), dtype=object)
    if arr.size:
        flat = nested
        for _ in range(rank - 1):
            flat = [x for sub in flat for x in sub]
        arr.reshape(-1)[:] = flat
    return arr


def _to_float(arr: np.ndarray) -> np.ndarray:
    return np.vectorize(float, otypes=[float])(arr) if arr.size else np.zeros(arr.shape)


@dataclass
class Dataset:
    """A dataset of the prompt-attention model (see module docstring), or of self/cross attention
    (``model="self"`` with ``query_index``, or ``model="cross"`` with queries ``Z``; logits x_it^T W z_i,
    trained as W or as W = K Q^T: ``parameterization``, ``rank``; see ``_attention_model_fields``).

    Build one from arrays, ``Dataset(X=..., Y=..., v=...)``, from a file, ``Dataset.from_file(path)``,
    or take a built-in with ``verify.builtin(name)``.

    >>> ds = Dataset(X=[[[1, 0], [0, 1]]], Y=[1], v=[1, 0], name="tiny")
    >>> (ds.n, ds.T, ds.d), ds.gamma.tolist()
    ((1, 2, 2), [[1.0, 0.0]])
    """

    X: Any
    Y: Any
    v: Any
    W: Any = None
    name: str = "unnamed"
    model: str = "prompt"
    loss: Any = "logistic"
    inits: Any = None
    gd: dict = field(default_factory=dict)
    description: str = ""
    source: str = ""
    train: str = "p"
    query_index: Any = None
    Z: Any = None
    parameterization: Any = None
    rank: Any = None
    head: Any = None      # the prediction head (verify.head_fields): "linear" (default), relu or quadratic
    v0: Any = None        # joint training's initial head (verify.head_fields)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise DatasetError("name: expected a non-empty string")
        if self.model not in MODELS:
            raise DatasetError(f"model: unknown model {str(self.model)[:40]!r}; expected one of {', '.join(MODELS)}")
        self.X_exact = _exact_array(self.X, ("sequence", "token", "feature"), "X")
        n, T, d = self.X_exact.shape
        if n == 0:
            raise DatasetError("X: no sequences (n = 0)")
        if T < 2:
            raise DatasetError(f"X: each sequence needs at least 2 tokens, got T = {T}")
        if d == 0:
            raise DatasetError("X: tokens have no features (d = 0)")
        Y = _exact_array(self.Y, ("label",), "Y")
        if Y.shape != (n,):
            raise DatasetError(f"Y: expected {n} labels (one per sequence of X), got {Y.shape[0]}")
        for i, y in enumerate(Y):
            if y not in (1, -1):
                raise DatasetError(f"Y[{i}]: labels must be -1 or 1, got {float(y):g}")
        self.Y_exact = Y
        self.v_exact = _exact_array(self.v, ("feature",), "v")
        if self.v_exact.shape != (d,):
            raise DatasetError(f"v: expected {d} numbers (d of X), got {self.v_exact.shape[0]}")
        if self.model in ATTENTION_MODELS:
            self._attention_model_fields()
            head_fields.apply(self)
            return
        for key in ("query_index", "Z", "parameterization", "rank"):
            if getattr(self, key) is not None:
                raise DatasetError(f"{key}: only for the self and cross models, not for model {self.model!r}")
        if self.W is None:
            W = np.empty((d, d), dtype=object)
            for a in range(d):
                for b in range(d):
                    W[a, b] = Fraction(int(a == b))
            self.W_exact = W
        else:
            self.W_exact = _exact_array(self.W, ("row", "column"), "W")
            if self.W_exact.shape != (d, d):
                raise DatasetError(f"W: expected a {d} x {d} matrix, got {self.W_exact.shape[0]} x "
                                   f"{self.W_exact.shape[1]}")
        self.loss_spec = _parse_loss(self.loss)
        inits = self.inits if self.inits is not None else [[0] * d]
        if not isinstance(inits, (list, tuple, np.ndarray)) or len(inits) == 0:
            raise DatasetError("inits: expected a non-empty list of initial p vectors")
        self.inits_exact = _exact_array(inits, ("init", "feature"), "inits")
        if self.inits_exact.shape[1] != d:
            raise DatasetError(f"inits: each initial p needs {d} numbers, got {self.inits_exact.shape[1]}")
        self.gd = _parse_gd(self.gd)
        if not isinstance(self.train, str) or self.train not in TRAIN_MODES:
            raise DatasetError(f"train: expected \"p\" (v fixed) or \"vp\" (v and p trained jointly), got "
                               f"{str(self.train)[:40]!r}")
        self.X = _to_float(self.X_exact)
        self.Y = _to_float(self.Y_exact)
        self.v = _to_float(self.v_exact)
        self.W = _to_float(self.W_exact)
        self.inits = _to_float(self.inits_exact)
        head_fields.apply(self)

    # -- shapes and derived quantities -------------------------------------------------------
    @property
    def n(self) -> int:
        return self.X_exact.shape[0]

    @property
    def T(self) -> int:
        return self.X_exact.shape[1]

    @property
    def d(self) -> int:
        return self.X_exact.shape[2]

    @property
    def gamma(self) -> np.ndarray:
        """Token scores gamma_it = Y_i v^T x_it, float64 (n, T); with a nonlinear head Y_i h(x_it)."""
        if not self.head.is_linear:
            return self.head.token_scores(self.X, self.Y)
        return self.Y[:, None] * (self.X @ self.v)

    @property
    def gamma_exact(self) -> np.ndarray:
        """Token scores as exact rationals (object array (n, T))."""
        if not self.head.is_linear:
            return head_fields.exact_token_scores(self.head, self.X_exact, self.Y_exact)
        return self.Y_exact[:, None] * self.X_exact.dot(self.v_exact)

    def _attention_model_fields(self) -> None:
        """Validate and convert the fields of the self/cross-attention models (logits x_it^T W z_i).

        ``inits`` holds d x d matrices W_0 (parameterization W) or pairs [K_0, Q_0] of d x m matrices
        (parameterization KQ, m = ``rank``, default d); the attribute ``inits`` then holds W_0 = K_0 Q_0^T
        (what every W-level tool uses) and ``kq_inits`` the pairs. Defaults: W_0 = 0 (every logit 0, no
        preferred direction); K_0 = Q_0 = I_{d x m} / 10, balanced (K_0^T K_0 = Q_0^T Q_0) and small, so GD on
        (K, Q) starts in the regime where its implicit bias (the nuclear norm) acts, deterministic."""
        n, T, d = self.X_exact.shape
        if self.W is not None:
            raise DatasetError(f"W: not a field of the {self.model} model (W is the trained parameter; give inits)")
        if self.model == "self":
            if self.Z is not None:
                raise DatasetError("Z: only for the cross model (self-attention queries are tokens of X; "
                                   "use query_index)")
            qi = 0 if self.query_index is None else self.query_index
            if isinstance(qi, bool) or not isinstance(qi, (int, np.integer)):
                raise DatasetError(f"query_index: expected an integer token index, got {json.dumps(qi, default=str)}")
            if not 0 <= int(qi) < T:
                raise DatasetError(f"query_index: {int(qi)} is out of range for T = {T} tokens (0 to {T - 1})")
            self.query_index = int(qi)
            self.Z_exact = self.X_exact[:, self.query_index, :].copy()
        else:
            if self.query_index is not None:
                raise DatasetError("query_index: only for the self model (cross-attention queries are given in Z)")
            if self.Z is None:
                raise DatasetError("Z: missing required field for the cross model (n x d queries)")
            self.Z_exact = _exact_array(self.Z, ("query", "feature"), "Z")
            if self.Z_exact.shape != (n, d):
                raise DatasetError(f"Z: expected {n} x {d} (one query per sequence, d of X), got "
                                   f"{self.Z_exact.shape[0]} x {self.Z_exact.shape[1]}")
        par = "W" if self.parameterization is None else self.parameterization
        if par not in PARAMETERIZATIONS:
            raise DatasetError(f"parameterization: unknown parameterization {str(par)[:40]!r}; expected W or KQ")
        self.parameterization = par
        if self.rank is not None and par != "KQ":
            raise DatasetError("rank: only for parameterization KQ (W = K Q^T with K, Q of shape d x rank)")
        m = d if self.rank is None else self.rank
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise DatasetError(f"rank: expected a positive integer, got {json.dumps(m, default=str)}")
        self.rank = int(m)
        self.loss_spec = _parse_loss(self.loss)
        if self.inits is not None and (not isinstance(self.inits, (list, tuple, np.ndarray)) or len(self.inits) == 0):
            raise DatasetError("inits: expected a non-empty list of initial matrices")
        if par == "W":
            inits = self.inits if self.inits is not None else [[[0] * d] * d]
            self.inits_exact = _exact_array(inits, ("init", "row", "column"), "inits")
            if self.inits_exact.shape[1:] != (d, d):
                raise DatasetError(f"inits: each initial W needs {d} x {d} numbers, got "
                                   f"{self.inits_exact.shape[1]} x {self.inits_exact.shape[2]}")
            self.kq_inits_exact = None
        else:
            eye = [["1/10" if a == b else 0 for b in range(self.rank)] for a in range(d)]
            inits = self.inits if self.inits is not None else [[eye, eye]]
            kq = _exact_array(inits, ("init", "K or Q", "row", "column"), "inits")
            if kq.shape[1:] != (2, d, self.rank):
                raise DatasetError(f"inits: each init is a pair [K, Q] of {d} x {self.rank} matrices, got shape "
                                   f"{' x '.join(str(x) for x in kq.shape[1:])}")
            self.kq_inits_exact = kq
            self.inits_exact = np.array([K.dot(Q.T) for K, Q in kq], dtype=object)
        self.gd = _parse_gd(self.gd)
        self.X = _to_float(self.X_exact)
        self.Y = _to_float(self.Y_exact)
        self.v = _to_float(self.v_exact)
        self.Z = _to_float(self.Z_exact)
        self.W = None
        self.W_exact = None
        self.inits = _to_float(self.inits_exact)
        self.kq_inits = None if self.kq_inits_exact is None else _to_float(self.kq_inits_exact)

    @property
    def is_attention_model(self) -> bool:
        """True for the self/cross-attention models (trained W or K, Q), False for the prompt model."""
        return self.model in ATTENTION_MODELS

    def features(self) -> np.ndarray:
        """Phi_it = k_it = W^T x_it (the rows of X_i W), float64 (n, T, d): q_it = <p, Phi_it>.
        Self/cross models: Phi_it = vec(x_it z_i^T), (n, T, d*d), so q_it = <vec(W), Phi_it>.

        >>> Dataset(X=[[[1, 2], [3, 4]]], Y=[1], v=[1, 0], W=[[0, 1], [1, 0]]).features().tolist()
        [[[2.0, 1.0], [4.0, 3.0]]]
        """
        if self.is_attention_model:
            from attnsvm.numeric import w_features
            return w_features(self.X, self.Z)
        return self.X @ self.W

    def features_exact(self) -> np.ndarray:
        """The keys W^T x_it as exact rationals (object array (n, T, d)); self/cross: vec(x_it z_i^T)."""
        if self.is_attention_model:
            from attnsvm.numeric import w_features
            return w_features(self.X_exact, self.Z_exact)
        return self.X_exact.dot(self.W_exact)

    def summary(self) -> dict:
        """Name, model and shape (self/cross models: also the parameterisation and rank).

        >>> Dataset(X=[[[1, 0], [0, 1]]], Y=[1], v=[1, 0], name="tiny").summary()
        {'name': 'tiny', 'model': 'prompt', 'n': 1, 'T': 2, 'd': 2}
        """
        out = {"name": self.name, "model": self.model, "n": self.n, "T": self.T, "d": self.d}
        if self.is_attention_model:
            out.update(parameterization=self.parameterization, rank=self.rank)
        if not self.head.is_linear:
            out["head"] = self.head.kind
        return out

    # -- files ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, obj: Any, source: str = "") -> "Dataset":
        """A dataset from the JSON object of the file format (see README).

        >>> ds = Dataset.from_dict({"name": "tiny", "X": [[["1/3", 0], [0, 1]]], "Y": [1], "v": [1, 0]})
        >>> ds.X_exact[0, 0, 0], ds.gamma_exact.tolist()
        (Fraction(1, 3), [[Fraction(1, 3), Fraction(0, 1)]])
        """
        if not isinstance(obj, dict):
            raise DatasetError(f"expected a JSON object at the top level, got {type(obj).__name__}")
        known = {"name", "model", "X", "Y", "v", "W", "loss", "inits", "gd", "description", "train",
                 "query_index", "Z", "parameterization", "rank", "head", "v0"}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise DatasetError(f"unknown field {unknown[0]!r} (known fields: {', '.join(sorted(known))})")
        for key in ("X", "Y", "v"):
            if key not in obj:
                raise DatasetError(f"{key}: missing required field")
        name = obj.get("name", os.path.splitext(os.path.basename(source))[0] if source else "unnamed")
        if not isinstance(name, str):
            raise DatasetError("name: expected a string")
        description = obj.get("description", "")
        if not isinstance(description, str):
            raise DatasetError("description: expected a string")
        model = obj.get("model", "prompt")
        if not isinstance(model, str):
            raise DatasetError("model: expected a string")
        return cls(X=obj["X"], Y=obj["Y"], v=obj["v"], W=obj.get("W"), name=name, model=model,
                   loss=obj.get("loss", "logistic"), inits=obj.get("inits"), gd=obj.get("gd") or {},
                   description=description, source=source, train=obj.get("train", "p"),
                   query_index=obj.get("query_index"), Z=obj.get("Z"), parameterization=obj.get("parameterization"),
                   rank=obj.get("rank"), head=obj.get("head"), v0=obj.get("v0"))

    @classmethod
    def from_file(cls, path: str) -> "Dataset":
        """Read a ``.json`` or ``.npz`` dataset file (the .npz is loaded without pickle).

        >>> import json, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.json")
        >>> with open(path, "w") as fh:
        ...     json.dump({"X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 0]}, fh)
        >>> Dataset.from_file(path).name
        'tiny'
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise DatasetError(f"{path}: no such file")
        if os.path.isdir(path):
            raise DatasetError(f"{path}: is a directory, expected a .json or .npz dataset file")
        ext = os.path.splitext(path)[1].lower()
        try:
            if ext == ".npz":
                return cls.from_dict(_read_npz(path), source=path)
            if ext == ".json":
                with open(path, encoding="utf-8") as fh:
                    obj = json.load(fh, parse_constant=_reject_constant)
                return cls.from_dict(obj, source=path)
        except DatasetError as exc:
            raise DatasetError(f"{path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DatasetError(f"{path}: cannot read the file: {exc}") from None
        raise DatasetError(f"{path}: unknown file type {ext or '(none)'!r}; expected .json or .npz")


def _reject_constant(token: str):
    raise DatasetError(f"{token} is not a finite number")


def _read_npz(path: str) -> dict:
    """The fields of a .npz dataset as a dict (strings as 0-d string arrays)."""
    with np.load(path, allow_pickle=False) as data:
        obj: dict = {}
        for key in data.files:
            arr = data[key]
            if arr.dtype.kind in "US":
                obj[key] = str(arr.item()) if arr.ndim == 0 else [str(x) for x in arr.ravel()]
            elif arr.dtype.kind in "biuf":
                obj[key] = arr.tolist()
            else:
                raise DatasetError(f"{key}: unsupported array type {arr.dtype}")
    if "loss_expr" in obj:
        obj["loss"] = {"expr": obj.pop("loss_expr")}
    gd = {}
    for key in ("method", "step", "iterations"):
        if f"gd_{key}" in obj:
            gd[key] = obj.pop(f"gd_{key}")
    if gd:
        obj["gd"] = gd
    return obj


@dataclass(frozen=True)
class LossSpec:
    """A loss named by the dataset: a built-in name, or ``expr`` (an expression in u)."""

    name: str
    expr: str | None = None


def _parse_loss(loss: Any) -> LossSpec:
    if isinstance(loss, LossSpec):
        return loss
    if isinstance(loss, str):
        if loss not in BUILTIN_LOSS_NAMES:
            raise DatasetError(f"loss: unknown loss {loss[:40]!r}; expected one of {', '.join(BUILTIN_LOSS_NAMES)} "
                               "or {\"expr\": \"<expression in u>\"}")
        return LossSpec(name=loss)
    if isinstance(loss, dict):
        if set(loss) != {"expr"} or not isinstance(loss["expr"], str):
            raise DatasetError("loss: expected {\"expr\": \"<expression in u>\"}")
        from attnsvm.symbolic import LossExpressionError, parse_loss

        try:
            parse_loss(loss["expr"])
        except LossExpressionError as exc:
            raise DatasetError(f"loss.expr: {exc}") from None
        return LossSpec(name="expr", expr=loss["expr"])
    raise DatasetError(f"loss: expected a loss name or {{\"expr\": ...}}, got {type(loss).__name__}")


def _parse_gd(gd: Any) -> dict:
    if not isinstance(gd, dict):
        raise DatasetError(f"gd: expected an object, got {type(gd).__name__}")
    unknown = sorted(set(gd) - {"method", "step", "iterations", "normalization", "ridge"})
    if unknown:
        raise DatasetError(f"gd: unknown field {unknown[0]!r} (known: method, step, iterations, normalization, ridge)")
    out = {}
    if "method" in gd:
        if gd["method"] not in GD_METHODS:
            raise DatasetError(f"gd.method: unknown method {str(gd['method'])[:40]!r}; expected normalized or fixed")
        out["method"] = gd["method"]
    if "step" in gd:
        step = float(parse_number(gd["step"], "gd.step"))
        if not step > 0:
            raise DatasetError(f"gd.step: must be positive, got {step:g}")
        out["step"] = step
    if "iterations" in gd:
        it = gd["iterations"]
        if isinstance(it, bool) or not isinstance(it, int) or it < 1:
            raise DatasetError(f"gd.iterations: expected a positive integer, got {json.dumps(it)}")
        out["iterations"] = it
    # (K, Q) only: how the factors' gradients are normalised, and the ridge lambda (||K||^2 + ||Q||^2)
    if "normalization" in gd:
        if gd["normalization"] not in ("joint", "per-factor"):
            raise DatasetError(f"gd.normalization: expected \"joint\" or \"per-factor\", got "
                               f"{json.dumps(gd['normalization'], default=str)[:40]}")
        out["normalization"] = gd["normalization"]
    if "ridge" in gd:
        ridge = float(parse_number(gd["ridge"], "gd.ridge"))
        if ridge < 0:
            raise DatasetError(f"gd.ridge: must be >= 0, got {ridge:g}")
        out["ridge"] = ridge
    return out
