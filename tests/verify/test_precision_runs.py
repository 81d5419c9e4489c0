"""The runs of the precision instrument: float64 runs keep their step states, a segment replay checks every
step (and finds a wrong one between checkpoints), restarts continue float64's run in mpmath."""
import numpy as np

from attnsvm.numeric import attention
from attnsvm.verify import precision_runs as pr
from attnsvm.verify.context import Context
from attnsvm.verify.dataset import Dataset

DATA = dict(X=[[[1.0, -0.5], [-0.3, 2.0], [0.7, 0.2]], [[-1.2, 0.4], [0.9, 1.1], [0.1, -1.6]]], Y=[1, -1],
            v=[0.6, 0.8], inits=[[0.0, 0.0], [0.4, -0.2]], name="small")


def ctx(**options):
    return Context.create(Dataset(**DATA), cross_check_iterations=40, **options)


def test_float64_runs_are_the_zigzag_runs_from_every_init():
    c = ctx()
    runs = pr.float64_runs(c)
    assert len(runs) == 2 and all(t.final.iteration == 40 for t in runs)
    assert all(cp.step_state is not None for t in runs for cp in t.checkpoints)
    assert pr.settings(c) == {"method": "normalized", "step": 1.0, "adaptive": True, "relative": 0.0, "iterations": 40}


def test_segment_replay_finds_a_wrong_step_between_checkpoints(monkeypatch):
    c = ctx()
    traj = pr.float64_runs(c)[0]
    by_k = {cp.iteration: cp for cp in traj.checkpoints}
    assert 7 not in by_k and 6 in by_k and 8 in by_k
    clean = pr.replay_segment(c, by_k[6], 8)
    assert clean["steps"] == 2 and not clean["inconsistent"] and np.array_equal(clean["theta_reached"], by_k[8].theta)
    # the iterate at 7, and a float64 step that is wrong there only
    th7 = clean_theta_at(c, by_k[6], 7)
    real = attention.StableAttention.gradient

    def bent(self, theta, loss, scaled=False, tails=None):
        g = real(self, theta, loss, scaled=scaled, tails=tails)
        return g + 1e-6 * np.linalg.norm(g) * np.array([1.0, 0.0]) if scaled and np.array_equal(theta, th7) else g

    monkeypatch.setattr(attention.StableAttention, "gradient", bent)
    rep = pr.replay_segment(c, by_k[6], 8)
    (bad,) = rep["inconsistent"]
    assert bad["iteration"] == 7 and bad["rel_error"] > 1e-8 and np.array_equal(bad["theta"], th7)


def clean_theta_at(c, cp, k):
    return pr.replay_segment(c, cp, k)["theta_reached"]


def test_restart_continues_from_a_float64_checkpoint_and_can_stop_early():
    c = ctx()
    cp = next(x for x in pr.float64_runs(c)[1].checkpoints if x.iteration == 10)
    r = pr.restart(c, 1, cp, 40)
    assert r.checkpoints[0].iteration == 10 and r.final.iteration == 40
    assert all(float(a) == b for a, b in zip(r.checkpoints[0].theta, cp.theta))
    early = pr.restart(c, 1, cp, 39, stop=lambda seen: seen[-1].iteration >= 20)
    assert early.stop_reason == "observer" and early.final.iteration == 20


def test_mp_run_rounds_continue_exactly():
    c = ctx()
    short = pr.mp_run(c, 0, 20)
    assert short.final.iteration == 20
    longer = pr.mp_run(c, 0, 40)
    full = Context.create(Dataset(**DATA), cross_check_iterations=40)
    direct = pr.mp_run(full, 0, 40)
    assert [x.iteration for x in longer.checkpoints] == [x.iteration for x in direct.checkpoints]
    assert all(a == b for a, b in zip(longer.final.theta, direct.final.theta))
    digits = pr.mp_run_digits(c, longer)
    assert digits["steps_compared"] == 6 and digits["worst_rel_difference"] < 1e-30


def test_loss_defect_names_the_point():
    assert pr.loss_defect(ctx()) is None
    c = Context.create(Dataset(**dict(DATA, loss={"expr": "log(u)"})), cross_check_iterations=40)
    d = pr.loss_defect(c)
    assert d is not None and d["u"] <= 0
