"""conv2d, conv1d and conv_transpose2d: loop reference, finite differences, torch parity, the
seeds' worked examples, dtypes and empty batches. The kernels against the general path are in
test_conv_kernels.py, bad input in test_conv_errors.py; the helpers here are shared."""
import numpy as np
import pytest

import striate
import striate.functional as F
from striate.functional import _im2col
from striate.functional._conv_args import conv_args
from tests.reference import conv1d_ref, conv2d_ref, conv_transpose2d_ref

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def randn(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def run(fn, x, w, b, gy_seed=1, **kw):
    """Forward and (gx, gw, gb) of striate's ``fn`` for float64 arrays."""
    xs, ws = striate.tensor(x, requires_grad=True), striate.tensor(w, requires_grad=True)
    bs = None if b is None else striate.tensor(b, requires_grad=True)
    y = fn(xs, ws, bs, **kw)
    gy = np.random.default_rng(gy_seed).standard_normal(y.shape).astype(y.dtype)
    y.backward(gy)
    return y.data, gy, xs.grad.data, ws.grad.data, None if b is None else bs.grad.data


def run_torch(fn, x, w, b, gy, **kw):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    y = fn(xt, wt, bt, **kw)
    y.backward(torch.tensor(gy))
    gb = None if b is None else bt.grad.numpy()
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), gb


def assert_all_close(ours, theirs, rtol=1e-7, atol=1e-10):
    for name, a, e in zip(("y", "gx", "gw", "gb"), ours, theirs):
        if e is not None:
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=name)


def assert_matches_torch(fn, x, w, b, rtol=1e-7, atol=1e-10, **kw):
    """striate's ``fn`` (F.conv2d, F.conv1d, ...) and torch's namesake agree on y, gx, gw, gb."""
    y, gy, *grads = run(fn, x, w, b, **kw)
    assert y.dtype == x.dtype
    assert_all_close((y, *grads), run_torch(getattr(tF, fn.__name__), x, w, b, gy, **kw),
                     rtol=rtol, atol=atol)


