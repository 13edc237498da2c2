"""Losses: torch parity (float64) over weights, smoothing, ignore_index and reductions;
finite differences; extreme logits; dtypes; clear errors."""
import itertools

import numpy as np
import pytest

import striate
import striate.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]
# logits shape -> target shape
CLASS_SHAPES = {(6, 4): (6,), (3, 4, 2, 3): (3, 2, 3), (4,): ()}


def _class_problem(shape, seed, ignore=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2
    t = rng.integers(0, shape[0 if len(shape) == 1 else 1], CLASS_SHAPES[shape])
    if ignore and t.ndim:
        t.flat[1] = -100
    return x, t


def _check_torch(fn, tfn, arrays, rtol=1e-7, atol=1e-12, seed=1):
    """Forward and every float input's gradient against torch, under a random upstream gradient."""
    xs = [striate.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = fn(*xs), tfn(*ts)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    gy = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    for k, (a, b) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"grad of input {k}")


# ---- cross_entropy / nll_loss ----
CE_CASES = list(itertools.product(CLASS_SHAPES, [False, True], [0.0, 0.1], REDUCTIONS))


@pytest.mark.parametrize("shape, weighted, smoothing, reduction", CE_CASES, ids=str)
def test_cross_entropy_matches_torch(shape, weighted, smoothing, reduction):
    x, t = _class_problem(shape, seed=len(shape))
    C = shape[0 if len(shape) == 1 else 1]
    w = np.linspace(0.5, 2.0, C) if weighted else None
    tw = None if w is None else torch.tensor(w)
    _check_torch(
        lambda a: F.cross_entropy(a, t, weight=w, reduction=reduction, label_smoothing=smoothing),
        lambda a: TF.cross_entropy(a, torch.tensor(t), weight=tw, reduction=reduction,
                                   label_smoothing=smoothing),
        [x],
    )


@pytest.mark.parametrize("shape, weighted, reduction",
                         list(itertools.product(CLASS_SHAPES, [False, True], REDUCTIONS)), ids=str)
def test_nll_loss_matches_torch(shape, weighted, reduction):
    x, t = _class_problem(shape, seed=3)
    axis = 0 if len(shape) == 1 else 1
    lp = np.log(np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True))
    w = np.linspace(2.0, 0.5, shape[axis]) if weighted else None
    tw = None if w is None else torch.tensor(w)
    _check_torch(lambda a: F.nll_loss(a, t, weight=w, reduction=reduction),
                 lambda a: TF.nll_loss(a, torch.tensor(t), weight=tw, reduction=reduction), [lp])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", list(CLASS_SHAPES), ids=str)
def test_cross_entropy_grad_matches_finite_differences(shape, reduction):
    x, t = _class_problem(shape, seed=5)
    w = np.linspace(0.5, 2.0, shape[0 if len(shape) == 1 else 1])
    assert striate.gradcheck(
        lambda a: F.cross_entropy(a, t, weight=w, reduction=reduction, label_smoothing=0.2), [x])
    assert striate.gradcheck(lambda a: F.nll_loss(a, t, weight=w, reduction=reduction), [x])


def test_cross_entropy_target_as_tensor_equals_ndarray():
    x, t = _class_problem((6, 4), seed=0)
    a = F.cross_entropy(striate.tensor(x), t)
    b = F.cross_entropy(striate.tensor(x), striate.tensor(t.astype(np.int32)))
    np.testing.assert_allclose(a.data, b.data, rtol=1e-15)


def test_cross_entropy_known_value():
    # uniform logits over 4 classes: loss = log 4 whatever the target
    loss = F.cross_entropy(striate.tensor(np.zeros((3, 4))), np.array([0, 2, 3]))
    np.testing.assert_allclose(loss.item(), np.log(4), rtol=1e-15)


def test_cross_entropy_equals_nll_of_log_softmax():
    x, t = _class_problem((3, 4, 2, 3), seed=7)
    a = F.cross_entropy(striate.tensor(x), t, reduction="none")
    b = F.nll_loss(F.log_softmax(striate.tensor(x), axis=1), t, reduction="none")
    np.testing.assert_allclose(a.data, b.data, rtol=1e-13)


def test_cross_entropy_ignored_targets_get_no_gradient():
    x, t = _class_problem((6, 4), seed=0)
    xs = striate.tensor(x, requires_grad=True)
    F.cross_entropy(xs, t, label_smoothing=0.1).backward()
    np.testing.assert_array_equal(xs.grad.data[1], 0.0)
    assert np.abs(xs.grad.data[0]).sum() > 0


