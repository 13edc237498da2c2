"""nn.init: PyTorch's gains, fans, bounds and standard deviations; seeding; layer defaults."""
import math

import numpy as np
import pytest

import striate
from striate import nn
from striate.nn import init

torch = pytest.importorskip("torch")

SHAPES = [(7, 5), (16, 32, 3, 3), (4, 2, 5), (6, 1, 5, 5), (3, 8, 2, 3)]


def _big(shape=(256, 128, 3, 3), dtype=np.float64):
    return striate.tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                                        ("selu", None), ("conv_transpose2d", None)])
def test_calculate_gain_matches_torch(name, param):
    expected = torch.nn.init.calculate_gain(name, param)
    assert init.calculate_gain(name, param) == pytest.approx(expected)


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "x")


@pytest.mark.parametrize("shape", SHAPES)
def test_fan_in_fan_out_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(np.zeros(shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_fan_of_1d_tensor_is_clear_error():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(np.zeros(5))


def test_uniform_and_normal_statistics():
    striate.manual_seed(0)
    u = init.uniform_(_big(), -2.0, 3.0).data
    assert u.min() >= -2.0 and u.max() < 3.0
    np.testing.assert_allclose([u.mean(), u.std()], [0.5, 5 / math.sqrt(12)], rtol=1e-2)
    n = init.normal_(_big(), 1.0, 0.5).data
    np.testing.assert_allclose([n.mean(), n.std()], [1.0, 0.5], rtol=1e-2)


def test_constant_zeros_ones():
    t = _big((3, 4))
    np.testing.assert_array_equal(init.constant_(t, 0.3).data, np.full((3, 4), 0.3))
    np.testing.assert_array_equal(init.zeros_(t).data, np.zeros((3, 4)))
    np.testing.assert_array_equal(init.ones_(t).data, np.ones((3, 4)))


def test_init_keeps_float32_and_works_on_ndarray():
    a = np.zeros((4, 4), np.float32)
    assert init.kaiming_uniform_(a) is a and a.dtype == np.float32 and np.any(a != 0)
    t = striate.tensor(np.zeros((4, 4), np.float32))
    assert init.normal_(t).dtype == np.float32


def test_init_rejects_integer_and_non_tensor():
    with pytest.raises(TypeError, match="floating-point"):
        init.ones_(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="Tensor or ndarray"):
        init.zeros_([0.0, 1.0])


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier_uniform_bound_and_xavier_normal_std(gain):
    striate.manual_seed(1)
    shape = (256, 128, 3, 3)
    fan_in, fan_out = 128 * 9, 256 * 9
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    u = init.xavier_uniform_(_big(shape), gain=gain).data
    assert np.abs(u).max() <= bound and np.abs(u).max() > 0.999 * bound
    n = init.xavier_normal_(_big(shape), gain=gain).data
    np.testing.assert_allclose(n.std(), gain * math.sqrt(2 / (fan_in + fan_out)), rtol=1e-2)


@pytest.mark.parametrize("mode,nonlinearity,a", [("fan_in", "relu", 0), ("fan_out", "relu", 0),
                                                 ("fan_in", "leaky_relu", 0.2)])
def test_kaiming_std_and_bound(mode, nonlinearity, a):
    striate.manual_seed(2)
    shape = (256, 128, 3, 3)
    fan = 128 * 9 if mode == "fan_in" else 256 * 9
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    n = init.kaiming_normal_(_big(shape), a=a, mode=mode, nonlinearity=nonlinearity).data
    np.testing.assert_allclose([n.mean(), n.std()], [0.0, std], atol=1e-4, rtol=1e-2)
    u = init.kaiming_uniform_(_big(shape), a=a, mode=mode, nonlinearity=nonlinearity).data
    assert np.abs(u).max() <= math.sqrt(3) * std and np.abs(u).max() > 0.999 * math.sqrt(3) * std


def test_kaiming_bad_mode_is_clear_error():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(_big((3, 3)), mode="fan_avg")


def test_trunc_normal_within_bounds_with_truncated_std():
    striate.manual_seed(3)
    t = init.trunc_normal_(_big(), mean=0.0, std=1.0, a=-1.0, b=2.0).data
    assert t.min() >= -1.0 and t.max() <= 2.0
    ref = torch.nn.init.trunc_normal_(torch.zeros(300000, dtype=torch.float64), 0.0, 1.0, -1.0, 2.0)
    np.testing.assert_allclose([t.mean(), t.std()], [ref.mean().item(), ref.std().item()],
                               atol=1e-2)


def test_trunc_normal_far_tail_is_clear_error():
    with pytest.raises(ValueError, match="move mean closer"):
        init.trunc_normal_(_big((3,)), mean=0.0, std=1.0, a=10.0, b=11.0)


def test_same_seed_same_values_generator_independent():
    striate.manual_seed(5)
    a = init.normal_(_big((50,))).data.copy()
    striate.manual_seed(5)
    b = init.normal_(_big((50,))).data.copy()
    np.testing.assert_array_equal(a, b)
    c = init.normal_(_big((50,)), generator=np.random.default_rng(5)).data
    d = init.normal_(_big((50,)), generator=np.random.default_rng(5)).data
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(a, init.normal_(_big((50,))).data)


# ---- default initialisation of layers (PyTorch's scheme) ----
@pytest.mark.parametrize("make,torch_make,fan_in", [
    (lambda: nn.Conv2d(16, 32, 3), lambda: torch.nn.Conv2d(16, 32, 3), 16 * 9),
    (lambda: nn.Conv2d(8, 16, 3, groups=4), lambda: torch.nn.Conv2d(8, 16, 3, groups=4), 2 * 9),
    (lambda: nn.Conv1d(6, 12, 5), lambda: torch.nn.Conv1d(6, 12, 5), 30),
    (lambda: nn.ConvTranspose2d(16, 8, 4), lambda: torch.nn.ConvTranspose2d(16, 8, 4), 8 * 16),
    (lambda: nn.Linear(400, 120), lambda: torch.nn.Linear(400, 120), 400),
])
def test_layer_default_init_bounds_equal_torch(make, torch_make, fan_in):
    striate.manual_seed(0)
    layer, ref = make(), torch_make()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) gives gain*sqrt(3/fan_in)
    for name, p in layer.named_parameters():
        tp = dict(ref.named_parameters())[name].detach().numpy()
        assert p.shape == tp.shape and p.dtype == np.float32
        for w in (p.data, tp):
            assert np.abs(w).max() <= bound
        # both fill the interval: the spread is that of U(-bound, bound)
        if p.size > 1000:
            np.testing.assert_allclose(p.data.std(), bound / math.sqrt(3), rtol=0.05)
            np.testing.assert_allclose(tp.std(), bound / math.sqrt(3), rtol=0.05)


def test_same_seed_same_layer_weights():
    striate.manual_seed(42)
    a = nn.Conv2d(3, 8, 3).state_dict()
    striate.manual_seed(42)
    b = nn.Conv2d(3, 8, 3).state_dict()
    striate.manual_seed(43)
    c = nn.Conv2d(3, 8, 3).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["weight"], c["weight"])


