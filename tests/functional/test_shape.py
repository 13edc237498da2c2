"""flatten, concat, split, pad2d, channel_shuffle: values, finite differences, torch parity,
dtypes and clear errors."""
import numpy as np
import pytest

import striate
import striate.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _check_torch(fn, tfn, arrays, seed=1):
    """Forward (a Tensor or a tuple of them) and every input's gradient against torch."""
    xs = [striate.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ys, yts = fn(*xs), tfn(*ts)
    ys, yts = (ys, yts) if isinstance(ys, tuple) else ((ys,), (yts,))
    assert len(ys) == len(yts)
    rng = np.random.default_rng(seed)
    loss, tloss = 0, 0
    for y, yt in zip(ys, yts):
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7, err_msg="forward")
        gy = rng.standard_normal(y.shape)
        loss = loss + (y * gy).sum()
        tloss = tloss + (yt * torch.tensor(gy)).sum()
    loss.backward()
    tloss.backward()
    for k, (a, b) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-7, err_msg=f"grad {k}")


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- flatten ----
@pytest.mark.parametrize("shape, start, end, expected", [
    ((2, 3, 4, 5), 1, -1, (2, 60)),
    ((2, 3, 4, 5), 0, -1, (120,)),
    ((2, 3, 4, 5), 1, 2, (2, 12, 5)),
    ((2, 3, 4, 5), -2, 3, (2, 3, 20)),
    ((4, 1), 1, -1, (4, 1)),
], ids=str)
def test_flatten_shape_values_and_grad(shape, start, end, expected):
    x = _rand(*shape)
    y = F.flatten(striate.tensor(x), start, end)
    assert y.shape == expected
    np.testing.assert_array_equal(y.data, x.reshape(expected))
    _check_torch(lambda a: F.flatten(a, start, end), lambda a: torch.flatten(a, start, end), [x])
    assert striate.gradcheck(lambda a: F.flatten(a, start, end), [x])


def test_flatten_keeps_batch_axis_by_default():
    assert F.flatten(np.zeros((7, 2, 3))).shape == (7, 6)


def test_flatten_axis_errors_are_clear():
    with pytest.raises(ValueError, match=r"flatten: start_axis 1 is out of range for an input with "
                                         r"1 dimensions"):
        F.flatten(striate.tensor(np.zeros(3)))
    with pytest.raises(ValueError, match=r"flatten: start_axis 2 comes after end_axis 1"):
        F.flatten(striate.tensor(np.zeros((2, 3, 4))), 2, 1)


# ---- concat ----
@pytest.mark.parametrize("shapes, axis", [
    ([(2, 3, 4, 4), (2, 1, 4, 4), (2, 5, 4, 4)], 1),
    ([(3, 2), (1, 2)], 0),
    ([(2, 3), (2, 4)], -1),
    ([(2, 2, 3)], 1),
], ids=str)
def test_concat_matches_numpy_torch_and_finite_differences(shapes, axis):
    arrays = [_rand(*s, seed=i) for i, s in enumerate(shapes)]
    y = F.concat([striate.tensor(a) for a in arrays], axis=axis)
    np.testing.assert_array_equal(y.data, np.concatenate(arrays, axis=axis))
    _check_torch(lambda *a: F.concat(list(a), axis), lambda *a: torch.cat(a, axis), arrays)
    assert striate.gradcheck(lambda *a: F.concat(a, axis), arrays)


def test_concat_default_axis_is_channels():
    y = F.concat([np.zeros((2, 3, 4, 4)), np.zeros((2, 5, 4, 4))])
    assert y.shape == (2, 8, 4, 4)


def test_concat_grad_only_to_inputs_that_require_it():
    a = striate.tensor(_rand(2, 3), requires_grad=True)
    b = striate.tensor(_rand(2, 2))
    F.concat([a, b]).sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.ones((2, 3)))
    assert b.grad is None


def test_concat_shape_mismatch_off_axis_is_a_clear_error():
    with pytest.raises(ValueError, match=r"concat: shapes \[\(2, 3, 4\), \(2, 3, 5\)\] must agree "
                                         r"on every axis but axis 1"):
        F.concat([np.zeros((2, 3, 4)), np.zeros((2, 3, 5))], axis=1)
    with pytest.raises(ValueError, match=r"concat: inputs must have the same number"):
        F.concat([np.zeros((2, 3)), np.zeros((2, 3, 1))])
    with pytest.raises(TypeError, match=r"concat: expected a non-empty list or tuple of Tensors"):
        F.concat([])
    with pytest.raises(TypeError, match=r"concat: expected a non-empty list"):
        F.concat(striate.tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"concat: axis 2 is out of range for an input with 2 dim"):
        F.concat([np.zeros((2, 3)), np.zeros((2, 3))], axis=2)


