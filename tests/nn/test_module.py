"""Module and Parameter: registration, traversal, state_dict, modes (hooks, repr and error
names: test_module_hooks.py).

These tests use small Modules built from Tensor arithmetic only, so they do not depend on any
functional op.
"""
import numpy as np
import pytest

import striate
from striate import nn


class Affine(nn.Module):
    """y = x * w + b, with a step-counting buffer."""

    def __init__(self, n=3, dtype=np.float64):
        super().__init__()
        self.n = n
        self.w = nn.Parameter(np.linspace(0.5, 1.5, n).astype(dtype))
        self.b = nn.Parameter(np.zeros(n, dtype))
        self.register_buffer("steps", np.zeros((), np.int64))

    def forward(self, x):
        if x.shape[-1] != self.n:
            raise self._error(f"expects {self.n} features, got {x.shape[-1]}")
        if self.training:
            self.steps.data[...] += 1
        return x * self.w + self.b

    def extra_repr(self):
        return f"n={self.n}"


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Affine(3)
        self.inner = Affine(3)

    def forward(self, x):
        return self.inner(self.first(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = Affine(3)
        self.scale = nn.Parameter(np.array(2.0))

    def forward(self, x):
        return self.head(self.block(x)) * self.scale


def _x(shape=(4, 3)):
    return striate.tensor(np.random.default_rng(0).standard_normal(shape))


# ---- Parameter ----
def test_parameter_requires_grad_by_default_and_shares_data():
    a = np.ones(3, np.float32)
    p = nn.Parameter(a)
    assert p.requires_grad and isinstance(p, striate.Tensor)
    assert p.data is a
    assert not nn.Parameter(a, requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\n")


def test_parameter_of_integer_data_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(np.arange(3))


# ---- registration and traversal ----
def test_named_parameters_in_registration_order_own_first():
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["scale", "block.first.w", "block.first.b", "block.inner.w", "block.inner.b",
                     "head.w", "head.b"]


def test_shared_parameter_listed_once():
    net = Net()
    net.head.w = net.block.first.w
    names = [n for n, _ in net.named_parameters()]
    assert "head.w" not in names and "block.first.w" in names
    assert len(list(net.parameters())) == 6
    assert "head.w" in net.state_dict()  # state_dict keeps every alias, as PyTorch


def test_shared_module_listed_once_in_modules():
    net = Net()
    net.block.inner = net.head
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.first", "block.inner"]
    assert len(list(net.parameters())) == 5


def test_children_and_modules():
    net = Net()
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert list(net.children()) == [net.block, net.head]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Block", "Affine", "Affine",
                                                         "Affine"]
    assert net.get_submodule("block.inner") is net.block.inner
    with pytest.raises(AttributeError, match="nope"):
        net.get_submodule("block.nope")


def test_buffers_registered_and_named():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == ["block.first.steps", "block.inner.steps",
                                                   "head.steps"]
    assert all(b.dtype == np.int64 for b in net.buffers())


def test_assign_tensor_to_parameter_name_is_type_error():
    m = Affine()
    with pytest.raises(TypeError, match="Parameter or None expected"):
        m.w = striate.tensor(np.ones(3))
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["b"]


def test_assign_before_init_is_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_reassigning_attribute_moves_between_registries():
    m = Affine()
    m.steps = Affine()  # a module replaces the buffer of the same name
    assert "steps" not in dict(m.named_buffers(recurse=False))
    assert [n for n, _ in m.named_children()] == ["steps"]
    del m.steps
    assert list(m.children()) == []
    with pytest.raises(AttributeError, match="no attribute 'steps'"):
        m.steps
    with pytest.raises(TypeError, match="Parameter or None expected"):
        m.w = Affine()


def test_register_buffer_rejects_bad_names():
    m = Affine()
    with pytest.raises(ValueError, match="no '.'"):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(ValueError, match="already exists"):
        m.register_buffer("forward", np.zeros(1))


def test_add_module_rejects_non_module():
    with pytest.raises(TypeError, match="not a Module"):
        Affine().add_module("f", lambda x: x)


# ---- state_dict ----
def test_state_dict_keys_shapes_and_copies():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["scale", "block.first.w", "block.first.b", "block.first.steps",
                        "block.inner.w", "block.inner.b", "block.inner.steps", "head.w", "head.b",
                        "head.steps"]
    sd["head.w"][:] = 99.0
    assert not np.any(net.head.w.data == 99.0)


def test_state_dict_excludes_non_persistent_buffer():
    m = Affine()
    m.register_buffer("cache", np.zeros(2), persistent=False)
    assert "cache" not in m.state_dict()
    assert "cache" in dict(m.named_buffers())


def test_state_dict_round_trip_restores_perturbed_values():
    net = Net()
    net(_x())
    saved = net.state_dict()
    for p in net.parameters():
        p.data += 1.0
    net.head.steps.data[...] = 7
    arrays_before = [p.data for p in net.parameters()]
    missing, unexpected = net.load_state_dict(saved)
    assert missing == [] and unexpected == []
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, saved[k], err_msg=k)
    # loading copies into the existing arrays: optimizers keep valid references
    assert all(a is p.data for a, p in zip(arrays_before, net.parameters()))


def test_load_state_dict_accepts_tensors_and_keeps_dtype():
    m = Affine(dtype=np.float32)
    state = {"w": striate.tensor(np.full(3, 0.25)), "b": np.full(3, -1.0), "steps": 5}
    m.load_state_dict(state)
    assert m.w.dtype == np.float32 and m.b.dtype == np.float32
    np.testing.assert_array_equal(m.w.data, np.full(3, 0.25, np.float32))
    np.testing.assert_array_equal(m.b.data, np.full(3, -1.0, np.float32))
    assert m.steps.item() == 5


def test_load_state_dict_strict_lists_missing_unexpected_and_shapes():
    net = Net()
    sd = net.state_dict()
    del sd["head.b"]
    sd["extra.weight"] = np.zeros(2)
    sd["block.first.w"] = np.zeros(4)
    with pytest.raises(ValueError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert "missing keys: 'head.b'" in msg
    assert "unexpected keys: 'extra.weight'" in msg
    assert "'block.first.w': checkpoint has (4,), model has (3,)" in msg


def test_load_state_dict_error_copies_nothing():
    net = Net()
    before = net.state_dict()
    sd = {k: v + 1 for k, v in before.items()}
    del sd["scale"]
    with pytest.raises(ValueError, match="missing keys"):
        net.load_state_dict(sd)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_returns_keys_but_shape_mismatch_still_raises():
    net = Net()
    sd = net.state_dict()
    del sd["head.b"]
    sd["extra"] = np.zeros(1)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["head.b"] and unexpected == ["extra"]
    sd["head.w"] = np.zeros((3, 1))
    with pytest.raises(ValueError, match="shape mismatch for 'head.w'"):
        net.load_state_dict(sd, strict=False)


def test_load_state_dict_rejects_non_mapping_and_non_numeric():
    m = Affine()
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([1, 2])
    with pytest.raises(TypeError, match="'w' is not numeric"):
        m.load_state_dict({"w": np.array(["a", "b", "c"]), "b": np.zeros(3), "steps": 0})


def test_load_state_dict_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    m = Affine()
    m.load_state_dict({"w": torch.ones(3, requires_grad=True), "b": torch.zeros(3),
                       "steps": torch.tensor(3)})
    np.testing.assert_array_equal(m.w.data, np.ones(3))


# ---- modes, freezing, bulk updates ----
def test_train_eval_propagate_and_return_self():
    net = Net()
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.block.train(False)
    assert net.training and not net.block.inner.training
    with pytest.raises(TypeError, match="bool"):
        net.train("no")


def test_buffer_updates_only_in_training():
    net = Net()
    net(_x())
    net.eval()
    net(_x())
    assert net.head.steps.item() == 1


def test_zero_grad_sets_grads_to_none():
    net = Net()
    net(_x()).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_false_freezes_submodule():
    net = Net()
    net.block.requires_grad_(False)
    frozen = dict(net.block.named_parameters(prefix="block"))
    frozen = {k: v.data.copy() for k, v in frozen.items()}
    net(_x()).sum().backward()
    assert all(p.grad is None for p in net.block.parameters())
    assert net.head.w.grad is not None
    for p in net.parameters():  # a plain SGD step
        if p.grad is not None:
            p.data -= 0.1 * p.grad.data
    for k, v in net.state_dict().items():
        if k in frozen:
            np.testing.assert_array_equal(v, frozen[k], err_msg=k)
    assert not np.allclose(net.head.w.data, np.linspace(0.5, 1.5, 3))


def test_apply_visits_children_before_parent():
    seen = []
    net = Net()
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Affine", "Affine", "Block", "Affine", "Net"]


def test_to_casts_floating_params_and_keeps_objects():
    m = Affine(dtype=np.float32)
    w = m.w
    m.double()
    assert m.w is w and m.w.dtype == np.float64 and m.steps.dtype == np.int64


def test_forward_not_defined_is_clear():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)
