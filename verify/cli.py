"""The command line: ``attnsvm list``, ``attnsvm check DATASET [--json FILE] [--only ID,...]``,
``attnsvm report [DATASET ...] --out DIR`` and ``attnsvm sweep``.

Exit status: 0 when nothing is contradicted or undecided (the dataset is consistent with the theory, or outside
it), 1 when a claim fails (a counterexample) or a claim or instrument is undecided, 2 for bad input or usage
(one line ``error: ...`` on stderr, no traceback), 130 on Ctrl-C and 143 on SIGTERM (workers stopped, no
half-written file), 141 when stdout is a closed pipe (``attnsvm list | head -3``: nothing more is printed).

Start-up stays light: this module imports only the standard library and the dataset loader; the numerical
libraries are imported by the commands that compute (``bench/startup.py`` measures it). Every line written to
the terminal goes through :func:`verify.terminal.printable`, so dataset-provided strings cannot inject
control sequences. Output paths are checked before any work starts.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings

from .errors import InputError
from .terminal import Progress, printable, write_lines

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_PIPE, EXIT_TERMINATED = 130, 141, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the same clean-up as for Ctrl-C runs."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        import re

        bad = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if bad:
            message += _did_you_mean(bad.group(1), re.findall(r"'([^']*)'", bad.group(2)))
        raise InputError(message)


def _version() -> str:
    from attnsvm import __version__

    return f"attnsvm {__version__}"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="attnsvm", description="Verify attention max-margin token selection on datasets.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("list", help="list the built-in datasets")
    c = sub.add_parser("check", help="run every check on a dataset")
    c.add_argument("dataset", help="a built-in name or a .json / .npz file")
    c.add_argument("--json", metavar="FILE", help="write the machine-readable result to FILE")
    c.add_argument("--only", metavar="ID[,ID...]", action="append",
                   help="run only these checks (comma-separated check ids; may be repeated)")
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
                   help="normalised GD runs in rounds of 1000, 2000, 4000, ... iterations up to N (default 32000)")
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
    p.add_argument("--max-memory", metavar="SIZE",
                   help="memory limit, e.g. 4G or 512M (default: half the machine's memory); a check that would "
                        "need more says inconclusive; with report --jobs N each process gets 1/N of it")


def _check_options(args) -> dict:
    return {"max_iterations": args.max_iterations, "time_budget": args.time_budget, "tol": args.tol,
            "step": args.step, "fixed_step": args.fixed_step, "kq_normalization": args.normalization,
            "kq_ridge": args.ridge, "selected_threshold": args.selected_threshold}


def _did_you_mean(word: str, choices) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _only(values) -> list | None:
    """The check ids of ``--only`` (comma-separated, repeatable), validated against the registry."""
    if values is None:
        return None
    ids = [x.strip() for v in values for x in v.split(",")]
    if not all(ids):
        raise InputError("--only: empty check id (give ids separated by commas, e.g. --only p-svm,optimal-tokens)")
    from .checks import CHECK_IDS

    for cid in ids:
        if cid not in CHECK_IDS:
            raise InputError(f"--only: unknown check {cid!r}{_did_you_mean(cid, CHECK_IDS)} "
                             f"(checks: {', '.join(CHECK_IDS)})")
    return list(dict.fromkeys(ids))


def _protected(specs) -> list:
    """The dataset files among ``specs`` (never written by --json)."""
    return [s for s in specs if isinstance(s, str) and s and os.path.exists(s)]


def validate_output_file(path, option: str, protect=()) -> None:
    """Raise InputError unless ``path`` can be written as an output file (see verify.files.output_kind)."""
    from .files import OutputPathError, output_kind

    if path is None:
        return
    try:
        output_kind(path, protect)
    except OutputPathError as exc:
        shown = path if path else '""'
        raise InputError(f"{option} {shown}: {exc.strerror}") from None


def validate_output_folder(path: str, option: str) -> None:
    """Raise InputError unless ``path`` is a folder, or can be created (its nearest existing ancestor is a
    writable folder)."""
    if not path:
        raise InputError(f'{option} "": empty folder name')
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise InputError(f"{option} {path}: is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"{option} {path}: the folder is not writable")
        return
    ancestor = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise InputError(f"{option} {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: cannot create it ({ancestor} is not writable)")


def _write_output(path: str, text: str, option: str, protect=()) -> None:
    from .files import write_atomically

    try:
        write_atomically(path, text, protect=protect)
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write: {exc.strerror}") from None


ROLE_TITLES = (("premise", "premises (hypotheses of the theorems)"), ("claim", "claims (conclusions, given their premises)"),
               ("instrument", "instruments (the toolkit's numerical self-checks)"))


def _format_table(result) -> list:
    ds = result.dataset
    lines = [f"dataset {ds['name']}  (model {ds['model']}, n={ds['n']}, T={ds['T']}, d={ds['d']}, loss {ds['loss']})"]
    width = max((len(c.id) for c in result.checks), default=10) + 2
    for role, title in ROLE_TITLES:
        rows = result.by_role(role)
        if not rows:
            continue
        lines.append(f" {title}")
        for c in rows:
            lines.append(f"  {c.id:<{width}}{c.verdict:<16}{c.summary}")
    lines.append(f"verdict: {result.status}  ({result.seconds:.1f} s)")
    return lines


def _verdict_counts(result) -> str:
    """'5 claims hold, 3 not-applicable' and the ids of the claims and instruments that fail or are undecided."""
    from .result import VERDICTS

    claims = result.by_role("claim")
    counts = [f"{sum(c.verdict == v for c in claims)} {v}" for v in VERDICTS if any(c.verdict == v for c in claims)]
    odd = [f"{c.id} {c.verdict}" for c in result.checks
           if c.role != "premise" and c.verdict in ("fails", "inconclusive")]
    return "claims: " + ", ".join(counts) + (f"  ({'; '.join(odd)})" if odd else "")


def cmd_list(args) -> int:
    from .builtins import catalogue

    lines = []
    for e in catalogue():
        what = f"seeds {e['seeds'][0]}-{e['seeds'][1]}: {e['description']}" if "seeds" in e else e["description"]
        lines.append(f"{e['name']:<22} n={e['n']:<3} T={e['T']:<3} d={e['d']:<3} {what}")
    write_lines(lines)
    return EXIT_OK


def _memory_limit(args, processes: int = 1, datasets=None) -> None:
    """Enforce ``--max-memory`` (default half the machine's memory) in this process and the workers it starts
    (verify.memory), shared by ``processes`` processes.

    An allocation failing inside a C++/Rust library while it loads aborts the process, so under an explicit
    ``--max-memory`` the libraries the checks of ``datasets`` use are loaded first and counted against it (torch
    only where some dataset's runs take it, verify.precision_runs.torch_used; ``datasets`` None: not loaded yet,
    this is called again once they are). Under the default limit they load on first use: they need a few hundred
    MB, far below half the machine, and a small prompt dataset never pays for torch and cvxpy (3-4 s)."""
    from . import memory

    explicit = args.max_memory is not None
    limit = memory.parse_size(args.max_memory) if explicit else memory.default_limit()
    if limit is None:
        return
    limit = limit // max(processes, 1)
    memory.lift()
    memory.load_libraries(cvxpy=explicit, torch=explicit and _torch_used(args, datasets or []))
    floor = memory.startup_need()
    if limit < floor:
        per = f" per process ({processes} processes)" if processes > 1 else ""
        raise InputError(f"--max-memory: {memory.format_bytes(limit)}{per} is less than the "
                         f"{memory.format_bytes(floor)} the program needs once its libraries are loaded")
    memory.apply(limit)


def _torch_used(args, datasets) -> bool:
    """Whether the checks of some of ``datasets`` with the command's options run on torch
    (verify.precision_runs.torch_used)."""
    from .context import resolve_options
    from .precision_runs import torch_used

    options = _check_options(args)
    return any(torch_used(ds, resolve_options(ds, options)["random_inits"]) for ds in datasets)


def cmd_check(args) -> int:
    _memory_limit(args)
    protect = _protected([args.dataset])
    validate_output_file(args.json, "--json", protect)
    from .builtins import load

    from .builtins import source_file

    ds = load(args.dataset)
    _memory_limit(args, datasets=[ds])
    protect = _protected([args.dataset, source_file(ds.source)])
    validate_output_file(args.json, "--json", protect)
    only = _only(args.only)
    options = _check_options(args)
    from .api import check
    from .checks import CHECK_IDS

    ids = only if only is not None else CHECK_IDS
    with Progress(len(ids)) as progress:
        started = []

        def step(cid):
            progress.show(len(started), ds.name, cid)
            started.append(cid)

        result = check(ds, only=only, progress=step, **options)
    write_lines(_format_table(result))
    if args.json is not None:
        _write_output(args.json, result.to_json() + "\n", "--json", protect)
    return EXIT_OK if result.ok else EXIT_FAIL


def cmd_report(args) -> int:
    import shlex

    from .builtins import builtin_names, load

    out = args.out
    validate_output_folder(out, "--out")
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs: expected a positive integer, got {args.jobs}")
    _memory_limit(args)
    specs = args.datasets or builtin_names()
    datasets = [load(spec) for spec in specs]
    options = _check_options(args)
    jobs = args.jobs if args.jobs is not None else min(len(datasets), os.cpu_count() or 1)
    _memory_limit(args, min(jobs, len(datasets)), datasets)

    from attnsvm.reports import ReportError, check_out_dir, safe_names, write_report
    from attnsvm.reports.build import PageRenderer

    from .api import check_many

    try:
        stems = safe_names(ds.name for ds in datasets)
        check_out_dir(out, stems)
        command = "attnsvm " + " ".join(shlex.quote(a) for a in (args.argv or []))
        with Progress(len(datasets) + 1) as progress:
            finished = set()

            def step(k, ds, what):
                if what == "done":
                    finished.add(k)
                progress.show(len(finished), ds.name, "checked" if what == "done" else what)

            # each dataset's page is rendered in the worker that checked it, in parallel
            done = check_many(datasets, jobs, progress=step, then=PageRenderer(stems, command), **options)
            entries = [(result, ds) for (result, _), ds in zip(done, datasets)]
            progress.show(len(datasets), "report", "writing the files")
            paths = write_report(entries, out, command=command, pages=[page for _, page in done])
    except ReportError as exc:
        raise InputError(str(exc)) from None
    lines = [f"{result.dataset['name']:<24} {result.status:<27} {_verdict_counts(result)}" for result, _ in entries]
    lines.append(f"wrote {paths[0]} and {len(paths) - 1} more file(s)")
    write_lines(lines)
    return EXIT_OK if all(r.ok for r, _ in entries) else EXIT_FAIL


def _on_sigterm(signum, frame):
    raise Terminated()


def _warning_notes(caught) -> list:
    """One line per distinct warning caught outside the checks (the checks record theirs in the evidence)."""
    seen = []
    for w in caught:
        text = f"note: {w.category.__name__} outside the checks: {w.message} ({os.path.basename(w.filename)}:{w.lineno})"
        if text not in seen:
            seen.append(text)
    return seen[:10]


def main(argv=None) -> int:
    """Run one command; return the exit status (never raises for bad input, Ctrl-C or SIGTERM).

    Warnings raised outside the checks (numpy's RuntimeWarnings while loading, say) never reach stderr:
    after a successful command they become ``note:`` lines on stdout; with an ``error:`` they are dropped
    (the error says what was wrong)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    # Ctrl-C raises KeyboardInterrupt while the command runs, whatever disposition the caller left (a library or a
    # parent may have set SIGINT to be ignored; the command's own "error: interrupted" must not depend on it)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler) if in_main_thread else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                args = _parser().parse_args(argv)
                if args.command is None:
                    raise InputError("missing command (use 'attnsvm list' or 'attnsvm check DATASET'; "
                                     "'attnsvm --help' lists them)")
                args.argv = list(sys.argv[1:] if argv is None else argv)
                if args.command == "sweep":
                    from .sweep_cli import cmd_sweep

                    code = cmd_sweep(args)
                elif args.command == "textbook":
                    from .textbook import cmd_textbook

                    code = cmd_textbook(args)
                else:
                    code = {"list": cmd_list, "check": cmd_check, "report": cmd_report}[args.command](args)
            except InputError as exc:
                msg = " ".join(str(exc).split())
                print(f"error: {printable(msg)}", file=sys.stderr)
                return EXIT_USAGE
            except Terminated:
                print("error: terminated (SIGTERM)", file=sys.stderr)
                return EXIT_TERMINATED
            except MemoryError as exc:
                from . import memory

                limit = memory.current_limit()
                within = f"the memory limit {memory.format_bytes(limit)} (--max-memory)" if limit else "memory"
                detail = " ".join(str(exc).split())[:160]
                print(f"error: out of {within}" + (f": {printable(detail)}" if detail else ""), file=sys.stderr)
                return EXIT_USAGE
            except KeyboardInterrupt:
                print("error: interrupted", file=sys.stderr)
                return EXIT_INTERRUPTED
        notes = _warning_notes(caught)
        if notes:
            write_lines(notes)
        return code
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)


def _quiet_broken_pipe() -> int:
    """stdout was closed by its reader: point it at /dev/null so that the interpreter's final flush
    stays quiet, and exit like a process killed by SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_PIPE


def _fast_exit(code: int) -> None:
    """Exit without the interpreter's teardown of every imported module (seconds once torch, sympy and cvxpy
    are loaded, and what made Ctrl-C slow): run the atexit handlers (multiprocessing's clean-up among them),
    flush the streams, then ``os._exit``. Every file this command writes is closed before this point."""
    import atexit

    try:
        atexit._run_exitfuncs()
    except Exception:  # noqa: BLE001 - a handler's failure must not turn into a traceback at exit
        pass
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = _quiet_broken_pipe()
    except (OSError, ValueError):
        pass
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def entry() -> None:
    """The console script: :func:`main`, then a fast exit with its status."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        code = _quiet_broken_pipe()
    _fast_exit(code)


if __name__ == "__main__":
    entry()
