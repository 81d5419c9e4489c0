"""The command line: ``attnsvm list`` and ``attnsvm check DATASET [--json FILE]``.

Exit status: 0 when every applicable verdict holds, 1 when any fails or is inconclusive, 2 for bad
input or usage (one line ``error: ...`` on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

from .builtins import builtin, builtin_names, load
from .errors import InputError

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
    c.add_argument("--max-iterations", type=int, help="iteration budget of each GD run (default 300000)")
    c.add_argument("--time-budget", type=float, help="seconds per GD run (default 20)")
    c.add_argument("--tol", type=float, help="1 - corr tolerance for directional convergence (default 1e-6)")
    c.add_argument("--method", choices=["normalized", "fixed"], help="GD method (default: the dataset's, else normalized)")
    c.add_argument("--step", type=float, help="GD step (default: the dataset's, else 1)")
    from .sweep_cli import add_parser as add_sweep_parser
    add_sweep_parser(sub)
    return p


def _write_json_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename."""
    target = os.path.abspath(path)
    folder = os.path.dirname(target) or "."
    if not os.path.isdir(folder):
        raise InputError(f"--json {path}: folder {folder} does not exist")
    if os.path.isdir(target):
        raise InputError(f"--json {path}: is a directory")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".attnsvm-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise InputError(f"--json {path}: cannot write: {exc.strerror}") from None


def _format_table(result) -> str:
    ds = result.dataset
    lines = [f"dataset {ds['name']}  (model {ds['model']}, n={ds['n']}, T={ds['T']}, d={ds['d']}, loss {ds['loss']})"]
    width = max(len(c.id) for c in result.checks) + 2
    for c in result.checks:
        lines.append(f"  {c.id:<{width}}{c.verdict:<16}{c.summary}")
    lines.append(f"overall: {'ok' if result.ok else 'NOT OK'}  ({result.seconds:.1f} s)")
    return "\n".join(lines)


def cmd_list(args) -> int:
    for name in builtin_names():
        ds = builtin(name)
        print(f"{name:<22} n={ds.n:<3} T={ds.T:<3} d={ds.d:<3} {ds.description}")
    return EXIT_OK


def cmd_check(args) -> int:
    from .api import check

    ds = load(args.dataset)
    options = {"max_iterations": args.max_iterations, "time_budget": args.time_budget, "tol": args.tol,
               "method": args.method, "step": args.step}
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


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            raise InputError("missing command (use 'attnsvm list' or 'attnsvm check DATASET')")
        from .sweep_cli import cmd_sweep
        return {"list": cmd_list, "check": cmd_check, "sweep": cmd_sweep}[args.command](args)
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
