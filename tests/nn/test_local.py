"""LocallyConnected2d: parameter shapes and initialisation, outputs and gradients against torch
(unfold + einsum), weight sharing within regions, state_dict, errors naming the layer."""
import numpy as np
import pytest

import striate
from striate import F, nn

torch = pytest.importorskip("torch")


def torch_local(x, w, b, stride, padding):
    OH, OW, OC, C, KH, KW = w.shape
    cols = torch.nn.functional.unfold(x, (KH, KW), stride=stride, padding=padding)
    y = torch.einsum("nkp,pok->nop", cols, w.reshape(OH * OW, OC, C * KH * KW))
    y = y.reshape(x.shape[0], OC, OH, OW)
    return y if b is None else y + b


def test_locally_connected2d_parameter_shapes_and_output_size():
    layer = nn.LocallyConnected2d(3, 5, (9, 8), kernel_size=(3, 2), stride=2, padding=1)
    assert layer.output_size == (5, 5)
    assert layer.weight.shape == (5, 5, 5, 3, 3, 2)
    assert layer.bias.shape == (5, 5, 5)
    assert layer.weight.dtype == np.float32
    y = layer(striate.tensor(np.ones((2, 3, 9, 8), np.float32)))
    assert y.shape == (2, 5, 5, 5)


def test_locally_connected2d_init_is_conv2d_default_uniform_bound(rng):
    layer = nn.LocallyConnected2d(4, 8, (10, 10), kernel_size=3)
    bound = 1 / np.sqrt(4 * 3 * 3)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.9 * bound  # fills the interval, not a narrower one
    # U(-a, a) has standard deviation a / sqrt(3); 36,864 draws pin it to ~1%
    np.testing.assert_allclose(layer.weight.data.std(), bound / np.sqrt(3), rtol=0.03)


def test_locally_connected2d_same_seed_same_weights():
    striate.manual_seed(3)
    a = nn.LocallyConnected2d(2, 3, 5, 3)
    striate.manual_seed(3)
    b = nn.LocallyConnected2d(2, 3, 5, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


@pytest.mark.parametrize("bias", [True, False])
def test_locally_connected2d_matches_torch_forward_and_grads(rng, bias):
    layer = nn.LocallyConnected2d(3, 4, (7, 6), 3, stride=(2, 1), padding=1, bias=bias,
                                  dtype=np.float64)
    x = rng.standard_normal((2, 3, 7, 6))
    xs = striate.tensor(x, requires_grad=True)
    y = layer(xs)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(layer.weight.data, requires_grad=True)
    bt = torch.tensor(layer.bias.data, requires_grad=True) if bias else None
    yt = torch_local(xt, wt, bt, (2, 1), 1)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7, atol=1e-10)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(layer.weight.grad.data, wt.grad.numpy(), rtol=1e-7, atol=1e-10)
    if bias:
        np.testing.assert_allclose(layer.bias.grad.data, bt.grad.numpy(), rtol=1e-7, atol=1e-10)


# ---- weight sharing within regions (DeepID's conv3) ----
def test_locally_connected2d_region_2_repeats_each_kernel_over_2x2_outputs(rng):
    layer = nn.LocallyConnected2d(2, 3, (7, 5), 3, region=2, dtype=np.float64)  # output 5x3
    assert layer.weight.shape == (3, 2, 3, 2, 3, 3)  # ceil(5/2) x ceil(3/2) regions
    assert layer.bias.shape == (3, 3, 2)
    x = rng.standard_normal((2, 2, 7, 5))
    rows, cols = np.arange(5) // 2, np.arange(3) // 2
    w = layer.weight.data[rows][:, cols]
    b = layer.bias.data[:, rows][:, :, cols]
    expected = F.locally_connected2d(x, striate.tensor(w), striate.tensor(b))
    np.testing.assert_allclose(layer(striate.tensor(x)).data, expected.data, rtol=1e-12)


