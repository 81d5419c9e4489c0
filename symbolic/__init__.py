"""Exact mathematics with sympy: attention gradients, KKT systems, certificates, Assumption A."""
