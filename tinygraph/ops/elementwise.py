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
from .registry import constants, register, stable_sigmoid


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
        return xp.logaddexp(constants(x).zero, x)

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


# --- comparisons: 0/1 floats, usable as masks, no gradient -------------------------------

class Comparison(Broadcasting):
    differentiable = False
    domain = ((-2.0, -0.5), (0.5, 2.0))  # apart, so no perturbation flips the answer
    compare: Any = None

    def forward(self, a, b):
        return type(self).compare(a, b).astype(xp.result_type(a, b))


@register
class Greater(Comparison):
    compare = xp.greater


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
