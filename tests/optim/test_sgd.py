"""SGD: parity with torch.optim.SGD step for step, in float64 and float32."""

import numpy as np
import pytest
from optim_parity import check_parity

import striate
from striate.optim import SGD

CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.5),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
    dict(lr=0.1, weight_decay=0.1),
    dict(lr=0.1, momentum=0.5, weight_decay=0.1, maximize=True),
    dict(lr=0.1, maximize=True),
]


@pytest.mark.parametrize("kwargs", CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_sgd_matches_torch_float64(kwargs):
    check_parity("SGD", kwargs)


def test_sgd_param_groups_with_their_own_lr_and_momentum_match_torch():
    groups = [([0, 2], dict(lr=0.01, momentum=0.5)), ([1, 3], dict(nesterov=True))]
    opt, _ = check_parity("SGD", dict(lr=0.1, momentum=0.9), groups=groups)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.5, 0.9]


def test_sgd_matches_torch_float32_and_stays_float32():
    check_parity(
        "SGD",
        dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
        dtype=np.float32,
        rtol=1e-5,
        atol=1e-6,
    )


def test_sgd_plain_step_is_p_minus_lr_grad():
    p = striate.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    opt = SGD([p], lr=0.5)
    p.grad = striate.Tensor(np.array([2.0, 2.0, -4.0]))
    opt.step()
    np.testing.assert_allclose(p.data, [0.0, -3.0, 5.0])


def test_sgd_momentum_buffer_starts_at_first_gradient_not_zero():
    p = striate.Tensor(np.zeros(2), requires_grad=True)
    opt = SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
    p.grad = striate.Tensor(np.array([1.0, 2.0]))
    opt.step()
    # first step: buf = g (dampening not applied), so p = -g
    np.testing.assert_allclose(p.data, [-1.0, -2.0])
    opt.step()
    # second: buf = 0.9 g + 0.5 g = 1.4 g
    np.testing.assert_allclose(p.data, [-2.4, -4.8])


def test_sgd_updates_parameter_array_in_place():
    p = striate.Tensor(np.ones((4, 4), dtype=np.float32), requires_grad=True)
    before = p.data
    opt = SGD([p], lr=0.1, momentum=0.9)
    for _ in range(3):
        p.grad = striate.Tensor(np.ones((4, 4), dtype=np.float32))
        opt.step()
    assert p.data is before
    assert p.data.dtype == np.float32
    assert opt.state[p]["momentum_buffer"].dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-0.1), "learning rate"),
        (dict(lr=0.1, momentum=-0.5), "momentum"),
        (dict(lr=0.1, weight_decay=-1e-4), "weight_decay"),
        (dict(lr=0.1, nesterov=True), "Nesterov"),
        (dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
        (dict(lr=float("nan")), "learning rate"),
        (dict(lr="0.1"), "learning rate"),
    ],
)
def test_sgd_rejects_bad_arguments(kwargs, match):
    p = striate.Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match=match):
        SGD([p], **kwargs)


def test_sgd_rejects_bad_option_in_a_param_group():
    a = striate.Tensor(np.zeros(2), requires_grad=True)
    b = striate.Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="learning rate lr=-1"):
        SGD([{"params": [a]}, {"params": [b], "lr": -1}], lr=0.1)
