"""Graph rewrites: small passes applied when a :class:`tinygraph.Graph` is built.

A pass is a function that looks at one node (its inputs already rewritten)
and returns a replacement node, or ``None`` to leave it alone. Passes see op
nodes and constants, never placeholders or parameters. The nodes a
replacement brings are rewritten in turn, so passes compose: ``log(sigmoid(c))``
of a constant ``c`` is made stable, then folded to one constant.

The passes that ship, in the order they run:

- ``stable_log_sigmoid``: ``log(sigmoid(x))`` → ``-softplus(-x)`` and
  ``log(1 - sigmoid(x))`` → ``-softplus(x)``;
- ``constant_folding``: an op whose inputs are all constants becomes one constant;
- ``merge_duplicates``: two nodes with the same op (same class, same
  :meth:`~tinygraph.Op.params`) reading the same inputs (or equal constants) become one.

Switch any off by name, ``tg.Graph(loss, disable=("constant_folding",))``, or
all with ``rewrites=False``. Register a pass of your own with :func:`register_rewrite`::

    @tg.register_rewrite("double_negation")
    def double_negation(node):
        if node.kind == "neg" and node.inputs[0].kind == "neg":
            return node.inputs[0].inputs[0]
        return None

A pass that keeps state across nodes (as merging does) is registered as a
class; each graph gets a fresh instance, called like a function.

The user's nodes are never mutated: rewriting builds new nodes, and
:class:`Rewritten` remembers which node now computes each original one, so
``g.value(node)`` keeps working. A replacement must equal the node for *any*
values of the existing nodes it reads (``-softplus(-x)`` equals
``log(sigmoid(x))`` for every ``x``). That is what lets :meth:`Rewritten.blocked`
tell exactly which intermediate nodes the rewritten graph can no longer
differentiate with respect to (the ``sigmoid`` a stable rewrite went around,
say), so ``g.backward(wrt=[that node])`` raises instead of answering wrongly.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import ops
from .errors import GradientError, ShapeError
from .node import Constant, Node, Parameter, Placeholder, topological_order
from .op import Op
from .shapes import format_shape

RewritePass = Callable[[Node], Node | None]

# name -> pass function, or pass class instantiated once per graph; in the order they run.
REWRITES: dict[str, RewritePass | type] = {}

# A pass whose output keeps being rewritten this deep is looping; say so instead of recursing on.
MAX_DEPTH = 50


def register_rewrite(name: str) -> Callable:
    """Decorator registering a rewrite pass (function or class) under ``name``."""

    def decorate(rewrite_pass):
        if name in REWRITES:
            raise ValueError(f"a rewrite named {name!r} is already registered")
        REWRITES[name] = rewrite_pass
        return rewrite_pass

    return decorate


def rebuild(node: Node, inputs: tuple[Node, ...]) -> Node:
    """A copy of op node ``node`` reading ``inputs``: same op, shape, dtype, name and source line.

    Rewrites keep every node's shape and dtype, so nothing needs inferring again.
    """
    new = Node(node.op, inputs, node.shape, node.dtype, node.name)
    new.trace, new.grad_of = node.trace, node.grad_of
    return new


def rewrite(outputs: Iterable[Node], disable: Iterable[str] = (), fixed: Iterable[Node] = ()) -> Rewritten:
    """Apply every registered pass not named in ``disable`` to the graph of ``outputs``.

    Nodes in ``fixed`` are taken as already rewritten (a gradient graph's forward part).
    """
    disable = set(disable)
    unknown = disable - set(REWRITES)
    if unknown:
        raise ValueError(f"unknown rewrite(s) {sorted(unknown)}; registered: {sorted(REWRITES)}")
    passes = [(name, p() if isinstance(p, type) else p) for name, p in REWRITES.items() if name not in disable]
    return Rewritten(tuple(outputs), passes, fixed)


def _same_signature(a: Node, b: Node) -> bool:
    """Same dtype, and static shapes that agree wherever both are known."""
    if a.dtype != b.dtype:
        return False
    if a.shape is None or b.shape is None:
        return True
    if len(a.shape) != len(b.shape):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a.shape, b.shape, strict=True))


class Rewritten:
    """What rewriting a graph did.

    Attributes:
        replacement: every node seen (the user's and the new ones) → the node
            that computes it in the rewritten graph.
        applied: ``(pass name, before, after)`` for each replacement a pass made, in order.
    """

    def __init__(self, outputs: tuple[Node, ...], passes: list[tuple[str, RewritePass]], fixed: Iterable[Node] = ()):
        self.replacement: dict[Node, Node] = {}
        self.applied: list[tuple[str, Node, Node]] = []
        self._passes = passes
        self._replaced: dict[Node, tuple[str, int]] = {}  # node a pass replaced -> (pass, clock when it started)
        self._born: dict[Node, int] = {}  # node of the rewritten graph -> clock when it was settled
        self._blocked: dict[Node, str] | None = None
        for node in fixed:
            self._keep(node)
        for output in outputs:
            self._settle(output, 0)

    # --- rewriting --------------------------------------------------------------
    def _settle(self, root: Node, depth: int) -> Node:
        """Rewrite every node under ``root`` not seen yet, inputs first; return what computes ``root``."""
        for node in topological_order((root,), self.replacement):
            if node not in self.replacement:  # a pass may have settled it meanwhile
                self.replacement[node] = self._rewrite(node, depth)
        return self.replacement[root]

    def _keep(self, node: Node) -> Node:
        """Make ``node`` part of the rewritten graph."""
        self.replacement[node] = node
        self._born[node] = len(self._born)
        return node

    def _rewrite(self, node: Node, depth: int) -> Node:
        if isinstance(node, (Placeholder, Parameter)):
            return self._keep(node)
        start = len(self._born)
        inputs = tuple([self.replacement[i] for i in node.inputs])
        current = node if all(map(operator.is_, inputs, node.inputs)) else rebuild(node, inputs)
        for name, rewrite_pass in self._passes:
            new = rewrite_pass(current)
            if new is None or new is current:
                continue
            if not _same_signature(current, new):
                raise ShapeError(
                    f"rewrite {name!r} replaced {current.name} (shape {format_shape(current.shape)}, "
                    f"{current.dtype}) by {new.name} (shape {format_shape(new.shape)}, {new.dtype})"
                )
            if depth >= MAX_DEPTH:
                raise RuntimeError(
                    f"rewrite {name!r} keeps rewriting what it produced for {node.name} (built at "
                    f"{node.where()}); a pass must return None once its pattern is gone"
                )
            self.applied.append((name, current, new))
            self._replaced.setdefault(node, (name, start))
            for fresh in topological_order((new,), self.replacement):
                if not isinstance(fresh, (Placeholder, Parameter)):
                    fresh.trace, fresh.grad_of = node.trace, node.grad_of  # errors name the user's line
            return self._settle(new, depth + 1)
        return self._keep(current)

    # --- what the rewritten graph can no longer answer ---------------------------
    def blocked(self) -> dict[Node, str]:
        """The nodes whose gradient the rewritten graph does not compute → the pass to blame.

        Placeholders and parameters are never blocked: rewrites keep every
        output the same function of them. An intermediate node is blocked when
        a pass went around it (the ``sigmoid`` inside ``log(sigmoid(x))``, the
        constants a folded node read) or merged it with another node (their
        gradients would be summed). Computed once, on first use.
        """
        if self._blocked is None:
            self._blocked = self._find_blocked() if self.applied else {}
        return self._blocked

    def _find_blocked(self) -> dict[Node, str]:
        blocked: dict[Node, str] = {}
        fully: set[Node] = set()  # blocked together with every ancestor: walks may stop there
        sharing: dict[Node, list[Node]] = {}  # node of the rewritten graph -> the nodes it computes
        for node, target in self.replacement.items():
            sharing.setdefault(target, []).append(node)
        for node, (name, start) in self._replaced.items():
            target = self.replacement[node]
            is_ancestor = self._ancestry(target)
            reached_self, stopped, visited = False, False, set()
            stack = list(node.inputs)
            while stack:
                above = stack.pop()
                if above in visited or isinstance(above, (Placeholder, Parameter)):
                    continue
                visited.add(above)
                if is_ancestor(self.replacement[above]):  # the replacement still reads it: a boundary
                    stopped = True
                    reached_self = reached_self or self.replacement[above] is target
                elif above not in fully:
                    blocked.setdefault(above, name)
                    stack.extend(above.inputs)
            if not stopped:
                fully.update(visited)
            if self._born[target] < start and not reached_self:
                # merged into a node that existed before: their gradients would be summed
                for other in sharing.pop(target, ()):  # pop: each group once, however many joined it
                    blocked.setdefault(other, name)
        return blocked

    def _ancestry(self, root: Node) -> Callable[[Node], bool]:
        """A test 'is this node ``root`` or one of its inputs' inputs…', searching lazily.

        A node is settled after its inputs, so the search pops nodes latest-born
        first and stops as soon as nothing left can be as late as the node asked about.
        """
        born = self._born
        heap = [(-born[root], root)]  # birth times are unique, so nodes themselves are never compared
        queued, found = {root}, set()

        def is_ancestor(node: Node) -> bool:
            while heap and -heap[0][0] >= born[node]:
                _, above = heapq.heappop(heap)
                found.add(above)
                for i in above.inputs:
                    if i not in queued:
                        queued.add(i)
                        heapq.heappush(heap, (-born[i], i))
            return node in found

        return is_ancestor

    def check_gradients(self, nodes: Iterable[Node]) -> None:
        """Raise :class:`GradientError` if any of ``nodes`` is :meth:`blocked`."""
        blocked = self.blocked()
        for node in nodes:
            name = blocked.get(node)
            if name is not None:
                raise GradientError(
                    f"the rewritten graph has no gradient with respect to {node.name} (built at {node.where()}): "
                    f"rewrite {name!r} went around or merged it. Build the graph with disable=({name!r},) "
                    f"or rewrites=False to differentiate with respect to it"
                )

    def why_missing(self, node: Node) -> str | None:
        """Why an original node is not computed by the rewritten graph, or ``None`` if it never was part of it."""
        if node not in self.replacement:
            return None
        name = self.blocked().get(node)
        culprit = f"rewrite {name!r}" if name else "a rewrite"
        fix = f"disable=({name!r},)" if name else "disable=(...)"
        return (
            f"node {node.name!r} (built at {node.where()}) is no longer computed: {culprit} went around it. "
            f"Make it an output of the Graph, or build the graph with {fix} or rewrites=False"
        )


# --- the passes that ship -------------------------------------------------------

def is_constant(node: Node, value: float) -> bool:
    """Is ``node`` a constant whose every element equals ``value``?"""
    return isinstance(node, Constant) and node.value.size > 0 and bool(np.all(node.value == value))


@register_rewrite("stable_log_sigmoid")
def stable_log_sigmoid(node: Node) -> Node | None:
    """``log(sigmoid(x))`` → ``-softplus(-x)``; ``log(1 - sigmoid(x))`` → ``-softplus(x)``.

    The textbook cross-entropy stays finite for logits of any size, and its
    gradient reaches x in the stable ``sigmoid(x) - y`` form.
    """
    if node.kind != "log":
        return None
    (inner,) = node.inputs
    if inner.kind == "sigmoid":
        replaced = ops.neg(ops.softplus(ops.neg(inner.inputs[0])))
    elif inner.kind == "sub" and is_constant(inner.inputs[0], 1.0) and inner.inputs[1].kind == "sigmoid":
        replaced = ops.neg(ops.softplus(inner.inputs[1].inputs[0]))
    else:
        return None
    if replaced.shape != node.shape and replaced.shape is not None and node.shape is not None:
        return None  # the constant 1 broadcast x to a larger shape; keep the original
    replaced.name, replaced.trace = node.name, node.trace
    return replaced


@register_rewrite("constant_folding")
def constant_folding(node: Node) -> Node | None:
    """An op node whose inputs are all constants → one constant holding its value.

    Parameters are not constants, so nothing that depends on one is folded.
    Ops that are not :attr:`~tinygraph.Op.pure` stay, and so does a value that
    is not finite (``log(0)``), so anomaly detection can still name the op.
    """
    if node.op is None or not node.op.pure or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(node.op.forward(*(i.value for i in node.inputs)), dtype=node.dtype)
    except Exception:  # the op fails on these inputs: leave it to fail, with its usual error, at run time
        return None
    if not np.all(np.isfinite(value)) or (node.shape is not None and value.shape != node.shape):
        return None
    return Constant(value, name=node.name)


def _freeze(value: Any) -> Any:
    """A hashable stand-in for an op's parameter, equal exactly when the values are."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    hash(value)  # raises TypeError for what cannot be compared safely: such ops are not merged
    return (type(value).__name__, value)


def _op_state(op: Op) -> Any:
    """What distinguishes ``op`` from another instance of its class: ``params()``, else its attributes."""
    if type(op).params is not Op.params:
        return _freeze(op.params())
    state = getattr(op, "__dict__", None)
    return _freeze(state) if state else ()  # most ops: nothing to compare


@register_rewrite("merge_duplicates")
class MergeDuplicates:
    """Two nodes computing the same thing become one: same op class and params, same inputs.

    Inputs are the same when they are the same node, or constants of equal
    value (up to :attr:`MAX_CONSTANT_SIZE` elements), so ``x * 2`` written twice
    merges. Constants themselves are left alone: replacing one would rebuild
    every node above it for no saving. Ops that are not
    :attr:`~tinygraph.Op.pure` never merge: two dropouts of ``x`` draw two masks.
    """

    MAX_CONSTANT_SIZE = 10_000

    def __init__(self) -> None:
        self.seen: dict[Any, Node] = {}

    def _identity(self, node: Node) -> Any:
        if isinstance(node, Constant) and node.value.size <= self.MAX_CONSTANT_SIZE:
            return _freeze(node.value)
        return node

    def __call__(self, node: Node) -> Node | None:
        if node.op is None or not node.op.pure:
            return None
        try:
            key = (type(node.op), _op_state(node.op), tuple([self._identity(i) for i in node.inputs]))
        except TypeError:  # a parameter of the op that cannot be compared: never merge it
            return None
        first = self.seen.setdefault(key, node)
        return first if first is not node else None
