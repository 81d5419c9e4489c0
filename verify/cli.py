"""The command line: ``attnsvm list``, ``attnsvm check DATASET [--json FILE]`` and
``attnsvm report [DATASET ...] --out DIR``.

Exit status: 0 when nothing is contradicted or undecided (the dataset is consistent with the theory, or outside
it), 1 when a claim fails (a counterexample) or a claim or instrument is undecided, 2 for bad input or usage
(one line ``error: ...`` on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import os
import sys

from .builtins import builtin, builtin_families, builtin_names, load
from .errors import InputError
from .files import write_atomically

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        raise InputError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="attnsvm", description="Verify attention max-margin token selection on datasets.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("list", help="list the built-in datasets")
    c = sub.add_parser("check", help="run every check on a dataset")
    c.add_argument("dataset", help="a built-in name or a .json / .npz file")
    c.add_argument("--json", metavar="FILE", help="write the machine-readable result to FILE")
    _add_check_options(c)
    r = sub.add_parser("report", help="HTML pages, plots and JSON results for datasets (default: all built-ins)")
    r.add_argument("datasets", nargs="*", metavar="DATASET", help="built-in names or .json / .npz files")
    r.add_argument("--out", metavar="DIR", required=True, help="folder for index.html, one page and JSON per dataset")
    _add_check_options(r)
    r.add_argument("--jobs", type=int, metavar="N",
                   help="datasets checked in parallel processes (default: one per CPU core, at most one per dataset)")
    from .sweep_cli import add_parser as add_sweep_parser
    add_sweep_parser(sub)
    from .textbook import add_parser as add_textbook_parser
    add_textbook_parser(sub)
    return p


def _add_check_options(p) -> None:
    p.add_argument("--max-iterations", type=int, metavar="N",
                   help="normalised GD runs in rounds of 2000, 8000, ... iterations up to N (default 32000)")
    p.add_argument("--time-budget", type=float, metavar="S",
                   help="optional wall-clock cap in seconds per batch of GD runs (default: none, so results are "
                        "deterministic); a cut is reported")
    p.add_argument("--tol", type=float, help="1 - corr below which a direction counts as converged (default 1e-6)")
    p.add_argument("--step", type=float, help="nominal step of normalised GD (default: the dataset's, else 1)")
    p.add_argument("--fixed-step", type=float,
                   help="step of the theorems' fixed-step GD (default: the dataset's; always capped at 1/L)")
    p.add_argument("--normalization", choices=("joint", "per-factor"),
                   help="(K, Q) GD: normalise the joint gradient (default) or each factor's (the authors')")
    p.add_argument("--ridge", type=float, metavar="LAMBDA",
                   help="(K, Q) GD: add LAMBDA (||K||^2 + ||Q||^2) to the loss (default 0; the authors use 2.2e-16)")
    p.add_argument("--selected-threshold", type=float, metavar="TAU",
                   help="svm-equivalence: token t is selected when s_it >= TAU (default 1e-3, the authors')")


def _check_options(args) -> dict:
    return {"max_iterations": args.max_iterations, "time_budget": args.time_budget, "tol": args.tol,
            "step": args.step, "fixed_step": args.fixed_step, "kq_normalization": args.normalization,
            "kq_ridge": args.ridge, "selected_threshold": args.selected_threshold}


def _write_json_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename."""
    target = os.path.abspath(path)
    folder = os.path.dirname(target) or "."
    if not os.path.isdir(folder):
        raise InputError(f"--json {path}: folder {folder} does not exist")
    if os.path.isdir(target):
        raise InputError(f"--json {path}: is a directory")
    try:
        write_atomically(target, text)
    except OSError as exc:
        raise InputError(f"--json {path}: cannot write: {exc.strerror}") from None


ROLE_TITLES = (("premise", "premises (hypotheses of the theorems)"), ("claim", "claims (conclusions, given their premises)"),
               ("instrument", "instruments (the toolkit's numerical self-checks)"))


def _format_table(result) -> str:
    ds = result.dataset
    lines = [f"dataset {ds['name']}  (model {ds['model']}, n={ds['n']}, T={ds['T']}, d={ds['d']}, loss {ds['loss']})"]
    width = max(len(c.id) for c in result.checks) + 2
    for role, title in ROLE_TITLES:
        rows = result.by_role(role)
        if not rows:
            continue
        lines.append(f" {title}")
        for c in rows:
            lines.append(f"  {c.id:<{width}}{c.verdict:<16}{c.summary}")
    lines.append(f"verdict: {result.status}  ({result.seconds:.1f} s)")
    return "\n".join(lines)


