"""The docstring examples of every module of the installed package, run as tests (one item per module)."""
import doctest
import importlib
import pkgutil

import pytest

import attnsvm

SUBPACKAGES = ("attnsvm", "attnsvm.symbolic", "attnsvm.numeric", "attnsvm.verify", "attnsvm.verify.checks",
               "attnsvm.reports")


def _modules() -> list:
    names = []
    for pkg_name in SUBPACKAGES:
        pkg = importlib.import_module(pkg_name)
        names.append(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__, pkg_name + "."):
            if not info.ispkg and not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(set(names))


def test_every_subpackage_is_walked():
    mods = _modules()
    assert "attnsvm.verify.api" in mods and "attnsvm.numeric.gd" in mods and "attnsvm.verify.checks.p_svm" in mods


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(module, name, globs=vars(module).copy())
    out = []
    for t in tests:
        runner.run(t, out=out.append)
    assert runner.failures == 0, "".join(out)
