"""Fused ops, and the rewrite passes that put them into graphs.

A graph runs one Python step per op, forward and backward. On small arrays
that step, not the arithmetic, is what a run costs, so where a common formula
spans many small ops, a rewrite replaces it with one op computing the same
function. The user keeps writing the formula; the graph runs the fused op.

- ``fuse_sigmoid_cross_entropy``: the course's cross-entropy, as
  ``stable_log_sigmoid`` leaves it, ``-mean(Y·-softplus(-Z) + (1-Y)·-softplus(Z))``,
  becomes ``sigmoid_cross_entropy(Z, Y)``: one op instead of ten, whose
  backward is the textbook ``(sigmoid(Z) - Y) / m``.

Switch it off like any pass: ``tg.Graph(loss, disable=("fuse_sigmoid_cross_entropy",))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .node import Constant, Node, Op
from .ops import register
from .rewrite import register_rewrite
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
        losses = np.logaddexp(0, z) - y * z
        return np.add.reduce(losses, axis=None) / losses.size

    def backward(self, grad_output, z, y, *, output):
        need_z, need_y = self.needs_input_grad
        both = np.broadcast(z, y)
        scale = grad_output / both.size
        grad_z = grad_y = None
        if need_z:
            # sigmoid as 0.5 + 0.5·tanh(z/2): no overflow for any z, and its absolute
            # error (~1e-16) is all a gradient needs; four numpy calls instead of seven.
            grad_z = (0.5 + 0.5 * np.tanh(0.5 * z) - y) * scale
        if need_y:
            grad_y = -z * scale
            if grad_y.shape != both.shape:  # z smaller than y: spread it over y's shape (a view)
                grad_y = np.broadcast_to(grad_y, both.shape)
        return grad_z, grad_y


def sigmoid_cross_entropy(logits: Any, labels: Any) -> Node:
    """Mean binary cross-entropy of ``labels`` (0..1) against ``sigmoid(logits)``, stable for any logits."""
    return SigmoidCrossEntropy()(logits, labels)


# --- recognising the formula ------------------------------------------------------

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
    return (
        isinstance(one, Constant) and one.value.size == 1 and bool(one.value.reshape(()) == 1)
        and y.shape is not None and one.value.ndim <= len(y.shape)
    )


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