def _verdict_counts(result) -> str:
    """'5 claims hold, 3 not-applicable' and the ids of the claims and instruments that fail or are undecided."""
    from .result import VERDICTS

    claims = result.by_role("claim")
    counts = [f"{sum(c.verdict == v for c in claims)} {v}" for v in VERDICTS if any(c.verdict == v for c in claims)]
    odd = [f"{c.id} {c.verdict}" for c in result.checks
           if c.role != "premise" and c.verdict in ("fails", "inconclusive")]
    return "claims: " + ", ".join(counts) + (f"  ({'; '.join(odd)})" if odd else "")


def cmd_list(args) -> int:
    for name in builtin_names():
        ds = builtin(name)
        print(f"{name:<22} n={ds.n:<3} T={ds.T:<3} d={ds.d:<3} {ds.description}")
    for fam in builtin_families():
        seeds = f"seeds {fam['seeds'][0]}-{fam['seeds'][1]}"
        print(f"{fam['pattern']:<22} n={fam['n']:<3} T={fam['T']:<3} d={fam['d']:<3} {seeds}: {fam['description']}")
    return EXIT_OK


def cmd_check(args) -> int:
    from .api import check

    ds = load(args.dataset)
    options = _check_options(args)
    if args.json:
        target = os.path.abspath(args.json)
        if os.path.isfile(ds.source) and os.path.exists(target) and os.path.samefile(ds.source, target):
            raise InputError(f"--json {args.json}: refusing to overwrite the dataset file")
        if not os.path.isdir(os.path.dirname(target)):
            raise InputError(f"--json {args.json}: folder {os.path.dirname(target)} does not exist")
    result = check(ds, **options)
    print(_format_table(result))
    if args.json:
        _write_json_atomically(args.json, result.to_json() + "\n")
    return EXIT_OK if result.ok else EXIT_FAIL


class _Progress:
    """One status line on stderr, rewritten in place; silent when stderr is not a terminal."""

    def __init__(self, total: int):
        self.total = total
        self.enabled = sys.stderr.isatty()
        self.width = 0

    def show(self, k: int, name: str, step: str) -> None:
        if self.enabled:
            line = f"[{k}/{self.total}] {name[:40]}: {step}"
            sys.stderr.write("\r" + line.ljust(self.width))
            sys.stderr.flush()
            self.width = len(line)

    def done(self) -> None:
        if self.enabled and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def cmd_report(args) -> int:
    import shlex

    from attnsvm.reports import ReportError, check_out_dir, safe_names, write_report

    from .api import check_many

    specs = args.datasets or builtin_names()
    datasets = [load(spec) for spec in specs]
    out = args.out
    options = _check_options(args)
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs: expected a positive integer, got {args.jobs}")
    jobs = args.jobs if args.jobs is not None else min(len(datasets), os.cpu_count() or 1)
    try:
        check_out_dir(out, safe_names(ds.name for ds in datasets))
        progress = _Progress(len(datasets) + 1)
        try:
            if jobs > 1 and len(datasets) > 1:
                progress.show(0, f"{len(datasets)} datasets", f"checking in {min(jobs, len(datasets))} processes")
            results = check_many(datasets, jobs, progress=lambda k, ds, step: progress.show(k, ds.name, step),
                                 **options)
            entries = list(zip(results, datasets))
            progress.show(len(datasets) + 1, "report", "writing pages")
            command = "attnsvm " + " ".join(shlex.quote(a) for a in (args.argv or []))
            paths = write_report(entries, out, command=command)
        finally:
            progress.done()
    except ReportError as exc:
        raise InputError(str(exc)) from None
    for result, _ in entries:
        print(f"{result.dataset['name']:<24} {result.status:<27} {_verdict_counts(result)}")
    print(f"wrote {paths[0]} and {len(paths) - 1} more file(s)")
    return EXIT_OK if all(r.ok for r, _ in entries) else EXIT_FAIL


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            raise InputError("missing command (use 'attnsvm list' or 'attnsvm check DATASET')")
        args.argv = list(sys.argv[1:] if argv is None else argv)
        from .sweep_cli import cmd_sweep
        from .textbook import cmd_textbook
        return {"list": cmd_list, "check": cmd_check, "report": cmd_report, "sweep": cmd_sweep,
                "textbook": cmd_textbook}[args.command](args)
    except InputError as exc:
        msg = " ".join(str(exc).split())
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