# (x shape, w shape, kwargs): stride, padding forms, dilation, groups, depthwise, even and 1x1
CONV2D_CASES = [
    ((2, 3, 7, 7), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((1, 2, 8, 7), (3, 2, 3, 2), dict(stride=(2, 3), padding=(1, 2))),
    ((1, 2, 9, 9), (3, 2, 3, 3), dict(dilation=2, padding=2)),
    ((1, 2, 9, 8), (2, 2, 2, 3), dict(dilation=(2, 1), stride=(1, 2))),
    ((2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((2, 4, 6, 5), (4, 1, 3, 3), dict(groups=4, padding=1)),  # depthwise
    ((1, 3, 6, 6), (6, 1, 3, 3), dict(groups=3, stride=2, padding=1)),  # depthwise, multiplier 2
    ((1, 3, 6, 7), (3, 1, 2, 2), dict(groups=3, padding="same", dilation=2)),
    ((2, 3, 5, 5), (4, 3, 1, 1), {}),  # 1x1
    ((1, 3, 5, 5), (4, 3, 1, 1), dict(stride=2, padding=1)),  # 1x1 the fast path refuses
    ((1, 2, 6, 5), (3, 2, 2, 2), dict(padding="same")),  # even kernel
    ((1, 2, 6, 5), (3, 2, 4, 3), dict(padding="same")),
    ((1, 2, 5, 6), (3, 2, 3, 2), dict(padding="full")),
    ((1, 2, 5, 6), (3, 2, 3, 3), dict(padding="valid", stride=2)),
    ((1, 1, 6, 6), (2, 1, 3, 3), dict(padding="full", dilation=2)),
    ((1, 2, 4, 4), (2, 2, 3, 3), dict(padding=3)),  # padding wider than the kernel
]


@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES)
def test_conv2d_forward_matches_loop_reference(rng, xs, ws, kw):
    x, w, b = randn(rng, *xs), randn(rng, *ws), randn(rng, ws[0])
    np.testing.assert_allclose(F.conv2d(x, w, b, **kw).data, conv2d_ref(x, w, b, **kw),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, dict(stride=2, padding=1), dict(padding="same", dilation=2),
                                dict(padding="full"), dict(groups=2, padding=1),
                                dict(groups=4, stride=3)])
def test_conv1d_forward_matches_loop_reference(rng, kw):
    groups = kw.get("groups", 1)
    x, w, b = randn(rng, 2, 4, 11), randn(rng, 2 * groups, 4 // groups, 3), randn(rng, 2 * groups)
    np.testing.assert_allclose(F.conv1d(x, w, b, **kw).data, conv1d_ref(x, w, b, **kw),
                               rtol=1e-10, atol=1e-12)


CONV_T_CASES = [
    ((1, 3, 4, 4), (3, 2, 3, 3), {}),
    ((2, 2, 3, 4), (2, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 3, 3), (4, 1, 2, 3), dict(stride=(2, 1), groups=2, dilation=(1, 2))),
    ((1, 3, 3, 3), (3, 1, 3, 3), dict(groups=3, stride=2)),  # depthwise
    ((1, 3, 4, 3), (3, 2, 1, 1), {}),  # 1x1
    ((1, 2, 3, 3), (2, 2, 1, 1), dict(dilation=2, output_padding=1)),  # 1x1, output grows
    ((1, 2, 3, 3), (2, 2, 2, 2), dict(stride=3, padding=1, output_padding=2)),
    ((2, 2, 4, 3), (2, 3, 3, 3), dict(dilation=2, padding=(0, 1), output_padding=1)),
]


@pytest.mark.parametrize("xs,ws,kw", CONV_T_CASES)
def test_conv_transpose2d_forward_matches_loop_reference(rng, xs, ws, kw):
    x, w = randn(rng, *xs), randn(rng, *ws)
    b = randn(rng, ws[1] * kw.get("groups", 1))
    np.testing.assert_allclose(F.conv_transpose2d(x, w, b, **kw).data,
                               conv_transpose2d_ref(x, w, b, **kw), rtol=1e-10, atol=1e-12)


# ---- finite differences ----
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 2, 5, 5), (3, 2, 3, 3), dict(padding=1)),
    ((1, 2, 6, 5), (2, 2, 3, 2), dict(stride=2, padding=(1, 0), dilation=(1, 2))),
    ((1, 4, 5, 5), (4, 2, 2, 2), dict(groups=2, padding="same")),
    ((1, 3, 5, 4), (6, 1, 3, 3), dict(groups=3, padding="full")),  # depthwise
    ((2, 3, 4, 4), (2, 3, 1, 1), {}),  # 1x1
])
def test_conv2d_gradcheck(rng, xs, ws, kw):
    x, w, b = randn(rng, *xs), randn(rng, *ws), randn(rng, ws[0])
    assert striate.gradcheck(lambda a, c, d: F.conv2d(a, c, d, **kw), [x, w, b])


def test_conv1d_gradcheck(rng):
    x, w, b = randn(rng, 2, 4, 7), randn(rng, 4, 2, 3), randn(rng, 4)
    assert striate.gradcheck(lambda a, c, d: F.conv1d(a, c, d, stride=2, padding=1, groups=2),
                             [x, w, b])


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, output_padding=1),
                                dict(groups=2, dilation=2)])
def test_conv_transpose2d_gradcheck(rng, kw):
    x, w, b = randn(rng, 1, 4, 3, 3), randn(rng, 4, 2, 3, 3), randn(rng, 2 * kw.get("groups", 1))
    assert striate.gradcheck(lambda a, c, d: F.conv_transpose2d(a, c, d, **kw), [x, w, b])


# ---- torch parity (float64, rtol 1e-7) over seeded random configurations ----
def random_conv2d_config(r):
    groups = int(r.choice([1, 1, 2, 3]))
    wide = r.random() < 0.3  # >= 16 channels take other kernels (gathered input gradient)
    cg = int(r.integers(8, 17)) if wide else int(r.integers(1, 4))
    ocg = int(r.integers(1, 4))
    kh, kw = int(r.integers(1, 5)), int(r.integers(1, 5))
    dil = (int(r.integers(1, 3)), int(r.integers(1, 3)))
    mode = ["int", "pair", "same", "valid"][int(r.integers(0, 4))]
    stride = (1, 1) if mode == "same" else (int(r.integers(1, 4)), int(r.integers(1, 4)))
    pad = {"int": int(r.integers(0, 3)), "pair": (int(r.integers(0, 3)), int(r.integers(0, 3))),
           "same": "same", "valid": "valid"}[mode]
    H = int(r.integers(dil[0] * (kh - 1) + 1, 10))
    W = int(r.integers(dil[1] * (kw - 1) + 1, 10))
    xs = (int(r.integers(1, 4)), cg * groups, H, W)
    return xs, (ocg * groups, cg, kh, kw), dict(stride=stride, padding=pad, dilation=dil,
                                                groups=groups)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(24))
