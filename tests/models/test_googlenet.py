"""GoogLeNet (Inception v1), torchvision layout, with and without auxiliary classifiers."""
import numpy as np
import pytest

import striate
from striate import F, models, nn
from striate.models.googlenet import Inception

# a few entries of torchvision.models.googlenet(aux_logits=True, init_weights=True).state_dict()
TORCHVISION_KEYS = {
    "conv1.conv.weight": (64, 3, 7, 7),
    "conv1.bn.weight": (64,),
    "conv1.bn.running_mean": (64,),
    "conv2.conv.weight": (64, 64, 1, 1),
    "conv3.conv.weight": (192, 64, 3, 3),
    "conv3.bn.running_var": (192,),
    "inception3a.branch1.conv.weight": (64, 192, 1, 1),
    "inception3a.branch2.0.conv.weight": (96, 192, 1, 1),
    "inception3a.branch2.1.conv.weight": (128, 96, 3, 3),
    "inception3a.branch3.0.conv.weight": (16, 192, 1, 1),
    "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),   # torchvision's 3x3 "5x5" branch
    "inception3a.branch4.1.conv.weight": (32, 192, 1, 1),
    "inception4e.branch2.1.bn.bias": (320,),
    "inception5b.branch4.1.bn.running_var": (128,),
    "aux1.conv.conv.weight": (128, 512, 1, 1),
    "aux1.conv.bn.weight": (128,),
    "aux1.fc1.weight": (1024, 2048),
    "aux1.fc2.bias": (1000,),
    "aux2.conv.conv.weight": (128, 528, 1, 1),
    "aux2.fc2.weight": (1000, 1024),
    "fc.weight": (1000, 1024),
    "fc.bias": (1000,),
}


def test_googlenet_has_6624904_parameters_without_aux(skip_init, count_params):
    assert count_params(models.googlenet()) == 6_624_904


def test_googlenet_has_13004888_parameters_with_aux(skip_init, count_params):
    assert count_params(models.googlenet(aux_logits=True)) == 13_004_888


def test_googlenet_state_dict_names_match_torchvision(skip_init):
    sd = models.googlenet(aux_logits=True).state_dict()
    for key, shape in TORCHVISION_KEYS.items():
        assert key in sd, key
        assert sd[key].shape == shape, key
    params = list(models.googlenet().named_parameters())
    assert len(params) == 3 * 3 + 9 * 6 * 3 + 2   # 3 stem convs, 9 blocks of 6 convs, fc
    assert not any(k.startswith("aux") for k, _ in params)


def test_inception_is_four_branches_fused_by_concat(rng):
    block = Inception(8, 4, 3, 5, 2, 6, 7).eval()
    assert isinstance(block, nn.Concat)
    assert [name for name, _ in block.named_children()] == ["branch1", "branch2", "branch3",
                                                           "branch4"]
    x = striate.tensor(rng.standard_normal((2, 8, 5, 6)).astype(np.float32))
    with striate.no_grad():
        y = block(x)
        parts = [b(x).data for b in block.children()]
    assert y.shape == (2, 4 + 5 + 6 + 7, 5, 6)
    np.testing.assert_allclose(y.data, np.concatenate(parts, axis=1), rtol=0, atol=0)


def test_googlenet_output_shape_at_64x64_in_eval(rng):
    model = models.googlenet(num_classes=10, aux_logits=True).eval()
    x = striate.tensor(rng.standard_normal((2, 3, 64, 64)).astype(np.float32))
    with striate.no_grad():
        y = model(x)
    assert y.shape == (2, 10)


def test_googlenet_training_step_with_aux_lowers_weighted_loss(rng, sgd_step):
    striate.manual_seed(0)
    model = models.googlenet(num_classes=4, aux_logits=True, dropout=0.0, dropout_aux=0.0)
    x = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    y = np.arange(4)

    def loss(out, t):
        logits, aux2, aux1 = out   # torchvision's order
        assert logits.shape == aux2.shape == aux1.shape == (4, 4)
        return F.cross_entropy(logits, t) + 0.3 * (F.cross_entropy(aux1, t)
                                                   + F.cross_entropy(aux2, t))

    before, after = sgd_step(model, x, y, lr=0.05, loss_fn=loss)
    assert after < before


def test_googlenet_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.googlenet(num_classes=3),
               rng.standard_normal((1, 3, 32, 32)).astype(np.float32))


@pytest.mark.parametrize("aux", [False, True])
def test_googlenet_in_channels(rng, aux):
    model = models.googlenet(num_classes=2, in_channels=1, aux_logits=aux).eval()
    with striate.no_grad():
        y = model(striate.tensor(rng.standard_normal((1, 1, 64, 64)).astype(np.float32)))
    assert y.shape == (1, 2)
