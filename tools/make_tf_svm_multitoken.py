"""Write verify/data/tf-svm-multitoken.npz: the built-in family tf-svm-multitoken-<seed>, seeds 0-99 (run once).

The second paper's multi-token experiment (relu head, cross-attention, n = 3, T = 4; here d = 10), with the
authors' generator and filters. Per draw s = 0, 1, 2, ..., numpy's PCG64 generator ``default_rng(s)`` draws, in
this order: V (d x d, standard Gaussian, scaled to unit Frobenius norm), X (n x T x d, every token scaled to unit
length), the labels Y (random signs), the queries Z (n x d, unit length), and the initial W0 (d x d, uniform on
[-1/sqrt(d), 1/sqrt(d)]: the default initialisation of a d x d linear layer). The head is
f = sum_j ReLU((V^T X^T s)_j) (v = 1).

Filters (the authors'): draws with all labels +1 are skipped; the rest are trained by normalised GD on W with step
0.1 for 2000 steps from W0 (our stable float64 gradients, W <- W - 0.1 G/||G||_F); a draw is kept when its final
softmax has no value in (1e-6, 1e-3], some value <= 1e-6, and both the direction SVM of the selected sets
O_i = {t : s_it >= 1e-3} and the one-token W-SVM of the final argmax are feasible. The first 100 kept draws are the
members 0-99; ``draw`` holds each one's draw number. The file keeps exact float64 values (loaded without pickle).
"""
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "verify" / "data" / "tf-svm-multitoken.npz"
MEMBERS, N, T, D = 100, 3, 4, 10
STEP, ITERATIONS, TAU, ZERO = 0.1, 2000, 1e-3, 1e-6
CHUNK = 400


def unit_rows(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def draw(seed: int):
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((D, D))
    V = V / np.linalg.norm(V)
    X = unit_rows(rng.standard_normal((N, T, D)))
    Y = rng.choice(np.array([-1.0, 1.0]), size=N)
    Z = unit_rows(rng.standard_normal((N, D)))
    W0 = rng.uniform(-1.0 / np.sqrt(D), 1.0 / np.sqrt(D), size=(D, D))
    return X, Y, Z, V, W0


def accepted(W, X, Y, Z, V) -> bool:
    """The authors' filters on one trained W (see the module docstring)."""
    from attnsvm import numeric
    from attnsvm.numeric.equality_svm import solve_equality_svm
    from attnsvm.numeric.heads import Readout, make_head
    from attnsvm.numeric.multitoken import equivalence_rows, selected_sets

    head = make_head("relu", np.ones(D), V)
    phi = numeric.w_features(X, Z)
    kernel = numeric.StableAttention(phi, head.token_scores(X, Y), Readout(head, X, Y))
    st = kernel.state(W.ravel())
    s = st.s
    if np.any((s > ZERO) & (s <= TAU)) or not np.any(s <= ZERO):
        return False
    sets = selected_sets(s, TAU)
    rows = equivalence_rows(phi, sets, st.dominant)
    if not solve_equality_svm(rows.ineq, np.ones(len(rows.ineq)), rows.eq, np.zeros(len(rows.eq))).feasible:
        return False
    con = numeric.svm_constraints(phi, st.dominant)
    return numeric.solve_svm(con.A, con.b).feasible


def main():
    sys.path.insert(0, str(ROOT))
    import torch

    from attnsvm.numeric.batched_w import BatchedHead, batched_w_gd

    torch.set_num_threads(1)

    kept = []
    seed = 0
    while len(kept) < MEMBERS:
        draws = []
        while len(draws) < CHUNK:
            X, Y, Z, V, W0 = draw(seed)
            if np.any(Y < 0):
                draws.append((seed, X, Y, Z, V, W0))
            seed += 1
        X, Y, Z, V, W0 = (np.stack([d[k] for d in draws]) for k in range(1, 6))
        B = len(draws)
        head = BatchedHead("relu", Y, np.ones((B, D)), V, device="cpu")
        tr = batched_w_gd(W0, X, Z, np.zeros((B, N, T)), step=STEP, iterations=ITERATIONS, head=head, device="cpu",
                          schedule=[ITERATIONS])
        for b, d in enumerate(draws):
            if accepted(tr.theta[-1, b].reshape(D, D), X[b], Y[b], Z[b], V[b]):
                kept.append(d)
        print(f"draws up to {seed - 1}: {len(kept)} kept ({tr.seconds:.0f} s of GD)", flush=True)
    kept = kept[:MEMBERS]
    arrays = {name: np.stack([d[k] for d in kept]) for k, name in enumerate(("draw", "X", "Y", "Z", "V", "W0"))}
    np.savez_compressed(OUT, seeds=np.arange(MEMBERS), **arrays)
    print(f"wrote {OUT}: {MEMBERS} members from draws 0-{seed - 1}")


if __name__ == "__main__":
    main()
