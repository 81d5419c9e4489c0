"""Extreme and hostile dataset input: every case is a one-line DatasetError naming the field (and index), a
valid dataset, or a bounded run; never a traceback of another kind, never a hang."""
import json
import math
import time
import zipfile
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnsvm.verify import Dataset, DatasetError, InputError
from attnsvm.verify import dataset as dataset_module
from attnsvm.verify.numbers import MAX_MAGNITUDE, MIN_MAGNITUDE, parse_number

GOOD = {"name": "t", "X": [[[1, 0], [0, 1]], [[0.5, 0.25], [1, 1]]], "Y": [1, -1], "v": [1, 0]}


def with_(**changes):
    obj = json.loads(json.dumps(GOOD))
    obj.update(changes)
    return obj


def error_of(obj) -> str:
    with pytest.raises(DatasetError) as info:
        Dataset.from_dict(obj)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


# -- numbers outside the float64 range ----------------------------------------------------------------

@pytest.mark.parametrize("changes, where", [
    ({"X": [[["1e400", 0], [0, 1]], [[0.5, 0.25], [1, 1]]]}, "X[0][0][0]: '1e400' is too large"),
    ({"X": [[[1, 0], [0, "-1e99999"]], [[0.5, 0.25], [1, 1]]]}, "X[0][1][1]: '-1e99999' is too large"),
    ({"Y": ["1e400", -1]}, "Y[0]: '1e400' is too large"),
    ({"v": [1, "1e-400"]}, "v[1]: '1e-400' is too small"),
    ({"gd": {"step": "1e400"}}, "gd.step: '1e400' is too large"),
    ({"gd": {"step": 1e308}}, "gd.step: 1e+308 is too large"),
    ({"X": [[[1e300, 1e300], [0, 1]], [[0.5, 0.25], [1, 1]]]}, "X[0][0][0]: 1e+300 is too large"),
    ({"X": [[[1, 0], [0, 1]], [[1e308, 0.25], [1, 1]]]}, "X[1][0][0]: 1e+308 is too large"),
    ({"X": [[[1, 0], [0, 1]], [[0.5, 1e-300], [1, 1]]]}, "X[1][0][1]: 1e-300 is too small"),
    ({"W": [[1, 0], [0, 10 ** 400]]}, "W[1][1]: an integer is too large"),
    ({"X": [[[1, 0], [0, "1/0"]], [[0.5, 0.25], [1, 1]]]}, "X[0][1][1]: cannot parse"),
])
def test_numbers_outside_the_range_name_field_and_index(changes, where):
    msg = error_of(with_(**changes))
    assert where in msg and "supported numbers are 0 or a magnitude" in msg or "cannot parse" in where


def test_huge_exponent_is_rejected_at_once():
    for text in ("1e999999999", "1e-999999999", "1" * 900 + "e999999", "0." + "0" * 900 + "1", "9" * 5000):
        t0 = time.perf_counter()
        with pytest.raises(DatasetError):
            Dataset.from_dict(with_(X=[[[text, 0], [0, 1]], [[0.5, 0.25], [1, 1]]]))
        assert time.perf_counter() - t0 < 1.0, text[:20]


def test_products_that_overflow_are_rejected():
    # every number in range, but the features W^T x reach 1e80
    msg = error_of(with_(X=[[[1e40, 0], [0, 1]], [[0.5, 0.25], [1, 1]]], W=[[1e40, 0], [0, 1]]))
    assert msg.startswith("X: the features W^T x_it reach 1e+80")
    msg = error_of(with_(X=[[[1e40, 0], [0, 1]], [[0.5, 0.25], [1, 1]]], v=[1e40, 0]))
    assert msg.startswith("X, v: the scores")
    # the exponential loss's derivative e^{-u} over scores up to 1e3 is beyond float64 headroom
    msg = error_of(with_(X=[[[1000, 0], [0, 1]], [[0.5, 0.25], [1, 1]]], loss="exponential"))
    assert msg.startswith("loss: the exponential loss's derivative")
    Dataset.from_dict(with_(X=[[[1000, 0], [0, 1]], [[0.5, 0.25], [1, 1]]], loss="logistic"))


