"""The one executor: run the ops that compute some nodes from values already known.

Only forward is ever run: a gradient is more graph (see :mod:`tinygraph.grad`).
A :class:`Program` is the list of steps (one op each) that computes its
outputs from the *given* nodes (fed, or computed by an earlier run), over the
value slots of a :class:`Slots` table. It runs in one of two forms made from
the same steps, which give the same bits:

- **compiled**: the steps written out as straight-line Python, one statement
  per op, and compiled once (``Program.source``). A loop spends a few hundred
  nanoseconds per op on its own bookkeeping, as much as a small op's arithmetic.
  Compiling costs about 100 µs per op, so programs of more than
  :data:`MAX_COMPILED_STEPS` steps keep the loop.
- **interpreted**: a loop over the steps, with an optional *hook* called after
  each one. Anomaly detection is such a hook.

A training step's program (one per feed signature) also checks its feeds,
leaves out the steps its known sizes make pass-throughs, and writes chosen
results into arrays given to it (see :class:`Program`).

Either way, an op that raises is named with the node, its op and the line
that built it (:class:`~tinygraph.OpError`). A user's op is checked here too:
a forward whose value's shape or dtype is not what its node says is an error
naming the op and both; built-in ops are property-tested for that instead.
"""

from __future__ import annotations

import itertools
import linecache
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import ndarray
from .errors import OpError, TinygraphError
from .node import Constant, Node, Parameter, Placeholder, topological_order
from .shapes import format_shape

MAX_COMPILED_STEPS = 200  # longer programs run in the loop (see above)

Hook = Callable[[Node, Any], None]

_compiled_count = itertools.count(1)  # numbers the generated "files", so each has its own name


class Slots:
    """One value slot per node: the table every program of a graph reads and writes."""

    def __init__(self) -> None:
        self.index: dict[Node, int] = {}
        self.nodes: list[Node] = []
        self.values: list[Any] = []

    def add(self, nodes: Sequence[Node]) -> None:
        """Give each new node a slot; a constant's holds its value from the start."""
        for node in nodes:
            if node not in self.index:
                self.index[node] = len(self.nodes)
                self.nodes.append(node)
                self.values.append(node.value if isinstance(node, Constant) else None)


@dataclass(frozen=True)
class Step:
    """One op to run: the slot it writes, its node, its inputs' slots, the function to call, and
    the array it writes its result into (``out=``), if it has one."""

    out: int
    node: Node
    ins: tuple[int, ...]
    function: Callable[..., Any]
    into: Any = None


@dataclass(frozen=True)
class HandOut:
    """How a program hands out its results: ``{key: array}``, each array the caller's own to change.

    A result that is a view, read-only (a constant), not an ndarray (a numpy scalar), the
    array in ``protected`` (the caller's grad_output) or another result's array is copied.
    The compiled form checks the usual case inline and calls this only when one is off.
    """

    keys: tuple
    dtypes: tuple
    protected: int | None = None  # a slot whose value must never be handed out

    def __call__(self, results: Sequence[Any], values: list[Any]) -> dict:
        seen = {id(values[self.protected])} if self.protected is not None else set()
        out: dict = {}
        for key, dtype, value in zip(self.keys, self.dtypes, results, strict=True):
            if value.__class__ is not ndarray or value.base is not None or not value.flags.writeable \
                    or id(value) in seen:
                value = np.array(value, dtype=dtype)
            seen.add(id(out.setdefault(key, value)))
        return out


def describe(node: Node) -> str:
    """``forward of add_2 (add, built at f.py:3)``, or for a gradient node, whose backward it is part of."""
    if node.grad_of is None:
        return f"forward of {node.name} ({node.op!r}, built at {node.where()})"
    origin = node.grad_of
    return (f"backward of {origin.name} ({origin.op!r}, built at {origin.where()}), "
            f"computing {node.name} = {node.op!r}({', '.join(i.name for i in node.inputs)})")


def _is_users(node: Node) -> bool:
    """Is this the op of a user (not tested with tinygraph's own)? Its values are then checked on every run."""
    return not type(node.op).__module__.startswith("tinygraph.")


