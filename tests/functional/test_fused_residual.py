"""conv2d_bn with a residual: a residual block's relu(bn(conv(x)) + shortcut), at inference added
to each block of the folded convolution's output in the kernel's epilogue."""
import numpy as np
import pytest

import striate
import striate.functional as F
from striate import threads
from striate.functional import _im2col, _mec, _pointwise
from striate.functional._conv_args import conv_args
from striate.functional.conv import Conv2dFunction
from striate.tensor import apply
from tests.functional.test_conv import randn
from tests.functional.test_fused import CASES, TORCH_ACT, bn_params, kind_of, torch_conv_bn

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def out_shape(xs, ws, kw):
    s, p = kw.get("stride", 1), kw.get("padding", 0)
    return (xs[0], ws[0]) + tuple((n + 2 * p - k) // s + 1 for n, k in zip(xs[2:], ws[2:]))


def channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def folded(x, w, b, stats, act, r, **kw):
    return F.conv2d_bn(x, w, b, *stats[:2], striate.tensor(stats[2]), striate.tensor(stats[3]),
                       eps=1e-3, activation=act, residual=r, **kw)


@pytest.mark.parametrize("memory", ["nchw", "channels_last"])
@pytest.mark.parametrize("act", [None, "relu", "relu6"])
@pytest.mark.parametrize("xs,ws,kw,kind", CASES)
def test_conv2d_bn_residual_matches_torch_in_every_kernel(xs, ws, kw, kind, act, memory):
    assert kind_of(xs, ws, kw) == kind
    rng = np.random.default_rng(20)
    x, w, b = randn(rng, *xs) * 3, randn(rng, *ws), randn(rng, ws[0])
    stats = bn_params(rng, ws[0])
    r = randn(rng, *out_shape(xs, ws, kw)) * 3
    r = channels_last(r) if memory == "channels_last" else r
    y = folded(x, w, b, stats, act, striate.tensor(r), **kw)
    expected = TORCH_ACT[act](torch.tensor(torch_conv_bn(x, w, b, stats, 1e-3, None, **kw))
                              + torch.tensor(r)).numpy()
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-10)
    if act is not None and x.size:  # the clamp cut something the residual did not lift
        assert (expected == 0).any()


@pytest.mark.parametrize("act", [None, "relu", "relu6"])
@pytest.mark.parametrize("xs,ws,kw,kind", CASES)
def test_conv2d_bn_residual_sums_in_the_order_of_the_unfused_ops(xs, ws, kw, kind, act):
    # float32, so a different order of the three sums would show in the last bits
    rng = np.random.default_rng(21)
    x, w = randn(rng, *xs, dtype=np.float32), randn(rng, *ws, dtype=np.float32)
    stats = bn_params(rng, ws[0], np.float32)
    r = randn(rng, *out_shape(xs, ws, kw), dtype=np.float32)
    with striate.no_grad():
        y = folded(x, w, None, stats, act, striate.tensor(r), **kw).data
        z = folded(x, w, None, stats, None, None, **kw) + striate.tensor(r)
        z = z if act is None else {"relu": F.relu, "relu6": F.relu6}[act](z)
    np.testing.assert_array_equal(y, z.data)


@pytest.mark.parametrize("xs,ws,kw", [
    ((5, 70, 6, 6), (20, 70, 3, 3), dict(padding=1)),  # im2col: rows of one sample per block
    ((5, 16, 9, 9), (16, 16, 3, 3), dict(padding=1)),  # mec: one sample per block
    ((5, 12, 6, 5), (20, 12, 1, 1), {}),  # pointwise: one image row per GEMM
])
def test_conv2d_bn_residual_blocks_take_the_same_block_of_the_shortcut(monkeypatch, xs, ws, kw):
    rng = np.random.default_rng(22)
    x, w = randn(rng, *xs), randn(rng, *ws)
    stats = bn_params(rng, ws[0])
    r = channels_last(randn(rng, *out_shape(xs, ws, kw)))
    expected = tF.relu(torch.tensor(torch_conv_bn(x, w, None, stats, 1e-3, None, **kw))
                       + torch.tensor(r)).numpy()
    # one sample (or image row) per block, and the batch split over three threads
    monkeypatch.setattr(_im2col, "BLOCK_BYTES", 1)
    monkeypatch.setattr(_mec, "BLOCK_BYTES", 1)
    monkeypatch.setattr(_mec, "fits", lambda *a, **k: ws[1] == 16)  # mec despite tiny blocks
    monkeypatch.setattr(_pointwise, "EPILOGUE_BYTES", 1)
    monkeypatch.setattr(threads, "MIN_MACS", 1)
    before = threads.get_num_threads()
    threads.set_num_threads(3)
    try:
        for memory in (x, channels_last(x)):
            got = folded(memory, w, None, stats, "relu", striate.tensor(r), **kw).data
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    finally:
        threads.set_num_threads(before)


