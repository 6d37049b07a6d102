"""Seeing a graph: a table of its nodes (text or HTML), Graphviz DOT text, an SVG drawing.

``str(g)`` / ``g.summary()`` list the nodes in the order they run, with op,
static shape, dtype and parameter counts; :func:`summary_html` is the same
table for a notebook. ``g.to_dot()`` returns DOT text (nodes, and one edge per
input labelled with the shape it carries) to render with any Graphviz tool,
e.g. ``tinygraph graph | dot -Tsvg > graph.svg``; producing it needs no
Graphviz install. :func:`draw` runs Graphviz's ``dot`` for you and returns the
SVG, which Jupyter shows as a picture; without Graphviz it raises
:class:`GraphvizError` saying how to install it. :func:`gradcheck_html` and
:func:`step_study_html` render the gradient-checking reports as HTML tables.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import TinygraphError
from .node import Constant, Node, Parameter, Placeholder, topological_order
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


def _summary_parts(graph: Graph) -> tuple[str, list[tuple[str, ...]], str | None]:
    """What both summaries show: the headline, the rows (the first one the header), the rewrites line."""
    outputs = set(graph.run_outputs)  # the nodes computing the outputs, after rewrites
    rows = [("#", "node", "op", "shape", "dtype", "params", "inputs")]
    for k, node in enumerate(graph.nodes):
        count = f"{node.value.size:,}" if isinstance(node, Parameter) else ""
        name = node.name + (" (output)" if node in outputs else "")
        rows.append((str(k), name, _op(node), format_shape(node.shape), str(node.dtype), count,
                     ", ".join(i.name for i in node.inputs)))
    trainable = sum(p.value.size for p in graph.parameters)
    ops = sum(node.op is not None for node in graph.nodes)
    headline = (
        f"Graph of {', '.join(o.name for o in graph.outputs)}: {len(graph.nodes)} nodes ({ops} ops), "
        f"{len(graph.parameters)} parameter{'' if len(graph.parameters) == 1 else 's'} holding {trainable:,} values"
    )
    applied = Counter(name for name, _, _ in graph.rewrites_applied)
    rewrites = None
    if applied:
        done = ", ".join(f"{name} ×{count}" for name, count in applied.items())
        rewrites = f"rewrites applied: {done} (switch one off with tg.Graph(..., disable=(name,)))"
    return headline, rows, rewrites


def summary(graph: Graph) -> str:
    """The graph as a table: one row per node in run order, then the totals and the rewrites applied."""
    headline, rows, rewrites = _summary_parts(graph)
    return "\n".join([headline, *text_table(rows), *([rewrites] if rewrites else [])])


# --- HTML, for notebooks -----------------------------------------------------------------

def html_table(rows: Sequence[Sequence[object]], caption: str | None = None) -> str:
    """Rows (the first one the header) as an HTML table, every cell escaped; ``caption`` above it."""
    def cells(row: Sequence[object], tag: str) -> str:
        return "".join(f'<{tag} style="text-align:left">{html.escape(str(cell))}</{tag}>' for cell in row)

    head = f"<caption style=\"text-align:left\">{html.escape(caption)}</caption>" if caption else ""
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows[1:])
    return f"<table>{head}<thead><tr>{cells(rows[0], 'th')}</tr></thead><tbody>{body}</tbody></table>"


def summary_html(graph: Graph) -> str:
    """:func:`summary` as HTML: the headline as the caption, one table row per node, the rewrites below."""
    headline, rows, rewrites = _summary_parts(graph)
    return html_table(rows, headline) + (f"<p>{html.escape(rewrites)}</p>" if rewrites else "")


def _paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def gradcheck_html(report: Any) -> str:
    """A :class:`tinygraph.GradcheckReport` as HTML: the verdict, the per-node table, the worst elements, causes."""
    verdict = "passed" if report.ok else "FAILED"
    colour = "#1a7f37" if report.ok else "#cf222e"
    parts = [
        f'<p><b style="color:{colour}">gradcheck {verdict}</b> (mode {html.escape(report.mode)}, '
        f"order {report.order}): relative error ‖a−n‖ / (‖a‖ + ‖n‖) = {report.relative_error:.2e}, "
        f"max |a−n| = {report.max_abs_error:.2e}; {report.forward_runs} forward runs, "
        f"{report.backward_runs} backward, {report.seconds:.3g} s</p>",
        html_table([("node", "shape", "checked", "failed", "kinks", "rel. error", "max |a-n|")]
                   + [(n.name, format_shape(n.shape), f"{n.checked} {n.unit}", n.failed, n.kinks,
                       f"{n.relative_error:.2e}", f"{n.max_abs_error:.2e}") for n in report.nodes]),
    ]
    if report.worst:
        parts.append(html_table(
            [("node", "index", "analytic", "numeric", "|a-n|", "within tolerance")]
            + [(e.node, str(e.index), f"{e.analytic:.6e}", f"{e.numeric:.6e}", f"{e.abs_error:.2e}",
                "yes" if e.ok else "no") for e in report.worst],
            "worst elements"))
    if report.kinks:
        parts.append(_paragraph(f"{len(report.kinks)} perturbation(s) crossed a kink; not counted as errors"))
    if report.causes:
        parts.append("<p>likely cause</p><ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in report.causes)
                     + "</ul>")
    return "".join(parts)


def step_study_html(study: Any) -> str:
    """A :class:`tinygraph.gradcheck.StepStudy` as an HTML table of error against step, the best step marked."""
    rows = [("step", "rel. error", "max |a-n|", "")]
    rows += [(f"{h:.1e}", f"{e:.2e}", f"{m:.2e}", "best" if h == study.best_step else "")
             for h, e, m in zip(study.steps, study.errors, study.max_abs_errors, strict=True)]
    return html_table(rows, f"step study: best step {study.best_step:.1e}, relative error {study.best_error:.2e} "
                            f"({study.forward_runs} forward runs, {study.seconds:.3g} s)")


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


# --- drawing with Graphviz ----------------------------------------------------------------

class GraphvizError(TinygraphError, RuntimeError):
    """Graphviz's ``dot`` is not installed, or it could not draw the graph."""


