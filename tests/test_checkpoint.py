"""Rebuilding zoo models by name: only the arguments a builder takes are passed."""
import pytest

from striate import nn
from striate.checkpoint import UserError, build_model
from striate.models import registry


@pytest.fixture
def tiny_builder():
    @registry.register(name="_tiny_no_in_channels", input_shape=(1, 4, 4))
    def tiny(num_classes: int = 3):
        return nn.Linear(16, num_classes)

    yield "_tiny_no_in_channels"
    registry._BUILDERS.pop("_tiny_no_in_channels")


def test_build_model_keeps_num_classes_when_builder_has_no_in_channels(tiny_builder):
    model = build_model(tiny_builder, in_channels=1, num_classes=7)
    assert model.config["kwargs"] == {"num_classes": 7}
    assert model.weight.shape == (7, 16)


def test_build_model_does_not_hide_errors_raised_inside_a_builder(tiny_builder):
    with pytest.raises(TypeError, match="unexpected keyword"):
        build_model(tiny_builder, num_classes=7, depth=3)


def test_build_model_unknown_name_lists_known_models():
    with pytest.raises(UserError, match="unknown model 'nope'; known models: .*lenet5"):
        build_model("nope")
