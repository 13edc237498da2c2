"""Movement primitives: reshape, transpose, expand, getitem (basic, integer-array with repeats,
boolean), concat and pad: values, finite differences and torch parity (float64)."""
import numpy as np
import pytest

import striate
from striate import ops, tensor
from striate.tensor import apply

torch = pytest.importorskip("torch")


def _check_torch(fn, tfn, arrays, seed=1):
    xs = [tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = fn(*xs), tfn(*ts)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7, err_msg="forward")
    gy = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    for k, (a, b) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-7, err_msg=f"grad {k}")


X = np.random.default_rng(0).standard_normal((2, 3, 4))

MOVES = {
    "reshape": (lambda x: x.reshape(4, 6), lambda x: x.reshape(4, 6)),
    "reshape_tuple_minus1": (lambda x: x.reshape((-1, 4)), lambda x: x.reshape(-1, 4)),
    "transpose_reverse": (lambda x: x.transpose(), lambda x: x.permute(2, 1, 0)),
    "transpose_axes": (lambda x: x.transpose(1, 2, 0), lambda x: x.permute(1, 2, 0)),
    "transpose_negative": (lambda x: x.transpose((0, -1, 1)), lambda x: x.permute(0, 2, 1)),
    "expand": (lambda x: x[:, :1].expand(2, 5, 4), lambda x: x[:, :1].expand(2, 5, 4)),
    "expand_new_axis": (lambda x: x[0, 0].expand(3, 4), lambda x: x[0, 0].expand(3, 4)),
    "getitem_int": (lambda x: x[1], lambda x: x[1]),
    "getitem_slices": (lambda x: x[:, 1:, ::2], lambda x: x[:, 1:, ::2]),
    "getitem_negative_step": (lambda x: x[..., ::-1], lambda x: x.flip(-1)),
    "getitem_none_ellipsis": (lambda x: x[None, ..., 2], lambda x: x[None, ..., 2]),
    "getitem_int_array": (lambda x: x[np.array([1, 0])], lambda x: x[torch.tensor([1, 0])]),
    "getitem_repeated": (lambda x: x[:, np.array([2, 0, 2, 2])],
                         lambda x: x[:, torch.tensor([2, 0, 2, 2])]),
    "getitem_pairs_repeated": (lambda x: x[np.array([0, 1, 0]), np.array([2, 2, 2])],
                               lambda x: x[torch.tensor([0, 1, 0]), torch.tensor([2, 2, 2])]),
    "getitem_list": (lambda x: x[[1, 1]], lambda x: x[[1, 1]]),
    "getitem_bool_mask": (lambda x: x[X > 0], lambda x: x[torch.tensor(X > 0)]),
    "getitem_tensor_index": (lambda x: x[tensor(np.array([1, 1, 0]))],
                             lambda x: x[torch.tensor([1, 1, 0])]),
}


@pytest.mark.parametrize("name", MOVES)
def test_movement_grad_matches_finite_differences(name):
    assert striate.gradcheck(MOVES[name][0], [X])


@pytest.mark.parametrize("name", MOVES)
def test_movement_matches_torch(name):
    _check_torch(*MOVES[name], [X])


def test_getitem_repeated_index_accumulates_gradient():
    x = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])


# integers with one array index: PyTorch applies the integers first (NumPy would broadcast them
# with the array and, where a slice, None or Ellipsis separates them, put the result's axes first)
MIXED = [
    (0, slice(None), [0, 2]),  # NumPy: (2, 3); PyTorch: (3, 2)
    (1, Ellipsis, [3, 0, 3]),
    (0, None, [1, 1]),
    (np.int64(1), slice(1, 3), [0]),
    (0, slice(None), np.array([[0, 1], [3, 2]])),
    (slice(None), 1, [2, 0]),  # adjacent: the same in both
    (1, [True, False, True]),  # a mask after an integer
    ([1, 0], 2, [3, 1]),  # two arrays separated by an integer
    (0, True, [1]),  # a bool adds an axis and indexes none
    (True, 0, slice(None), [1, 1]),
]


@pytest.mark.parametrize("index", MIXED, ids=str)
def test_getitem_integers_with_an_array_index_follow_torch(index):
    tindex = tuple(torch.tensor(i) if isinstance(i, (list, np.ndarray)) else
                   (int(i) if isinstance(i, np.integer) else i) for i in index)
    _check_torch(lambda x: x[index], lambda x: x[tindex], [X])


def test_reshape_and_transpose_round_trip_values():
    x = tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(x.transpose(2, 0, 1).data, np.arange(24.0).reshape(2, 3, 4)
                                  .transpose(2, 0, 1))
    np.testing.assert_array_equal(x.reshape(6, 4).reshape(2, 3, 4).data, x.data)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_concat_primitive_splits_gradient_back(axis):
    arrays = [X, X[:, :, :2] if axis == 2 else (X[:1] if axis == 0 else X[:, :2])]
    _check_torch(lambda a, b: apply(ops.Concat, a, b, axis=axis),
                 lambda a, b: torch.cat([a, b], axis), arrays)


@pytest.mark.parametrize("pad_width", [((0, 0), (1, 2), (0, 3)), ((2, 0), (0, 0), (1, 1))], ids=str)
def test_pad_primitive_values_and_grad(pad_width):
    y = apply(ops.Pad, tensor(X), pad_width=pad_width, value=-2.0)
    np.testing.assert_array_equal(y.data, np.pad(X, pad_width, constant_values=-2.0))
    assert striate.gradcheck(lambda a: apply(ops.Pad, a, pad_width=pad_width), [X])


def test_movement_keeps_float32():
    x = tensor(X.astype(np.float32), requires_grad=True)
    y = x.reshape(4, 6).transpose()[np.array([0, 0, 3])][:, 1:].expand(2, 3, 3)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_getitem_gradient_keeps_a_channels_last_input_channels_last():
    base = np.random.default_rng(0).standard_normal((2, 4, 6, 6))
    nhwc = np.ascontiguousarray(base.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    grads = []
    for a in (base, nhwc):
        x = tensor(a, requires_grad=True)
        y = x[:, :, ::2, 1::2]
        y.backward(np.arange(y.size, dtype=float).reshape(y.shape))
        grads.append(x.grad.data)
    np.testing.assert_array_equal(grads[1], grads[0])
    assert grads[1].transpose(0, 2, 3, 1).flags.c_contiguous
    assert grads[0][:, :, 1::2].sum() == 0 and grads[0][:, :, :, ::2].sum() == 0
