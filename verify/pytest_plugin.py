"""pytest plugin (entry point ``pytest11``): datasets become test items, one per dataset and check.

    pytest --attnsvm multi-input my_data.json        # one item per dataset x check
    pytest --attnsvm my_data.json --attnsvm-allow-inconclusive
    pytest --attnsvm my_data.json --attnsvm-only p-svm,directional-limit   # only these checks (and items)

Items follow the roles of the checks (verify.claims). A claim or an instrument fails its item when its
verdict is ``fails`` (a counterexample, or a float64 error) and, unless ``--attnsvm-allow-inconclusive``
is given, when it is ``inconclusive``; ``not-applicable`` (a premise fails: outside the theory) is a skip.
A premise passes when it holds and is a skip when it fails (the dataset lies outside the theorems that
need it: not a defect of the dataset or of the theory), with the witness in the skip reason; an undecided
premise fails like an inconclusive claim. The failure message holds the summary, the statement and the
evidence.
A dataset that cannot be loaded is a collection error with the one-line reason.

Tests get the ``attnsvm_check`` fixture: ``attnsvm_check(dataset, **options) -> verify.Result``,
cached per dataset and options for the whole process, so every item and test that asks for the
same dataset shares one run of the checks.

>>> cache_key("multi-input", {"tol": 1e-6})
(('builtin', 'multi-input'), (('tol', 1e-06),))
"""
from __future__ import annotations

import json
import os

import pytest

_CACHE: dict = {}
MAX_EVIDENCE_CHARS = 6000


def pytest_addoption(parser):
    group = parser.getgroup("attnsvm", "attention max-margin verification (attnsvm)")
    group.addoption("--attnsvm", nargs="+", action="extend", default=[], metavar="DATASET",
                    help="run every attnsvm check on these datasets (built-in names or .json / .npz files), "
                         "one test item per dataset and check")
    group.addoption("--attnsvm-allow-inconclusive", action="store_true", default=False,
                    help="let attnsvm items whose verdict is 'inconclusive' pass")
    group.addoption("--attnsvm-only", action="append", default=None, metavar="ID[,ID...]",
                    help="run only these attnsvm checks (comma-separated check ids; may be repeated)")


def _only(config) -> tuple | None:
    """The check ids of ``--attnsvm-only`` (validated), or None for every check."""
    values = config.getoption("attnsvm_only", None)
    if not values:
        return None
    from .checks import CHECK_IDS
    from .errors import InputError

    ids = tuple(dict.fromkeys(x.strip() for v in values for x in v.split(",") if x.strip()))
    unknown = [c for c in ids if c not in CHECK_IDS]
    if unknown or not ids:
        raise InputError(f"--attnsvm-only: unknown check {unknown[0] if unknown else ''!r} "
                         f"(checks: {', '.join(CHECK_IDS)})")
    return ids


def _run_options(config) -> dict:
    only = _only(config)
    return {} if only is None else {"only": only}


def cache_key(dataset, options: dict) -> tuple:
    """The cache key of a dataset spec and options: built-in name, file (path, mtime, size) or object."""
    from .builtins import builtin_names
    from .dataset import Dataset

    if isinstance(dataset, Dataset):
        key = ("object", id(dataset))
    else:
        spec = os.fspath(dataset)
        if os.path.exists(spec):
            st = os.stat(spec)
            key = ("file", os.path.realpath(spec), st.st_mtime_ns, st.st_size)
        elif spec in builtin_names():
            key = ("builtin", spec)
        else:
            key = ("spec", spec)
    return key, tuple(sorted(options.items()))


def cached_check(dataset, **options):
    """``verify.check(dataset, **options)``, computed once per dataset and options in this process.

    >>> fast = dict(max_iterations=50, time_budget=1.0, fixed_iterations=50)
    >>> r = cached_check("single-input-global", **fast)
    >>> r is cached_check("single-input-global", **fast)
    True
    """
    from .api import check

    key = cache_key(dataset, options)
    if key not in _CACHE:
        # keep the dataset object alive with its result, so that its id() is never reused for another
        _CACHE[key] = (check(dataset, **options), dataset)
    return _CACHE[key][0]


def cached_checks(datasets, jobs=None, **options) -> list:
    """:func:`cached_check` for several datasets; those not cached yet are checked in parallel
    worker processes (``verify.check_many``), so a session with several datasets waits for the
    slowest one, not for their sum.

    >>> fast = dict(only=None, max_iterations=50, time_budget=1.0, fixed_iterations=50)
    >>> [r.dataset["name"] for r in cached_checks(["single-input-global"], **fast)]
    ['single-input-global']
    """
    from .api import check_many

    missing = {}
    for d in datasets:
        key = cache_key(d, options)
        if key not in _CACHE:
            missing.setdefault(key, d)
    if missing:
        for (key, d), result in zip(missing.items(), check_many(list(missing.values()), jobs, **options)):
            _CACHE[key] = (result, d)
    return [cached_check(d, **options) for d in datasets]


_PREFETCHED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def attnsvm_check():
    """The ``check`` function with caching per dataset: ``attnsvm_check("multi-input")["p-svm"].verdict``."""
    return cached_check


