"""Trace a model's forward pass and write it as an ONNX graph.

Tracing: every layer calls its kernels through ``striate.tensor.apply``. During one forward pass
in eval mode that function is swapped, in every loaded module that imported it, for one that
also records ``(Function class, input Tensors, hyper-parameters, output)`` and the layer that
was running; the original is put back in a ``finally``. Each record becomes ONNX nodes through
the converter registered for its Function class in :mod:`striate.onnx.ops`.

What becomes what:
- the example input is the graph input; an input Tensor produced by an earlier record is that
  record's output; any other input Tensor (a parameter, a buffer, a constant made on the fly)
  is an initializer, named after the parameter or buffer when it is one;
- a record none of whose inputs depends on the graph input (a parameter reshaped in
  ``forward``) is folded: its traced output becomes an initializer;
- nodes and initializers that no output needs are dropped.

Limits of tracing. Anything a model computes outside a Function (``.data`` arithmetic,
comparisons, ``detach``) is frozen into the graph as a constant; an output that does not depend
on the input is an error. Python control flow is frozen as taken. Spatial sizes are fixed; with
``dynamic_batch`` the batch size may vary, which the exporter guarantees for reshapes (the batch
axis becomes Reshape's "copy" 0, and a reshape that folds the batch into another axis is an
error) but not for a constant a model builds from ``x.shape[0]`` itself.
"""
from __future__ import annotations

import contextlib
import itertools
import sys
from typing import Any, Sequence

from ..autograd import no_grad
from ..backend import xp
from ..nn.module import Module, _call_stack
from ..serialization import _atomic_write
from ..tensor import Tensor
from ..tensor import apply as _apply
from . import layers  # noqa: F401 - registers the layer converters
from .ops import CONVERTERS, converter_for

__all__ = ["export"]

_MIN_OPSET = 14  # HardSwish, Reshape with allowzero, Trilu-era shape ops


def _import_onnx():
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401 - a submodule the package may not load itself
    except ImportError:
        raise ImportError("striate.onnx.export needs the 'onnx' package; install it with "
                          "pip install 'striate[onnx]'") from None
    return onnx


class _Record:
    """One Function application seen while tracing."""

    __slots__ = ("fn", "inputs", "hyper", "out", "where")

    def __init__(self, fn, inputs, hyper, out, where):
        self.fn, self.inputs, self.hyper, self.out, self.where = fn, inputs, hyper, out, where


@contextlib.contextmanager
def _recording(records: list, layer_names: dict):
    """Record every ``apply`` call made inside the block (not thread-safe, as PyTorch's tracer)."""
    original = _apply

    def recording_apply(fn_cls, *inputs, **hyper):
        out = original(fn_cls, *inputs, **hyper)
        stack = _call_stack()
        layer = stack[-1] if stack else None
        where = None if layer is None else (layer_names.get(id(layer), ""), type(layer).__name__)
        records.append(_Record(fn_cls, inputs, hyper, out, where))
        return out

    # the functional modules bind ``apply`` by name at import, so each one is patched
    patched = [m for m in list(sys.modules.values())
               if getattr(m, "__dict__", {}).get("apply") is original]
    for m in patched:
        m.apply = recording_apply
    try:
        yield
    finally:
        for m in patched:
            m.apply = original


class Node:
    """What a converter sees: one traced Function application.

    Attributes:
        fn: the Function class.
        inputs: ONNX value names, one per forward input (None where the input was None).
        arrays: the traced input arrays (None likewise).
        hyper: the keyword arguments given to ``forward``.
        out: the traced output array.
        batched: per input, whether its axis 0 is the (dynamic) batch axis.
        where: "layer 'features.3' (Conv2d)" for error messages.
    """

    def __init__(self, fn, inputs, arrays, hyper, out, batched, where):
        self.fn, self.inputs, self.arrays, self.hyper = fn, inputs, arrays, hyper
        self.out, self.batched, self.where = out, batched, where

    def fail(self, msg: str) -> ValueError:
        return ValueError(f"onnx.export: {self.fn.__name__} in {self.where}: {msg}")


