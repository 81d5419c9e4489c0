"""Write verify/data/tf-svm-local.npz: the built-in family tf-svm-local-<seed>, seeds 0-99 (run once).

Per seed s, numpy's PCG64 generator ``default_rng(s)`` draws, in this order: X (6 x 8 x 10), the cross-
attention queries Z (6 x 10) and the head v (10), all standard Gaussian, every token, query and v then
normalised to unit length; the labels Y (6) are random signs. The file keeps the exact float64 values
(loaded without pickle), so later numpy versions cannot change the data.
"""
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "verify" / "data" / "tf-svm-local.npz"
SEEDS, N, T, D = 100, 6, 8, 10


def unit_rows(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def draw(seed: int):
    rng = np.random.default_rng(seed)
    X = unit_rows(rng.standard_normal((N, T, D)))
    Z = unit_rows(rng.standard_normal((N, D)))
    v = unit_rows(rng.standard_normal(D))
    Y = rng.choice(np.array([-1.0, 1.0]), size=N)
    return X, Z, v, Y


def main():
    parts = [draw(s) for s in range(SEEDS)]
    X, Z, v, Y = (np.stack([p[k] for p in parts]) for k in range(4))
    np.savez_compressed(OUT, X=X, Z=Z, v=v, Y=Y, seeds=np.arange(SEEDS))
    print(f"wrote {OUT}: X {X.shape}, Z {Z.shape}, v {v.shape}, Y {Y.shape}")


if __name__ == "__main__":
    main()
