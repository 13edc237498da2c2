"""PyTorch weights in striate models, and the transfer-learning head swap.

The zoo models that torchvision also has use torchvision's module names (``features.0.weight``,
``layer1.0.bn1.running_mean``, ``classifier.6.bias``) and its weight layouts (convolutions
(C_out, C_in / groups, KH, KW), linear layers (out, in)), so a torchvision state dict maps onto
them key for key: alexnet, vgg11/13/16/19 (and ``_bn``), resnet18/34/50/101/152,
resnext50_32x4d, wide_resnet50_2, googlenet, densenet121, mobilenet_v2, shufflenet_v2_x1_0 and
squeezenet1_1. Torch is never imported: tensors are read through ``.detach().cpu().numpy()``.

Two things torchvision's checkpoints do that the loader undoes: a ``module.`` prefix on every key
(a model saved from ``DataParallel``), and the old DenseNet names ``norm.1``/``conv.2`` that
torchvision itself rewrites to ``norm1``/``conv2`` when it loads them.

Transfer learning (the seeds' recipe: keep the pretrained convolutional layers, retrain the
classifier)::

    model = striate.models.resnet18()
    striate.interop.load_torch_state_dict(model, torch.load("resnet18.pth", weights_only=True))
    striate.interop.replace_classifier(model, num_classes=10, freeze=True)
    opt = striate.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)

Note for GoogLeNet: torchvision's pretrained GoogLeNet is built with ``transform_input=True``,
which re-normalizes ImageNet-normalized inputs to ``(x - 0.5) / 0.5`` per channel before the
first layer; striate's GoogLeNet has no such step, so feed it inputs normalized that way.
"""
from __future__ import annotations

import re
from collections import OrderedDict

from .backend import xp
from .nn import Conv2d, Linear, Module
from .nn.module import IncompatibleKeys
from .tensor import Tensor

__all__ = ["load_torch_state_dict", "replace_classifier"]

# torchvision < 0.3 DenseNet checkpoints: "denselayer1.norm.1.weight" -> "denselayer1.norm1.weight"
_DENSENET_LEGACY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
    r"((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$")


def _to_array(value, key: str):
    """An ndarray from a torch tensor (duck-typed), a striate Tensor, an ndarray or a number."""
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        value = value.detach().cpu()
        if str(getattr(value, "dtype", "")) in ("torch.bfloat16", "torch.float8_e4m3fn",
                                                "torch.float8_e5m2"):
            value = value.float()  # NumPy has no such dtypes
        value = value.numpy()
    if isinstance(value, dict):
        raise TypeError(f"load_torch_state_dict: the value of {key!r} is a dict; pass the state "
                        "dict itself (e.g. checkpoint['state_dict'] or checkpoint['model'])")
    try:
        arr = xp.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"load_torch_state_dict: the value of {key!r} ({type(value).__name__}) "
                        f"is not an array: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"load_torch_state_dict: the value of {key!r} is not numeric "
                        f"(dtype {arr.dtype})")
    return arr


_SHOWN = 20  # keys listed per kind of error; a wrong architecture would list hundreds


def _some(keys: list) -> str:
    more = f", ... and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(map(repr, keys[:_SHOWN])) + more


def _normalize_keys(state_dict, own) -> OrderedDict:
    """The state dict with DataParallel's ``module.`` prefix dropped and legacy names fixed."""
    if not hasattr(state_dict, "items"):
        raise TypeError(f"load_torch_state_dict: expected a mapping from names to tensors, got "
                        f"{type(state_dict).__name__}")
    items = OrderedDict()
    for k, v in state_dict.items():
        if not isinstance(k, str):
            raise TypeError(f"load_torch_state_dict: keys must be str, got {k!r}")
        items[k] = v
    if items and all(k.startswith("module.") for k in items) and \
            not any(k.startswith("module.") for k in own):
        items = OrderedDict((k[len("module."):], v) for k, v in items.items())
    return OrderedDict((_DENSENET_LEGACY.sub(r"\1\2", k) if k not in own else k, v)
                       for k, v in items.items())


