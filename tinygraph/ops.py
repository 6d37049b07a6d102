"""The built-in ops: one small class each, forward and backward side by side.

Backward rules return one gradient per input and may return it in the
*broadcast* shape: the engine reduces it to the input's shape in one place
(:func:`tinygraph.shapes.unbroadcast`). Rules reuse the forward output where
the math allows (``exp``: ``y``; ``sigmoid``: ``y(1-y)``; ``tanh``: ``1-y²``).

Every class registered with :func:`register` appears in ``tg.OPS``; tests
iterate that registry, so a new op is gradient-checked the moment it is added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .node import Node, Op, as_nodes
from .shapes import StaticShape, broadcast_static, format_shape, normalize_axis

OPS: dict[str, type[Op]] = {}


def register(cls: type[Op]) -> type[Op]:
    """Add an op class to ``OPS`` under its ``name``."""
    if cls.name in OPS and OPS[cls.name] is not cls:
        raise ValueError(f"an op named {cls.name!r} is already registered ({OPS[cls.name].__qualname__})")
    OPS[cls.name] = cls
    return cls


class Constants(NamedTuple):
    """0-d read-only arrays of one float dtype; see :func:`constants`."""

    zero: np.ndarray
    half: np.ndarray
    one: np.ndarray


_CONSTANTS: dict[Any, Constants] = {}


def constants(x: Any) -> Constants:
    """0, 0.5 and 1 as 0-d arrays of ``x``'s float dtype (float64 for anything else).

    NumPy converts a Python number operand afresh on every call, which on a
    small array costs as much as the arithmetic; these are converted once.
    Being of x's dtype, they keep a float32 graph in float32, as Python numbers do.
    """
    try:  # called by ops on every run: the lookup is the whole cost when it hits
        return _CONSTANTS[x.dtype]
    except (AttributeError, KeyError):
        pass
    dtype = getattr(x, "dtype", None)
    found = _CONSTANTS.get(dtype)
    if found is None:
        real = dtype if dtype is not None and np.issubdtype(dtype, np.floating) else np.dtype(np.float64)
        found = Constants(*(np.array(v, dtype=real) for v in (0.0, 0.5, 1.0)))
        for array in found:
            array.flags.writeable = False
        _CONSTANTS[dtype] = found
    return found


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow for any x: exp is only taken of -|x| and of min(x, 0).

    ``e^min(x,0) / (1 + e^-|x|)`` is ``1 / (1 + e^-x)`` for x ≥ 0 and ``e^x / (1 + e^x)``
    for x < 0, each accurate to the last bits (subnormal tails included), with no
    branch to select between them.
    """
    c = constants(x)
    return np.exp(np.minimum(x, c.zero)) / (c.one + np.exp(-np.abs(x)))


class Elementwise(Op):
    """Base of the unary element-wise ops: output shape and dtype are the input's."""

    arity = 1
    domain = (-2.0, 2.0)

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        return shape


class Broadcasting(Op):
    """Base of the binary element-wise ops: numpy broadcasting of the two inputs."""

    arity = 2
    domain = (-2.0, 2.0)

    def infer_shape(self, a: StaticShape, b: StaticShape) -> StaticShape:
        return broadcast_static(a, b)


# --- binary arithmetic -------------------------------------------------------

@register
class Add(Broadcasting):
    def forward(self, a, b):
        return a + b

    def backward(self, grad_output, a, b, *, output):
        return grad_output, grad_output


@register
class Sub(Broadcasting):
    def forward(self, a, b):
        return a - b

    def backward(self, grad_output, a, b, *, output):
        return grad_output, (-grad_output if self.needs_input_grad[1] else None)


@register
class Mul(Broadcasting):
    def forward(self, a, b):
        return a * b

    def backward(self, grad_output, a, b, *, output):
        need_a, need_b = self.needs_input_grad
        return (grad_output * b if need_a else None), (grad_output * a if need_b else None)


@register
class Div(Broadcasting):
    domain = ((-2.0, 2.0), (0.5, 2.0))  # keep the divisor away from its pole at 0

    def forward(self, a, b):
        return a / b

    def backward(self, grad_output, a, b, *, output):
        need_a, need_b = self.needs_input_grad
        grad_a = grad_output / b
        return (grad_a if need_a else None), (-grad_a * output if need_b else None)


