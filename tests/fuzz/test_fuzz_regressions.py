"""One plain test for each bug the fuzzers in this folder found, so that a fix cannot regress
unnoticed even if hypothesis never draws that case again."""
import numpy as np
import pytest

import striate
import striate.functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def t(*shape, grad=False):
    return striate.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=grad)


# ---- convolutions ----
@pytest.mark.parametrize("fn, w_shape", [
    (F.conv2d, (1, 1, 1, 0)), (F.conv1d, (1, 1, 0)), (F.conv_transpose2d, (1, 1, 0, 2))])
def test_conv_with_zero_size_kernel_is_refused_not_computed(fn, w_shape):
    x = t(1, 1, 3, 3) if len(w_shape) == 4 else t(1, 1, 3)
    with pytest.raises(ValueError, match=rf"{fn.__name__}: kernel size must be positive"):
        fn(x, t(*w_shape))


@pytest.mark.parametrize("x_shape, w_shape", [((1, 0, 3, 3), (1, 0, 1, 1)),
                                              ((1, 1, 0, 3), (1, 1, 1, 1))])
def test_conv2d_of_empty_channels_or_map_is_refused_even_with_padding(x_shape, w_shape):
    with pytest.raises(ValueError, match=r"conv2d: input of shape .* is empty"):
        F.conv2d(t(*x_shape), t(*w_shape), padding=1)


def test_conv2d_huge_padding_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"conv2d: the padded input would have shape .* GiB"):
        F.conv2d(t(1, 1, 3, 3), t(1, 1, 2, 2), padding=10**9)


def test_conv_transpose2d_huge_stride_output_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"conv_transpose2d: the output would have shape"):
        F.conv_transpose2d(t(1, 1, 3, 3), t(1, 1, 2, 2), stride=10**12)


@pytest.mark.parametrize("x_shape, w_shape, stride, torch_stride", [
    ((1, 1, 1, 1), (1, 1, 1, 2), 10**12, 10**6),  # the fuzz case: 7 TiB of scratch asked for
    ((2, 3, 1, 4), (3, 2, 3, 2), (10**30, 2), (10**6, 2)),  # one axis of one element only
])
def test_conv_transpose2d_huge_stride_over_one_input_element_computes_without_scratch_for_it(
        x_shape, w_shape, stride, torch_stride):
    # along an axis with one input element the stride places nothing, so the output is small;
    # the kernels used to size their scratch by the stride (torch overflows int32 past 2**31,
    # hence its smaller, equivalent stride)
    x, w = t(*x_shape, grad=True), t(*w_shape, grad=True)
    y = F.conv_transpose2d(x, w, stride=stride)
    y.backward(np.ones(y.shape))
    xt, wt = torch.tensor(x.data, requires_grad=True), torch.tensor(w.data, requires_grad=True)
    yt = tF.conv_transpose2d(xt, wt, stride=torch_stride)
    yt.backward(torch.ones(yt.shape, dtype=torch.float64))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-7)
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-7)


@pytest.mark.parametrize("x_shape, w_shape, kw", [
    ((1, 1, 1, 1), (1, 1, 1, 1), dict(output_padding=(0, 1), dilation=(1, 2))),  # the fuzz case
    ((2, 2, 1, 2), (2, 3, 1, 1), dict(output_padding=(0, 1), dilation=(1, 2))),
    ((2, 2, 3, 3), (2, 3, 1, 1), dict(stride=2, output_padding=1)),
], ids=["fuzz", "channels", "strided"])
def test_conv_transpose2d_1x1_with_output_padding_backward_ignores_the_padded_columns(
        x_shape, w_shape, kw):
    # the 1x1 kernel's backward multiplied every pixel of the output gradient, extra columns
    # included, and NumPy's matmul refused the shapes ("mismatch in its core dimension")
    x, w = t(*x_shape, grad=True), t(*w_shape, grad=True)
    y = F.conv_transpose2d(x, w, **kw)
    gy = np.random.default_rng(7).standard_normal(y.shape)
    y.backward(gy)
    xt, wt = torch.tensor(x.data, requires_grad=True), torch.tensor(w.data, requires_grad=True)
    yt = tF.conv_transpose2d(xt, wt, **kw)
    yt.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-7)
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-7)


