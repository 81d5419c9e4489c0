"""Floating computation for attention max-margin verification.

Stable softmax attention and its gradients (DESIGN.md section 3), GD with checkpoints, the attention
SVM family (cvxpy, polished in mpmath), direction comparisons, losses; the certified Hessian bound and the
fixed-step GD simulator (literal steps, then the modified equation in log-time).
"""
from .attention import (AttentionState, StableAttention, WFeatures, attention_state, dominant_tokens, gradient, logits, loss_value,
                        naive_gradient)
from .directions import mp_one_minus_corr, one_minus_corr, unit
from .gd import METHODS, Checkpoint, Trajectory, checkpoint_schedule, run_gd
from .losses import BUILTIN_LOSSES, CORRELATION, EXPONENTIAL, LOGISTIC, Loss
from .joint import (JointCheckpoint, JointKernel, JointTrajectory, grad_p, grad_v, joint_gradient, joint_loss,
                    joint_state, mixed_features, mp_joint_gradient, run_joint_gd, v_svm_rows)
from .joint_lockstep import JointLockstep, run_joint_gd_lockstep
from .joint_mp import mp_joint_gradient_stable, mp_run_joint_gd
from .regpath import (PObjective, VObjective, ball_minimize, geometric_radii, joint_path, p_objective, p_path,
                      v_objective)
from .assumption_b import MarginSolver, RatioEvaluator, decide_assumption_b, estimate_nu, hard_margin, mp_ratio
from .exact_rows import ExactRows, slack_lower_bounds
from .svm import (PolishedSVM, SVMConstraints, SVMSolution, active_set_guess, mp_decimal_strings, polish,
                  solve_and_polish, solve_svm, svm_constraints, to_mpf)

__all__ = [
    "AttentionState", "StableAttention", "WFeatures", "attention_state", "dominant_tokens", "gradient", "logits", "loss_value", "naive_gradient",
    "mp_one_minus_corr", "one_minus_corr", "unit",
    "METHODS", "Checkpoint", "Trajectory", "checkpoint_schedule", "run_gd",
    "BUILTIN_LOSSES", "CORRELATION", "EXPONENTIAL", "LOGISTIC", "Loss",
    "ExactRows", "slack_lower_bounds",
    "PolishedSVM", "SVMConstraints", "SVMSolution", "active_set_guess", "mp_decimal_strings", "polish",
    "solve_and_polish", "solve_svm", "svm_constraints", "to_mpf",
    "JointCheckpoint", "JointKernel", "JointTrajectory", "grad_p", "grad_v", "joint_gradient", "joint_loss", "joint_state",
    "mixed_features", "mp_joint_gradient", "run_joint_gd", "v_svm_rows", "JointLockstep", "run_joint_gd_lockstep",
    "PObjective", "VObjective", "ball_minimize", "geometric_radii", "joint_path", "p_objective", "p_path", "v_objective",
    "MarginSolver", "RatioEvaluator", "decide_assumption_b", "estimate_nu", "hard_margin", "mp_ratio",
    "mp_joint_gradient_stable",
    "mp_run_joint_gd",
]
from .mp_attention import (MPAttentionState, mp_array, mp_attention_state, mp_dominant_tokens, mp_excess_loss,
                           mp_gradient, mp_logits, mp_loss_increment, mp_loss_value, mp_naive_gradient, mp_norm,
                           mp_number, mp_unit_distance)
from .mp_gd import KERNELS, FixedPointKernel, MPCheckpoint, from_fixed, run_gd_mp, to_fixed

__all__ += [
    "MPAttentionState", "mp_array", "mp_attention_state", "mp_dominant_tokens", "mp_excess_loss", "mp_gradient",
    "mp_logits", "mp_loss_increment", "mp_loss_value", "mp_naive_gradient", "mp_norm", "mp_number",
    "mp_unit_distance",
    "KERNELS", "FixedPointKernel", "MPCheckpoint", "from_fixed", "run_gd_mp", "to_fixed",
]
from .precision import certify_checkpoints, compare_trajectories, first_parting, naive_breakdown

__all__ += ["certify_checkpoints", "compare_trajectories", "first_parting", "naive_breakdown"]
from .w_attention import (balanced_init, kq_gradient, run_kq_gd, self_queries, w_features, w_gradient, w_logits,
                          w_loss)
from .nuclear import (NuclearCertificate, NuclearSVM, margin_scaled, nuclear_certificate, numerical_rank,
                      optimality_gaps, solve_nuclear_svm)