class AttnsvmCheckFailed(Exception):
    """An attnsvm item whose verdict is not acceptable; carries the CheckResult."""

    def __init__(self, check_result, dataset: str):
        super().__init__(f"{dataset}: {check_result.id} {check_result.verdict}")
        self.check_result = check_result
        self.dataset = dataset


def _shorten(obj, limit=12):
    """Evidence for a failure message: long lists cut to their first and last entries."""
    if isinstance(obj, dict):
        return {k: _shorten(v, limit) for k, v in obj.items()}
    if isinstance(obj, list):
        if len(obj) > limit:
            half = limit // 2
            return [_shorten(v, limit) for v in obj[:half]] + [f"... {len(obj) - 2 * half} more ..."] + \
                [_shorten(v, limit) for v in obj[-half:]]
        return [_shorten(v, limit) for v in obj]
    return obj


def failure_message(check_result, dataset: str) -> str:
    """The text of a failing item: dataset, check, verdict, summary, claim and the evidence (JSON)."""
    d = check_result.to_dict()
    text = json.dumps(_shorten(d["evidence"]), indent=1)
    if len(text) > MAX_EVIDENCE_CHARS:
        text = text[:MAX_EVIDENCE_CHARS] + f"\n... ({len(text) - MAX_EVIDENCE_CHARS} more characters)"
    st = d.get("statement") or {}
    where = f"{st.get('paper', '')} {st.get('statement', '')} ({st.get('kind', '')}, {st.get('confidence', '')})" \
        if st else ""
    premises = ", ".join(f"{k} {v}" for k, v in (d.get("premises") or {}).items())
    from .terminal import printable

    lines = [f"attnsvm {d['role']} {d['id']!r} on dataset {dataset!r}: verdict {d['verdict'].upper()}",
             f"summary:   {d['summary']}", f"statement: {where}", f"           {d['claim']}"]
    if premises:
        lines.append(f"premises:  {premises}")
    # every line shown on the terminal escapes control characters (dataset strings may hold them)
    return "\n".join(printable(line) for line in lines + ["evidence:"] + text.split("\n"))


class AttnsvmItem(pytest.Item):
    """One check on one dataset."""

    def __init__(self, *, spec: str, check_id: str, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.check_id = check_id

    def runtest(self):
        from .result import FAILS, INCONCLUSIVE, NOT_APPLICABLE
        from .terminal import printable

        if not self.config.stash.get(_PREFETCHED, False):
            self.config.stash[_PREFETCHED] = True
            specs = list(dict.fromkeys(self.config.getoption("attnsvm")))
            cached_checks(specs, **_run_options(self.config))  # every --attnsvm dataset at once, in parallel
        result = cached_check(self.spec, **_run_options(self.config))
        c = result[self.check_id]
        if c.verdict == NOT_APPLICABLE:
            pytest.skip(printable(f"{self.check_id} not applicable: {c.summary}"))
        if c.role == "premise" and c.verdict == FAILS:
            pytest.skip(printable(f"premise {self.check_id} does not hold for this dataset: {c.summary}"))
        allow = self.config.getoption("attnsvm_allow_inconclusive")
        if c.verdict == FAILS or (c.verdict == INCONCLUSIVE and not allow):
            raise AttnsvmCheckFailed(c, self.spec)

    def repr_failure(self, excinfo, style=None):
        from .terminal import printable

        if isinstance(excinfo.value, AttnsvmCheckFailed):
            return failure_message(excinfo.value.check_result, excinfo.value.dataset)
        from .errors import InputError

        if isinstance(excinfo.value, InputError):
            return printable(f"attnsvm: {excinfo.value}")
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"attnsvm {self.spec} {self.check_id}"


class AttnsvmDataset(pytest.Collector):
    """The items of one dataset: one per check of verify's REGISTRY, in its order."""

    def __init__(self, *, spec: str, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec

    def collect(self):
        from .builtins import load
        from .checks import CHECK_IDS

        load(self.spec)  # a bad dataset is a collection error, reported once
        only = _only(self.config)
        for cid in (CHECK_IDS if only is None else [c for c in CHECK_IDS if c in only]):
            yield AttnsvmItem.from_parent(self, name=cid, spec=self.spec, check_id=cid)

    def repr_failure(self, excinfo):
        from .errors import InputError
        from .terminal import printable

        if isinstance(excinfo.value, InputError):
            return printable(f"attnsvm: {excinfo.value}")
        return super().repr_failure(excinfo)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Add the items of every ``--attnsvm`` dataset (before -k / -m deselection runs)."""
    specs = config.getoption("attnsvm")
    if not specs:
        return
    from _pytest.runner import collect_one_node

    for spec in dict.fromkeys(specs):
        collector = AttnsvmDataset.from_parent(session, name=f"attnsvm[{spec}]", nodeid=f"attnsvm[{spec}]", spec=spec)
        report = collect_one_node(collector)
        config.hook.pytest_collectreport(report=report)  # counts the items, or records the error
        if report.passed:
            items.extend(report.result)