def load_torch_state_dict(model: Module, state_dict, strict: bool = True) -> IncompatibleKeys:
    """Copy a PyTorch-style state dict (torchvision names) into a striate model, in place.

    Values may be torch tensors (any device or dtype; torch itself is never imported), striate
    Tensors, NumPy arrays or numbers. Each is checked against the model's own parameter or
    buffer: same shape, a float for a float and an integer for an integer; floats are cast to
    the model's dtype (float64 or half-precision checkpoints load into a float32 model). A
    missing ``num_batches_tracked`` (older checkpoints) keeps the model's value. Nothing is
    copied unless every check passes.

    Args:
        model (Module): the striate model, e.g. ``striate.models.resnet18()``.
        state_dict (mapping): name -> tensor, as ``torch_model.state_dict()`` or
            ``torch.load("weights.pth", weights_only=True)`` (torch's restricted unpickler,
            which refuses arbitrary objects; striate itself never reads .pth files).
        strict (bool, default True): missing or unexpected keys are an error. With False they
            are skipped and returned; a shape or dtype mismatch is an error either way.

    Returns:
        ``(missing_keys, unexpected_keys)``.

    Raises:
        ValueError: listing every missing, unexpected and shape-mismatched key at once.
        TypeError: a value is not numeric, or a float goes into an integer buffer or back.

    >>> model = striate.models.resnet18()
    >>> load_torch_state_dict(model, torchvision.models.resnet18(weights="DEFAULT").state_dict())
    IncompatibleKeys(missing_keys=[], unexpected_keys=[])
    """
    if not isinstance(model, Module):
        raise TypeError(f"load_torch_state_dict: model must be a striate.nn.Module, got "
                        f"{type(model).__name__}")
    own = OrderedDict(model._state_items())  # parameters and persistent buffers, no copies
    items = _normalize_keys(state_dict, own)
    missing = [k for k in own if k not in items and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in items if k not in own]
    arrays, bad, wrong_kind = {}, [], []
    for k, t in own.items():
        if k not in items:
            continue
        arr = _to_array(items[k], k)
        if arr.shape != t.shape:
            bad.append(f"  {k}: checkpoint {tuple(arr.shape)}, model {tuple(t.shape)}")
        elif (arr.dtype.kind == "f") != (t.dtype.kind == "f"):
            wrong_kind.append(f"{k!r} (checkpoint {arr.dtype}, model {t.dtype})")
        arrays[k] = arr
    name = type(model).__name__
    if wrong_kind:
        raise TypeError(f"load_torch_state_dict: float and integer values mixed up in {name}: "
                        + ", ".join(wrong_kind))
    if bad or (strict and (missing or unexpected)):
        lines = [f"load_torch_state_dict: the state dict does not fit {name}"
                 + (f" ({model.config['name']})" if isinstance(getattr(model, "config", None),
                                                          dict) else "") + ":"]
        if strict and missing:
            lines.append(f"  missing keys ({len(missing)}): " + _some(missing))
        if strict and unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): " + _some(unexpected))
        if bad:
            lines.append(f"  shape mismatches ({len(bad)}):")
        raise ValueError("\n".join(lines + bad[:_SHOWN] + [f"  ... and {len(bad) - _SHOWN} more"]
                                   * (len(bad) > _SHOWN)))
    for k, arr in arrays.items():
        own[k].data[...] = arr
    return IncompatibleKeys(missing, unexpected)


def _head(model: Module) -> tuple[str, Module]:
    """The last layer that holds weights, which must be a Linear or a 1x1 Conv2d."""
    last = None
    for name, m in model.named_modules():
        if any(p is not None for p in m._parameters.values()) or any(
                b is not None and n not in m._non_persistent for n, b in m._buffers.items()):
            last = (name, m)
    if last is None:
        raise ValueError(f"replace_classifier: {type(model).__name__} has no layer with weights")
    name, m = last
    if not (isinstance(m, Linear) or (isinstance(m, Conv2d) and m.kernel_size == (1, 1))):
        raise ValueError(f"replace_classifier: the last layer with weights in "
                         f"{type(model).__name__} is {type(m).__name__} '{name}', not a Linear "
                         "or 1x1 Conv2d classifier; replace it by hand")
    return name, m


def replace_classifier(model: Module, num_classes: int, freeze: bool = False) -> Module:
    """Swap the classifier for a freshly initialised one with ``num_classes`` outputs.

    The classifier is the last layer that holds weights: ``fc`` of ResNet and GoogLeNet,
    ``classifier.6`` of AlexNet and VGG, ``classifier`` of DenseNet, SqueezeNet's final 1x1
    convolution. It keeps its input size, bias setting and dtype. With ``freeze`` every other
    parameter stops requiring gradients, so training updates only the new head (BatchNorm
    layers still update their running statistics in training mode; call ``.eval()`` on them to
    keep the pretrained ones). ``model.config`` (used by checkpoints) records the new
    ``num_classes``.

    Args:
        model (Module): a classifier, e.g. a zoo model with pretrained weights.
        num_classes (int): outputs of the new head.
        freeze (bool, default False): freeze every parameter but the new head's.

    Returns:
        the model (changed in place).

    >>> replace_classifier(striate.models.resnet18(), 10, freeze=True).fc
    Linear(in_features=512, out_features=10, bias=True)
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"replace_classifier: num_classes must be a positive int, "
                         f"got {num_classes!r}")
    name, old = _head(model)
    dt = old.weight.dtype
    if isinstance(old, Linear):
        new = Linear(old.in_features, num_classes, bias=old.bias is not None, dtype=dt)
    else:
        new = Conv2d(old.in_channels, num_classes, 1, bias=old.bias is not None, dtype=dt)
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent), attr, new)
    if freeze:
        for p in model.parameters():
            p.requires_grad_(False)
        new.requires_grad_(True)
    config = getattr(model, "config", None)
    if isinstance(config, dict) and "num_classes" in config.get("kwargs", {}):
        config["kwargs"]["num_classes"] = num_classes
    return model
