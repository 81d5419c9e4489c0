"""The checks, one module per statement, in three roles (verify.claims): premises, claims, instruments.

Each module has ``ID``, ``ROLE``, ``STATEMENT`` and ``run(ctx) -> CheckResult``; :data:`REGISTRY` lists them in
the order they are reported: the premises (hypotheses of the theorems, decided once and shared), the claims
(conclusions, judged given their premises) and the instruments (the toolkit's numerical self-checks, which
run last so that they see every SVM and run the claims used).
"""
from . import (assumption_a, assumption_b, assumption_b_n, cone_convergence, directional_limit, equal_scores, joint_directional_limit,
               joint_regularization_path, kq_directional_limit, locally_optimal, norm_divergence, optimal_tokens, p_svm,
               precision_cross_check, regularization_path, relaxed_p_svm, step_bound, svm_certificate, v_svm, w_svm)
from .optimal_tokens import optimal_tokens as compute_optimal_tokens

REGISTRY = [
    # premises
    assumption_a, optimal_tokens, p_svm, w_svm, equal_scores, step_bound, v_svm, relaxed_p_svm, assumption_b,
    assumption_b_n,
    # claims
    norm_divergence, directional_limit, locally_optimal, cone_convergence, kq_directional_limit,
    regularization_path, joint_regularization_path, joint_directional_limit,
    # instruments
    precision_cross_check, svm_certificate,
]
CHECK_IDS = [m.ID for m in REGISTRY]
MODULES = {m.ID: m for m in REGISTRY}
PREMISE_IDS = [m.ID for m in REGISTRY if m.ROLE == "premise"]
CLAIM_IDS = [m.ID for m in REGISTRY if m.ROLE == "claim"]
INSTRUMENT_IDS = [m.ID for m in REGISTRY if m.ROLE == "instrument"]

__all__ = ["REGISTRY", "CHECK_IDS", "MODULES", "PREMISE_IDS", "CLAIM_IDS", "INSTRUMENT_IDS", "compute_optimal_tokens"]
