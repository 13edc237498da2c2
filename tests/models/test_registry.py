"""The model registry: list_models, get, register and the config stamped on each model."""
import json

import pytest

import striate
from striate import models, nn
from striate.models import registry

EXPECTED = {
    "lenet5", "alexnet", "vgg11", "vgg13", "vgg16", "vgg19",
    "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "googlenet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
    "wide_resnet50_2", "se_resnet50", "cbam_resnet50",
    "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "fcn_resnet18",
}


@pytest.fixture
def scratch_registry(monkeypatch):
    """Register test builders in a copy of the registry that is thrown away afterwards."""
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))


def test_list_models_is_sorted_and_has_every_family():
    names = models.list_models()
    assert names == sorted(names)
    assert EXPECTED <= set(names), f"missing: {sorted(EXPECTED - set(names))}"


def test_every_listed_name_is_an_attribute_of_striate_models():
    for name in EXPECTED:
        assert callable(getattr(models, name)), name


def test_get_unknown_name_raises_value_error_listing_known_models():
    with pytest.raises(ValueError, match="unknown model 'resnet9000'") as e:
        models.get("resnet9000")
    assert "resnet18" in str(e.value) and "lenet5" in str(e.value)


def test_get_non_string_name_raises_type_error():
    with pytest.raises(TypeError, match="name must be a str"):
        models.get(18)


def test_get_passes_kwargs_and_records_config_with_defaults():
    model = models.get("lenet5", num_classes=7)
    assert model.config == {
        "name": "lenet5",
        "kwargs": {"num_classes": 7, "in_channels": 1, "variant": "modern", "output": None,
                   "input_size": 28},
    }
    assert model.classifier[-1].weight.shape == (7, 84)


def test_config_is_json_serialisable_and_rebuilds_the_same_architecture():
    model = models.get("resnet20", shortcut="projection", num_classes=5)
    config = json.loads(json.dumps(model.config))
    rebuilt = models.get(config["name"], **config["kwargs"])
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes


def test_calling_a_builder_directly_records_positional_args_as_kwargs():
    model = models.lenet5(3, 1, "lecun1998")
    assert model.config["name"] == "lenet5"
    assert model.config["kwargs"]["num_classes"] == 3
    assert model.config["kwargs"]["variant"] == "lecun1998"


def test_get_with_unknown_kwarg_raises_type_error_naming_the_model():
    with pytest.raises(TypeError, match="lenet5"):
        models.get("lenet5", depth=3)


def test_register_adds_a_builder_under_its_function_name(scratch_registry):
    @models.register
    def tiny_test_net(width: int = 4):
        return nn.Linear(2, width)

    assert "tiny_test_net" in models.list_models()
    net = models.get("tiny_test_net", width=3)
    assert net.weight.shape == (3, 2)
    assert net.config == {"name": "tiny_test_net", "kwargs": {"width": 3}}


def test_register_with_explicit_name_and_var_kwargs(scratch_registry):
    @models.register(name="other_test_net")
    def builder(width: int = 4, **extra):
        return nn.Linear(2, width)

    net = models.get("other_test_net", width=2, flag=True)
    assert net.config == {"name": "other_test_net", "kwargs": {"width": 2, "flag": True}}


def test_register_twice_under_one_name_raises(scratch_registry):
    with pytest.raises(ValueError, match="already registered"):
        models.register(lambda: None, name="lenet5")


def test_striate_models_get_is_reachable_from_the_top_package():
    assert striate.models.get is models.get
