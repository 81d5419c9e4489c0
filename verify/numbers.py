"""The numbers of a dataset: parsed straight into float64 arrays, their exact rational values kept lazily.

A number is a JSON/Python float (its exact value is the float's binary value), an integer, a string
holding a decimal ("0.1", "-2.5e-3") or a fraction ("1/3") (exact value: the decimal or fraction; the
float64 value: the correctly rounded one), or a ``Fraction``. Arrays are converted in bulk: float entries
go straight into a float64 array and cost nothing more; only the entries whose exact value is not the
float64 value (strings, fractions, integers beyond 2^53) are remembered, as text or Fraction, and turned
into rationals when someone asks for them (:meth:`Numbers.exact_flat`, :meth:`Numbers.exact_array`).

The supported range (README, "Supported numbers and sizes"): every number is 0 or has magnitude between
``MIN_MAGNITUDE`` (1e-100) and ``MAX_MAGNITUDE`` (1e50). The exact path could hold any rational; the
float64 path needs features, logits, scores and gradients finite with headroom for the norms GD reaches
(logits are products of a parameter of norm up to ~1e6 * step with features that are products of two data
numbers), and products of three data numbers must stay normal floats. A string is parsed only after its
digit count (``MAX_DIGITS``) and the size of its exponent are checked, so "1e999999999" is rejected at once.
Every error is one line that names the field and the index.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import chain, repeat
from typing import Any

import numpy as np

from .errors import DatasetError

MAX_MAGNITUDE = 1e50
MIN_MAGNITUDE = 1e-100
MAX_DIGITS = 1000            # digits of a number written as a string (mantissa, or numerator and denominator)
MAX_EXPONENT_CHARS = 12      # characters of the exponent of a decimal string
RANGE_TEXT = f"0 or a magnitude from {MIN_MAGNITUDE:g} to {MAX_MAGNITUDE:g}"
# the bounds as exact rationals (10^50, 10^-100) and as the floats that decide the same: the largest float
# <= 10^50 and the smallest float >= 10^-100
_MAX_EXACT = Fraction(10) ** 50
_MIN_EXACT = Fraction(1, 10 ** 100)
_MAX_F = MAX_MAGNITUDE if Fraction(MAX_MAGNITUDE) <= _MAX_EXACT else math.nextafter(MAX_MAGNITUDE, 0.0)
_MIN_F = MIN_MAGNITUDE if Fraction(MIN_MAGNITUDE) >= _MIN_EXACT else math.nextafter(MIN_MAGNITUDE, 1.0)

_DECIMAL = re.compile(r"\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*\Z")
_FRACTION = re.compile(r"\s*([+-]?)(\d+)\s*/\s*(\d+)\s*\Z")


class JSONConstant(float):
    """NaN, Infinity or -Infinity as written in a JSON file (``json.load(parse_constant=JSONConstant.parse)``):
    a float that remembers its spelling, so that the error names it and its index."""

    def __new__(cls, token: str):
        obj = super().__new__(cls, float(token.replace("Infinity", "inf")))
        obj.token = token
        return obj

    @classmethod
    def parse(cls, token: str) -> "JSONConstant":
        return cls(token)


def _describe(value: Any) -> str:
    """A short description of a value for an error message (never recursive)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _range_error(where: str, shown: str, why: str) -> DatasetError:
    return DatasetError(f"{where}: {shown} is {why}; supported numbers are {RANGE_TEXT}")


def check_magnitude(x: float, where: str, shown: str | None = None) -> None:
    """Raise DatasetError unless the float x is finite and 0 or of magnitude in [MIN_MAGNITUDE, MAX_MAGNITUDE]."""
    shown = shown if shown is not None else _format(x)
    if math.isnan(x):
        raise DatasetError(f"{where}: {shown} is not a finite number")
    if math.isinf(x):
        if isinstance(x, JSONConstant):
            raise DatasetError(f"{where}: {shown} is not a finite number")
        raise _range_error(where, shown, "outside the float64 range (it overflows to infinity)")
    a = abs(x)
    if a > _MAX_F:
        raise _range_error(where, shown, "too large")
    if 0 < a < _MIN_F:
        raise _range_error(where, shown, "too small")


def _format(x: float) -> str:
    if isinstance(x, JSONConstant):
        return x.token
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return f"{x:g}"


