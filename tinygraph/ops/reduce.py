"""Reductions over axes, and softmax."""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from typing import Any

from ..backend import xp
from ..node import Node
from ..op import Op
from ..shapes import StaticShape, normalize_axis
from .elementwise import equal, exp, where
from .registry import register
from .shape import _axes_signature, broadcast_like, count, expand_dims


class Reduction(Op):
    """Base of the reductions over ``axis`` (``None``: all axes), optionally keeping the reduced axes."""

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
        ndim = builtins.max(len(axes), *(a + 1 if a >= 0 else -a for a in axes))  # (0, -1) needs two axes
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

    def spread(self, grad: Node, x: Node) -> Node:
        """A reduced gradient (or value) broadcast back over ``x``'s shape."""
        if not self.keepdims and self.axis is not None and grad.shape != x.shape:
            grad = expand_dims(grad, normalize_axis(self.axis, len(x.shape)))
        return broadcast_like(grad, x)


@register
class Sum(Reduction):
    def forward(self, x):
        return xp.add.reduce(x, axis=self.axis, keepdims=self.keepdims)  # np.sum minus its Python wrapper

    def gradient(self, grad, x, *, output):
        return (self.spread(grad, x),)


@register
class Mean(Reduction):
    def forward(self, x):
        # np.mean's own arithmetic (sum, then divide by the count) without its microseconds of Python.
        total = xp.add.reduce(x, axis=self.axis, keepdims=self.keepdims)
        return total / (x.size // builtins.max(xp.size(total), 1))

    def gradient(self, grad, x, *, output):
        return (self.spread(grad / (count(x) / count(output)), x),)


class Extremum(Reduction):
    """Base of ``max`` and ``min``. Tied extreme elements share the gradient equally (as numpy-based
    frameworks do for ``amax``): each gets ``1/k`` of it for a ``k``-way tie.

    Property tests draw the elements apart (``distinct_inputs``): a tie is a kink.
    """

    distinct_inputs = True
    reduce: Any = None

    def forward(self, x):
        return type(self).reduce(x, axis=self.axis, keepdims=self.keepdims)

    def gradient(self, grad, x, *, output):
        hits = equal(x, self.spread(output, x))
        ties = sum(hits, axis=self.axis, keepdims=True)
        return (self.spread(grad, x) * (hits / ties),)


@register
class Max(Extremum):
    reduce = staticmethod(xp.max)


@register
class Min(Extremum):
    reduce = staticmethod(xp.min)


@register
class Argmax(Reduction):
    """The index of the largest element along ``axis`` (flattened when ``None``), as numpy's argmax:
    int64, the first one at a tie; no gradient."""

    differentiable = False
    distinct_inputs = True

    def __init__(self, axis: int | None = None, keepdims: bool = False):
        if axis is not None and not isinstance(axis, (int, xp.integer)):
            raise TypeError(f"argmax takes one axis (an int) or None, got {axis!r}")
        super().__init__(axis, keepdims)

    @classmethod
    def examples(cls):
        return (cls(), cls(axis=-1), cls(axis=0, keepdims=True))

    def infer_dtype(self, dtype):
        return xp.dtype(xp.int64)

    def forward(self, x):
        return xp.argmax(x, axis=self.axis, keepdims=self.keepdims).astype(xp.int64, copy=False)


@register
class LogSumExp(Reduction):
    """``log(sum(exp(x)))`` over ``axis``, shifted by the max so no exponential overflows."""

    name = "logsumexp"

    def forward(self, x):
        top = xp.max(x, axis=self.axis, keepdims=True)
        top = xp.where(xp.isfinite(top), top, 0)  # all -inf (or an inf): the shift would make nan
        with xp.errstate(divide="ignore"):  # log(0) = -inf is the answer when every element is -inf
            total = xp.log(xp.add.reduce(xp.exp(x - top), axis=self.axis, keepdims=True)) + top
        return total if self.keepdims else xp.squeeze(total, axis=self.axis)

    def gradient(self, grad, x, *, output):
        return (self.spread(grad, x) * exp(x - self.spread(output, x)),)


@register
class Var(Reduction):
    """The variance over ``axis``, ``mean((x - mean(x))²)``; ``ddof`` as numpy's."""

    def __init__(self, axis: int | Sequence[int] | None = None, keepdims: bool = False, ddof: int = 0):
        super().__init__(axis, keepdims)
        self.ddof = int(ddof)

    @classmethod
    def examples(cls):
        return (*super().examples(), cls(axis=-1, ddof=1))

    @property
    def signature(self):
        """For tests: reduced axes of three elements, so a ``ddof=1`` variance is defined."""
        core = super().signature
        return "(3)->()" if core is None else re.sub(r"n\d+", "3", core)

    def params(self) -> dict:
        return {**super().params(), "ddof": self.ddof}

    def forward(self, x):
        return xp.var(x, axis=self.axis, keepdims=self.keepdims, ddof=self.ddof)

    def gradient(self, grad, x, *, output):
        centred = x - mean(x, axis=self.axis, keepdims=True)
        return (self.spread(grad, x) * (centred * (2 / (count(x) / count(output) - self.ddof))),)


@register
class Std(Var):
    """The standard deviation over ``axis``, ``sqrt(var(x))``; ``ddof`` as numpy's.

    Where every element is equal the deviation is 0, a kink: the gradient there is 0
    (a subgradient, and the derivative itself for a single element).
    """

    distinct_inputs = True

    def forward(self, x):
        return xp.std(x, axis=self.axis, keepdims=self.keepdims, ddof=self.ddof)

    def gradient(self, grad, x, *, output):
        centred = x - mean(x, axis=self.axis, keepdims=True)
        nonzero = where(output, output, xp.inf)  # 0 / inf = 0 at the kink, not 0 / 0
        scale = self.spread(grad / nonzero, x) / (count(x) / count(output) - self.ddof)
        return (scale * centred,)


class AlongAxis(Op):
    """Base of softmax and log_softmax: one input, normalised along ``axis``, shape unchanged."""

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


@register
class LogSoftmax(AlongAxis):
    """``x - logsumexp(x)`` along ``axis``: the log of softmax, finite for logits of any size."""

    name = "log_softmax"

    def forward(self, x):
        shifted = x - xp.max(x, axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.add.reduce(xp.exp(shifted), axis=self.axis, keepdims=True))

    def gradient(self, grad, x, *, output):
        return (grad - exp(output) * sum(grad, axis=self.axis, keepdims=True),)


@register
class Softmax(AlongAxis):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max so large inputs cannot overflow."""

    def forward(self, x):
        e = xp.exp(x - xp.max(x, axis=self.axis, keepdims=True))
        return e / xp.sum(e, axis=self.axis, keepdims=True)

    def gradient(self, grad, x, *, output):
        return (output * (grad - sum(grad * output, axis=self.axis, keepdims=True)),)


def sum(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Node:  # noqa: A001
    """Sum over ``axis`` (all axes when ``None``)."""
    return Sum(axis, keepdims)(x)


def mean(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Node:
    """Mean over ``axis`` (all axes when ``None``)."""
    return Mean(axis, keepdims)(x)


def softmax(x: Any, axis: int = -1) -> Node:
    """Softmax along ``axis``, stable for large inputs."""
    return Softmax(axis)(x)


def log_softmax(x: Any, axis: int = -1) -> Node:
    """log(softmax(x)) along ``axis``, finite for logits of any size."""
    return LogSoftmax(axis)(x)


def max(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Node:  # noqa: A001
    """The largest element over ``axis`` (all axes when ``None``); ties share the gradient."""
    return Max(axis, keepdims)(x)


def min(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Node:  # noqa: A001
    """The smallest element over ``axis`` (all axes when ``None``); ties share the gradient."""
    return Min(axis, keepdims)(x)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Node:
    """The (first) index of the largest element along ``axis``, of the flattened ``x`` when ``None``."""
    return Argmax(axis, keepdims)(x)


def logsumexp(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Node:
    """``log(sum(exp(x)))`` over ``axis``, stable for large inputs."""
    return LogSumExp(axis, keepdims)(x)


def var(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False, ddof: int = 0) -> Node:
    """The variance over ``axis`` (numpy's ``ddof``)."""
    return Var(axis, keepdims, ddof)(x)


def std(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False, ddof: int = 0) -> Node:
    """The standard deviation over ``axis`` (numpy's ``ddof``)."""
    return Std(axis, keepdims, ddof)(x)
