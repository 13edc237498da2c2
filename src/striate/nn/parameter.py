"""``Parameter``: the Tensor type a Module registers as trainable."""
from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as trainable (``requires_grad=True`` by default).

    Args:
        data: array-like or Tensor (its array is shared, not copied).
        requires_grad (bool, default True): whether optimizers should update it.

    >>> w = nn.Parameter(np.zeros((3, 4), dtype=np.float32))
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = xp.empty((0,), dtype=xp.float32)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