def parse_text(text: str, where: str) -> tuple[float, Fraction | None]:
    """A number written as a string: (its float64 value, its exact value, or None when it is the float's).

    The digit count and the exponent are bounded before any big integer is built."""
    m = _DECIMAL.match(text)
    if m is not None and (m.group(2) or m.group(3)):
        sign, whole, frac, exp = m.group(1), m.group(2), m.group(3) or "", m.group(4)
        digits = (whole + frac).lstrip("0")
        if len(whole) + len(frac) > MAX_DIGITS:
            raise DatasetError(f"{where}: {text[:40]!r}... has more than {MAX_DIGITS} digits")
        if exp is not None and len(exp.lstrip("+-").lstrip("0")) > MAX_EXPONENT_CHARS:
            raise _range_error(where, repr(text[:40]), "outside the float64 range (its exponent is too large)")
        e = int(exp) if exp is not None else 0
        if not digits:
            return 0.0, None
        # value = int(digits) * 10^(e - len(frac)); its decimal magnitude is within 1 of `lead`
        lead = len(digits) - 1 + e - len(frac)
        if lead > 60:
            raise _range_error(where, repr(text[:40]), "too large")
        if lead < -110:
            raise _range_error(where, repr(text[:40]), "too small")
        k = e - len(frac)
        num = int(digits)
        exact = Fraction(num * 10 ** k) if k >= 0 else Fraction(num, 10 ** -k)
    else:
        m = _FRACTION.match(text)
        if m is None:
            raise DatasetError(f"{where}: cannot parse {text[:40]!r} as a number (use a decimal like \"0.1\" "
                               f"or a fraction like \"1/3\")")
        sign, num_s, den_s = m.groups()
        if len(num_s) > MAX_DIGITS or len(den_s) > MAX_DIGITS:
            raise DatasetError(f"{where}: {text[:40]!r}... has more than {MAX_DIGITS} digits")
        den = int(den_s)
        if den == 0:
            raise DatasetError(f"{where}: cannot parse {text[:40]!r} as a number (division by zero)")
        exact = Fraction(int(num_s), den)
    if sign == "-":
        exact = -exact
    a = abs(exact)
    if a > _MAX_EXACT:
        raise _range_error(where, repr(text[:40]), "too large")
    if 0 < a < _MIN_EXACT:
        raise _range_error(where, repr(text[:40]), "too small")
    value = float(exact)
    return value, (None if Fraction(value) == exact else exact)