def test_cross_entropy_custom_ignore_index_matches_torch():
    x, t = _class_problem((6, 4), seed=2, ignore=False)
    t[[0, 3]] = 2
    _check_torch(lambda a: F.cross_entropy(a, t, ignore_index=2, label_smoothing=0.3),
                 lambda a: TF.cross_entropy(a, torch.tensor(t), ignore_index=2,
                                            label_smoothing=0.3), [x])


def test_cross_entropy_all_ignored_mean_is_nan_like_torch():
    x = np.zeros((2, 3))
    t = np.array([-100, -100])
    y = F.cross_entropy(striate.tensor(x), t)
    assert np.isnan(y.item()) and np.isnan(TF.cross_entropy(torch.tensor(x), torch.tensor(t)).item())


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_is_finite_for_logits_of_1000(smoothing):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]])
    t = np.array([1, 0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        xs = striate.tensor(x, requires_grad=True)
        y = F.cross_entropy(xs, t, label_smoothing=smoothing)
        y.backward()
    assert np.isfinite(y.item()) and np.isfinite(xs.grad.data).all()
    _check_torch(lambda a: F.cross_entropy(a, t, label_smoothing=smoothing),
                 lambda a: TF.cross_entropy(a, torch.tensor(t), label_smoothing=smoothing), [x])


# ---- mse_loss ----
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)], ids=str)
def test_mse_loss_matches_torch_and_finite_differences(shape, reduction):
    rng = np.random.default_rng(len(shape))
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    _check_torch(lambda a, b: F.mse_loss(a, b, reduction),
                 lambda a, b: TF.mse_loss(a, b, reduction=reduction), [x, t])
    assert striate.gradcheck(lambda a, b: F.mse_loss(a, b, reduction), [x, t])


# ---- binary cross entropy ----
BCE_CASES = list(itertools.product(REDUCTIONS, [False, True], [False, True]))


@pytest.mark.parametrize("reduction, weighted, pos_weighted", BCE_CASES, ids=str)
def test_bce_with_logits_matches_torch_and_finite_differences(reduction, weighted, pos_weighted):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)) * 3, rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 2, (4, 1)) if weighted else None
    pw = np.array([0.5, 1.0, 3.0]) if pos_weighted else None
    kw = dict(weight=w, reduction=reduction, pos_weight=pw)
    tkw = dict(weight=None if w is None else torch.tensor(w), reduction=reduction,
               pos_weight=None if pw is None else torch.tensor(pw))
    _check_torch(lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kw),
                 lambda a, b: TF.binary_cross_entropy_with_logits(a, b, **tkw), [x, t])
    assert striate.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kw), [x, t])


@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_is_finite_for_logits_of_1000(pos_weighted):
    x, t = np.array([1000.0, -1000.0, 1000.0, -1000.0]), np.array([0.0, 1.0, 1.0, 0.0])
    pw = np.array(2.0) if pos_weighted else None
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = F.binary_cross_entropy_with_logits(striate.tensor(x), striate.tensor(t), pos_weight=pw,
                                               reduction="none")
    np.testing.assert_allclose(y.data, [1000.0, 1000.0 * (2 if pos_weighted else 1), 0.0, 0.0])
    _check_torch(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw),
        lambda a, b: TF.binary_cross_entropy_with_logits(
            a, b, pos_weight=None if pw is None else torch.tensor(pw)), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch_and_finite_differences(reduction, weighted):
    rng = np.random.default_rng(1)
    p, t = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, (4,)) if weighted else None
    tw = None if w is None else torch.tensor(w)
    _check_torch(lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction=reduction),
                 lambda a, b: TF.binary_cross_entropy(a, b, weight=tw, reduction=reduction), [p, t])
    assert striate.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w, reduction), [p, t])


def test_binary_cross_entropy_clamps_log_at_saturated_probabilities_like_torch():
    p, t = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    y = F.binary_cross_entropy(striate.tensor(p), striate.tensor(t), reduction="none")
    np.testing.assert_allclose(y.data, [100.0, 100.0, 0.0, 0.0])
    _check_torch(lambda a: F.binary_cross_entropy(a, striate.tensor(t)),
                 lambda a: TF.binary_cross_entropy(a, torch.tensor(t)), [p])


