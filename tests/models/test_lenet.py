"""LeNet-5: the modern variant and LeCun et al. 1998 (C3 table, sub-sampling, RBF output)."""
import numpy as np
import pytest

import striate
from striate import F, models
from striate.models.lenet import (
    C3_TABLE,
    DIGIT_BITMAPS,
    ConnectionTableConv2d,
    RBFOutput,
    ScaledTanh,
    Subsampling2d,
)


def digits(rng, n=8):
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    return x, np.arange(n) % 10


# ---- modern ----
def test_lenet5_modern_has_61706_parameters(count_params):
    assert count_params(models.lenet5()) == 61_706


def test_lenet5_modern_output_shape_batch_of_two(rng):
    y = models.lenet5()(striate.tensor(digits(rng, 2)[0]))
    assert y.shape == (2, 10)


def test_lenet5_modern_num_classes_and_in_channels(rng, count_params):
    model = models.lenet5(num_classes=5, in_channels=3)
    assert model(striate.tensor(rng.standard_normal((2, 3, 28, 28)).astype(np.float32))).shape \
        == (2, 5)
    assert count_params(model) == 61_706 - 156 + (6 * 3 * 25 + 6) - 5 * 85


def test_lenet5_modern_sgd_step_lowers_loss(rng, sgd_step):
    x, y = digits(rng)
    before, after = sgd_step(models.lenet5(), x, y, lr=0.05)
    assert after < before


def test_lenet5_modern_state_dict_round_trip(rng, round_trip):
    round_trip(models.lenet5, digits(rng, 2)[0])


# ---- LeCun et al. 1998 ----
def test_lenet5_lecun1998_has_exactly_60000_trainable_parameters(count_params):
    model = models.lenet5(variant="lecun1998")
    assert count_params(model) == 60_000
    per_layer = {name: count_params(getattr(model, name))
                 for name in ("c1", "s2", "c3", "s4", "c5", "f6", "output")}
    assert per_layer == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48_120,
                         "f6": 10_164, "output": 0}


def test_lenet5_lecun1998_linear_output_has_60850_parameters(count_params):
    assert count_params(models.lenet5(variant="lecun1998", output="linear")) == 60_850


def test_lenet5_lecun1998_output_shape_batch_of_two(rng):
    for output in ("rbf", "linear"):
        y = models.lenet5(variant="lecun1998", output=output)(striate.tensor(digits(rng, 2)[0]))
        assert y.shape == (2, 10)


def test_c3_table_matches_table_one_of_the_paper():
    assert len(C3_TABLE) == 16
    assert sum(len(r) for r in C3_TABLE) == 60
    # row i of Table I: the C3 maps that read S2 map i
    rows = {0: [0, 4, 5, 6, 9, 10, 11, 12, 14, 15], 1: [0, 1, 5, 6, 7, 10, 11, 12, 13, 15],
            2: [0, 1, 2, 6, 7, 8, 11, 13, 14, 15], 3: [1, 2, 3, 6, 7, 8, 9, 12, 14, 15],
            4: [2, 3, 4, 7, 8, 9, 10, 12, 13, 15], 5: [3, 4, 5, 8, 9, 10, 11, 13, 14, 15]}
    for s2_map, c3_maps in rows.items():
        assert [o for o, r in enumerate(C3_TABLE) if s2_map in r] == c3_maps


def _dense_c3_weight(layer):
    """The (16, 6, 5, 5) weight of a full convolution equal to the partial one (zeros elsewhere)."""
    w = np.zeros((16, 6, 5, 5))
    o = 0
    for r, (maps, gathered) in enumerate(layer.runs):
        wr = getattr(layer, f"weight{r}").data
        fan = len(gathered) // maps
        for k in range(maps):
            for j, i in enumerate(gathered[k * fan:(k + 1) * fan]):
                w[o, i] = wr[k, j]
            o += 1
    return w


