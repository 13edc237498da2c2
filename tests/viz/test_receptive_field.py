"""Receptive fields from the summary's arithmetic against the gradient measurement."""
import numpy as np
import pytest

import striate
from striate.models.vgg import CFGS, make_layers
from striate.summary import summary
from striate.viz import empirical_receptive_field, receptive_field


def _positions(out_hw, every: bool = True):
    """Corners, an edge and an interior point of an output grid (or just three of them)."""
    oh, ow = out_hw
    if not every:
        return sorted({(0, 0), (oh - 1, ow - 1), (oh // 2, ow // 3)})
    return sorted({(0, 0), (0, ow - 1), (oh - 1, 0), (oh - 1, ow - 1), (oh // 2, ow // 3),
                   (min(1, oh - 1), min(2, ow - 1))})


def _assert_agree(model, shape, layers, every: bool = True):
    table = summary(model, shape)
    rows = {r["name"]: r for r in table.rows}
    for layer in layers:
        for pos in _positions(rows[layer]["output_shape"][2:], every):
            theory = receptive_field(model, shape, layer, pos, table=table)
            measured = empirical_receptive_field(model, shape, layer, pos)
            assert measured == theory, (layer, pos)


def test_lenet5_boxes_match_hand_computed_values():
    model = striate.models.lenet5()
    shape = (1, 28, 28)
    # conv 5x5 pad 2 at (0, 0) sees rows -2..2: clipped to 0..2
    assert receptive_field(model, shape, "features.0", (0, 0)) == (0, 0, 3, 3)
    # second conv: rf 14, jump 2, start 5 -> [5 + 2r - 7, 5 + 2r + 7)
    assert receptive_field(model, shape, "features.3", (0, 0), clip=False) == (-2, -2, 12, 12)
    assert receptive_field(model, shape, "features.3", (3, 1)) == (4, 0, 18, 14)
    # last pool: rf 16, jump 4, start 6; (4, 4) is centred at 22 and clipped at 28
    assert receptive_field(model, shape, "features.5", (4, 4)) == (14, 14, 28, 28)
    assert receptive_field(model, shape, "features.5", (4, 4), clip=False) == (14, 14, 30, 30)


def test_lenet5_theoretical_and_gradient_boxes_agree_at_every_conv_and_pool():
    _assert_agree(striate.models.lenet5(), (1, 28, 28),
                  ["features.0", "features.2", "features.3", "features.5"])


def test_lenet5_1998_subsampling_and_connection_table_boxes_agree():
    model = striate.models.lenet5(variant="lecun1998")
    _assert_agree(model, (1, 28, 28), ["c1", "s2", "c3", "s4"])


def test_non_square_input_width_axis_agrees():
    model = striate.models.lenet5().features  # the trunk takes any size
    _assert_agree(model, (1, 20, 32), ["0", "2", "3", "5"])


@pytest.mark.slow
def test_vgg11_trunk_boxes_agree_including_fully_clipped_ones():
    model = make_layers(CFGS["A"], in_channels=3)  # VGG-11's convolutional trunk
    _assert_agree(model, (3, 32, 32), ["2", "5", "8", "10"], every=False)
    # the 4th pool sees more than the 32x32 input: clipped to the whole image
    assert receptive_field(model, (3, 32, 32), "15", (0, 0)) == (0, 0, 32, 32)
    assert empirical_receptive_field(model, (3, 32, 32), "15", (0, 0)) == (0, 0, 32, 32)


@pytest.mark.slow
def test_resnet18_gradient_box_lies_inside_theoretical_box():
    model = striate.models.resnet18(num_classes=10)
    shape = (3, 32, 32)
    table = summary(model, shape)
    rows = {r["name"]: r for r in table.rows}
    for layer in ("maxpool", "layer1.0.conv2", "layer1.1.conv1", "layer2.0.downsample.0",
                  "layer2.1.conv1"):
        for pos in ((1, 2), tuple(n - 1 for n in rows[layer]["output_shape"][2:])):
            t = receptive_field(model, shape, layer, pos, table=table)
            e = empirical_receptive_field(model, shape, layer, pos)
            assert t[0] <= e[0] < e[2] <= t[2] and t[1] <= e[1] < e[3] <= t[3], (layer, pos, t, e)
    # early layers see a proper part of the image, so "inside" is not trivially true
    assert empirical_receptive_field(model, shape, "layer1.0.conv2", (0, 0)) == (0, 0, 14, 14)


def test_empirical_measurement_leaves_the_model_untouched():
    model = striate.models.lenet5()
    model.train()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    model.features[0].weight.requires_grad_(False)
    empirical_receptive_field(model, (1, 28, 28), "features.5", (2, 2))
    after = model.state_dict()
    for k, v in before.items():
        np.testing.assert_array_equal(after[k], v, err_msg=k)
        assert after[k].dtype == v.dtype, k
    assert all(m.training for m in model.modules())
    assert not model.features[0].weight.requires_grad and model.features[3].weight.requires_grad
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_gradient_of_one_channel_sees_the_same_box_in_a_dense_conv():
    model = striate.models.lenet5()
    box, grad = empirical_receptive_field(model, (1, 28, 28), "features.3", (2, 2), channel=5,
                                          return_gradient=True)
    assert box == receptive_field(model, (1, 28, 28), "features.3", (2, 2))
    assert grad.shape == (28, 28)
    assert (grad[box[0]:box[2], box[1]:box[3]] > 0).all()
    grad[box[0]:box[2], box[1]:box[3]] = 0
    assert not grad.any()


def test_bad_layer_position_and_shape_raise_named_errors():
    model = striate.models.lenet5()
    with pytest.raises(ValueError, match="outside the 10x10 output of layer 'features.3'"):
        receptive_field(model, (1, 28, 28), "features.3", (10, 0))
    with pytest.raises(ValueError, match="outside the 10x10 output"):
        empirical_receptive_field(model, (1, 28, 28), "features.3", (0, 10))
    with pytest.raises(ValueError, match="no row for layer 'features.9'"):
        receptive_field(model, (1, 28, 28), "features.9")
    with pytest.raises(ValueError, match="has no layer 'nope'"):
        empirical_receptive_field(model, (1, 28, 28), "nope")
    with pytest.raises(ValueError, match="not \\(N, C, H, W\\) maps"):
        receptive_field(model, (1, 28, 28), "classifier.1")
    with pytest.raises(ValueError, match="input_shape must be three positive ints"):
        receptive_field(model, (28, 28), "features.0")
