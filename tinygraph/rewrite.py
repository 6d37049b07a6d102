"""Graph rewrites: small passes applied when a :class:`tinygraph.Graph` is built.

A pass looks at one node (whose inputs are already rewritten) and returns a
replacement node, or ``None`` to leave it alone. Passes run bottom-up over the
graph, each node until no pass changes it. The user's own nodes are never
mutated: rewriting builds new nodes, and the graph remembers which original
node each one stands for.

Register a pass of your own with :func:`register_rewrite`::

    @tg.register_rewrite("double_negation")
    def double_negation(node):
        if node.kind == "neg" and node.inputs[0].kind == "neg":
            return node.inputs[0].inputs[0]
        return None

A pass that keeps state across nodes (merging duplicates, say) is registered
as a class; each graph gets a fresh instance.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from .node import Constant, Node, topological_order
from . import ops

RewritePass = Callable[[Node], Optional[Node]]

# name -> pass function, or pass class instantiated once per graph; in the order they run.
REWRITES: Dict[str, Union[RewritePass, type]] = {}


def register_rewrite(name: str) -> Callable:
    """Decorator registering a rewrite pass (function or class) under ``name``."""

    def decorate(rewrite_pass):
        if name in REWRITES:
            raise ValueError(f"a rewrite named {name!r} is already registered")
        REWRITES[name] = rewrite_pass
        return rewrite_pass

    return decorate


def rebuild(node: Node, inputs: Tuple[Node, ...]) -> Node:
    """A copy of op node ``node`` reading ``inputs``: same op, name and source line."""
    new = node.op(*inputs, name=node.name)
    new.trace = node.trace
    return new


def rewrite(outputs: Iterable[Node], disable: Iterable[str] = ()) -> Tuple[Dict[Node, Node], List[Tuple[str, Node, Node]]]:
    """Apply every registered pass not in ``disable`` to the graph of ``outputs``.

    Returns ``(replacement, applied)``: ``replacement`` maps every original node
    to the node that now computes it; ``applied`` lists ``(pass name, before, after)``.
    """
    disable = set(disable)
    unknown = disable - set(REWRITES)
    if unknown:
        raise ValueError(f"unknown rewrite(s) {sorted(unknown)}; registered: {sorted(REWRITES)}")
    passes = [
        (name, p() if isinstance(p, type) else p)
        for name, p in REWRITES.items()
        if name not in disable
    ]
    replacement: Dict[Node, Node] = {}
    applied: List[Tuple[str, Node, Node]] = []
    for node in topological_order(outputs):
        if node.op is None:
            replacement[node] = node
            continue
        inputs = tuple(replacement[i] for i in node.inputs)
        current = node if all(a is b for a, b in zip(inputs, node.inputs)) else rebuild(node, inputs)
        for _ in range(100):  # a pass that keeps rewriting forever is a bug; stop, don't hang
            for name, rewrite_pass in passes:
                new = rewrite_pass(current)
                if new is not None and new is not current:
                    applied.append((name, current, new))
                    current = new
                    break
            else:
                break
        replacement[node] = current
    return replacement, applied


def _is_constant(node: Node, value: float) -> bool:
    return isinstance(node, Constant) and node.value.size > 0 and bool(np.all(node.value == value))


@register_rewrite("stable_log_sigmoid")
def stable_log_sigmoid(node: Node) -> Optional[Node]:
    """``log(sigmoid(x))`` → ``-softplus(-x)``; ``log(1 - sigmoid(x))`` → ``-softplus(x)``.

    The textbook cross-entropy stays finite for logits of any size, and its
    gradient reaches x in the stable ``sigmoid(x) - y`` form.
    """
    if node.kind != "log":
        return None
    (inner,) = node.inputs
    if inner.kind == "sigmoid":
        replaced = ops.neg(ops.softplus(ops.neg(inner.inputs[0])))
    elif inner.kind == "sub" and _is_constant(inner.inputs[0], 1.0) and inner.inputs[1].kind == "sigmoid":
        replaced = ops.neg(ops.softplus(inner.inputs[1].inputs[0]))
    else:
        return None
    if replaced.shape != node.shape and replaced.shape is not None and node.shape is not None:
        return None  # the constant 1 broadcast x to a larger shape; keep the original
    replaced.name, replaced.trace = node.name, node.trace
    return replaced