@pytest.mark.parametrize("C, kw", [
    (2, dict(output_padding=(1, 0), dilation=(2, 1))),  # the fuzz case, with a 1x1 input
    (3, dict(output_padding=1, dilation=2, padding=1)),
    (96, dict(output_padding=(1, 0), dilation=(2, 1))),  # the einsum-sized depthwise kernels
])
def test_depthwise_conv_transpose2d_output_padding_at_stride_1_is_zero_not_unwritten(C, kw):
    # output_padding below the dilation is allowed at stride 1; the depthwise kernel gathered
    # the rows a conv2d would have and left the extra ones as np.empty had them
    hw = (1, 1) if C == 2 else (6, 5)
    x, w = t(2, C, *hw, grad=True), t(C, 1, 2, 3, grad=True)
    y = F.conv_transpose2d(x, w, groups=C, **kw)
    gy = np.random.default_rng(7).standard_normal(y.shape)
    y.backward(gy)
    xt, wt = torch.tensor(x.data, requires_grad=True), torch.tensor(w.data, requires_grad=True)
    yt = tF.conv_transpose2d(xt, wt, groups=C, **kw)
    yt.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-7)
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-7)


def test_conv2d_stride_past_the_input_computes_one_window_without_overflow():
    x, w = t(2, 3, 5, 4, grad=True), t(2, 3, 2, 2, grad=True)
    y = F.conv2d(x, w, stride=10**30)
    y.backward(np.ones(y.shape))
    xt, wt = torch.tensor(x.data, requires_grad=True), torch.tensor(w.data, requires_grad=True)
    yt = tF.conv2d(xt, wt, stride=10**6)
    yt.backward(torch.ones(yt.shape, dtype=torch.float64))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-7)
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-7)


def test_pointwise_conv2d_of_empty_batch_gives_empty_output_and_grads():
    x, w = t(0, 3, 4, 4, grad=True), t(5, 3, 1, 1, grad=True)
    y = F.conv2d(x, w)
    assert y.shape == (0, 5, 4, 4)
    y.backward(np.zeros(y.shape))
    assert x.grad.shape == (0, 3, 4, 4)
    np.testing.assert_array_equal(w.grad.data, np.zeros((5, 3, 1, 1)))


# ---- pooling ----
@pytest.mark.parametrize("call", [
    lambda x: F.global_max_pool2d(x), lambda x: F.global_avg_pool2d(x),
    lambda x: F.adaptive_avg_pool2d(x, 2), lambda x: F.adaptive_max_pool2d(x, 2),
    lambda x: F.max_pool2d(x, (2, 1), padding=(1, 0)), lambda x: F.avg_pool2d(x, 1)])
def test_pooling_of_empty_feature_maps_is_refused(call):
    with pytest.raises(ValueError, match=r"_pool2d: input of shape \(1, 1, 0, 1\) has empty "
                                         r"feature maps"):
        call(t(1, 1, 0, 1))


def test_adaptive_pool_to_huge_output_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: the output would have shape"):
        F.adaptive_avg_pool2d(t(0, 0, 1, 1), (10**9, 10**9))


def test_max_pool2d_huge_kernel_in_ceil_mode_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"max_pool2d: the padded input would have shape"):
        F.max_pool2d(t(1, 1, 1, 1), 10**12, ceil_mode=True)


def test_avg_pool2d_stride_past_the_input_computes_one_window_without_overflow():
    x = t(1, 2, 3, 3)
    np.testing.assert_allclose(F.avg_pool2d(x, 3, stride=10**30).data,
                               x.data.mean(axis=(2, 3), keepdims=True), rtol=1e-12)


# ---- normalization, activations, linear ----
def test_batch_norm_without_channels_is_refused_not_divided_by_zero():
    with pytest.raises(ValueError, match=r"batch_norm: input of shape \(4, 0\) has no channels"):
        F.batch_norm(t(4, 0), np.zeros(0), np.ones(0), training=True)


def test_batch_norm_of_empty_batch_in_eval_gives_empty_output():
    assert F.batch_norm(t(0, 3, 2, 2), np.zeros(3), np.ones(3)).shape == (0, 3, 2, 2)


def test_local_response_norm_huge_size_matches_torch_without_looping_over_it():
    x = t(2, 3, 2, 2)
    y = F.local_response_norm(x, 10**9)  # before the fix: a Python loop of 5e8 steps
    # every window spans all 3 channels once size >= 5; only alpha / size differs
    ref = tF.local_response_norm(torch.from_numpy(x.data), 5, alpha=1e-4 * 5 / 10**9)
    np.testing.assert_allclose(y.data, ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_axis_gives_an_empty_result(op):
    x = t(2, 0, grad=True)
    y = getattr(F, op)(x, axis=-1)
    assert y.shape == (2, 0)
    y.backward(np.zeros((2, 0)))
    assert x.grad.shape == (2, 0)


def test_linear_with_zero_in_features_gives_the_bias():
    x, w, b = t(2, 0, grad=True), t(4, 0, grad=True), t(4)
    y = F.linear(x, w, b)
    np.testing.assert_allclose(y.data, np.broadcast_to(b.data, (2, 4)))
    y.backward(np.ones((2, 4)))
    assert x.grad.shape == (2, 0) and w.grad.shape == (4, 0)


def test_pad2d_huge_padding_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"pad2d: the output would have shape"):
        F.pad2d(t(0, 0, 0), 10**12)


