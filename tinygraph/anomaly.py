"""Anomaly detection: name the first op whose forward or backward makes NaN or inf.

Opt in for one run, or for every run inside a ``with`` block::

    g.forward(feeds, check_finite=True)
    g.backward(check_finite=True)

    with tg.detect_anomaly():
        g.forward(feeds)
        g.backward()

The first op (in the order the graph runs) whose output, or whose gradient
for an input, holds NaN or inf raises :class:`AnomalyError` naming the op,
the node, the range of each input and the line where the user built it.

The graph first runs exactly as usual, so results, values and errors are the
ordinary ones; then a checking pass walks the same nodes in the same order
(forward: over the values just computed; backward: replaying the gradients
op by op) and stops at the first non-finite array. The normal runs pay
nothing for this: checking lives here, behind a single branch in
:meth:`Graph.forward` and :meth:`Graph.backward`. Backward does its work
twice, so keep the mode for debugging.
"""

from __future__ import annotations

import contextlib
import linecache
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import OpError
from .node import Constant, Node, Parameter, Placeholder
from .shapes import format_shape, unbroadcast

if TYPE_CHECKING:  # graph.py imports this module; importing it back only for annotations avoids a cycle
    from .graph import Graph

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


def _forward_anomaly(node: Node, value: Any, inputs: Sequence[Any]) -> AnomalyError:
    if node.op is None:
        message = (
            f"{node.kind} {node.name!r} holds {_bad(value)} before any op ran "
            f"(it was {'fed' if isinstance(node, Placeholder) else 'given'} that value)\n  built at {_source(node)}"
        )
        return AnomalyError(message, node, "forward")
    lines = [f"forward of {_what(node)} produced {_bad(value)}", f"  built at {_source(node)}"]
    lines += [f"  input {k} {i.name}: {_describe(v)}" for k, (i, v) in enumerate(zip(node.inputs, inputs, strict=True))]
    return AnomalyError("\n".join(lines), node, "forward")


def _backward_anomaly(node: Node, k: int | None, grad: Any, grad_output: Any, inputs: Sequence[Any], output: Any):
    if k is None:
        lines = [f"backward reaching {_what(node)}: the gradients its consumers sent back sum to {_bad(grad)}"]
    else:
        lines = [f"backward of {_what(node)} made the gradient for input {k} ({node.inputs[k].name}) hold {_bad(grad)}"]
    lines.append(f"  built at {_source(node)}")
    if grad_output is not None:
        lines.append(f"  grad_output: {_describe(grad_output)}")
    lines += [f"  input {j} {i.name}: {_describe(v)}" for j, (i, v) in enumerate(zip(node.inputs, inputs, strict=True))]
    lines.append(f"  {'output' if node.op is not None else 'value'}: {_describe(output)}")
    return AnomalyError("\n".join(lines), node, "backward")


# --- the checked runs ---------------------------------------------------------------

def forward(graph: Graph, feeds: Mapping[Any, Any] | None) -> Any:
    """``graph.forward(feeds)``, then raise :class:`AnomalyError` at the first non-finite value."""
    try:
        with np.errstate(all="ignore"):  # numpy's warnings here are all about what the error will say better
            result = graph.forward(feeds, check_finite=False)
    except OpError as error:  # an op failed: maybe on a NaN an earlier op made; look before saying so
        anomaly = _first_forward_anomaly(graph, _recompute(graph, feeds or {}))
        if anomaly is not None:
            raise anomaly from error
        raise
    anomaly = _first_forward_anomaly(graph, graph.value)
    if anomaly is not None:
        raise anomaly
    return result


def _first_forward_anomaly(graph: Graph, value_of) -> AnomalyError | None:
    for node in graph.nodes:
        try:
            value = value_of(node)
        except Exception:  # the op the run failed on: nothing was wrong before it
            return None
        if not _finite(value):
            return _forward_anomaly(node, value, [value_of(i) for i in node.inputs])
    return None


def _recompute(graph: Graph, feeds: Mapping[Any, Any]):
    """A ``value_of(node)`` computing values afresh, for a run that failed before storing them all."""
    by_name = {p.name: p for p in graph.placeholders}
    fed = {by_name.get(k) if isinstance(k, str) else k: v for k, v in feeds.items()}
    values: dict[Node, Any] = {}

    def value_of(node: Node) -> Any:
        if node not in values:
            if isinstance(node, Placeholder):
                values[node] = np.asarray(fed[node], dtype=node.dtype)
            elif isinstance(node, (Parameter, Constant)):
                values[node] = node.value
            else:
                with np.errstate(all="ignore"):  # the normal run already warned
                    values[node] = node.op.forward(*[values[i] for i in node.inputs])
        return values[node]

    return value_of


def backward(
    graph: Graph,
    wrt: Sequence[Any] | None = None,
    *,
    output: Any | None = None,
    grad_output: Any | None = None,
) -> dict[Node, np.ndarray]:
    """``graph.backward(...)``, then replay it op by op; raise at the first non-finite gradient."""
    wrt = None if wrt is None else list(wrt)  # read twice below
    with np.errstate(all="ignore"):  # numpy's warnings here are all about what the error will say better
        result = graph.backward(wrt, output=output, grad_output=grad_output, check_finite=False)
    target = graph.nodes[graph._slot_of(output if output is not None else graph.outputs[0])]
    seed = np.ones_like(graph.value(target)) if grad_output is None else np.asarray(grad_output)
    if not _finite(seed):
        raise AnomalyError(f"grad_output holds {_bad(seed)}", target, "backward")
    sources = graph.parameters if wrt is None else [graph.nodes[graph._slot_of(n)] for n in wrt]
    anomaly = _first_backward_anomaly(graph, target, seed, set(sources))
    if anomaly is not None:
        raise anomaly
    return result


def _first_backward_anomaly(graph: Graph, target: Node, seed: np.ndarray, sources: set) -> AnomalyError | None:
    depends: dict[Node, bool] = {}  # does the node depend on a node we differentiate with respect to?
    for node in graph.nodes:
        depends[node] = node in sources or any(depends[i] for i in node.inputs)
    grads: dict[Node, Any] = {target: seed}
    for node in reversed(graph.nodes):
        grad = grads.pop(node, None)
        if grad is None or not depends[node]:
            continue
        inputs: list[Any] = [graph.value(i) for i in node.inputs]
        output = graph.value(node)
        if not _finite(grad):  # finite contributions from several consumers can overflow when summed
            return _backward_anomaly(node, None, grad, None, inputs, output)
        if node.op is None:
            continue
        needs = tuple(depends[i] for i in node.inputs)
        node.op.needs_input_grad = needs
        with np.errstate(all="ignore"):  # the normal run already warned
            input_grads = node.op.backward(grad, *inputs, output=output)
        for k, (i, need, input_grad) in enumerate(zip(node.inputs, needs, input_grads, strict=True)):
            if not need or input_grad is None:
                continue
            if not _finite(input_grad):
                return _backward_anomaly(node, k, input_grad, grad, inputs, output)
            input_grad = unbroadcast(np.asarray(input_grad), np.shape(inputs[k]))
            grads[i] = input_grad if i not in grads else grads[i] + input_grad
    return None
