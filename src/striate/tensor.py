"""``Tensor``: an ndarray with a gradient and a link to the Function that made it."""
from __future__ import annotations

import numbers
import weakref

from . import ops
from .ops.elementwise import add
from .ops.movement import check_reshape
from .autograd import FREED, Function, graph_owner, is_grad_enabled, mark_freed, topological_order
from .backend import default_dtype, xp


def _to_array(data, dtype=None):
    """Convert ``data`` following striate's dtype rules (Python floats -> float32)."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        try:
            dtype = xp.dtype(dtype)
        except TypeError:
            raise TypeError(f"tensor: dtype {dtype!r} is not a NumPy dtype") from None
    try:
        arr = data if isinstance(data, xp.ndarray) else xp.asarray(data)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"tensor: cannot convert {type(data).__name__} to an array ({e})") from None
    # strings, objects, dates: no arithmetic is defined on them, so refuse them here
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"tensor: data of type {type(data).__name__} (dtype {arr.dtype}) is "
                        "not numeric")
    if isinstance(data, (xp.ndarray, xp.generic)):
        return arr if dtype is None else arr.astype(dtype, copy=False)
    if dtype is not None:
        return arr.astype(dtype)
    if arr.dtype.kind == "f":  # Python floats come in as float64; striate's default is float32
        return arr.astype(default_dtype)
    return arr


class Tensor:
    """An n-dimensional array that records the operations applied to it for backpropagation.

    Args:
        data: array-like. A float64 array stays float64, float32 stays float32, Python floats
            become float32 and integers keep an integer dtype.
        requires_grad (bool, default False): whether ``backward`` fills ``.grad``.
    """

    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- properties ----
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._ctx is None)
    T = property(lambda self: self.transpose())

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"tensor: only floating-point tensors can require grad, got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(flag)
        return self

    def numpy(self):
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a number, shape is {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        return Tensor(self.data)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after ``backward`` (used by Grad-CAM)."""
        self._retains_grad = True

    def astype(self, dtype) -> "Tensor":
        return Tensor(self.data.astype(dtype), requires_grad=self.requires_grad)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = repr(self.data).replace("array(", "tensor(", 1)
        return body[:-1] + ", requires_grad=True)" if self.requires_grad else body

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    __hash__ = object.__hash__

    # ---- autograd ----
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        A scalar needs no ``grad``; any other tensor needs one of its own shape. The graph is
        freed afterwards, as in PyTorch with ``retain_graph=False``.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: a gradient is needed for a non-scalar tensor of shape {self.shape}; "
                    "pass grad= with that shape"
                )
            g = xp.ones(self.shape, dtype=self.dtype)
        else:
            g = _to_array(grad, self.dtype)
            if g.shape != self.shape:
                raise ValueError(f"backward: grad has shape {g.shape}, expected {self.shape}")
        grads = {id(self): g}
        # ids of the tensors whose pending gradient is a sum this pass allocated: nothing else
        # holds that array, so further contributions are added into it in place
        owned: set[int] = set()
        # consumers first; popping drops each tensor (and, once its consumers have released
        # their saved arrays, its activation) as soon as its own backward has run
        order = topological_order(self)
        order.reverse()
        while order:
            t = order.pop()
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if t._ctx is FREED:
                raise RuntimeError(
                    "backward: trying to backward through the graph a second time; backward "
                    "frees the graph, so run the forward pass again (or add the losses and call "
                    "backward once)"
                )
            if t._ctx is None or t._retains_grad:
                t._accumulate(g, id(t) in owned and t._ctx is None)
            owner = graph_owner(t)
            if owner is not None and owner._retains_grad:
                owner._accumulate(g)
            owned.discard(id(t))
            if t._ctx is None:
                continue
            ctx = t._ctx
            in_grads = ctx.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for p, gp in zip(ctx.parents, in_grads):
                if p is None or gp is None or not p.requires_grad:
                    continue
                if gp.shape != p.shape:
                    raise RuntimeError(
                        f"{type(ctx).__name__}.backward returned a gradient of shape {gp.shape} "
                        f"for an input of shape {p.shape}"
                    )
                key = id(p)
                prev = grads.get(key)
                if prev is None:
                    grads[key] = gp
                elif key in owned and prev.ndim and prev.dtype == xp.result_type(prev, gp):
                    add(prev, gp, out=prev)  # (a 0-d sum is a NumPy scalar, immutable)
                else:  # a fresh array: large same-shape sums (residual joins) on several threads
                    grads[key] = add(prev, gp)
                    owned.add(key)
            ctx.release()
            mark_freed(t)
            del ctx, in_grads, g, owner

    def _accumulate(self, g, owned: bool = False) -> None:
        """Add ``g`` into ``.grad``; ``owned``: nobody else holds ``g``, so it need not be copied."""
        if g.dtype != self.dtype:
            g, owned = g.astype(self.dtype), True
        if self.grad is None:
            # copy unless owned: one gradient array can reach several leaves (a + b) or be the
            # caller's own array, and an in-place update of one .grad (clipping) must not
            # change another
            self.grad = Tensor(g if owned else g.copy(order="K"))
        else:
            self.grad = Tensor(self.grad.data + g)

    # ---- arithmetic ----
    def _lift(self, other) -> "Tensor":
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Number) and not isinstance(other, bool):
            dt = self.dtype if self.dtype.kind in "fc" else None
            return Tensor(xp.asarray(other, dtype=dt))
        return Tensor(other)

    def _lift_operands(self, op: str, a, b) -> tuple["Tensor", "Tensor"]:
        try:
            return self._lift(a), self._lift(b)
        except (TypeError, ValueError, OverflowError) as e:
            raise TypeError(f"{op}: operands must be Tensors, arrays or numbers ({e})") from None

    def _binary(self, fn_cls, a, b) -> "Tensor":
        a, b = self._lift_operands(fn_cls.__name__.lower(), a, b)
        if a.shape != b.shape:
            try:
                xp.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                raise ValueError(
                    f"{fn_cls.__name__.lower()}: shapes {a.shape} and {b.shape} do not broadcast"
                ) from None
        return apply(fn_cls, a, b)

    def __add__(self, o): return self._binary(ops.Add, self, o)
    def __radd__(self, o): return self._binary(ops.Add, o, self)
    def __sub__(self, o): return self._binary(ops.Sub, self, o)
    def __rsub__(self, o): return self._binary(ops.Sub, o, self)
    def __mul__(self, o): return self._binary(ops.Mul, self, o)
    def __rmul__(self, o): return self._binary(ops.Mul, o, self)
    def __truediv__(self, o): return self._binary(ops.Div, self, o)
    def __rtruediv__(self, o): return self._binary(ops.Div, o, self)
    def __pow__(self, o): return self._binary(ops.Pow, self, o)
    def __rpow__(self, o): return self._binary(ops.Pow, o, self)
    def __neg__(self): return apply(ops.Neg, self)

    def __matmul__(self, o):
        _, o = self._lift_operands("matmul", self, o)
        if self.ndim == 0 or o.ndim == 0:
            raise ValueError(f"matmul: operands must have at least 1 dimension, got {self.shape} and {o.shape}")
        if self.shape[-1] != o.shape[-2 if o.ndim > 1 else 0]:
            raise ValueError(
                f"matmul: inner dimensions differ: {self.shape} @ {o.shape}"
            )
        if self.ndim > 2 and o.ndim > 2:
            try:
                xp.broadcast_shapes(self.shape[:-2], o.shape[:-2])
            except ValueError:
                raise ValueError(
                    f"matmul: batch dimensions do not broadcast: {self.shape} @ {o.shape}"
                ) from None
        return apply(ops.MatMul, self, o)

    def __rmatmul__(self, o): return self._lift(o).__matmul__(self)

    # comparisons return plain boolean tensors with no gradient
    def __lt__(self, o): return Tensor(self.data < self._lift(o).data)
    def __le__(self, o): return Tensor(self.data <= self._lift(o).data)
    def __gt__(self, o): return Tensor(self.data > self._lift(o).data)
    def __ge__(self, o): return Tensor(self.data >= self._lift(o).data)
    def __eq__(self, o): return Tensor(self.data == self._lift(o).data)  # type: ignore[override]
    def __ne__(self, o): return Tensor(self.data != self._lift(o).data)  # type: ignore[override]

    # ---- unary math ----
    def exp(self): return apply(ops.Exp, self)
    def log(self): return apply(ops.Log, self)
    def sqrt(self): return apply(ops.Sqrt, self)
    def abs(self): return apply(ops.Abs, self)
    def tanh(self): return apply(ops.Tanh, self)
    __abs__ = abs

    def clip(self, min=None, max=None):  # noqa: A002 - NumPy's names
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given")
        for v in (min, max):
            if v is not None and (not isinstance(v, numbers.Real) or isinstance(v, bool)):
                raise TypeError(f"clip: min and max must be numbers or None, got {v!r}")
        return apply(ops.Clip, self, lo=min, hi=max)

    def maximum(self, o): return self._binary(ops.Maximum, self, o)

    # ---- reductions ----
    def sum(self, axis=None, keepdims=False): return apply(ops.Sum, self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return apply(ops.Mean, self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return apply(ops.Max, self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return apply(ops.Min, self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return apply(ops.Var, self, axis=axis, keepdims=keepdims, ddof=ddof)

    def argmax(self, axis=None): return Tensor(self.data.argmax(axis=axis))

    # ---- movement ----
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            shape = check_reshape(self.shape, shape)
        except (TypeError, ValueError) as e:
            raise type(e)(f"reshape: cannot reshape {self.shape} into {tuple(shape)}: {e}") from None
        return apply(ops.Reshape, self, shape=shape)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if axes and not all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                            for a in axes):
            raise TypeError(f"transpose: axes must be ints, got {tuple(axes)}")
        if axes and (any(not -self.ndim <= a < self.ndim for a in axes)
                     or sorted(a % self.ndim for a in axes) != list(range(self.ndim))):
            raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of {self.ndim} axes")
        return apply(ops.Transpose, self, axes=tuple(a % self.ndim for a in axes) if axes else None)

    def flatten(self, start_axis: int = 0):
        return self.reshape(self.shape[:start_axis] + (-1,))

    def expand(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:  # broadcasting may add leading axes and stretch axes of size 1, nothing else
            ok = xp.broadcast_shapes(self.shape, tuple(shape)) == tuple(shape)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"expand: cannot expand shape {self.shape} to {tuple(shape)}")
        return apply(ops.Expand, self, shape=tuple(shape))

    def __getitem__(self, index):
        """Basic and advanced indexing, as PyTorch: integers, slices, None, Ellipsis, integer
        arrays (repeats accumulate their gradients) and boolean masks. Integers mixed with arrays
        are applied first, as PyTorch does (``x[0, :, [0, 2]]`` of a (2, 3, 4) x is (3, 2), where
        NumPy gives (2, 3))."""
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        split = ops.split_int_index(index)
        try:
            if split is not None:  # integers with arrays: PyTorch's axis order, not NumPy's
                return apply(ops.GetItem, apply(ops.GetItem, self, index=split[0]),
                             index=split[1])
            return apply(ops.GetItem, self, index=index)
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for shape {self.shape}: {e}") from None


def _graph_node(t: Tensor) -> Tensor:
    """The stand-in for non-leaf ``t`` in its consumers' ``parents``.

    It shares ``t``'s Function but holds no data (a zero-stride view of one element, with
    ``t``'s shape and dtype), so the graph does not keep ``t``'s array alive: an activation is
    freed as soon as neither the caller nor a Function's saved arrays hold it (PyTorch's graph,
    too, keeps only what backward saved). It refers back to ``t`` weakly, for ``retain_grad``.
    """
    node = t.__dict__.get("_node")
    if node is None:
        node = Tensor.__new__(Tensor)
        node.data = xp.broadcast_to(xp.zeros((), dtype=t.dtype), t.shape)
        node.grad, node._retains_grad, node.requires_grad = None, False, True
        node._ctx, node._owner = t._ctx, weakref.ref(t)
        t._node = node
    return node


def apply(fn_cls: type[Function], *inputs, **hyper) -> Tensor:
    """Run ``fn_cls`` forward on the inputs' arrays and link the result into the graph.

    Inputs are Tensors or ``None`` (an absent optional input such as a bias).
    """
    if is_grad_enabled():
        needs = tuple(t is not None and t.requires_grad for t in inputs)
    else:  # no graph will be built: no kernel needs to save anything for a backward
        needs = (False,) * len(inputs)
    fn = fn_cls(needs)
    y = fn.forward(*[None if t is None else t.data for t in inputs], **hyper)
    out = Tensor.__new__(Tensor)
    out.data, out.grad, out._retains_grad = y, None, False
    if True in needs:
        fn.parents = tuple(t if t is None or t._ctx is None else _graph_node(t) for t in inputs)
        out._ctx, out.requires_grad = fn, True
    else:
        out._ctx, out.requires_grad = None, False
    return out


def as_tensor(x, op: str) -> Tensor:
    """``x`` as a Tensor for op ``op``: a Tensor passes through, an ndarray is wrapped (no graph)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, xp.ndarray):
        return Tensor(x)
    raise TypeError(f"{op}: expected a Tensor or an ndarray, got {type(x).__name__}")


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """Build a :class:`Tensor` from array-like ``data``.

    >>> x = striate.tensor([[1.0, 2.0]], requires_grad=True)   # float32
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
