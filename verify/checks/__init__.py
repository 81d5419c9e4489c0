"""The checks, one module per claim, in the order the claims build on each other.

Each module has ``ID``, ``CLAIM`` and ``run(ctx) -> CheckResult``; :data:`REGISTRY` lists them.
"""
from . import directional_limit, norm_divergence, optimal_tokens, p_svm
from . import locally_optimal
from .optimal_tokens import optimal_tokens as compute_optimal_tokens

REGISTRY = [optimal_tokens, p_svm, norm_divergence, directional_limit]
REGISTRY.append(locally_optimal)
CHECK_IDS = [m.ID for m in REGISTRY]

__all__ = ["REGISTRY", "CHECK_IDS", "compute_optimal_tokens"]