def test_locally_connected2d_region_grads_sum_over_the_region_like_torch(rng):
    layer = nn.LocallyConnected2d(2, 3, (7, 5), 3, region=2, dtype=np.float64)
    x = rng.standard_normal((2, 2, 7, 5))
    y = layer(striate.tensor(x))
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    wt = torch.tensor(layer.weight.data, requires_grad=True)
    bt = torch.tensor(layer.bias.data, requires_grad=True)
    w_full = wt.repeat_interleave(2, 0).repeat_interleave(2, 1)[:5, :3]
    b_full = bt.repeat_interleave(2, 1).repeat_interleave(2, 2)[:, :5, :3]
    torch_local(torch.tensor(x), w_full, b_full, 1, 0).backward(torch.tensor(gy))
    np.testing.assert_allclose(layer.weight.grad.data, wt.grad.numpy(), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(layer.bias.grad.data, bt.grad.numpy(), rtol=1e-7, atol=1e-10)


def test_locally_connected2d_region_as_large_as_output_is_a_convolution(rng):
    layer = nn.LocallyConnected2d(3, 4, (6, 6), 3, padding=1, region=6, dtype=np.float64)
    x = rng.standard_normal((2, 3, 6, 6))
    k, b = layer.weight.data[0, 0], layer.bias.data[:, 0, 0]
    ref = F.conv2d(x, striate.tensor(k), striate.tensor(b), padding=1)
    np.testing.assert_allclose(layer(striate.tensor(x)).data, ref.data, rtol=1e-10, atol=1e-12)


def test_locally_connected2d_gradcheck_with_regions(rng):
    layer = nn.LocallyConnected2d(1, 2, (4, 5), 2, region=(2, 3), dtype=np.float64)

    def f(x, w, b):  # the layer's own region expansion, on gradcheck's float64 tensors
        return F.locally_connected2d(x, *_expanded_via_layer(layer, w, b))

    x = rng.standard_normal((2, 1, 4, 5))
    assert striate.gradcheck(f, [x, layer.weight.data.copy(), layer.bias.data.copy()])


def _expanded_via_layer(layer, w, b):
    """Run the layer's region expansion on given tensors (so gradcheck sees w and b)."""
    saved = layer._parameters["weight"], layer._parameters["bias"]
    layer._parameters["weight"], layer._parameters["bias"] = w, b
    try:
        return layer._expanded()
    finally:
        layer._parameters["weight"], layer._parameters["bias"] = saved


# ---- state and errors ----
def test_locally_connected2d_state_dict_round_trip(rng):
    a = nn.LocallyConnected2d(2, 3, (5, 4), 2, region=2)
    striate.manual_seed(9)
    b = nn.LocallyConnected2d(2, 3, (5, 4), 2, region=2)
    assert list(a.state_dict()) == ["weight", "bias"]
    b.load_state_dict(a.state_dict())
    x = striate.tensor(rng.standard_normal((2, 2, 5, 4)).astype(np.float32))
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_locally_connected2d_wrong_input_size_names_layer_and_shapes():
    model = nn.Sequential(nn.LocallyConnected2d(2, 3, (5, 4), 2))
    with pytest.raises(ValueError, match=r"LocallyConnected2d '0' expects input \(N, 2, 5, 4\), "
                                         r"got shape \(1, 2, 6, 4\)"):
        model(striate.tensor(np.zeros((1, 2, 6, 4), np.float32)))


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(kernel_size=7), ValueError, "does not fit"),
    (dict(kernel_size=2, stride=0), ValueError, "stride must be >= 1"),
    (dict(kernel_size=2, region=0), ValueError, "region must be >= 1"),
    (dict(kernel_size=2.5), TypeError, "kernel_size must be an int"),
    (dict(kernel_size=2, input_size=(5, 4, 1)), TypeError, "input_size"),
])
def test_locally_connected2d_bad_arguments(kwargs, exc, text):
    args = dict(in_channels=2, out_channels=3, input_size=(5, 4))
    args.update(kwargs)
    with pytest.raises(exc, match=text):
        nn.LocallyConnected2d(**args)


def test_locally_connected2d_repr_shows_geometry():
    r = repr(nn.LocallyConnected2d(40, 60, (8, 6), 3, region=2, bias=False))
    assert r == ("LocallyConnected2d(40, 60, input_size=(8, 6), kernel_size=(3, 3), "
                 "stride=(1, 1), region=(2, 2), bias=False)")
