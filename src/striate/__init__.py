"""striate: a convolutional neural network framework on NumPy.

>>> import striate
>>> from striate import nn, F
"""
from . import functional
from . import functional as F
from . import data, models, nn, optim
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import manual_seed
from .tensor import Tensor, tensor
from .serialization import CheckpointError, load, load_metadata, save
from .summary import Summary, summary
from .testing import gradcheck
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled",
    "manual_seed", "gradcheck", "save", "load", "load_metadata", "CheckpointError",
    "summary", "Summary", "get_num_threads", "set_num_threads", "functional", "F", "nn",
    "optim", "data", "models", "__version__",
]