@register
class MatMul(Op):
    """``a @ b`` with numpy's rules: 1-D operands and broadcast batch axes included."""

    arity = 2
    domain = (-2.0, 2.0)
    signature = "(n?,k),(k,m?)->(n?,m?)"

    def infer_shape(self, a: StaticShape, b: StaticShape) -> StaticShape:
        if a is None or b is None:
            return None
        if len(a) == 0 or len(b) == 0:
            raise ValueError("matmul needs at least one axis on each side")
        a2 = (1,) + a if len(a) == 1 else a
        b2 = b + (1,) if len(b) == 1 else b
        k1, k2 = a2[-1], b2[-2]
        if k1 is not None and k2 is not None and k1 != k2:
            raise ValueError(f"contracted sizes differ: {k1} vs {k2}")
        batch = broadcast_static(a2[:-2], b2[:-2])
        out = batch + (a2[-2], b2[-1])
        if len(a) == 1:
            out = out[:-2] + out[-1:]
        if len(b) == 1:
            out = out[:-1]
        return out

    def forward(self, a, b):
        return a @ b

    def backward(self, grad_output, a, b, *, output):
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the bookkeeping below
            return (grad_output @ b.T if need_a else None), (a.T @ grad_output if need_b else None)
        if a.ndim == 1 and b.ndim == 1:  # dot product: grad_output is a scalar
            return (grad_output * b if need_a else None), (grad_output * a if need_b else None)
        # Promote 1-D operands to matrices, as numpy does, then undo it on the way out.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad_output
        if a.ndim == 1:
            g = g[..., None, :]
        if b.ndim == 1:
            g = g[..., None]
        grad_a = grad_b = None
        if need_a:
            grad_a = g @ np.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                grad_a = grad_a[..., 0, :]
        if need_b:
            grad_b = np.swapaxes(a2, -1, -2) @ g
            if b.ndim == 1:
                grad_b = grad_b[..., 0]
        return grad_a, grad_b


# --- unary element-wise ------------------------------------------------------

@register
class Neg(Elementwise):
    def forward(self, x):
        return -x

    def backward(self, grad_output, x, *, output):
        return (-grad_output,)


@register
class Exp(Elementwise):
    def forward(self, x):
        return np.exp(x)

    def backward(self, grad_output, x, *, output):
        return (grad_output * output,)


@register
class Log(Elementwise):
    domain = (0.2, 3.0)  # away from the pole at 0

    def forward(self, x):
        return np.log(x)

    def backward(self, grad_output, x, *, output):
        return (grad_output / x,)


@register
class Sigmoid(Elementwise):
    domain = (-5.0, 5.0)

    def forward(self, x):
        return stable_sigmoid(x)

    def backward(self, grad_output, x, *, output):
        return (grad_output * output * (1 - output),)


@register
class Softplus(Elementwise):
    """log(1 + e^x), computed stably; the rewrite target of ``log(sigmoid(x))``."""

    domain = (-5.0, 5.0)

    def forward(self, x):
        return np.logaddexp(constants(x).zero, x)

    def backward(self, grad_output, x, *, output):
        # sigmoid(x) = 1 - e^-softplus(x): read off the output, accurate for tiny outputs via expm1.
        return (grad_output * -np.expm1(-output),)


@register
class Tanh(Elementwise):
    def forward(self, x):
        return np.tanh(x)

    def backward(self, grad_output, x, *, output):
        return (grad_output * (1 - output * output),)


@register
class Relu(Elementwise):
    kinks = (0.0,)

    def forward(self, x):
        return np.maximum(x, constants(x).zero)

    def backward(self, grad_output, x, *, output):
        return (grad_output * (x > constants(x).zero),)


@register
class Abs(Elementwise):
    kinks = (0.0,)

    def forward(self, x):
        return np.abs(x)

    def backward(self, grad_output, x, *, output):
        return (grad_output * np.sign(x),)


@register
class Power(Elementwise):
    """``x ** exponent`` for a constant exponent."""

    domain = (0.5, 2.0)  # positive, so fractional and negative exponents are smooth too

    def __init__(self, exponent: float):
        if isinstance(exponent, Node) or not np.isscalar(exponent):
            raise TypeError(f"power needs a constant number as exponent, got {exponent!r}")
        self.exponent = exponent

    @classmethod
    def examples(cls):
        return (cls(2), cls(3), cls(0.5), cls(-1.5))

    def params(self) -> dict:
        return {"exponent": self.exponent}

    def forward(self, x):
        return x ** self.exponent

    def backward(self, grad_output, x, *, output):
        return (grad_output * self.exponent * x ** (self.exponent - 1),)


