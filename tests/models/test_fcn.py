"""FCN on ResNet-18: any input size in, per-pixel class scores of the same size out."""
import numpy as np
import pytest

import striate
from striate import F, models
from striate.models.fcn import bilinear_kernel


def test_fcn_resnet18_has_11322399_parameters(skip_init, count_params):
    # ResNet-18 trunk without fc (11,176,512) + three 1x1 score convs + three up-samplers
    trunk = 11_689_512 - 512 * 1000 - 1000
    heads = (128 + 256 + 512) * 21 + 3 * 21
    ups = 2 * 21 * 21 * 4 * 4 + 21 * 21 * 16 * 16
    assert count_params(models.fcn_resnet18()) == trunk + heads + ups == 11_322_399


def test_fcn_names_follow_torchvision_segmentation_backbone(skip_init):
    sd = models.fcn_resnet18().state_dict()
    assert sd["backbone.conv1.weight"].shape == (64, 3, 7, 7)
    assert sd["backbone.layer4.1.bn2.running_var"].shape == (512,)
    assert sd["up8.weight"].shape == (21, 21, 16, 16)
    assert not any(k.startswith(("backbone.fc", "backbone.avgpool")) for k in sd)


@pytest.mark.parametrize("size", [(32, 32), (37, 50), (5, 7), (1, 1)])
def test_fcn_output_matches_input_size(rng, size):
    model = models.fcn_resnet18(num_classes=3).eval()
    x = rng.standard_normal((2, 3) + size).astype(np.float32)
    with striate.no_grad():
        assert model(striate.tensor(x)).shape == (2, 3) + size


def test_bilinear_kernel_matches_the_fcn_reference():
    np.testing.assert_allclose(bilinear_kernel(4)[0], [0.0625, 0.1875, 0.1875, 0.0625])
    np.testing.assert_allclose(np.array(bilinear_kernel(3)), np.outer([.5, 1, .5], [.5, 1, .5]))


def test_upsamplers_start_as_bilinear_interpolation():
    model = models.fcn_resnet18(num_classes=2).double()
    ramp = np.tile(np.arange(6.0), (6, 1))[None, None].repeat(2, axis=1)  # value = column
    y = model.up16(striate.tensor(ramp)).data
    assert y.shape == (1, 2, 12, 12)
    # away from the border, 2x bilinear up-sampling of a linear ramp is a linear ramp
    np.testing.assert_allclose(y[0, 0, 4, 2:10], (np.arange(2, 10) - 0.5) / 2, atol=1e-12)
    np.testing.assert_allclose(y[0, 1], y[0, 0])


def test_fcn_sgd_step_lowers_pixel_loss(rng, sgd_step):
    striate.manual_seed(0)
    model = models.fcn_resnet18(num_classes=3)
    x = rng.standard_normal((2, 3, 24, 20)).astype(np.float32)
    target = (np.arange(24)[None, :, None] // 8 + np.zeros((2, 1, 20), int)).astype(np.int64)

    def pixel_loss(out, t):
        c = out.shape[1]
        return F.cross_entropy(out.transpose(0, 2, 3, 1).reshape(-1, c), t.reshape(-1))

    before, after = sgd_step(model, x, target, lr=0.01, loss_fn=pixel_loss)
    assert after < before


def test_fcn_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.fcn_resnet18(num_classes=2),
               rng.standard_normal((1, 3, 20, 24)).astype(np.float32))


def test_fcn_rejects_non_image_input():
    with pytest.raises(ValueError, match="4-D input"):
        models.fcn_resnet18(num_classes=2)(striate.tensor(np.zeros((3, 8, 8), np.float32)))
