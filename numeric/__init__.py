"""Floating computation for attention max-margin verification.

Stable softmax attention and its gradients (DESIGN.md section 3), GD with checkpoints, the attention
SVM family (cvxpy, polished in mpmath), direction comparisons, losses.
"""
from .attention import (AttentionState, attention_state, dominant_tokens, gradient, logits, loss_value,
                        naive_gradient)
from .directions import mp_one_minus_corr, one_minus_corr, unit
from .gd import METHODS, Checkpoint, Trajectory, checkpoint_schedule, run_gd
from .losses import BUILTIN_LOSSES, CORRELATION, EXPONENTIAL, LOGISTIC, Loss
from .svm import (PolishedSVM, SVMConstraints, SVMSolution, active_set_guess, mp_decimal_strings, polish,
                  solve_svm, svm_constraints, to_mpf)

__all__ = [
    "AttentionState", "attention_state", "dominant_tokens", "gradient", "logits", "loss_value", "naive_gradient",
    "mp_one_minus_corr", "one_minus_corr", "unit",
    "METHODS", "Checkpoint", "Trajectory", "checkpoint_schedule", "run_gd",
    "BUILTIN_LOSSES", "CORRELATION", "EXPONENTIAL", "LOGISTIC", "Loss",
    "PolishedSVM", "SVMConstraints", "SVMSolution", "active_set_guess", "mp_decimal_strings", "polish",
    "solve_svm", "svm_constraints", "to_mpf",
]
from .w_attention import (balanced_init, kq_gradient, run_kq_gd, self_queries, w_features, w_gradient, w_logits,
                          w_loss)
from .nuclear import (NuclearCertificate, NuclearSVM, margin_scaled, nuclear_certificate, numerical_rank,
                      optimality_gaps, solve_nuclear_svm)

__all__ += [
    "balanced_init", "kq_gradient", "run_kq_gd", "self_queries", "w_features", "w_gradient", "w_logits", "w_loss",
    "NuclearCertificate", "NuclearSVM", "margin_scaled", "nuclear_certificate", "numerical_rank",
    "optimality_gaps", "solve_nuclear_svm",
]