class Drawing(str):
    """SVG text that Jupyter shows as a picture (``_repr_svg_``); otherwise an ordinary string."""

    def _repr_svg_(self) -> str:
        return str(self)


DOT_TIMEOUT = 60  # seconds: a graph of thousands of nodes lays out in a few; a hung dot should not hang a notebook


def graphviz_available() -> bool:
    """Is Graphviz's ``dot`` on ``PATH``?"""
    return shutil.which("dot") is not None


def draw(graph: Graph) -> Drawing:
    """The graph drawn by Graphviz's ``dot`` from :func:`to_dot`: SVG text, shown as a picture in Jupyter.

    Raises :class:`GraphvizError` when ``dot`` is not on ``PATH`` (saying how to install it) or fails.
    """
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizError(
            "drawing a graph needs Graphviz's `dot` program on PATH, and it was not found: install Graphviz "
            "(apt-get install graphviz, brew install graphviz or conda install graphviz; the pip package "
            "'graphviz' alone does not bring the program). g.to_dot() gives the DOT text without it.")
    try:
        done = subprocess.run([dot, "-Tsvg"], input=to_dot(graph), capture_output=True, text=True,
                              timeout=DOT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GraphvizError(f"Graphviz's dot ({dot}) could not draw the graph: {error}") from None
    if done.returncode != 0:
        raise GraphvizError(f"Graphviz's dot ({dot}) failed with exit status {done.returncode}: "
                            f"{done.stderr.strip() or 'no message'}")
    svg = done.stdout
    return Drawing(svg[svg.find("<svg"):] if "<svg" in svg else svg)  # without the XML prolog: it embeds in HTML


def notebook_html(graph: Graph) -> str:
    """How Jupyter shows a graph: the summary table, then the drawing, or a line saying why there is none."""
    try:
        picture = draw(graph)
    except GraphvizError as error:
        picture = _paragraph(f"(no drawing: {error})")
    return summary_html(graph) + picture


# --- the backward, step by step ------------------------------------------------------------

@dataclass(frozen=True)
class TraceStep:
    """One step of a backward: a gradient node."""

    name: str
    op: str
    inputs: list[str]
    rule_of: str  # the forward node whose gradient rule built this step
    rule_op: str
    sums_fan_out: bool  # the sum of what the forward node's consumers sent back
    upstream: list[str]  # inputs that arrived from another node's rule: the gradient flowing in
    shape: tuple[int, ...]
    norm: float
    value: Any = None  # the value, for small nodes


@dataclass
class BackwardTrace:
    """The steps of a backward in run order; ``str()`` is the table, ``gradients`` names each result."""

    steps: list[TraceStep]
    gradients: dict[str, str]  # wrt node -> the step holding its gradient

    def __str__(self) -> str:
        rows = [["#", "step", "= op(inputs)", "rule of", "upstream in", "value / shape, norm"]]
        for k, s in enumerate(self.steps, 1):
            shown = (np.array2string(np.asarray(s.value), precision=4, separator=", ", suppress_small=True)
                     if s.value is not None else f"{format_shape(s.shape)} |{s.norm:.4g}|")
            what = f"{s.op}({', '.join(s.inputs)})"
            rule = f"{s.rule_of} ({s.rule_op})" + ("  <- fan-out summed" if s.sums_fan_out else "")
            rows.append([k, s.name, what, rule, ", ".join(s.upstream), shown.replace("\n", " ")])
        lines = [f"backward: {len(self.steps)} steps, in the order they run"]
        lines += text_table(rows, indent="  ")
        lines += ["", "  gradients: " + ", ".join(f"{k} = {v}" for k, v in self.gradients.items())]
        return "\n".join(lines)


def trace_backward(graph: Graph, wrt: Any = None, output: Any = None, *, values_up_to: int = 6) -> BackwardTrace:
    """The backward of ``graph`` after a forward, step by step in the order it runs.

    Runs ``graph.backward(wrt, output=output)`` and reads each gradient node's value
    from it. Each step is one gradient node: which forward node's rule made it
    (``grad_of``), what it computes from what, and its value (for up to
    ``values_up_to`` elements; else its shape and norm). A step named ``d<node>``
    sums the gradients that ``<node>``'s consumers sent back: fan-out.
    """
    wrt = None if wrt is None else list(wrt)
    graph.backward(wrt, output=output)
    gradients = graph.gradients(wrt, output=output)  # the nodes that backward just ran
    forward = set(graph.nodes)
    steps = []
    for node in topological_order(gradients, forward):
        if node.grad_of is None:  # a constant a rule made, or the seed
            continue
        value = np.asarray(graph.value(node))
        origin = node.grad_of
        fan_in = node.kind == "add" and node.name == f"d{origin.name}"
        upstream = [i.name for i in node.inputs if i not in forward and i.grad_of is not origin]
        steps.append(TraceStep(
            node.name, node.kind, [i.name for i in node.inputs], origin.name, origin.kind, fan_in, upstream,
            tuple(value.shape), float(np.linalg.norm(value)),
            value.tolist() if value.size <= values_up_to else None))
    keys = list(graph.parameters) if wrt is None else [graph.node(n) for n in wrt]
    return BackwardTrace(steps, {k.name: g.name for k, g in zip(keys, gradients, strict=True)})
