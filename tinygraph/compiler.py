"""Compile a graph's schedule into straight-line Python, one statement per op.

A loop over the schedule spends a few hundred nanoseconds per op unpacking the
entry and testing how to call it; on small arrays that is as much as the op's
arithmetic. So the first run of a graph writes its forward (and each backward
it is asked for) out as a plain Python function, op after op, and compiles it
with Python's own ``compile``. ``Graph.source()`` shows the code. For the
course's model the forward reads::

    def forward(values):
        v0 = values[0] = p0._value
        v1 = values[1]
        v2 = values[2] = p2._value
        v3 = values[3] = f3(v0, v1, v2)  # add_2 = affine[transpose_a=True](w, X, b)
        ...

``v{slot}`` is the value of the node in that slot of the graph's value list
(kept up to date, for backward and ``Graph.value``), ``g{slot}`` its gradient,
``f``/``b``/``o`` an op's forward, backward and the op itself.

Compiling costs about 100 µs per op, once (most of it in Python's
``compile``), and saves about 0.2 µs per op on every run; so a graph of more
than :data:`MAX_OPS` ops runs the same steps in the graph's interpreter loop
instead. Both call the same two helpers for anything unusual: an op returning
the wrong number of gradients (``as_gradients``) and a gradient that is not an
array of its input's shape (``fit``).
"""

from __future__ import annotations

import itertools
import linecache
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .node import Node, Op

MAX_OPS = 200  # larger graphs are interpreted (see above)

_compiled_count = itertools.count(1)  # numbers the generated "files", so each has its own name


@dataclass(frozen=True)
class Step:
    """One op of a backward plan: the slot it writes, its inputs' slots, and which inputs need a gradient.

    ``targets`` holds ``(position, slot)`` of exactly the inputs whose ``needs`` is true.
    """

    out: int
    op: Op
    ins: tuple[int, ...]
    needs: tuple[bool, ...]
    targets: tuple[tuple[int, int], ...]


def _label(node: Node) -> str:
    """``add_2 = affine[transpose_a=True](w, X, b)``, for a comment: names are the user's strings,
    so anything that is not printable (a newline, a NUL) becomes ``?``."""
    text = f"{node.name} = {node.op!r}({', '.join(i.name for i in node.inputs)})"
    return "".join(c if c.isprintable() else "?" for c in text)