# ---- dtypes ----
ONES32 = np.ones((3, 4), np.float32)
LOSSES = {
    "cross_entropy": lambda x, r: F.cross_entropy(x, np.array([0, 2, 1]), reduction=r),
    "cross_entropy_smoothed": lambda x, r: F.cross_entropy(x, np.array([0, 2, 1]), reduction=r,
                                                           label_smoothing=0.1),
    "nll_loss": lambda x, r: F.nll_loss(x, np.array([0, 2, 1]), reduction=r),
    "mse_loss": lambda x, r: F.mse_loss(x, striate.tensor(ONES32), r),
    "bce_with_logits": lambda x, r: F.binary_cross_entropy_with_logits(
        x, striate.tensor(ONES32), reduction=r, pos_weight=np.full(4, 2.0, np.float32)),
    "bce": lambda x, r: F.binary_cross_entropy(F.sigmoid(x), striate.tensor(ONES32), reduction=r),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSSES)
def test_loss_float32_stays_float32(name, reduction):
    x = striate.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32),
                       requires_grad=True)
    y = LOSSES[name](x, reduction)
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


# ---- errors ----
def test_cross_entropy_target_out_of_range_names_value_and_range():
    with pytest.raises(ValueError, match=r"cross_entropy: target value 5 is out of range for 4 "
                                         r"classes \(expected 0 <= target < 4"):
        F.cross_entropy(striate.tensor(np.zeros((3, 4))), np.array([0, 5, 1]))
    with pytest.raises(ValueError, match=r"target value -1 is out of range"):
        F.nll_loss(striate.tensor(np.zeros((3, 4))), np.array([0, -1, 1]))


def test_cross_entropy_float_target_is_a_type_error():
    with pytest.raises(TypeError, match=r"cross_entropy: target must hold integer class indices, "
                                        r"got dtype float64"):
        F.cross_entropy(striate.tensor(np.zeros((3, 4))), np.array([0.0, 1.0, 2.0]))


def test_cross_entropy_batch_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(3, 4\) needs a target of "
                                         r"shape \(3,\), got \(5,\)"):
        F.cross_entropy(striate.tensor(np.zeros((3, 4))), np.zeros(5, np.int64))
    with pytest.raises(ValueError, match=r"needs a target of shape \(2, 5, 5\), got \(2, 5\)"):
        F.cross_entropy(striate.tensor(np.zeros((2, 3, 5, 5))), np.zeros((2, 5), np.int64))


@pytest.mark.parametrize("fn", [
    lambda r: F.cross_entropy(striate.tensor(np.zeros((2, 3))), np.array([0, 1]), reduction=r),
    lambda r: F.nll_loss(striate.tensor(np.zeros((2, 3))), np.array([0, 1]), reduction=r),
    lambda r: F.mse_loss(striate.tensor(np.zeros(2)), striate.tensor(np.zeros(2)), r),
    lambda r: F.binary_cross_entropy_with_logits(striate.tensor(np.zeros(2)),
                                                 striate.tensor(np.zeros(2)), reduction=r),
])
def test_bad_reduction_is_a_clear_error(fn):
    with pytest.raises(ValueError, match=r"reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        fn("avg")


def test_cross_entropy_bad_weight_and_smoothing_are_clear_errors():
    x, t = striate.tensor(np.zeros((2, 3))), np.array([0, 1])
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\) for 3 classes, got \(4,\)"):
        F.cross_entropy(x, t, weight=np.ones(4))
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\], got 1.5"):
        F.cross_entropy(x, t, label_smoothing=1.5)


def test_elementwise_losses_reject_shape_mismatch():
    a, b = striate.tensor(np.zeros((4, 1))), striate.tensor(np.zeros(4))
    for fn in (F.mse_loss, F.binary_cross_entropy_with_logits, F.binary_cross_entropy):
        with pytest.raises(ValueError, match=r"input of shape \(4, 1\) and target of shape \(4,\)"):
            fn(a, b)


def test_bce_rejects_probabilities_outside_unit_interval_and_bad_pos_weight():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities"):
        F.binary_cross_entropy(striate.tensor(np.array([0.5, 1.5])), striate.tensor(np.ones(2)))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\) does not broadcast to input"):
        F.binary_cross_entropy_with_logits(striate.tensor(np.zeros((2, 4))),
                                           striate.tensor(np.zeros((2, 4))), pos_weight=np.ones(3))
