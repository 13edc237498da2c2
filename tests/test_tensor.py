"""Tensor: dtype rules, properties, operators with Python scalars and ndarrays, the backward
contract (scalars, explicit grads, accumulation, freed graphs, retain_grad, no_grad, deep chains)
and clear errors. The ops' numerics are in tests/ops/."""
import numpy as np
import pytest

import striate
from striate import Tensor, tensor


# ---- construction and dtypes ----
@pytest.mark.parametrize("data, dtype", [
    (np.zeros(3, np.float64), np.float64),
    (np.zeros(3, np.float32), np.float32),
    ([1.0, 2.0], np.float32),          # Python floats -> float32
    (2.5, np.float32),
    ([[1, 2.5]], np.float32),          # mixed ints and floats are floats
    (np.float64(2.5), np.float64),     # a NumPy scalar keeps its dtype
    ([1, 2], np.int64),                # integers keep an integer dtype
    (np.arange(3, dtype=np.int32), np.int32),
    (np.array([True, False]), np.bool_),
], ids=str)
def test_tensor_dtype_rules(data, dtype):
    assert tensor(data).dtype == dtype


def test_tensor_explicit_dtype_wins():
    assert tensor([1.0, 2.0], dtype=np.float64).dtype == np.float64
    assert tensor(np.zeros(2), dtype=np.float32).dtype == np.float32
    assert tensor([1, 2], dtype=np.float32, requires_grad=True).requires_grad


@pytest.mark.parametrize("data", [[1, 2], np.arange(3), np.array([True])], ids=str)
def test_integer_tensor_cannot_require_grad(data):
    with pytest.raises(TypeError, match=r"tensor: only floating-point tensors can require grad, got "
                                        r"dtype (int|bool)"):
        tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match=r"only floating-point tensors can require grad"):
        tensor(data).requires_grad_()


def test_tensor_rejects_non_numeric_data():
    with pytest.raises(TypeError, match=r"tensor: data of type list (\(dtype \S+\) )?is not numeric"):
        tensor([{"a": 1}])
    with pytest.raises(ValueError, match=r"tensor: cannot convert list to an array"):
        tensor([[1.0, 2.0], [3.0]])


def test_tensor_properties_and_conversions():
    x = tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert (x.shape, x.ndim, x.size, x.dtype) == ((2, 3), 2, 6, np.float64)
    assert x.requires_grad and x.grad is None and x.is_leaf
    assert x.numpy() is x.data and len(x) == 2
    assert tensor([[3.5]]).item() == 3.5 and float(tensor(2.0)) == 2.0
    d = x.detach()
    assert d.data is x.data and not d.requires_grad
    assert x.T.shape == (3, 2) and x.flatten().shape == (6,)
    assert "requires_grad=True" in repr(x) and repr(tensor([1.0])).startswith("tensor(")


def test_item_on_several_elements_is_a_clear_error():
    with pytest.raises(ValueError, match=r"item: only a one-element tensor converts to a number, "
                                         r"shape is \(2,\)"):
        tensor([1.0, 2.0]).item()


def test_ops_keep_float32():
    x = tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = ((x * 2.5 + 1) / 3 - x ** 2).exp().log().sqrt().tanh().abs().clip(0, 1)
    y = (y @ np.ones((3, 2), np.float32)).sum(axis=0).mean() + x.var() + x.max() + x.min()
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


# ---- operators with scalars and ndarrays ----
def test_reflected_operators_with_python_scalars():
    x = tensor(np.array([1.0, 2.0, 4.0]))
    np.testing.assert_allclose((2 - x).data, [1, 0, -2])
    np.testing.assert_allclose((2 / x).data, [2, 1, 0.5])
    np.testing.assert_allclose((2 ** x).data, [2, 4, 16])
    np.testing.assert_allclose((3 * x + 1).data, [4, 7, 13])
    np.testing.assert_allclose((-x).data, [-1, -2, -4])
    np.testing.assert_allclose(abs(tensor([-1.5])).data, [1.5])


def test_ndarray_on_the_left_defers_to_tensor():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x + np.ones(2)
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])


