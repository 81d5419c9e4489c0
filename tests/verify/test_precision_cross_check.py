"""The precision-cross-check instrument: each verdict path on a dataset built to take it.

* parting yet agreeing (a random dataset of the papers' kind): float64 and mpmath runs part after 63 steps
  (distance 1.8e-9) yet converge to the same certified limit: holds, and says where they part and why;
* a basin boundary: an init within rounding of the boundary between two selections, where float64 and mpmath
  converge to different selections without any float64 step being wrong: holds, with that finding;
* a planted float64 error (numpy step, torch step): fails with a counterexample that reproduces it;
* too few digits (option, forced, a 3-digit reference): refused or inconclusive, never holds;
* a loss that is complex on the reachable outputs: not-applicable with the point, no crash;
* runs that never part (not yet converged): holds; runs that part before converging: inconclusive;
* a time budget that cuts the mpmath run: inconclusive, and the summary says so.
"""
import json

import numpy as np
import pytest

from attnsvm.numeric import attention, batched
from attnsvm.numeric.gd import StepState, checkpoint_schedule, float64_step
from attnsvm.numeric.step_check import MPData, mp_step
from attnsvm.verify import precision_runs
from attnsvm.verify.api import check
from attnsvm.verify.checks import CHECK_IDS
from attnsvm.verify.context import Context
from attnsvm.verify.dataset import Dataset
from attnsvm.verify.errors import InputError

ID = "precision-cross-check"

# Gaussian tokens (scale 2.9), n = 2, T = 3, d = 3, unit v, labels +1, W = I, logistic loss, init 0
PARTING = dict(
    X=[[[-1.246076879380478, -8.629331591246286, -6.042454942994926], [4.197803445356364, -1.494406165202553,
                                                                       0.2620561519800157],
        [2.378000004646271, -0.9095737664589535, 1.4289688096973872]],
       [[-1.8799793337234123, -1.012645868200386, 1.5755268199431278], [1.5209530026707854, -2.263207659777047,
                                                                        0.3571854739996035],
        [-2.741422844123134, -5.546080353098776, -3.1940802700488327]]],
    Y=[1.0, 1.0], v=[0.9902357392893852, -0.04573882243747169, 0.13168576519896857], name="papers-112")

# n = 3, T = 3, d = 3; the init lies within rounding of the boundary between the basins of the selections
# (1, 0, 1) and (1, 0, 2) (found by bisecting float64 GD's outcome between two inits)
BOUNDARY = dict(
    X=[[[-1.0303662345471356, 0.07762297512044175, -1.7603935819730205],
        [1.1711356400375914, -0.47354686618362246, -1.3454130609478727],
        [-0.8889038445655372, 0.029587665075442738, -1.4181436924413438]],
       [[1.0580006795512285, -1.7403061903126247, 1.76326760632812],
        [-1.194899813701246, 0.7798649500087237, 1.6257305945468619],
        [0.5262932055951954, 1.2685526127015758, -0.15133075831653983]],
       [[0.06838788248247633, 0.67486110692378, -0.8707897063666437],
        [2.6194115773004154, -0.9992814342079377, -1.6121717821352908],
        [-0.6707953004654817, 0.7041378869717753, 0.7689260862388707]]],
    Y=[-1.0, -1.0, -1.0], v=[-0.09018157274609091, 0.17190446044582175, -0.9809771355214516],
    inits=[[0.4675044851734985, 0.6855680628926173, -1.6615662673575904]], name="basin-boundary")

