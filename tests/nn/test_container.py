"""Sequential, ModuleList, ModuleDict and the branch modules Concat, Residual, Split,
ChannelShuffle: structure, outputs and gradients against torch, and error messages."""
from collections import OrderedDict

import numpy as np
import pytest

import striate
from striate import F, nn

from ._parity import check_parity

torch = pytest.importorskip("torch")


def _x(shape=(4, 5), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _mlp(dtype=np.float64):
    return nn.Sequential(nn.Linear(5, 4, dtype=dtype), nn.ReLU(), nn.Linear(4, 2, dtype=dtype))


# ---- Sequential ----
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sequential_matches_torch_names_outputs_grads(dtype):
    ref = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    check_parity(_mlp(dtype), ref, _x(), dtype)


def test_sequential_from_ordered_dict_uses_its_names():
    net = nn.Sequential(OrderedDict([("fc", nn.Linear(5, 4)), ("act", nn.ReLU())]))
    assert list(net.state_dict()) == ["fc.weight", "fc.bias"]
    assert net["fc"] is net[0]


def test_sequential_indexing_negative_and_out_of_range():
    net = _mlp()
    assert net[-1] is net[2] and isinstance(net[1], nn.ReLU)
    assert len(net) == 3 and list(net) == [net[0], net[1], net[2]]
    with pytest.raises(IndexError, match="Sequential index 3 is out of range for 3 modules"):
        net[3]
    with pytest.raises(IndexError):
        net[-4]


def test_sequential_slice_shares_layers_and_runs():
    net = _mlp()
    head = net[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    assert head[0] is net[0]
    x = striate.tensor(_x())
    np.testing.assert_allclose(net[2](head(x)).data, net(x).data)
    assert [n for n, _ in net[1:].named_children()] == ["1", "2"]
    assert len(net[::-1]) == 3 and net[::-1][0] is net[2]


def test_sequential_append_extend_setitem_delitem():
    net = nn.Sequential(nn.Linear(5, 4))
    net.append(nn.ReLU()).extend([nn.Linear(4, 2)])
    assert [n for n, _ in net.named_children()] == ["0", "1", "2"]
    net[1] = nn.Tanh()
    assert isinstance(net[1], nn.Tanh)
    del net[1]
    assert [n for n, _ in net.named_children()] == ["0", "1"]
    assert isinstance(net[1], nn.Linear)


def test_sequential_rejects_functions():
    with pytest.raises(TypeError, match=r"Sequential: argument 1 is a function, not a Module"):
        nn.Sequential(nn.Linear(2, 2), F.relu)


def test_sequential_error_names_failed_layer_and_shapes_so_far():
    net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(3, 2))
    with pytest.raises(ValueError) as info:
        net(striate.tensor(_x((2, 5))))
    msg = str(info.value)
    assert msg.startswith("Sequential failed at layer '2': Linear '2' expects 3 input features")
    lines = [line.split() for line in msg.splitlines()[2:]]
    assert lines == [["input", "(2,", "5)"], ["0", "Linear", "(2,", "4)"],
                     ["1", "ReLU", "(2,", "4)"], ["2", "Linear", "<-", "failed", "here"]]


def test_nested_sequential_error_wrapped_once_with_qualified_names():
    model = nn.Sequential(OrderedDict([
        ("features", nn.Sequential(nn.Flatten(), nn.Linear(10, 4))),
        ("head", nn.Linear(4, 2)),
    ]))
    with pytest.raises(ValueError) as info:
        model(striate.tensor(np.zeros((2, 3, 3))))
    msg = str(info.value)
    assert msg.startswith("Sequential 'features' failed at layer '1': Linear 'features.1' "
                          "expects 10 input features (the last axis), got 9 (input shape (2, 9))")
    assert msg.count("shapes so far") == 1
    assert isinstance(info.value.__cause__, ValueError)


def test_sequential_error_keeps_type_error():
    class Typed(nn.Module):
        def forward(self, x):
            raise TypeError("bad type")

    with pytest.raises(TypeError, match="failed at layer '1': Typed '1': bad type"):
        nn.Sequential(nn.Identity(), Typed())(striate.tensor(np.ones(2)))


def test_sequential_error_shape_of_tuple_output():
    net = nn.Sequential(nn.Split(2), nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"(?s)Linear '1' expects a Tensor, got tuple.*"
                                        r"0 Split\s+\(\(3, 2\), \(3, 2\)\)"):
        net(striate.tensor(np.zeros((3, 4))))


# ---- ModuleList / ModuleDict ----
def test_module_list_registers_and_indexes():
    layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(3)])
    assert len(list(layers.parameters())) == 6 and len(layers) == 3
    assert isinstance(layers[1:], nn.ModuleList) and layers[-1] is layers[2]
    layers.insert(0, nn.ReLU())
    assert isinstance(layers[0], nn.ReLU) and [n for n, _ in layers.named_children()] == [
        "0", "1", "2", "3"]
    del layers[0]
    layers += [nn.Tanh()]
    assert isinstance(layers[3], nn.Tanh) and list(layers.state_dict())[:2] == ["0.weight",
                                                                                "0.bias"]
    with pytest.raises(NotImplementedError, match="iterate"):
        layers(1)


def test_module_dict_behaves_like_dict():
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    assert list(heads) == ["cls", "box"] and "box" in heads and len(heads) == 2
    assert list(heads.state_dict()) == ["cls.weight", "cls.bias", "box.weight", "box.bias"]
    heads["act"] = nn.ReLU()
    assert isinstance(heads.pop("act"), nn.ReLU) and list(heads.keys()) == ["cls", "box"]
    with pytest.raises(KeyError, match=r"no key 'nope'; keys are \['cls', 'box'\]"):
        heads["nope"]


