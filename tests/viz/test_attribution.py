"""Grad-CAM and saliency on models whose answer is known."""
import numpy as np
import pytest

import striate
from striate import nn
from striate.viz import feature_maps, grad_cam, resize_bilinear, saliency

QUADRANTS = {
    "top-left": (slice(0, 8), slice(0, 8)),
    "top-right": (slice(0, 8), slice(8, 16)),
    "bottom-left": (slice(8, 16), slice(0, 8)),
    "bottom-right": (slice(8, 16), slice(8, 16)),
}


class QuadrantNet(nn.Module):
    """Sees only one quadrant of a 16x16 image: the input is masked before the first conv.

    A 2x2/2 conv without bias keeps every feature outside the quadrant at exactly zero, and
    class 0 has positive weights on every channel, so its evidence is all in the quadrant.
    """

    def __init__(self, quadrant):
        super().__init__()
        mask = np.zeros((1, 1, 16, 16), np.float32)
        mask[(..., *quadrant)] = 1
        self.register_buffer("mask", mask)
        self.conv = nn.Conv2d(1, 8, 2, stride=2, bias=False)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8, 3)
        self.fc.weight.data[0] = np.abs(self.fc.weight.data[0]) + 0.1

    def forward(self, x):
        y = self.relu(self.conv(x * self.mask))
        return self.fc(y.mean(axis=(2, 3)))


class CamNet(nn.Module):
    """conv 3x3 (same size) - ReLU - global average pool - linear: CAM's architecture."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 6, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(self.relu(self.conv(x)).mean(axis=(2, 3)))


@pytest.mark.parametrize("where", list(QUADRANTS))
def test_grad_cam_lights_the_only_quadrant_the_model_sees(where, rng):
    q = QUADRANTS[where]
    model = QuadrantNet(q)
    x = rng.uniform(0, 1, (1, 16, 16)).astype(np.float32)
    heat = grad_cam(model, x, "relu", class_index=0)
    assert heat.shape == (16, 16)
    assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert heat[q].sum() / heat.sum() > 0.9


@pytest.mark.parametrize("where", list(QUADRANTS))
def test_saliency_is_zero_outside_the_quadrant_the_model_sees(where, rng):
    q = QUADRANTS[where]
    model = QuadrantNet(q)
    x = rng.uniform(0, 1, (1, 16, 16)).astype(np.float32)
    sal = saliency(model, x, class_index=0)
    assert sal.shape == (16, 16) and sal.max() == pytest.approx(1.0)
    outside = sal.copy()
    outside[q] = 0
    assert not outside.any()
    assert (sal[q] > 0).mean() > 0.5  # most quadrant pixels matter (ReLU cuts a few)


def test_grad_cam_equals_class_activation_mapping_for_a_gap_linear_head(rng):
    # for conv - GAP - linear, Grad-CAM's weights are w_ck / (H W): the CAM of Zhou et al. 2016
    striate.manual_seed(1)
    model = CamNet()
    x = rng.standard_normal((2, 12, 10)).astype(np.float32)
    k = 2
    A = feature_maps(model, x, ["relu"])["relu"].astype(np.float64)
    w = model.fc.weight.data[k].astype(np.float64)
    cam = np.maximum(np.tensordot(w, A, axes=1), 0)
    np.testing.assert_allclose(grad_cam(model, x, "relu", k), cam / cam.max(), rtol=1e-5,
                               atol=1e-6)


def test_grad_cam_default_class_is_the_prediction(rng):
    model = CamNet()
    x = rng.standard_normal((1, 2, 12, 10)).astype(np.float32)
    pred = int(model(striate.tensor(x)).data.argmax())
    np.testing.assert_array_equal(grad_cam(model, x, "conv"), grad_cam(model, x, "conv", pred))
    other = (pred + 1) % 4
    assert not np.array_equal(saliency(model, x), saliency(model, x, other))


def test_saliency_of_a_linear_model_is_its_class_weights(rng):
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 5 * 4, 7))
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    w = np.abs(model[1].weight.data[4].reshape(3, 5, 4).astype(np.float64)).max(axis=0)
    np.testing.assert_allclose(saliency(model, x, 4), w / w.max(), rtol=1e-6)


def test_attribution_leaves_model_grads_flags_and_mode_alone(rng):
    model = CamNet().train()
    model.fc.bias.requires_grad_(False)
    x = rng.standard_normal((2, 12, 10)).astype(np.float32)
    grad_cam(model, x, "conv")
    saliency(model, x)
    assert all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert model.conv.weight.requires_grad and not model.fc.bias.requires_grad
    assert all(not m._forward_hooks for m in model.modules())


def test_attribution_errors_name_the_problem(rng):
    model = CamNet()
    x = rng.standard_normal((2, 12, 10)).astype(np.float32)
    with pytest.raises(ValueError, match="class_index 4 is out of range for 4 classes"):
        grad_cam(model, x, "conv", 4)
    with pytest.raises(ValueError, match="must output \\(N, C, H, W\\) maps"):
        grad_cam(model, x, "fc")
    with pytest.raises(ValueError, match="has no layer 'conv9'"):
        grad_cam(model, x, "conv9")
    with pytest.raises(ValueError, match="image must be \\(C, H, W\\) or \\(1, C, H, W\\)"):
        saliency(model, np.zeros((2, 2, 12, 10), np.float32))


@pytest.mark.parametrize("src,dst", [((7, 7), (28, 28)), ((5, 3), (16, 13)), ((6, 9), (4, 5))])
def test_resize_bilinear_matches_torch_interpolate(src, dst, rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal(src)
    want = torch.nn.functional.interpolate(torch.tensor(a)[None, None], size=dst,
                                           mode="bilinear", align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(resize_bilinear(a, dst), want, rtol=1e-7, atol=1e-12)
