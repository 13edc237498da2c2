"""Learning-rate schedulers: the lr sequence equals torch's over 30+ steps; state round trips."""

import json

import numpy as np
import pytest

import striate
import striate.optim
from striate.optim import SGD, Adam, Optimizer
from striate.optim import lr_scheduler as sch

torch = pytest.importorskip("torch")

STEPS = 32


def _optimizer(module, name="SGD"):
    """Two groups with different lrs, so every scheduler is checked per group."""
    if module is torch.optim:
        a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    else:
        a = striate.Tensor(np.zeros(2), requires_grad=True)
        b = striate.Tensor(np.zeros(3), requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    if name == "SGD":
        return module.SGD(groups, lr=0.1, momentum=0.9)
    return module.Adam(groups, lr=0.1, betas=(0.9, 0.99))


# Each case builds the same schedule from either library: make(lr_scheduler_module, optimizer).
CASES = {
    "step": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 12, 20], gamma=0.3),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
    "linear": lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=8),
    "onecycle": lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=STEPS + 1),
    "onecycle_linear_3phase": lambda m, o: m.OneCycleLR(
        o,
        max_lr=0.4,
        epochs=3,
        steps_per_epoch=11,
        pct_start=0.25,
        anneal_strategy="linear",
        three_phase=True,
        div_factor=10.0,
        final_div_factor=100.0,
    ),
    "sequential_warmup_cosine": lambda m, o: m.SequentialLR(
        o,
        [
            m.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5),
            m.CosineAnnealingLR(o, T_max=20),
        ],
        milestones=[5],
    ),
    "sequential_three": lambda m, o: m.SequentialLR(
        o,
        [
            m.ExponentialLR(o, gamma=0.8),
            m.StepLR(o, step_size=3, gamma=0.5),
            m.CosineAnnealingLR(o, T_max=8, eta_min=0.01),
        ],
        milestones=[6, 15],
    ),
    "chained": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, start_factor=0.5, total_iters=4), m.ExponentialLR(o, gamma=0.95)]
    ),
}


def _trace(module, lr_module, make, name="SGD", steps=STEPS):
    """The lrs and momenta after construction and after each step."""
    opt = _optimizer(module, name)
    sched = make(lr_module, opt)
    key = "momentum" if name == "SGD" else "betas"
    lrs, moms, last = [], [], []
    for t in range(steps + 1):
        if t:
            opt.step()
            sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([np.ravel(g[key])[0] for g in opt.param_groups])
        last.append(list(sched.get_last_lr()))
    return np.array(lrs), np.array(moms), np.array(last)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_scheduler_lr_and_momentum_sequence_matches_torch(case, optimizer):
    ours = _trace(striate.optim, sch, CASES[case], optimizer)
    theirs = _trace(torch.optim, torch.optim.lr_scheduler, CASES[case], optimizer)
    for what, a, b in zip(("lr", "momentum", "get_last_lr"), ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=f"{case}: {what}")
    assert len(np.unique(ours[0][:, 0])) > 2, f"{case}: the schedule never changed the lr"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_linear_warmup_equals_torch_linear_lr_to_full_rate():
    ours = _trace(striate.optim, sch, lambda m, o: sch.LinearWarmup(o, warmup_steps=6), steps=10)
    theirs = _trace(
        torch.optim,
        torch.optim.lr_scheduler,
        lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=6),
        steps=10,
    )
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[0][0], [0.01, 0.005], rtol=1e-12)
    np.testing.assert_allclose(ours[0][6:], [[0.1, 0.05]] * 5, rtol=1e-12)