# n = 5, T = 4, d = 2: float64 and mpmath part by 2.6e-5 within 250 steps and neither run has converged yet
SLOW = dict(
    X=[[[-0.9268502870288097, 0.6377232549006276], [0.48257948132200157, -0.04147096733702298],
        [-1.391800240336288, -1.7465874600517648], [-0.32597871472786166, 1.1986129862476604]],
       [[-3.7221942829964783, 0.9205333972342196], [1.8423899151321115, -1.2147659837453768],
        [3.072046450124245, -2.4146333517476646], [-0.6698775866663379, -3.899729304564704]],
       [[-2.6306896976075493, 0.13100377857577553], [-1.2811697772898076, -0.9258362816157323],
        [-0.9210003815376049, -1.044242862083057], [0.7970445403070153, -3.060562426283943]],
       [[3.015800344855006, -2.2543482663203975], [-3.122375515569834, 0.24652233261747933],
        [0.015729064914243997, 0.5983079619236588], [0.5746888968508188, -4.619351847883744]],
       [[-2.6689974515136563, -0.683951413016232], [3.760866689479038, -1.6662351129994426],
        [-4.301077438139663, -0.052465330532877455], [0.781395404668019, 1.9232124725515665]]],
    Y=[-1.0, -1.0, 1.0, 1.0, -1.0], v=[0.28408366737270235, 0.9587994941238109], name="papers-13")

# n = 6, T = 2, d = 2: the runs stay within 1e-11 of each other over 250 steps, neither converged yet
TOGETHER = dict(
    X=[[[0.08371492490246872, -3.595042388248158], [-3.2558000581731785, -5.395678232245839]],
       [[0.6111923742411207, -0.24596956052763572], [0.11239002045270265, 0.9980749777324244]],
       [[-3.621700339335571, -3.9119876043008315], [1.485100090275133, 0.6141425133443061]],
       [[-1.8216435000976021, -0.677561134907716], [-2.865079061281551, 2.179765559567367]],
       [[-1.2674687271577985, -0.31658798903374713], [-0.20178754000841, 2.8921853335078427]],
       [[2.4285272376338707, -5.362310000027352], [1.5234094894011803, 1.4217082816061635]]],
    Y=[-1.0, 1.0, -1.0, -1.0, 1.0, 1.0], v=[-0.6232165399657781, 0.7820493234528649], name="papers-42")


def run(dataset, **options):
    res = check(Dataset(**dataset) if isinstance(dataset, dict) else dataset, only=[ID], **options)
    r = res[ID]
    assert "numerical_warnings" not in r.evidence, r.evidence["numerical_warnings"]
    json.dumps(res.to_dict())                      # the evidence is JSON
    return r


def test_registered_as_an_instrument_after_the_gd_claims():
    assert CHECK_IDS.index("directional-limit") < CHECK_IDS.index(ID)
    r = run(PARTING, cross_check_iterations=60)
    assert r.role == "instrument" and r.statement["id"] == "precision"


def test_parting_trajectories_with_the_same_limit_hold():
    r = run(PARTING, cross_check_iterations=150)
    assert r.verdict == "holds", r.summary
    ev = r.evidence
    (comp,) = ev["runs"]
    part = comp["profile"]["first_parting"]
    assert part is not None and 30 <= part["iteration"] <= 100 and 1e-10 < part["rel_p"] < 1e-7   # they part ...
    assert comp["outcome"] == "same limit" and comp["float64"]["selection"] == comp["mp"]["selection"] == [1, 1]
    lim = comp["limit"]
    assert lim["certificate"] == "exact" and lim["one_minus_corr_float64"] < 1e-3 and lim["one_minus_corr_mp"] < 1e-3
    assert "part at iteration 63" in r.summary and "same limit" in r.summary
    # (a): every checked step within its tolerance, both backends, the reference good to 40+ digits
    one = ev["one_step"]
    assert one["inconsistent"] == 0 and one["checked"] == 2 * len(checkpoint_schedule(150))   # every checkpoint
    # a small dataset: run_gd's step and batched GD's numpy engine (its torch engine runs no batch of this size)
    assert {row["backend"] for row in one["runs"][0]["rows"]} == {"numpy", "batched-numpy"}
    assert one["worst_rel_error"] < 1e-12 and 2e-3 < one["worst_ratio"] < 1 and one["worst_reference_error"] < 1e-40
    assert one["median_rel_error"] < 1e-14
    # (c): the perturbation growth explains the parting: 10^4 growth by then, the measured distance near the
    # predicted rounding drift
    ly = comp["lyapunov"]
    assert ly["replay_reproduces_run"]
    at = {row["iteration"]: row for row in ly["checkpoints"]}[63]
    assert at["log10_growth"] > 3
    lo, hi = ly["log10_measured_over_predicted_range"]
    assert -3 < lo <= hi < 2
    # the naive-formula warning is still there
    nw = ev["naive_warning"]
    assert nw["departure_norm"] < nw["stall_norm"] < 1e4


