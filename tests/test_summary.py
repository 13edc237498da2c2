"""striate.summary: parameters, MACs and receptive fields of the classic models (the values the
seeds and papers give), branched models (adds, concatenations, custom forwards), the table, and
that the model is left as it was found."""
import sys

import numpy as np
import pytest

import striate.functional.activation as activation_module
import striate.functional.conv as conv_module
from striate import F, models, nn
from striate.models.densenet import DenseNet
from striate.models.vgg import CFGS, make_layers
from striate.summary import Summary, summary

TENSOR_MODULE = sys.modules["striate.tensor"]  # ``striate.tensor`` names the function


@pytest.fixture
def fast_init(monkeypatch):
    """Skip random initialisation (big models build in a blink); weights become small constants."""
    from striate.nn import init

    for name in ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                 "xavier_uniform_", "xavier_normal_", "_reset_default_"):
        monkeypatch.setattr(init, name, lambda t, *a, **k: t)

    def build(fn, **kwargs):
        model = fn(**kwargs)
        for p in model.parameters():
            p.data[...] = 0.01
        return model

    return build


def row(s: Summary, name: str) -> dict:
    hits = [r for r in s.rows if r["name"] == name]
    assert hits, f"no row {name!r} in {[r['name'] for r in s.rows]}"
    return hits[0]


# ---- the values issue 5 asks for ----
def test_lenet5_has_61706_params_and_rf_16_after_second_pool():
    s = summary(models.lenet5(), (1, 28, 28))
    assert s.total_params == s.trainable_params == 61_706
    pools = [r for r in s.rows if r["type"] == "MaxPool2d"]
    assert [(r["rf"], r["jump"], r["start"]) for r in pools] == [(6, 2, 1), (16, 4, 6)]
    assert pools[1]["output_shape"] == (1, 16, 5, 5)
    # conv1 28*28*6*25, conv2 10*10*16*6*25, then the three linear layers
    assert s.total_macs == 117_600 + 240_000 + 400 * 120 + 120 * 84 + 84 * 10
    assert s.output_shape == (1, 10)


def test_vgg16_rf_196_at_conv5_3_and_212_at_pool5(fast_init):
    # VGG16's convolutional trunk (what models.vgg16().features is) at 32x32: receptive fields
    # do not depend on the input size, and pool5 is 1x1 here
    s = summary(fast_init(make_layers, cfg=CFGS["D"]), (3, 32, 32))
    conv5_3, pool5 = row(s, "28"), row(s, "30")
    assert (conv5_3["type"], conv5_3["rf"], conv5_3["jump"]) == ("Conv2d", 196, 16)
    assert (pool5["type"], pool5["rf"], pool5["jump"], pool5["start"]) == ("MaxPool2d", 212, 32, 16)
    assert s.total_params == 14_714_688  # 138,357,544 minus the three linear layers


def vgg16_macs_by_hand(size=224):
    macs, c = 0, 3
    for v in CFGS["D"]:
        if v == "M":
            size //= 2
        else:
            macs += size * size * v * c * 9
            c = v
    return macs + 512 * 7 * 7 * 4096 + 4096 * 4096 + 4096 * 1000


@pytest.mark.slow
def test_vgg16_is_15_5_gmacs_at_224(fast_init):
    s = summary(fast_init(models.vgg16), (3, 224, 224))
    assert s.total_params == 138_357_544
    assert (row(s, "features.28")["rf"], row(s, "features.30")["rf"]) == (196, 212)
    assert s.total_macs == vgg16_macs_by_hand()
    np.testing.assert_allclose(s.total_macs, 15.5e9, rtol=0.01)


def test_alexnet_rf_195_at_last_pool(fast_init):
    s = summary(fast_init(models.alexnet), (3, 224, 224))
    last_pool = [r for r in s.rows if r["type"] == "MaxPool2d"][-1]
    assert (last_pool["name"], last_pool["rf"], last_pool["jump"]) == ("features.12", 195, 32)
    assert last_pool["output_shape"] == (1, 256, 6, 6)


def test_resnet18_is_1_82_gmacs_at_224_and_adds_take_the_larger_rf(fast_init):
    s = summary(fast_init(models.resnet18), (3, 224, 224))
    np.testing.assert_allclose(s.total_macs, 1.82e9, rtol=0.01)
    assert row(s, "conv1")["macs"] == 112 * 112 * 64 * 3 * 7 * 7
    assert s.total_params == 11_689_512
    # layer2.0: the body reaches rf 67, the 1x1/2 shortcut only 43; the sum (in BasicBlock's
    # own forward) carries 67, so the next 3x3 conv sees 67 + 2 * 8
    assert row(s, "layer2.0.conv2")["rf"] == 67
    assert row(s, "layer2.0.downsample.0")["rf"] == 43
    assert row(s, "layer2.1.conv1")["rf"] == 83


