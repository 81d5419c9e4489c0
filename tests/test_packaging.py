"""The package as a user installs it: the wheel holds one top-level name, ``attnsvm``; installed into a fresh
virtual environment outside the repository, it imports, its command line checks a built-in dataset, and its
pytest plugin runs there.

The dependencies are not downloaded again: the fresh environment sees the ones this interpreter already has
through a ``.pth`` file (appended after its own site-packages, so the wheel's ``attnsvm`` comes first, and a
path line in a ``.pth`` never activates the editable install that may live there). Every command runs from a
folder outside the repository with ``PYTHONPATH`` unset, and the test asserts that what ran was loaded from
the fresh environment. Skipped only when a wheel cannot be built here (no setuptools >= 70.1 with its
built-in ``bdist_wheel``, or no pip that can install into another environment), with the reason.
"""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _build_blocker() -> str | None:
    """Why a wheel cannot be built in this environment without network, or None."""
    try:
        import setuptools
    except ImportError:
        return "setuptools is not installed (pip install 'attnsvm[test]')"
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    if (major, minor) < (70, 1):
        return f"setuptools {setuptools.__version__} < 70.1 has no built-in bdist_wheel (pip install 'attnsvm[test]')"
    try:
        import pip
    except ImportError:
        return "pip is not installed"
    if tuple(int(x) for x in pip.__version__.split(".")[:2]) < (22, 3):
        return f"pip {pip.__version__} cannot install into another environment (--python needs pip >= 22.3)"
    return None


BLOCKER = _build_blocker()
pytestmark = pytest.mark.skipif(BLOCKER is not None, reason=f"cannot build a wheel here: {BLOCKER}")


def _source_copy(dest: Path) -> Path:
    """The files the wheel is built from (pyproject.toml, README, the mapped package folders), copied, so the
    build never writes into the repository."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    src = dest / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in sorted(set(meta["tool"]["setuptools"]["package-dir"].values())):
        shutil.copytree(REPO / folder, src / folder, ignore=ignore)
    return src


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PYTHONNOUSERSITE="1", **extra)
    return env


def _run(args, cwd, timeout=300, **env):
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=_clean_env(**env))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel path, fresh venv folder, a working folder outside the repository)."""
    root = tmp_path_factory.mktemp("packaging")
    assert REPO not in root.parents
    src = _source_copy(root)
    wheels = root / "wheels"
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                 "--disable-pip-version-check", "-q", "-w", wheels, src], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = wheels.glob("attnsvm-*.whl")
    venv = root / "venv"
    proc = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    assert proc.returncode == 0, proc.stderr
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True, env=_clean_env()).stdout.strip())
    # the dependencies: every site folder this interpreter sees, after the fresh environment's own
    here = list(dict.fromkeys([*site.getsitepackages(), sysconfig.get_path("purelib"),
                               *[p for p in sys.path if p.endswith("site-packages")]]))
    (purelib / "_attnsvm_test_deps.pth").write_text("".join(f"{p}\n" for p in here if os.path.isdir(p)))
    proc = _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
                 "--disable-pip-version-check", "-q", wheel], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    work = root / "work"
    work.mkdir()
    return wheel, venv, work


def test_wheel_installs_one_top_level_name(installed):
    wheel, _, _ = installed
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD"))
        record = zf.read(f"{dist_info}/RECORD").decode()
        top_level = zf.read(f"{dist_info}/top_level.txt").decode().split() \
            if f"{dist_info}/top_level.txt" in names else None
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    recorded = [line.split(",")[0] for line in record.splitlines() if line]
    tops = {p.split("/")[0] for p in recorded}
    assert tops == {"attnsvm", dist_info}, tops
    if top_level is not None:
        assert top_level == ["attnsvm"]
    # the four subpackages, the check modules, the data files and the templates are all inside attnsvm/
    for path in ("attnsvm/__init__.py", "attnsvm/verify/cli.py", "attnsvm/numeric/gd.py", "attnsvm/symbolic/kkt.py",
                 "attnsvm/reports/build.py", "attnsvm/verify/checks/p_svm.py", "attnsvm/verify/data/multi-input.json",
                 "attnsvm/verify/data/tf-svm-local.npz", "attnsvm/reports/templates/dataset.html"):
        assert path in recorded, path
    assert "attnsvm = attnsvm.verify.cli:entry" in entry_points
    assert "attnsvm = attnsvm.verify.pytest_plugin" in entry_points


def test_installed_package_imports_from_the_fresh_environment(installed):
    _, venv, work = installed
    code = ("import attnsvm, attnsvm.verify.cli, importlib.metadata as m, sys; "
            "print(attnsvm.__file__); print(attnsvm.__version__); print(m.version('attnsvm')); "
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('verify', 'numeric', 'symbolic', 'reports')))")
    proc = _run([venv / "bin" / "python", "-c", code], cwd=work)
    assert proc.returncode == 0, proc.stderr
    where, version, dist_version, stray = proc.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where
    assert version == dist_version
    assert stray == "[]"


def test_installed_cli_checks_a_builtin(installed):
    _, venv, work = installed
    exe = venv / "bin" / "attnsvm"
    proc = _run([exe, "--version"], cwd=work)
    assert proc.returncode == 0 and proc.stdout.startswith("attnsvm "), proc.stderr
    proc = _run([exe, "check", "multi-input", "--only", "optimal-tokens,p-svm", "--json", work / "r.json"], cwd=work)
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr == ""
    assert "optimal-tokens" in proc.stdout and "p-svm" in proc.stdout and "holds" in proc.stdout
    assert (work / "r.json").read_text().startswith('{\n "schema": "attnsvm.check/')
    proc = _run([venv / "bin" / "python", "-m", "attnsvm", "list"], cwd=work)
    assert proc.returncode == 0 and "multi-input" in proc.stdout, proc.stderr


def test_installed_pytest_plugin_runs(installed):
    _, venv, work = installed
    tests = work / "plugin"
    tests.mkdir()
    # proves where the plugin came from: the fresh environment, not the repository
    (tests / "test_where.py").write_text(
        "import sys\nfrom pathlib import Path\n\n"
        "def test_plugin_comes_from_the_wheel():\n"
        "    mod = sys.modules['attnsvm.verify.pytest_plugin']\n"
        f"    assert Path(mod.__file__).resolve().is_relative_to(Path({str(venv.resolve())!r}))\n")
    proc = _run([venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tests, tests,
                 "--attnsvm", "single-input-global", "--attnsvm-only", "optimal-tokens,p-svm"], cwd=tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout, proc.stdout
