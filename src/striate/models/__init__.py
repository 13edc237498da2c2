"""The model zoo (``striate.models``): the classic CNNs, each faithful to its paper.

Every builder registers itself (``@register`` from :mod:`striate.models.registry`), so
``list_models()`` names them all and ``get(name, **kwargs)`` builds any of them; each model
carries ``model.config = {"name": ..., "kwargs": {...}}`` for checkpoints.

To add a family: write ``models/<family>.py`` whose builders use ``@register``, and import it
below.

>>> model = striate.models.get("resnet20", num_classes=10)
>>> model.config
{'name': 'resnet20', 'kwargs': {'num_classes': 10, 'in_channels': 3, ...}}
"""
# importing a family module registers its builders
from .alexnet import alexnet
from .attention import CBAM, SqueezeExcitation
from .deepid import deepid
from .densenet import densenet121
from .fcn import fcn_resnet18
from .googlenet import Inception, googlenet
from .highway import highway_net
from .lenet import lenet5
from .mobilenet import mobilenet_v1, mobilenet_v2
from .registry import get, list_models, register
from .resnet import (
    ResNet,
    cbam_resnet50,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    se_resnet50,
    wide_resnet50_2,
)
from .resnet_cifar import CifarResNet, resnet20, resnet32, resnet44, resnet56, resnet110
from .shufflenet import shufflenet_v2_x1_0
from .squeezenet import squeezenet1_1
from .vgg import vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from .xception import xception

__all__ = [
    "CBAM",
    "deepid",
    "densenet121",
    "highway_net",
    "mobilenet_v1",
    "mobilenet_v2",
    "shufflenet_v2_x1_0",
    "squeezenet1_1",
    "xception",
    "CifarResNet",
    "Inception",
    "ResNet",
    "SqueezeExcitation",
    "alexnet",
    "cbam_resnet50",
    "fcn_resnet18",
    "get",
    "googlenet",
    "lenet5",
    "list_models",
    "register",
    "resnet18",
    "resnet20",
    "resnet32",
    "resnet34",
    "resnet44",
    "resnet50",
    "resnet56",
    "resnet101",
    "resnet110",
    "resnet152",
    "resnext50_32x4d",
    "se_resnet50",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "wide_resnet50_2",
]