__all__ += [
    "balanced_init", "kq_gradient", "run_kq_gd", "self_queries", "w_features", "w_gradient", "w_logits", "w_loss",
    "NuclearCertificate", "NuclearSVM", "margin_scaled", "nuclear_certificate", "numerical_rank",
    "optimality_gaps", "solve_nuclear_svm",
]
from .convergence import (CONVERGED, MIXED, STALLED, UNDECIDED, DecidedRuns, RunJudgement, decide_runs,  # noqa: E402
                          judge_run, judge_trajectory)
from .selections import (LDPSolution, SelectionSVM, all_selections, analyse_selection, analyse_selections,  # noqa: E402
                         candidate_selections, feasible_many, is_locally_optimal, least_distance,
                         single_sequence_variations, support_tokens)
from .threads import torch_threads  # noqa: E402

__all__ += [
    "CONVERGED", "MIXED", "STALLED", "UNDECIDED", "DecidedRuns", "RunJudgement", "decide_runs", "judge_run",
    "judge_trajectory",
    "LDPSolution", "SelectionSVM", "all_selections", "analyse_selection", "analyse_selections",
    "candidate_selections", "feasible_many", "is_locally_optimal", "least_distance", "single_sequence_variations",
    "support_tokens", "torch_threads",
]
from .heads import HEAD_KINDS, Head, Readout, make_head, mp_head_gradient  # noqa: E402
from .equality_svm import (EqualityReduction, PolishedEqualitySVM, polish_equality_svm, reduce_equalities,  # noqa: E402
                           solve_and_polish_equality_svm, solve_equality_svm)
from . import multitoken  # noqa: E402

__all__ += [
    "HEAD_KINDS", "Head", "Readout", "make_head", "mp_head_gradient",
    "EqualityReduction", "PolishedEqualitySVM", "polish_equality_svm", "reduce_equalities",
    "solve_and_polish_equality_svm", "solve_equality_svm", "multitoken",
    "TextbookTrajectory", "side_by_side", "textbook_gd",
]
from .interval_attention import IntervalAttention  # noqa: E402
from .interval_attention import LossDerivatives as IntervalLossDerivatives  # noqa: E402
from .interval_attention import loss_derivatives as interval_loss_derivatives  # noqa: E402
from .stationary import (DescentCertificate, NewtonResult, StationaryCertificate, certified_inertia,  # noqa: E402
                         certify_stationary_point, descent_certificate, exact_span, find_stationary_point,
                         loss_subspace)

__all__ += [
    "IntervalAttention", "IntervalLossDerivatives", "interval_loss_derivatives",
    "DescentCertificate", "NewtonResult", "StationaryCertificate", "certified_inertia", "certify_stationary_point",
    "descent_certificate", "exact_span", "find_stationary_point", "loss_subspace",
]
from .hessian import (LocalDerivatives, LossDerivatives, StableHessian, hessian_matrix,  # noqa: E402
                      hessian_vector_product, loss_derivatives)
from .mp_hessian import MPLocalDerivatives, mp_hessian_matrix, mp_hessian_vector_product  # noqa: E402
from .smoothness import (LipschitzBound, LossConstants, StepJudgement, derivative_sups, judge_step,  # noqa: E402
                         key_diameters, lipschitz_bound, loss_constants, search_hessian_norm)
from .extrapolation import FLOAT64, MPMATH, IntegratorStats, LIEIntegrator, lie_extrapolation_step  # noqa: E402
from .fixed_step import (FixedStepCheckpoint, FixedStepTrajectory, ModifiedFlow, Remainder, log_schedule,  # noqa: E402
                         remainder, simulate_fixed_step, trajectory_evidence)
from .mp_fixed_step import MPModifiedFlow, mp_simulate_fixed_step  # noqa: E402

__all__ += [
    "LocalDerivatives", "LossDerivatives", "StableHessian", "hessian_matrix", "hessian_vector_product",
    "loss_derivatives", "MPLocalDerivatives", "mp_hessian_matrix", "mp_hessian_vector_product",
    "LipschitzBound", "LossConstants", "StepJudgement", "derivative_sups", "judge_step", "key_diameters",
    "lipschitz_bound", "loss_constants", "search_hessian_norm",
    "FLOAT64", "MPMATH", "IntegratorStats", "LIEIntegrator", "lie_extrapolation_step",
    "FixedStepCheckpoint", "FixedStepTrajectory", "ModifiedFlow", "Remainder", "log_schedule", "remainder",
    "simulate_fixed_step", "trajectory_evidence", "MPModifiedFlow", "mp_simulate_fixed_step",
]


_LAZY = {"TextbookTrajectory": "textbook", "side_by_side": "textbook", "textbook_gd": "textbook"}


def __getattr__(name):
    """The names whose modules import torch (numeric.textbook) load on first use, so that importing the package
    does not load torch."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