def _checked(node: Node) -> Callable[..., Any]:
    """``node.op.forward``, checking that what it returns has the node's static shape and dtype."""
    forward, shape, dtype = node.op.forward, node.shape, node.dtype

    def run(*inputs: Any, **out: Any) -> Any:
        value = forward(*inputs, **out)
        got = np.shape(value)
        if shape is not None and (len(got) != len(shape) or any(
                d is not None and d != g for d, g in zip(shape, got, strict=True))) or np.result_type(value) != dtype:
            raise OpError(
                f"{describe(node)}: its forward returned shape {format_shape(got)}, {np.result_type(value)}, "
                f"but its node says {format_shape(shape)}, {dtype} (from infer_shape / infer_dtype)"
            )
        return value

    return run


class Program:
    """The steps computing ``outputs`` from the ``given`` nodes, in a topological order.

    Leaves that are not given are read at the start of each run: a parameter's
    current value, a constant's; a placeholder that is neither given nor fed is
    listed in :attr:`needs` (the caller feeds it first).

    A program made for one feed signature (a training step's, see :mod:`tinygraph.step`) also takes:

    - ``feeds``: ``(key, placeholder, shape)`` triples. A run is then given the feeds mapping,
      checks it (those keys only, each an ndarray of the placeholder's dtype and that shape)
      and returns ``None`` without running when it does not match.
    - ``shapes``: every node's size at that signature, so a step whose op passes its input
      through at those sizes (:meth:`Op.passes_through`: a ``sum_to`` of a gradient that was
      never broadcast) is left out, its slot given its input's value.
    - ``into``: ``(node, array)`` pairs; each node's value is written into its array, by the
      step computing it when its op can (``writes_into``: numpy's ``out=``), else copied there.
    """

    def __init__(self, slots: Slots, outputs: Sequence[Node], given: Collection[Node] = (),
                 hand_out: HandOut | None = None, *, feeds: Sequence[tuple[Any, Node, tuple[int, ...]]] = (),
                 into: Sequence[tuple[Node, Any]] = (), shapes: Mapping[Node, tuple[int, ...]] | None = None):
        order = topological_order(outputs, known=given)
        slots.add(order)
        slots.add([i for n in order for i in n.inputs] + list(outputs))  # given nodes read: fed, or computed before
        slot = slots.index
        self.slots = slots
        self.outputs = tuple(outputs)
        self.hand_out = hand_out  # None: a run returns the outputs' values as a tuple
        self.output_slots = tuple(slot[o] for o in outputs)
        self.known = frozenset(order) | frozenset(given)  # the nodes holding values after a run
        fed = {node for _, node, _ in feeds}
        # a run's feeds[key] goes to the node's slot, if it is an array of the node's dtype and this shape
        self.feeds = tuple((key, slot[node], node.dtype, shape) for key, node, shape in feeds)
        self.needs = tuple(n for n in order if isinstance(n, Placeholder) and n not in fed)
        self.loads = tuple((slot[n], n) for n in order if isinstance(n, Parameter))
        # A step whose op passes its input through at these shapes is left out: its slot gets the value
        # of the slot it passes on (through a chain of them), and the steps after read that slot instead.
        self.passed: dict[int, int] = {}
        nodes_steps: list[tuple[Node, tuple[int, ...]]] = []
        for n in order:
            if n.op is None:
                continue
            ins = tuple(self.passed.get(slot[i], slot[i]) for i in n.inputs)
            if shapes is not None and _passes_through(n, shapes):
                self.passed[slot[n]] = ins[0]
            else:
                nodes_steps.append((n, ins))
        # each array of `into` is written by the step computing its node (out=) where the op can, else copied
        computed = {n for n, _ in nodes_steps}
        writes = {}
        self.copies: list[tuple[int, Any]] = []
        for node, array in into:
            if node in computed and node.op.writes_into and node not in writes:
                writes[node] = array
            else:
                self.copies.append((self.passed.get(slot[node], slot[node]), array))
        self.steps = tuple(Step(slot[n], n, ins, _checked(n) if _is_users(n) else n.op.forward, writes.get(n))
                           for n, ins in nodes_steps)
        self.read = tuple(dict.fromkeys(  # the slots a run reads without writing them: its leaves and given nodes
            i for step in self.steps for i in step.ins if slots.nodes[i].op is None or slots.nodes[i] in given))
        self._line_steps: dict[int, Step] = {}
        self._filename = ""
        self._compiled = self._compile() if len(self.steps) <= MAX_COMPILED_STEPS else None

    @property
    def compiled(self) -> bool:
        """Does it run as compiled Python (else as the loop)?"""
        return self._compiled is not None

    # --- running --------------------------------------------------------------------
    def __call__(self, values: list[Any], feeds: Mapping | None = None) -> tuple | None:
        """Run over ``values`` (the slots' list): every step's value is stored there; returns the outputs'.

        A program made with ``feeds`` takes them as a mapping, and runs only if it holds exactly
        those keys, each an ndarray of its node's dtype and the shape given; else it returns ``None``
        (nothing run, nothing stored): the checks a feed needs, made in a few comparisons.
        """
        if self._compiled is None:
            return self.interpret(values, feeds=feeds)
        try:
            return self._compiled(values, feeds) if self.feeds else self._compiled(values)
        except Exception as error:
            step = self._line_steps.get(_generated_line(error, self._filename))
            if step is None or isinstance(error, TinygraphError):
                raise
            raise _failure(step, values, error) from error

    def interpret(self, values: list[Any], hook: Hook | None = None, feeds: Mapping | None = None) -> tuple | None:
        """The same steps as a loop; ``hook(node, value)`` runs after each step when given."""
        if self.feeds:
            arrays = [feeds.get(key) for key, _, _, _ in self.feeds]
            if len(feeds) != len(self.feeds) or any(
                    a.__class__ is not ndarray or a.dtype is not dtype or a.shape != shape
                    for a, (_, _, dtype, shape) in zip(arrays, self.feeds, strict=True)):
                return None
            for array, (_, slot, _, _) in zip(arrays, self.feeds, strict=True):
                values[slot] = array
        for slot, parameter in self.loads:
            values[slot] = parameter.value
        for step in self.steps:
            try:
                args = [values[i] for i in step.ins]
                value = step.function(*args) if step.into is None else step.function(*args, out=step.into)
            except TinygraphError:
                raise
            except Exception as error:
                raise _failure(step, values, error) from error
            values[step.out] = value
            if hook is not None:
                hook(step.node, value)
        for slot, source in self.passed.items():
            values[slot] = values[source]
        for slot, array in self.copies:
            np.copyto(array, values[slot])
        results = tuple(values[s] for s in self.output_slots)
        return results if self.hand_out is None else self.hand_out(results, values)

    # --- the compiled form ------------------------------------------------------------
    def source(self) -> str:
        """The Python of the compiled form: one statement per step."""
        return "\n".join(self._source_lines()[0]) + "\n"

    def _source_lines(self) -> tuple[list[str], dict[str, Any], dict[int, Step]]:
        nodes = self.slots.nodes
        lines = ["def run(values, feeds):" if self.feeds else "def run(values):"]
        namespace: dict[str, Any] = {}
        line_steps: dict[int, Step] = {}
        loaded: set[int] = set()

        def read(slot: int) -> str:  # a leaf's or given node's value is loaded the first time it is used
            if slot not in loaded:
                lines.append(f"    v{slot} = values[{slot}]")
                loaded.add(slot)
            return f"v{slot}"

        if self.feeds:  # the feeds' checks: the same keys, each an array of the node's dtype and the shape
            namespace["ndarray"] = ndarray
            lines.append(f"    if len(feeds) != {len(self.feeds)}:")
            lines.append("        return None")
            for index, (key, slot, dtype, shape) in enumerate(self.feeds):
                namespace.update({f"k{index}": key, f"d{index}": dtype, f"s{index}": shape})
                lines.append(f"    v{slot} = feeds.get(k{index})")
            checks = [f"v{slot}.__class__ is not ndarray or v{slot}.dtype is not d{i} or v{slot}.shape != s{i}"
                      for i, (_, slot, _, _) in enumerate(self.feeds)]
            lines.append(f"    if {' or '.join(checks)}:")
            lines.append("        return None")
            for _, slot, _, _ in self.feeds:
                lines.append(f"    values[{slot}] = v{slot}")
                loaded.add(slot)
        for slot, parameter in self.loads:
            namespace[f"p{slot}"] = parameter
            lines.append(f"    v{slot} = values[{slot}] = p{slot}.value")
            loaded.add(slot)
        for step in self.steps:
            args = ", ".join(read(i) for i in step.ins)
            namespace[f"f{step.out}"] = step.function
            if step.into is not None:
                namespace[f"o{step.out}"] = step.into
                args += f", out=o{step.out}"
            lines.append(f"    v{step.out} = values[{step.out}] = f{step.out}({args})  # {_label(nodes[step.out])}")
            line_steps[len(lines)] = step
            loaded.add(step.out)
        for slot, source in self.passed.items():
            lines.append(f"    v{slot} = values[{slot}] = {read(source)}  # {_label(nodes[slot])}: passes it through")
            loaded.add(slot)
        for index, (slot, array) in enumerate(self.copies):
            namespace.update({f"c{index}": array, "copyto": np.copyto})
            lines.append(f"    copyto(c{index}, {read(slot)})")
        results = [read(slot) for slot in self.output_slots]
        if self.hand_out is None:
            lines.append(f"    return ({', '.join(results)},)")
            return lines, namespace, line_steps
        # each result an array of its own, checked inline; anything unusual goes to hand_out
        namespace.update(ndarray=ndarray, hand_out=self.hand_out)
        ids = [f"id({r})" for r in results] + ([f"id(values[{self.hand_out.protected}])"]
                                                if self.hand_out.protected is not None else [])
        lines.append("    if (")
        lines += [f"        {r}.__class__ is not ndarray or {r}.base is not None or not {r}.flags.writeable or"
                  for r in results]
        lines.append(f"        len({{{', '.join(ids)}}}) != {len(ids)}")
        lines.append("    ):")
        lines.append(f"        return hand_out(({', '.join(results)},), values)")
        for index, key in enumerate(self.hand_out.keys):
            namespace[f"k{index}"] = key
        lines.append(f"    return {{{', '.join(f'k{i}: {r}' for i, r in enumerate(results))}}}")
        return lines, namespace, line_steps

    def _compile(self) -> Callable[[list[Any]], tuple]:
        """Compile the source; it goes into :mod:`linecache` while it lives, so tracebacks show its lines."""
        lines, namespace, self._line_steps = self._source_lines()
        source = "\n".join(lines) + "\n"
        self._filename = f"<tinygraph program #{next(_compiled_count)}>"
        exec(compile(source, self._filename, "exec"), namespace)
        function = namespace["run"]
        linecache.cache[self._filename] = (len(source), None, source.splitlines(keepends=True), self._filename)
        weakref.finalize(function, linecache.cache.pop, self._filename, None)
        return function


def _passes_through(node: Node, shapes: Mapping[Node, tuple[int, ...]]) -> bool:
    """Does ``node``'s op, at these known shapes of its inputs, give its first input itself?"""
    ins = [shapes.get(i) for i in node.inputs]
    return all(shape is not None and None not in shape for shape in ins) and node.op.passes_through(*ins)


def _label(node: Node) -> str:
    """``add_2 = affine[transpose_a=True](w, X, b)``, for a comment: names are the user's strings,
    so anything that is not printable (a newline, a NUL) becomes ``?``."""
    text = f"{node.name} = {node.op!r}({', '.join(i.name for i in node.inputs)})"
    return "".join(c if c.isprintable() else "?" for c in text)


def _generated_line(error: Exception, filename: str) -> int | None:
    """The line of the generated code ``error`` passed through, if it did."""
    tb = error.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _failure(step: Step, values: list[Any], error: Exception) -> OpError:
    shapes = ", ".join(format_shape(np.shape(values[i])) for i in step.ins)
    return OpError(f"{describe(step.node)} failed on inputs of shape {shapes}: {error}")
