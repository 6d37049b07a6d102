"""Matrix products."""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..node import Node
from ..op import Op
from ..shapes import StaticShape, broadcast_static
from .registry import register
from .shape import expand_dims, squeeze, transpose


def swap_last(x: Node) -> Node:
    """``x`` with its last two axes swapped (a matrix transpose, batch axes kept)."""
    ndim = len(x.shape)
    return transpose(x) if ndim == 2 else transpose(x, (*range(ndim - 2), ndim - 1, ndim - 2))


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

    writes_into = True

    def forward(self, a, b, out=None):
        if a.ndim == 2 and b.ndim == 2:  # the same product as @ on matrices, with a third less overhead
            return xp.dot(a, b, out=out)
        return xp.matmul(a, b, out=out)

    def gradient(self, grad, a, b, *, output):
        if a.shape is None or b.shape is None:
            raise ValueError("matmul's gradient needs its inputs' number of axes")
        # A 1-D operand is a matrix with an axis of size 1 added (as numpy does), removed again after.
        a_vector, b_vector = len(a.shape) == 1, len(b.shape) == 1
        if a_vector and b_vector:  # a dot product
            return grad * b, grad * a
        a2 = expand_dims(a, 0) if a_vector else a
        b2 = expand_dims(b, -1) if b_vector else b
        g = expand_dims(grad, -2) if a_vector else grad
        g = expand_dims(g, -1) if b_vector else g
        grad_a, grad_b = g @ swap_last(b2), swap_last(a2) @ g
        return (squeeze(grad_a, -2) if a_vector else grad_a), (squeeze(grad_b, -1) if b_vector else grad_b)


def matmul(a: Any, b: Any) -> Node:
    """``a @ b`` (numpy.matmul semantics)."""
    return MatMul()(a, b)