def scalar(value: Any, where: str) -> tuple[float, Fraction | None]:
    """One number (any accepted form) as (float64 value, exact value or None when it is the float's)."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise DatasetError(f"{where}: expected a number, got {_describe(value)}")
    if isinstance(value, float):   # float, numpy float64, JSONConstant
        check_magnitude(value, where)
        return float(value), None
    if isinstance(value, (int, np.integer)):
        v = int(value)
        if abs(v) > _MAX_EXACT:
            raise _range_error(where, str(v) if v.bit_length() < 200 else "an integer", "too large")
        f = float(v)
        return f, (None if int(f) == v else Fraction(v))
    if isinstance(value, np.floating):   # float16/32 (exact in float64) and longdouble
        f = float(value)
        check_magnitude(f, where)
        if isinstance(value, np.longdouble) and np.longdouble(f) != value:
            exact = Fraction(*value.as_integer_ratio())
            return f, exact
        return f, None
    if isinstance(value, Fraction):
        a = abs(value)
        if a > _MAX_EXACT:
            raise _range_error(where, str(value)[:40], "too large")
        if 0 < a < _MIN_EXACT:
            raise _range_error(where, str(value)[:40], "too small")
        f = float(value)
        return f, (None if Fraction(f) == value else value)
    if isinstance(value, str):
        return parse_text(value, where)
    if isinstance(value, np.str_):
        return parse_text(str(value), where)
    raise DatasetError(f"{where}: expected a number, got {_describe(value)}")


def parse_number(value: Any, where: str) -> Fraction:
    """A JSON number or a string holding a decimal or a fraction, as an exact finite rational in the supported
    range (see module docstring)."""
    f, exact = scalar(value, where)
    return exact if exact is not None else Fraction(f)


@dataclass
class Numbers:
    """An array of dataset numbers: ``values`` (float64) and the entries whose exact value is not the float's
    binary value (``exact_index``: flat indices, increasing; ``exact_values``: Fraction or text, parsed on use).
    """

    values: np.ndarray
    exact_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    exact_values: list = field(default_factory=list)
    where: str = ""

    @property
    def shape(self) -> tuple:
        return self.values.shape

    @property
    def float_exact(self) -> bool:
        """True when every exact value is the binary value of its float."""
        return len(self.exact_index) == 0

    def _exact_at(self, k: int) -> Fraction:
        v = self.exact_values[k]
        if isinstance(v, Fraction):
            return v
        exact = parse_text(v, self.where)[1]
        return exact if exact is not None else Fraction(float(self.values.flat[self.exact_index[k]]))

    def exact_flat(self, flat) -> list:
        """The exact values (Fractions) of the entries at the given flat indices."""
        flat = np.asarray(flat, dtype=np.int64).ravel()
        vals = self.values.reshape(-1)[flat].tolist()
        out = [Fraction(v) for v in vals]
        if len(self.exact_index):
            pos = np.searchsorted(self.exact_index, flat)
            hit = (pos < len(self.exact_index)) & (self.exact_index[np.minimum(pos, len(self.exact_index) - 1)] == flat)
            for k in np.nonzero(hit)[0]:
                out[int(k)] = self._exact_at(int(pos[k]))
        return out

    def ratios_flat(self, flat) -> list:
        """(numerator, denominator) of the exact values at the given flat indices (no Fraction arithmetic)."""
        flat = np.asarray(flat, dtype=np.int64).ravel()
        out = [v.as_integer_ratio() for v in self.values.reshape(-1)[flat].tolist()]
        if len(self.exact_index):
            pos = np.searchsorted(self.exact_index, flat)
            hit = (pos < len(self.exact_index)) & (self.exact_index[np.minimum(pos, len(self.exact_index) - 1)] == flat)
            for k in np.nonzero(hit)[0]:
                e = self._exact_at(int(pos[k]))
                out[int(k)] = (e.numerator, e.denominator)
        return out

    def exact_array(self) -> np.ndarray:
        """Every entry as an exact rational: an object array of Fractions (expensive for large arrays)."""
        out = np.empty(self.values.shape, dtype=object)
        flat = out.reshape(-1)
        flat[:] = list(map(Fraction, self.values.reshape(-1).tolist()))
        for k, j in enumerate(self.exact_index.tolist()):
            flat[j] = self._exact_at(k)
        return out


# -- bulk conversion ------------------------------------------------------------------------------------

_FLOAT, _INT, _OTHER = 0, 1, 2
_CODES = {float: _FLOAT, np.float64: _FLOAT, np.float32: _FLOAT, np.float16: _FLOAT, int: _INT, np.int64: _INT,
          np.int32: _INT}


def _path(where: str, flat_index: int, shape: tuple) -> str:
    if not shape:
        return where
    idx = np.unravel_index(flat_index, shape)
    return where + "".join(f"[{int(i)}]" for i in idx)


def _is_seq(x) -> bool:
    return isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.ndim > 0)


def _leaves(value: Any, names: tuple, where: str) -> tuple[tuple, list]:
    """Walk exactly len(names) levels of nested lists without recursion: (shape, flat list of leaves).
    Raises DatasetError for a non-list where a list is expected, a ragged array or an empty inner axis."""
    level = [value]
    shape: list = []
    for depth, name in enumerate(names):
        kinds = set(map(type, level))
        if not kinds <= {list, tuple}:
            for k, item in enumerate(level):
                if not _is_seq(item):
                    raise DatasetError(f"{_path(where, k, tuple(shape))}: expected a list ({name} entries), got "
                                       f"{_describe(item)}")
            level = [list(x) if isinstance(x, np.ndarray) else x for x in level]
        lens = set(map(len, level))
        L = len(level[0])
        if len(lens) > 1:
            for k, item in enumerate(level):
                if len(item) != L:
                    raise DatasetError(f"{_path(where, k, tuple(shape))}: ragged array: expected {L} {name} entries, "
                                       f"got {len(item)}")
        if L == 0 and depth < len(names) - 1:
            raise DatasetError(f"{where}: empty along {name}")
        shape.append(L)
        level = list(chain.from_iterable(level))
    return tuple(shape), level


def _from_ndarray(arr: np.ndarray, names: tuple, where: str) -> Numbers | None:
    """Fast path for numeric numpy arrays (None: use the general path)."""
    if arr.dtype.kind == "b":
        if arr.size:
            raise DatasetError(f"{_path(where, 0, arr.shape)}: expected a number, got {_describe(bool(arr.flat[0]))}")
    if arr.dtype.kind not in "fiu" or arr.ndim != len(names):
        return None
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        return None
    if arr.ndim > 1 and 0 in arr.shape[:-1]:
        return None
    values = np.array(arr, dtype=np.float64)
    if arr.dtype.kind == "f":
        _check_floats(values, where)
        return Numbers(values, where=where)
    big = np.nonzero(np.abs(values) > 2.0 ** 53)[0] if values.ndim == 1 else np.nonzero(np.abs(values.reshape(-1)) > 2.0 ** 53)[0]
    idx, vals = [], []
    flat_in = arr.reshape(-1)
    for j in big.tolist():
        f, exact = scalar(int(flat_in[j]), _path(where, j, arr.shape))
        if exact is not None:
            idx.append(j)
            vals.append(exact)
    return Numbers(values, np.array(idx, dtype=np.int64), vals, where)


def _check_floats(values: np.ndarray, where: str) -> None:
    """Raise DatasetError at the first entry that is not finite or is outside the supported range."""
    flat = values.reshape(-1)
    a = np.abs(flat)
    with np.errstate(invalid="ignore"):
        bad = ~((a <= _MAX_F) & ((a >= _MIN_F) | (a == 0)))
    if bad.any():
        j = int(np.argmax(bad))
        check_magnitude(float(flat[j]), _path(where, j, values.shape))


def to_numbers(value: Any, names: tuple, where: str) -> Numbers:
    """Nested lists (or an array) of numbers with len(names) axes, as :class:`Numbers` (module docstring).

    Raises DatasetError, naming ``where`` and the index, for a non-number, a ragged array, an empty inner
    axis, a number that does not parse, or one outside the supported range."""
    if isinstance(value, np.ndarray):
        out = _from_ndarray(value, names, where)
        if out is not None:
            return out
        if value.dtype.kind not in "fiubUSO":
            raise DatasetError(f"{where}: unsupported array type {value.dtype}")
        value = value.tolist()
    if not names:
        f, exact = scalar(value, where)
        return Numbers(np.array(f), np.zeros(1 if exact is not None else 0, dtype=np.int64),
                       [exact] if exact is not None else [], where)
    shape, flat = _leaves(value, names, where)
    N = len(flat)
    kinds = set(map(type, flat))
    if N and kinds <= {float, int}:   # plain numbers: straight into float64
        try:
            values = np.array(flat, dtype=np.float64).reshape(shape)
        except OverflowError:         # an integer beyond float64: the general path names it
            values = None
        if values is not None and (int not in kinds or not np.any(np.abs(values) >= 2.0 ** 53)):
            _check_floats(values, where)
            return Numbers(values, where=where)
    codes = np.fromiter(map(_CODES.get, map(type, flat), repeat(_OTHER)), dtype=np.int8, count=N)
    values = np.zeros(N, dtype=np.float64)
    is_float = codes == _FLOAT
    fidx = np.nonzero(is_float)[0]
    if len(fidx):
        values[fidx] = np.array([flat[j] for j in fidx.tolist()], dtype=np.float64)
    first_bad_float = None
    if len(fidx):
        a = np.abs(values[fidx])
        with np.errstate(invalid="ignore"):
            bad = ~((a <= _MAX_F) & ((a >= _MIN_F) | (a == 0)))
        if bad.any():
            first_bad_float = int(fidx[int(np.argmax(bad))])
    idx, vals = [], []
    for j in np.nonzero(~is_float)[0].tolist():
        if first_bad_float is not None and j > first_bad_float:
            break
        f, exact = scalar(flat[j], _path(where, j, shape))
        values[j] = f
        if exact is not None:
            idx.append(j)
            vals.append(exact if isinstance(flat[j], Fraction) or not isinstance(flat[j], str) else flat[j])
    if first_bad_float is not None:
        check_magnitude(float(values[first_bad_float]), _path(where, first_bad_float, shape))
    return Numbers(values.reshape(shape), np.array(idx, dtype=np.int64), vals, where)