# --- reductions and shape ops --------------------------------------------------

def _axes_signature(ndim: int) -> str:
    """The test signature of a one-input op whose input core has ``ndim`` axes of any size."""
    return "(" + ",".join(f"n{i}" for i in range(ndim)) + ")->()"


class Reduction(Op):
    """Base of sum and mean over ``axis`` (``None``: all axes)."""

    arity = 1
    domain = (-2.0, 2.0)

    def __init__(self, axis: int | Sequence[int] | None = None, keepdims: bool = False):
        self.axis = axis if axis is None or isinstance(axis, int) else tuple(axis)
        self.keepdims = bool(keepdims)

    @classmethod
    def examples(cls):
        return (cls(), cls(axis=-1), cls(axis=0, keepdims=True), cls(axis=(0, -1)))

    @property
    def signature(self):
        """For tests: at least as many axes as ``axis`` reaches."""
        if self.axis is None:
            return None
        axes = (self.axis,) if isinstance(self.axis, int) else self.axis
        ndim = max(len(axes), *(a + 1 if a >= 0 else -a for a in axes))  # (0, -1) needs two axes
        return _axes_signature(ndim)

    def params(self) -> dict:
        return {"axis": self.axis, "keepdims": self.keepdims}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        if shape is None:
            return None
        axes = normalize_axis(self.axis, len(shape))
        axes = tuple(range(len(shape))) if axes is None else axes
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(shape))
        return tuple(d for i, d in enumerate(shape) if i not in axes)

    def _spread(self, grad_output, x):
        """Broadcast a reduced gradient back over the input's shape (a view, no copy)."""
        if not self.keepdims and self.axis is not None:
            grad_output = np.expand_dims(grad_output, normalize_axis(self.axis, x.ndim))
        return np.broadcast_to(grad_output, x.shape)


@register
class Sum(Reduction):
    def forward(self, x):
        return np.add.reduce(x, axis=self.axis, keepdims=self.keepdims)  # np.sum minus its Python wrapper

    def backward(self, grad_output, x, *, output):
        return (self._spread(grad_output, x),)


