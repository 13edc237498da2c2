"""Loss modules: the same values and gradients as torch's modules, options passed through."""
import numpy as np
import pytest

import striate
from striate import nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((6, 4))
TARGET = np.array([0, 3, 1, 1, 2, 3])
WEIGHT = np.array([1.0, 2.0, 0.5, 1.5])


def _compare(loss, tloss, x, t, t_torch=None):
    xs, xt = striate.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = loss(xs, t)
    yt = tloss(xt, torch.tensor(t) if t_torch is None else t_torch)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7)
    gy = np.ones(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(), dict(reduction="sum"), dict(reduction="none"),
                                    dict(label_smoothing=0.1), dict(ignore_index=1)])
def test_cross_entropy_loss_matches_torch(kwargs):
    _compare(nn.CrossEntropyLoss(**kwargs), torch.nn.CrossEntropyLoss(**kwargs), LOGITS, TARGET)


def test_weighted_cross_entropy_and_nll_match_torch_and_keep_weight_buffer():
    loss = nn.CrossEntropyLoss(weight=WEIGHT)
    _compare(loss, torch.nn.CrossEntropyLoss(weight=torch.tensor(WEIGHT)), LOGITS, TARGET)
    assert list(loss.state_dict()) == ["weight"]
    logp = torch.log_softmax(torch.tensor(LOGITS), 1).numpy()
    _compare(nn.NLLLoss(weight=WEIGHT), torch.nn.NLLLoss(weight=torch.tensor(WEIGHT)), logp, TARGET)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_bce_with_logits_match_torch(reduction):
    target = RNG.random((6, 4))
    _compare(nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction), LOGITS,
             striate.tensor(target), torch.tensor(target))
    pw = np.array([1.0, 2.0, 3.0, 0.5])
    _compare(nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=pw),
             torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(pw)),
             LOGITS, striate.tensor(target), torch.tensor(target))


def test_loss_bad_reduction_and_bad_target_are_clear():
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be one of"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"^CrossEntropyLoss: cross_entropy: "):
        nn.CrossEntropyLoss()(striate.tensor(LOGITS), np.array([0, 1, 2, 3, 4, 9]))