def test_the_range_bounds_themselves_are_accepted():
    ds = Dataset.from_dict(with_(v=[MAX_MAGNITUDE / 1e10, "1e-100"], X=[[[1e-10, 0], [0, 1]], [[0.5, 0.25], [1, 1]]]))
    assert ds.v_exact[1] == F(1, 10 ** 100)
    assert parse_number("-1e50", "x") == -F(10) ** 50
    with pytest.raises(DatasetError, match="too large"):
        parse_number("1.0000000000000000000001e50", "x")


def test_nan_and_infinity_name_field_and_index(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text('{"X": [[[1, 0], [0, 1]], [[0.5, NaN], [1, 1]]], "Y": [1, -1], "v": [1, 0]}')
    with pytest.raises(DatasetError, match=r"nan.json: X\[1\]\[0\]\[1\]: NaN is not a finite number"):
        Dataset.from_file(path)
    path.write_text('{"X": [[[1, 0], [0, 1]], [[0.5, 0], [1, 1]]], "Y": [1, -1], "v": [-Infinity, 0]}')
    with pytest.raises(DatasetError, match=r"v\[0\]: -Infinity is not a finite number"):
        Dataset.from_file(path)
    path.write_text('{"X": [[[1, 0], [0, 1]], [[0.5, 0], [1, 1]]], "Y": [1, -1], "v": [1e400, 0]}')
    with pytest.raises(DatasetError, match=r"v\[0\]: Infinity is outside the float64 range"):
        Dataset.from_file(path)


# -- nesting, shapes, types -----------------------------------------------------------------------

@pytest.mark.parametrize("where", ["top", "X"])
def test_json_nested_100000_levels_is_a_clean_error(tmp_path, where):
    deep = "[" * 100_000 + "]" * 100_000
    text = deep if where == "top" else '{"X": ' + deep + ', "Y": [1], "v": [1, 0]}'
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(DatasetError) as info:
        Dataset.from_file(path)
    assert "deep.json" in str(info.value) and "\n" not in str(info.value)


def test_deeply_nested_python_lists_are_a_clean_error():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    msg = error_of(with_(X=[[[1, deep], [0, 1]], [[0.5, 0.25], [1, 1]]]))
    assert msg == "X[0][0][1]: expected a number, got a list"
    assert error_of(with_(query_index=deep, model="self")).startswith("query_index: expected an integer")
    assert error_of(with_(gd={"iterations": deep})).startswith("gd.iterations: expected a positive integer")


json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True)
                           | st.integers(-10 ** 30, 10 ** 30) | st.text(max_size=8),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=3), kids,
                                                                                     max_size=3),
                           max_leaves=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=json_values, Y=json_values, v=json_values)
def test_arbitrary_json_shapes_give_a_dataset_or_a_one_line_error(X, Y, v):
    try:
        ds = Dataset.from_dict({"X": X, "Y": Y, "v": v})
    except DatasetError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert ds.X.shape == (ds.n, ds.T, ds.d) and np.all(np.isfinite(ds.X))


@settings(max_examples=200, deadline=None)
@given(x=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10 ** 60, 10 ** 60)
       | st.builds(lambda m, e: f"{m}e{e}", st.integers(-10 ** 6, 10 ** 6), st.integers(-400, 400))
       | st.builds(lambda p, q: f"{p}/{q}", st.integers(-10 ** 80, 10 ** 80), st.integers(0, 10 ** 80)))
def test_numbers_at_the_float_boundaries(x):
    """A number is accepted exactly when it is 0 or its exact magnitude lies in [1e-100, 1e50]; then its
    float64 value is the correctly rounded exact value, and the exact value is kept."""
    try:
        exact = F(x) if not isinstance(x, float) or math.isfinite(x) else None
    except (ValueError, ZeroDivisionError):
        exact = None
    inside = exact is not None and (exact == 0 or MIN_MAGNITUDE <= abs(exact) <= MAX_MAGNITUDE)
    # the boundaries themselves are decimal numbers that floats cannot hit exactly; compare exactly
    if exact is not None and exact != 0:
        inside = F(1, 10 ** 100) <= abs(exact) <= F(10) ** 50
    obj = with_(v=[1, x])
    if not inside:
        with pytest.raises(DatasetError, match=r"^v\[1\]: "):
            Dataset.from_dict(obj)
        return
    ds = Dataset.from_dict(obj)
    assert ds.v_exact[1] == exact
    assert ds.v[1] == float(exact)


