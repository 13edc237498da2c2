"""Helpers shared by the model tests, as fixtures (parameter count, one SGD step, round trip)."""
import numpy as np
import pytest

import striate
from striate import F


def _count(model, trainable_only=True):
    return sum(p.size for p in model.parameters() if p.requires_grad or not trainable_only)


def _sgd_step(model, x, y, lr, loss_fn=None):
    """Loss before and after one plain SGD step on (x, y), both in training mode."""
    loss_fn = loss_fn or F.cross_entropy
    model.train()
    x, y = striate.tensor(x), np.asarray(y)
    model.zero_grad()
    before = loss_fn(model(x), y)
    before.backward()
    stepped = 0
    for p in model.parameters():
        if p.grad is not None:
            p.data -= lr * p.grad.data
            stepped += 1
    after = loss_fn(model(x), y)
    assert stepped == len(list(model.parameters())), "some parameters got no gradient"
    return before.item(), after.item()


def _round_trip(build, x):
    """Build two differently seeded models, load one's state into the other, compare."""
    striate.manual_seed(0)
    a = build()
    striate.manual_seed(1)
    b = build()
    sd = a.state_dict()
    b.load_state_dict(sd)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, sd[k], err_msg=k)
    a.eval(), b.eval()
    with striate.no_grad():
        ya, yb = a(striate.tensor(x)), b(striate.tensor(x))
    np.testing.assert_allclose(yb.data, ya.data, rtol=0, atol=0)


@pytest.fixture
def skip_init(monkeypatch):
    """Make weight initialisation a no-op, so the big models build in a blink for counting.

    Parameters keep whatever ``empty`` gave them; only shapes matter to a parameter count.
    """
    from striate.nn import init

    def keep(tensor, *args, **kwargs):
        return tensor

    for name in ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                 "xavier_uniform_", "xavier_normal_", "_reset_default_"):
        monkeypatch.setattr(init, name, keep)


def _fill_constant(model):
    """Set every weight to 1 / fan-in and every bias to 0: finite activations, no RNG cost."""
    for name, p in model.named_parameters():
        fan_in = int(np.prod(p.shape[1:])) if p.ndim > 1 else 0
        p.data[...] = 1.0 / fan_in if fan_in else 0.0
    return model


@pytest.fixture
def constant_params():
    """``constant_params(model)``: deterministic cheap weights for shape tests of big models
    built under ``skip_init``."""
    return _fill_constant


@pytest.fixture
def count_params():
    """``count_params(model)``: number of trainable parameter elements."""
    return _count


@pytest.fixture
def sgd_step():
    """``sgd_step(model, x, y, lr, loss_fn=None) -> (loss_before, loss_after)``."""
    return _sgd_step


@pytest.fixture
def round_trip():
    """``round_trip(build, x)``: state_dict copy gives identical state and eval outputs."""
    return _round_trip
