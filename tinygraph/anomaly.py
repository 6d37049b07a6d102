"""Anomaly detection: name the first op whose forward or backward makes NaN or inf.

Opt in for one run, or for every run inside a ``with`` block::

    g.forward(feeds, check_finite=True)
    g.backward(check_finite=True)

    with tg.detect_anomaly():
        g.forward(feeds)
        g.backward()

The first op (in the order the graph runs) whose output holds NaN or inf
raises :class:`AnomalyError` naming the op, the node, the range of each input
and the line where the user built it. A backward is a gradient graph run by
the same executor, so its first non-finite gradient is found the same way and
blamed on the forward node whose backward rule made it.

A checked run is the executor's loop with a hook after each step (see
:meth:`tinygraph.run.Program.interpret`); the normal runs pay nothing for it,
one branch in :meth:`Graph.forward` and :meth:`Graph.backward`.
"""

from __future__ import annotations

import contextlib
import linecache
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .errors import OpError
from .node import Node, Placeholder
from .run import Program
from .shapes import format_shape

# Checked by Graph.forward / Graph.backward when their check_finite is None (the default).
enabled = False


class AnomalyError(OpError, FloatingPointError):
    """An op produced NaN or inf while anomaly detection was on.

    Attributes:
        node: the node whose op produced it (or the leaf that already held it).
        phase: ``"forward"`` or ``"backward"``.
    """

    def __init__(self, message: str, node: Node, phase: str):
        super().__init__(message)
        self.node = node
        self.phase = phase


@contextlib.contextmanager
def detect_anomaly(on: bool = True) -> Iterator[None]:
    """Check every forward and backward run inside the block (``on=False``: none).

    The setting is process-wide, and an explicit ``check_finite=`` argument wins over it.
    """
    global enabled
    previous, enabled = enabled, bool(on)
    try:
        yield
    finally:
        enabled = previous


# --- describing what went wrong ---------------------------------------------------

def _finite(value: Any) -> bool:
    array = np.asarray(value)
    return not np.issubdtype(array.dtype, np.inexact) or bool(np.isfinite(array).all())


def _describe(value: Any) -> str:
    """``shape (2, 3), min -1.5, max 2`` and how many NaN and inf it holds."""
    array = np.asarray(value)
    text = f"shape {format_shape(array.shape)}"
    finite = array[np.isfinite(array)] if np.issubdtype(array.dtype, np.inexact) else array.ravel()
    if finite.size:
        text += f", min {finite.min():.6g}, max {finite.max():.6g}"
    counts = [
        (int(np.isnan(array).sum()), "nan"),
        (int(np.isposinf(array).sum()), "+inf"),
        (int(np.isneginf(array).sum()), "-inf"),
    ] if np.issubdtype(array.dtype, np.floating) else []
    text += "".join(f", {count} {what}" for count, what in counts if count)
    return text


def _bad(value: Any) -> str:
    """``-inf in 1 of 3 elements, first at index (2,)``."""
    array = np.asarray(value)
    bad = ~np.isfinite(array)
    first = np.unravel_index(int(np.argmax(bad)), array.shape) if array.ndim else ()
    kinds = sorted({"nan" if np.isnan(v) else ("+inf" if v > 0 else "-inf") for v in array[bad].ravel()[:1000]})
    where = f", first at index {tuple(int(i) for i in first)}" if array.ndim else ""
    return f"{' and '.join(kinds)} in {int(bad.sum())} of {array.size} elements{where}"


def _source(node: Node) -> str:
    """``file.py:12: cost = tg.log(a)``: where the user built the node, with that line of code."""
    if not node.trace:
        return "<unknown>"
    code = linecache.getline(*node.trace).strip()
    return f"{node.where()}: {code}" if code else node.where()


def _what(node: Node) -> str:
    if node.op is None:
        return f"{node.kind} {node.name!r}"
    return f"{node.name} = {node.op!r}({', '.join(i.name for i in node.inputs)})"


# --- the checked run ----------------------------------------------------------------

def run_checked(program: Program, values: list[Any], phase: str) -> tuple:
    """Run ``program`` step by step, raising :class:`AnomalyError` at the first non-finite value.

    The values it starts from (leaves, fed nodes, the forward's values for a backward) are
    looked at first, so a NaN fed in is blamed on its feed, not on the op that reads it.
    """
    for slot, parameter in program.loads:
        values[slot] = parameter.value
    for slot in program.read:
        node = program.slots.nodes[slot]
        if not _finite(values[slot]):
            raise _given_anomaly(node, values[slot], phase)

    def check(node: Node, value: Any) -> None:
        if not _finite(value):
            index = program.slots.index
            raise _step_anomaly(node, value, [values[index[i]] for i in node.inputs], values, index)

    with np.errstate(all="ignore"):  # numpy's warnings here are all about what the error will say better
        return program.interpret(values, hook=check)


def _given_anomaly(node: Node, value: Any, phase: str) -> AnomalyError:
    if isinstance(node, Placeholder) and node.grad_of is None and phase == "backward":
        return AnomalyError(f"grad_output holds {_bad(value)}", node, phase)
    how = "fed" if isinstance(node, Placeholder) or node.op is not None else "given"
    what = f"{node.kind} {node.name!r}" if node.op is None else _what(node)
    message = f"{what} holds {_bad(value)} before any op ran (it was {how} that value)\n  built at {_source(node)}"
    return AnomalyError(message, node, phase)


def _step_anomaly(node: Node, value: Any, inputs: Sequence[Any], values: list[Any], index: dict) -> AnomalyError:
    origin = node.grad_of
    if origin is None:
        lines = [f"forward of {_what(node)} produced {_bad(value)}", f"  built at {_source(node)}"]
        pairs = enumerate(zip(node.inputs, inputs, strict=True))
        lines += [f"  input {k} {i.name}: {_describe(v)}" for k, (i, v) in pairs]
        return AnomalyError("\n".join(lines), node, "forward")
    if node.name == f"d{origin.name}":  # the sum of the gradients origin's consumers sent back
        lines = [f"backward reaching {_what(origin)}: the gradients its consumers sent back sum to {_bad(value)}"]
    else:
        lines = [f"backward of {_what(origin)} produced {_bad(value)} in its gradient node {_what(node)}"]
    lines.append(f"  built at {_source(origin)}")
    forward_inputs = [(i, values[index[i]]) for i in origin.inputs if i in index]
    lines += [f"  input {k} {i.name}: {_describe(v)}" for k, (i, v) in enumerate(forward_inputs)]
    pairs = enumerate(zip(node.inputs, inputs, strict=True))
    lines += [f"  gradient input {k} {i.name}: {_describe(v)}" for k, (i, v) in pairs]
    return AnomalyError("\n".join(lines), origin, "backward")
