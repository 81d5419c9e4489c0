"""Write the built-in dataset files of verify/data/ (run once; the files are the source of truth).

The multi-input dataset draws its noise from numpy's PCG64 generator with seed 2023; the stored file
keeps the exact float64 values (JSON floats round-trip exactly), so later numpy versions cannot change it.
"""
import json
import re
import pathlib

import numpy as np

DATA = pathlib.Path(__file__).resolve().parent.parent / "verify" / "data"


def single_input(last_row, name, description, inits):
    return {"name": name, "description": description, "model": "prompt",
            "X": [[["-0.1", "1", "1"], ["1", "0", "0.9"], last_row]], "Y": [1], "v": [0, 0, 1],
            "W": [[1, 0, 0], [0, 1, 0], [0, 0, 0]], "loss": "logistic", "inits": inits}


def multi_input(seed=2023):
    rng = np.random.default_rng(seed)
    shifts = [(1, 0)] + [(-1, 1)] * 3 + [(-0.5, -0.5)] * 3
    scores = [1.0] + [0.5] * 6
    X = []
    for _ in range(3):
        noise = 0.2 * rng.standard_normal((7, 2))
        X.append([[float(shifts[t][0] + noise[t, 0]), float(shifts[t][1] + noise[t, 1]), scores[t]]
                  for t in range(7)])
    return {"name": "multi-input",
            "description": "3 sequences of 7 noisy tokens; token 0 of each has the top score (first paper's multi-input figure)",
            "model": "prompt", "X": X, "Y": [1, 1, 1], "v": [0, 0, 1],
            "W": [[1, 0, 0], [0, 1, 0], [0, 0, 0]], "loss": "logistic",
            "inits": [[0, 0, 0], [0, 1, 0]]}


def joint(third, name, description):
    """The joint-training datasets (first paper's joint-training figure): n = 3, T = 2, d = 2, W = I.
    v is the v-SVM solution (0, 1); it names the optimal tokens alpha = (1, 1, 1) and is the start of v."""
    return {"name": name, "description": description, "model": "prompt", "train": "vp",
            "X": [[["0", "0"], ["1", "1"]], [["0", "0"], ["1", "-1"]], [["0", "0"], third]],
            "Y": [1, -1, 1], "v": ["0", "1"], "W": [["1", "0"], ["0", "1"]], "loss": "logistic",
            "inits": [["0", "0"], ["0.5", "-0.5"]]}


def local_from_zero():
    """One sequence, keys k0 = (0.5, -0.2), k1 = (0, 1), k2 = 0 with scores 1, 0.9, 0. Selecting token 1 has
    p_mm = (0, 1) with token 2 its only support token (score 0 < 0.9), so [1] is locally optimal; the
    first gradient step from p = 0 points mostly along k1, and GD from zero stays there."""
    return {"name": "local-from-zero",
            "description": "one sequence, three tokens; GD from zero converges to the locally (not globally) "
                           "optimal token 1",
            "model": "prompt", "X": [[["0.5", "-0.2", "1"], ["0", "1", "0.9"], ["0", "0", "0"]]], "Y": [1],
            "v": [0, 0, 1], "W": [[1, 0, 0], [0, 1, 0], [0, 0, 0]], "loss": "logistic",
            "inits": [[0, 0, 0], [4, -1, 0]]}


def main():
    DATA.mkdir(parents=True, exist_ok=True)
    sets = [
        single_input(["0", "0", "0.9"], "single-input-global",
                     "one sequence, three tokens; only the top-score token is locally optimal (first paper's figure)",
                     [[1, 0, 0], [0, 1, 0], [0, -1, 0]]),
        single_input(["0", "0", "0"], "single-input-local",
                     "one sequence, three tokens; the top token and a second token are both locally optimal",
                     [[0, 1, 0], [0, -1, 0], [3, 0, 0]]),
        multi_input(),
        joint(["0.5", "1"], "joint-tight",
              "joint (v, p) training; every sequence is a support vector of the v-SVM (joint-training figure)"),
        joint(["0.5", "1.5"], "joint-relaxed",
              "joint (v, p) training; the last sequence is not a v-SVM support vector, its p-constraint relaxes to 0"),
        local_from_zero(),
    ]
    for obj in sets:
        text = json.dumps(obj, indent=1)
        # one token per line keeps the files readable
        text = re.sub(r"\[\s+([^\[\]]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
        (DATA / f"{obj['name']}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