def test_fractions_and_big_integers_keep_their_exact_value():
    big = 2 ** 60 + 1
    ds = Dataset(X=[[[F(1, 3), big], [0, 1]]], Y=[1], v=[1, 0])
    assert ds.X_exact[0, 0, 0] == F(1, 3) and ds.X_exact[0, 0, 1] == big and ds.X[0, 0, 1] == float(big)
    assert ds.gamma_exact[0, 0] == F(1, 3)
    assert ds.features_exact_rows([(0, 0)]) == [[F(1, 3), F(big)]]


# -- .npz archives ------------------------------------------------------------------------------------

def test_npz_compression_bomb_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, X=np.zeros((50, 100, 100)), Y=np.ones(50), v=np.zeros(100))
    assert path.stat().st_size < 100_000
    monkeypatch.setattr(dataset_module, "MAX_NPZ_BYTES", 1_000_000)

    def no_read(*args, **kwargs):
        raise AssertionError("a member was decompressed")

    monkeypatch.setattr(np.lib.format, "read_array", no_read)
    with pytest.raises(DatasetError, match="declares more than"):
        Dataset.from_file(path)


def test_npz_unknown_field_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "odd.npz"
    np.savez_compressed(path, X=np.zeros((2, 2, 2)), Y=np.ones(2), v=np.zeros(2), junk=np.zeros(10 ** 6))
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: pytest.fail("read before the check"))
    with pytest.raises(DatasetError, match="unknown field 'junk'"):
        Dataset.from_file(path)


def test_npz_header_that_claims_more_than_the_member_holds(tmp_path):
    path = tmp_path / "liar.npz"
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }"
    header += " " * (118 - len(header)) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 64
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("X.npy", npy)
    with pytest.raises(DatasetError, match=r"X: the .npy header declares 8000000000 bytes"):
        Dataset.from_file(path)


# -- sizes ----------------------------------------------------------------------------------------------

def test_rank_is_bounded_by_d():
    obj = with_(model="self", parameterization="KQ", rank=10_000_000)
    t0 = time.perf_counter()
    assert error_of(obj).startswith("rank: 10000000 exceeds d = 2")
    assert time.perf_counter() - t0 < 1.0
    assert Dataset.from_dict(with_(model="self", parameterization="KQ", rank=2)).rank == 2


def test_sweep_sizes_are_checked_against_memory_before_anything_runs():
    from attnsvm.verify.sweep import point_memory_bytes, sweep

    t0 = time.perf_counter()
    with pytest.raises(InputError, match=r"^--n 100000 --T 100000 --d 100000: one grid point needs about"):
        sweep([100000], [100000], [100000], 200)
    assert time.perf_counter() - t0 < 1.0
    assert point_memory_bytes(3, 4, 10, 200, 5) < 50e6


def test_enumeration_only_where_small():
    from attnsvm.numeric.selections import all_selections, candidate_selections, enumeration_size

    assert enumeration_size(3, 4) == 64 and enumeration_size(2000, 16) is None
    with pytest.raises(ValueError, match="too many to enumerate"):
        all_selections(40, 16)
    base = [np.zeros(300, dtype=int), np.r_[1, np.zeros(299, dtype=int)]]
    t0 = time.perf_counter()
    cands = candidate_selections(300, 16, base)
    assert time.perf_counter() - t0 < 5.0
    # both bases and their 4500 single-sequence variations each, less the duplicates: each base is a variation
    # of the other, and [t, 0, ..., 0] for t = 2..15 is a variation of both (14 rows)
    assert cands.shape == (2 + 2 * (300 * 15 - 1) - 14, 300)
    assert len({c.tobytes() for c in cands}) == len(cands)
    assert np.array_equal(cands[0], base[0]) and np.array_equal(cands[1], base[1])
