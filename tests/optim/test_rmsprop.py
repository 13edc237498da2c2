"""RMSprop: parity with torch.optim.RMSprop step for step, in float64 and float32."""

import numpy as np
import pytest
from optim_parity import check_parity

import striate
from striate.optim import RMSprop

CASES = [
    dict(),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1),
    dict(lr=0.01, alpha=0.3, eps=1e-4),  # 1 - alpha >= 0.5: lerp takes its other branch
    dict(lr=0.01, alpha=0.3, centered=True),
    dict(lr=0.01, maximize=True, momentum=0.5),
]


@pytest.mark.parametrize(
    "kwargs", CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "defaults"
)
def test_rmsprop_matches_torch_float64(kwargs):
    check_parity("RMSprop", kwargs)


def test_rmsprop_param_groups_with_their_own_lr_match_torch():
    groups = [([0], dict(lr=0.001, centered=True)), ([1, 2, 3], dict(momentum=0.5))]
    check_parity("RMSprop", dict(lr=0.01), groups=groups)


def test_rmsprop_matches_torch_float32_and_stays_float32():
    check_parity(
        "RMSprop",
        dict(lr=0.01, momentum=0.9, centered=True),
        dtype=np.float32,
        rtol=1e-5,
        atol=1e-6,
    )


def test_rmsprop_first_step_by_hand():
    p = striate.Tensor(np.zeros(2), requires_grad=True)
    opt = RMSprop([p], lr=0.1, alpha=0.9, eps=0.0)
    p.grad = striate.Tensor(np.array([2.0, -3.0]))
    opt.step()
    # v = 0.1 g^2, p = -lr g / sqrt(v) = -lr sign(g) / sqrt(0.1)
    np.testing.assert_allclose(p.data, [-0.1 / np.sqrt(0.1), 0.1 / np.sqrt(0.1)], rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-0.01), "learning rate"),
        (dict(alpha=-0.5), "alpha"),
        (dict(eps=-1.0), "eps"),
        (dict(momentum=-0.9), "momentum"),
        (dict(weight_decay=-1.0), "weight_decay"),
    ],
)
def test_rmsprop_rejects_bad_arguments(kwargs, match):
    p = striate.Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match=match):
        RMSprop([p], **kwargs)
