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

from .backend import xp
from .node import Node
from .op import Op
from .ops import MatMul, broadcast_like, constants, count, register, sigmoid
from .ops.linalg import swap_last
from .ops.registry import stable_softplus
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
        losses = stable_softplus(z) - y * z
        return xp.add.reduce(losses, axis=None) / losses.size

    def gradient(self, grad, z, y, *, output):
        grad_z = SigmoidCrossEntropyGrad()(z, y, grad)  # in the broadcast shape of z and y
        return grad_z, broadcast_like(-(z * (grad / count(z, y))), grad_z)


@register
class SigmoidCrossEntropyGrad(Op):
    """``(sigmoid(z) - y) · grad / n``: the gradient of :class:`SigmoidCrossEntropy` for its logits, in one op.

    ``grad`` is the upstream gradient and ``n`` the number of elements of the broadcast
    of ``z`` and ``y`` (the mean's count). Its own gradient is written with graph ops,
    so the fused loss has second derivatives too.
    """

    name = "sigmoid_cross_entropy_grad"
    arity = 3
    domain = ((-3.0, 3.0), (0.0, 1.0), (-1.0, 1.0))  # logits, labels, upstream gradient

    def infer_shape(self, z: StaticShape, y: StaticShape, grad: StaticShape) -> StaticShape:
        return broadcast_static(z, y, grad)

    def forward(self, z, y, grad):
        # sigmoid as 0.5 + 0.5·tanh(z/2): no overflow for any z, and its absolute error (~1e-16)
        # is all a gradient needs. Worked in place: on a small array a new buffer costs more than the math.
        half = constants(z).half
        out = xp.tanh(z * half)
        out *= half
        out += half
        out = out - y  # not -=: y may be the larger of the two
        if grad.ndim == 0:  # as the loss's gradient always has it. A 0-d array multiplies faster than a
            out *= xp.asarray(grad[()] / (out.size or 1))  # number; dividing as numbers is faster: same bits
            return out
        return out * (grad / (out.size or 1))

    def gradient(self, gg, z, y, grad, *, output):
        s = sigmoid(z)
        scale = gg * (grad / count(z, y))
        return scale * (s * (1 - s)), -scale, gg * (s - y) / count(z, y)


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
        if a.ndim == 2 and b.ndim == 2 and c.ndim <= 2:  # a dense layer: matrices
            out = xp.dot(a.T if self.transpose_a else a, b)  # the product @ gives, with less overhead
            if out.dtype == c.dtype:
                out += c  # c cannot widen the matrix axes: added in place, no second new array
                return out
            return out + c
        return (a.swapaxes(-1, -2) if self.transpose_a else a) @ b + c

    def gradient(self, grad, a, b, c, *, output):
        if self.transpose_a:  # for aᵀ @ b the gradient of a is b·gᵀ: dw = X·dZᵀ, no transpose of the result
            return b @ swap_last(grad), a @ grad, grad
        return grad @ swap_last(b), swap_last(a) @ grad, grad


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