class GraphBuilder:
    """Collects nodes and initializers; converters add them with :meth:`op` and :meth:`const`."""

    def __init__(self, onnx, opset: int, dynamic_batch: bool, known: dict):
        self.onnx, self.opset, self.dynamic_batch = onnx, opset, dynamic_batch
        self.nodes: list = []
        self.initializers: dict[str, Any] = {}
        self._known = known          # id(array) -> parameter or buffer name
        self._by_id: dict[int, str] = {}
        self._keep: list = []        # arrays whose id is a key of _by_id stay alive
        self._taken: set[str] = set()
        self._smalls: dict = {}
        self._count = itertools.count()
        self.scope = ""

    def fresh(self, hint: str) -> str:
        base = f"{self.scope}/{hint}" if self.scope else hint
        name, i = base, 1
        while name in self._taken:
            name, i = f"{base}_{i}", i + 1
        self._taken.add(name)
        return name

    def op(self, op_type: str, *inputs, outputs: int = 1, **attrs):
        """Add one node; ``inputs`` are value names (None for an absent optional input)."""
        ins = list(inputs)
        while ins and ins[-1] is None:
            ins.pop()
        outs = [self.fresh(op_type) for _ in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(
            op_type, ["" if i is None else i for i in ins], outs,
            name=f"{self.scope or 'graph'}/{op_type}_{next(self._count)}", **attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, array, hint: str = "const") -> str:
        """An initializer holding ``array`` (a parameter or buffer keeps its model name)."""
        key = id(array)
        if key in self._by_id:
            return self._by_id[key]
        array = xp.asarray(array)
        name = self._known.get(key)
        if name is None or name in self._taken:
            name = self.fresh(hint)
        self._taken.add(name)
        self.initializers[name] = array
        self._by_id[key] = name
        self._keep.append(array)
        return name

    def ints(self, values: Sequence[int], hint: str = "shape") -> str:
        """A 1-D int64 initializer (one per distinct value list)."""
        return self._small(xp.asarray([int(v) for v in values], dtype=xp.int64), hint)

    def scalar(self, value, dtype, hint: str = "scalar") -> str:
        """A 0-d initializer of ``dtype`` (one per distinct value and dtype)."""
        return self._small(xp.asarray(value, dtype=dtype), hint)

    def _small(self, array, hint: str) -> str:
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._smalls:
            self._smalls[key] = self.const(array, hint)
        return self._smalls[key]

    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """Reduce* over ``axes`` (None: all); ReduceSum takes axes as an input from opset 13,
        the others from opset 18."""
        if axes is None:
            return self.op(op_type, x, keepdims=int(keepdims))
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.ints(axes, "axes"), keepdims=int(keepdims))
        return self.op(op_type, x, axes=list(axes), keepdims=int(keepdims))


def _known_arrays(model: Module) -> dict:
    """id(array) -> qualified name, for every parameter and buffer."""
    known = {}
    for name, t in itertools.chain(model.named_parameters(), model.named_buffers()):
        known.setdefault(id(t.data), name)
    return known


def _unchanged(module, inputs, output):
    return None


def _trace(model: Module, inputs: list[Tensor]):
    layer_names = {id(m): name for name, m in model.named_modules()}
    records: list[_Record] = []
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    # a hook on each layer keeps nn.conv_bn_act from fusing it (its documented rule): every
    # layer is exported as itself, and ONNX Runtime folds batch norm on its own
    handles = [m.register_forward_hook(_unchanged) for m in model.modules()]
    try:
        with no_grad(), _recording(records, layer_names):
            out = model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
    return records, out


def _describe(where) -> str:
    if where is None:
        return "the model's top level"
    name, kind = where
    return f"layer '{name}' ({kind})" if name else f"the model's forward ({kind})"


def _flatten_outputs(out) -> list:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"onnx.export: the model returned a {type(o).__name__}; "
                            "expected a Tensor or a tuple of Tensors")
    return outs


