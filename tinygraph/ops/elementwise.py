"""Element-wise ops: arithmetic with numpy broadcasting, and functions of one input.

Each gradient rule is written with tinygraph ops (so it can be differentiated
again) and may return a gradient in the broadcast shape: :func:`tinygraph.grad`
sums it back to its input's shape in one place. Rules reuse the output where
the math allows (``exp``: ``y``; ``sigmoid``: ``y(1-y)``; ``tanh``: ``1-y²``).
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..node import Node
from ..op import Op
from ..shapes import StaticShape, broadcast_static
from .registry import constants, register, stable_sigmoid, stable_softplus


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


# --- arithmetic ----------------------------------------------------------------------

@register
class Add(Broadcasting):
    def forward(self, a, b):
        return a + b

    def gradient(self, grad, a, b, *, output):
        return grad, grad


@register
class Sub(Broadcasting):
    def forward(self, a, b):
        return a - b

    def gradient(self, grad, a, b, *, output):
        return grad, -grad


@register
class Mul(Broadcasting):
    def forward(self, a, b):
        return a * b

    def gradient(self, grad, a, b, *, output):
        return grad * b, grad * a


@register
class Div(Broadcasting):
    domain = ((-2.0, 2.0), (0.5, 2.0))  # keep the divisor away from its pole at 0

    def forward(self, a, b):
        return a / b

    def gradient(self, grad, a, b, *, output):
        grad_a = grad / b
        return grad_a, -(grad_a * output)


@register
class Neg(Elementwise):
    def forward(self, x):
        return -x

    def gradient(self, grad, x, *, output):
        return (-grad,)


@register
class Power(Elementwise):
    """``x ** exponent`` for a constant exponent."""

    domain = (0.5, 2.0)  # positive, so fractional and negative exponents are smooth too

    def __init__(self, exponent: float):
        if isinstance(exponent, Node) or not xp.isscalar(exponent):
            raise TypeError(f"power needs a constant number as exponent, got {exponent!r}")
        self.exponent = exponent

    @classmethod
    def examples(cls):
        return (cls(2), cls(3), cls(0.5), cls(-1.5), cls(1), cls(0))

    def params(self) -> dict:
        return {"exponent": self.exponent}

    def forward(self, x):
        return x ** self.exponent

    def gradient(self, grad, x, *, output):
        if self.exponent == 0:  # x ** 0 is 1 everywhere, 0 included: no gradient (not 0 · x^-1)
            return (None,)
        if self.exponent == 1:
            return (grad,)
        return (grad * (self.exponent * x ** (self.exponent - 1)),)


# --- functions of one input ----------------------------------------------------------

@register
class Exp(Elementwise):
    def forward(self, x):
        return xp.exp(x)

    def gradient(self, grad, x, *, output):
        return (grad * output,)


@register
class Log(Elementwise):
    domain = (0.2, 3.0)  # away from the pole at 0

    def forward(self, x):
        return xp.log(x)

    def gradient(self, grad, x, *, output):
        return (grad / x,)


@register
class Sigmoid(Elementwise):
    domain = (-5.0, 5.0)

    def forward(self, x):
        return stable_sigmoid(x)

    def gradient(self, grad, x, *, output):
        return (grad * (output * (1 - output)),)


@register
class Softplus(Elementwise):
    """log(1 + e^x), computed stably; the rewrite target of ``log(sigmoid(x))``."""

    domain = (-5.0, 5.0)

    def forward(self, x):
        return stable_softplus(x)

    def gradient(self, grad, x, *, output):
        return (grad * sigmoid(x),)


@register
class Tanh(Elementwise):
    def forward(self, x):
        return xp.tanh(x)

    def gradient(self, grad, x, *, output):
        return (grad * (1 - output * output),)


@register
class Relu(Elementwise):
    kinks = (0.0,)

    def forward(self, x):
        return xp.maximum(x, constants(x).zero)

    def gradient(self, grad, x, *, output):
        return (grad * greater(x, 0.0),)


@register
class Abs(Elementwise):
    kinks = (0.0,)

    def forward(self, x):
        return xp.abs(x)

    def gradient(self, grad, x, *, output):
        return (grad * sign(x),)


@register
class Sign(Elementwise):
    """-1, 0 or 1: the derivative of ``abs``. Its own derivative is 0 (where it has one)."""

    kinks = (0.0,)
    differentiable = False

    def forward(self, x):
        return xp.sign(x)


@register
class Sqrt(Elementwise):
    domain = (0.2, 3.0)  # away from the infinite slope at 0

    def forward(self, x):
        return xp.sqrt(x)

    def gradient(self, grad, x, *, output):
        return (grad / (2 * output),)


@register
class Square(Elementwise):
    def forward(self, x):
        return xp.square(x)

    def gradient(self, grad, x, *, output):
        return (grad * (2 * x),)


@register
class Sin(Elementwise):
    def forward(self, x):
        return xp.sin(x)

    def gradient(self, grad, x, *, output):
        return (grad * cos(x),)


@register
class Cos(Elementwise):
    def forward(self, x):
        return xp.cos(x)

    def gradient(self, grad, x, *, output):
        return (-(grad * sin(x)),)


@register
class LeakyRelu(Elementwise):
    """``x`` where positive, ``slope · x`` elsewhere."""

    name = "leaky_relu"
    kinks = (0.0,)

    def __init__(self, slope: float = 0.01):
        if isinstance(slope, Node) or not xp.isscalar(slope):
            raise TypeError(f"leaky_relu needs a constant number as slope, got {slope!r}")
        self.slope = float(slope)

    @classmethod
    def examples(cls):
        return (cls(), cls(0.2))

    def params(self) -> dict:
        return {"slope": self.slope}

    def forward(self, x):
        return xp.where(x > 0, x, x * xp.asarray(self.slope, dtype=x.dtype))

    def gradient(self, grad, x, *, output):
        return (grad * (self.slope + (1 - self.slope) * greater(x, 0.0)),)


@register
class Clip(Elementwise):
    """``x`` limited to ``[lo, hi]`` (constants; ``None`` for no limit), as numpy's clip.

    The gradient passes where ``lo < x < hi`` and is 0 outside (at the limits themselves too).
    """

    def __init__(self, lo: float | None, hi: float | None):
        for bound in (lo, hi):
            if bound is not None and (isinstance(bound, Node) or not xp.isscalar(bound)):
                raise TypeError(f"clip needs constant numbers (or None) as limits, got {bound!r}")
        if lo is None and hi is None:
            raise ValueError("clip needs at least one of lo and hi")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"clip: lo={lo!r} is above hi={hi!r}")
        self.lo, self.hi = lo, hi
        self.kinks = tuple(float(b) for b in (lo, hi) if b is not None)

    @classmethod
    def examples(cls):
        return (cls(-1.0, 1.0), cls(None, 0.5), cls(-0.5, None))

    def params(self) -> dict:
        return {"lo": self.lo, "hi": self.hi}

    def forward(self, x):
        return xp.clip(x, self.lo, self.hi)

    def gradient(self, grad, x, *, output):
        inside = grad
        if self.lo is not None:
            inside = inside * greater(x, self.lo)
        if self.hi is not None:
            inside = inside * less(x, self.hi)
        return (inside,)


class Extremum(Broadcasting):
    """Base of ``maximum`` and ``minimum``. At a tie the gradient goes to ``a``, the first input.

    Property tests draw the inputs apart (``distinct_inputs``): a tie is a kink.
    """

    distinct_inputs = True

    @staticmethod
    def wins(a: Node, b: Node) -> Node:
        """1 where ``a`` is the one taken (ties included), else 0."""
        raise NotImplementedError

    def gradient(self, grad, a, b, *, output):
        wins = self.wins(a, b)
        return grad * wins, grad * (1 - wins)


@register
class Maximum(Extremum):
    def forward(self, a, b):
        return xp.maximum(a, b)

    @staticmethod
    def wins(a, b):
        return greater_equal(a, b)


@register
class Minimum(Extremum):
    def forward(self, a, b):
        return xp.minimum(a, b)

    @staticmethod
    def wins(a, b):
        return less_equal(a, b)


@register
class Where(Op):
    """``a`` where ``cond`` is nonzero, else ``b`` (numpy's where, broadcasting all three).

    ``cond`` gets no gradient: it selects, as a mask from a comparison does.
    """

    arity = 3
    domain = ((-1.0, 1.0), (-2.0, 2.0), (-2.0, 2.0))
    kinks = (0.0,)  # where cond turns from false (0) to true

    def infer_shape(self, cond: StaticShape, a: StaticShape, b: StaticShape) -> StaticShape:
        return broadcast_static(cond, a, b)

    def infer_dtype(self, cond, a, b):
        return xp.result_type(a, b)

    def forward(self, cond, a, b):
        return xp.where(cond, a, b)

    def gradient(self, grad, cond, a, b, *, output):
        zero = constants(grad).zero
        return None, where(cond, grad, zero), where(cond, zero, grad)


# --- comparisons: 0/1 floats, usable as masks, no gradient -------------------------------

class Comparison(Broadcasting):
    differentiable = False
    domain = ((-2.0, -0.5), (0.5, 2.0))  # apart, so no perturbation flips the answer
    compare: Any = None

    def forward(self, a, b):
        dtype = a.dtype  # as a 0/1 mask of the inputs' dtype; result_type costs as much as the comparison
        return type(self).compare(a, b).astype(dtype if dtype is b.dtype else xp.result_type(a, b))


@register
class Greater(Comparison):
    compare = xp.greater


@register
class GreaterEqual(Comparison):
    name = "greater_equal"
    compare = xp.greater_equal


@register
class Less(Comparison):
    compare = xp.less


@register
class LessEqual(Comparison):
    name = "less_equal"
    compare = xp.less_equal


@register
class Equal(Comparison):
    compare = xp.equal


# --- the functional API ------------------------------------------------------------------

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


def neg(x: Any) -> Node:
    """``-x``."""
    return Neg()(x)


def power(x: Any, exponent: float) -> Node:
    """``x ** exponent`` for a constant exponent."""
    return Power(exponent)(x)


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


def sign(x: Any) -> Node:
    """-1, 0 or 1 by the sign of ``x`` (no gradient)."""
    return Sign()(x)


def greater(a: Any, b: Any) -> Node:
    """1.0 where ``a > b``, else 0.0 (a mask; no gradient)."""
    return Greater()(a, b)


def greater_equal(a: Any, b: Any) -> Node:
    """1.0 where ``a >= b``, else 0.0 (a mask; no gradient)."""
    return GreaterEqual()(a, b)


def less(a: Any, b: Any) -> Node:
    """1.0 where ``a < b``, else 0.0 (a mask; no gradient)."""
    return Less()(a, b)


def less_equal(a: Any, b: Any) -> Node:
    """1.0 where ``a <= b``, else 0.0 (a mask; no gradient)."""
    return LessEqual()(a, b)


def equal(a: Any, b: Any) -> Node:
    """1.0 where ``a == b``, else 0.0 (a mask; no gradient)."""
    return Equal()(a, b)


def sqrt(x: Any) -> Node:
    """Square root, element-wise."""
    return Sqrt()(x)


def square(x: Any) -> Node:
    """``x * x``, element-wise."""
    return Square()(x)


def sin(x: Any) -> Node:
    """Sine, element-wise."""
    return Sin()(x)


def cos(x: Any) -> Node:
    """Cosine, element-wise."""
    return Cos()(x)


def leaky_relu(x: Any, slope: float = 0.01) -> Node:
    """``x`` where positive, ``slope · x`` elsewhere."""
    return LeakyRelu(slope)(x)


def clip(x: Any, lo: float | None, hi: float | None) -> Node:
    """``x`` limited to ``[lo, hi]`` (``None``: no limit on that side)."""
    return Clip(lo, hi)(x)


def maximum(a: Any, b: Any) -> Node:
    """The larger of ``a`` and ``b``, element-wise with broadcasting (a tie's gradient goes to ``a``)."""
    return Maximum()(a, b)


def minimum(a: Any, b: Any) -> Node:
    """The smaller of ``a`` and ``b``, element-wise with broadcasting (a tie's gradient goes to ``a``)."""
    return Minimum()(a, b)


def where(cond: Any, a: Any, b: Any) -> Node:
    """``a`` where ``cond`` is nonzero, else ``b``, with broadcasting; ``cond`` gets no gradient."""
    return Where()(cond, a, b)
