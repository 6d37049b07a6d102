"""``Graph``: order the nodes once, then run forward and backward many times.

Building a graph rewrites it (see :mod:`tinygraph.rewrite`), sorts it
topologically without recursion, and makes a *schedule*: a flat list of
``(output slot, op, input slots)``. Values live in a list indexed by slot.
The first forward, and the first backward for each choice of ``wrt``, turn
the schedule into straight-line Python (see :mod:`tinygraph.compiler`;
``Graph.source()`` prints it). A graph too large to be worth compiling runs
the same steps in an interpreter loop here instead.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import anomaly, compiler, inspection
from .errors import FeedError, GradientError, OpError
from .node import Constant, Node, Parameter, Placeholder, topological_order
from .rewrite import rewrite
from .shapes import format_shape, unbroadcast

NodeOrName = Node | str


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (if it runs) for the ``with`` block."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _reads(ins: tuple[int, ...]) -> tuple[int | None, int | None, int | None, Any]:
    """How the run loops read an op's inputs: their slots ``(a, b, c)`` for one to three inputs
    (``None`` past the last), else ``gather(values)``, the tuple of them built in C.

    Plain positional calls are the cheapest Python has; a list comprehension per op, or a
    ``*args`` call alongside ``output=``, costs as much as a small op's arithmetic.
    """
    if 1 <= len(ins) <= 3:
        return (*ins, *(None,) * (3 - len(ins)), None)
    return None, None, None, operator.itemgetter(*ins) if ins else lambda values: ()


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

    def __init__(self, outputs: Node | Sequence[Node], *, rewrites: bool = True, disable: Iterable[str] = ()):
        # Building makes a few objects per node and keeps them all; Python's cyclic garbage
        # collector would walk them again and again as they pile up (a 100,000-node graph built
        # 1.7x slower), so it waits until the graph is built.
        with _collector_paused():
            self._build(outputs, rewrites, disable)

    def _build(self, outputs: Node | Sequence[Node], rewrites: bool, disable: Iterable[str]) -> None:
        self._single = isinstance(outputs, Node)
        self.outputs: tuple[Node, ...] = (outputs,) if self._single else tuple(outputs)
        if not self.outputs or not all(isinstance(o, Node) for o in self.outputs):
            raise TypeError(f"Graph needs a node or a sequence of nodes, got {outputs!r}")
        self._rewritten = rewrite(self.outputs, disable) if rewrites else None
        self._replacement = self._rewritten.replacement if rewrites else {}
        self.rewrites_applied = self._rewritten.applied if rewrites else []  # (pass name, before, after)
        self._run_outputs = tuple(self._replacement.get(o, o) for o in self.outputs)

        self.nodes: list[Node] = topological_order(self._run_outputs)
        self._slot: dict[Node, int] = {node: i for i, node in enumerate(self.nodes)}
        self.placeholders: tuple[Placeholder, ...] = tuple(n for n in self.nodes if isinstance(n, Placeholder))
        self.parameters: tuple[Parameter, ...] = tuple(n for n in self.nodes if isinstance(n, Parameter))
        self._by_name: dict[str, Placeholder | None] = {}
        for p in self.placeholders:  # a name shared by two placeholders cannot be fed by name
            self._by_name[p.name] = None if p.name in self._by_name else p

        self._values: list[Any] = [n.value if isinstance(n, Constant) else None for n in self.nodes]
        self._parameter_slots = [(self._slot[p], p) for p in self.parameters]
        self._schedule = [
            (self._slot[n], n.op, tuple(self._slot[i] for i in n.inputs)) for n in self.nodes if n.op is not None
        ]
        self._output_slots = tuple(self._slot[o] for o in self._run_outputs)
        self._forward_run: Any = None  # made by the first forward: compiled, or the interpreter loop
        self._program: list[tuple] = []  # the interpreter's form of the schedule (see _reads), if it runs
        self._feed_entries: dict[Any, tuple | None] = {}  # placeholder or its name -> what _feed checks
        for index, p in enumerate(self.placeholders):
            axes = tuple(axis for axis, size in enumerate(p.shape) if size is not None)  # the sizes a feed must have
            pick = operator.itemgetter(*axes) if axes else None
            expected = pick(p.shape) if axes else None
            entry = (1 << index, self._slot[p], p.dtype, len(p.shape), pick, expected)
            self._feed_entries[p] = entry
            self._feed_entries[p.name] = entry if self._by_name[p.name] is p else None
        self._all_fed = (1 << len(self.placeholders)) - 1
        self._seed: np.ndarray | None = None  # backward's default grad_output, kept while it fits
        self._backward_setups: dict[Any, tuple] = {}  # (output, wrt) as passed -> (output slot, run)
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
        entries = self._feed_entries
        values = self._values
        ndarray = np.ndarray
        fed = 0  # one bit per placeholder
        for key, array in feeds.items():
            try:
                bit, slot, dtype, ndim, pick, expected = entries[key]
            except (KeyError, TypeError):  # unknown, unhashable, or a name two placeholders share
                known = ", ".join(repr(p.name) for p in self.placeholders) or "none"
                what = "ambiguous" if isinstance(key, str) and key in self._by_name else "unknown"
                raise FeedError(
                    f"{what} feed {getattr(key, 'name', key)!r}: this graph's placeholders are {known}"
                ) from None
            # An array of the right dtype and shape is taken as it is (dtypes compared by identity: != is slow).
            if (array.__class__ is not ndarray or array.dtype is not dtype or array.ndim != ndim
                    or pick is not None and pick(array.shape) != expected):
                array = self._convert_feed(self.nodes[slot], array)
            values[slot] = array
            fed |= bit
        if fed != self._all_fed:
            missing = next(p for i, p in enumerate(self.placeholders) if not fed >> i & 1)
            raise FeedError(f"placeholder {missing.name!r} (shape {format_shape(missing.shape)}) was not fed")

    @staticmethod
    def _convert_feed(placeholder: Placeholder, feed: Any) -> np.ndarray:
        """``feed`` as an array of the placeholder's dtype, or a FeedError saying why it cannot be one."""
        try:
            array = np.asarray(feed, dtype=placeholder.dtype)
        except (TypeError, ValueError) as error:
            raise FeedError(f"placeholder {placeholder.name!r} cannot take this feed: {error}") from None
        if array.ndim != len(placeholder.shape) or any(
            size is not None and size != got for size, got in zip(placeholder.shape, array.shape, strict=True)
        ):
            raise FeedError(
                f"placeholder {placeholder.name!r} expects shape {format_shape(placeholder.shape)}, "
                f"was fed shape {format_shape(array.shape)}"
            )
        return array

    def forward(self, feeds: Mapping[NodeOrName, Any] | None = None, *, check_finite: bool | None = None) -> Any:
        """Run the graph. ``feeds`` maps each placeholder (node or name) to an array.

        Returns the output's value, or a tuple of values for several outputs.
        ``check_finite=True`` raises :class:`tinygraph.AnomalyError` at the first op
        that makes NaN or inf (default: only inside ``tg.detect_anomaly()``).
        """
        if check_finite or check_finite is None and anomaly.enabled:
            return anomaly.forward(self, feeds)
        self._feed(feeds or {})
        run = self._forward_run or self._prepare_forward()
        try:
            result = run(self._values)
        except Exception as error:
            failure = self._forward_failure(error)
            if failure is None:
                raise
            raise failure from error
        self._has_run = True
        return result

    def _prepare_forward(self) -> Any:
        """Compile forward (see :mod:`tinygraph.compiler`), or for a large graph take the interpreter loop."""
        if len(self._schedule) > compiler.MAX_OPS:
            self._program = [(out, op.forward, *_reads(ins)) for out, op, ins in self._schedule]
            self._forward_run = self._interpret_forward
        else:
            self._forward_run = compiler.compile_forward(*self._forward_arguments())
        return self._forward_run

    def _forward_arguments(self) -> tuple:
        return (self.nodes, self._schedule, [slot for slot, _ in self._parameter_slots], self._output_slots,
                self._single)

    def _interpret_forward(self, values: list[Any]) -> Any:
        """What the compiled forward does, as a loop over the schedule: the step for a large graph."""
        for slot, parameter in self._parameter_slots:
            values[slot] = parameter._value  # what .value returns, minus a property call per parameter
        for out, forward, a, b, c, gather in self._program:
            if c is not None:
                values[out] = forward(values[a], values[b], values[c])
            elif b is not None:
                values[out] = forward(values[a], values[b])
            elif a is not None:
                values[out] = forward(values[a])
            else:
                values[out] = forward(*gather(values))
        outputs = tuple(values[slot] for slot in self._output_slots)
        return outputs[0] if self._single else outputs

    def _forward_failure(self, error: Exception) -> OpError | None:
        """Which op ``error`` came from, and on what inputs: found by running the ops one at a time again.

        Ops are functions of their inputs, so the failing one fails again. ``None`` if none does.
        """
        values = self._values
        for out, op, ins in self._schedule:
            try:
                values[out] = op.forward(*[values[i] for i in ins])
            except Exception:
                node = self.nodes[out]
                shapes = ", ".join(format_shape(np.shape(values[i])) for i in ins)
                return OpError(
                    f"forward of {node.name} ({node.op!r}, built at {node.where()}) "
                    f"failed on inputs of shape {shapes}: {error}"
                )
        return None

    def _backward_plan(self, output_slot: int, wrt_slots: tuple[int, ...]) -> list[compiler.Step]:
        """The ops to run backward, in reverse: those on a path from a ``wrt`` node to the output."""
        depends = [False] * len(self.nodes)  # does this node depend on a wrt node?
        for slot in wrt_slots:
            depends[slot] = True
        for out, _, ins in self._schedule:
            depends[out] = depends[out] or any(depends[i] for i in ins)
        reaches = [False] * len(self.nodes)  # does the output depend on this node?
        reaches[output_slot] = True
        plan = []
        for out, op, ins in reversed(self._schedule):
            if not (reaches[out] and depends[out]):
                continue
            for i in ins:
                reaches[i] = True
            needs = tuple(depends[i] for i in ins)
            plan.append(compiler.Step(out, op, ins, needs, tuple((k, i) for k, i in enumerate(ins) if depends[i])))
        return plan

    def _backward_inputs(self, output: NodeOrName | None, wrt: tuple[NodeOrName, ...] | None) -> tuple:
        """``(output slot, ((result key, slot) for each wrt node), plan)`` for one way of calling backward."""
        output_slot = self._slot_of(output if output is not None else self.outputs[0])
        wrt_nodes = self.parameters if wrt is None else wrt
        wrt_slots = tuple(self._slot_of(n) for n in wrt_nodes)
        keys = tuple(self.nodes[s] if isinstance(n, str) else n for n, s in zip(wrt_nodes, wrt_slots, strict=True))
        if wrt is not None and self._rewritten is not None:  # a node a rewrite went around has no gradient here
            self._rewritten.check_gradients(keys)
        return output_slot, tuple(zip(keys, wrt_slots, strict=True)), self._backward_plan(output_slot, wrt_slots)

    def _setup_backward(self, output: NodeOrName | None, wrt: tuple[NodeOrName, ...] | None) -> tuple:
        """``(output slot, run)`` for one way of calling backward.

        ``run(values, seed)`` returns backward's result, ``{wrt node: gradient}``: compiled
        (see :mod:`tinygraph.compiler`), or the interpreter loop for a large plan.
        """
        output_slot, wrt_pairs, plan = self._backward_inputs(output, wrt)
        wrt_slots = tuple(slot for _, slot in wrt_pairs)
        hand_out = functools.partial(self._hand_out, wrt_pairs)
        if len(plan) > compiler.MAX_OPS:
            steps = [(s.out, s.op, s.op.backward, *_reads(s.ins), s.needs, s.targets) for s in plan]
            run = functools.partial(self._interpret_backward, steps, output_slot, wrt_slots, hand_out)
        else:
            run = compiler.compile_backward(self.nodes, plan, output_slot, wrt_pairs, self._fit,
                                            self._gradient_tuple, hand_out)
        return output_slot, run

    def backward(
        self,
        wrt: Iterable[NodeOrName] | None = None,
        *,
        output: NodeOrName | None = None,
        grad_output: Any | None = None,
        check_finite: bool | None = None,
    ) -> dict[Node, np.ndarray]:
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
        if wrt is not None and type(wrt) is not tuple:
            wrt = tuple(wrt)
        try:  # the slots and plan for this (output, wrt) are worked out once, then reused
            setup = self._backward_setups[output, wrt]
        except KeyError:
            setup = self._backward_setups[output, wrt] = self._setup_backward(output, wrt)
        except TypeError:  # something unhashable in wrt: no caching, and _slot_of will say what is wrong
            setup = self._setup_backward(output, wrt)
        output_slot, run = setup
        values = self._values
        out_value = values[output_slot]
        if grad_output is None:
            seed = self._seed  # read-only, so reused from run to run while the output's shape and dtype match
            if (seed is None or seed.shape != getattr(out_value, "shape", None)
                    or seed.dtype is not getattr(out_value, "dtype", None)):
                if np.size(out_value) != 1:
                    raise GradientError(
                        f"backward of output {self.nodes[output_slot].name!r} needs a scalar, but its value has shape "
                        f"{format_shape(np.shape(out_value))}; reduce it (tg.sum / tg.mean) or pass grad_output"
                    )
                seed = self._seed = np.ones_like(out_value)
                seed.flags.writeable = False
        else:
            seed = np.asarray(grad_output, dtype=np.result_type(out_value))
            if seed.shape != np.shape(out_value):
                raise GradientError(
                    f"grad_output has shape {format_shape(seed.shape)}, the output "
                    f"{self.nodes[output_slot].name!r} has {format_shape(np.shape(out_value))}"
                )
        return run(values, seed)

    def _hand_out(self, wrt_pairs: tuple, grads: tuple, seed: np.ndarray) -> dict[Node, np.ndarray]:
        """``{wrt node: gradient}``, each an array of its own that the caller may change in place:
        zeros where no gradient arrived, and a copy of a view, a read-only array, the seed, or
        an array another wrt node already got."""
        result: dict[Node, np.ndarray] = {}
        handed_out = {id(seed)}
        for (node, slot), grad in zip(wrt_pairs, grads, strict=True):
            if grad is None:
                grad = np.zeros(np.shape(self._values[slot]), dtype=self.nodes[slot].dtype)
            elif grad.base is not None or id(grad) in handed_out or not grad.flags.writeable:
                grad = grad.copy()
            handed_out.add(id(grad))
            result[node] = grad
        return result

    def _interpret_backward(self, steps: list, output_slot: int, wrt_slots: tuple[int, ...], hand_out: Any,
                            values: list[Any], seed: np.ndarray) -> dict[Node, np.ndarray]:
        """What a compiled backward does, as a loop over the plan: the step for a large graph."""
        grads: list[Any] = [None] * len(values)
        grads[output_slot] = seed
        ndarray = np.ndarray
        for out, op, backward, a, b, c, gather, needs, targets in steps:
            grad = grads[out]
            if grad is None:  # every consumer's backward returned None for it: a zero gradient
                continue
            op.needs_input_grad = needs
            if c is not None:
                input_grads = backward(grad, values[a], values[b], values[c], output=values[out])
            elif b is not None:
                input_grads = backward(grad, values[a], values[b], output=values[out])
            elif a is not None:
                input_grads = backward(grad, values[a], output=values[out])
            else:
                input_grads = backward(grad, *gather(values), output=values[out])
            if type(input_grads) is not tuple or len(input_grads) != len(needs):
                input_grads = self._gradient_tuple(input_grads, out, len(needs))
            for k, slot in targets:
                input_grad = input_grads[k]
                if input_grad is None:
                    continue
                if type(input_grad) is not ndarray or input_grad.shape != values[slot].shape:
                    input_grad = self._fit(input_grad, values[slot], out, slot)
                previous = grads[slot]
                grads[slot] = input_grad if previous is None else previous + input_grad  # never +=: may be shared
        return hand_out(tuple(grads[slot] for slot in wrt_slots), seed)

    def _gradient_tuple(self, input_grads: Any, out: int, count: int) -> tuple:
        """An op's backward result as a tuple of ``count`` gradients, or say what the op got wrong."""
        op = self.nodes[out].op
        if not isinstance(input_grads, (tuple, list)):
            raise GradientError(
                f"backward of {op.name} ({self.nodes[out].name}) returned {type(input_grads).__name__}; "
                f"it must return a tuple with one gradient (or None) per input"
            )
        if len(input_grads) != count:
            raise GradientError(
                f"backward of {op.name} ({self.nodes[out].name}) returned {len(input_grads)} gradients "
                f"for {count} inputs"
            )
        return tuple(input_grads)

    def _fit(self, grad: Any, value: Any, out: int, slot: int) -> np.ndarray:
        """``grad`` as an array of its input's shape: numbers made arrays, broadcast gradients reduced.

        What the backward loop calls for any gradient that is not already an ndarray of the
        input's shape; raises GradientError naming the op when the shapes cannot match.
        """
        try:
            shape = value.shape
        except AttributeError:  # a plain Python number, from an op of the user's
            shape = np.shape(value)
        if shape == ():  # a scalar input (a bias): any gradient sums to it, no shape bookkeeping needed
            return np.asarray(np.add.reduce(grad, axis=None))
        grad = np.asarray(grad)
        if grad.shape == shape:
            return grad
        try:
            return unbroadcast(grad, shape)
        except ValueError:
            raise GradientError(
                f"backward of {self.nodes[out].op.name} ({self.nodes[out].name}) returned a gradient of shape "
                f"{format_shape(grad.shape)} for input {self.nodes[slot].name!r} of shape {format_shape(shape)}"
            ) from None

    def __repr__(self) -> str:
        names = ", ".join(o.name for o in self.outputs)
        return f"<Graph of {names}: {len(self.nodes)} nodes, {len(self.parameters)} parameters>"

    # --- seeing it (tinygraph.inspection) ---------------------------------------
    def source(self, wrt: Iterable[NodeOrName] | None = None, *, output: NodeOrName | None = None) -> str:
        """The Python that ``forward`` and ``backward(wrt, output=output)`` run (see :mod:`tinygraph.compiler`).

        A graph of more than ``tinygraph.compiler.MAX_OPS`` ops runs the same steps in a loop instead.
        """
        output_slot, wrt_pairs, plan = self._backward_inputs(output, None if wrt is None else tuple(wrt))
        forward, _ = compiler.forward_source(*self._forward_arguments())
        backward, _ = compiler.backward_source(self.nodes, plan, output_slot, wrt_pairs, self._fit,
                                               self._gradient_tuple, self._hand_out)
        return "\n".join(forward + [""] + backward) + "\n"

    def summary(self) -> str:
        """A table of the nodes in run order: op, shape, dtype, parameter counts; then the rewrites applied."""
        return inspection.summary(self)

    __str__ = summary

    def to_dot(self) -> str:
        """Graphviz DOT text of the graph, shapes on the edges (render it with ``dot -Tsvg``)."""
        return inspection.to_dot(self)