# ---- split ----
@pytest.mark.parametrize("n, arg, sizes", [
    (5, 2, [2, 2, 1]),      # int is the size of each piece, as torch.split
    (6, 3, [3, 3]),
    (4, 7, [4]),
    (6, [1, 0, 5], [1, 0, 5]),
    (6, (4, 2), [4, 2]),
], ids=str)
def test_split_follows_torch_split_semantics(n, arg, sizes):
    x = _rand(2, n, 3)
    pieces = F.split(striate.tensor(x), arg)
    assert [p.shape[1] for p in pieces] == sizes
    np.testing.assert_array_equal(np.concatenate([p.data for p in pieces], axis=1), x)
    _check_torch(lambda a: F.split(a, arg, 1), lambda a: torch.split(a, arg, 1), [x])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_split_grad_matches_finite_differences(axis):
    x = _rand(4, 5, 3)

    def fn(a):
        pieces = F.split(a, 2, axis)
        return F.concat([p * (i + 1.0) for i, p in enumerate(pieces)], axis=axis)

    assert striate.gradcheck(fn, [x])


def test_split_bad_sizes_are_clear_errors():
    x = striate.tensor(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"split: sizes \[2, 2\] must be non-negative and sum to 5"):
        F.split(x, [2, 2])
    with pytest.raises(ValueError, match=r"split: the piece size must be positive, got 0"):
        F.split(x, 0)
    with pytest.raises(TypeError, match=r"split: sections_or_sizes must be an int or a list of ints"):
        F.split(x, 2.5)
    with pytest.raises(ValueError, match=r"split: axis 3 is out of range"):
        F.split(x, 1, axis=3)


# ---- pad2d ----
@pytest.mark.parametrize("padding, torch_pad", [
    (1, (1, 1, 1, 1)),
    ((2, 1), (1, 1, 2, 2)),            # (pad_h, pad_w) as conv2d
    ((0, 1, 2, 3), (0, 1, 2, 3)),      # (left, right, top, bottom) as torch F.pad
    (0, (0, 0, 0, 0)),
], ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4)], ids=str)
def test_pad2d_matches_torch_pad_and_finite_differences(padding, torch_pad, shape):
    x = _rand(*shape)
    _check_torch(lambda a: F.pad2d(a, padding, 1.5),
                 lambda a: TF.pad(a, torch_pad, mode="constant", value=1.5), [x])
    assert striate.gradcheck(lambda a: F.pad2d(a, padding), [x])


def test_pad2d_output_size_and_fill_value():
    y = F.pad2d(striate.tensor(np.ones((1, 1, 2, 2), np.float32)), (0, 1, 2, 3), value=-1.0)
    assert y.shape == (1, 1, 2 + 2 + 3, 2 + 0 + 1) and y.dtype == np.float32
    assert (y.data == -1).sum() == y.size - 4


def test_pad2d_bad_arguments_are_clear_errors():
    x = striate.tensor(np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"pad2d: padding must be non-negative, got \(1, -1\)"):
        F.pad2d(x, (1, -1))
    with pytest.raises(TypeError, match=r"pad2d: padding must be an int, \(pad_h, pad_w\) or "
                                        r"\(left, right, top, bottom\), got \(1, 2, 3\)"):
        F.pad2d(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"pad2d: expected an input of shape \(\.\.\., H, W\), "
                                         r"got \(3,\)"):
        F.pad2d(striate.tensor(np.zeros(3)), 1)


# ---- channel_shuffle ----
def test_channel_shuffle_interleaves_groups():
    x = np.arange(6.0).reshape(1, 6, 1, 1)
    y = F.channel_shuffle(striate.tensor(x), 2)
    np.testing.assert_array_equal(y.data.ravel(), [0, 3, 1, 4, 2, 5])
    y = F.channel_shuffle(striate.tensor(x), 3)
    np.testing.assert_array_equal(y.data.ravel(), [0, 2, 4, 1, 3, 5])


@pytest.mark.parametrize("shape, groups", [((2, 6, 3, 2), 2), ((2, 6, 3, 2), 3), ((3, 4, 5), 4),
                                           ((2, 4, 2, 2), 1)], ids=str)
def test_channel_shuffle_matches_torch_and_finite_differences(shape, groups):
    x = _rand(*shape)
    _check_torch(lambda a: F.channel_shuffle(a, groups), lambda a: TF.channel_shuffle(a, groups), [x])
    assert striate.gradcheck(lambda a: F.channel_shuffle(a, groups), [x])


def test_channel_shuffle_bad_groups_are_clear_errors():
    x = striate.tensor(np.zeros((1, 6, 2, 2)))
    with pytest.raises(ValueError, match=r"channel_shuffle: 6 channels \(input \(1, 6, 2, 2\)\) "
                                         r"are not divisible by groups=4"):
        F.channel_shuffle(x, 4)
    with pytest.raises(ValueError, match=r"channel_shuffle: groups must be a positive int, got 0"):
        F.channel_shuffle(x, 0)


# ---- dtypes ----
@pytest.mark.parametrize("fn", [
    lambda a: F.flatten(a),
    lambda a: F.concat([a, a]),
    lambda a: F.split(a, 1)[1],
    lambda a: F.pad2d(a, 1),
    lambda a: F.channel_shuffle(a, 2),
], ids=["flatten", "concat", "split", "pad2d", "channel_shuffle"])
def test_shape_ops_keep_float32(fn):
    x = striate.tensor(np.ones((2, 4, 3, 3), np.float32), requires_grad=True)
    y = fn(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