# ---- branched models ----
class TwoBranches(nn.Module):
    """A custom forward that adds (or concatenates) a 3x3 and a 7x7 path, then a 1x1 conv."""

    def __init__(self, fuse="add", big_first=False):
        super().__init__()
        self.small = nn.Conv2d(1, 4, 3, padding=1)
        self.big = nn.Conv2d(1, 4, 7, padding=3)
        self.head = nn.Conv2d(8 if fuse == "concat" else 4, 2, 1)
        self.fuse, self.big_first = fuse, big_first

    def forward(self, x):
        a, b = self.small(x), self.big(x)
        if self.big_first:
            a, b = b, a
        y = F.concat([a, b], axis=1) if self.fuse == "concat" else a + b
        return self.head(F.relu(y))


@pytest.mark.parametrize("fuse", ["add", "concat"])
@pytest.mark.parametrize("big_first", [False, True])
def test_custom_forward_fusing_two_branches_gives_the_larger_rf(fuse, big_first):
    s = summary(TwoBranches(fuse, big_first), (1, 16, 16))
    assert row(s, "small")["rf"] == 3 and row(s, "big")["rf"] == 7
    head = row(s, "head")
    assert (head["rf"], head["jump"], head["start"]) == (7, 1, 0.5)
    assert [r["name"] for r in s.rows] == ["small", "big", "head"]  # execution order


def test_inception_concat_takes_the_largest_branch_rf(fast_init):
    s = summary(fast_init(models.googlenet), (3, 64, 64))
    branch_rfs = [row(s, "inception3a.branch1.conv")["rf"]] + [
        row(s, f"inception3a.branch{i}.1.conv")["rf"] for i in (2, 3, 4)]
    assert branch_rfs[0] < max(branch_rfs)
    assert row(s, "inception3b.branch1.conv")["rf"] == max(branch_rfs)  # 1x1 after the concat


def test_densenet_concatenation_carries_the_deepest_layer_rf():
    model = DenseNet(growth_rate=4, block_config=(3, 2), num_init_features=8, bn_size=2,
                     num_classes=3)
    s = summary(model, (3, 32, 32))
    b = "features.denseblock1."
    rfs = [row(s, f"{b}denselayer{i}.conv2")["rf"] for i in (1, 2, 3)]
    jump = row(s, f"{b}denselayer1.conv2")["jump"]
    assert rfs[1] == rfs[0] + 2 * jump and rfs[2] == rfs[1] + 2 * jump
    # the transition's 1x1 conv reads the concatenation of the input and all three layers
    assert row(s, "features.transition1.conv")["rf"] == rfs[2]


def test_global_mean_in_forward_widens_rf_to_the_whole_grid():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(1, 3, 3), nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(self.conv(x).mean(axis=(2, 3)))

    s = summary(Net(), (1, 8, 8))  # conv: 6x6 grid of rf 3; the mean mixes all 6 rows
    fc = row(s, "fc")
    assert (fc["rf"], fc["jump"], fc["start"]) == (8, 6, 4)


def test_flatten_then_linear_sees_every_position():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.Flatten(), nn.Linear(2 * 4 * 4, 5))
    s = summary(model, (1, 9, 9))
    assert row(s, "1")["rf"] == 3  # flattening moves nothing
    assert (row(s, "2")["rf"], row(s, "2")["start"]) == (3 + 3 * 2, 4.5)


def test_dilated_strided_conv_arithmetic():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=2, dilation=2),
                          nn.Conv2d(1, 1, 3), nn.AvgPool2d(2))
    s = summary(model, (1, 20, 20))
    assert [(r["rf"], r["jump"], r["start"]) for r in s.rows] == [
        (5, 2, 0.5), (9, 2, 2.5), (11, 4, 3.5)]


def test_transposed_conv_halves_the_jump():
    model = nn.Sequential(nn.Conv2d(1, 2, 2, stride=2), nn.ConvTranspose2d(2, 1, 4, stride=2,
                                                                           padding=1))
    s = summary(model, (1, 8, 8))
    up = row(s, "1")
    assert (up["rf"], up["jump"], up["output_shape"]) == (4, 1, (1, 1, 8, 8))
    assert up["macs"] == 4 * 4 * 2 * 1 * 4 * 4  # per input pixel: C_in * C_out * KH * KW


def test_conv1d_rf_along_the_length():
    s = summary(nn.Sequential(nn.Conv1d(2, 4, 5, stride=2), nn.Conv1d(4, 4, 3)), (2, 30))
    assert [(r["rf"], r["jump"]) for r in s.rows] == [(5, 2), (9, 2)]
    assert s.rows[0]["macs"] == 13 * 4 * 2 * 5


