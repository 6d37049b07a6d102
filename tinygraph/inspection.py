"""Seeing a graph: a text table of its nodes, and Graphviz DOT text.

``str(g)`` / ``g.summary()`` list the nodes in the order they run, with op,
static shape, dtype and parameter counts. ``g.to_dot()`` returns DOT text
(nodes, and one edge per input labelled with the shape it carries) to render
with any Graphviz tool, e.g. ``tinygraph graph | dot -Tsvg > graph.svg``;
producing it needs no Graphviz install.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .node import Constant, Node, Parameter, Placeholder
from .shapes import format_shape

Graph = Any  # a tinygraph.Graph: this module reads its public attributes (nodes, outputs, run_outputs...)


def _op(node: Node) -> str:
    if isinstance(node, Constant) and node.value.size == 1:
        return f"constant {node.value.item():.6g}"  # small constants read better by value
    return repr(node.op) if node.op is not None else node.kind


def text_table(rows: Sequence[Sequence[object]], indent: str = "") -> list[str]:
    """Rows (the first one the header) as left-aligned text columns, two spaces apart."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(cells[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]


def summary(graph: Graph) -> str:
    """The graph as a table: one row per node in run order, then the totals and the rewrites applied."""
    outputs = set(graph.run_outputs)  # the nodes computing the outputs, after rewrites
    rows = [("#", "node", "op", "shape", "dtype", "params", "inputs")]
    for k, node in enumerate(graph.nodes):
        count = f"{node.value.size:,}" if isinstance(node, Parameter) else ""
        name = node.name + (" (output)" if node in outputs else "")
        rows.append((str(k), name, _op(node), format_shape(node.shape), str(node.dtype), count,
                     ", ".join(i.name for i in node.inputs)))
    trainable = sum(p.value.size for p in graph.parameters)
    ops = sum(node.op is not None for node in graph.nodes)
    lines = [
        f"Graph of {', '.join(o.name for o in graph.outputs)}: {len(graph.nodes)} nodes ({ops} ops), "
        f"{len(graph.parameters)} parameter{'' if len(graph.parameters) == 1 else 's'} holding {trainable:,} values"
    ]
    lines += text_table(rows)
    applied = Counter(name for name, _, _ in graph.rewrites_applied)
    if applied:
        done = ", ".join(f"{name} ×{count}" for name, count in applied.items())
        lines.append(f"rewrites applied: {done} (switch one off with tg.Graph(..., disable=(name,)))")
    return "\n".join(lines)


def _quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as DOT's \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_STYLE = {  # how each kind of node is drawn
    Placeholder: 'shape=box, style="filled", fillcolor="#dbe9f6"',
    Parameter: 'shape=box, style="rounded,filled", fillcolor="#fde3c8"',
    Constant: 'shape=box, style="filled", fillcolor="#eeeeee"',
}


def to_dot(graph: Graph, name: str = "tinygraph") -> str:
    """Graphviz DOT text for ``graph``: one node per graph node, one edge per op input.

    Node ``n<k>`` is ``graph.nodes[k]``; its label holds the name, the op and
    the static shape. Each edge is labelled with the shape of the value it
    carries; outputs are drawn with a double border.
    """
    slot = {node: k for k, node in enumerate(graph.nodes)}
    outputs = set(graph.run_outputs)
    lines = [
        f"digraph {_quote(name)} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in graph.nodes:
        label = f"{node.name}\n{_op(node)}  {format_shape(node.shape)}"
        style = _STYLE.get(type(node), "shape=ellipse")
        if node in outputs:
            style += ", peripheries=2"
        lines.append(f"  n{slot[node]} [label={_quote(label)}, {style}];")
    for node in graph.nodes:
        for i in node.inputs:
            lines.append(f"  n{slot[i]} -> n{slot[node]} [label={_quote(format_shape(i.shape))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