@register
class Mean(Reduction):
    def forward(self, x):
        # np.mean's own arithmetic (sum, then divide by the count) without its microseconds of Python.
        total = np.add.reduce(x, axis=self.axis, keepdims=self.keepdims)
        return total / (x.size // max(np.size(total), 1))

    def backward(self, grad_output, x, *, output):
        count = x.size // max(np.size(output), 1)
        return (self._spread(grad_output / count, x),)


@register
class Transpose(Op):
    """Permute axes (all reversed by default); a view, as in numpy."""

    arity = 1
    domain = (-2.0, 2.0)

    def __init__(self, axes: Sequence[int] | None = None):
        self.axes = None if axes is None else tuple(int(a) for a in axes)

    @classmethod
    def examples(cls):
        return (cls(), cls((1, 0, 2)))

    @property
    def signature(self):
        """For tests: exactly ``len(axes)`` axes when ``axes`` is given."""
        return None if self.axes is None else _axes_signature(len(self.axes))

    def params(self) -> dict:
        return {"axes": self.axes} if self.axes is not None else {}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        if shape is None:
            return None
        if self.axes is None:
            return shape[::-1]
        if sorted(a % max(len(shape), 1) for a in self.axes) != list(range(len(shape))):
            raise ValueError(f"axes {self.axes} are not a permutation of {len(shape)} axes")
        return tuple(shape[a] for a in self.axes)

    def forward(self, x):
        return x.transpose(self.axes)  # the method: np.transpose adds a Python wrapper around it

    def backward(self, grad_output, x, *, output):
        inverse = None if self.axes is None else tuple(np.argsort([a % x.ndim for a in self.axes]))
        return (grad_output.transpose(inverse),)


@register
class Reshape(Op):
    """Reshape to ``shape`` (one entry may be -1, as in numpy)."""

    arity = 1
    domain = (-2.0, 2.0)

    def __init__(self, shape: Sequence[int]):
        self.shape = tuple(int(d) for d in shape)
        if self.shape.count(-1) > 1 or any(d < -1 for d in self.shape):
            raise ValueError(f"reshape: bad target shape {shape!r}")

    @classmethod
    def examples(cls):
        return (cls((-1,)), cls((2, -1)), cls((-1, 1)))

    @property
    def signature(self):
        """For tests: a last axis of the fixed sizes' product, so the elements divide evenly."""
        known = int(np.prod([d for d in self.shape if d != -1]))
        return f"({known})->()" if -1 in self.shape and known > 1 else None

    def params(self) -> dict:
        return {"shape": self.shape}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        known = int(np.prod([d for d in self.shape if d != -1]))
        if shape is None or None in shape:
            return tuple(None if d == -1 else d for d in self.shape)
        size = int(np.prod(shape))
        if -1 in self.shape:
            if known == 0 or size % known:
                raise ValueError(f"cannot reshape {size} elements into {self.shape}")
            return tuple(size // known if d == -1 else d for d in self.shape)
        if size != known:
            raise ValueError(f"cannot reshape {size} elements into {format_shape(self.shape)}")
        return self.shape

    def forward(self, x):
        return np.reshape(x, self.shape)

    def backward(self, grad_output, x, *, output):
        return (np.reshape(grad_output, x.shape),)


@register
class Softmax(Op):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max so large inputs cannot overflow."""

    arity = 1
    domain = (-2.0, 2.0)
    signature = "(n)->(n)"  # at least one axis

    def __init__(self, axis: int = -1):
        self.axis = int(axis)

    @classmethod
    def examples(cls):
        return (cls(), cls(axis=0))

    def params(self) -> dict:
        return {"axis": self.axis}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        if shape is not None:
            normalize_axis(self.axis, len(shape))
        return shape

    def forward(self, x):
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        return e / np.sum(e, axis=self.axis, keepdims=True)

    def backward(self, grad_output, x, *, output):
        inner = np.sum(grad_output * output, axis=self.axis, keepdims=True)
        return (output * (grad_output - inner),)


# --- the functional API ------------------------------------------------------

def add(a: Any, b: Any) -> Node:
    """``a + b`` with broadcasting."""
    return Add()(a, b)


def sub(a: Any, b: Any) -> Node:
    """``a - b`` with broadcasting."""
    return Sub()(a, b)


def mul(a: Any, b: Any) -> Node:
    """``a * b`` element-wise, with broadcasting."""
    return Mul()(a, b)


def div(a: Any, b: Any) -> Node:
    """``a / b`` element-wise, with broadcasting."""
    return Div()(a, b)


def matmul(a: Any, b: Any) -> Node:
    """``a @ b`` (numpy.matmul semantics)."""
    return MatMul()(a, b)


def neg(x: Any) -> Node:
    """``-x``."""
    return Neg()(x)


def exp(x: Any) -> Node:
    """e to the ``x``, element-wise."""
    return Exp()(x)


def log(x: Any) -> Node:
    """Natural logarithm, element-wise."""
    return Log()(x)


def sigmoid(x: Any) -> Node:
    """1 / (1 + e^-x), stable for any float input."""
    return Sigmoid()(x)


def softplus(x: Any) -> Node:
    """log(1 + e^x), stable for any float input."""
    return Softplus()(x)


def tanh(x: Any) -> Node:
    """Hyperbolic tangent, element-wise."""
    return Tanh()(x)


def relu(x: Any) -> Node:
    """max(x, 0), element-wise."""
    return Relu()(x)


def abs(x: Any) -> Node:  # noqa: A001 (the contract's name, shadowing the builtin inside tg only)
    """|x|, element-wise."""
    return Abs()(x)


def power(x: Any, exponent: float) -> Node:
    """``x ** exponent`` for a constant exponent."""
    return Power(exponent)(x)


def sum(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Node:  # noqa: A001
    """Sum over ``axis`` (all axes when ``None``)."""
    return Sum(axis, keepdims)(x)


def mean(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Node:
    """Mean over ``axis`` (all axes when ``None``)."""
    return Mean(axis, keepdims)(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Node:
    """Permute the axes; reverse them when ``axes`` is ``None``."""
    return Transpose(axes)(x)


def reshape(x: Any, shape: Sequence[int]) -> Node:
    """Give ``x`` a new shape with the same number of elements."""
    return Reshape(shape)(x)


def softmax(x: Any, axis: int = -1) -> Node:
    """Softmax along ``axis``, stable for large inputs."""
    return Softmax(axis)(x)


__all__ = [
    "OPS", "register", "stable_sigmoid", "as_nodes",
    "add", "sub", "mul", "div", "matmul", "neg", "exp", "log", "sigmoid", "softplus", "tanh",
    "relu", "abs", "power", "sum", "mean", "transpose", "reshape", "softmax",
]
