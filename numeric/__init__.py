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
from .convergence import (CONVERGED, MIXED, STALLED, UNDECIDED, RunJudgement, continue_and_judge,  # noqa: E402
                          judge_batched, judge_run)
from .selections import (LDPSolution, SelectionSVM, all_selections, analyse_selection, analyse_selections,  # noqa: E402
                         candidate_selections, feasible_many, is_locally_optimal, least_distance,
                         single_sequence_variations, support_tokens)
from .threads import torch_threads  # noqa: E402

__all__ += [
    "CONVERGED", "MIXED", "STALLED", "UNDECIDED", "RunJudgement", "continue_and_judge", "judge_batched", "judge_run",
    "LDPSolution", "SelectionSVM", "all_selections", "analyse_selection", "analyse_selections",
    "candidate_selections", "feasible_many", "is_locally_optimal", "least_distance", "single_sequence_variations",
    "support_tokens", "torch_threads",
]
