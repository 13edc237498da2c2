"""Primitive Functions on bare arrays. Tensors wrap them in ``striate.tensor``."""
from .broadcast import unbroadcast
from .elementwise import Abs, Add, Clip, Div, Exp, Log, Maximum, Mul, Neg, Pow, Sqrt, Sub, Tanh, Where
from .matmul import MatMul
from .movement import Concat, Expand, GetItem, Pad, Reshape, Transpose, split_int_index
from .reduce import Max, Mean, Min, Sum, Var, normalize_axis

__all__ = [
    "unbroadcast", "Abs", "Add", "Clip", "Div", "Exp", "Log", "Maximum", "Mul", "Neg", "Pow",
    "Sqrt", "Sub", "Tanh", "Where", "MatMul", "Concat", "Expand", "GetItem", "Pad", "Reshape",
    "Transpose", "split_int_index", "Max", "Mean", "Min", "Sum", "Var", "normalize_axis",
]