# ---- MACs ----
def test_macs_of_grouped_conv_linear_and_locally_connected():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2), nn.Flatten(),
                          nn.Linear(8 * 5 * 5, 3))
    s = summary(model, (4, 5, 5))
    assert [r["macs"] for r in s.rows] == [5 * 5 * 8 * 2 * 9, 0, 200 * 3]
    d = summary(models.deepid(), (3, 39, 31))
    assert row(d, "conv4")["macs"] == 2 * 1 * 80 * 60 * 2 * 2
    assert row(d, "conv3")["macs"] == 6 * 4 * 60 * 40 * 3 * 3
    assert row(d, "conv3")["params"] == 129_960
    assert d.total_params == 1_870_100


def test_functional_conv_in_a_custom_forward_counts_in_total_only():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones((2, 1, 3, 3), np.float32))
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(F.conv2d(x, self.w))

    s = summary(Net(), (1, 6, 6))
    assert s.other_macs == 0  # Net has a parameter of its own, so it has a row that gets them
    assert row(s, "")["macs"] == 4 * 4 * 2 * 9 and s.total_macs == 4 * 4 * 2 * 9
    assert row(s, "relu")["rf"] == 3


def test_ops_outside_any_row_are_reported_separately():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Conv2d(1, 2, 3))
            self.w = nn.Linear(2, 2)  # never called: the forward uses its weight directly

        def forward(self, x):
            y = self.inner(x).mean(axis=(2, 3))
            return y @ self.w.weight

    s = summary(Block(), (1, 5, 5))
    assert s.other_macs == 2 * 2
    assert s.total_macs == 3 * 3 * 2 * 9 + 4
    assert "outside the listed layers: 4" in str(s)


# ---- rows, table, bookkeeping ----
def test_rows_have_the_documented_keys_and_trainable_counts():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3))
    model[0].requires_grad_(False)
    s = summary(model, (1, 8, 8))
    assert set(s.rows[0]) == {"name", "type", "output_shape", "params", "trainable", "macs",
                              "rf", "jump", "start"}
    assert [(r["params"], r["trainable"]) for r in s.rows] == [(20, 0), (0, 0), (38, 38)]
    assert (s.total_params, s.trainable_params) == (58, 38)


def test_a_layer_called_twice_gives_two_rows():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return self.conv(self.conv(x))

    s = summary(Twice(), (1, 6, 6))
    assert [(r["name"], r["rf"]) for r in s.rows] == [("conv", 3), ("conv", 5)]
    assert s.total_params == 10


def test_tuple_output_lists_every_shape():
    s = summary(nn.Sequential(nn.Conv2d(1, 4, 1), nn.Split([1, 3])), (1, 3, 3))
    assert s.rows[1]["output_shape"] == [(1, 1, 3, 3), (1, 3, 3, 3)]
    assert s.output_shape == [(1, 1, 3, 3), (1, 3, 3, 3)]


def test_table_is_aligned_and_ends_with_totals():
    s = summary(models.lenet5(), (1, 28, 28))
    lines = str(s).splitlines()
    header = next(line for line in lines if line.startswith("Layer"))
    params_end = header.index("Params") + len("Params")
    body = [line for line in lines if line.startswith(("features.", "classifier."))]
    assert len(body) == len(s.rows)
    for line, r in zip(body, s.rows):
        assert line[:params_end].endswith(f"{r['params']:,}"), line
    assert "Total params: 61,706" in lines
    assert "Trainable params: 61,706" in lines
    assert "Total MACs: 416,520 (416.52 KMACs)" in lines


def test_summary_leaves_the_model_as_it_found_it():
    model = models.lenet5().train()
    summary(model, (1, 28, 28))
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert conv_module.apply is TENSOR_MODULE.apply


def test_summary_restores_everything_when_the_forward_fails():
    model = models.lenet5().train()
    with pytest.raises(ValueError, match="Conv2d"):
        summary(model, (3, 28, 28))  # lenet5 takes one channel
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())
    assert activation_module.apply is TENSOR_MODULE.apply


@pytest.mark.parametrize("shape, exc", [((1, 0, 28), ValueError), ((), ValueError),
                                        ("1x28x28", TypeError), (5, TypeError),
                                        ((1.5, 28, 28), TypeError)])
def test_bad_input_shape_is_rejected_with_the_expected_form(shape, exc):
    with pytest.raises(exc, match="summary: input_shape"):
        summary(models.lenet5(), shape)


def test_non_module_is_type_error():
    with pytest.raises(TypeError, match="summary: model must be a striate.nn.Module"):
        summary(lambda x: x, (1, 4, 4))


def test_input_shape_defaults_to_the_models_native_one():
    s = summary(models.deepid(in_channels=1))
    assert s.input_shape == (1, 39, 31) and s.total_params == 1_869_460
    with pytest.raises(TypeError, match="Sequential has no input_shape attribute"):
        summary(nn.Sequential(nn.ReLU()))
