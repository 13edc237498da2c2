"""Property-based fuzzing of layers in a Sequential fed inputs of the wrong shape.

Random small CNNs (Conv2d, BatchNorm2d, activations, pooling, Flatten, Linear; flat or nested
like torchvision's ``features``/``classifier``) are built twice, in striate and in torch with the
same weights, and fed a random input near the one they were designed for. Wherever torch
computes, striate computes the same output. Wherever torch fails at some layer, striate raises a
ValueError/TypeError from the Sequential holding that layer: ``Sequential 'features' failed at
layer '3': Conv2d 'features.3' expects 64 input channels, got 32 (input shape ...)``, followed
by the shapes so far, one row per layer that ran.
"""
from __future__ import annotations

import os
import re
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import striate
from striate import nn

torch = pytest.importorskip("torch")

SCALE = int(os.environ.get("STRIATE_FUZZ_SCALE", "1"))  # as in _harness.py
FUZZ = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))


class Net:
    """The same network in striate and torch, and its layers in the order they run."""

    def __init__(self, blocks, nested: bool, training: bool):
        def seq(pairs):
            s = nn.Sequential(*[p[0] for p in pairs])
            t = torch.nn.Sequential(*[p[1] for p in pairs])
            return s, t

        if nested:
            fs, ft = seq(blocks[0])
            cs, ct = seq(blocks[1])
            self.model = nn.Sequential(OrderedDict(features=fs, classifier=cs))
            self.ref = torch.nn.Sequential(OrderedDict(features=ft, classifier=ct))
            self.parents = [("features", blocks[0]), ("classifier", blocks[1])]
        else:
            self.model, self.ref = seq(blocks[0] + blocks[1])
            self.parents = [("", blocks[0] + blocks[1])]
        self.ref.double().train(training)
        self.model.train(training)
        self.model.load_state_dict({k: v.numpy() for k, v in self.ref.state_dict().items()})

    def torch_run(self, x):
        """(parent, index, layer name, shapes so far in that parent) of the first torch layer
        that fails on ``x``, or the output."""
        t = torch.from_numpy(x)
        for parent, pairs in self.parents:
            shapes = [tuple(t.shape)]
            for i, (layer, tlayer) in enumerate(pairs):
                try:
                    with torch.no_grad():
                        t = tlayer(t)
                except Exception:  # noqa: BLE001 - torch reports bad shapes with several types
                    return parent, i, layer, shapes
                shapes.append(tuple(t.shape))
        return t


@st.composite
def nets(draw):
    """A small CNN designed for (N, C, H, W) inputs; returns it and the design input shape."""
    C, H = draw(st.integers(1, 3)), draw(st.integers(4, 9))
    W = draw(st.integers(4, 9))
    features, c, h, w = [], C, H, W
    for _ in range(draw(st.integers(1, 3))):
        oc, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
        p = draw(st.integers(0, 1))
        if min(h, w) + 2 * p < k:
            break
        features.append((nn.Conv2d(c, oc, k, padding=p, dtype=np.float64),
                         torch.nn.Conv2d(c, oc, k, padding=p)))
        c, h, w = oc, h + 2 * p - k + 1, w + 2 * p - k + 1
        if draw(st.booleans()):
            features.append((nn.BatchNorm2d(c, dtype=np.float64), torch.nn.BatchNorm2d(c)))
        if draw(st.booleans()):
            features.append((nn.ReLU(), torch.nn.ReLU()))
        kind = draw(st.sampled_from(["max", "avg", None]))
        if kind and min(h, w) >= 2:
            pool = (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)) if kind == "max" else \
                (nn.AvgPool2d(2), torch.nn.AvgPool2d(2))
            features.append(pool)
            h, w = h // 2, w // 2
    if not features:
        features.append((nn.Conv2d(C, 2, 1, dtype=np.float64), torch.nn.Conv2d(C, 2, 1)))
        c = 2
    out = draw(st.integers(1, 4))
    classifier = [(nn.Flatten(), torch.nn.Flatten()),
                  (nn.Linear(c * h * w, out, dtype=np.float64), torch.nn.Linear(c * h * w, out))]
    net = Net((features, classifier), nested=draw(st.booleans()), training=draw(st.booleans()))
    return net, (draw(st.integers(1, 3)), C, H, W)


def _perturb(draw, shape):
    """The design input shape, or one with a dimension changed, added or removed."""
    how = draw(st.sampled_from(["same", "batch", "channels", "height", "width", "ndim3",
                                "ndim5", "tiny"]))
    N, C, H, W = shape
    if how == "batch":
        return (draw(st.integers(1, 4)), C, H, W)
    if how == "channels":
        return (N, draw(st.integers(1, 5)), H, W)
    if how == "height":
        return (N, C, draw(st.integers(1, 12)), W)
    if how == "width":
        return (N, C, H, draw(st.integers(1, 12)))
    if how == "ndim3":
        return (C, H, W)
    if how == "ndim5":
        return (N, C, H, W, 1)
    if how == "tiny":
        return (1, C, 1, 1)
    return shape