def _build(onnx, model, inputs, records, outs, input_names, output_names, opset, dynamic_batch):
    gb = GraphBuilder(onnx, opset, dynamic_batch, _known_arrays(model))
    values: dict[int, str] = {}       # id(Tensor) -> name, for values that depend on an input
    folded: dict[int, str] = {}       # id(Tensor) -> hint, for outputs computed from constants
    batched: dict[str, bool] = {}
    batch = inputs[0].shape[0] if inputs[0].ndim else None
    for t, name in zip(inputs, input_names):
        values[id(t)] = name
        gb._taken.add(name)
        batched[name] = t.ndim > 0 and dynamic_batch
    for r in records:
        gb.scope = r.where[0] if r.where else ""
        dynamic = [t is not None and id(t) in values for t in r.inputs]
        if not any(dynamic):  # constant folding: the traced output becomes an initializer
            folded[id(r.out)] = r.fn.__name__
            continue
        in_names = [None if t is None else values[id(t)] if d
                    else gb.const(t.data, folded.get(id(t), "const"))
                    for t, d in zip(r.inputs, dynamic)]
        node = Node(r.fn, in_names, [None if t is None else t.data for t in r.inputs], r.hyper,
                    r.out.data, [n is not None and batched.get(n, False) for n in in_names],
                    _describe(r.where))
        convert = converter_for(r.fn)
        if convert is None:
            raise node.fail("no ONNX converter for this Function (supported: "
                            f"{', '.join(sorted(_supported()))})")
        out_name = values[id(r.out)] = convert(gb, node)
        batched[out_name] = (dynamic_batch and any(node.batched) and r.out.ndim > 0
                             and r.out.shape[0] == batch)
    graph_outs = []
    for i, (t, oname) in enumerate(zip(outs, output_names)):
        if id(t) not in values:
            raise ValueError(f"onnx.export: output {i} ('{oname}') does not depend on the input; "
                             "the model computes it outside striate's operations (through "
                             "'.data', comparisons or detach) or from constants only")
        graph_outs.append((values[id(t)], oname, t, batched.get(values[id(t)], False)))
    return gb, graph_outs


def _supported() -> list[str]:
    return [c.__name__ for c in CONVERTERS]


def _rename_outputs(gb: GraphBuilder, graph_outs) -> None:
    """Give each output value its public name (an Identity where it is an input or reused)."""
    for value, public, _, _ in graph_outs:
        if value == public:
            continue
        gb.scope = ""
        gb.nodes.append(gb.onnx.helper.make_node("Identity", [value], [public],
                                                 name=f"output/{public}"))


def _prune(gb: GraphBuilder, wanted: set[str]) -> None:
    """Drop nodes and initializers that no graph output needs."""
    kept = []
    for node in reversed(gb.nodes):
        if any(o in wanted for o in node.output):
            kept.append(node)
            wanted.update(i for i in node.input if i)
    gb.nodes = kept[::-1]
    gb.initializers = {k: v for k, v in gb.initializers.items() if k in wanted}


def _value_info(onnx, name, arr, dynamic: bool):
    elem = onnx.helper.np_dtype_to_tensor_dtype(arr.dtype)
    shape = list(arr.shape)
    if dynamic and shape:
        shape[0] = "batch"
    return onnx.helper.make_tensor_value_info(name, elem, shape)