def test_different_selections_at_a_basin_boundary_hold_and_with_a_wrong_step_there_fail(monkeypatch):
    ctx = Context.create(Dataset(**BOUNDARY), cross_check_iterations=631)
    r = ctx.run_check(ID)
    assert r.verdict == "holds", r.summary
    assert "numerical_warnings" not in r.evidence
    (comp,) = r.evidence["runs"]
    assert comp["outcome"] == "basin boundary"
    assert comp["float64"]["selection"] == [1, 0, 1] and comp["mp"]["selection"] == [1, 0, 2]
    sep = comp["separation"]
    assert sep["found"] == "boundary" and sep["replay"]["reproduces_run"] and sep["replay"]["inconsistent"] == 0
    a, b = sep["segment"]
    assert sep["replay"]["steps"] == b - a and 0 < sep["replay"]["worst_ratio"] < 1   # every step was checked
    restarts = {t["from_iteration"]: t for t in sep["restarts"].values()}
    assert restarts[a]["selection"] == [1, 0, 2] and restarts[b]["selection"] == [1, 0, 1]
    assert "basin boundary" in r.summary
    # had the replay of the flip segment found a float64 step beyond its tolerance, that step would be the
    # counterexample (the runs and restarts are cached on the Context: only the replay is planted)
    real = precision_runs.replay_segment

    def planted(c, checkpoint, until):
        rep = real(c, checkpoint, until)
        row = precision_runs.check_point(c, checkpoint.theta, checkpoint.step_state, "numpy")
        row.update(consistent=False, rel_error=1e-6, iteration=checkpoint.iteration, theta=checkpoint.theta.copy(),
                   step_state={"factor": checkpoint.step_state.factor,
                               "direction": checkpoint.step_state.direction})
        return dict(rep, inconsistent=[row])

    monkeypatch.setattr(precision_runs, "replay_segment", planted)
    del ctx._checks[ID]
    r = ctx.run_check(ID)
    assert r.verdict == "fails" and "reach different selections" in r.summary, r.summary
    ce = r.evidence["counterexample"]
    assert ce["rel_error"] == 1e-6 and "replaying" in ce["note"] and len(ce["theta_hex"]) == 3


def _perturb_numpy(monkeypatch, rel=1e-7, beyond=5.0):
    """A float64 step defect: the scaled gradient is bent by ``rel`` once ||p|| > ``beyond``."""
    real = attention.StableAttention.gradient

    def bent(self, theta, loss, scaled=False, tails=None):
        g = real(self, theta, loss, scaled=scaled, tails=tails)
        if scaled and np.linalg.norm(theta) > beyond:
            g = g + rel * np.linalg.norm(g) * np.eye(len(g))[1]
        return g

    monkeypatch.setattr(attention.StableAttention, "gradient", bent)


