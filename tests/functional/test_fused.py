"""conv2d_bn (inference folding of conv -> batch norm -> ReLU/ReLU6) and batch_norm's fused
activation in training: torch parity through every convolution kernel, gradients, layouts,
the conv kernels' in-block clamp, and bad arguments."""
import numpy as np
import pytest

import striate
import striate.functional as F
from striate.functional import _pointwise
from striate.functional._conv_args import conv_args
from striate.functional.conv import Conv2dFunction
from striate.tensor import apply
from tests.functional.test_conv import randn
from tests.functional.test_conv_kernels import chosen_kind

torch = pytest.importorskip("torch")
tF = torch.nn.functional

TORCH_ACT = {None: lambda y: y, "relu": tF.relu, "relu6": tF.relu6}

# (x shape, w shape, conv kwargs, the kernel conv2d picks): every kernel's epilogue
CASES = [
    ((2, 16, 9, 9), (16, 16, 3, 3), dict(padding=1), "mec"),
    ((2, 16, 9, 9), (16, 16, 3, 3), dict(padding=1, stride=2), "mec"),
    ((2, 70, 6, 6), (20, 70, 3, 3), dict(padding=1), "im2col"),
    ((2, 3, 11, 11), (16, 3, 3, 3), dict(padding=1), "nchw"),
    ((2, 1, 12, 12), (6, 1, 5, 5), dict(padding=2), "banded"),
    ((2, 8, 7, 7), (8, 1, 3, 3), dict(padding=1, groups=8), "depthwise"),
    ((2, 12, 6, 5), (20, 12, 1, 1), {}, "pointwise"),
    ((2, 12, 7, 7), (20, 12, 1, 1), dict(stride=2), "pointwise"),
    ((0, 16, 5, 5), (16, 16, 3, 3), dict(padding=1), "empty"),
]


def bn_params(rng, c, dtype=np.float64):
    """Running mean, running var (positive), weight, bias: none of them trivial."""
    return (randn(rng, c, dtype=dtype), rng.uniform(0.2, 3, c).astype(dtype),
            rng.uniform(-2, 2, c).astype(dtype), randn(rng, c, dtype=dtype))


def torch_conv_bn(x, w, b, stats, eps, act, **kw):
    rm, rv, g, beta = (torch.tensor(a) for a in stats)
    y = tF.conv2d(torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b), **kw)
    return TORCH_ACT[act](tF.batch_norm(y, rm, rv, g, beta, training=False, eps=eps)).numpy()


def kind_of(xs, ws, kw):
    _, _, _, g = conv_args("t", np.zeros(xs), np.zeros(ws), None, kw.get("stride", 1),
                            kw.get("padding", 0), 1, kw.get("groups", 1), 2)
    return chosen_kind(xs, ws, g) if xs[0] else "empty"


@pytest.mark.parametrize("act", [None, "relu", "relu6"])
@pytest.mark.parametrize("xs,ws,kw,kind", CASES)
def test_conv2d_bn_folded_matches_torch_conv_then_batch_norm(xs, ws, kw, kind, act):
    assert kind_of(xs, ws, kw) == kind
    rng = np.random.default_rng(0)
    x, w, b = randn(rng, *xs) * 3, randn(rng, *ws), randn(rng, ws[0])
    stats = bn_params(rng, ws[0])
    y = F.conv2d_bn(x, w, b, *(stats[:2]), striate.tensor(stats[2]), striate.tensor(stats[3]),
                    eps=1e-3, activation=act, **kw)
    expected = torch_conv_bn(x, w, b, stats, 1e-3, act, **kw)
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-10)
    if act is not None and x.size:  # the clamp did something
        assert (expected == 0).any()


