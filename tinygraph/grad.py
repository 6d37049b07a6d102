"""``tg.grad``: gradients as nodes of the same graph.

One walk over the graph in reverse topological order. Each node on a path
from a ``wrt`` node to the output sums the gradients its consumers sent it
(one ``add`` node per extra consumer: out of place by construction) and asks
its op's rule (:meth:`tinygraph.Op.gradient`) for its inputs' gradients. A
gradient in a broadcast shape is summed back to its input's shape here, in
one place (:func:`tinygraph.ops.sum_to`). The result is ordinary nodes: run
them with ``tg.Graph(grads)``, rewrite them, or differentiate them again::

    (dx,) = tg.grad(y, [x])
    hvp = tg.grad(tg.sum(dx * v), [x])[0]     # a Hessian-vector product
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .errors import GradientError, ShapeError
from .node import Constant, Node, constant, topological_order
from .ops import add, broadcast_like, sum_to, zeros_like
from .ops.elementwise import Elementwise
from .shapes import broadcast_static, format_shape


def grad(output: Node, wrt: Iterable[Node], grad_output: Any = None) -> list[Node]:
    """The gradient of ``output`` with respect to each node in ``wrt``, as nodes.

    Args:
        output: a node with one element, unless ``grad_output`` is given.
        wrt: the nodes to differentiate with respect to (any nodes ``output`` depends on;
            a node it does not depend on gets zeros).
        grad_output: the gradient arriving at ``output`` (a node, or an array made a
            constant), of ``output``'s shape: the result is then the vector-Jacobian product.

    Returns one node per ``wrt`` node, of that node's shape. Every gradient node records
    in ``grad_of`` the node whose rule made it, and carries that node's source line.
    """
    wrt = list(wrt)
    if not isinstance(output, Node) or not all(isinstance(x, Node) for x in wrt):
        raise TypeError("tg.grad takes a node and a list of nodes")
    seed = _seed(output, grad_output)
    order = topological_order([output])
    targets = set(wrt)
    on_path: set[Node] = set()  # nodes that depend on a wrt node: only their gradients are built
    for node in order:
        if node in targets or any(i in on_path for i in node.inputs):
            on_path.add(node)
    known = set(order) | set(topological_order([seed]))  # nodes that existed before: the rest is gradient
    pending: dict[Node, list[Node]] = {output: [seed]}
    result: dict[Node, Node] = {}
    for node in reversed(order):
        parts = pending.pop(node, None)
        if parts is None or node not in on_path:
            continue
        total = parts[0]
        for part in parts[1:]:
            total = add(total, part)
        if len(parts) > 1:
            total.name = f"d{node.name}"  # the sum of what node's consumers sent back (anomaly messages say so)
        if node in targets:
            result[node] = total
        made = [total]
        if node.op is not None:
            for x, gx in zip(node.inputs, _rule(node, total), strict=True):
                if gx is not None and x in on_path:
                    gx = _fit(gx, x, node)
                    pending.setdefault(x, []).append(gx)
                    made.append(gx)
        for new in topological_order(made, known):  # the nodes this step built
            new.grad_of, new.trace = node, node.trace
            known.add(new)
    return [result[x] if x in result else zeros_like(x) for x in wrt]


def _seed(output: Node, grad_output: Any) -> Node:
    """The gradient arriving at ``output``: ``grad_output`` as a node, or ones for a one-element output."""
    if grad_output is None:
        if output.shape is None or None in output.shape or int(np.prod(output.shape)) != 1:
            raise GradientError(
                f"the output {output.name!r} has shape {format_shape(output.shape)}, not one element; "
                f"reduce it (tg.sum / tg.mean) or pass grad_output"
            )
        seed = np.ones(output.shape, dtype=output.dtype)
        seed.flags.writeable = False
        return Constant(seed, name=f"d{output.name}")
    if not isinstance(grad_output, Node):
        grad_output = constant(np.asarray(grad_output), dtype=output.dtype)
    if grad_output.shape is not None and output.shape is not None and (
            len(grad_output.shape) != len(output.shape) or any(
                a is not None and b is not None and a != b
                for a, b in zip(grad_output.shape, output.shape, strict=True))):
        raise GradientError(
            f"grad_output has shape {format_shape(grad_output.shape)}, the output {output.name!r} "
            f"has {format_shape(output.shape)}"
        )
    return grad_output


def _rule(node: Node, grad: Node) -> Sequence[Node | None]:
    """``node``'s op's gradient rule, checked: one node (or None) per input."""
    grads = node.op.gradient(grad, *node.inputs, output=node)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(node.inputs):
        got = f"{len(grads)} gradients" if isinstance(grads, (tuple, list)) else type(grads).__name__
        raise GradientError(
            f"gradient rule of {node.op.name} ({node.name}) returned {got} for {len(node.inputs)} inputs; "
            f"it must return one gradient node (or None) per input"
        )
    for k, g in enumerate(grads):
        if g is not None and not isinstance(g, Node):
            raise GradientError(
                f"gradient rule of {node.op.name} ({node.name}) returned a {type(g).__name__} for input {k}; "
                f"a rule builds nodes from tinygraph ops (a numpy rule belongs in backward)"
            )
    return grads


def _fit(grad: Node, x: Node, node: Node) -> Node:
    """``grad`` summed down to ``x``'s shape where broadcasting made it larger (spread where it is smaller)."""
    if grad.shape == x.shape and x.shape is not None and (None not in x.shape or isinstance(node.op, Elementwise)):
        return grad  # the shapes are the same now, or (a one-input element-wise op's) at run time
    try:
        known = all(s is not None and None not in s for s in (grad.shape, x.shape))
        if known and broadcast_static(grad.shape, x.shape) == x.shape:
            return broadcast_like(grad, x)  # a rule that left a broadcast input's gradient unbroadcast
        return sum_to(grad, x)
    except (ShapeError, ValueError):
        raise GradientError(
            f"gradient rule of {node.op.name} ({node.name}) returned a gradient of shape "
            f"{format_shape(grad.shape)} for input {x.name!r} of shape {format_shape(x.shape)}"
        ) from None
