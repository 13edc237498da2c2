"""Xception (Chollet 2017): parameter count, block structure, output shape, state_dict."""
import numpy as np
import pytest

import striate
from striate import models, nn
from striate.models.xception import SeparableConv2d, XceptionBlock


def test_xception_has_22855952_parameters(skip_init, count_params):
    """Table 3 of the paper; Keras' 22,910,480 adds the 54,528 BN moving statistics."""
    model = models.xception()
    assert count_params(model) == 22_855_952
    bn_stats = sum(b.size for name, b in model.named_buffers() if "running" in name)
    assert count_params(model) + bn_stats == 22_910_480


def test_xception_has_36_conv_layers_in_14_modules(skip_init):
    model = models.xception()
    # depthwise + pointwise count as one separable layer; the 1x1 shortcut convs are not counted
    separable = [m for m in model.modules() if isinstance(m, SeparableConv2d)]
    assert 2 + len(separable) == 36
    blocks = [m for m in model.modules() if isinstance(m, XceptionBlock)]
    assert len(blocks) == 12 and sum(b.skip is not None for b in blocks) == 4


def test_separable_conv_is_depthwise_then_pointwise_without_bias():
    conv = SeparableConv2d(8, 16)
    assert conv.conv1.groups == 8 and conv.conv1.weight.shape == (8, 1, 3, 3)
    assert conv.pointwise.weight.shape == (16, 8, 1, 1)
    assert conv.conv1.bias is None and conv.pointwise.bias is None


def test_xception_block_adds_projected_shortcut(rng):
    block = XceptionBlock(4, 8, 2, 2).eval()
    x = striate.tensor(rng.standard_normal((2, 4, 7, 7)).astype(np.float32))
    with striate.no_grad():
        y = block(x)
        expected = block.rep(x).data + block.skipbn(block.skip(x)).data
    assert y.shape == (2, 8, 4, 4)
    np.testing.assert_allclose(y.data, expected, rtol=1e-6)
    assert isinstance(block.rep[0], nn.ReLU)
    first = XceptionBlock(4, 8, 2, 2, start_with_relu=False)  # block1 follows conv2's ReLU
    assert isinstance(first.rep[0], SeparableConv2d)


def test_exit_block_grows_at_its_last_separable_conv():
    block = XceptionBlock(16, 32, 2, 2, grow_first=False)
    seps = [m for m in block.rep if isinstance(m, SeparableConv2d)]
    assert [s.pointwise.out_channels for s in seps] == [16, 32]


@pytest.mark.slow
def test_xception_output_shape_at_32x32_and_state_dict_round_trip(skip_init, rng):
    a = models.xception(num_classes=10).eval()
    for p in a.parameters():  # cheap random weights, scaled to keep activations finite
        p.data[...] = (rng.random(p.shape, dtype=np.float32) - 0.5) / np.sqrt(p[0].size)
    b = models.xception(num_classes=10).eval()
    b.load_state_dict(a.state_dict())
    x = striate.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    with striate.no_grad():
        ya, yb = a(x), b(x)
    assert ya.shape == (2, 10)
    assert np.isfinite(ya.data).all()
    np.testing.assert_array_equal(yb.data, ya.data)