def test_conv2d_bn_residual_with_gradients_runs_the_ops_and_matches_torch():
    rng = np.random.default_rng(23)
    x, w, r = randn(rng, 2, 4, 6, 6) * 2, randn(rng, 5, 4, 3, 3), randn(rng, 2, 5, 6, 6)
    rm, rv, g, beta = bn_params(rng, 5)
    xs, ws, rs = (striate.tensor(a, requires_grad=True) for a in (x, w, r))
    y = F.conv2d_bn(xs, ws, None, rm, rv, striate.tensor(g), striate.tensor(beta), padding=1,
                    activation="relu", residual=rs)
    gy = randn(rng, *y.shape)
    y.backward(gy)
    xt, wt, rt = (torch.tensor(a, requires_grad=True) for a in (x, w, r))
    yt = tF.relu(tF.batch_norm(tF.conv2d(xt, wt, padding=1), torch.tensor(rm), torch.tensor(rv),
                               torch.tensor(g), torch.tensor(beta)) + rt)
    yt.backward(torch.tensor(gy))
    for name, ours, theirs in (("y", y.data, yt), ("gx", xs.grad.data, xt.grad),
                               ("gw", ws.grad.data, wt.grad), ("gr", rs.grad.data, rt.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=name)
    assert (rs.grad.data == 0).any() and (rs.grad.data != 0).any()  # the ReLU's mask


def test_conv2d_bn_residual_that_broadcasts_is_added_by_the_add_op():
    rng = np.random.default_rng(24)
    x, w, r = randn(rng, 2, 16, 5, 5), randn(rng, 16, 16, 3, 3), randn(rng, 1, 16, 1, 1)
    stats = bn_params(rng, 16)
    with striate.no_grad():
        y = folded(x, w, None, stats, "relu6", striate.tensor(r), padding=1).data
    expected = tF.relu6(torch.tensor(torch_conv_bn(x, w, None, stats, 1e-3, None, padding=1))
                        + torch.tensor(r)).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)


def test_conv2d_bn_residual_of_the_wrong_shape_raises_the_adds_error():
    rng = np.random.default_rng(25)
    x, w, r = randn(rng, 2, 16, 5, 5), randn(rng, 16, 16, 3, 3), randn(rng, 2, 16, 4, 4)
    stats = bn_params(rng, 16)
    with pytest.raises(ValueError, match=r"\(2, 16, 5, 5\).*\(2, 16, 4, 4\)"):
        folded(x, w, None, stats, "relu", striate.tensor(r), padding=1)


def test_conv2d_function_refuses_a_residual_when_a_gradient_is_needed():
    rng = np.random.default_rng(26)
    x, w = striate.tensor(randn(rng, 1, 16, 4, 4), requires_grad=True), randn(rng, 16, 16, 3, 3)
    g = conv_args("t", x, w, None, 1, 1, 1, 1, 2)[3]
    with pytest.raises(RuntimeError, match="residual is fused at inference only"):
        apply(Conv2dFunction, x, striate.tensor(w), None, geometry=g,
              residual=np.zeros((1, 16, 4, 4)))


@pytest.mark.parametrize("act", ["relu", "relu6", None])
def test_conv2d_bn_residual_gradcheck(act):
    rng = np.random.default_rng(27)
    rm, rv, g, beta = bn_params(rng, 3)
    x, w, r = randn(rng, 2, 2, 4, 4), randn(rng, 3, 2, 3, 3), randn(rng, 2, 3, 4, 4) * 4
    assert striate.testing.gradcheck(
        lambda x, w, r: F.conv2d_bn(x, w, None, rm, rv, striate.tensor(g), striate.tensor(beta),
                                    padding=1, activation=act, residual=r), [x, w, r])
