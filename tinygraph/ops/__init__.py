"""The built-in ops: one small class each, forward and gradient rule side by side.

One family a module: :mod:`.elementwise` (arithmetic, functions of one input,
comparisons), :mod:`.reduce` (sum, mean, softmax), :mod:`.shape` (transpose,
reshape, axes, and the broadcasting pair gradients are built on) and
:mod:`.linalg` (matmul). Every class registered with :func:`register` appears
in ``tg.OPS``; tests iterate that registry, so a new op is gradient-checked
(first and second derivatives) the moment it is added.
"""

from ..node import define_operators
from .elementwise import (
    Abs, Add, Div, Exp, Greater, Log, Mul, Neg, Power, Relu, Sigmoid, Sign, Softplus, Sub, Tanh,
    abs, add, div, exp, greater, log, mul, neg, power, relu, sigmoid, sign, softplus, sub, tanh,
)
from .linalg import MatMul, matmul
from .reduce import Mean, Softmax, Sum, mean, softmax, sum
from .registry import OPS, constants, register, stable_sigmoid
from .shape import (
    BroadcastLike, Count, ExpandDims, Reshape, ReshapeLike, Squeeze, SumTo, SumToShape, Transpose, ZerosLike,
    broadcast_like, count, expand_dims, reshape, reshape_like, squeeze, sum_to, transpose, zeros_like,
)

define_operators(add=add, sub=sub, mul=mul, div=div, matmul=matmul, neg=neg, power=power, transpose=transpose)

__all__ = [
    "OPS", "register", "constants", "stable_sigmoid",
    "Abs", "Add", "BroadcastLike", "Count", "Div", "Exp", "ExpandDims", "Greater", "Log", "MatMul", "Mean", "Mul",
    "Neg", "Power", "Relu", "Reshape", "ReshapeLike", "Sigmoid", "Sign", "Softmax", "Softplus", "Squeeze", "Sub",
    "Sum", "SumTo", "SumToShape", "Tanh", "Transpose", "ZerosLike",
    "abs", "add", "broadcast_like", "count", "div", "exp", "expand_dims", "greater", "log", "matmul", "mean", "mul",
    "neg", "power", "relu", "reshape", "reshape_like", "sigmoid", "sign", "softmax", "softplus", "squeeze", "sub",
    "sum", "sum_to", "tanh", "transpose", "zeros_like",
]