def test_c3_forward_and_weight_grads_equal_a_masked_full_convolution(rng):
    striate.manual_seed(0)
    layer = ConnectionTableConv2d(6, C3_TABLE, 5).double()
    layer.bias.data[...] = rng.standard_normal(16)
    x = rng.standard_normal((2, 6, 9, 8))
    gy = rng.standard_normal((2, 16, 5, 4))
    y = layer(striate.tensor(x))
    y.backward(gy)
    dense = striate.tensor(_dense_c3_weight(layer), requires_grad=True)
    ref = F.conv2d(striate.tensor(x), dense, striate.tensor(layer.bias.data))
    np.testing.assert_allclose(y.data, ref.data, rtol=1e-12, atol=1e-12)
    ref.backward(gy)
    np.testing.assert_allclose(_dense_c3_weight(_with_grads(layer)), dense.grad.data
                               * (_dense_c3_weight(layer) != 0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.data, gy.sum(axis=(0, 2, 3)), rtol=1e-12)


def _with_grads(layer):
    """A copy of the layer whose weights are the original's gradients."""
    twin = ConnectionTableConv2d(6, C3_TABLE, 5).double()
    for r in range(len(layer.runs)):
        getattr(twin, f"weight{r}").data[...] = getattr(layer, f"weight{r}").grad.data
    return twin


def test_c3_input_gradient_by_finite_differences(rng):
    layer = ConnectionTableConv2d(6, C3_TABLE, 5).double()
    assert striate.gradcheck(lambda x: layer(x), [rng.standard_normal((1, 6, 6, 6))])


def test_c3_rejects_wrong_channel_count(rng):
    layer = ConnectionTableConv2d(6, C3_TABLE, 5)
    with pytest.raises(ValueError, match=r"expects input \(N, 6, H, W\)"):
        layer(striate.tensor(rng.standard_normal((1, 4, 10, 10)).astype(np.float32)))


def test_subsampling_is_average_times_coefficient_plus_bias(rng):
    layer = Subsampling2d(3).double()
    layer.weight.data[...] = [0.5, -2.0, 3.0]
    layer.bias.data[...] = [0.1, 0.2, -0.3]
    x = rng.standard_normal((2, 3, 4, 6))
    y = layer(striate.tensor(x)).data
    avg = x.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(y, avg * layer.weight.data[:, None, None]
                               + layer.bias.data[:, None, None], rtol=1e-12)
    gy = rng.standard_normal(y.shape)
    layer(striate.tensor(x)).backward(gy)
    np.testing.assert_allclose(layer.weight.grad.data, (gy * avg).sum(axis=(0, 2, 3)), rtol=1e-10)
    np.testing.assert_allclose(layer.bias.grad.data, gy.sum(axis=(0, 2, 3)), rtol=1e-10)
    assert striate.gradcheck(lambda x: layer(x), [x])


def test_scaled_tanh_maps_plus_minus_one_to_about_plus_minus_one():
    y = ScaledTanh()(striate.tensor(np.array([-1.0, 0.0, 1.0]))).data
    np.testing.assert_allclose(y, [-1.0, 0.0, 1.0], atol=1e-4)
    np.testing.assert_allclose(ScaledTanh()(striate.tensor(np.array([50.0]))).data, [1.7159])


def test_rbf_prototypes_are_the_plus_minus_one_digit_bitmaps_and_not_trainable():
    model = models.lenet5(variant="lecun1998")
    protos = model.output.prototypes.data
    assert protos.shape == (10, 84)
    assert set(np.unique(protos)) == {-1.0, 1.0}
    expected = np.array([[1.0 if c == "#" else -1.0 for c in b] for b in DIGIT_BITMAPS])
    np.testing.assert_array_equal(protos, expected)
    assert len({tuple(p) for p in protos}) == 10
    assert "output.prototypes" in model.state_dict()
    assert all(p is not model.output.prototypes for p in model.parameters())


def test_rbf_prototypes_beyond_ten_classes_are_deterministic_plus_minus_one():
    a, b = RBFOutput(84, 26).prototypes.data, RBFOutput(84, 26).prototypes.data
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {-1.0, 1.0}
    assert len({tuple(p) for p in a}) == 26


def test_rbf_output_is_minus_squared_euclidean_distance(rng):
    layer = RBFOutput(84, 10)
    x = rng.standard_normal((3, 84)).astype(np.float32)
    y = layer(striate.tensor(x)).data
    d = ((x[:, None, :] - layer.prototypes.data[None]) ** 2).sum(axis=2)
    np.testing.assert_allclose(y, -d, rtol=1e-5)


@pytest.mark.parametrize("output", ["rbf", "linear"])
def test_lenet5_lecun1998_sgd_step_lowers_loss(rng, sgd_step, output):
    striate.manual_seed(0)
    x, y = digits(rng)
    lr = 1e-3 if output == "rbf" else 0.02
    before, after = sgd_step(models.lenet5(variant="lecun1998", output=output), x, y, lr=lr)
    assert after < before


def test_lenet5_lecun1998_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.lenet5(variant="lecun1998"), digits(rng, 2)[0])


def test_lenet5_bad_variant_or_output_raises():
    with pytest.raises(ValueError, match="variant must be"):
        models.lenet5(variant="lenet4")
    with pytest.raises(ValueError, match="needs variant='lecun1998'"):
        models.lenet5(output="rbf")
    with pytest.raises(ValueError, match="output must be"):
        models.lenet5(variant="lecun1998", output="softmax")


# ---- input sizes: the 32x32 field ----
@pytest.mark.parametrize("variant", ["modern", "lecun1998"])
def test_lenet5_on_32x32_equals_28x28_padded_by_two_with_the_same_weights(rng, variant):
    """A 28x28 image is zero-padded by 2 to the 32x32 field; a 32x32 image is not padded."""
    m28 = models.lenet5(in_channels=3, variant=variant)
    m32 = models.lenet5(in_channels=3, variant=variant, input_size=32)
    m32.load_state_dict(m28.state_dict())
    assert m28.input_shape == (3, 28, 28) and m32.input_shape == (3, 32, 32)
    x = rng.standard_normal((2, 3, 28, 28)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    np.testing.assert_allclose(m32(striate.tensor(padded)).data, m28(striate.tensor(x)).data,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size,features", [(64, 16 * 13 * 13), ((28, 40), 16 * 5 * 7), (14, 16)])
def test_lenet5_modern_other_sizes_size_the_first_fc_layer(rng, size, features):
    model = models.lenet5(input_size=size)
    h, w = (size, size) if isinstance(size, int) else size
    assert model.classifier[1].weight.shape == (120, features)
    x = rng.standard_normal((2, 1, h, w)).astype(np.float32)
    assert model(striate.tensor(x)).shape == (2, 10)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(input_size=13), ValueError, r"input_size \(13, 13\) is too small"),
    (dict(input_size=(28, 28, 1)), TypeError, "input_size must be an int or"),
    (dict(input_size=28.0), TypeError, "input_size must be an int or"),
    (dict(variant="lecun1998", input_size=30), ValueError, "28x28 .* or 32x32 images"),
])
def test_lenet5_bad_input_size_raises(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        models.lenet5(**kwargs)