def test_a_planted_float64_error_fails_with_a_counterexample_that_reproduces(monkeypatch):
    _perturb_numpy(monkeypatch)
    r = run(PARTING, cross_check_iterations=60)
    assert r.verdict == "fails", r.summary
    ce = r.evidence["counterexample"]
    assert ce["backend"] == "numpy" and ce["rel_error"] > 1e-8 and ce["tolerance"] < 1e-11
    assert np.linalg.norm(ce["theta"]) > 5 and "differs from mpmath" in r.summary
    monkeypatch.undo()
    # reproduce: the correct float64 step from the counterexample's iterate agrees with mpmath; the bent one did not
    ds = Dataset(**PARTING)
    theta = np.array([float.fromhex(h) for h in ce["theta_hex"]])
    state = StepState(ce["step_state"]["factor"], None if ce["step_state"]["direction"] is None
                      else np.array(ce["step_state"]["direction"]))
    fs = float64_step(attention.StableAttention(ds.features(), ds.gamma), theta, Context.create(ds).loss, state,
                      method=ce["method"], step=ce["step"], adaptive=ce["adaptive"], relative=ce["relative"])
    ref = mp_step(theta, state, MPData(ds.features_exact(), ds.gamma_exact, ce["dps"]), Context.create(ds).loss,
                  method=ce["method"], step=ce["step"], adaptive=ce["adaptive"], relative=ce["relative"])
    exact = np.array([float(x) for x in ref.delta])
    assert np.linalg.norm(fs.delta - exact) < 1e-13 * np.linalg.norm(exact)
    assert np.linalg.norm(np.array(ce["delta_float64"]) - exact) > 1e-8 * np.linalg.norm(exact)


def test_a_planted_error_in_the_torch_step_fails(monkeypatch):
    monkeypatch.setattr(batched, "NUMPY_MAX_SIZE", 0)     # every batch on the torch engine: its step is checked too
    real = batched.batched_gradient

    def bent(theta, phi, gamma, dloss, scaled=False):
        g, dom, omm, rmax = real(theta, phi, gamma, dloss, scaled)
        return g * (1 + 1e-9 * (g > 0).to(g.dtype)), dom, omm, rmax   # the positive parts 1e-9 too large

    monkeypatch.setattr(batched, "batched_gradient", bent)
    r = run(PARTING, cross_check_iterations=60)
    assert r.verdict == "fails", r.summary
    assert r.evidence["counterexample"]["backend"] == "torch"


def test_a_planted_error_in_the_numpy_batched_step_fails(monkeypatch):
    from attnsvm.numeric import batched_numpy

    real = batched_numpy.gradient

    def bent(theta, phi, gamma, dloss, scaled=False):
        g, dom, omm, rmax = real(theta, phi, gamma, dloss, scaled)
        return g * (1 + 1e-9 * (g > 0)), dom, omm, rmax                  # the positive parts 1e-9 too large

    monkeypatch.setattr(batched_numpy, "gradient", bent)
    r = run(PARTING, cross_check_iterations=60)
    assert r.verdict == "fails", r.summary
    assert r.evidence["counterexample"]["backend"] == "batched-numpy"


def test_too_few_digits_are_refused_or_inconclusive_never_holds(monkeypatch):
    for key in ("cross_check_dps", "certify_dps"):
        with pytest.raises(InputError, match=key):
            check(Dataset(**PARTING), only=[ID], **{key: 3})
    # forced past the option check: inconclusive
    ctx = Context.create(Dataset(**PARTING), cross_check_iterations=60)
    ctx.options["cross_check_dps"] = 3
    r = ctx.run_check(ID)
    assert r.verdict == "inconclusive" and "cross_check_dps = 3 digits" in r.summary
    # a reference computed at 3 digits whatever the option says: its short mantissa shows, inconclusive
    real = precision_runs.mp_data
    monkeypatch.setattr(precision_runs, "mp_data", lambda ctx, dps: real(ctx, 3))
    monkeypatch.setattr("attnsvm.numeric.step_check.mp_gradient",
                        lambda th, ph, ga, loss, dps, scaled=False: _mp_gradient_at(th, ph, ga, loss, 3, scaled))
    r = run(PARTING, cross_check_iterations=60)
    assert r.verdict == "inconclusive" and "bits" in r.summary, r.summary


