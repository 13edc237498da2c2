"""Adam and AdamW: parity with torch.optim step for step, in float64 and float32."""

import numpy as np
import pytest
from optim_parity import check_parity

import striate
from striate.optim import Adam, AdamW

ADAM_CASES = [
    dict(),
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.1),
    dict(lr=0.1, amsgrad=True),
    dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01, amsgrad=True),
    dict(lr=0.1, maximize=True, weight_decay=0.1),
    dict(lr=0.1, betas=(0.3, 0.4)),  # beta1 < 0.5: lerp takes its other branch
]
ADAMW_CASES = [
    dict(),
    dict(lr=0.1, weight_decay=0.1),
    dict(lr=0.1, weight_decay=0.1, amsgrad=True),
    dict(lr=0.1, weight_decay=0.05, maximize=True, betas=(0.85, 0.95)),
]


def _ids(k):
    return ",".join(f"{a}={b}" for a, b in k.items()) or "defaults"


@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=_ids)
def test_adam_matches_torch_float64(kwargs):
    check_parity("Adam", kwargs)


@pytest.mark.parametrize("kwargs", ADAMW_CASES, ids=_ids)
def test_adamw_matches_torch_float64(kwargs):
    check_parity("AdamW", kwargs)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_param_groups_with_their_own_lr_match_torch(name):
    groups = [([0, 3], dict(lr=0.01, amsgrad=True)), ([1, 2], dict(weight_decay=0.2))]
    opt, _ = check_parity(name, dict(lr=0.1), groups=groups)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_matches_torch_float32_and_stays_float32(name):
    check_parity(
        name, dict(lr=0.01, weight_decay=0.01, amsgrad=True), dtype=np.float32, rtol=1e-5, atol=1e-6
    )


def test_adam_first_step_moves_each_weight_by_lr_times_sign_of_grad():
    # after bias correction, m/sqrt(v) = g/|g| on step 1
    p = striate.Tensor(np.zeros(3), requires_grad=True)
    opt = Adam([p], lr=0.01, eps=0.0)
    p.grad = striate.Tensor(np.array([5.0, -0.001, 2.0]))
    opt.step()
    np.testing.assert_allclose(p.data, [-0.01, 0.01, -0.01], rtol=1e-12)


def test_adamw_defaults_and_decoupled_decay_without_gradient_signal():
    p = striate.Tensor(np.full(2, 2.0), requires_grad=True)
    opt = AdamW([p], lr=0.1)
    assert opt.defaults["weight_decay"] == 1e-2
    p.grad = striate.Tensor(np.zeros(2))
    opt.step()
    # zero gradient: only the decay acts, p *= 1 - lr * wd
    np.testing.assert_allclose(p.data, 2.0 * (1 - 0.1 * 1e-2), rtol=1e-12)


def test_adam_updates_in_place_with_float32_state():
    p = striate.Tensor(np.ones(6, dtype=np.float32), requires_grad=True)
    before = p.data
    opt = Adam([p], lr=0.1, amsgrad=True, weight_decay=0.1)
    for _ in range(3):
        p.grad = striate.Tensor(np.linspace(-1, 1, 6).astype(np.float32))
        opt.step()
    assert p.data is before and p.data.dtype == np.float32
    assert {k: v.dtype for k, v in opt.state[p].items() if k != "step"} == {
        "exp_avg": np.float32,
        "exp_avg_sq": np.float32,
        "max_exp_avg_sq": np.float32,
    }


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-1e-3), "learning rate"),
        (dict(betas=(1.0, 0.999)), r"betas\[0\]"),
        (dict(betas=(0.9, -0.1)), r"betas\[1\]"),
        (dict(betas=(0.9,)), "pair"),
        (dict(eps=-1e-8), "eps"),
        (dict(weight_decay=-0.1), "weight_decay"),
    ],
)
@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_adam_rejects_bad_arguments(cls, kwargs, match):
    p = striate.Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match=match):
        cls([p], **kwargs)
