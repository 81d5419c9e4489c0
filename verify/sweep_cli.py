"""The command line of ``attnsvm sweep``: options, the printed table, DIR/sweep.json and DIR/sweep.html.

The sweep itself is :func:`verify.sweep.sweep`; the page is :func:`reports.sweep_page.render_sweep_page`.
"""
from __future__ import annotations

from .errors import InputError
from .terminal import write_lines


def add_parser(sub) -> None:
    """The ``sweep`` subcommand's options."""
    s = sub.add_parser("sweep", help="sweep a random family of datasets over a grid of sizes")
    s.add_argument("--n", default="3", help="sequences per dataset, comma-separated (default 3)")
    s.add_argument("--T", default="4", help="tokens per sequence, comma-separated (default 4)")
    s.add_argument("--d", default="2,4,6,8,10", help="dimensions, comma-separated (default 2,4,6,8,10)")
    s.add_argument("--seeds", type=int, default=200, help="datasets per grid point (default 200)")
    s.add_argument("--inits", type=int, default=5, help="GD runs per dataset: p = 0 and inits - 1 random (default 5)")
    s.add_argument("--init-radius", type=float, default=2.0, help="norm of the random inits (default 2)")
    s.add_argument("--iterations", type=int, default=2000, help="normalised GD steps per run (default 2000)")
    s.add_argument("--seed", type=int, default=0, help="base seed of the family (default 0)")
    s.add_argument("--out", required=True, metavar="DIR", help="folder for sweep.json and sweep.html")
    s.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address: run grid points on that cluster")
    s.add_argument("--device", choices=["cpu", "cuda"], help="torch device (default: cuda when present)")
    s.add_argument("--model", choices=["p", "W", "KQ"], default="p",
                   help="p: the prompt model (default); W or KQ: cross-attention trained as W or as W = K Q^T")
    s.add_argument("--no-ranks", action="store_true", help="W, KQ: skip the certified ranks of the W-SVMs")


def _write_atomically(path: str, text: str) -> None:
    from .files import write_atomically

    try:
        write_atomically(path, text)
    except OSError as exc:
        raise InputError(f"--out: cannot write {path}: {exc.strerror}") from None


def format_table(table: dict) -> str:
    """The table as text, one line per grid point."""
    from .sweep import CLASSES

    head = f"{'n':>3} {'T':>3} {'d':>4} {'feasible':>9} " + " ".join(f"{c:>9}" for c in CLASSES) + \
        f" {'opt(p=0)':>9} {'seconds':>8}"
    lines = [head]
    for r in table["rows"]:
        lines.append(f"{r['n']:>3} {r['T']:>3} {r['d']:>4} {r['feasible_optimal']:>9.3f} " +
                     " ".join(f"{r['fractions'][c]:>9.3f}" for c in CLASSES) +
                     f" {r['fractions_from_zero']['optimal']:>9.3f} {r['seconds']:>8.1f}")
    ranked = [r for r in table["rows"] if r.get("ranks")]
    if ranked:
        lines.append("ranks of the W-SVMs of the optimal tokens (mean): certified | matrix_rank(tol=1e-7) on the raw "
                     "solver output; infeasible instances excluded")
        for r in ranked:
            rk = r["ranks"]
            f, nu = rk["frobenius"], rk["nuclear"]
            fmt = (lambda x: "-" if x is None else f"{x:.2f}")
            lines.append(f"{r['n']:>3} {r['T']:>3} {r['d']:>4}  Frobenius {fmt(f['certified_mean'])} | "
                         f"{fmt(f['absolute_1e-7_mean'])}   nuclear {fmt(nu['certified_mean'])} | "
                         f"{fmt(nu['absolute_1e-7_mean'])}   infeasible {rk['infeasible']}/{rk['instances']}, "
                         f"undetermined {f['undetermined']} / {nu['undetermined']}")
    lines.append(f"{sum(r['datasets'] for r in table['rows'])} datasets, "
                 f"{sum(r['runs'] for r in table['rows'])} runs in {table['seconds']:.1f} s ({table['where']})")
    return "\n".join(lines)


def cmd_sweep(args) -> int:
    """Run the sweep, print the table, write DIR/sweep.json and DIR/sweep.html."""
    import json
    import os

    import torch

    from .sweep import parse_int_list, sweep

    ns = parse_int_list(args.n, "--n")
    Ts = parse_int_list(args.T, "--T", minimum=2)
    ds = parse_int_list(args.d, "--d")
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"--out {args.out}: exists and is not a folder")
    if not os.path.isdir(os.path.dirname(out)):
        raise InputError(f"--out {args.out}: parent folder {os.path.dirname(out)} does not exist")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no GPU is available")
    if args.scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise InputError("--scheduler needs dask.distributed, which is not installed "
                             "(pip install 'attnsvm[dist]')") from None
    table = sweep(ns, Ts, ds, args.seeds, inits=args.inits, init_radius=args.init_radius,
                  iterations=args.iterations, base_seed=args.seed, scheduler=args.scheduler, device=args.device,
                  model=args.model, ranks=not args.no_ranks)
    from attnsvm.reports.sweep_page import render_sweep_page

    os.makedirs(out, exist_ok=True)
    _write_atomically(os.path.join(out, "sweep.json"), json.dumps(table, indent=1) + "\n")
    _write_atomically(os.path.join(out, "sweep.html"), render_sweep_page(table))
    write_lines(format_table(table).split("\n") +
                [f"wrote {os.path.join(out, 'sweep.json')} and {os.path.join(out, 'sweep.html')}"])
    return 0
