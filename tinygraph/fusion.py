"""Fused ops, and the rewrite passes that put them into graphs.

A graph runs one Python step per op, forward and backward. On small arrays
that step, not the arithmetic, is what a run costs, so where a common formula
spans many small ops, a rewrite replaces it with one op computing the same
function. The user keeps writing the formula; the graph runs the fused op.

- ``fuse_sigmoid_cross_entropy``: the course's cross-entropy, as
  ``stable_log_sigmoid`` leaves it, ``-mean(Y·-softplus(-Z) + (1-Y)·-softplus(Z))``,
  becomes ``sigmoid_cross_entropy(Z, Y)``: one op instead of ten, whose
  backward is the textbook ``(sigmoid(Z) - Y) / m``.

- ``fuse_affine``: ``a @ b + c`` (and ``aᵀ @ b + c``) for matrices becomes
  ``affine(a, b, c)``: a dense layer's pre-activation in one op, whose backward
  computes ``dw = X·dZᵀ`` directly, as one writes it by hand.

Switch either off like any pass: ``tg.Graph(loss, disable=("fuse_affine",))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .node import Node, Op
from .ops import MatMul, constants, register
from .rewrite import is_constant, register_rewrite
from .shapes import StaticShape, broadcast_static


@register
class SigmoidCrossEntropy(Op):
    """``mean(softplus(z) - y·z)``: binary cross-entropy of labels ``y`` against ``sigmoid(z)``.

    Equals ``-mean(y·log σ(z) + (1 - y)·log(1 - σ(z)))`` for every ``z``, and
    stays finite for logits of any size. ``z`` and ``y`` broadcast together;
    the mean runs over the broadcast shape.
    """

    name = "sigmoid_cross_entropy"
    arity = 2
    domain = ((-3.0, 3.0), (0.0, 1.0))  # logits, labels

    def infer_shape(self, z: StaticShape, y: StaticShape) -> StaticShape:
        broadcast_static(z, y)  # raises ValueError when they cannot broadcast
        return ()

    def forward(self, z, y):
        losses = np.logaddexp(constants(z).zero, z) - y * z
        return np.add.reduce(losses, axis=None) / losses.size

    def backward(self, grad_output, z, y, *, output):
        need_z, need_y = self.needs_input_grad
        if z.shape == y.shape:
            shape, size = z.shape, z.size
        else:
            both = np.broadcast(z, y)
            shape, size = both.shape, both.size
        scale = float(grad_output) / size
        grad_z = grad_y = None
        if need_z:
            # sigmoid as 0.5 + 0.5·tanh(z/2): no overflow for any z, and its absolute error (~1e-16)
            # is all a gradient needs. Worked in place: on a small array a new buffer costs more than the math.
            half = constants(z).half
            grad_z = np.tanh(z * half)
            grad_z *= half
            grad_z += half
            grad_z = grad_z - y  # not -=: y may be the larger of the two
            grad_z *= scale
        if need_y:
            grad_y = z * -scale
            if grad_y.shape != shape:  # z smaller than y: spread it over the broadcast shape (a view)
                grad_y = np.broadcast_to(grad_y, shape)
        return grad_z, grad_y


def sigmoid_cross_entropy(logits: Any, labels: Any) -> Node:
    """Mean binary cross-entropy of ``labels`` (0..1) against ``sigmoid(logits)``, stable for any logits."""
    return SigmoidCrossEntropy()(logits, labels)


@register
class Affine(Op):
    """``a @ b + c`` in one op, or ``aᵀ @ b + c`` with ``transpose_a``: a dense layer's pre-activation.

    ``a`` and ``b`` have two or more axes (batch axes broadcast, as in matmul);
    ``c`` broadcasts against the product, but may not widen its two matrix axes.
    """

    name = "affine"
    arity = 3
    domain = (-2.0, 2.0)

    def __init__(self, transpose_a: bool = False):
        self.transpose_a = bool(transpose_a)

    @classmethod
    def examples(cls) -> tuple[Affine, ...]:
        return (cls(), cls(transpose_a=True))

    @property
    def signature(self) -> str:
        """For tests: the input shapes the op needs."""
        return "(k,n),(k,m),(n,m)->(n,m)" if self.transpose_a else "(n,k),(k,m),(n,m)->(n,m)"

    def params(self) -> dict:
        return {"transpose_a": True} if self.transpose_a else {}

    def infer_shape(self, a: StaticShape, b: StaticShape, c: StaticShape) -> StaticShape:
        if a is None or b is None:
            return None
        if len(a) < 2 or len(b) < 2:
            raise ValueError("affine needs a and b with two or more axes")
        if self.transpose_a:
            a = a[:-2] + (a[-1], a[-2])
        product = MatMul().infer_shape(a, b)
        out = broadcast_static(product, c)
        if out is not None and any(p is not None and o != p for p, o in zip(product[-2:], out[-2:], strict=True)):
            raise ValueError(f"c widens the product's matrix axes {product[-2:]} to {out[-2:]}")
        return out

    def forward(self, a, b, c):
        return (a.swapaxes(-1, -2) if self.transpose_a else a) @ b + c

    def backward(self, grad_output, a, b, c, *, output):
        need_a, need_b, need_c = self.needs_input_grad
        g = grad_output
        grad_a = grad_b = None
        if need_a:  # for aᵀ @ b the gradient of a is b·gᵀ: dw = X·dZᵀ, no transpose of the result
            grad_a = b @ g.swapaxes(-1, -2) if self.transpose_a else g @ b.swapaxes(-1, -2)
        if need_b:
            grad_b = (a if self.transpose_a else a.swapaxes(-1, -2)) @ g
        return grad_a, grad_b, (g if need_c else None)


def affine(a: Any, b: Any, c: Any, transpose_a: bool = False) -> Node:
    """``a @ b + c`` (``aᵀ @ b + c`` with ``transpose_a``) as one op."""
    return Affine(transpose_a)(a, b, c)


# --- recognising the formulas -----------------------------------------------------

def _factors(node: Node) -> Iterator[tuple[Node, Node]]:
    """``(a, b)`` and ``(b, a)`` for a product node ``a * b``; nothing for another node."""
    if node.kind == "mul":
        a, b = node.inputs
        yield a, b
        yield b, a


def _log_sigmoid_argument(node: Node) -> Node | None:
    """``z`` when ``node`` is ``-softplus(-z)`` (how the stable rewrite writes ``log σ(z)``)."""
    if node.kind == "neg" and node.inputs[0].kind == "softplus" and node.inputs[0].inputs[0].kind == "neg":
        return node.inputs[0].inputs[0].inputs[0]
    return None


def _log_one_minus_sigmoid_argument(node: Node) -> Node | None:
    """``z`` when ``node`` is ``-softplus(z)`` (how the stable rewrite writes ``log(1 - σ(z))``)."""
    if node.kind == "neg" and node.inputs[0].kind == "softplus":
        return node.inputs[0].inputs[0]
    return None


def _is_one_minus(node: Node, y: Node) -> bool:
    """Is ``node`` ``1 - y``, with a 1 that cannot broadcast ``y`` to a larger shape?"""
    if node.kind != "sub" or node.inputs[1] is not y:
        return False
    one = node.inputs[0]
    return is_constant(one, 1.0) and one.value.size == 1 and y.shape is not None and one.value.ndim <= len(y.shape)


@register_rewrite("fuse_sigmoid_cross_entropy")
def fuse_sigmoid_cross_entropy(node: Node) -> Node | None:
    """``-mean(y·log σ(z) + (1-y)·log(1-σ(z)))``, in its stable form, → ``sigmoid_cross_entropy(z, y)``.

    Matches either order of the sum and of each product; the mean must be over all axes.
    """
    if node.kind != "neg" or node.inputs[0].kind != "mean":
        return None
    mean = node.inputs[0]
    if mean.op.axis is not None or mean.op.keepdims or mean.inputs[0].kind != "add":
        return None
    first, second = mean.inputs[0].inputs
    for positive, negative in ((first, second), (second, first)):
        for y, log_a in _factors(positive):
            z = _log_sigmoid_argument(log_a)
            if z is None:
                continue
            for one_minus_y, log_one_minus_a in _factors(negative):
                if _is_one_minus(one_minus_y, y) and _log_one_minus_sigmoid_argument(log_one_minus_a) is z:
                    fused = sigmoid_cross_entropy(z, y)
                    fused.name = node.name
                    return fused
    return None


def _is_matrix(node: Node) -> bool:
    return node.shape is not None and len(node.shape) == 2


def _cannot_widen(c: Node, product: Node) -> bool:
    """Does adding ``c`` keep ``product``'s shape at run time? ``c``'s sizes must be known: 1 or the product's."""
    if c.shape is None or len(c.shape) > 2 or any(d is None for d in c.shape):
        return False
    return all(d == 1 or d == p for d, p in zip(c.shape[::-1], product.shape[::-1], strict=False))


@register_rewrite("fuse_affine")
def fuse_affine(node: Node) -> Node | None:
    """``a @ b + c`` or ``c + a @ b`` → ``affine(a, b, c)``, and ``aᵀ @ b + c`` → ``affine(a, b, c, transpose_a=True)``.

    Only for matrices, and only where ``c`` cannot broadcast the product to a larger shape.
    """
    if node.kind != "add":
        return None
    for product, c in (node.inputs, node.inputs[::-1]):
        if product.kind != "matmul" or not all(_is_matrix(i) for i in product.inputs) or not _cannot_widen(c, product):
            continue
        a, b = product.inputs
        transposed = a.kind == "transpose" and a.op.axes is None and _is_matrix(a.inputs[0])
        fused = affine(a.inputs[0], b, c, transpose_a=True) if transposed else affine(a, b, c)
        fused.name = node.name
        return fused
    return None
