"""ONNX export of single layers and ops: the graph run in onnxruntime matches striate.

The zoo models are in ``test_export_zoo.py``. No ``__init__.py`` in this folder on purpose: with
one, pytest would import it as a package named ``onnx`` and shadow the real one.
"""
import sys

import numpy as np
import pytest

import striate
import striate.onnx
from striate import F, nn, ops
from striate.tensor import apply

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


class Lambda(nn.Module):
    """Wrap a function of the input (and of any modules given) as a Module."""

    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for k, m in modules.items():
            setattr(self, k, m)

    def forward(self, x):
        return self.fn(self, x)


def run_onnx(path, *xs, names=("input",)):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(names, xs)))


def check(model, x, tmp_path, atol=1e-5, rtol=1e-5, opset=17, batch=True):
    """Export on ``x``; compare onnxruntime with striate on ``x`` and on a larger batch."""
    path = tmp_path / "m.onnx"
    proto = striate.onnx.export(model, x, path, opset=opset)
    rng = np.random.default_rng(1)
    xs = [x, rng.standard_normal((x.shape[0] + 2,) + x.shape[1:]).astype(x.dtype)]
    for xi in xs if batch else xs[:1]:
        model.eval()
        with striate.no_grad():
            ref = model(striate.tensor(xi)).data
        (out,) = run_onnx(path, xi)
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, atol=atol, rtol=rtol)
    return proto


def op_types(proto):
    return [n.op_type for n in proto.graph.node]


@pytest.fixture
def x4(rng):
    return rng.standard_normal((2, 4, 9, 11)).astype(np.float32)


# ---- convolution and linear ----
@pytest.mark.parametrize("kw", [
    dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), padding="same"), dict(kernel_size=3, padding="full", dilation=2),
    dict(kernel_size=3, groups=2, dilation=(2, 1), padding=(2, 0), stride=(1, 2)),
    dict(kernel_size=3, groups=4, padding=1, bias=False),
])
def test_conv2d_matches(kw, x4, tmp_path):
    out = 8 if kw.get("groups", 1) != 4 else 4
    proto = check(nn.Conv2d(4, out, **kw), x4, tmp_path)
    assert op_types(proto) == ["Conv", "Identity"]


@pytest.mark.parametrize("act,ops_", [("relu", ["Conv", "Relu"]), ("relu6", ["Conv", "Clip"])])
def test_conv2d_with_a_fused_activation_exports_it(act, ops_, x4, tmp_path):
    model = Lambda(lambda m, x: F.conv2d(x * 4, m.conv.weight, m.conv.bias, padding=1,
                                         activation=act), conv=nn.Conv2d(4, 6, 3, padding=1))
    proto = check(model, x4, tmp_path)
    assert [t for t in op_types(proto) if t in ("Conv", "Relu", "Clip")] == ops_


def test_conv1d_matches(rng, tmp_path):
    x = rng.standard_normal((2, 4, 20)).astype(np.float32)
    check(nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2), x, tmp_path)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=4, stride=2, padding=1), dict(kernel_size=3, stride=2, output_padding=1),
    dict(kernel_size=3, stride=3, padding=1, output_padding=2, groups=2, dilation=2),
])
def test_conv_transpose2d_matches(kw, x4, tmp_path):
    proto = check(nn.ConvTranspose2d(4, 6, **kw), x4, tmp_path)
    assert "ConvTranspose" in op_types(proto)


def test_linear_2d_is_gemm_and_3d_is_matmul(rng, tmp_path):
    proto = check(nn.Linear(5, 3), rng.standard_normal((4, 5)).astype(np.float32), tmp_path)
    assert op_types(proto)[0] == "Gemm"
    proto = check(nn.Linear(5, 3), rng.standard_normal((4, 2, 5)).astype(np.float32), tmp_path)
    assert "MatMul" in op_types(proto)


@pytest.mark.parametrize("region", [1, 2])
def test_locally_connected2d_matches(region, rng, tmp_path):
    lc = nn.LocallyConnected2d(3, 5, (7, 6), kernel_size=3, stride=(2, 1), padding=1,
                               region=region)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    proto = check(lc, x, tmp_path)
    assert "Einsum" in op_types(proto)
    # the region-shared weights are expanded from the parameters: folded, not exported as ops
    assert "Expand" not in op_types(proto)


# ---- pooling ----
@pytest.mark.parametrize("kw", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=2, padding="same"),
    dict(kernel_size=3, stride=1, padding=1, ceil_mode=True),
])
def test_max_and_min_pool_match(kw, x4, tmp_path):
    check(nn.MaxPool2d(**kw), x4, tmp_path)
    check(nn.MinPool2d(**kw), x4, tmp_path)


