"""Side by side: our stable GD and the textbook autograd loop (float32 and float64) on the same dataset.

``attnsvm textbook DATASET [--iterations N] [--step S] [--json FILE]`` and :func:`textbook_comparison`: normalised
GD with constant step from the dataset's first init, ours (numeric.run_gd, stable gradients, with the dataset's head)
and the textbook loop (numeric.textbook: softmax, autograd, g / (||g|| + eps)) in each dtype, with where the textbook
run parts from ours, switches tokens, or stalls (gradient exactly 0). For the report's comparison; no verdict.
"""
from __future__ import annotations

import json

from .errors import InputError


def textbook_comparison(dataset, *, dtypes=("float32", "float64"), iterations: int = 2000, step: float | None = None,
                        tol: float = 1e-8) -> dict:
    """Our run and the textbook runs on ``dataset`` (a Dataset, built-in name or path); returns plain data."""
    import numpy as np

    from attnsvm import numeric
    from attnsvm.numeric.heads import Readout
    from attnsvm.numeric.textbook import side_by_side, textbook_gd

    from .builtins import load
    from .context import numeric_loss

    ds = load(dataset)
    if ds.is_attention_model and ds.parameterization == "KQ":
        raise InputError(f"{ds.name}: the textbook comparison covers the prompt and W models, not (K, Q)")
    if ds.loss_spec.expr is not None:
        raise InputError(f"{ds.name}: the textbook comparison needs a built-in loss")
    if not (isinstance(iterations, int) and iterations >= 1):
        raise InputError(f"--iterations: expected a positive integer, got {iterations!r}")
    if step is None:
        step = float(ds.gd.get("step", 0.1)) if ds.gd.get("method", "normalized") == "normalized" else 0.1
    if not step > 0:
        raise InputError(f"--step: expected a positive number, got {step!r}")
    phi, gamma, loss = ds.features(), ds.gamma, numeric_loss(ds)
    readout = None if ds.head.is_linear else Readout(ds.head, ds.X, ds.Y)
    theta0 = np.asarray(ds.inits[0], dtype=float).ravel()
    ours = numeric.run_gd(theta0, phi, gamma, loss, method="normalized", step=step, max_iter=iterations,
                          readout=readout)
    marks = [c.iteration for c in ours.checkpoints]
    out = {"dataset": ds.name, "iterations": iterations, "step": step, "algorithm": "normalised GD, constant step",
           "ours": {"backend": "float64, stable gradients (DESIGN.md section 3)", "seconds": ours.seconds,
                    "final_norm": ours.final.norm, "final_selected": list(ours.final.selected)},
           "textbook": []}
    for dt in dtypes:
        tb = textbook_gd(theta0, phi, gamma, ds.loss_spec.name, dtype=dt, step=step, iterations=iterations,
                         checkpoints=marks, readout=readout)
        out["textbook"].append(side_by_side(ours, tb, tol))
    return out


def add_parser(sub) -> None:
    p = sub.add_parser("textbook", help="our stable GD beside the textbook autograd loop (float32, float64)")
    p.add_argument("dataset", help="a built-in name or a .json / .npz file")
    p.add_argument("--iterations", type=int, default=2000, metavar="N", help="GD steps (default 2000)")
    p.add_argument("--step", type=float, metavar="ETA", help="normalised step (default: the dataset's, else 0.1)")
    p.add_argument("--json", metavar="FILE", help="write the comparison to FILE")


def cmd_textbook(args) -> int:
    from .cli import _write_output

    res = textbook_comparison(args.dataset, iterations=args.iterations, step=args.step)
    print(f"dataset {res['dataset']}: normalised GD, step {res['step']:g}, {res['iterations']} steps; ours ends at "
          f"||theta|| = {res['ours']['final_norm']:.4g}, tokens {res['ours']['final_selected']}")
    for tb in res["textbook"]:
        last = tb["rows"][-1]
        print(f"  textbook {tb['dtype']:<8} parts from ours (1 - corr > {tb['tol']:g}) at k = {tb['parted_at']}, "
              f"switches tokens at k = {tb['switched_tokens_at']}, freezes (||g|| < eps) at k = {tb['frozen_at']}, "
              f"gradient exactly 0 at k = {tb['stalled_at']}; "
              f"final 1 - corr to ours {last['one_minus_corr_between']:.2e}, ||theta|| = {last['norm_textbook']:.4g}")
    if args.json:
        from .result import jsonable

        _write_output(args.json, json.dumps(jsonable(res), indent=1) + "\n", "--json")
    return 0
