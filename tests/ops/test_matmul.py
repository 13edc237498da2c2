"""Matrix product with NumPy's @ semantics: 2-D, 1-D operands (vector @ vector included) and
broadcast batch dimensions; finite differences, torch parity (float64), dtypes."""
import numpy as np
import pytest

import striate
from striate import ops, tensor

torch = pytest.importorskip("torch")

SHAPES = [
    ((3, 4), (4, 2)),
    ((4,), (4, 2)),          # vector @ matrix
    ((3, 4), (4,)),          # matrix @ vector
    ((4,), (4,)),            # vector @ vector -> scalar
    ((2, 3, 4), (4, 5)),     # batch @ matrix: the matrix's gradient sums over the batch
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),  # batch dimensions broadcast against each other
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
]


def _pair(sa, sb, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(sa), rng.standard_normal(sb)]


@pytest.mark.parametrize("sa, sb", SHAPES, ids=str)
def test_matmul_grad_matches_finite_differences(sa, sb):
    assert striate.gradcheck(lambda a, b: a @ b, _pair(sa, sb))


@pytest.mark.parametrize("sa, sb", SHAPES, ids=str)
def test_matmul_matches_torch(sa, sb):
    a, b = _pair(sa, sb, seed=1)
    xs = [tensor(a, requires_grad=True), tensor(b, requires_grad=True)]
    ts = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    y, yt = xs[0] @ xs[1], ts[0] @ ts[1]
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7)
    gy = np.random.default_rng(2).standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    for name, s, t in zip("ab", xs, ts):
        assert s.grad.shape == s.shape
        np.testing.assert_allclose(s.grad.data, t.grad.numpy(), rtol=1e-7, err_msg=name)


def test_matmul_with_ndarray_on_either_side():
    w = tensor(np.eye(3) * 2, requires_grad=True)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose((x @ w).data, 2 * x)
    np.testing.assert_allclose((w @ x.T).data, 2 * x.T)
    (x @ w).sum().backward()
    np.testing.assert_allclose(w.grad.data, np.tile(x.sum(axis=0)[:, None], (1, 3)))


def test_matmul_bare_arrays_skip_unneeded_grads():
    fn = ops.MatMul((False, True))
    a, b = np.ones((2, 3)), np.ones((3, 4))
    fn.forward(a, b)
    ga, gb = fn.backward(np.ones((2, 4)))
    assert ga is None
    np.testing.assert_allclose(gb, 2 * np.ones((3, 4)))


def test_matmul_keeps_float32():
    a = tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = tensor(np.ones((3,), np.float32), requires_grad=True)
    y = a @ b
    y.sum().backward()
    assert y.dtype == np.float32 and a.grad.dtype == np.float32 and b.grad.dtype == np.float32
