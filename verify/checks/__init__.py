"""The checks, one module per claim, in the order the claims build on each other.

Each module has ``ID``, ``CLAIM`` and ``run(ctx) -> CheckResult``; :data:`REGISTRY` lists them.
"""
from . import (assumption_a, assumption_b, directional_limit, joint_directional_limit, kq_directional_limit,
               locally_optimal, norm_divergence, optimal_tokens, p_svm, precision_cross_check, regularization_path,
               relaxed_p_svm, svm_certificate, v_svm, w_directional_limit, w_svm)
from .optimal_tokens import optimal_tokens as compute_optimal_tokens

REGISTRY = [
    assumption_a,                                               # hypotheses
    optimal_tokens, p_svm, svm_certificate,                     # selected tokens, their SVM, its certificate
    norm_divergence, directional_limit, locally_optimal,        # GD on p: norm, direction, which selection
    precision_cross_check,                                      # float64 against mpmath
    w_svm, w_directional_limit, kq_directional_limit,           # GD on W and on (K, Q)
    assumption_b, v_svm, relaxed_p_svm, regularization_path, joint_directional_limit,  # joint (v, p)
]
CHECK_IDS = [m.ID for m in REGISTRY]
MODULES = {m.ID: m for m in REGISTRY}

__all__ = ["REGISTRY", "CHECK_IDS", "MODULES", "compute_optimal_tokens"]
