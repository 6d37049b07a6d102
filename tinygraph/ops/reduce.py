"""Reductions over axes, and softmax."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import xp
from ..node import Node
from ..op import Op
from ..shapes import StaticShape, normalize_axis
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
        return total / (x.size // max(xp.size(total), 1))

    def gradient(self, grad, x, *, output):
        return (self.spread(grad / (count(x) / count(output)), x),)


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