@pytest.mark.parametrize("kw, fix", [
    (dict(kernel_size=2), False), (dict(kernel_size=3, stride=2, padding=1), False),
    (dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), False),
    (dict(kernel_size=3, stride=2, ceil_mode=True), False),
    (dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), True),
    (dict(kernel_size=2, padding="same"), False),
])
def test_avg_pool_matches(kw, fix, rng, tmp_path):
    x = rng.standard_normal((2, 3, 10, 12)).astype(np.float32)  # ceil mode overhangs on 10
    proto = check(nn.AvgPool2d(**kw), x, tmp_path)
    # PyTorch's ceil-mode windows count the padding but not the overhang: a correcting Mul
    assert ("Mul" in op_types(proto)) == fix


def test_stochastic_pool_eval_matches(x4, tmp_path):
    check(nn.StochasticPool2d(3, stride=2), x4, tmp_path)


def test_stochastic_pool_training_raises(x4, tmp_path):
    model = Lambda(lambda m, x: F.stochastic_pool2d(x, 2, training=True))
    with pytest.raises(ValueError, match="StochasticPool2d.*training"):
        striate.onnx.export(model, x4, tmp_path / "m.onnx")


@pytest.mark.parametrize("layer", [nn.GlobalAvgPool2d(), nn.GlobalMaxPool2d()])
def test_global_pool_matches(layer, x4, tmp_path):
    check(layer, x4, tmp_path)


@pytest.mark.parametrize("size, op", [((3, 11), "AveragePool"), ((4, 3), "MatMul"),
                                      (1, "GlobalAveragePool"), ((5, 7), "MatMul")])
def test_adaptive_avg_pool_matches(size, op, x4, tmp_path):
    proto = check(nn.AdaptiveAvgPool2d(size), x4, tmp_path)
    assert op in op_types(proto)


@pytest.mark.parametrize("size", [(4, 3), (3, 11), (6, 8)])
def test_adaptive_max_pool_matches(size, x4, tmp_path):
    check(nn.AdaptiveMaxPool2d(size), x4, tmp_path)


# ---- normalization ----
def _random_stats(bn, rng):
    C = bn.num_features
    bn.weight.data[...] = rng.uniform(0.5, 1.5, C)
    bn.bias.data[...] = rng.uniform(-0.5, 0.5, C)
    bn.running_mean.data[...] = rng.uniform(-0.5, 0.5, C)
    bn.running_var.data[...] = rng.uniform(0.5, 1.5, C)
    return bn


def test_batch_norm_2d_and_1d_match(rng, x4, tmp_path):
    proto = check(_random_stats(nn.BatchNorm2d(4), rng), x4, tmp_path)
    names = {i.name for i in proto.graph.initializer}
    assert {"weight", "bias", "running_mean", "running_var"} <= names
    check(_random_stats(nn.BatchNorm1d(5), rng), rng.standard_normal((3, 5)).astype(np.float32),
          tmp_path)


def test_batch_norm_without_running_stats_raises(x4, tmp_path):
    with pytest.raises(ValueError, match="BatchNorm.*batch statistics"):
        striate.onnx.export(nn.BatchNorm2d(4, track_running_stats=False), x4, tmp_path / "m.onnx")


@pytest.mark.parametrize("opset", [14, 17])
def test_layer_norm_matches(opset, rng, tmp_path):
    w = striate.tensor(rng.uniform(0.5, 1.5, (3, 4)).astype(np.float32))
    b = striate.tensor(rng.uniform(-1, 1, (3, 4)).astype(np.float32))
    model = Lambda(lambda m, x: F.layer_norm(x, (3, 4), w, b))
    check(model, rng.standard_normal((2, 5, 3, 4)).astype(np.float32), tmp_path, opset=opset)


@pytest.mark.parametrize("size", [5, 4, 1])
def test_local_response_norm_matches(size, rng, tmp_path):
    x = 3 * rng.standard_normal((2, 7, 5, 5)).astype(np.float32)
    proto = check(nn.LocalResponseNorm(size, alpha=0.2, beta=0.75, k=2.0), x, tmp_path)
    assert ("LRN" in op_types(proto)) == bool(size % 2)


# ---- activations ----
@pytest.mark.parametrize("layer", [
    nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.2), nn.Sigmoid(), nn.Tanh(), nn.ELU(0.7),
    nn.SiLU(), nn.Hardswish(), nn.Hardsigmoid(), nn.Softmax(1), nn.LogSoftmax(-1),
], ids=lambda m: type(m).__name__)
def test_activation_matches(layer, rng, tmp_path):
    check(layer, 4 * rng.standard_normal((3, 6, 5)).astype(np.float32), tmp_path)


@pytest.mark.parametrize("opset, approximate", [(17, "none"), (17, "tanh"), (20, "none"),
                                                (20, "tanh")])
