"""Claims, premises and what a verdict means.

Every check tests one statement of the papers (or is one of the toolkit's own instruments), and says so:
the paper, the statement, how sure we are of its wording (the tags of ``shared/PAPERS.md``), its kind,
its premises and its conclusion. A check has one of three roles:

* ``premise``: a hypothesis of the theorems, decided for the dataset (Assumption A, unique optimal tokens,
  a feasible SVM, the data condition of the global theorem, the step bound, Assumption B). Premises are
  evaluated once per dataset and shared by every claim that rests on them (``ctx.premise(id)``).
* ``claim``: a conclusion (norm divergence, directional limit, ...). Its verdict means one thing:

  - ``holds``: every premise holds and the conclusion is observed, with the evidence;
  - ``fails``: every premise holds and the conclusion is contradicted: a counterexample, which carries what
    reproduces it (``evidence["counterexample"]``: init, iterate, certificate where one exists);
  - ``not-applicable``: a premise fails; what was observed is still reported ("outside the theory");
  - ``inconclusive``: the budget ran out before a decision (or a premise is itself undecided).

* ``instrument``: a numerical self-check of the toolkit (float64 against mpmath, exact certificates),
  shown apart from the claims.

The premise of a premise-role check is its own statement: its ``fails`` means the hypothesis is false
for the dataset (with a witness), which puts the claims resting on it outside the theory; it is never a
counterexample to a theorem. :func:`dataset_status` turns the verdicts into the dataset's summary.

>>> s = STATEMENTS["P1-T2"]
>>> s.kind, s.premises[:2]
('theorem', ('assumption-A', 'optimal-tokens'))
>>> decide_verdict({"assumption-A": "holds", "optimal-tokens": "fails"}, OBSERVED)
('not-applicable', ['optimal-tokens'])
>>> decide_verdict({"assumption-A": "holds"}, CONTRADICTED)
('fails', [])
>>> decide_verdict({"assumption-A": "inconclusive"}, OBSERVED)
('inconclusive', ['assumption-A'])
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE

PREMISE, CLAIM, INSTRUMENT = "premise", "claim", "instrument"
ROLES = (PREMISE, CLAIM, INSTRUMENT)

# what the observation of a conclusion found, before the premises are taken into account
OBSERVED, CONTRADICTED, UNDECIDED = "observed", "contradicted", "undecided"

PAPERS = {
    "P1": "Tarzanagh, Li, Zhang, Oymak: Max-Margin Token Selection in Attention Mechanism (NeurIPS 2023)",
    "P2": "Tarzanagh, Li, Thrampoulidis, Oymak: Transformers as Support Vector Machines (2023)",
    "toolkit": "attnsvm's own numerical instruments",
}
# how sure we are of a statement's wording (shared/PAPERS.md, section 0)
CONFIDENCE = {
    "abstract": "stated in the paper's abstract",
    "slides": "stated in the first paper's slides (shared/seeds)",
    "code": "taken from the authors' code and its stored outputs",
    "unconfirmed": "recollection of the paper's statement, unconfirmed (PAPERS.md tag [U])",
    "derived": "derived from the definitions; not claimed to be in the paper",
}
KINDS = ("assumption", "definition", "theorem", "lemma", "observation", "conjecture", "instrument")


@dataclass(frozen=True)
class Statement:
    """A statement a check tests: paper, name, confidence of the wording, kind, text, premises (ids of
    premise-role checks), conclusion."""

    id: str
    paper: str
    name: str
    confidence: str
    kind: str
    text: str
    premises: tuple = ()
    conclusion: str = ""
    beside: tuple = ()      # premises whose verdicts are shown beside the claim's, without being required

    def __post_init__(self):
        if self.paper not in PAPERS or self.confidence not in CONFIDENCE or self.kind not in KINDS:
            raise ValueError(f"statement {self.id}: bad paper, confidence or kind")

    def to_dict(self) -> dict:
        return {"id": self.id, "paper": self.paper, "paper_title": PAPERS[self.paper], "statement": self.name,
                "kind": self.kind, "confidence": self.confidence, "confidence_meaning": CONFIDENCE[self.confidence],
                "text": self.text, "premises": list(self.premises), "conclusion": self.conclusion,
                **({"shown_beside": list(self.beside)} if self.beside else {})}


_GLOBAL = ("assumption-A", "optimal-tokens", "p-svm", "equal-scores", "step-bound")
_GLOBAL_W = ("assumption-A", "optimal-tokens", "w-svm", "equal-scores", "step-bound")
_JOINT = ("assumption-A", "optimal-tokens", "v-svm", "relaxed-p-svm", "assumption-B[S]")

_LIST = [
    # -- premises -----------------------------------------------------------------------------------
    Statement("P1-A", "P1", "Assumption A", "slides", "assumption",
              "Over any bounded interval, l: R -> R is strictly decreasing, l' is M0-Lipschitz and |l'| <= M1 "
              "(decided on all of R: l' <= 0 everywhere and l' < 0 except on a set without interior).",
              conclusion="the loss satisfies Assumption A"),
    Statement("P1-D1", "P1", "optimal tokens (unique)", "unconfirmed", "definition",
              "alpha_i in argmax_t gamma_it with gamma_it = Y_i v^T x_it; the theorems need the argmax to be unique.",
              conclusion="every sequence has a unique optimal token"),
    Statement("P1-D2", "P1", "p-SVM (ATT-SVM) feasible", "slides", "definition",
              "p_mm(alpha) = argmin ||p|| s.t. p^T (k_{i,alpha_i} - k_it) >= 1 for all i, t != alpha_i exists for the "
              "optimal tokens.", conclusion="the p-SVM of the optimal tokens is feasible"),
    Statement("P2-D2", "P2", "W-SVM feasible", "code", "definition",
              "W_mm = argmin ||W||_F s.t. (x_{i,alpha_i} - x_it)^T W z_i >= 1 for all i, t != alpha_i exists for the "
              "optimal tokens (the nuclear-norm SVM has the same constraints).",
              conclusion="the W-SVM of the optimal tokens is feasible"),
    Statement("P1-T2-data", "P1", "data condition of the global theorem", "unconfirmed", "assumption",
              "Within each sequence all non-optimal tokens have equal scores (the authors' global demos are "
              "built so).", conclusion="gamma_it = gamma_i,tau for all t, tau != alpha_i, every i"),
    Statement("P1-L1", "P1", "step size within the smoothness bound", "unconfirmed", "lemma",
              "grad L is L-Lipschitz and the GD theorems take a fixed step eta <= 1/L.",
              conclusion="the fixed step used is at most 1/L for a certified global bound L"),
    Statement("P1-B[n]", "P1", "Assumption B (maximum over every sequence)", "slides", "assumption",
              "For every p, the v-SVM margin on the mixed features X_i^T s_i(p) is at most "
              "Gamma - nu max_{i in [n]} (1 - s_{i,alpha_i}(p)) for some nu > 0, Gamma = 1/||v(alpha)|| "
              "(as the slides state it).", conclusion="such a nu > 0 exists"),
    Statement("P1-B[S]", "P1", "Assumption B (maximum over the v-SVM's support set S)", "derived", "assumption",
              "For every p, the v-SVM margin on the mixed features X_i^T s_i(p) is at most "
              "Gamma - nu max_{i in S} (1 - s_{i,alpha_i}(p)) for some nu > 0. Theorem II's relaxed p-SVM differs "
              "from the plain one only when S != [n], where sequences outside S may keep attention off alpha; this "
              "is the reading under which the relaxed case is not vacuous (a reading of the slides' statement, "
              "not its wording).", conclusion="such a nu > 0 exists"),
    Statement("P1-vSVM", "P1", "v-SVM feasible", "slides", "definition",
              "v(alpha) = argmin ||v|| s.t. Y_i v^T x_{i,alpha_i} >= 1 for all i exists; its support set S.",
              conclusion="the v-SVM of the optimal tokens is feasible"),
    Statement("P1-relaxed", "P1", "relaxed p-SVM feasible", "slides", "definition",
              "The p-SVM with margin 1 for the v-SVM's support sequences S and 0 for the others exists.",
              conclusion="the relaxed p-SVM is feasible"),
    # -- claims -------------------------------------------------------------------------------------
    Statement("P1-T2", "P1", "global convergence of GD on p (Theorem I of the slides, global case)", "unconfirmed",
              "theorem",
              "Under Assumption A, unique optimal tokens with a feasible p-SVM, equal non-optimal scores within each "
              "sequence, and a fixed step eta <= 1/L, GD from any init satisfies ||p_k|| -> infinity and "
              "p_k/||p_k|| -> p_mm/||p_mm|| of the optimal tokens.",
              premises=_GLOBAL, conclusion="||p_k|| -> infinity and p_k/||p_k|| -> p_mm(alpha)/||p_mm(alpha)||"),
    Statement("P1-T3", "P1", "local convergence of GD on p (Theorem I of the slides, local case)", "unconfirmed",
              "theorem",
              "Under Assumption A and eta <= 1/L, for a locally optimal selection alpha there are mu, R such that GD "
              "started in the cone {||p|| >= R, corr(p, p_mm(alpha)) >= 1 - mu} keeps selecting alpha and "
              "converges in direction to p_mm(alpha).",
              premises=("assumption-A",), conclusion="some tested cone around every locally optimal p_mm converges"),
    Statement("P1-LO", "P1", "GD converges only to locally optimal selections", "unconfirmed", "theorem",
              "If GD converges in direction to the max-margin direction of a selection alpha, then alpha is locally "
              "optimal (every support token scores strictly below the selected token).",
              premises=("assumption-A",), conclusion="every selection a run converges to is locally optimal"),
    Statement("P1-T1", "P1", "regularisation path (p alone)", "unconfirmed", "theorem",
              "Under Assumption A with unique optimal tokens and a feasible p-SVM, p_R = argmin_{||p|| <= R} L(p) "
              "satisfies p_R/R -> p_mm/||p_mm||.",
              premises=("assumption-A", "optimal-tokens", "p-svm"), conclusion="p_R/R -> p_mm/||p_mm||"),
    Statement("P2-RP-W", "P2", "regularisation path of W (Frobenius W-SVM)", "abstract", "theorem",
              "Under Assumption A with unique optimal tokens and a feasible W-SVM, W_R = argmin_{||W||_F <= R} L(W) "
              "satisfies W_R/R -> W_mm/||W_mm||_F (the paper's statement also has a local, cone-restricted "
              "version; the premises' exact wording is unconfirmed).",
              premises=("assumption-A", "optimal-tokens", "w-svm"), conclusion="W_R/R -> W_mm/||W_mm||_F"),
    Statement("P1-T5", "P1", "joint regularisation path (Theorem II of the slides)", "slides", "theorem",
              "Under Assumptions A and B, (v_r, p_R) = argmin_{||v|| <= r, ||p|| <= R} L(v, p) satisfies "
              "v_r/r -> v(alpha)/||v(alpha)|| and p_R/R -> p_relax/||p_relax||.",
              premises=_JOINT, conclusion="v_r/r -> v(alpha)/||v(alpha)||, p_R/R -> p_relax/||p_relax||",
              beside=("assumption-B[n]",)),
    Statement("P2-T-GD", "P2", "directional convergence of GD on W", "unconfirmed", "theorem",
              "Under Assumption A, unique optimal tokens with a feasible W-SVM, the global data condition (taken here "
              "as equal non-optimal scores; the paper's exact condition is unconfirmed) and eta <= 1/L, GD on W "
              "satisfies ||W_k|| -> infinity and W_k/||W_k|| -> W_mm/||W_mm||_F.",
              premises=_GLOBAL_W, conclusion="||W_k|| -> infinity and W_k/||W_k|| -> W_mm/||W_mm||_F"),
    Statement("P2-KQ", "P2", "GD on (K, Q) follows the nuclear-norm SVM (observation)", "code", "observation",
              "The paper proves the nuclear-norm limit for the regularisation path of (K, Q); that GD on (K, Q) "
              "converges to the nuclear-norm W-SVM is the authors' empirical observation, not a theorem.",
              premises=("assumption-A",), conclusion="K_k Q_k^T approaches the nuclear-norm W-SVM direction"),
    Statement("P1-E3", "P1", "joint GD on (v, p) (observation)", "code", "observation",
              "The authors' joint-training experiment: normalised GD on (v, p) aligns v with the v-SVM and p with the "
              "relaxed p-SVM. No GD theorem covers joint training.",
              premises=_JOINT, conclusion="v_k and p_k align with v(alpha) and p_relax", beside=("assumption-B[n]",)),
    Statement("NGD", "P1", "normalised GD (the authors' experimental algorithm, observation)", "code", "observation",
              "The authors' experiments run normalised GD (step 0.1, unit-norm gradient), which no theorem of either "
              "paper covers; they observe directional convergence to the SVM of the selected tokens.",
              premises=("assumption-A",), conclusion="normalised GD converges in direction to p_mm of its selection"),
    Statement("P2-GEN", "P2", "SVM equivalence for nonlinear heads / several selected tokens (conjecture)", "code",
              "conjecture",
              "With a nonlinear head GD may keep several tokens per sequence. With O_i = {t : s_it >= tau} the tokens "
              "selected at the end of the run (the authors' tau = 1e-3), W_dir = argmin ||W||_F s.t. "
              "(x_t - x_tau)^T W z_i = 0 for t, tau in O_i and >= 1 for t in O_i, tau not in O_i, and W_fin = argmin "
              "||W||_F s.t. (x_t - x_tau)^T W z_i = log(s_it / s_i,tau) for t, tau in O_i, GD satisfies "
              "W_k ~ W_fin + R_k W_dir with R_k -> infinity: 1 - corr(W_k, W_fin + R W_dir) (R fitted) tends to 0 "
              "and is much smaller than against the one-token W-SVM. Proposed in the second paper (its code), called "
              "a conjecture by a later paper; not a theorem. Tested on normalised GD, the authors' algorithm.",
              premises=(), conclusion="1 - corr(W_k, W_fin + R_k W_dir) -> 0 with R_k -> infinity"),
    # -- instruments --------------------------------------------------------------------------------
    Statement("precision", "toolkit", "float64 GD is trustworthy", "derived", "instrument",
              "Every float64 step equals the step computed in mpmath (>= 50 digits) from the same iterate, and float64 "
              "and mpmath runs reach the same selection and limit direction; or, where they reach different "
              "selections, exact GD from float64's own iterates reaches float64's selection and every float64 step "
              "in between is consistent (a basin boundary within rounding distance)."),
    Statement("certificate", "toolkit", "SVM solutions certified exactly", "derived", "instrument",
              "Every reference SVM solution satisfies its KKT conditions in exact rational arithmetic (or an exact "
              "Farkas certificate proves infeasibility)."),
]
STATEMENTS = {s.id: s for s in _LIST}


def decide_verdict(premise_verdicts: dict, outcome: str) -> tuple[str, list]:
    """The verdict of a claim from its premises' verdicts and the observation's outcome, with the premises
    responsible: any premise fails -> not-applicable; else any premise undecided (inconclusive) ->
    inconclusive; else observed -> holds, contradicted -> fails, undecided -> inconclusive.
    A premise that is not-applicable itself (outside its scope) counts as failed."""
    failed = [p for p, v in premise_verdicts.items() if v in (FAILS, NOT_APPLICABLE)]
    if failed:
        return NOT_APPLICABLE, failed
    undecided = [p for p, v in premise_verdicts.items() if v == INCONCLUSIVE]
    if undecided:
        return INCONCLUSIVE, undecided
    return {OBSERVED: HOLDS, CONTRADICTED: FAILS, UNDECIDED: INCONCLUSIVE}[outcome], []


@dataclass
class Observation:
    """What a claim check observed, before its premises are taken into account: the outcome (observed /
    contradicted / undecided), a one-line summary, the evidence, and for a contradiction the
    counterexample (what reproduces it)."""

    outcome: str
    summary: str
    evidence: dict = field(default_factory=dict)
    counterexample: dict | None = None

    def __post_init__(self):
        if self.outcome not in (OBSERVED, CONTRADICTED, UNDECIDED):
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.outcome == CONTRADICTED and not self.counterexample:
            raise ValueError("a contradiction needs its counterexample (what reproduces it)")


def judge(ctx, check_id: str, statement: Statement, observation: Observation, premises=None):
    """The :class:`~verify.result.CheckResult` of a claim: the premises of ``statement`` (or ``premises``,
    when a check narrows or widens them for this dataset) decided through ``ctx.premise``, combined with
    the observation by :func:`decide_verdict`. A claim outside the theory keeps what was observed."""
    from .result import CheckResult

    ids = tuple(statement.premises if premises is None else premises)
    verdicts = {p: ctx.premise(p).verdict for p in ids}
    verdict, why = decide_verdict(verdicts, observation.outcome)
    evidence = dict(observation.evidence)
    evidence["observation"] = {"outcome": observation.outcome, "summary": observation.summary}
    if statement.beside:
        evidence["premises_beside"] = {p: ctx.premise(p).verdict for p in statement.beside}
    if observation.counterexample is not None:
        evidence["counterexample"] = observation.counterexample
    if verdict == NOT_APPLICABLE:
        names = ", ".join(f"{p} {verdicts[p]}" for p in why)
        summary = f"outside the theory ({names}); observed: {observation.summary}"
    elif verdict == INCONCLUSIVE and why:
        summary = f"premise undecided ({', '.join(why)}); observed: {observation.summary}"
    elif verdict == FAILS and statement.confidence == "unconfirmed":
        # the premises are our reading of a statement whose wording is unconfirmed: the counterexample refutes
        # that reading (the paper's hypotheses may be stronger), which the summary says
        summary = f"counterexample to the statement as encoded here (its hypotheses are unconfirmed): " \
                  f"{observation.summary}"
        evidence["counterexample_scope"] = ("the premises checked are this toolkit's reading of a statement whose "
                                            "wording is unconfirmed (PAPERS.md tag [U]); the paper's hypotheses may "
                                            "be stronger")
    else:
        summary = observation.summary
    return CheckResult(check_id, verdict, summary, statement.text, evidence, role=CLAIM,
                       statement=statement.to_dict(), premises={p: verdicts[p] for p in ids})


def dataset_status(checks) -> str:
    """The dataset's summary from its checks: "counterexample" when a claim fails; "undecided" when a claim
    or instrument is inconclusive, an instrument fails, or a premise that some applicable claim needs is
    undecided; "outside the theory" when no claim is applicable; else "consistent with the theory".

    >>> from attnsvm.verify.result import CheckResult
    >>> dataset_status([CheckResult("a", "holds", "", role="claim"), CheckResult("b", "not-applicable", "", role="claim")])
    'consistent with the theory'
    >>> dataset_status([CheckResult("a", "not-applicable", "", role="claim"), CheckResult("p", "fails", "", role="premise")])
    'outside the theory'
    """
    claims = [c for c in checks if c.role == CLAIM]
    if any(c.verdict == FAILS for c in claims):
        return COUNTEREXAMPLE
    if any(c.verdict == INCONCLUSIVE for c in claims) or \
            any(c.verdict in (FAILS, INCONCLUSIVE) for c in checks if c.role == INSTRUMENT):
        return UNDECIDED_STATUS
    if not any(c.verdict == HOLDS for c in claims):
        return OUTSIDE
    return CONSISTENT


CONSISTENT, COUNTEREXAMPLE, UNDECIDED_STATUS, OUTSIDE = ("consistent with the theory", "counterexample", "undecided",
                                                         "outside the theory")
STATUSES = (CONSISTENT, COUNTEREXAMPLE, UNDECIDED_STATUS, OUTSIDE)


def premise_result(check_id: str, statement: Statement, verdict: str, summary: str, evidence: dict | None = None):
    """The :class:`~verify.result.CheckResult` of a premise-role check (its verdict: the hypothesis holds,
    fails with a witness, is undecided, or is outside its scope: not-applicable)."""
    from .result import CheckResult

    return CheckResult(check_id, verdict, summary, statement.text, evidence or {}, role=PREMISE,
                       statement=statement.to_dict())


def instrument_result(check_id: str, statement: Statement, verdict: str, summary: str, evidence: dict | None = None):
    """The :class:`~verify.result.CheckResult` of an instrument (a numerical self-check of the toolkit)."""
    from .result import CheckResult

    return CheckResult(check_id, verdict, summary, statement.text, evidence or {}, role=INSTRUMENT,
                       statement=statement.to_dict())


def out_of_scope(check_id: str, statement: Statement, reason: str, role: str = CLAIM, evidence: dict | None = None):
    """`not-applicable` because the check does not concern this kind of dataset (a W check on a prompt
    dataset, a joint check when v is fixed): nothing was computed."""
    from .result import CheckResult

    return CheckResult(check_id, NOT_APPLICABLE, reason, statement.text, {"scope": reason, **(evidence or {})},
                       role=role, statement=statement.to_dict())