def test_conv2d_matches_torch_random_config(seed):
    r = np.random.default_rng(seed)
    xs, ws, kw = random_conv2d_config(r)
    x, w, b = randn(r, *xs), randn(r, *ws), randn(r, ws[0]) if seed % 3 else None
    y, gy, *grads = run(F.conv2d, x, w, b, **kw)
    assert_all_close((y, *grads), run_torch(tF.conv2d, x, w, b, gy, **kw))


@pytest.mark.parametrize("kh,kw,d", [(3, 3, 1), (2, 3, 1), (4, 2, 2), (1, 5, 1)])
def test_conv2d_full_padding_matches_torch_explicit_padding(rng, kh, kw, d):
    x, w, b = randn(rng, 2, 3, 6, 7), randn(rng, 4, 3, kh, kw), randn(rng, 4)
    y, gy, *grads = run(F.conv2d, x, w, b, padding="full", dilation=d)
    expected = run_torch(tF.conv2d, x, w, b, gy, padding=(d * (kh - 1), d * (kw - 1)), dilation=d)
    assert_all_close((y, *grads), expected)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kh,kw,d", [(2, 2, 1), (4, 3, 1), (2, 4, 3), (3, 3, 2)])
def test_conv2d_same_padding_even_kernel_matches_torch(rng, kh, kw, d):
    x, w, b = randn(rng, 2, 3, 6, 7), randn(rng, 4, 3, kh, kw), randn(rng, 4)
    y, gy, *grads = run(F.conv2d, x, w, b, padding="same", dilation=d)
    assert y.shape[2:] == x.shape[2:]
    assert_all_close((y, *grads), run_torch(tF.conv2d, x, w, b, gy, padding="same", dilation=d))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(10))
def test_conv1d_matches_torch_random_config(seed):
    r = np.random.default_rng(100 + seed)
    groups, k, d = int(r.choice([1, 2])), int(r.integers(1, 5)), int(r.integers(1, 3))
    pad = [0, 1, 2, "same", "valid"][int(r.integers(0, 5))]
    stride = 1 if pad == "same" else int(r.integers(1, 4))
    x = randn(r, 2, 2 * groups, int(r.integers(d * (k - 1) + 1, 12)))
    w, b = randn(r, 3 * groups, 2, k), randn(r, 3 * groups)
    kw = dict(stride=stride, padding=pad, dilation=d, groups=groups)
    y, gy, *grads = run(F.conv1d, x, w, b, **kw)
    assert_all_close((y, *grads), run_torch(tF.conv1d, x, w, b, gy, **kw))


@pytest.mark.parametrize("seed", range(16))
def test_conv_transpose2d_matches_torch_random_config(seed):
    r = np.random.default_rng(200 + seed)
    groups = int(r.choice([1, 2]))
    kh, kw = int(r.integers(1, 4)), int(r.integers(1, 4))
    s = (int(r.integers(1, 4)), int(r.integers(1, 4)))
    d = (int(r.integers(1, 3)), int(r.integers(1, 3)))
    p = (int(r.integers(0, 2)), int(r.integers(0, 2)))
    op = tuple(int(r.integers(0, max(si, di))) for si, di in zip(s, d))
    x = randn(r, 2, 2 * groups, int(r.integers(2, 6)), int(r.integers(2, 6)))
    w, b = randn(r, 2 * groups, int(r.integers(1, 4)), kh, kw), None
    if seed % 2:
        b = randn(r, w.shape[1] * groups)
    kwargs = dict(stride=s, padding=p, output_padding=op, groups=groups, dilation=d)
    y, gy, *grads = run(F.conv_transpose2d, x, w, b, **kwargs)
    assert_all_close((y, *grads), run_torch(tF.conv_transpose2d, x, w, b, gy, **kwargs))