# ---- tensor ops ----
@pytest.mark.parametrize("shape, exc, match", [
    ((3.0, 2), TypeError, "dimensions must be ints"),
    ((-2, -3), ValueError, "dimensions must be non-negative"),
    ((10**20,), ValueError, "a dimension is larger than"),
])
def test_reshape_bad_dimensions_raise_clear_errors(shape, exc, match):
    with pytest.raises(exc, match=rf"reshape: cannot reshape \(2, 3\) into .*{match}"):
        t(2, 3).reshape(*shape)


def test_reshape_huge_dimension_of_empty_tensor_is_refused():
    with pytest.raises(ValueError, match=r"reshape: .* a dimension is larger than"):
        t(0).reshape(0, 10**20)


@pytest.mark.parametrize("x, axes, exc", [
    (t(2, 3), (0, 5), ValueError), (t(2, 3), (0.0, 1), TypeError), (t(), (0,), ValueError)])
def test_transpose_axes_out_of_range_or_not_ints_are_refused(x, axes, exc):
    # (0, 5) on a 2-D tensor used to be read as (0, 1) and returned a copy of the input
    with pytest.raises(exc, match=r"^transpose: axes"):
        x.transpose(*axes)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: striate.tensor("abc"), TypeError, r"^tensor: data of type str"),
    (lambda: striate.tensor([1.0], dtype="foo"), TypeError, r"^tensor: dtype 'foo'"),
    (lambda: t(2) + "a", TypeError, r"^add: operands must be"),
    (lambda: t(2) @ None, TypeError, r"^matmul: operands must be"),
    (lambda: t(2).clip("a"), TypeError, r"^clip: min and max must be numbers"),
    (lambda: t(2, 3).expand(4, 3), ValueError, r"^expand: cannot expand shape \(2, 3\)"),
])
def test_non_numeric_operands_and_bad_expand_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "var"])
@pytest.mark.parametrize("axis", [0, -1])
def test_reduce_0d_tensor_over_axis_0_or_minus_1_as_torch(op, axis):
    x = striate.tensor(np.float64(1.5), requires_grad=True)
    y = getattr(x, op)(axis=axis)
    ref = {"var": lambda: torch.var(torch.tensor(1.5, dtype=torch.float64), axis, correction=0),
           "max": lambda: torch.amax(torch.tensor(1.5, dtype=torch.float64), axis),
           "min": lambda: torch.amin(torch.tensor(1.5, dtype=torch.float64), axis)}.get(
        op, lambda: getattr(torch.tensor(1.5, dtype=torch.float64), op)(axis))()
    np.testing.assert_allclose(y.data, ref.numpy())
    y.backward()
    assert x.grad.shape == ()


def test_max_over_a_nonempty_axis_of_an_empty_tensor_is_empty():
    x = t(0, 3, grad=True)
    y = x.max(axis=1)
    assert y.shape == (0,)
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty axis"):
        x.max(axis=0)


# ---- losses ----
def test_bce_weight_of_strings_raises_type_error_naming_op():
    with pytest.raises(TypeError, match=r"binary_cross_entropy_with_logits: weight must be "
                                        r"numeric"):
        F.binary_cross_entropy_with_logits(t(3), t(3), weight=np.array(["a"]))


def test_bce_weight_that_would_grow_the_loss_shape_is_refused():
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not broadcast to input "
                                         r"of shape \(\)"):
        F.binary_cross_entropy_with_logits(t(), t(), weight=np.ones(3), reduction="none")


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_class_loss_with_every_target_ignored_has_zero_gradient_as_torch(op):
    x = t(2, 3, grad=True)
    loss = getattr(F, op)(x, np.array([-100, -100]))
    assert np.isnan(loss.item())  # 0 / 0, as torch
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((2, 3)))  # not NaN


def test_cross_entropy_huge_uint64_target_reports_its_real_value():
    with pytest.raises(ValueError, match=str(2**63 + 5)):
        F.cross_entropy(t(2, 3), np.array([2**63 + 5, 1], dtype=np.uint64))

