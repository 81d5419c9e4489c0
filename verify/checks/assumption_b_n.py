"""Premise `assumption-B[n]`: Assumption B as the slides state it (maximum over every sequence).

Decided together with `assumption-B[S]` (:mod:`verify.checks.assumption_b`, one cached decision); the joint
claims rest on B[S] and show this reading's verdict beside it. See that module for the certificates.
"""
from __future__ import annotations

from ..claims import STATEMENTS
from .assumption_b import assumption_b_n

ID = "assumption-B[n]"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-B[n]"]


def run(ctx):
    return assumption_b_n(ctx)