def _tuple(items: Sequence[str]) -> str:
    """Python source of a tuple of these expressions: ``()``, ``(a,)``, ``(a, b)``."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _compile(name: str, lines: list[str], namespace: dict[str, Any]) -> Callable:
    """Run the definition in ``lines`` with ``namespace`` as its globals; return the function it defines.

    The source goes into :mod:`linecache` while the function lives, so a traceback through
    it (an op of yours raising, say) shows the generated line, as it would for a file.
    """
    source = "\n".join(lines) + "\n"
    filename = f"<tinygraph {name} #{next(_compiled_count)}>"
    exec(compile(source, filename, "exec"), namespace)
    function = namespace[name]
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    weakref.finalize(function, linecache.cache.pop, filename, None)
    return function


def forward_source(
    nodes: Sequence[Node],
    schedule: Sequence[tuple[int, Op, tuple[int, ...]]],
    parameter_slots: Sequence[int],
    output_slots: Sequence[int],
    single: bool,
) -> tuple[list[str], dict[str, Any]]:
    """The lines of ``forward(values)`` and the names they use.

    It stores every parameter's current value and every op's output in ``values``,
    and returns the output's value (a tuple of them unless ``single``).
    """
    lines = ["def forward(values):"]
    namespace: dict[str, Any] = {}
    loaded: set[int] = set()

    def read(slot: int) -> str:  # a placeholder's or constant's value is loaded the first time it is used
        if slot not in loaded:
            lines.append(f"    v{slot} = values[{slot}]")
            loaded.add(slot)
        return f"v{slot}"

    for slot in parameter_slots:
        namespace[f"p{slot}"] = nodes[slot]
        lines.append(f"    v{slot} = values[{slot}] = p{slot}._value")
        loaded.add(slot)
    for out, op, ins in schedule:
        args = ", ".join(read(i) for i in ins)
        namespace[f"f{out}"] = op.forward
        lines.append(f"    v{out} = values[{out}] = f{out}({args})  # {_label(nodes[out])}")
        loaded.add(out)
    results = [read(slot) for slot in output_slots]
    lines.append(f"    return {results[0] if single else _tuple(results)}")
    return lines, namespace


def compile_forward(*args: Any) -> Callable:
    """:func:`forward_source`, compiled."""
    return _compile("forward", *forward_source(*args))


def backward_source(
    nodes: Sequence[Node],
    steps: Sequence[Step],
    output_slot: int,
    wrt_pairs: Sequence[tuple[Any, int]],
    fit: Callable,
    as_gradients: Callable,
    hand_out: Callable,
) -> tuple[list[str], dict[str, Any]]:
    """The lines of ``backward(values, seed)`` for one plan, and the names they use.

    ``wrt_pairs`` holds ``(key, slot)`` of each node to differentiate with respect to.
    The function returns ``{key: gradient}`` when every gradient is an array of its own
    (the usual case, checked inline); otherwise ``hand_out(gradients, seed)`` sorts them out.
    """
    namespace: dict[str, Any] = {"ndarray": np.ndarray, "fit": fit, "as_gradients": as_gradients,
                                 "hand_out": hand_out}
    wrt_slots = [slot for _, slot in wrt_pairs]
    used = sorted({step.out for step in steps} | {i for step in steps for i in step.ins})
    receiving = sorted({slot for step in steps for _, slot in step.targets} | set(wrt_slots))
    lines = ["def backward(values, seed):"]
    lines += [f"    v{slot} = values[{slot}]" for slot in used]
    lines += [f"    g{slot} = None" for slot in receiving if slot != output_slot]
    lines.append(f"    g{output_slot} = seed")
    reached = {output_slot}  # slots that may hold a gradient by now
    for step in steps:
        out, n = step.out, len(step.ins)
        namespace[f"o{out}"], namespace[f"b{out}"] = step.op, step.op.backward
        lines.append(f"    # {_label(nodes[out])}")
        pad = "    "
        if out != output_slot:  # its consumers may all have returned None: then it has no gradient
            lines.append(f"    if g{out} is not None:")
            pad = "        "
        args = "".join(f", v{i}" for i in step.ins)
        lines += [
            f"{pad}o{out}.needs_input_grad = {step.needs!r}",
            f"{pad}r = b{out}(g{out}{args}, output=v{out})",
            f"{pad}if r.__class__ is not tuple or len(r) != {n}: r = as_gradients(r, {out}, {n})",
        ]
        for k, slot in step.targets:
            lines += [
                f"{pad}x = r[{k}]",
                f"{pad}if x is not None and (x.__class__ is not ndarray or x.shape != v{slot}.shape): "
                f"x = fit(x, v{slot}, {out}, {slot})",
                # the first gradient to reach a slot finds it None; a later one adds (never +=: may be shared)
                f"{pad}if x is not None: g{slot} = x if g{slot} is None else g{slot} + x" if slot in reached
                else f"{pad}g{slot} = x",
            ]
            reached.add(slot)
    grads = [f"g{slot}" for slot in wrt_slots]
    ids = ", ".join(["id(seed)"] + [f"id({g})" for g in grads])
    lines.append("    # each gradient an array of its own: not missing, not a view, not read-only, not shared")
    lines.append("    if (")
    lines += [f"        {g} is None or {g}.base is not None or not {g}.flags.writeable or" for g in grads]
    lines.append(f"        len({{{ids}}}) != {len(grads) + 1}")
    lines.append("    ):")
    lines.append(f"        return hand_out({_tuple(grads)}, seed)")
    for index, (key, _) in enumerate(wrt_pairs):
        namespace[f"k{index}"] = key
    lines.append(f"    return {{{', '.join(f'k{i}: {g}' for i, g in enumerate(grads))}}}")
    return lines, namespace


def compile_backward(*args: Any) -> Callable:
    """:func:`backward_source`, compiled."""
    return _compile("backward", *backward_source(*args))
