"""Exact mathematics with sympy: the attention gradients derived and proven equal to their closed forms,
losses as expressions, interval arithmetic on the real line and Assumption A decided on all of R, the SVMs' KKT
systems and exact certificates, Assumption B's certificates."""
from .assumption_b import (ConvexityCertificate, DominationCertificate, ExactVSVM, PointCertificate, RayCertificate,
                           convexity_certificate, domination_certificate, exact_v_svm, point_certificate,
                           ray_certificate)
from .gradients import (CLOSED_FORMS_LATEX, GradientDerivation, LambdifiedGradient, Proof, SymbolicAttention,
                        attention_model, closed_form, derivation_latex, derive_gradient, is_zero_exact,
                        lambdify_gradient, loss_expr, normal_form, prove_equal, prove_gradient)
from .kkt import (SVM_KINDS, KKTSystem, NuclearCertificate, SVMCertificate, certify_svm, farkas_certificate,
                  independent_rows, kkt_system, nuclear_dual_certificate, to_fmpq_mat)
from .assumption import builtin_name
from .intervals import SignProof, prove_sign, structural_sign
from .losses import (BUILTIN_LOSSES, AssumptionA, LossDomainError, LossExpressionError, LossFunctions, assumption_a,
                     iv_eval, lambdify_loss, parse_loss)

__all__ = [
    "ConvexityCertificate", "DominationCertificate", "ExactVSVM", "PointCertificate", "RayCertificate",
    "convexity_certificate", "domination_certificate", "exact_v_svm", "point_certificate", "ray_certificate",
    "CLOSED_FORMS_LATEX", "GradientDerivation", "LambdifiedGradient", "Proof", "SymbolicAttention",
    "attention_model", "closed_form", "derivation_latex", "derive_gradient", "is_zero_exact",
    "lambdify_gradient", "loss_expr", "normal_form", "prove_equal", "prove_gradient",
    "SVM_KINDS", "KKTSystem", "NuclearCertificate", "SVMCertificate", "certify_svm", "farkas_certificate",
    "independent_rows", "kkt_system", "nuclear_dual_certificate", "to_fmpq_mat",
    "BUILTIN_LOSSES", "AssumptionA", "LossDomainError", "LossExpressionError", "LossFunctions", "assumption_a",
    "iv_eval", "lambdify_loss", "parse_loss", "builtin_name", "SignProof", "prove_sign", "structural_sign",
]