def test_step_lr_closed_form_values():
    opt = _optimizer(striate.optim)
    sched = sch.StepLR(opt, step_size=2, gamma=0.1)
    seen = [sched.get_last_lr()[0]]
    for _ in range(5):
        sched.step()
        seen.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(seen, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_scheduler_state_dict_is_json_and_resumes_identically(case):
    make = CASES[case]
    opt = _optimizer(striate.optim)
    sched = make(sch, opt)
    full = []
    for t in range(STEPS):
        if t == 12:
            opt_sd, sched_sd = opt.state_dict(), json.loads(json.dumps(sched.state_dict()))
        sched.step()
        full.append(sched.get_last_lr() + [g["momentum"] for g in opt.param_groups])

    opt2 = _optimizer(striate.optim)
    sched2 = make(sch, opt2)  # built first, then both states loaded (PyTorch's order)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sched_sd)
    for t in range(12, STEPS):
        sched2.step()
        got = sched2.get_last_lr() + [g["momentum"] for g in opt2.param_groups]
        np.testing.assert_allclose(got, full[t], rtol=1e-15, err_msg=f"{case}: step {t + 1}")


def test_onecycle_stepping_past_total_steps_raises():
    sched = sch.OneCycleLR(_optimizer(striate.optim), max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps is 3"):
        sched.step()


class _NoMomentum(Optimizer):
    def __init__(self, params):
        super().__init__(params, dict(lr=0.1))


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda o: sch.StepLR(o, step_size=0), ValueError, "step_size"),
        (lambda o: sch.StepLR(o, step_size=2.5), ValueError, "step_size"),
        (lambda o: sch.StepLR(o, step_size=2, gamma=-0.1), ValueError, "gamma"),
        (lambda o: sch.MultiStepLR(o, milestones=[3, -1]), ValueError, "milestones"),
        (lambda o: sch.ExponentialLR(o, gamma=0), ValueError, "gamma"),
        (lambda o: sch.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
        (lambda o: sch.CosineAnnealingLR(o, T_max=5, eta_min=-1), ValueError, "eta_min"),
        (lambda o: sch.LinearLR(o, start_factor=0), ValueError, "start_factor"),
        (lambda o: sch.LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
        (lambda o: sch.LinearWarmup(o, warmup_steps=0), ValueError, "total_iters"),
        (lambda o: sch.OneCycleLR(o, max_lr=0.1), ValueError, "total_steps or both"),
        (lambda o: sch.OneCycleLR(o, max_lr=0.1, total_steps=-5), ValueError, "total_steps"),
        (
            lambda o: sch.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5),
            ValueError,
            "pct_start",
        ),
        (
            lambda o: sch.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"),
            ValueError,
            "anneal_strategy",
        ),
        (
            lambda o: sch.OneCycleLR(o, max_lr=[0.1, 0.2, 0.3], total_steps=10),
            ValueError,
            "expected 2 values for max_lr",
        ),
        (
            lambda o: sch.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=0.1),
            ValueError,
            "phase with no steps",
        ),
        (
            lambda o: sch.SequentialLR(o, [sch.StepLR(o, 2), sch.StepLR(o, 3)], milestones=[]),
            ValueError,
            "expected 1 milestones",
        ),
        (
            lambda o: sch.SequentialLR(
                o, [sch.StepLR(_optimizer(striate.optim), 2)], milestones=[]
            ),
            ValueError,
            "different optimizer",
        ),
        (lambda o: sch.ChainedScheduler([]), ValueError, "at least one"),
        (lambda o: sch.StepLR("sgd", step_size=2), TypeError, "not an Optimizer"),
    ],
)
def test_scheduler_rejects_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make(_optimizer(striate.optim))


def test_onecycle_momentum_cycling_needs_momentum_or_betas():
    opt = _NoMomentum([striate.Tensor(np.zeros(1), requires_grad=True)])
    with pytest.raises(ValueError, match="cycle_momentum"):
        sch.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    sched = sch.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)
    np.testing.assert_allclose(sched.get_last_lr(), [0.1 / 25])


def test_resuming_with_last_epoch_needs_initial_lr():
    opt = SGD([striate.Tensor(np.zeros(1), requires_grad=True)], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        sch.StepLR(opt, step_size=2, last_epoch=4)


def test_scheduler_drives_adam_training_lr():
    p = striate.Tensor(np.zeros(1), requires_grad=True)
    opt = Adam([p], lr=1.0)
    sched = sch.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        sched.step()
    assert opt.param_groups[0]["lr"] == 0.125