def _row(name, shape) -> str:
    """A row of the 'shapes so far' table: the layer (or 'input') then its output shape."""
    return rf"\n\s+{re.escape(name)}\s+{re.escape(str(shape))}(?=\n)"


@FUZZ
@given(nets(), st.data(), st.integers(0, 2**16))
def test_sequential_error_names_failing_layer_and_shapes_so_far(case, data, seed):
    net, design = case
    shape = _perturb(data.draw, design)
    x = np.random.default_rng(seed).standard_normal(shape)
    ref = net.torch_run(x)
    first = net.parents[0][1][0][0]
    if len(shape) == 3 and isinstance(first, nn.Conv2d):
        # torch also convolves an unbatched (C, H, W) input; striate's layers need the batch
        ref = (net.parents[0][0], 0, first, [shape])
    try:
        y = net.model(striate.tensor(x))
    except (ValueError, TypeError) as e:
        assert not isinstance(ref, torch.Tensor), f"striate refused a valid input {shape}: {e}"
        msg = str(e)
        parent, i, layer, shapes = ref
        event(f"{type(layer).__name__} failed")
        qual = f"{parent}.{i}" if parent else str(i)
        where = f"Sequential '{parent}'" if parent else "Sequential"
        head = f"{where} failed at layer '{i}': {type(layer).__name__} '{qual}'"
        assert msg.startswith(head), f"expected {head!r}, got:\n{msg}"
        assert "shapes so far:" in msg, msg
        pairs = dict(net.parents)[parent]
        rows = [("input", shapes[0])] + [
            (f"{j} {type(pairs[j][0]).__name__}", s) for j, s in enumerate(shapes[1:])]
        for name, s in rows:
            assert re.search(_row(name, s), msg + "\n"), f"no row {name} {s} in:\n{msg}"
        assert re.search(rf"{i} {type(layer).__name__}\s+<- failed here$", msg), msg
        got = shapes[-1]  # the failing layer's input
        if isinstance(layer, nn.Conv2d) and len(got) == 4 and got[1] != layer.in_channels:
            assert (f"expects {layer.in_channels} input channels, got {got[1]} (input shape "
                    f"{got})") in msg, msg
        if isinstance(layer, nn.Linear) and got[-1] != layer.in_features:
            assert (f"expects {layer.in_features} input features (the last axis), got "
                    f"{got[-1]} (input shape {got})") in msg, msg
        return
    event("computed")
    assert isinstance(ref, torch.Tensor), f"striate computed {y.shape} where torch failed at {ref}"
    np.testing.assert_allclose(y.data, ref.numpy(), rtol=1e-7, atol=1e-9)


LAYERS = {
    "Conv2d": lambda: nn.Conv2d(3, 4, 3, padding=1),
    "Linear": lambda: nn.Linear(5, 2),
    "BatchNorm2d": lambda: nn.BatchNorm2d(3),
    "MaxPool2d": lambda: nn.MaxPool2d(2),
    "AvgPool2d": lambda: nn.AvgPool2d(3, stride=2, padding=1),
    "GlobalAvgPool2d": lambda: nn.GlobalAvgPool2d(),
    "AdaptiveAvgPool2d": lambda: nn.AdaptiveAvgPool2d(3),
    "LocalResponseNorm": lambda: nn.LocalResponseNorm(3),
    "Flatten": lambda: nn.Flatten(),
}


@FUZZ
@given(st.sampled_from(sorted(LAYERS)), st.sampled_from(["alone", "sequential", "nested"]),
       st.one_of(st.lists(st.integers(0, 6), min_size=0, max_size=5),
                 st.sampled_from(["list", "str", "int", "float64"])),
       st.integers(0, 2**16))
def test_single_layer_errors_name_type_and_path(name, where, shape, seed):
    layer = LAYERS[name]()
    if where == "alone":
        model, prefix = layer, name
    elif where == "sequential":
        model = nn.Sequential(nn.Identity(), layer)
        prefix = f"Sequential failed at layer '1': {name} '1'"
    else:
        model = nn.Sequential(OrderedDict(body=nn.Sequential(nn.Identity(), layer)))
        prefix = f"Sequential 'body' failed at layer '1': {name} 'body.1'"
    if isinstance(shape, str):
        x = {"list": [[1.0, 2.0]], "str": "abc", "int": striate.tensor(np.ones((2, 3, 4, 4), int)),
             "float64": striate.tensor(np.ones((2, 3, 4, 4)))}[shape]
    else:
        x = striate.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
    try:
        model(x)
    except (ValueError, TypeError) as e:
        assert type(e) in (ValueError, TypeError), type(e)
        assert str(e).startswith(prefix), f"expected {prefix!r}, got: {e}"