def export(model: Module, example_input, path, opset: int = 17,
           input_names: Sequence[str] = ("input",), output_names: Sequence[str] = ("output",),
           dynamic_batch: bool = True):
    """Write ``model`` as an ONNX file by tracing one forward pass on ``example_input``.

    The model runs once in eval mode (its training flags are restored afterwards); every
    Function it applies becomes ONNX nodes, parameters and buffers become initializers named as
    in ``state_dict``. The graph is checked with ``onnx.checker.check_model`` and written
    atomically. Needs the ``onnx`` package (``pip install 'striate[onnx]'``).

    The graph is fixed to the traced spatial sizes (adaptive pooling and locally connected
    layers depend on them); with ``dynamic_batch`` only axis 0 may vary. Control flow is
    traced, not exported: a branch on the input's values is frozen as taken.

    Args:
        model (Module): the model.
        example_input: an ndarray or Tensor (N, C, H, W), or a tuple of them for several inputs.
        path (str or PathLike): the ``.onnx`` file to write.
        opset (int, default 17): ONNX opset, 14 or newer. Gelu is one node from 20 on and a
            decomposition through Erf before; LayerNorm is one node from 17 on.
        input_names (sequence of str, default ("input",)): graph input names.
        output_names (sequence of str, default ("output",)): graph output names; missing ones
            are named ``output_1``, ``output_2``...
        dynamic_batch (bool, default True): make axis 0 of inputs and outputs symbolic.

    The graph keeps the model's dtype; onnxruntime's CPU provider has no float64
    convolution, so export a ``model.float()`` with a float32 input to run it there.

    Returns:
        the ``onnx.ModelProto`` written.

    Raises:
        ValueError: an operation has no ONNX form (the message names it and its layer).

    >>> striate.onnx.export(striate.models.lenet5(), np.zeros((1, 1, 28, 28), np.float32),
    ...                     "lenet5.onnx")
    """
    onnx = _import_onnx()
    if not isinstance(model, Module):
        raise TypeError(f"onnx.export: model must be a striate.nn.Module, got "
                        f"{type(model).__name__}")
    top = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not _MIN_OPSET <= opset <= top:
        raise ValueError(f"onnx.export: opset must be an int from {_MIN_OPSET} to {top}, "
                         f"got {opset!r}")
    raw = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    inputs = []
    for i, a in enumerate(raw):
        if isinstance(a, Tensor):
            a = a.data
        if not isinstance(a, xp.ndarray) or a.dtype.kind != "f":
            raise TypeError(f"onnx.export: example input {i} must be a floating-point ndarray "
                            f"or Tensor, got {type(a).__name__}"
                            + (f" of dtype {a.dtype}" if isinstance(a, xp.ndarray) else ""))
        inputs.append(Tensor(a))
    if not inputs:
        raise ValueError("onnx.export: example_input is empty")
    input_names = _names(input_names, len(inputs), "input")
    records, out = _trace(model, inputs)
    outs = _flatten_outputs(out)
    output_names = _names(output_names, len(outs), "output")
    if set(input_names) & set(output_names):
        raise ValueError(f"onnx.export: input and output names overlap: {input_names}, "
                         f"{output_names}")
    gb, graph_outs = _build(onnx, model, inputs, records, outs, input_names,
                                     output_names, opset, dynamic_batch)
    _rename_outputs(gb, graph_outs)
    _prune(gb, {public for _, public, _, _ in graph_outs})
    graph = onnx.helper.make_graph(
        gb.nodes, type(model).__name__,
        [_value_info(onnx, n, t.data, dynamic_batch and t.ndim > 0)
         for n, t in zip(input_names, inputs)],
        [_value_info(onnx, public, t.data, dyn) for _, public, t, dyn in graph_outs],
        initializer=[onnx.numpy_helper.from_array(xp.asarray(a, order="C"), n)
                     for n, a in gb.initializers.items()])
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="striate",
                                   producer_version=_version())
    proto.ir_version = max(onnx.helper.find_min_ir_version_for(opsets), 8)
    data = proto.SerializeToString()  # once: the checker takes the bytes too
    onnx.checker.check_model(data)
    _atomic_write(str(path), lambda f: f.write(data))
    return proto


def _names(names, n: int, kind: str) -> list[str]:
    if isinstance(names, str):
        names = (names,)
    names = [str(s) for s in names][:n]
    names += [f"{kind}_{i}" for i in range(len(names), n)]
    if len(set(names)) != len(names):
        raise ValueError(f"onnx.export: {kind} names must be distinct, got {names}")
    return names


def _version() -> str:
    return str(getattr(sys.modules.get("striate"), "__version__", ""))