def test_comparisons_return_bool_tensors_without_grad():
    x = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for got, want in [(x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]), (x > 2, [0, 0, 1]),
                      (x >= 2, [0, 1, 1]), (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]),
                      (x > tensor(np.array([0.0, 5.0, 0.0])), [1, 0, 1])]:
        assert got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.data, want)


def test_incompatible_shapes_are_a_clear_error():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        tensor(np.zeros((2, 3))) + tensor(np.zeros(4))
    with pytest.raises(ValueError, match=r"mul: shapes \(3,\) and \(2,\) do not broadcast"):
        tensor(np.zeros(3)) * np.zeros(2)


def test_movement_argument_errors_are_clear():
    x = tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape \(2, 3\) into \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"only one dimension can be -1"):
        x.reshape(-1, -1)
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0\) are not a permutation of 2 axes"):
        x.transpose(0, 0)
    with pytest.raises(IndexError, match=r"getitem: index 5 is invalid for shape \(2, 3\)"):
        x[5]
    with pytest.raises(ValueError, match=r"clip: at least one of min and max must be given"):
        x.clip()


# ---- backward contract ----
def test_backward_on_scalar_needs_no_argument():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])


def test_backward_on_non_scalar_without_grad_is_a_clear_error():
    x = tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(ValueError, match=r"backward: a gradient is needed for a non-scalar tensor of "
                                         r"shape \(2, 2\)"):
        (x * 2).backward()


def test_backward_with_grad_of_wrong_shape_is_a_clear_error():
    x = tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(ValueError, match=r"backward: grad has shape \(4,\), expected \(2, 2\)"):
        (x * 2).backward(np.ones(4))


def test_backward_without_graph_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"backward: this tensor does not require grad"):
        tensor(np.ones(2)).sum().backward()


def test_backward_with_explicit_grad_weights_each_output():
    x = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (x * x).backward(tensor(np.array([1.0, 0.0, -1.0])))
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, -6.0])


def test_gradients_accumulate_over_two_backward_calls():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3, 3])


def test_a_leaf_used_twice_sums_both_paths():
    x = tensor(np.array([2.0]), requires_grad=True)
    (x * x + x).backward(np.ones(1))
    np.testing.assert_allclose(x.grad.data, [5.0])