# ---- Concat ----
class _TorchConcat(torch.nn.Module):
    """Torch's equivalent of nn.Concat, branches named "0", "1", ... like ours."""

    def __init__(self, *branches, axis=1):
        super().__init__()
        for i, b in enumerate(branches):
            self.add_module(str(i), b)
        self.axis = axis

    def forward(self, x):
        return torch.cat([b(x) for b in self.children()], self.axis)


def test_concat_output_and_gradients_match_torch():
    layer = nn.Concat(nn.Linear(5, 3, dtype=np.float64),
                      nn.Sequential(nn.Linear(5, 2, dtype=np.float64), nn.Tanh()))
    ref = _TorchConcat(torch.nn.Linear(5, 3),
                       torch.nn.Sequential(torch.nn.Linear(5, 2), torch.nn.Tanh()))
    y = check_parity(layer, ref, _x())
    assert y.shape == (4, 5)


def test_concat_along_axis_0_and_shape_error():
    x = striate.tensor(_x((2, 5)))
    y = nn.Concat(nn.Identity(), nn.Identity(), axis=0)(x)
    np.testing.assert_allclose(y.data, np.concatenate([x.data, x.data], 0))
    bad = nn.Sequential(nn.Concat(nn.Linear(5, 3), nn.Flatten(0)))
    with pytest.raises(ValueError, match=r"Concat '0' cannot concatenate along axis 1: the "
                                         r"branches must agree on every other axis, but branch 0 "
                                         r"gives \(2, 3\), branch 1 gives \(10,\)"):
        bad(x)


def test_concat_repr():
    assert repr(nn.Concat(nn.ReLU(), nn.Tanh())) == (
        "Concat(\n  axis=1\n  (0): ReLU()\n  (1): Tanh()\n)")


# ---- Residual ----
class _TorchResidual(torch.nn.Module):
    def __init__(self, body, shortcut=None, activation=None):
        super().__init__()
        self.body, self.shortcut, self.activation = body, shortcut, activation

    def forward(self, x):
        y = self.body(x) + (x if self.shortcut is None else self.shortcut(x))
        return y if self.activation is None else self.activation(y)


def test_residual_identity_shortcut_matches_torch():
    layer = nn.Residual(nn.Sequential(nn.Linear(5, 5, dtype=np.float64), nn.Tanh()),
                        activation=nn.ReLU())
    ref = _TorchResidual(torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.Tanh()),
                         activation=torch.nn.ReLU())
    check_parity(layer, ref, _x())
    assert [n for n, _ in layer.named_children()] == ["body", "activation"]


def test_residual_projection_shortcut_matches_torch():
    layer = nn.Residual(nn.Linear(5, 3, dtype=np.float64), nn.Linear(5, 3, dtype=np.float64))
    ref = _TorchResidual(torch.nn.Linear(5, 3), torch.nn.Linear(5, 3))
    check_parity(layer, ref, _x())


def test_residual_shape_mismatch_is_clear():
    layer = nn.Residual(nn.Linear(5, 3))
    with pytest.raises(ValueError, match=r"^Residual cannot add the paths: the body gives shape "
                                         r"\(4, 3\) but the identity shortcut gives \(4, 5\)"):
        layer(striate.tensor(_x()))


# ---- Split / ChannelShuffle ----
@pytest.mark.parametrize("sizes", [2, [1, 3, 1]])
def test_split_matches_torch_split_with_gradient(sizes):
    x = _x((2, 5, 3))
    xs, xt = striate.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    outs, touts = nn.Split(sizes)(xs), torch.split(xt, sizes, 1)
    assert isinstance(outs, tuple) and len(outs) == len(touts)
    w = [np.arange(1.0, 1 + o.shape[1]).reshape(1, -1, 1) for o in outs]
    total = sum((o * wi).sum() for o, wi in zip(outs, w))
    ttotal = sum((o * torch.tensor(wi)).sum() for o, wi in zip(touts, w))
    for o, t in zip(outs, touts):
        np.testing.assert_allclose(o.data, t.detach().numpy())
    total.backward()
    ttotal.backward()
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy())


def test_channel_shuffle_matches_torch():
    check_parity(nn.ChannelShuffle(3), torch.nn.ChannelShuffle(3), _x((2, 6, 2, 3)))


def test_channel_shuffle_bad_groups_names_layer():
    with pytest.raises(ValueError, match=r"ChannelShuffle groups=4 does not divide the 6 input"):
        nn.ChannelShuffle(4)(striate.tensor(_x((2, 6, 2, 2))))


# ---- whole models ----
def test_lenet5_from_layers_has_61706_parameters():
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    assert sum(p.size for p in net.parameters()) == 61706
    y = net(striate.tensor(np.zeros((2, 1, 28, 28), np.float32)))
    assert y.shape == (2, 10) and y.dtype == np.float32


def test_small_cnn_train_and_eval_match_torch():
    def build(m):
        return m.Sequential(m.Conv2d(2, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(),
                            m.MaxPool2d(2), m.Flatten(), m.Linear(16, 3))

    net = build(nn).double()
    ref = build(torch.nn)
    x = _x((3, 2, 4, 4))
    check_parity(net, ref, x)
    check_parity(net.eval(), ref.eval(), x)
