"""locally_connected2d: forward against a nested-loop reference and a torch unfold + einsum,
gradients by finite differences and against torch, and argument errors."""
import numpy as np
import pytest

import striate
from striate import F

torch = pytest.importorskip("torch")

# (N, C, H, W, OC, KH, KW, stride, padding)
CASES = [
    (2, 3, 5, 5, 4, 3, 3, 1, 0),
    (2, 2, 7, 6, 3, 3, 2, 2, 1),
    (1, 3, 6, 5, 2, 2, 3, (1, 2), (1, 0)),
    (3, 1, 4, 4, 2, 1, 1, 1, 0),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else v


def out_hw(H, W, KH, KW, stride, padding):
    (SH, SW), (PH, PW) = _pair(stride), _pair(padding)
    return (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1


def make(case, rng, bias=True):
    N, C, H, W, OC, KH, KW, stride, padding = case
    OH, OW = out_hw(H, W, KH, KW, stride, padding)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((OH, OW, OC, C, KH, KW))
    b = rng.standard_normal((OC, OH, OW)) if bias else None
    return x, w, b, stride, padding


def loop_reference(x, w, b, stride, padding):
    """Every output pixel on its own, with its own kernel: the definition."""
    (SH, SW), (PH, PW) = _pair(stride), _pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    OH, OW, OC, C, KH, KW = w.shape
    y = np.zeros((x.shape[0], OC, OH, OW))
    for n in range(x.shape[0]):
        for o in range(OC):
            for i in range(OH):
                for j in range(OW):
                    patch = xp[n, :, i * SH:i * SH + KH, j * SW:j * SW + KW]
                    y[n, o, i, j] = np.sum(patch * w[i, j, o]) + (0 if b is None else b[o, i, j])
    return y


def torch_reference(x, w, b, stride, padding):
    """torch.nn.functional.unfold, then one einsum over positions (differentiable)."""
    OH, OW, OC, C, KH, KW = w.shape
    cols = torch.nn.functional.unfold(x, (KH, KW), stride=stride, padding=padding)  # (N, CKK, P)
    y = torch.einsum("nkp,pok->nop", cols, w.reshape(OH * OW, OC, C * KH * KW))
    y = y.reshape(x.shape[0], OC, OH, OW)
    return y if b is None else y + b


@pytest.mark.parametrize("case", CASES, ids=str)
def test_locally_connected2d_matches_loop_reference(case, rng):
    x, w, b, s, p = make(case, rng)
    y = F.locally_connected2d(striate.tensor(x), striate.tensor(w), striate.tensor(b), s, p)
    np.testing.assert_allclose(y.data, loop_reference(x, w, b, s, p), rtol=1e-10, atol=1e-12)


def test_locally_connected2d_without_bias_matches_loop_reference(rng):
    x, w, _, s, p = make(CASES[1], rng, bias=False)
    y = F.locally_connected2d(x, striate.tensor(w), None, s, p)  # an ndarray x is wrapped
    np.testing.assert_allclose(y.data, loop_reference(x, w, None, s, p), rtol=1e-10, atol=1e-12)


def test_locally_connected2d_with_one_kernel_everywhere_equals_conv2d(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    k, bias = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    w = np.broadcast_to(k, (3, 3, 4, 3, 3, 3)).copy()  # 6x5 input, stride 2, pad 1: 3x3 output
    b = np.broadcast_to(bias[:, None, None], (4, 3, 3)).copy()
    y = F.locally_connected2d(x, striate.tensor(w), striate.tensor(b), stride=2, padding=1)
    ref = F.conv2d(x, striate.tensor(k), striate.tensor(bias), stride=2, padding=1)
    np.testing.assert_allclose(y.data, ref.data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_locally_connected2d_matches_torch_forward_and_grads(case, rng):
    x, w, b, s, p = make(case, rng)
    xs, ws, bs = (striate.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.locally_connected2d(xs, ws, bs, s, p)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch_reference(xt, wt, bt, s, p)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7, atol=1e-10)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    for ours, theirs, name in ((xs, xt, "x"), (ws, wt, "w"), (bs, bt, "b")):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-7, atol=1e-10,
                                   err_msg=f"grad {name}")


@pytest.mark.parametrize("case", CASES[:3], ids=str)
def test_locally_connected2d_gradcheck_x_w_b(case, rng):
    x, w, b, s, p = make(case, rng)
    assert striate.gradcheck(lambda x, w, b: F.locally_connected2d(x, w, b, s, p), [x, w, b])


def test_locally_connected2d_gradcheck_without_bias(rng):
    x, w, _, s, p = make(CASES[2], rng, bias=False)
    assert striate.gradcheck(lambda x, w: F.locally_connected2d(x, w, None, s, p), [x, w])


def test_locally_connected2d_float32_stays_float32(rng):
    x, w, b, s, p = make(CASES[0], rng)
    y = F.locally_connected2d(*(striate.tensor(a.astype(np.float32)) for a in (x, w, b)), s, p)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, loop_reference(x, w, b, s, p), rtol=1e-4, atol=1e-4)


def test_locally_connected2d_only_input_grad_when_weights_frozen(rng):
    x, w, b, s, p = make(CASES[1], rng)
    xs = striate.tensor(x, requires_grad=True)
    F.locally_connected2d(xs, striate.tensor(w), striate.tensor(b), s, p).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    torch_reference(xt, torch.tensor(w), torch.tensor(b), s, p).sum().backward()
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-7, atol=1e-10)


# ---- errors ----
def _x_w_b():
    return np.zeros((2, 3, 5, 5)), np.zeros((3, 3, 4, 3, 3, 3)), np.zeros((4, 3, 3))


def test_locally_connected2d_weight_for_wrong_output_size_names_both_sizes():
    x, w, _ = _x_w_b()
    with pytest.raises(ValueError, match=r"locally_connected2d: .*output of \(2, 2\).*\(3, 3\)"):
        F.locally_connected2d(x, striate.tensor(w), stride=2)


def test_locally_connected2d_channel_mismatch_is_value_error():
    x, w, _ = _x_w_b()
    with pytest.raises(ValueError, match="input has 2 channels"):
        F.locally_connected2d(x[:, :2], striate.tensor(w))


@pytest.mark.parametrize("shape, what", [((2, 3, 5), "4-D input"), ((3, 4, 3, 3, 3), "6-D weight")])
def test_locally_connected2d_wrong_rank_is_value_error(shape, what):
    x, w, _ = _x_w_b()
    if what == "4-D input":
        x = np.zeros(shape)
    else:
        w = np.zeros(shape)
    with pytest.raises(ValueError, match=f"locally_connected2d: expected a {what}"):
        F.locally_connected2d(x, striate.tensor(w))


def test_locally_connected2d_bad_bias_shape_is_value_error():
    x, w, _ = _x_w_b()
    with pytest.raises(ValueError, match=r"bias must have shape \(4, 3, 3\)"):
        F.locally_connected2d(x, striate.tensor(w), striate.tensor(np.zeros(4)))


def test_locally_connected2d_dtype_mismatch_is_type_error():
    x, w, _ = _x_w_b()
    with pytest.raises(TypeError, match="share one floating dtype"):
        F.locally_connected2d(x.astype(np.float32), striate.tensor(w))


@pytest.mark.parametrize("kwargs, exc", [
    (dict(stride=0), ValueError), (dict(padding=-1), ValueError),
    (dict(stride=1.5), TypeError), (dict(padding="same"), TypeError)])
def test_locally_connected2d_bad_stride_or_padding(kwargs, exc):
    x, w, _ = _x_w_b()
    with pytest.raises(exc, match="locally_connected2d"):
        F.locally_connected2d(x, striate.tensor(w), **kwargs)


def test_locally_connected2d_kernel_larger_than_input_is_value_error():
    with pytest.raises(ValueError, match="locally_connected2d"):
        F.locally_connected2d(np.zeros((1, 1, 2, 2)), striate.tensor(np.zeros((1, 1, 1, 1, 3, 3))))


def test_locally_connected2d_list_input_is_type_error():
    _, w, _ = _x_w_b()
    with pytest.raises(TypeError, match="input must be a Tensor or an ndarray"):
        F.locally_connected2d([[1.0]], striate.tensor(w))
