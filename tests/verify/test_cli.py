"""End to end: `attnsvm` on the built-ins (JSON fields, verdicts) and on bad input (exit 2, one line)."""
import json
import os
import subprocess
import sys

import pytest

from attnsvm.verify.cli import main

BUILTINS = ["single-input-global", "single-input-local", "multi-input"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run `attnsvm check NAME --json FILE` once per built-in (in-process) and keep (exit, stdout, json)."""
    out = {}
    folder = tmp_path_factory.mktemp("json")
    for name in BUILTINS:
        path = folder / f"{name}.json"
        import contextlib
        import io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["check", name, "--json", str(path)])
        out[name] = (code, buf.getvalue(), json.loads(path.read_text()))
    return out


@pytest.mark.parametrize("name", BUILTINS)
def test_check_builtin_json_fields(results, name):
    code, stdout, doc = results[name]
    assert code == 0, stdout
    assert doc["schema"] == "attnsvm.check/2"
    assert {"name", "model", "n", "T", "d"} <= set(doc["dataset"])
    checks = {c["id"]: c for c in doc["checks"]}
    assert ["optimal-tokens", "p-svm", "norm-divergence", "directional-limit"] == \
        [c for c in checks if c in ("optimal-tokens", "p-svm", "norm-divergence", "directional-limit")]
    ot = checks["optimal-tokens"]["evidence"]
    assert ot["alpha"] == [0] * doc["dataset"]["n"] and ot["unique"] is True
    ps = checks["p-svm"]["evidence"]
    assert ps["feasible"] is True
    assert all(len(x.replace("-", "").replace(".", "").lstrip("0")) >= 30 or float(x) == 0 for x in ps["p_mm"])
    assert ps["kkt_residual"] < 1e-25 and all(len(pair) == 2 for pair in ps["support"])
    runs = checks["directional-limit"]["evidence"]["runs"]
    assert len(runs) >= 1
    for run in runs:   # the theorem's algorithm: fixed-step GD (literal steps, then its modified equation)
        assert {"init", "selected", "selected_is_optimal", "one_minus_corr", "final_norm", "step", "algorithm",
                "steps_equivalent_log10", "outcome"} <= set(run)
        assert run["algorithm"] == "fixed-step" and run["final_norm"] >= 0.99e4 * float(ps["p_mm_norm"])
        if run["selected_is_optimal"]:
            assert run["one_minus_corr"] <= 1e-7
    for c in doc["checks"]:   # a premise may fail (single-input-local: equal-scores); no claim or instrument does
        ok = ("holds", "not-applicable", "fails") if c["role"] == "premise" else ("holds", "not-applicable")
        assert c["verdict"] in ok, (c["id"], c["summary"])
    assert doc["status"] == "consistent with the theory"
    assert f"dataset {name}" in stdout and "verdict: consistent with the theory" in stdout


def test_single_input_local_reaches_both_directions(results):
    runs = results["single-input-local"][2]["checks"]
    runs = next(c for c in runs if c["id"] == "directional-limit")["evidence"]["runs"]
    selections = {tuple(r["selected"]) for r in runs}
    assert selections == {(0,), (1,)}  # the global token and the locally optimal one
    # the runs that select the optimal token reach p_mm; the others reach the p-SVM of their own selection
    assert all(r["one_minus_corr"] <= 1e-9 for r in runs if r["selected"] == [0])
    assert all(r["counterexample"]["one_minus_corr_to_its_svm"] <= 1e-7 for r in runs if r["selected"] == [1])
    assert {r["selected_is_optimal"] for r in runs} == {True, False}


def test_multi_input_p_mm_support(results):
    ev = next(c for c in results["multi-input"][2]["checks"] if c["id"] == "p-svm")["evidence"]
    assert len(ev["support"]) >= 1
    assert all(t != 0 for _, t in ev["support"])


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "attnsvm", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})


def write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(path)


GOOD = {"X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 0]}


@pytest.mark.parametrize("obj, message", [
    ({**GOOD, "X": [[[1, 0], [0, "nan"]]]}, "X[0][1][1]: cannot parse 'nan'"),
    ('{"X": [[[1, NaN], [0, 1]]], "Y": [1], "v": [1, 0]}', "NaN is not a finite number"),
    ('{"X": [[[1, Infinity], [0, 1]]], "Y": [1], "v": [1, 0]}', "Infinity is not a finite number"),
    ({**GOOD, "X": [[[1, 0], [0]]]}, "ragged array"),
    ({**GOOD, "Y": [2]}, "Y[0]: labels must be -1 or 1"),
    ({**GOOD, "v": [1]}, "v: expected 2 numbers"),
    ({**GOOD, "W": [[1]]}, "W: expected a 2 x 2 matrix"),
    ({**GOOD, "X": [[[1, 0]]]}, "at least 2 tokens"),
    ({**GOOD, "X": [], "Y": []}, "X: empty"),
    ({**GOOD, "loss": "mse"}, "loss: unknown loss 'mse'"),
    ({**GOOD, "model": "lstm"}, "model: unknown model 'lstm'"),
    ({**GOOD, "v": ["1/0", 0]}, "v[0]: cannot parse '1/0'"),
    ("{not json", "not valid JSON"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, obj, message):
    path = write(tmp_path, "bad.json", obj)
    before = open(path).read()
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert open(path).read() == before


def test_usage_errors(tmp_path, capsys):
    for argv, message in [([], "missing command"), (["frobnicate"], "invalid choice"),
                          (["check"], "required"), (["check", "no-such-dataset"], "not a built-in"),
                          (["check", str(tmp_path / "missing.json")], "no such file"),
                          (["check", "multi-input", "--max-iterations", "x"], "invalid int value"),
                          (["check", "multi-input", "--tol", "-1"], "tol: expected a positive number"),
                          (["check", "multi-input", "--json", str(tmp_path / "nodir" / "o.json")], "does not exist")]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, (argv, err)


def test_json_never_overwrites_the_dataset(tmp_path, capsys):
    path = write(tmp_path, "d.json", GOOD)
    assert main(["check", path, "--json", path]) == 2
    assert "refusing to overwrite the dataset file" in capsys.readouterr().err
    assert json.loads(open(path).read()) == GOOD


def test_subprocess_no_traceback(tmp_path):
    path = write(tmp_path, "bad.json", {**GOOD, "Y": [0]})
    proc = run_cli("check", path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_list(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    multi = next(line for line in lines if line.startswith("multi-input"))
    assert "n=3" in multi and "T=7" in multi and "d=3" in multi
