"""The command line as people use it: --version, --only, "did you mean", output paths checked before any work,
escaped dataset strings, a closed pipe, warnings kept off stderr. Fast: only cheap checks run."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import attnsvm
from attnsvm.verify import api, builtins
from attnsvm.verify.checks import CHECK_IDS
from attnsvm.verify.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = {"name": "tiny", "X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 0]}
HOSTILE_NAME = "a\nb\r\x1b[31mred\x07\u202eevil"


def run_cli(*args, **kw):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "attnsvm", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600, **kw)


def one_error_line(err: str, *fragments) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for f in fragments:
        assert f in err, (f, err)


@pytest.fixture
def no_work(monkeypatch):
    """Any attempt to load a dataset or run a check fails the test: the refusal must come first."""
    def forbidden(*a, **k):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr(builtins, "load", forbidden)
    monkeypatch.setattr(api, "check", forbidden)
    monkeypatch.setattr(api, "check_many", forbidden)


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"attnsvm {attnsvm.__version__}\n"
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert meta["project"]["dynamic"] == ["version"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "attnsvm.__version__"}


def test_only_runs_exactly_the_named_checks(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["check", "single-input-global", "--only", "p-svm,optimal-tokens", "--only", "optimal-tokens",
                 "--json", str(out)])
    assert code in (0, 1)
    doc = json.loads(out.read_text())
    assert [c["id"] for c in doc["checks"]] == [c for c in CHECK_IDS if c in ("p-svm", "optimal-tokens")]
    printed = capsys.readouterr().out
    assert "optimal-tokens" in printed and "directional-limit" not in printed


@pytest.mark.parametrize("argv, fragments", [
    (["check", "multi-inptu"], ["not a built-in dataset", "did you mean 'multi-input'?"]),
    (["check", "tf-svm-locl-7"], ["did you mean 'tf-svm-local-7'?"]),
    (["chek", "multi-input"], ["invalid choice", "did you mean 'check'?"]),
    (["check", "multi-input", "--only", "p-svn"], ["unknown check 'p-svn'", "did you mean 'p-svm'?"]),
    (["check", "multi-input", "--only", "p-svm,,optimal-tokens"], ["--only: empty check id"]),
    (["check", "qqqq-zzzz"], ["not a built-in dataset"]),
])
def test_mistakes_get_one_line_and_a_suggestion(capsys, argv, fragments):
    assert main(argv) == 2
    one_error_line(capsys.readouterr().err, *fragments)


def test_no_suggestion_when_nothing_is_close(capsys):
    assert main(["check", "qqqq-zzzz"]) == 2
    assert "did you mean" not in capsys.readouterr().err


@pytest.mark.parametrize("make, fragment", [
    (lambda d: "", '--json "": empty file name'),
    (lambda d: str(d), "is a folder"),
    (lambda d: str(d / "missing" / "r.json"), "does not exist"),
    (lambda d: str(d / "file.txt" / "r.json"), "file.txt is not a folder"),
])
def test_json_path_is_refused_before_any_work(tmp_path, capsys, no_work, make, fragment):
    (tmp_path / "file.txt").write_text("x")
    assert main(["check", "multi-input", "--json", make(tmp_path)]) == 2
    one_error_line(capsys.readouterr().err, fragment)


def test_json_symlink_onto_the_dataset_is_refused_before_any_work(tmp_path, capsys, no_work):
    data = tmp_path / "d.json"
    data.write_text(json.dumps(TINY))
    link = tmp_path / "out.json"
    link.symlink_to(data)
    assert main(["check", str(data), "--json", str(link)]) == 2
    one_error_line(capsys.readouterr().err, "refusing to overwrite the dataset file")
    assert json.loads(data.read_text()) == TINY


@pytest.mark.parametrize("make, fragment", [
    (lambda d: str(d / "file.txt"), "is a file, not a folder"),
    (lambda d: str(d / "file.txt" / "sub"), "is a file, not a folder"),
    (lambda d: "", "empty folder name"),
])
def test_report_out_is_refused_before_any_work(tmp_path, capsys, no_work, make, fragment):
    (tmp_path / "file.txt").write_text("x")
    assert main(["report", "multi-input", "--out", make(tmp_path)]) == 2
    one_error_line(capsys.readouterr().err, fragment)


def test_json_to_dev_null_keeps_the_device(capsys):
    before = os.stat("/dev/null")
    assert main(["check", "single-input-global", "--only", "optimal-tokens", "--json", "/dev/null"]) == 0
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_hostile_dataset_name_is_escaped_in_every_line(tmp_path, capsys):
    data = tmp_path / "d.json"
    data.write_text(json.dumps(dict(TINY, name=HOSTILE_NAME)))
    assert main(["check", str(data), "--only", "optimal-tokens"]) == 0
    out = capsys.readouterr().out
    for ch in "\x1b\r\x07\u202e":
        assert ch not in out
    assert "a\\nb\\r\\x1b[31mred\\x07\\u202eevil" in out
    assert all(not line.startswith("b") for line in out.splitlines())   # the name's \n broke no line


def test_hostile_name_in_an_error_is_escaped(tmp_path, capsys):
    assert main(["check", str(tmp_path / "\x1b[31mmissing.json")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err
    one_error_line(err)


def test_warnings_outside_the_checks_never_reach_stderr(tmp_path, capsys, monkeypatch):
    import warnings

    real = builtins.load

    def noisy_load(spec):
        warnings.warn("overflow encountered in exp", RuntimeWarning)
        return real(spec)

    monkeypatch.setattr(builtins, "load", noisy_load)
    assert main(["check", "single-input-global", "--only", "optimal-tokens"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "note: RuntimeWarning outside the checks: overflow encountered in exp" in captured.out
    # with an error, the error line is all there is
    monkeypatch.setattr(builtins, "load", lambda spec: (warnings.warn("invalid value", RuntimeWarning),
                                                        real("no-such-dataset")))
    assert main(["check", "x"]) == 2
    one_error_line(capsys.readouterr().err, "not a built-in dataset")


def test_closed_pipe_exits_quietly():
    # the reader is gone before attnsvm writes a byte (as with `attnsvm list | head -0`)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([sys.executable, "-m", "attnsvm", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == "", err


def test_list_through_head_prints_no_traceback():
    proc = subprocess.run(f"{sys.executable} -m attnsvm list | head -1; echo \"status ${{PIPESTATUS[0]}}\"",
                          shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120)
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[1] in ("status 0", "status 141")


def test_list_needs_no_numerical_library():
    code = ("import sys; from attnsvm.verify.cli import main; import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['list'])\n"
            "heavy = sorted(m for m in ('numpy', 'scipy', 'sympy', 'mpmath', 'torch', 'cvxpy', 'matplotlib', 'jinja2')"
            " if m in sys.modules)\nprint(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_catalogue_agrees_with_the_parsed_datasets():
    from attnsvm.verify.builtins import builtin, builtin_families, catalogue

    for e in catalogue():
        if "family" in e:
            fam = next(f for f in builtin_families() if f["family"] == e["family"])
            assert (e["n"], e["T"], e["d"], e["seeds"]) == (fam["n"], fam["T"], fam["d"], fam["seeds"])
        else:
            ds = builtin(e["name"])
            assert (e["n"], e["T"], e["d"], e["description"]) == (ds.n, ds.T, ds.d, ds.description)


def test_json_onto_a_builtin_data_file_is_refused(capsys):
    from attnsvm.verify.builtins import source_file

    path = source_file("builtin:single-input-global")
    before = open(path, "rb").read()
    assert main(["check", "single-input-global", "--only", "optimal-tokens", "--json", path]) == 2
    one_error_line(capsys.readouterr().err, "refusing to overwrite the dataset file")
    assert open(path, "rb").read() == before


def test_warnings_never_reach_stderr_of_the_process():
    # outside pytest (which captures warnings itself): a RuntimeWarning while loading must not print
    code = ("import sys, warnings\nfrom attnsvm.verify import builtins\nfrom attnsvm.verify.cli import main\n"
            "real = builtins.load\n"
            "def noisy(spec):\n    import numpy as np\n    np.exp(np.array([1000.0]))\n    return real(spec)\n"
            "builtins.load = noisy\n"
            "sys.exit(main(['check', 'single-input-global', '--only', 'optimal-tokens']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "note: RuntimeWarning outside the checks: overflow encountered in exp" in proc.stdout
