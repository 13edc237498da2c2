"""linear: finite differences, torch parity (float64), batch shapes, dtypes, clear errors."""
import numpy as np
import pytest

import striate
import striate.functional as F

torch = pytest.importorskip("torch")

# (x shape, out_features): plain batch, extra leading axes, a single vector, an empty batch
CASES = [((5, 4), 3), ((2, 3, 4), 2), ((4,), 3), ((2, 1, 3, 4), 1)]


@pytest.mark.parametrize("has_bias", [True, False])
@pytest.mark.parametrize("x_shape, out", CASES, ids=str)
def test_linear_grad_matches_finite_differences(x_shape, out, has_bias):
    rng = np.random.default_rng(len(x_shape))
    args = [rng.standard_normal(x_shape), rng.standard_normal((out, x_shape[-1]))]
    if has_bias:
        args.append(rng.standard_normal(out))
    assert striate.gradcheck(F.linear, args)


@pytest.mark.parametrize("has_bias", [True, False])
@pytest.mark.parametrize("x_shape, out", CASES, ids=str)
def test_linear_matches_torch(x_shape, out, has_bias):
    rng = np.random.default_rng(10 + len(x_shape))
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((out, x_shape[-1]))]
    if has_bias:
        arrays.append(rng.standard_normal(out))
    ours = [striate.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = F.linear(*ours), torch.nn.functional.linear(*theirs)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    for name, a, b in zip(["x", "weight", "bias"], ours, theirs):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-7, err_msg=name)


def test_linear_output_is_x_times_weight_transposed_plus_bias():
    x, w, b = np.arange(6.0).reshape(2, 3), np.array([[1.0, 0, -1], [2, 2, 2]]), np.array([0.5, -1])
    y = F.linear(striate.tensor(x), striate.tensor(w), striate.tensor(b))
    np.testing.assert_allclose(y.data, [[-1.5, 5.0], [-1.5, 23.0]])


def test_linear_empty_batch_gives_empty_output_and_zero_weight_grad():
    w = striate.tensor(np.ones((3, 4)), requires_grad=True)
    y = F.linear(striate.tensor(np.zeros((0, 4))), w)
    assert y.shape == (0, 3)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.zeros((3, 4)))


def test_linear_grads_only_where_required():
    x = np.random.default_rng(0).standard_normal((2, 3))
    w = striate.tensor(np.ones((4, 3)), requires_grad=True)
    b = striate.tensor(np.zeros(4))
    F.linear(x, w, b).sum().backward()
    np.testing.assert_allclose(w.grad.data, np.tile(x.sum(axis=0), (4, 1)))
    assert b.grad is None


def test_linear_float32_stays_float32():
    x = striate.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w = striate.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    b = striate.tensor(np.ones(4, np.float32), requires_grad=True)
    y = F.linear(x, w, b)
    y.sum().backward()
    assert y.dtype == np.float32
    assert {x.grad.dtype, w.grad.dtype, b.grad.dtype} == {np.dtype(np.float32)}


def test_linear_in_features_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) has 5 features but "
                                         r"weight of shape \(4, 3\) expects in_features=3"):
        F.linear(striate.tensor(np.zeros((2, 5))), striate.tensor(np.zeros((4, 3))))


def test_linear_bad_weight_and_bias_shapes_are_clear_errors():
    x = striate.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"linear: weight must have shape \(out_features, "
                                         r"in_features\), got \(3,\)"):
        F.linear(x, striate.tensor(np.zeros(3)))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(4,\) to match weight "
                                         r"\(4, 3\), got \(3,\)"):
        F.linear(x, striate.tensor(np.zeros((4, 3))), striate.tensor(np.zeros(3)))
    with pytest.raises(TypeError, match=r"linear: expected a Tensor or an ndarray, got list"):
        F.linear(x, [[1.0, 2.0, 3.0]])