def test_an_mpmath_run_at_3_digits_is_caught(monkeypatch):
    """The comparison run itself at 3 digits (whatever the option says): its first steps do not match the
    reference, inconclusive; never holds."""
    from attnsvm import numeric

    real = numeric.run_gd_mp
    monkeypatch.setattr(numeric, "run_gd_mp", lambda *a, **k: real(*a, **dict(k, dps=3)))
    r = run(PARTING, cross_check_iterations=150)
    assert r.verdict == "inconclusive" and "does not carry its digits" in r.summary, r.summary


def _mp_gradient_at(theta, phi, gamma, loss, dps, scaled):
    from attnsvm.numeric.mp_attention import mp_gradient
    return mp_gradient(theta, phi, gamma, loss, dps, scaled=scaled)


def test_a_complex_valued_loss_is_reported_not_a_crash():
    r = run(dict(PARTING, loss={"expr": "sqrt(-u)"}))
    assert r.verdict == "not-applicable"
    defect = r.evidence["loss_defect"]
    assert defect["u"] > 0 and "not a real function" in r.summary


def test_runs_that_part_without_converging_are_inconclusive():
    r = run(SLOW, cross_check_iterations=250)
    assert r.verdict == "inconclusive", r.summary
    (comp,) = r.evidence["runs"]
    assert comp["profile"]["same_selection_throughout"] and comp["profile"]["final_rel"] > 1e-6
    assert "did not both converge within 250 iterations" in r.summary


def test_runs_that_never_part_hold_without_converging():
    r = run(TOGETHER, cross_check_iterations=250)
    assert r.verdict == "holds", r.summary
    (comp,) = r.evidence["runs"]
    assert comp["outcome"] == "together" and comp["float64"]["status"] != "converged"
    assert comp["profile"]["final_rel"] < 1e-8 and "never part" in r.summary


def test_a_time_budget_that_cuts_the_mpmath_run_is_said():
    r = run(PARTING, cross_check_iterations=150, cross_check_time_budget=1e-4)
    assert r.verdict == "inconclusive", r.summary
    assert "time budget cut an mpmath run" in r.summary
    assert r.evidence["runs"][0]["cut_by_time_budget"]


def test_deterministic_without_a_time_budget():
    a = check(Dataset(**PARTING), only=[ID], cross_check_iterations=60).to_json()
    b = check(Dataset(**PARTING), only=[ID], cross_check_iterations=60).to_json()
    strip = [json.loads(x) for x in (a, b)]
    for s in strip:
        s.pop("timing", None)
        s.pop("seconds", None)
    assert strip[0]["checks"] == strip[1]["checks"]


def test_above_its_size_limit_it_runs_on_evenly_spaced_sequences_and_says_so():
    """n T D = 24 > cross_check_max_entries = 12: the instrument runs on 12 // (T D) = 3 sequences (0, 2, 5), and
    its result is the instrument's own on that subsample (same verdict, same checked steps), marked as such."""
    r = run(TOGETHER, cross_check_iterations=120, cross_check_max_entries=12)
    sub = r.evidence["subsample"]
    assert sub["sequences"] == [0, 2, 5] and sub["of"] == 6
    assert r.summary.startswith("on 3 of 6 sequences (n T D = 24 > 12")
    direct = run(Dataset(**TOGETHER).subsample([0, 2, 5]), cross_check_iterations=120)
    assert r.verdict == direct.verdict and r.summary.endswith(direct.summary)
    assert r.evidence["one_step"]["checked"] == direct.evidence["one_step"]["checked"] > 0
    # one sequence alone above the limit: inconclusive with the size, nothing run
    r = run(TOGETHER, cross_check_iterations=120, cross_check_max_entries=3)
    assert r.verdict == "inconclusive" and "T D = 4 feature entries, more than the 3" in r.summary
    assert "runs" not in r.evidence and r.evidence["size_limit"]["n_T_D"] == 24
