"""``Graph``: order the nodes once, then run forward and backward many times.

Building a graph rewrites it (see :mod:`tinygraph.rewrite`), sorts it
topologically without recursion, and compiles a *schedule*: a flat list of
``(forward, input slots, output slot)`` that a tight loop executes. Values
live in a list indexed by slot, so a run rebuilds no Python structures
beyond that list's contents.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import anomaly, inspection
from .errors import FeedError, GradientError, OpError
from .node import Constant, Node, Parameter, Placeholder, topological_order
from .rewrite import rewrite
from .shapes import format_shape, unbroadcast

NodeOrName = Union[Node, str]


class Graph:
    """A compiled graph of one or several output nodes.

    Args:
        outputs: the node (or nodes) to compute.
        rewrites: apply the registered rewrite passes (default ``True``).
        disable: names of passes to skip, e.g. ``("stable_log_sigmoid",)``.

    Example::

        x = tg.placeholder((None, 3), name="x")
        w = tg.parameter(np.zeros((3, 1)), name="w")
        loss = tg.mean(tg.sigmoid(x @ w))
        g = tg.Graph(loss)
        g.forward({"x": np.ones((5, 3))})
        grads = g.backward()          # {w: array of shape (3, 1)}
    """

    def __init__(self, outputs: Union[Node, Sequence[Node]], *, rewrites: bool = True, disable: Iterable[str] = ()):
        self._single = isinstance(outputs, Node)
        self.outputs: Tuple[Node, ...] = (outputs,) if self._single else tuple(outputs)
        if not self.outputs or not all(isinstance(o, Node) for o in self.outputs):
            raise TypeError(f"Graph needs a node or a sequence of nodes, got {outputs!r}")
        self._rewritten = rewrite(self.outputs, disable) if rewrites else None
        self._replacement = self._rewritten.replacement if rewrites else {}
        self.rewrites_applied = self._rewritten.applied if rewrites else []  # (pass name, before, after)
        self._run_outputs = tuple(self._replacement.get(o, o) for o in self.outputs)

        self.nodes: List[Node] = topological_order(self._run_outputs)
        self._slot: Dict[Node, int] = {node: i for i, node in enumerate(self.nodes)}
        self.placeholders: Tuple[Placeholder, ...] = tuple(n for n in self.nodes if isinstance(n, Placeholder))
        self.parameters: Tuple[Parameter, ...] = tuple(n for n in self.nodes if isinstance(n, Parameter))
        self._by_name: Dict[str, Optional[Placeholder]] = {}
        for p in self.placeholders:  # a name shared by two placeholders cannot be fed by name
            self._by_name[p.name] = None if p.name in self._by_name else p

        self._values: List[Any] = [n.value if isinstance(n, Constant) else None for n in self.nodes]
        self._parameter_slots = [(self._slot[p], p) for p in self.parameters]
        self._schedule = [
            (self._slot[n], n.op, tuple(self._slot[i] for i in n.inputs)) for n in self.nodes if n.op is not None
        ]
        self._backward_plans: Dict[Tuple[int, Tuple[int, ...]], list] = {}
        self._has_run = False

    # --- looking things up ----------------------------------------------------
    def _slot_of(self, node: NodeOrName) -> int:
        if isinstance(node, str):
            matches = [n for n in self.nodes if n.name == node]
            if len(matches) != 1:
                raise KeyError(f"{len(matches)} nodes of this graph are named {node!r}; pass the node itself")
            return self._slot[matches[0]]
        slot = self._slot.get(self._replacement.get(node, node))
        if slot is None:
            why = self._rewritten.why_missing(node) if self._rewritten is not None else None
            raise KeyError(why or f"node {getattr(node, 'name', node)!r} is not part of this graph")
        return slot

    def value(self, node: NodeOrName) -> np.ndarray:
        """The value ``node`` (or the node of that name) had in the last forward."""
        if not self._has_run:
            raise RuntimeError("the graph has not run yet: call forward(feeds) first")
        return self._values[self._slot_of(node)]

    # --- running ----------------------------------------------------------------
    def _feed(self, feeds: Mapping[NodeOrName, Any]) -> None:
        values = self._values
        given: Dict[Placeholder, Any] = {}
        for key, array in feeds.items():
            node = self._by_name.get(key) if isinstance(key, str) else key
            if not isinstance(node, Placeholder) or node not in self._slot:
                known = ", ".join(repr(p.name) for p in self.placeholders) or "none"
                what = "ambiguous" if isinstance(key, str) and key in self._by_name else "unknown"
                raise FeedError(f"{what} feed {getattr(key, 'name', key)!r}: this graph's placeholders are {known}")
            given[node] = array
        for placeholder in self.placeholders:
            if placeholder not in given:
                raise FeedError(
                    f"placeholder {placeholder.name!r} (shape {format_shape(placeholder.shape)}) was not fed"
                )
            try:
                array = np.asarray(given[placeholder], dtype=placeholder.dtype)
            except (TypeError, ValueError) as error:
                raise FeedError(f"placeholder {placeholder.name!r} cannot take this feed: {error}") from None
            expected = placeholder.shape
            if array.ndim != len(expected) or any(e is not None and e != d for e, d in zip(expected, array.shape)):
                raise FeedError(
                    f"placeholder {placeholder.name!r} expects shape {format_shape(expected)}, "
                    f"was fed shape {format_shape(array.shape)}"
                )
            values[self._slot[placeholder]] = array

    def forward(self, feeds: Optional[Mapping[NodeOrName, Any]] = None, *, check_finite: Optional[bool] = None) -> Any:
        """Run the graph. ``feeds`` maps each placeholder (node or name) to an array.

        Returns the output's value, or a tuple of values for several outputs.
        ``check_finite=True`` raises :class:`tinygraph.AnomalyError` at the first op
        that makes NaN or inf (default: only inside ``tg.detect_anomaly()``).
        """
        if check_finite or check_finite is None and anomaly.enabled:
            return anomaly.forward(self, feeds)
        self._feed(feeds or {})
        values = self._values
        for slot, parameter in self._parameter_slots:
            values[slot] = parameter.value
        try:
            for out, op, ins in self._schedule:
                values[out] = op.forward(*[values[i] for i in ins])
        except Exception as error:
            node = self.nodes[out]
            shapes = ", ".join(format_shape(np.shape(values[i])) for i in ins)
            raise OpError(f"forward of {node.name} ({op!r}, built at {node.where()}) failed on inputs of shape {shapes}: {error}") from error
        self._has_run = True
        if self._single:
            return values[self._slot[self._run_outputs[0]]]
        return tuple(values[self._slot[o]] for o in self._run_outputs)

    def _backward_plan(self, output_slot: int, wrt_slots: Tuple[int, ...]) -> list:
        """The ops to run backward: those between a ``wrt`` node and the output, in reverse."""
        key = (output_slot, wrt_slots)
        plan = self._backward_plans.get(key)
        if plan is None:
            depends = [False] * len(self.nodes)  # does this node depend on a wrt node?
            for slot in wrt_slots:
                depends[slot] = True
            for out, op, ins in self._schedule:
                depends[out] = depends[out] or any(depends[i] for i in ins)
            plan = [
                (out, op, ins, tuple(depends[i] for i in ins))
                for out, op, ins in reversed(self._schedule)
                if out <= output_slot and depends[out]
            ]
            self._backward_plans[key] = plan
        return plan

    def backward(
        self,
        wrt: Optional[Iterable[NodeOrName]] = None,
        *,
        output: Optional[NodeOrName] = None,
        grad_output: Optional[Any] = None,
        check_finite: Optional[bool] = None,
    ) -> Dict[Node, np.ndarray]:
        """Gradients of the output with respect to each node in ``wrt``, after a forward.

        Args:
            wrt: nodes (or names) to differentiate with respect to; default: every
                parameter the output depends on.
            output: which output to differentiate when the graph has several
                (default: the first).
            grad_output: the upstream gradient (a vector-Jacobian product). Default
                1, which needs a scalar output.
            check_finite: raise :class:`tinygraph.AnomalyError` at the first op whose
                gradient holds NaN or inf (default: only inside ``tg.detect_anomaly()``).

        Returns a dict node → gradient with that node's shape. Gradients are
        computed afresh each call, so calling twice gives the same result.
        """
        if check_finite or check_finite is None and anomaly.enabled:
            return anomaly.backward(self, wrt, output=output, grad_output=grad_output)
        if not self._has_run:
            raise RuntimeError("backward needs the values of a forward: call forward(feeds) first")
        output_slot = self._slot_of(output if output is not None else self.outputs[0])
        values = self._values
        out_value = values[output_slot]
        if grad_output is None:
            if np.size(out_value) != 1:
                raise GradientError(
                    f"backward of output {self.nodes[output_slot].name!r} needs a scalar, but its value has shape "
                    f"{format_shape(np.shape(out_value))}; reduce it (tg.sum / tg.mean) or pass grad_output"
                )
            seed = np.ones_like(out_value)
        else:
            seed = np.asarray(grad_output, dtype=np.result_type(out_value))
            if seed.shape != np.shape(out_value):
                raise GradientError(
                    f"grad_output has shape {format_shape(seed.shape)}, the output "
                    f"{self.nodes[output_slot].name!r} has {format_shape(np.shape(out_value))}"
                )
        wrt_nodes = list(self.parameters if wrt is None else wrt)
        wrt_slots = tuple(self._slot_of(n) for n in wrt_nodes)
        if wrt is not None and self._rewritten is not None:  # a node a rewrite went around has no gradient here
            self._rewritten.check_gradients(
                self.nodes[s] if isinstance(n, str) else n for n, s in zip(wrt_nodes, wrt_slots)
            )

        grads: List[Any] = [None] * len(self.nodes)
        grads[output_slot] = seed
        for out, op, ins, needs in self._backward_plan(output_slot, wrt_slots):
            grad = grads[out]
            if grad is None:
                continue
            op.needs_input_grad = needs
            input_grads = op.backward(grad, *[values[i] for i in ins], output=values[out])
            if len(input_grads) != len(ins):
                raise GradientError(
                    f"backward of {op.name} ({self.nodes[out].name}) returned {len(input_grads)} gradients "
                    f"for {len(ins)} inputs"
                )
            for slot, need, input_grad in zip(ins, needs, input_grads):
                if not need or input_grad is None:
                    continue
                shape = np.shape(values[slot])
                if np.shape(input_grad) != shape:
                    input_grad = self._reduce(input_grad, shape, op, out, slot)
                previous = grads[slot]
                grads[slot] = input_grad if previous is None else previous + input_grad  # never +=: may be shared

        result: Dict[Node, np.ndarray] = {}
        for node, slot in zip(wrt_nodes, wrt_slots):
            grad = grads[slot]
            if grad is None:
                grad = np.zeros(np.shape(values[slot]), dtype=self.nodes[slot].dtype)
            elif not (isinstance(grad, np.ndarray) and grad.flags.writeable and grad.base is None):
                grad = np.array(grad)  # broadcast views and shared arrays: give the caller its own
            result[node if isinstance(node, Node) else self.nodes[slot]] = grad
        return result

    def _reduce(self, grad: Any, shape: Tuple[int, ...], op: Any, out: int, slot: int) -> np.ndarray:
        """Reduce a broadcast gradient to its input's shape, or say which op got it wrong."""
        try:
            return unbroadcast(np.asarray(grad), shape)
        except ValueError:
            raise GradientError(
                f"backward of {op.name} ({self.nodes[out].name}) returned a gradient of shape "
                f"{format_shape(np.shape(grad))} for input {self.nodes[slot].name!r} of shape {format_shape(shape)}"
            ) from None

    def __repr__(self) -> str:
        names = ", ".join(o.name for o in self.outputs)
        return f"<Graph of {names}: {len(self.nodes)} nodes, {len(self.parameters)} parameters>"

    # --- seeing it (tinygraph.inspection) ---------------------------------------
    def summary(self) -> str:
        """A table of the nodes in run order: op, shape, dtype, parameter counts; then the rewrites applied."""
        return inspection.summary(self)

    __str__ = summary

    def to_dot(self) -> str:
        """Graphviz DOT text of the graph, shapes on the edges (render it with ``dot -Tsvg``)."""
        return inspection.to_dot(self)