def test_conv2d_chained_layers_match_torch(rng):
    # the first conv's output is an NHWC-ordered array; the second must read it correctly
    x, w1, w2 = randn(rng, 2, 3, 8, 8), randn(rng, 5, 3, 3, 3), randn(rng, 4, 5, 3, 3)
    xs, w1s, w2s = (striate.tensor(a, requires_grad=True) for a in (x, w1, w2))
    y = F.conv2d(F.conv2d(xs, w1s, padding=1) * 2.0, w2s, stride=2)
    y.sum().backward()
    xt, w1t, w2t = (torch.tensor(a, requires_grad=True) for a in (x, w1, w2))
    yt = tF.conv2d(tF.conv2d(xt, w1t, padding=1) * 2.0, w2t, stride=2)
    yt.sum().backward()
    for a, e in ((y.data, yt.detach()), (xs.grad.data, xt.grad), (w1s.grad.data, w1t.grad),
                 (w2s.grad.data, w2t.grad)):
        np.testing.assert_allclose(a, e.numpy(), rtol=1e-7, atol=1e-10)


# ---- the seeds' worked examples ----
@pytest.mark.parametrize("mode,size", [("valid", 3), ("same", 5), ("full", 7)])
def test_seed_5x5_input_3x3_kernel_output_sizes(mode, size):
    y = F.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), padding=mode)
    assert y.shape == (1, 1, size, size)
    if mode == "full":  # the corner sees one tap, the centre all nine
        assert y.data[0, 0, 0, 0] == 1 and y.data[0, 0, 3, 3] == 9


@pytest.mark.parametrize("W,F_,P,S", [(7, 3, 0, 1), (7, 3, 1, 2), (32, 5, 2, 1), (11, 3, 1, 2),
                                      (227, 11, 0, 4)])
def test_seed_output_size_formula(W, F_, P, S):
    y = F.conv2d(np.zeros((1, 1, W, W), np.float32), np.zeros((1, 1, F_, F_), np.float32),
                 stride=S, padding=P)
    assert y.shape[2:] == ((W + 2 * P - F_) // S + 1,) * 2


def test_seed_4_to_2_channels_2x2_kernels_have_32_weights():
    w = np.ones((2, 4, 2, 2), np.float32)
    assert w.size == 4 * 2 * 2 * 2 == 32
    y = F.conv2d(np.ones((1, 4, 3, 3), np.float32), w)
    np.testing.assert_allclose(y.data, np.full((1, 2, 2, 2), 16.0))  # 16 = 4 channels * 2 * 2


def test_input_grad_is_full_convolution_with_rotated_kernel(rng):
    # seeds: pad the output error with k-1 zeros and convolve with the kernel rotated 180 degrees
    x, w = randn(rng, 2, 3, 6, 5), randn(rng, 4, 3, 3, 2)
    xs = striate.tensor(x, requires_grad=True)
    y = F.conv2d(xs, striate.tensor(w))
    gy = randn(rng, *y.shape)
    y.backward(gy)
    w_rot = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # rotate, and swap in/out channels
    np.testing.assert_allclose(xs.grad.data, conv2d_ref(gy, w_rot, padding="full"), rtol=1e-10)
    np.testing.assert_allclose(xs.grad.data, F.conv2d(gy, w_rot.copy(), padding="full").data,
                               rtol=1e-10)
    # col2im (scatter gy @ w back onto the patches) is the same thing
    g = _im2col.Geometry((1, 1), (0, 0, 0, 0), (1, 1), 1)
    gcol = np.einsum("nopq,ocij->ijnpqc", gy, w)  # (KH, KW, N, OH, OW, C): gy @ w per offset
    gx = np.zeros((2, 6, 5, 3))
    _im2col.col2im(gcol[:, :, None], gx, g)
    np.testing.assert_allclose(gx.transpose(0, 3, 1, 2), xs.grad.data, rtol=1e-10)


@pytest.mark.parametrize("C", [4, 16])
@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(padding=4), dict(dilation=2),
                                dict(padding="same"), dict(padding=(1, 0))])