def test_second_backward_through_the_same_graph_is_a_clear_error():
    x = tensor(np.ones(3), requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time"):
        y.backward()
    np.testing.assert_allclose(x.grad.data, [2, 2, 2])  # the failed call added nothing


def test_backward_through_a_subgraph_freed_by_another_backward_is_a_clear_error():
    # z's graph is freed by the first backward; silently treating z as a leaf would give x a
    # wrong gradient, so the second backward must fail
    x = tensor(np.ones(3), requires_grad=True)
    z = x * 2
    y1, y2 = z.sum(), (z * 3).sum()
    y1.backward()
    with pytest.raises(RuntimeError, match=r"second time"):
        y2.backward()
    assert z.grad is None and not z.is_leaf


def test_backward_frees_saved_arrays():
    x = tensor(np.ones(3), requires_grad=True)
    y = x * x
    fn = y._ctx
    assert fn.saved_tensors
    y.sum().backward()
    assert fn.saved_tensors == () and fn.parents == ()


def test_leaf_grads_do_not_share_memory():
    a, b = tensor(np.ones(3), requires_grad=True), tensor(np.ones(3), requires_grad=True)
    g = np.ones(3)
    (a + b).backward(g)
    a.grad.data *= 10  # e.g. gradient clipping in place
    np.testing.assert_allclose(b.grad.data, [1, 1, 1])
    np.testing.assert_allclose(g, [1, 1, 1])


def test_retain_grad_keeps_grad_of_intermediate():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3
    h.retain_grad()
    k = x * 4
    (h * h + k).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    assert k.grad is None
    np.testing.assert_allclose(x.grad.data, 18 * x.data + 4)


def test_no_grad_records_no_graph():
    x = tensor(np.ones(2), requires_grad=True)
    with striate.no_grad():
        y = x * 2 + 1
    assert not y.requires_grad and y._ctx is None
    assert (x * 2).requires_grad


def test_operations_on_tensors_without_grad_record_no_graph():
    y = tensor(np.ones(2)) * 2
    assert not y.requires_grad and y._ctx is None


def test_deep_chain_of_5000_adds_does_not_hit_the_recursion_limit():
    x = tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1.0
    y.backward(np.ones(1))
    np.testing.assert_allclose(y.data, [5001.0])
    np.testing.assert_allclose(x.grad.data, [1.0])


def test_deep_chain_of_multiplies_gives_product_rule():
    x = tensor(np.array([1.0001]), requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * x
    y.backward(np.ones(1))
    np.testing.assert_allclose(x.grad.data, 3001 * 1.0001 ** 3000, rtol=1e-10)


def test_detach_cuts_the_graph():
    x = tensor(np.array([2.0]), requires_grad=True)
    (x * x.detach()).backward(np.ones(1))
    np.testing.assert_allclose(x.grad.data, [2.0])


def test_matmul_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ: \(2, 3\) @ \(4, 5\)"):
        tensor(np.zeros((2, 3))) @ tensor(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: batch dimensions do not broadcast: "
                                         r"\(2, 3, 4\) @ \(5, 4, 6\)"):
        tensor(np.zeros((2, 3, 4))) @ tensor(np.zeros((5, 4, 6)))
    with pytest.raises(ValueError, match=r"matmul: operands must have at least 1 dimension"):
        tensor(np.zeros(3)) @ tensor(np.float64(2.0))


# ---- memory and bookkeeping of the graph (the speed work of issue 7) ----
def test_graph_does_not_keep_an_intermediate_array_alive():
    import gc
    import weakref

    x = tensor(np.linspace(0.1, 1.0, 5), requires_grad=True)
    h = x * 2.0
    z = h.exp()  # Exp saves its output, not its input: nothing in the graph needs h's array
    alive = weakref.ref(h.data)
    del h
    gc.collect()
    assert alive() is None
    z.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(2 * x.data))


def test_retain_grad_works_when_the_graph_holds_only_a_stand_in():
    x = tensor(np.array([1.0, -2.0]), requires_grad=True)
    h = x * 3
    h.retain_grad()
    y = (h.exp() + h * h).sum()
    y.backward()
    np.testing.assert_allclose(h.grad.data, np.exp(h.data) + 2 * h.data)
    np.testing.assert_allclose(x.grad.data, 3 * np.exp(3 * x.data) + 18 * x.data)
    assert not h.is_leaf


def test_backward_through_a_root_already_backpropagated_as_an_input_is_an_error():
    x = tensor(np.ones(3), requires_grad=True)
    loss = (x * x).sum()
    later = loss * 2
    loss.backward()
    with pytest.raises(RuntimeError, match=r"second time"):
        later.backward()


def test_gradient_of_a_tensor_used_many_times_sums_every_use():
    x = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    h = x * 1.0
    y = (h * 2 + h * 3 + h * h + h.exp()).sum()  # four consumers of h: sums made in place
    y.backward()
    np.testing.assert_allclose(x.grad.data, 5 + 2 * x.data + np.exp(x.data))


def test_leaf_used_several_times_gets_its_own_grad_array():
    a = tensor(np.ones(3), requires_grad=True)
    b = tensor(np.ones(3), requires_grad=True)
    g = np.ones(3)
    (a + a + b).backward(g)
    a.grad.data *= 10  # in place, as gradient clipping does
    np.testing.assert_allclose(a.grad.data, [20, 20, 20])
    np.testing.assert_allclose(b.grad.data, [1, 1, 1])
    np.testing.assert_allclose(g, [1, 1, 1])


def test_mixed_precision_contributions_are_summed_in_the_wider_dtype():
    x = tensor(np.ones(2, np.float32), requires_grad=True)
    w = tensor(np.array([1e-8, 1e-8]), requires_grad=True)  # float64
    y = (x * w + x * w + x * 1.0).sum()
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, 1 + 2e-8, rtol=1e-7)


def test_no_grad_tells_kernels_no_input_needs_a_gradient():
    from striate.autograd import Function
    from striate.tensor import apply

    seen = []

    class Probe(Function):
        def forward(self, a):
            seen.append(self.needs_input_grad)
            return a * 1

    x = tensor(np.ones(2), requires_grad=True)
    apply(Probe, x)
    with striate.no_grad():
        apply(Probe, x)
    assert seen == [(True,), (False,)]
