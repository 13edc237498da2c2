"""Module hooks, repr and the qualified layer names in errors (Module itself: test_module.py)."""
import numpy as np
import pytest

import striate
from striate import nn
from tests.nn.test_module import Affine, Net, _x


# ---- hooks ----
def test_forward_hook_fires_with_inputs_and_output_and_removes():
    m = Affine()
    calls = []
    handle = m.register_forward_hook(lambda mod, inp, out: calls.append((mod, inp, out)))
    x = _x()
    y = m(x)
    assert len(calls) == 1 and calls[0][0] is m and calls[0][1][0] is x and calls[0][2] is y
    handle.remove()
    m(x)
    assert len(calls) == 1


def test_forward_hooks_can_replace_input_and_output():
    m = Affine()
    pre = m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 0.0,))
    post = m.register_forward_hook(lambda mod, inp, out: out + 1.0)
    np.testing.assert_allclose(m(_x()).data, np.ones((4, 3)))
    pre.remove()
    post.remove()
    np.testing.assert_allclose(m(_x()).data, _x().data * m.w.data)


def test_hook_handle_as_context_manager():
    m = Affine()
    calls = []
    with m.register_forward_pre_hook(lambda mod, inp: calls.append(1)):
        m(_x())
    m(_x())
    assert calls == [1]


# ---- repr ----
def test_repr_is_nested_with_extra_repr():
    assert repr(Net()) == (
        "Net(\n"
        "  (block): Block(\n"
        "    (first): Affine(n=3)\n"
        "    (inner): Affine(n=3)\n"
        "  )\n"
        "  (head): Affine(n=3)\n"
        ")"
    )


# ---- qualified names in errors ----
def test_layer_error_names_qualified_path_in_model():
    with pytest.raises(ValueError) as info:
        Net()(_x((4, 5)))
    assert str(info.value) == "Affine 'block.first' expects 3 features, got 5"


def test_layer_error_called_alone_names_only_type():
    with pytest.raises(ValueError, match=r"^Affine expects 3 features, got 5$"):
        Affine()(_x((4, 5)))


def test_plain_error_from_forward_is_prefixed_with_layer_name():
    class Broken(nn.Module):
        def forward(self, x):
            return x + striate.tensor(np.ones(7))

    net = Net()
    net.block.inner = Broken()
    with pytest.raises(ValueError, match=r"^Broken 'block.inner': add: shapes \(4, 3\) and \(7,\)"):
        net(_x())


def test_error_subclass_passes_through_unchanged():
    class MyError(ValueError):
        pass

    class Raiser(nn.Module):
        def forward(self, x):
            raise MyError("mine")

    with pytest.raises(MyError, match="^mine$"):
        Raiser()(_x())


def test_qualified_name_lookup_resets_between_calls():
    net = Net()
    with pytest.raises(ValueError):
        net(_x((4, 5)))
    with pytest.raises(ValueError, match=r"^Affine expects"):
        net.head(_x((4, 5)))  # called directly: it is the outermost module now