def test_input_grad_scatter_and_gather_paths_match_torch(rng, C, kw):
    # stride 1 from 16 channels gathers (a full convolution); otherwise col2im scatters
    x, w = randn(rng, 2, C, 7, 6), randn(rng, 6, C // 2, 3, 2)
    g = conv_args("conv2d", x, w, None, kw.get("stride", 1), kw.get("padding", 0),
                   kw.get("dilation", 1), 2, 2)[3]
    y = F.conv2d(x, w, groups=2, **kw)
    gy = randn(rng, *y.shape)
    full = _im2col._full_pads(gy.transpose(0, 2, 3, 1), w, g, 7, 6)
    assert (full is not None) == ("stride" not in kw and kw.get("padding") != 4)
    expected = run_torch(tF.conv2d, x, w, None, gy, groups=2, **kw)[1]
    gx = _im2col.conv_grad_input(gy.transpose(0, 2, 3, 1), w, g, 7, 6)
    np.testing.assert_allclose(gx.transpose(0, 3, 1, 2), expected, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(dilation=2, output_padding=1),
                                dict(padding=(0, 1), groups=2)])
def test_conv_transpose2d_16_output_channels_matches_torch(rng, kw):
    # from 16 output channels the stride-1 forward gathers instead of scattering
    groups = kw.get("groups", 1)
    x, w, b = randn(rng, 2, 4, 5, 4), randn(rng, 4, 16 // groups, 3, 3), randn(rng, 16)
    y, gy, *grads = run(F.conv_transpose2d, x, w, b, **kw)
    assert_all_close((y, *grads), run_torch(tF.conv_transpose2d, x, w, b, gy, **kw))


@pytest.mark.parametrize("fn,xs,ws", [(F.conv2d, (2, 3, 6, 6), (4, 3, 3, 3)),
                                      (F.conv2d, (2, 3, 6, 6), (3, 1, 3, 3)),
                                      (F.conv2d, (2, 3, 6, 6), (4, 3, 1, 1)),
                                      (F.conv1d, (2, 3, 9), (4, 3, 3)),
                                      (F.conv_transpose2d, (2, 3, 4, 4), (3, 2, 3, 3))])
def test_float32_in_float32_out_and_grads(rng, fn, xs, ws):
    groups = 3 if ws[1] == 1 and fn is F.conv2d else 1
    x, w = randn(rng, *xs, dtype=np.float32), randn(rng, *ws, dtype=np.float32)
    oc = ws[1] if fn is F.conv_transpose2d else ws[0]
    b = randn(rng, oc, dtype=np.float32)
    y, gy, gx, gw, gb = run(fn, x, w, b, groups=groups)
    for a in (y, gx, gw, gb):
        assert a.dtype == np.float32
    expected = run(fn, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                   groups=groups)
    np.testing.assert_allclose(y, expected[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw, expected[3], rtol=1e-4, atol=1e-3)


def test_conv2d_reads_non_contiguous_input(rng):
    x, w = randn(rng, 2, 3, 8, 10), randn(rng, 4, 3, 3, 3)
    xv = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # NHWC memory
    np.testing.assert_allclose(F.conv2d(xv, w).data, conv2d_ref(x, w), rtol=1e-10)
    np.testing.assert_allclose(F.conv2d(x[:, :, ::2, 1:], w).data,
                               conv2d_ref(x[:, :, ::2, 1:], w), rtol=1e-10)


@pytest.mark.parametrize("fn,xs,ws", [(F.conv2d, (0, 3, 5, 5), (4, 3, 3, 3)),
                                      (F.conv2d, (0, 3, 5, 5), (4, 3, 1, 1)),
                                      (F.conv1d, (0, 2, 5), (4, 2, 3)),
                                      (F.conv_transpose2d, (0, 3, 4, 4), (3, 2, 3, 3))])
def test_empty_batch_gives_empty_output_and_zero_weight_grad(rng, fn, xs, ws):
    x, w = randn(rng, *xs), randn(rng, *ws)
    tfn = {F.conv2d: tF.conv2d, F.conv1d: tF.conv1d, F.conv_transpose2d: tF.conv_transpose2d}[fn]
    y, gy, *grads = run(fn, x, w, None)
    expected = run_torch(tfn, x, w, None, gy)
    for a, e in zip((y, *grads), expected):
        if e is not None:
            assert a.shape == e.shape
            np.testing.assert_allclose(a, e)