def test_gelu_matches(opset, approximate, rng, tmp_path):
    proto = check(nn.GELU(approximate=approximate),
                  3 * rng.standard_normal((3, 8)).astype(np.float32), tmp_path, opset=opset)
    assert ("Gelu" in op_types(proto)) == (opset >= 20)


# ---- primitives and shape ops ----
_PRIMITIVES = {
    "arith": lambda m, x: ((x + 1.5) * x - x / 3) ** 2,
    "unary": lambda m, x: (x.abs() + 1).log() + (x.abs() + 0.1).sqrt() - (-x).exp() * 0.1,
    "tanh_clip_max": lambda m, x: x.tanh() + x.clip(-0.5, 0.7) + x.maximum(0.2) + x.clip(max=0),
    "matmul": lambda m, x: x @ x.transpose(0, 2, 1),
    "where": lambda m, x: apply(ops.Where, striate.tensor(x.data > 0), x, -x),
    "reductions": lambda m, x: (x.sum(axis=1, keepdims=True) + x.mean(axis=(1, 2), keepdims=True)
                                + x.max(axis=-1, keepdims=True) - x.min(axis=1, keepdims=True)),
    "full_reductions": lambda m, x: x.sum(axis=(1, 2)) + x.mean(axis=(1, 2)) * x.max(axis=2)[:, 0],
    "var": lambda m, x: x.var(axis=1) + x.var(axis=(1, 2), keepdims=True)[:, 0] + x.var(axis=1,
                                                                                          ddof=1),
    "transpose_reshape": lambda m, x: x.transpose(0, 2, 1).reshape(x.shape[0], -1) + 1,
    "expand": lambda m, x: x[:, :1].expand(x.shape[0], 4, 5) * x,
    "flatten_concat_split": lambda m, x: F.concat(list(F.split(F.flatten(x), [7, 13])[::-1]), 1),
    "pad": lambda m, x: F.pad2d(x, (1, 2, 0, 3), value=-1.5),
}


@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("name", list(_PRIMITIVES))
def test_primitive_matches(name, opset, rng, tmp_path):
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    if name == "where":  # the mask is computed outside any op, so it is frozen: one batch only
        proto = check(Lambda(_PRIMITIVES[name]), x, tmp_path, opset=opset, batch=False)
        assert "Where" in op_types(proto)
        return
    check(Lambda(_PRIMITIVES[name]), x, tmp_path, opset=opset)


@pytest.mark.parametrize("index", [
    (slice(None), slice(1, 3)), (Ellipsis, slice(None, None, -2)), (slice(None), 2),
    (slice(None), [3, 0, 0]), (slice(None), None, slice(None, -1), 1),
    (slice(None), slice(-3, None), slice(1, None, 2), Ellipsis), (slice(None), -1, [0, 2]),
], ids=str)
def test_getitem_matches(index, rng, tmp_path):
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    check(Lambda(lambda m, x: x[index] * 2), x, tmp_path)


def test_getitem_integer_then_array_exports_in_torchs_axis_order(rng, tmp_path):
    # NumPy would move the array's axis first, (2, 2, 5); striate applies the integer first, as
    # torch, so the array indexes in place and each step exports as it is
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    model = Lambda(lambda m, x: x[:, 0, :, [0, 1]])
    assert model(striate.tensor(x)).shape == (2, 5, 2)
    check(model, x, tmp_path)


def test_getitem_with_two_integer_arrays_raises(rng, tmp_path):
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    model = Lambda(lambda m, x: x[:, [0, 1], :, [0, 1]])
    with pytest.raises(ValueError, match="GetItem.*more than one integer array"):
        striate.onnx.export(model, x, tmp_path / "m.onnx")


def test_channel_shuffle_matches(x4, tmp_path):
    check(nn.ChannelShuffle(2), x4, tmp_path)


def test_dropout_called_in_eval_exports_as_identity(x4, tmp_path):
    model = Lambda(lambda m, x: F.dropout(x, 0.5, training=True))
    proto = striate.onnx.export(model, x4, tmp_path / "m.onnx")
    assert op_types(proto)[0] == "Identity"
    np.testing.assert_array_equal(run_onnx(tmp_path / "m.onnx", x4)[0], x4)


# ---- the graph, names and errors ----
def test_parameters_keep_their_state_dict_names(tmp_path):
    model = striate.models.lenet5()
    proto = striate.onnx.export(model, np.zeros((1, 1, 28, 28), np.float32), tmp_path / "m.onnx")
    names = {i.name for i in proto.graph.initializer}
    assert set(model.state_dict()) <= names
    x = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in x] == ["batch", 1, 28, 28]


