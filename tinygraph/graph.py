"""``Graph``: rewrite and order a graph once, then run it forward and backward many times.

Building a graph rewrites it (see :mod:`tinygraph.rewrite`) and orders it
topologically without recursion. ``forward(feeds)`` runs a
:class:`~tinygraph.run.Program` over the graph's value slots; ``backward()``
builds the gradient graph once per ``(output, wrt)`` with :func:`tinygraph.grad`,
rewrites it too, and runs it with the same executor, taking the forward's
values as given. Any node may be fed, not only placeholders: the run then
takes its value as given and computes nothing it depends on.
"""

from __future__ import annotations

import contextlib
import gc
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import anomaly, inspection
from .backend import ndarray
from .errors import FeedError, GradientError
from .grad import grad
from .node import Constant, Node, Parameter, Placeholder, topological_order
from .rewrite import rewrite
from .run import HandOut, Program, Slots
from .shapes import format_shape
from .step import GradientStep

NodeOrName = Node | str
_NOTHING: frozenset = frozenset()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, which would rescan the growing pile of new nodes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Graph:
    """A graph of one or several output nodes, ready to run.

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

    def __init__(self, outputs: Node | Sequence[Node], *, rewrites: bool = True, disable: Iterable[str] = ()):
        self._single = isinstance(outputs, Node)
        self.outputs: tuple[Node, ...] = (outputs,) if self._single else tuple(outputs)
        if not self.outputs or not all(isinstance(o, Node) for o in self.outputs):
            raise TypeError(f"Graph needs a node or a sequence of nodes, got {outputs!r}")
        self._disable = tuple(disable)
        with _collector_paused():
            self._rewritten = rewrite(self.outputs, self._disable) if rewrites else None
            self.rewrites_applied = self._rewritten.applied if rewrites else []  # (pass name, before, after)
            self.run_outputs: tuple[Node, ...] = tuple(self._computing(o) for o in self.outputs)
            self.nodes: list[Node] = topological_order(self.run_outputs)
        self.placeholders = tuple(n for n in self.nodes if isinstance(n, Placeholder))
        self.parameters = tuple(n for n in self.nodes if isinstance(n, Parameter))
        self._slots = Slots()
        self._slots.add(self.nodes)
        self._by_name: dict[str, Node | None] = {}
        for n in self.nodes:  # a name shared by two nodes cannot be looked up by name
            self._by_name[n.name] = None if n.name in self._by_name else n
        self._feed_targets: dict[Any, tuple] = {}  # feed key -> what its feeds are checked against
        self._forwards: dict[frozenset, Program] = {}  # the nodes fed, other than placeholders -> program
        self._backwards: dict[Any, tuple] = {}  # (output, wrt, default seed?, forward) -> program and how to read it
        self._last: Program | None = None  # the last forward's program

    # --- looking things up ----------------------------------------------------
    def _computing(self, node: Node) -> Node:
        return self._rewritten.replacement.get(node, node) if self._rewritten is not None else node

    def node(self, node: NodeOrName) -> Node:
        """The node of this graph computing ``node`` (a node, or a node's name): the user's own,
        or the one a rewrite put in its place. ``KeyError`` says why when there is none."""
        if isinstance(node, str):
            found = self._by_name.get(node)
            if found is None:
                count = "2 or more" if node in self._by_name else "no"
                raise KeyError(f"{count} nodes of this graph are named {node!r}; pass the node itself")
            return found
        found = self._computing(node)
        if found not in self._slots.index:
            why = self._rewritten.why_missing(node) if self._rewritten is not None else None
            raise KeyError(why or f"node {getattr(node, 'name', node)!r} is not part of this graph")
        return found

    def value(self, node: NodeOrName) -> np.ndarray:
        """The value ``node`` (or the node of that name) had in the last run."""
        if self._last is None:
            raise RuntimeError("the graph has not run yet: call forward(feeds) first")
        return self._slots.values[self._slots.index[self.node(node)]]

    # --- forward ----------------------------------------------------------------
    def forward(self, feeds: Mapping[NodeOrName, Any] | None = None, *, check_finite: bool | None = None) -> Any:
        """Run the graph. ``feeds`` maps placeholders (or any node: its value is then taken as
        given), as nodes or names, to arrays.

        Returns the output's value, or a tuple of values for several outputs.
        ``check_finite=True`` raises :class:`tinygraph.AnomalyError` at the first op
        that makes NaN or inf (default: only inside ``tg.detect_anomaly()``).
        """
        fed, others = self._feed(feeds or {})
        program = self._forwards.get(others)
        if program is None:
            program = self._forwards[others] = Program(self._slots, self.run_outputs, others)
        if not fed.issuperset(program.needs):
            missing = next(p for p in program.needs if p not in fed)
            raise FeedError(f"placeholder {missing.name!r} (shape {format_shape(missing.shape)}) was not fed")
        if check_finite or check_finite is None and anomaly.enabled:
            results = anomaly.run_checked(program, self._slots.values, "forward")
        else:
            results = program(self._slots.values)
        self._last = program
        return results[0] if self._single else results

    def _feed(self, feeds: Mapping[NodeOrName, Any]) -> tuple[set, frozenset]:
        """Check and store each feed; return the nodes fed, and those of them that are not placeholders."""
        values, targets = self._slots.values, self._feed_targets
        fed: set[Node] = set()
        others: list[Node] = []
        for key, array in feeds.items():
            try:  # worked out once per key, then one dict get: this runs on every step of a training loop
                node, slot, dtype, ndim, pick, expected = targets[key]
            except KeyError:
                node, slot, dtype, ndim, pick, expected = targets[key] = self._feed_target(key)
            except TypeError:
                node, slot, dtype, ndim, pick, expected = self._feed_target(key)
            # An array of the right dtype and shape is taken as it is (dtypes compared by identity: != is slow).
            if (array.__class__ is not ndarray or array.dtype is not dtype or array.ndim != ndim
                    or pick is not None and pick(array.shape) != expected):
                array = _converted(node, array)
            values[slot] = array
            fed.add(node)
            if node.__class__ is not Placeholder:
                others.append(node)
        return fed, frozenset(others) if others else _NOTHING

    def _feed_target(self, key: NodeOrName) -> tuple:
        """What a feed of ``key`` is checked against: its node, slot, dtype, number of axes and known sizes
        (``pick(shape)`` reads them, ``expected`` is what they must be); or a FeedError saying why it cannot be fed."""
        try:
            node = self.node(key)
        except (KeyError, TypeError):
            known = ", ".join(repr(p.name) for p in self.placeholders) or "none"
            what = "ambiguous" if isinstance(key, str) and key in self._by_name else "unknown"
            raise FeedError(f"{what} feed {getattr(key, 'name', key)!r}: this graph's placeholders are {known}") \
                from None
        if isinstance(node, Constant):  # its slot holds its value for every run: a feed would outlive the run
            raise FeedError(f"constant {node.name!r} cannot be fed; make it a placeholder to feed it")
        shape = node.shape
        axes = () if shape is None else tuple(axis for axis, size in enumerate(shape) if size is not None)
        pick = operator.itemgetter(*axes) if axes else None
        return (node, self._slots.index[node], node.dtype, -1 if shape is None else len(shape), pick,
                pick(shape) if pick else None)

    # --- backward ---------------------------------------------------------------
    def backward(
        self,
        wrt: Iterable[NodeOrName] | None = None,
        *,
        output: NodeOrName | None = None,
        grad_output: Any | None = None,
        check_finite: bool | None = None,
    ) -> dict[Node, np.ndarray]:
        """Gradients of an output with respect to each node in ``wrt``, after a forward.

        Args:
            wrt: nodes (or names) to differentiate with respect to; default: every
                parameter of the graph (zeros for one the output does not depend on).
            output: which output to differentiate (default: the first).
            grad_output: the upstream gradient (a vector-Jacobian product). Default
                1, which needs an output of one element.
            check_finite: raise :class:`tinygraph.AnomalyError` at the first gradient op
                making NaN or inf (default: only inside ``tg.detect_anomaly()``).

        Returns a dict node → a fresh array of that node's shape; calling twice gives the same.
        """
        if self._last is None:
            raise RuntimeError("backward needs the values of a forward: call forward(feeds) first")
        wrt = None if wrt is None else tuple(wrt)
        key = (output, wrt, grad_output is None, self._last)
        entry = self._backwards.get(key)
        if entry is None:
            entry = self._backwards[key] = self._prepare_backward(output, wrt, grad_output is None)
        program, seed, out_node = entry
        if seed is not None:
            self._slots.values[self._slots.index[seed]] = _seed_value(out_node, self.value(out_node), grad_output)
        if check_finite or check_finite is None and anomaly.enabled:
            return anomaly.run_checked(program, self._slots.values, "backward")
        return program(self._slots.values)

    def gradient_step(self, into: Mapping[NodeOrName, np.ndarray], *, output: NodeOrName | None = None) -> GradientStep:
        """``step(feeds)``: forward, then the gradient of ``output`` with respect to each key of ``into``
        written into that key's array; returns what forward returns. The bits and the errors of
        ``forward(feeds)`` then ``backward(list(into), output=output)``, but feeds of a signature seen
        before run as one compiled program (see :class:`tinygraph.step.GradientStep`)."""
        return GradientStep(self, into, output, slots=self._slots, single=self._single, ran=self._ran)

    def _ran(self, program: Program) -> None:  # a program over the slots ran: value() and backward() read it
        self._last = program

    def gradients(self, wrt: Iterable[NodeOrName] | None = None, *, output: NodeOrName | None = None) -> list[Node]:
        """The gradient nodes ``backward(wrt, output=output)`` runs (rewritten as the graph is)."""
        wrt = None if wrt is None else tuple(wrt)
        entry = self._backwards.get((output, wrt, True, self._last))  # those of the last run, if it was asked
        return list(entry[0].outputs) if entry is not None else self._gradient_nodes(output, wrt, None)

    def _gradient_nodes(self, output: NodeOrName | None, wrt: tuple | None, seed: Node | None) -> list[Node]:
        out_node = self.node(output if output is not None else self.outputs[0])
        wrt_nodes = [self.node(n) for n in wrt] if wrt is not None else list(self.parameters)
        if wrt is not None and self._rewritten is not None:  # a node a rewrite went around has no gradient here
            self._rewritten.check_gradients([n for n in wrt if not isinstance(n, str)])
        with _collector_paused():
            grads = grad(out_node, wrt_nodes, seed)
            if self._rewritten is None:
                return grads
            rewritten = rewrite(grads, self._disable, fixed=self.nodes)
            return [rewritten.replacement.get(g, g) for g in grads]

    def _prepare_backward(self, output: NodeOrName | None, wrt: tuple | None, default_seed: bool) -> tuple:
        """The program for one way of calling backward (handing out ``{key: array}``), its seed placeholder
        (``None`` for a constant seed) and the output differentiated."""
        out_node = self.node(output if output is not None else self.outputs[0])
        shape = out_node.shape
        constant_seed = default_seed and shape is not None and None not in shape and int(np.prod(shape)) == 1
        seed = None if constant_seed else Placeholder(None, (), shape, out_node.dtype, f"d{out_node.name}")
        if seed is not None:
            self._slots.add([seed])
        grads = self._gradient_nodes(output, wrt, seed)
        keys = self.parameters if wrt is None else tuple(self.node(n) if isinstance(n, str) else n for n in wrt)
        given = self._last.known | ({seed} if seed is not None else set())
        hand_out = HandOut(keys, tuple(g.dtype for g in grads), None if seed is None else self._slots.index[seed])
        return Program(self._slots, grads, given, hand_out), seed, out_node

    # --- seeing it ----------------------------------------------------------------
    def source(self, wrt: Iterable[NodeOrName] | None = None, *, output: NodeOrName | None = None) -> str:
        """The Python that ``forward`` (placeholders fed) and ``backward(wrt, output=output)`` run."""
        program = self._forwards.get(frozenset()) or Program(self._slots, self.run_outputs)
        known = frozenset(self.nodes)
        backward = Program(self._slots, self.gradients(wrt, output=output), known)
        return "# forward\n" + program.source() + "\n# backward\n" + backward.source()

    def __repr__(self) -> str:
        return f"<Graph of {', '.join(o.name for o in self.outputs)}: {len(self.nodes)} nodes, " \
               f"{len(self.parameters)} parameters>"

    def summary(self) -> str:
        """A table of the nodes in run order: op, shape, dtype, parameter counts; then the rewrites applied."""
        return inspection.summary(self)

    __str__ = summary

    def trace_backward(self, wrt: Any = None, output: Any = None, **options: Any) -> inspection.BackwardTrace:
        """After a forward: the backward step by step, in run order (see inspection.trace_backward)."""
        return inspection.trace_backward(self, wrt, output, **options)

    def to_dot(self) -> str:
        """Graphviz DOT text of the graph, shapes on the edges (render it with ``dot -Tsvg``)."""
        return inspection.to_dot(self)

    def draw(self) -> inspection.Drawing:
        """The graph as SVG drawn by Graphviz's ``dot`` (a picture in Jupyter); a clear error without Graphviz."""
        return inspection.draw(self)

    def _repr_html_(self) -> str:  # Jupyter shows a graph as its summary table and its drawing
        return inspection.notebook_html(self)


def _seed_value(out_node: Node, out_value: Any, grad_output: Any) -> np.ndarray:
    """The upstream gradient backward starts from: ones for a one-element output, else ``grad_output`` checked."""
    if grad_output is None:
        if np.size(out_value) != 1:
            raise GradientError(
                f"backward of output {out_node.name!r} needs a scalar, but its value has shape "
                f"{format_shape(np.shape(out_value))}; reduce it (tg.sum / tg.mean) or pass grad_output")
        return np.ones_like(out_value)
    seed = np.asarray(grad_output, dtype=np.result_type(out_value))
    if seed.shape != np.shape(out_value):
        raise GradientError(f"grad_output has shape {format_shape(seed.shape)}, the output "
                            f"{out_node.name!r} has {format_shape(np.shape(out_value))}")
    return seed


def _converted(node: Node, feed: Any) -> np.ndarray:
    """``feed`` as an array of the node's dtype, or a FeedError saying why it cannot be one."""
    what = f"placeholder {node.name!r}" if isinstance(node, Placeholder) else f"node {node.name!r} ({node.kind})"
    try:
        array = np.asarray(feed, dtype=node.dtype)
    except (TypeError, ValueError) as error:
        raise FeedError(f"{what} cannot take this feed: {error}") from None
    if node.shape is not None and (array.ndim != len(node.shape) or any(
            size is not None and size != got for size, got in zip(node.shape, array.shape, strict=True))):
        raise FeedError(f"{what} expects shape {format_shape(node.shape)}, was fed shape {format_shape(array.shape)}")
    return array
