"""The Dataset type and its files (JSON or .npz).

A dataset of the prompt model f(X) = <X v, softmax(X W p)>: n sequences X_i in R^{T x d}, labels
Y_i in {-1, +1}, a head v in R^d, a key matrix W in R^{d x d} (keys k_it = W^T x_it), a loss l,
initial prompts and GD options. Every number is parsed straight into a float64 array; its exact rational
value (a number given as a string, "0.1" or "1/3", is that decimal or fraction; a number given as a float
is the exact binary value of that float) is available on demand (:mod:`verify.numbers`): whole arrays
(``X_exact``, ``gamma_exact``, ``features_exact()``: costly for large data, computed once when asked for)
or, for certificates, only the rows they use (:meth:`Dataset.features_exact_rows`,
:meth:`Dataset.exact_constraints`), with python-flint's rational matrices.

Supported numbers and sizes: see :mod:`verify.numbers` and the README.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from . import head_fields
from .errors import DatasetError
from .numbers import (MAX_MAGNITUDE, JSONConstant, Numbers, _describe, parse_number,  # noqa: F401
                      to_numbers)

MODELS = ("prompt", "self", "cross")
ATTENTION_MODELS = ("self", "cross")   # logits x_it^T W z_i, trained as W or as W = K Q^T
PARAMETERIZATIONS = ("W", "KQ")
BUILTIN_LOSS_NAMES = ("logistic", "exponential", "correlation")
GD_METHODS = ("normalized", "fixed")
TRAIN_MODES = ("p", "vp")   # "p": v fixed at the dataset's v; "vp": v and p trained jointly
MAX_DERIVATIVE = 1e50       # |l'(u)| of a built-in loss over the scores' range (float64 headroom)
U = 2.0 ** -53


def _fmpq_list(ratios) -> list:
    from flint import fmpq

    return [fmpq(p, q) for p, q in ratios]


def _fractions(entries) -> list:
    """python-flint fmpq entries as Fractions."""
    return [Fraction(int(x.p), int(x.q)) for x in entries]


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

    def __getstate__(self):
        """Pickled without the cache of derived exact objects (some cannot be pickled; all are recomputed)."""
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise DatasetError("name: expected a non-empty string")
        if not isinstance(self.model, str) or self.model not in MODELS:
            raise DatasetError(f"model: unknown model {str(self.model)[:40]!r}; expected one of {', '.join(MODELS)}")
        self._cache: dict = {}
        self.numbers: dict = {}
        X = to_numbers(self.X, ("sequence", "token", "feature"), "X")
        n, T, d = X.shape
        if n == 0:
            raise DatasetError("X: no sequences (n = 0)")
        if T < 2:
            raise DatasetError(f"X: each sequence needs at least 2 tokens, got T = {T}")
        if d == 0:
            raise DatasetError("X: tokens have no features (d = 0)")
        Y = to_numbers(self.Y, ("label",), "Y")
        if Y.shape != (n,):
            raise DatasetError(f"Y: expected {n} labels (one per sequence of X), got {Y.shape[0]}")
        bad = np.nonzero(np.abs(Y.values) != 1)[0]
        if len(bad) or len(Y.exact_index):
            i = int(bad[0]) if len(bad) else int(Y.exact_index[0])
            raise DatasetError(f"Y[{i}]: labels must be -1 or 1, got {float(Y.values[i]):g}")
        v = to_numbers(self.v, ("feature",), "v")
        if v.shape != (d,):
            raise DatasetError(f"v: expected {d} numbers (d of X), got {v.shape[0]}")
        self.numbers.update(X=X, Y=Y, v=v)
        self.X, self.Y, self.v = X.values, Y.values, v.values
        if self.model in ATTENTION_MODELS:
            self._attention_model_fields()
        else:
            self._prompt_model_fields()
        head_fields.apply(self)
        self._check_derived_range()

    def _prompt_model_fields(self) -> None:
        n, T, d = self.X.shape
        for key in ("query_index", "Z", "parameterization", "rank"):
            if getattr(self, key) is not None:
                raise DatasetError(f"{key}: only for the self and cross models, not for model {self.model!r}")
        if self.W is None:
            W = Numbers(np.eye(d), where="W")
        else:
            W = to_numbers(self.W, ("row", "column"), "W")
            if W.shape != (d, d):
                raise DatasetError(f"W: expected a {d} x {d} matrix, got {W.shape[0]} x {W.shape[1]}")
        self.numbers["W"] = W
        self.loss_spec = _parse_loss(self.loss)
        inits = self.inits if self.inits is not None else np.zeros((1, d))
        if not isinstance(inits, (list, tuple, np.ndarray)) or len(inits) == 0:
            raise DatasetError("inits: expected a non-empty list of initial p vectors")
        inits = to_numbers(inits, ("init", "feature"), "inits")
        if inits.shape[1] != d:
            raise DatasetError(f"inits: each initial p needs {d} numbers, got {inits.shape[1]}")
        self.numbers["inits"] = inits
        self.gd = _parse_gd(self.gd)
        if not isinstance(self.train, str) or self.train not in TRAIN_MODES:
            raise DatasetError(f"train: expected \"p\" (v fixed) or \"vp\" (v and p trained jointly), got "
                               f"{str(self.train)[:40]!r}")
        self.W = W.values
        self.inits = inits.values

    # -- shapes and derived quantities -------------------------------------------------------
    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def T(self) -> int:
        return self.X.shape[1]

    @property
    def d(self) -> int:
        return self.X.shape[2]

    @property
    def gamma(self) -> np.ndarray:
        """Token scores gamma_it = Y_i v^T x_it, float64 (n, T); with a nonlinear head Y_i h(x_it)."""
        if not self.head.is_linear:
            return self.head.token_scores(self.X, self.Y)
        return self.Y[:, None] * (self.X @ self.v)

    def _exact(self, key: str):
        if key not in self._cache:
            nums = self.numbers.get(key)
            self._cache[key] = None if nums is None else nums.exact_array()
        return self._cache[key]

    @property
    def X_exact(self) -> np.ndarray:
        """X as exact rationals (object array (n, T, d) of Fractions; built on first use)."""
        return self._exact("X")

    @property
    def Y_exact(self) -> np.ndarray:
        return self._exact("Y")

    @property
    def v_exact(self) -> np.ndarray:
        return self._exact("v")

    @property
    def W_exact(self) -> np.ndarray | None:
        """W as exact rationals (prompt model; None for the self/cross models)."""
        return self._exact("W")

    @property
    def Z_exact(self) -> np.ndarray | None:
        """The queries z_i as exact rationals (self/cross models; None for the prompt model)."""
        if not self.is_attention_model:
            return None
        if "Z_exact" not in self._cache:
            if self.model == "self":
                self._cache["Z_exact"] = self.X_exact[:, self.query_index, :].copy()
            else:
                self._cache["Z_exact"] = self._exact("Z")
        return self._cache["Z_exact"]

    @property
    def kq_inits_exact(self) -> np.ndarray | None:
        """The [K_0, Q_0] pairs as exact rationals (parameterization KQ; else None)."""
        return self._exact("kq_inits") if "kq_inits" in self.numbers else None

    @property
    def inits_exact(self) -> np.ndarray:
        """The initial parameters as exact rationals (p vectors, or W_0 = K_0 Q_0^T matrices)."""
        if "inits_exact" not in self._cache:
            if "kq_inits" in self.numbers:
                self._cache["inits_exact"] = np.array([np.array(_fractions(P.entries()), dtype=object).reshape(
                    P.nrows(), P.ncols()) for P in self._kq_products()], dtype=object)
            else:
                self._cache["inits_exact"] = self._exact("inits")
        return self._cache["inits_exact"]

    def _kq_products(self) -> list:
        """K_0 Q_0^T for every init pair, as fmpq matrices."""
        from flint import fmpq_mat

        kq = self.numbers["kq_inits"]
        k, _, d, m = kq.shape
        out = []
        for r in range(k):
            base = r * 2 * d * m
            K = fmpq_mat(d, m, _fmpq_list(kq.ratios_flat(np.arange(base, base + d * m))))
            Q = fmpq_mat(d, m, _fmpq_list(kq.ratios_flat(np.arange(base + d * m, base + 2 * d * m))))
            out.append(K * Q.transpose())
        return out

    # -- exact values through python-flint (no Fraction arithmetic in loops) -------------------------
    def _fmpq_matrix(self, key: str, flat: np.ndarray):
        """An fmpq_mat whose entry (r, c) is the exact value of numbers[key] at flat index flat[r, c]."""
        from flint import fmpq_mat

        flat = np.asarray(flat, dtype=np.int64)
        rows, cols = flat.shape
        return fmpq_mat(rows, cols, _fmpq_list(self.numbers[key].ratios_flat(flat.ravel())))

    def _token_rows(self, key: str, pairs) -> Any:
        """The exact tokens x_it (key "X") for pairs (i, t), as an fmpq_mat (k, d)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        T, d = self.T, self.d
        flat = ((pairs[:, 0] * T + pairs[:, 1]) * d)[:, None] + np.arange(d)[None, :]
        return self._fmpq_matrix(key, flat)

    def _query_rows(self, seqs) -> Any:
        """The exact queries z_i for the given sequences, as an fmpq_mat (k, d)."""
        seqs = np.asarray(seqs, dtype=np.int64).ravel()
        if self.model == "self":
            return self._token_rows("X", np.stack([seqs, np.full_like(seqs, self.query_index)], axis=1))
        d = self.d
        return self._fmpq_matrix("Z", (seqs * d)[:, None] + np.arange(d)[None, :])

    def _W_fmpq(self):
        """W as an fmpq_mat, or None when W is exactly the identity (prompt model)."""
        if "W_fmpq" not in self._cache:
            W = self.numbers["W"]
            d = self.d
            if W.float_exact and np.array_equal(W.values, np.eye(d)):
                self._cache["W_fmpq"] = None
            else:
                self._cache["W_fmpq"] = self._fmpq_matrix("W", np.arange(d * d).reshape(d, d))
        return self._cache["W_fmpq"]

    def _feature_rows_fmpq(self, dx, seqs) -> list:
        """Rows of exact features from exact token rows ``dx`` (fmpq_mat (k, d)) of sequences ``seqs``:
        prompt: dx W; self/cross: vec(dx_r z_i^T). Returns a list of k lists of fmpq."""
        k, d = dx.nrows(), dx.ncols()
        if not self.is_attention_model:
            W = self._W_fmpq()
            M = dx if W is None else dx * W
            e = M.entries()
            return [e[r * d:(r + 1) * d] for r in range(k)]
        from flint import fmpq_mat

        Zr = self._query_rows(seqs)
        d2 = Zr.ncols()
        out = []
        for r in range(k):
            col = fmpq_mat(d, 1, [dx[r, a] for a in range(d)])
            row = fmpq_mat(1, d2, [Zr[r, b] for b in range(d2)])
            out.append((col * row).entries())
        return out

    def features_exact_rows(self, pairs) -> list:
        """The exact features Phi_it for the given (i, t) pairs: a list of rows (lists of Fractions).

        Prompt model Phi_it = W^T x_it, self/cross vec(x_it z_i^T); computed with python-flint matrices
        from the exact tokens of those pairs only.

        >>> Dataset(X=[[["1/3", 1], [0, 1]]], Y=[1], v=[1, 0]).features_exact_rows([(0, 0)])
        [[Fraction(1, 3), Fraction(1, 1)]]
        """
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        rows = self._feature_rows_fmpq(self._token_rows("X", pairs), pairs[:, 0])
        return [_fractions(r) for r in rows]

    def feature_error(self) -> np.ndarray:
        """e_it (n, T): a bound on |Phi_itk (exact) - features()[i, t, k]| for every k (float64 rounding of
        the inputs and of the products; 0 where the float features are exact)."""
        if "feature_error" not in self._cache:
            X = self.numbers["X"]
            if self.is_attention_model:
                Zn = self.numbers["X"] if self.model == "self" else self.numbers["Z"]
                exact_inputs = X.float_exact and Zn.float_exact
                factor = 1.1 * (1 if exact_inputs else 4) * U
                zmax = np.max(np.abs(self.Z), axis=1)
                err = factor * np.max(np.abs(self.X), axis=2) * zmax[:, None] + 2.0 ** -1070
            elif self.numbers["W"].float_exact and X.float_exact and np.array_equal(self.W, np.eye(self.d)):
                err = np.zeros(self.X.shape[:2])
            else:
                err = 1.1 * (self.d + 6) * U * np.max(np.abs(self.X) @ np.abs(self.W), axis=2) + self.d * 2.0 ** -1070
            self._cache["feature_error"] = err
        return self._cache["feature_error"]

    def exact_constraints(self, selection, margins=None, approx=None):
        """The constraints <theta, Phi_{i,alpha_i} - Phi_it> >= b_i (t != alpha_i, in the order of
        ``numeric.svm_constraints``) with A given lazily over the exact rationals (``numeric.ExactRows``:
        rows computed on demand with python-flint and cached; float rows ``approx`` with a rigorous error
        bound let certificates decide the other rows), b exact (``margins`` per sequence, default 1).

        ``approx``, when given, must be ``numeric.svm_constraints(self.features(), selection).A`` (it saves
        recomputing it). Returns a numeric.SVMConstraints whose ``A`` is the lazy matrix.

        >>> ds = Dataset(X=[[["1/3", 0], [0, 1]]], Y=[1], v=[1, 0])
        >>> con = ds.exact_constraints([0])
        >>> con.A.shape, con.A.rows([0]), con.b.tolist()
        ((1, 2), [[Fraction(1, 3), Fraction(-1, 1)]], [1])
        """
        from attnsvm.numeric.exact_rows import ExactRows
        from attnsvm.numeric.svm import SVMConstraints, svm_constraints

        sel = np.asarray([int(a) for a in selection], dtype=np.int64)
        n, T = self.n, self.T
        if sel.shape != (n,) or np.any(sel < 0) or np.any(sel >= T):
            raise ValueError(f"a selection needs one token index in [0, {T}) per sequence ({n})")
        mask = np.ones((n, T), dtype=bool)
        mask[np.arange(n), sel] = False
        ii, tt = np.nonzero(mask)
        if approx is None:
            approx = svm_constraints(self.features(), sel).A
        err_feat = self.feature_error()
        with np.errstate(over="ignore"):
            row_err = (err_feat[ii, sel[ii]] + err_feat[ii, tt] + 1.1 * U * np.max(np.abs(approx), axis=1)
                       + 2.0 ** -1070) if len(ii) else np.zeros(0)
        if margins is None:
            b = np.ones(len(ii), dtype=object)
            b[:] = [1] * len(ii)
        else:
            marg = np.asarray(margins, dtype=object)
            b = marg[ii]

        def fetch(indices):
            idx = np.asarray(indices, dtype=np.int64)
            i, t = ii[idx], tt[idx]
            top = self._token_rows("X", np.stack([i, sel[i]], axis=1))
            other = self._token_rows("X", np.stack([i, t], axis=1))
            return [_fractions(r) for r in self._feature_rows_fmpq(top - other, i)]

        A = ExactRows(approx, row_err, fetch)
        return SVMConstraints(A=A, b=b, pairs=np.stack([ii, tt], axis=1))

    @property
    def gamma_exact(self) -> np.ndarray:
        """Token scores Y_i v^T x_it as exact rationals (object array (n, T) of Fractions; computed once with
        python-flint matrices); with a nonlinear head Y_i h(x_it)."""
        if not self.head.is_linear:
            return head_fields.exact_token_scores(self.head, self.X_exact, self.Y_exact)
        if "gamma_exact" not in self._cache:
            from flint import fmpq_mat

            n, T, d = self.X.shape
            Xq = self._fmpq_matrix("X", np.arange(n * T * d).reshape(n * T, d))
            vq = fmpq_mat(d, 1, _fmpq_list(self.numbers["v"].ratios_flat(np.arange(d))))
            s = _fractions((Xq * vq).entries())
            y = self.Y.tolist()
            out = np.empty((n, T), dtype=object)
            out.reshape(-1)[:] = [x if y[k // T] > 0 else -x for k, x in enumerate(s)]
            self._cache["gamma_exact"] = out
        return self._cache["gamma_exact"]

    def _attention_model_fields(self) -> None:
        """Validate and convert the fields of the self/cross-attention models (logits x_it^T W z_i).

        ``inits`` holds d x d matrices W_0 (parameterization W) or pairs [K_0, Q_0] of d x m matrices
        (parameterization KQ, m = ``rank``, default d, at most d); the attribute ``inits`` then holds
        W_0 = K_0 Q_0^T (what every W-level tool uses) and ``kq_inits`` the pairs. Defaults: W_0 = 0 (every
        logit 0, no preferred direction); K_0 = Q_0 = I_{d x m} / 10, balanced (K_0^T K_0 = Q_0^T Q_0) and
        small, so GD on (K, Q) starts in the regime where its implicit bias (the nuclear norm) acts,
        deterministic."""
        n, T, d = self.X.shape
        if self.W is not None:
            raise DatasetError(f"W: not a field of the {self.model} model (W is the trained parameter; give inits)")
        if self.model == "self":
            if self.Z is not None:
                raise DatasetError("Z: only for the cross model (self-attention queries are tokens of X; "
                                   "use query_index)")
            qi = 0 if self.query_index is None else self.query_index
            if isinstance(qi, bool) or not isinstance(qi, (int, np.integer)):
                raise DatasetError(f"query_index: expected an integer token index, got {_describe(qi)}")
            if not 0 <= int(qi) < T:
                raise DatasetError(f"query_index: {int(qi)} is out of range for T = {T} tokens (0 to {T - 1})")
            self.query_index = int(qi)
            self.Z = self.X[:, self.query_index, :].copy()
        else:
            if self.query_index is not None:
                raise DatasetError("query_index: only for the self model (cross-attention queries are given in Z)")
            if self.Z is None:
                raise DatasetError("Z: missing required field for the cross model (n x d queries)")
            Z = to_numbers(self.Z, ("query", "feature"), "Z")
            if Z.shape != (n, d):
                raise DatasetError(f"Z: expected {n} x {d} (one query per sequence, d of X), got "
                                   f"{Z.shape[0]} x {Z.shape[1]}")
            self.numbers["Z"] = Z
            self.Z = Z.values
        par = "W" if self.parameterization is None else self.parameterization
        if not isinstance(par, str) or par not in PARAMETERIZATIONS:
            raise DatasetError(f"parameterization: unknown parameterization {str(par)[:40]!r}; expected W or KQ")
        self.parameterization = par
        if self.rank is not None and par != "KQ":
            raise DatasetError("rank: only for parameterization KQ (W = K Q^T with K, Q of shape d x rank)")
        m = d if self.rank is None else self.rank
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise DatasetError(f"rank: expected a positive integer, got {_describe(m) if not isinstance(m, int) else m}")
        if m > d:
            raise DatasetError(f"rank: {int(m)} exceeds d = {d} (K Q^T has rank at most d; use a rank from 1 to {d})")
        self.rank = int(m)
        self.loss_spec = _parse_loss(self.loss)
        if self.inits is not None and (not isinstance(self.inits, (list, tuple, np.ndarray)) or len(self.inits) == 0):
            raise DatasetError("inits: expected a non-empty list of initial matrices")
        if par == "W":
            inits = self.inits if self.inits is not None else np.zeros((1, d, d))
            nums = to_numbers(inits, ("init", "row", "column"), "inits")
            if nums.shape[1:] != (d, d):
                raise DatasetError(f"inits: each initial W needs {d} x {d} numbers, got "
                                   f"{nums.shape[1]} x {nums.shape[2]}")
            self.numbers["inits"] = nums
            self.inits = nums.values
            self.kq_inits = None
        else:
            if self.inits is not None:
                kq = to_numbers(self.inits, ("init", "K or Q", "row", "column"), "inits")
            else:
                eye = np.eye(d, self.rank)
                kq = Numbers(np.stack([eye, eye])[None] / 10, where="inits")
                tenth = [i for i, x in enumerate(kq.values.reshape(-1).tolist()) if x != 0]
                kq.exact_index = np.array(tenth, dtype=np.int64)
                kq.exact_values = [Fraction(1, 10)] * len(tenth)
            if kq.shape[1:] != (2, d, self.rank):
                raise DatasetError(f"inits: each init is a pair [K, Q] of {d} x {self.rank} matrices, got shape "
                                   f"{' x '.join(str(x) for x in kq.shape[1:])}")
            self.numbers["kq_inits"] = kq
            self.kq_inits = kq.values
            self.inits = np.array([[[int(x.p) / int(x.q) for x in P.entries()]] for P in self._kq_products()],
                                  dtype=float).reshape(kq.shape[0], d, d)
        self.gd = _parse_gd(self.gd)
        self.W = None

    def _check_derived_range(self) -> None:
        """Features and scores within the supported magnitude, and the built-in loss's derivative over the
        scores' range within float64 headroom (see verify.numbers)."""
        with np.errstate(over="ignore", invalid="ignore"):
            gmax = float(np.max(np.abs(self.gamma)))
            if self.is_attention_model:
                fmax = float(np.max(np.max(np.abs(self.X), axis=2) * np.max(np.abs(self.Z), axis=1)[:, None]))
            else:
                fmax = float(np.max(np.abs(self.features())))
        if not gmax <= MAX_MAGNITUDE:
            raise DatasetError(f"X, v: the scores Y_i v^T x_it reach {gmax:g}; supported magnitudes are at most "
                               f"{MAX_MAGNITUDE:g} (scale the data down)")
        if not fmax <= MAX_MAGNITUDE:
            what = "x_it z_i^T" if self.is_attention_model else "W^T x_it"
            raise DatasetError(f"X: the features {what} reach {fmax:g}; supported magnitudes are at most "
                               f"{MAX_MAGNITUDE:g} (scale the data down)")
        if self.loss_spec.name == "exponential" and gmax > np.log(MAX_DERIVATIVE):
            raise DatasetError(f"loss: the exponential loss's derivative e^(-u) reaches e^{gmax:.4g} over the scores' "
                               f"range [-{gmax:.4g}, {gmax:.4g}], beyond float64 headroom ({MAX_DERIVATIVE:g}); scale "
                               f"the data so that every |score| is at most {np.log(MAX_DERIVATIVE):.1f}")

    @property
    def is_attention_model(self) -> bool:
        """True for the self/cross-attention models (trained W or K, Q), False for the prompt model."""
        return self.model in ATTENTION_MODELS

    def features(self) -> np.ndarray:
        """Phi_it = k_it = W^T x_it (the rows of X_i W), float64 (n, T, d): q_it = <p, Phi_it>.
        Self/cross models: Phi_it = vec(x_it z_i^T), (n, T, d*d), so q_it = <vec(W), Phi_it>.
        Computed once (read-only array).

        >>> Dataset(X=[[[1, 2], [3, 4]]], Y=[1], v=[1, 0], W=[[0, 1], [1, 0]]).features().tolist()
        [[[2.0, 1.0], [4.0, 3.0]]]
        """
        if "features" not in self._cache:
            if self.is_attention_model:
                from attnsvm.numeric.w_attention import w_features
                phi = w_features(self.X, self.Z)
            else:
                phi = self.X @ self.W
            phi.flags.writeable = False
            self._cache["features"] = phi
        return self._cache["features"]

    def features_exact_fmpq(self) -> np.ndarray:
        """The exact features as python-flint rationals (object array (n, T, D) of fmpq): what the ball-arithmetic
        engines take, without Python Fractions. Built each call (the caller keeps it)."""
        n, T, d = self.X.shape
        ii, tt = np.divmod(np.arange(n * T), T)
        rows = self._feature_rows_fmpq(self._token_rows("X", np.stack([ii, tt], axis=1)), ii)
        out = np.empty((n, T, len(rows[0])), dtype=object)
        out.reshape(-1)[:] = [x for r in rows for x in r]
        return out

    def features_exact(self) -> np.ndarray:
        """The keys W^T x_it as exact rationals (object array (n, T, d)); self/cross: vec(x_it z_i^T).
        The whole tensor: costly for large data (certificates use :meth:`exact_constraints`); computed once."""
        if "features_exact" not in self._cache:
            n, T, d = self.X.shape
            ii, tt = np.divmod(np.arange(n * T), T)
            rows = self._feature_rows_fmpq(self._token_rows("X", np.stack([ii, tt], axis=1)), ii)
            D = len(rows[0])
            out = np.empty((n, T, D), dtype=object)
            out.reshape(-1)[:] = _fractions(x for r in rows for x in r)
            self._cache["features_exact"] = out
        return self._cache["features_exact"]

    def subsample(self, indices) -> "Dataset":
        """The dataset of the sequences ``indices`` only (X_i, Y_i and, for the cross model, z_i; everything
        else shared), with the same exact values: what a part too large for the whole dataset runs on.

        >>> ds = Dataset(X=[[[1, 0], [0, 1]], [["1/3", 0], [0, 2]]], Y=[1, -1], v=[1, 0], name="two")
        >>> sub = ds.subsample([1])
        >>> (sub.n, sub.name, sub.X_exact[0, 0, 0], sub.Y.tolist())
        (1, 'two[1 of 2 sequences]', Fraction(1, 3), [-1.0])
        """
        import copy

        idx = np.asarray(indices, dtype=np.int64).ravel()
        if len(idx) == 0 or np.any(idx < 0) or np.any(idx >= self.n) or len(np.unique(idx)) != len(idx):
            raise ValueError(f"subsample: expected distinct sequence indices in 0..{self.n - 1}")
        out = copy.copy(self)
        out._cache = {}
        out.numbers = dict(self.numbers)
        for key in ("X", "Y", "Z"):
            nums = self.numbers.get(key)
            if nums is None:
                continue
            rest = int(np.prod(nums.shape[1:], dtype=np.int64))
            seq, within = np.divmod(nums.exact_index, rest)
            where = np.full(self.n, -1, dtype=np.int64)
            where[idx] = np.arange(len(idx))
            keep = np.nonzero(where[seq] >= 0)[0]
            new_index = where[seq[keep]] * rest + within[keep]
            order = np.argsort(new_index, kind="stable")
            sub = Numbers(np.ascontiguousarray(nums.values[idx]), new_index[order],
                          [nums.exact_values[int(k)] for k in keep[order]], nums.where)
            out.numbers[key] = sub
            setattr(out, key, sub.values)
        if self.model == "self":
            out.Z = out.X[:, self.query_index, :].copy()
        out.name = f"{self.name}[{len(idx)} of {self.n} sequences]"
        return out

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
            raise DatasetError(f"expected a JSON object at the top level, got {_describe(obj)}")
        unknown = sorted(set(obj) - KNOWN_FIELDS)
        if unknown:
            raise DatasetError(f"unknown field {str(unknown[0])[:40]!r} (known fields: {', '.join(sorted(KNOWN_FIELDS))})")
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
        """Read a ``.json`` or ``.npz`` dataset file (the .npz is loaded without pickle, its members' sizes
        checked before any is read).

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
                    obj = json.load(fh, parse_constant=JSONConstant.parse)
                return cls.from_dict(obj, source=path)
        except DatasetError as exc:
            raise DatasetError(f"{path}: {exc}") from None
        except RecursionError:
            raise DatasetError(f"{path}: not a usable dataset: arrays or objects nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DatasetError(f"{path}: cannot read the file: {str(exc)[:200]}") from None
        raise DatasetError(f"{path}: unknown file type {ext or '(none)'!r}; expected .json or .npz")


KNOWN_FIELDS = {"name", "model", "X", "Y", "v", "W", "loss", "inits", "gd", "description", "train",
                "query_index", "Z", "parameterization", "rank", "head", "v0"}
NPZ_FIELDS = (KNOWN_FIELDS - {"loss", "gd"}) | {"loss", "loss_expr", "gd_method", "gd_step", "gd_iterations"}
MAX_NPZ_BYTES = 4 * 2 ** 30   # declared uncompressed size of all members together


def _read_npz(path: str) -> dict:
    """The fields of a .npz dataset as a dict (strings as str, numbers as arrays).

    Before any member is decompressed: every member must name a known field and be a .npy array, and the
    sizes the archive and the .npy headers declare must fit ``MAX_NPZ_BYTES`` (a small archive cannot
    expand to gigabytes)."""
    import zipfile

    from numpy.lib import format as npformat

    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"not a .npz archive: {exc}") from None
    with zf:
        infos = zf.infolist()
        total = 0
        for info in infos:
            name = info.filename
            key = name[:-4] if name.endswith(".npy") else name
            if not name.endswith(".npy"):
                raise DatasetError(f"{key[:40]}: not a .npy array member")
            if key not in NPZ_FIELDS:
                raise DatasetError(f"unknown field {key[:40]!r} (known fields: {', '.join(sorted(NPZ_FIELDS))})")
            total += info.file_size
            if total > MAX_NPZ_BYTES:
                raise DatasetError(f"{key}: the archive declares more than {MAX_NPZ_BYTES // 2 ** 30} GiB of "
                                   f"uncompressed data; refused")
        for info in infos:
            key = info.filename[:-4]
            with zf.open(info) as fh:
                try:
                    version = npformat.read_magic(fh)
                    if version not in ((1, 0), (2, 0)):
                        raise ValueError(f"unsupported .npy format version {version}")
                    read_header = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
                    shape, fortran, dtype = read_header(fh)
                except ValueError as exc:
                    raise DatasetError(f"{key}: not a valid .npy array: {exc}") from None
            if dtype.hasobject:
                raise DatasetError(f"{key}: unsupported array type {dtype} (object arrays need pickle)")
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if nbytes > info.file_size:
                raise DatasetError(f"{key}: the .npy header declares {nbytes} bytes but the member holds "
                                   f"{info.file_size}")
        obj: dict = {}
        for info in infos:
            key = info.filename[:-4]
            with zf.open(info) as fh:
                arr = npformat.read_array(fh, allow_pickle=False)
            if arr.dtype.kind in "US":
                obj[key] = str(arr.item()) if arr.ndim == 0 else [str(x) for x in arr.ravel()]
            elif arr.dtype.kind in "biuf":
                obj[key] = arr.item() if arr.ndim == 0 else arr
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
        if not isinstance(gd["method"], str) or gd["method"] not in GD_METHODS:
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
            raise DatasetError(f"gd.iterations: expected a positive integer, got {it if isinstance(it, int) else _describe(it)}")
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