def test_static_batch_fixes_axis0(tmp_path):
    proto = striate.onnx.export(nn.ReLU(), np.zeros((3, 2), np.float32), tmp_path / "m.onnx",
                                dynamic_batch=False)
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [3, 2]


def test_reshape_that_mixes_the_batch_needs_static_batch(rng, tmp_path):
    model = Lambda(lambda m, x: x.reshape(x.shape[0] * 4, 5) * 2)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    with pytest.raises(ValueError, match=r"Reshape.*\(2, 4, 5\) to \(8, 5\).*dynamic_batch=False"):
        striate.onnx.export(model, x, tmp_path / "m.onnx")
    striate.onnx.export(model, x, tmp_path / "m.onnx", dynamic_batch=False)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x)[0], 2 * x.reshape(8, 5))


def test_several_inputs_and_outputs(rng, tmp_path):
    class TwoInTwoOut(nn.Module):
        def forward(self, a, b):
            return a * b, a - 1

    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32)
    striate.onnx.export(TwoInTwoOut(), (a, b), tmp_path / "m.onnx", input_names=("a", "b"),
                        output_names=("prod",))
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["prod", "output_1"]
    prod, minus = sess.run(None, {"a": a, "b": b})
    np.testing.assert_allclose(prod, a * b)
    np.testing.assert_allclose(minus, a - 1)


def test_unsupported_function_names_op_and_layer(rng, tmp_path):
    head = Lambda(lambda m, x: F.cross_entropy(x, np.zeros(x.shape[0], np.int64)))
    model = nn.Sequential(nn.Linear(3, 4), head)
    with pytest.raises(ValueError, match=r"CrossEntropy in layer '1' \(Lambda\).*no ONNX "
                                         r"converter.*Conv2dFunction"):
        striate.onnx.export(model, rng.standard_normal((2, 3)).astype(np.float32),
                            tmp_path / "m.onnx")


@pytest.mark.parametrize("fn", [lambda m, x: striate.tensor(x.data * 2),
                                lambda m, x: (x + 1, m.fc.weight.reshape(-1) * 2)[1]])
def test_output_computed_outside_ops_or_from_constants_raises(fn, tmp_path):
    model = Lambda(fn, fc=nn.Linear(2, 2))
    with pytest.raises(ValueError, match="output 0 .*does not depend on the input"):
        striate.onnx.export(model, np.ones((1, 2), np.float32), tmp_path / "m.onnx")


@pytest.mark.parametrize("kw, err", [
    (dict(opset=13), ValueError), (dict(opset="17"), ValueError),
    (dict(example_input=np.ones((1, 2), np.int64)), TypeError),
    (dict(example_input=[1.0, 2.0]), TypeError), (dict(model=lambda x: x), TypeError),
    (dict(input_names=("a", "a"), example_input=(np.ones(2, np.float32),) * 2), ValueError),
])
def test_bad_arguments_raise(kw, err, tmp_path):
    args = dict(model=nn.ReLU(), example_input=np.ones((1, 2), np.float32),
                path=tmp_path / "m.onnx")
    args.update(kw)
    with pytest.raises(err, match="onnx.export"):
        striate.onnx.export(**args)


def _patched_modules():
    return [name for name, m in list(sys.modules.items())
            if getattr(m, "__dict__", {}).get("apply") not in (None, apply)
            and name.startswith("striate")]


def test_apply_restored_and_modes_restored_even_after_an_error(rng, tmp_path):
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(3, 2))
    model.train()
    striate.onnx.export(model, np.ones((1, 3), np.float32), tmp_path / "m.onnx")
    assert model.training and model[0].training
    bad = nn.Sequential(nn.Linear(3, 2), Lambda(lambda m, x: F.mse_loss(x, x)))
    with pytest.raises(ValueError, match="MSELoss"):
        striate.onnx.export(bad, np.ones((1, 3), np.float32), tmp_path / "m.onnx")
    assert bad.training
    assert _patched_modules() == []
    assert F.relu(striate.tensor([-1.0])).numpy()[0] == 0  # tracing is off again


def test_failed_export_keeps_the_previous_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous")
    with pytest.raises(ValueError):
        striate.onnx.export(Lambda(lambda m, x: F.mse_loss(x, x)), np.ones((1, 2), np.float32),
                            path)
    assert path.read_bytes() == b"previous"
    striate.onnx.export(nn.ReLU(), np.ones((1, 2), np.float32), path)
    assert onnx.load(str(path)).graph.node[0].op_type == "Relu"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary left over


def test_missing_onnx_package_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes "import onnx" raise ImportError
    with pytest.raises(ImportError, match=r"striate\[onnx\]"):
        striate.onnx.export(nn.ReLU(), np.ones((1, 2), np.float32), tmp_path / "m.onnx")