def test_conv2d_bn_float32_without_conv_bias_or_affine_matches_torch():
    rng = np.random.default_rng(1)
    x, w = randn(rng, 4, 16, 8, 8, dtype=np.float32), randn(rng, 32, 16, 3, 3, dtype=np.float32)
    rm, rv, _, _ = bn_params(rng, 32, np.float32)
    y = F.conv2d_bn(x, w, None, rm, rv, padding=1, activation="relu6")
    assert y.dtype == np.float32
    t = tF.batch_norm(tF.conv2d(torch.tensor(x), torch.tensor(w), padding=1),
                      torch.tensor(rm), torch.tensor(rv), training=False)
    np.testing.assert_allclose(y.data, tF.relu6(t).numpy(), rtol=1e-5, atol=1e-5)


def test_conv2d_bn_reads_channels_last_input_like_nchw():
    rng = np.random.default_rng(2)
    x, w = randn(rng, 3, 16, 6, 6), randn(rng, 16, 16, 3, 3)
    stats = bn_params(rng, 16)
    last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    args = (w, None, *stats[:2], striate.tensor(stats[2]), striate.tensor(stats[3]))
    np.testing.assert_allclose(F.conv2d_bn(last, *args, padding=1, activation="relu").data,
                               F.conv2d_bn(x, *args, padding=1, activation="relu").data,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act", [None, "relu6"])
def test_conv2d_bn_with_a_gradient_needed_runs_the_ops_and_matches_torch_gradients(act):
    rng = np.random.default_rng(3)
    x, w = randn(rng, 2, 4, 6, 6) * 4, randn(rng, 5, 4, 3, 3)
    rm, rv, g, beta = bn_params(rng, 5)
    xs, ws, gs = (striate.tensor(a, requires_grad=True) for a in (x, w, g))
    y = F.conv2d_bn(xs, ws, None, rm, rv, gs, striate.tensor(beta), padding=1, activation=act)
    gy = randn(rng, *y.shape)
    y.backward(gy)
    xt, wt, gt = (torch.tensor(a, requires_grad=True) for a in (x, w, g))
    yt = TORCH_ACT[act](tF.batch_norm(tF.conv2d(xt, wt, padding=1), torch.tensor(rm),
                                      torch.tensor(rv), gt, torch.tensor(beta)))
    yt.backward(torch.tensor(gy))
    for ours, theirs in ((y.data, yt), (xs.grad.data, xt.grad), (ws.grad.data, wt.grad),
                         (gs.grad.data, gt.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-10)


def test_fold_batch_norm_gives_the_weight_and_bias_of_the_composition():
    rng = np.random.default_rng(4)
    w, b = randn(rng, 3, 2, 1, 1), randn(rng, 3)
    rm, rv, g, beta = bn_params(rng, 3)
    wf, bf = F.fold_batch_norm(w, b, rm, rv, g, beta, eps=0.5)
    s = g / np.sqrt(rv + 0.5)
    np.testing.assert_allclose(wf, w * s[:, None, None, None], rtol=1e-14)
    np.testing.assert_allclose(bf, (b - rm) * s + beta, rtol=1e-14)
    wf, bf = F.fold_batch_norm(w, None, rm, rv)
    np.testing.assert_allclose(bf, -rm / np.sqrt(rv + 1e-5), rtol=1e-14)


def test_fold_batch_norm_scales_float32_weights_in_float32_within_an_ulp():
    """The scale is computed in float64 and rounded once; the product stays float32 (no float64
    copy of the weights): within 2 float32 ulps of the float64 product."""
    rng = np.random.default_rng(6)
    w, b = randn(rng, 8, 4, 3, 3, dtype=np.float32), randn(rng, 8, dtype=np.float32)
    rm, rv, g, beta = (a.astype(np.float32) for a in bn_params(rng, 8))
    wf, bf = F.fold_batch_norm(w, b, rm, rv, g, beta)
    assert wf.dtype == bf.dtype == np.float32
    s = g.astype(np.float64) / np.sqrt(rv.astype(np.float64) + 1e-5)
    np.testing.assert_allclose(wf, w * s[:, None, None, None], rtol=2.4e-7, atol=0)
    np.testing.assert_allclose(bf, (b.astype(np.float64) - rm) * s + beta, rtol=1.2e-7)


def test_pointwise_epilogue_blocks_split_rows_and_samples_exactly(monkeypatch):
    rng = np.random.default_rng(5)
    x, w, b = randn(rng, 3, 7, 5, 6), randn(rng, 9, 7, 1, 1), randn(rng, 9)
    expect = np.clip(np.einsum("nchw,oc->nohw", x, w[:, :, 0, 0]) + b[:, None, None], 0, 6)
    monkeypatch.setattr(_pointwise, "EPILOGUE_BYTES", 1)  # one image row (or sample) per GEMM
    for memory in (x, np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)):
        xs = striate.tensor(memory)
        y = apply(Conv2dFunction, xs, striate.tensor(w), striate.tensor(b),
                  geometry=conv_args("t", xs, w, b, 1, 0, 1, 1, 2)[3], clamp=(0.0, 6.0))
        np.testing.assert_allclose(y.data, expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act", ["relu", "relu6"])
@pytest.mark.parametrize("xs,ws,kw,kind", CASES)
def test_conv2d_activation_matches_torch_forward_and_gradients_in_every_kernel(xs, ws, kw, kind,
                                                                              act):
    rng = np.random.default_rng(11)
    x, w, b = randn(rng, *xs) * 2, randn(rng, *ws), randn(rng, ws[0])
    sx, sw, sb = (striate.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(sx, sw, sb, activation=act, **kw)
    gy = randn(rng, *y.shape) + 0.5
    y.backward(gy)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = TORCH_ACT[act](tF.conv2d(tx, tw, tb, **kw))
    yt.backward(torch.tensor(gy))
    for name, ours, theirs in (("y", y.data, yt), ("gx", sx.grad.data, tx.grad),
                               ("gw", sw.grad.data, tw.grad), ("gb", sb.grad.data, tb.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=name)
    if x.size:
        assert (y.data == 0).any() and (y.data > 0).any()


def test_conv2d_activation_gradcheck_relu6_with_values_above_6():
    rng = np.random.default_rng(12)
    x, w = randn(rng, 2, 3, 5, 5) * 3, randn(rng, 4, 3, 3, 3) * 2
    assert striate.testing.gradcheck(
        lambda a, k: F.conv2d(a, k, padding=1, activation="relu6"),
        (striate.tensor(x, requires_grad=True), striate.tensor(w, requires_grad=True)))
    assert (F.conv2d(x, w, padding=1, activation="relu6").data == 6).any()


@pytest.mark.parametrize("call,exc,match", [
    (lambda a: F.conv2d_bn(*a, activation="gelu"), ValueError, "conv2d_bn: activation must be"),
    (lambda a: F.conv2d_bn(*a, activation=["relu"]), ValueError, "activation must be"),
    (lambda a: F.conv2d_bn(a[0], a[1], None, None, None), ValueError, "needs running_mean"),
    (lambda a: F.conv2d_bn(a[0], a[1], None, np.zeros(3), a[4]), ValueError,
     r"conv2d_bn: running_mean has shape \(3,\), expected \(4,\)"),
    (lambda a: F.conv2d_bn(a[0][:, :1], *a[1:]), ValueError, "conv2d_bn: input has 1 channels"),
    (lambda a: F.batch_norm(a[0], None, None, activation="tanh"), ValueError,
     "batch_norm: activation must be"),
    (lambda a: F.conv2d(a[0], a[1], activation="tanh"), ValueError, "conv2d: activation must"),
    (lambda a: F.add_relu("x", a[0]), TypeError, "add_relu: expected a Tensor or an ndarray"),
])
def test_bad_arguments_raise_clear_errors(call, exc, match):
    args = (np.ones((2, 2, 4, 4)), np.ones((4, 2, 3, 3)), None, np.zeros(4), np.ones(4))
    with pytest.raises(exc, match=match):
        call(args)


# ---- batch_norm(activation=...) ----
def channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("act", ["relu", "relu6"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_activation_matches_torch_with_gradients_and_running_stats(act, training,
                                                                             layout):
    rng = np.random.default_rng(6)
    x = randn(rng, 4, 6, 5, 5) * 3 + 1
    x = channels_last(x) if layout == "channels_last" else x
    rm, rv, g, beta = bn_params(rng, 6)
    gy = randn(rng, *x.shape)
    xs, gs, bs = (striate.tensor(a, requires_grad=True) for a in (x, g, beta))
    rms, rvs = rm.copy(), rv.copy()
    y = F.batch_norm(xs, rms, rvs, gs, bs, training=training, activation=act)
    y.backward(gy)
    xt, gt, bt = (torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in (x, g, beta))
    rmt, rvt = torch.tensor(rm), torch.tensor(rv)
    yt = TORCH_ACT[act](tF.batch_norm(xt, rmt, rvt, gt, bt, training=training))
    yt.backward(torch.tensor(np.ascontiguousarray(gy)))
    assert (yt.detach().numpy() == 0).any()
    for name, ours, theirs in (("y", y.data, yt), ("gx", xs.grad.data, xt.grad),
                               ("gw", gs.grad.data, gt.grad), ("gb", bs.grad.data, bt.grad),
                               ("running_mean", rms, rmt), ("running_var", rvs, rvt)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=name)


def test_batch_norm_activation_with_only_the_bias_needing_a_gradient():
    rng = np.random.default_rng(7)
    x, beta = randn(rng, 3, 4, 3, 3), randn(rng, 4)
    bs = striate.tensor(beta, requires_grad=True)
    F.batch_norm(x, None, None, None, bs, training=True, activation="relu").sum().backward()
    bt = torch.tensor(beta, requires_grad=True)
    tF.relu(tF.batch_norm(torch.tensor(x), None, None, None, bt, training=True)).sum().backward()
    np.testing.assert_allclose(bs.grad.data, bt.grad.numpy(), rtol=1e-10)


def test_batch_norm_activation_gradcheck():
    rng = np.random.default_rng(8)
    x, g, beta = randn(rng, 3, 2, 3, 3) * 2, rng.uniform(0.5, 2, 2), randn(rng, 2)
    assert striate.testing.gradcheck(
        lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True, activation="relu6"),
        (striate.tensor(x, requires_grad=True), striate.tensor(g, requires_grad=True),
         striate.tensor(beta, requires_grad=True)))


# ---- add_relu ----
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "mixed"])
def test_add_relu_matches_torch_with_both_gradients(layout):
    rng = np.random.default_rng(9)
    a, b = randn(rng, 3, 4, 5, 5), randn(rng, 3, 4, 5, 5)
    sa = channels_last(a) if layout != "nchw" else a
    sb = channels_last(b) if layout == "channels_last" else b
    ta, tb = (striate.tensor(v, requires_grad=True) for v in (sa, sb))
    y = F.add_relu(ta, tb)
    gy = randn(rng, *y.shape)
    y.backward(gy)
    xa, xb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    yt = tF.relu(xa + xb)
    yt.backward(torch.tensor(gy))
    assert y.data.flags.c_contiguous == sa.flags.c_contiguous  # a's layout
    for ours, theirs in ((y.data, yt), (ta.grad.data, xa.grad), (tb.grad.data, xb.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_add_relu_broadcasting_and_gradcheck():
    rng = np.random.default_rng(10)
    a, b = randn(rng, 2, 3, 4), randn(rng, 3, 1)
    np.testing.assert_allclose(F.add_relu(a, b).data, np.maximum(a + b, 0), rtol=1e-12)
    assert striate.testing.gradcheck(F.add_relu, (striate.tensor(a, requires_grad=True),
                                                  striate.tensor(b, requires_grad=True)))
    c = randn(rng, 2, 3, 4)
    assert striate.testing.gradcheck(F.add_relu, (striate.tensor(a, requires_grad=True),
                                                  striate.tensor(c, requires_grad=True)))
