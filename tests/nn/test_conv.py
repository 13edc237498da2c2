"""Conv1d, Conv2d, ConvTranspose2d: parameter names and shapes, outputs and gradients equal
torch's for the same weights, padding modes, validation with layer names, repr."""
from collections import OrderedDict

import numpy as np
import pytest

import striate
from striate import nn

from ._parity import check_parity

torch = pytest.importorskip("torch")

CONV2D = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1),
    dict(in_channels=2, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    dict(in_channels=2, out_channels=3, kernel_size=3, dilation=2, bias=False),
    dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, padding=1),
    dict(in_channels=4, out_channels=4, kernel_size=3, groups=4, padding="same"),  # depthwise
    dict(in_channels=3, out_channels=2, kernel_size=4, padding="same"),  # even kernel
    dict(in_channels=3, out_channels=2, kernel_size=1, padding="valid"),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args", CONV2D, ids=lambda a: "-".join(f"{v}" for v in a.values()))
def test_conv2d_matches_torch(args, dtype):
    layer = nn.Conv2d(**args, dtype=dtype)
    x = np.random.default_rng(0).standard_normal((2, args["in_channels"], 9, 8))
    y = check_parity(layer, torch.nn.Conv2d(**args), x, dtype)
    if args.get("padding") == "same":
        assert y.shape[2:] == (9, 8)


def test_conv2d_full_padding_equals_torch_padding_k_minus_1_times_dilation():
    layer = nn.Conv2d(2, 3, 3, padding="full", dilation=2, dtype=np.float64)
    y = check_parity(layer, torch.nn.Conv2d(2, 3, 3, padding=4, dilation=2),
                     np.random.default_rng(1).standard_normal((2, 2, 5, 5)))
    assert y.shape == (2, 3, 9, 9)  # the seeds' third mode: H + (k - 1) * dilation


def test_conv2d_seed_example_weight_count_and_modes():
    assert nn.Conv2d(4, 2, 2, bias=False).weight.size == 32  # 4 in x 2 out x 2 x 2
    x = striate.tensor(np.ones((1, 1, 5, 5), np.float32))
    assert nn.Conv2d(1, 1, 3, padding="valid")(x).shape == (1, 1, 3, 3)
    assert nn.Conv2d(1, 1, 3, padding="same")(x).shape == (1, 1, 5, 5)
    assert nn.Conv2d(1, 1, 3, padding="full")(x).shape == (1, 1, 7, 7)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args", [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=2, kernel_size=5, stride=2, padding=2, dilation=1),
    dict(in_channels=4, out_channels=4, kernel_size=3, dilation=2, groups=2, bias=False),
    dict(in_channels=3, out_channels=2, kernel_size=4, padding="same"),
])
def test_conv1d_matches_torch(args, dtype):
    layer = nn.Conv1d(**args, dtype=dtype)
    x = np.random.default_rng(2).standard_normal((2, args["in_channels"], 11))
    check_parity(layer, torch.nn.Conv1d(**args), x, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args", [
    dict(in_channels=3, out_channels=4, kernel_size=2, stride=2),
    dict(in_channels=4, out_channels=2, kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, dilation=2, bias=False),
])
def test_conv_transpose2d_matches_torch(args, dtype):
    layer = nn.ConvTranspose2d(**args, dtype=dtype)
    assert layer.weight.shape == (args["in_channels"], args["out_channels"]
                                  // args.get("groups", 1), args["kernel_size"],
                                  args["kernel_size"])
    x = np.random.default_rng(3).standard_normal((2, args["in_channels"], 5, 4))
    check_parity(layer, torch.nn.ConvTranspose2d(**args), x, dtype)


def test_conv2d_channel_mismatch_names_layer_with_qualified_name():
    features = nn.Sequential(nn.Identity(), nn.Identity(), nn.Identity(), nn.Conv2d(64, 128, 3))
    model = nn.Sequential(OrderedDict([("features", features), ("head", nn.Flatten())]))
    with pytest.raises(ValueError) as info:
        model(striate.tensor(np.zeros((8, 32, 56, 56), np.float32)))
    assert ("Conv2d 'features.3' expects 64 input channels, got 32 "
            "(input shape (8, 32, 56, 56))") in str(info.value)
    with pytest.raises(ValueError, match=r"^Conv2d expects 64 input channels, got 32"):
        features[3](striate.tensor(np.zeros((1, 32, 5, 5), np.float32)))


def test_conv_wrong_ndim_names_layer():
    with pytest.raises(ValueError, match=r"^Conv2d expects a 4-D input \(N, C, H, W\), got 3-D"):
        nn.Conv2d(3, 4, 3)(striate.tensor(np.zeros((3, 8, 8), np.float32)))
    with pytest.raises(ValueError, match=r"^Conv1d expects a 3-D input \(N, C, L\), got 4-D"):
        nn.Conv1d(3, 4, 3)(striate.tensor(np.zeros((1, 3, 8, 8), np.float32)))
    with pytest.raises(TypeError, match=r"^Conv2d expects a Tensor, got list"):
        nn.Conv2d(3, 4, 3)([[1.0]])


def test_conv_kernel_larger_than_input_error_names_layer():
    with pytest.raises(ValueError, match=r"layer '0': Conv2d '0': conv2d: kernel \(5, 5\)"):
        nn.Sequential(nn.Conv2d(1, 1, 5))(striate.tensor(np.zeros((1, 1, 3, 3), np.float32)))


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(padding="same", stride=2), ValueError, r"padding='same' needs stride 1"),
    (dict(groups=3), ValueError, r"groups=3 must divide in_channels=4 and out_channels=6"),
    (dict(padding="half"), ValueError, r"padding must be an int, 2 ints or one of"),
    (dict(padding=-1), ValueError, r"padding must be >= 0"),
    (dict(stride=0), ValueError, r"stride must be >= 1"),
    (dict(kernel_size=(3, 3, 3)), TypeError, r"kernel_size must be an int or 2 ints"),
    (dict(padding_mode="reflect"), ValueError, r"only padding_mode='zeros'"),
    (dict(dtype=np.int64), TypeError, r"parameters must have a floating dtype"),
])
def test_conv2d_bad_constructor_arguments(kwargs, exc, match):
    args = dict(in_channels=4, out_channels=6, kernel_size=3) | kwargs
    with pytest.raises(exc, match="^Conv2d: " + match):
        nn.Conv2d(**args)


@pytest.mark.parametrize("args", [
    dict(in_channels=1, out_channels=6, kernel_size=5, padding=2),
    dict(in_channels=4, out_channels=8, kernel_size=3, stride=2, dilation=2, groups=2, bias=False),
])
def test_conv2d_repr_equals_torch(args):
    assert repr(nn.Conv2d(**args)) == repr(torch.nn.Conv2d(**args))


def test_conv_repr_string_padding_and_transpose():
    assert repr(nn.Conv2d(3, 8, 3, padding="same")) == (
        "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding='same')")
    args = dict(in_channels=4, out_channels=2, kernel_size=3, stride=2, output_padding=1)
    assert repr(nn.ConvTranspose2d(**args)) == repr(torch.nn.ConvTranspose2d(**args))