def test_float64_layer_draws_the_same_values_as_float32():
    striate.manual_seed(7)
    a = nn.Linear(20, 10).weight.data
    striate.manual_seed(7)
    b = nn.Linear(20, 10, dtype=np.float64).weight.data
    assert b.dtype == np.float64
    np.testing.assert_allclose(a, b, rtol=1e-6)


# ---- chunked drawing (no float64 temporary of the tensor's size) ----
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(700_001,), (3, 5), (0, 4)])  # more than a chunk, small, empty
def test_uniform_and_normal_draw_exactly_the_generator_values(dtype, shape):
    a = init.uniform_(np.zeros(shape, dtype), -0.3, 0.7, generator=np.random.default_rng(1))
    b = init.normal_(np.zeros(shape, dtype), 0.5, 2.0, generator=np.random.default_rng(2))
    ua = np.random.default_rng(1).uniform(-0.3, 0.7, shape)
    nb = np.random.default_rng(2).normal(0.5, 2.0, shape)
    np.testing.assert_array_equal(a, ua.astype(dtype))
    np.testing.assert_array_equal(b, nb.astype(dtype))


def test_init_of_a_strided_view_fills_only_the_view():
    base = np.zeros((6, 8), np.float32)
    init.uniform_(base[:, ::2], 1.0, 2.0, generator=np.random.default_rng(3))
    expected = np.random.default_rng(3).uniform(1.0, 2.0, (6, 4)).astype(np.float32)
    np.testing.assert_array_equal(base[:, ::2], expected)
    np.testing.assert_array_equal(base[:, 1::2], 0)
