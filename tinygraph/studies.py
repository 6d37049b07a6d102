"""Gradient studies: checks that need no tolerance, forward mode, replayable reports, and seeing the backward.

- :func:`taylor_test`: the Taylor remainder ``|f(x + h·v) − f(x) − h·∇f·v|`` falls as h²
  when the gradient is right and as h when it is wrong; the fitted slope is the
  verdict (``order=2``: the Hessian-vector product's remainder, slope 3).
- :func:`jvp`: Jacobian-vector products built from the gradient graph (the double-VJP
  trick), and :func:`jvp_check`: ``<J·t, w> = <t, Jᵀ·w>`` and ``J·t`` against central differences.
- :func:`load_report`, :func:`replay`, :func:`compare_reports`: every study report is saved
  with ``.to_json(path)`` and loaded back; a check is rerun exactly from its file.
- :func:`trace_backward`: the backward of a graph step by step, in run order.
- :func:`audit_rewrites`: does each rewrite keep values and gradients, and what do the
  stabilising ones gain against a long-double reference?
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import ops
from .files import atomic_write
from .grad import grad
from .gradcheck import GradcheckReport, StepStudy, Twin, checked_leaves, gradcheck, read_json, write_json
from .graph import Graph
from .inspection import BackwardTrace, TraceStep, text_table, trace_backward  # noqa: F401 (re-exported)
from .node import Node, Parameter, Placeholder, constant, topological_order
from .rewrite import REWRITES
from .shapes import format_shape

__all__ = [
    "AuditReport", "JvpCheck", "RewriteAudit", "TaylorReport", "audit_rewrites", "compare_reports", "jvp",
    "jvp_check", "load_report", "replay", "taylor_test", "trace_backward",
]

NodeOrName = Node | str
ROUND_OFF_FLOOR = 1e3  # a remainder below this many eps·|f| is round-off, not Taylor: the fit stops there


# --- the Taylor remainder test ---------------------------------------------------------

@dataclass(eq=False)
class TaylorReport:
    """What :func:`taylor_test` found. ``str(report)`` is a table, ``.plot(path)`` the log-log picture.

    Attributes:
        order: 1 (the gradient: remainder slope 2 when right) or 2 (the Hessian-vector product: slope 3).
        steps: the steps h; x moves to x + h·v.
        changes: |f(x + h·v) − f(x)| (slope 1 whatever the gradient).
        remainders: the Taylor remainder of the order tested.
        clean: where the remainder is above round-off and still falling; the fit uses the last
            ``fit_points`` of them (the asymptotic end).
        slope: the fitted log-log slope; ``ok`` is ``slope > order + 0.5`` (no tolerance needed).
        directions: v per checked node (replay with ``taylor_test(direction=report.directions)``).
    """

    order: int
    steps: list[float]
    changes: list[float]
    remainders: list[float]
    clean: list[bool]
    slope: float
    ok: bool
    value: float
    derivative: float  # ∇f·v
    curvature: float | None  # vᵀ·H·v (order 2)
    seed: int | None
    dtype: str
    directions: dict[str, list] = field(default_factory=dict)
    fit_points: int = 5
    note: str = ""

    @property
    def fitted(self) -> list[int]:
        """Indices of the steps the slope was fitted over."""
        clean = [k for k, c in enumerate(self.clean) if c]
        return clean[-self.fit_points:]

    def local_slopes(self) -> list[float]:
        """The slope between each step and the one before it (NaN for the first)."""
        r, h = np.maximum(np.array(self.remainders), 1e-300), np.array(self.steps)
        return [float("nan")] + list(np.diff(np.log(r)) / np.diff(np.log(h)))

    def __str__(self) -> str:
        expect = self.order + 1
        what = "gradient" if self.order == 1 else "Hessian-vector product"
        verdict = "passed" if self.ok else "FAILED"
        remainder = "|f(x+hv) - f(x) - h g.v|" if self.order == 1 else "|f(x+hv) - f(x) - h g.v - h^2/2 vHv|"
        lines = [f"taylor test {verdict}: the {what}'s remainder {remainder} falls with slope "
                 f"{self.slope:.3g} (expect {expect} when right, {expect - 1} when wrong)"]
        fitted = set(self.fitted)
        rows = [["step h", "|f(x+hv)-f(x)|", "remainder", "local slope", ""]]
        for k, (h, c, r, s) in enumerate(zip(self.steps, self.changes, self.remainders, self.local_slopes(),
                                             strict=True)):
            mark = "fit" if k in fitted else ("" if self.clean[k] else "round-off")
            rows.append([f"{h:.1e}", f"{c:.3e}", f"{r:.3e}", "" if np.isnan(s) else f"{s:.2f}", mark])
        lines += text_table(rows, indent="  ")
        if self.note:
            lines.append(f"  {self.note}")
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike) -> str:
        """Save the log-log picture (needs matplotlib); written atomically. Returns the path."""
        from matplotlib.figure import Figure  # the object API: no pyplot state, no backend switched for the user

        path = os.fspath(path)
        steps = np.array(self.steps)
        figure = Figure(figsize=(6, 4))
        axes = figure.add_subplot()
        axes.loglog(steps, np.maximum(self.changes, 1e-300), "s:", color="grey", label="|f(x+hv) - f(x)|")
        axes.loglog(steps, np.maximum(self.remainders, 1e-300), "o-", label=f"remainder (slope {self.slope:.2f})")
        fitted = self.fitted
        if fitted:
            k = fitted[-1]
            for slope, style in ((self.order, "--"), (self.order + 1, "-.")):
                axes.loglog(steps, self.remainders[k] * (steps / steps[k]) ** slope, style, linewidth=0.8,
                            color="black", label=f"slope {slope}")
        axes.set_ylim(bottom=max(1e-18, float(np.min(np.maximum(self.remainders, 1e-300))) / 10))
        axes.set_xlabel("step h")
        axes.set_ylabel("remainder")
        axes.set_title(f"Taylor test, order {self.order}: {'passed' if self.ok else 'FAILED'}")
        axes.legend(loc="lower right", fontsize=8)
        figure.tight_layout()
        with atomic_write(path) as temporary:
            figure.savefig(temporary)
        return path

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaylorReport:
        return cls(**data)

    def to_json(self, path: str | os.PathLike) -> str:
        """Save everything (steps, remainders, directions, seed, dtype) as JSON, atomically."""
        return write_json(path, "taylor_test", self.to_dict())

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> TaylorReport:
        return cls.from_dict(read_json(path, "taylor_test"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaylorReport) and _same(self.to_dict(), other.to_dict())


def taylor_test(
    g: Graph,
    feeds: Mapping[NodeOrName, Any] | None = None,
    wrt: Iterable[NodeOrName] | None = None,
    direction: Any = None,
    steps: Sequence[float] | None = None,
    seed: int | None = 0,
    *,
    order: int = 1,
    output: NodeOrName | None = None,
    grad_output: Any = None,
) -> TaylorReport:
    """The Taylor remainder test of ``g``'s gradient (``order=2``: of its Hessian-vector product).

    Along a direction ``v`` (random, each element scaled by ``max(|x|, 1)``, unless
    ``direction`` gives it: an array when one node is checked, else ``{node or name: array}``),
    for steps ``h`` shrinking geometrically (default 1e-1 … 1e-9, half decades), the
    remainder ``|f(x+hv) − f(x) − h·∇f·v|`` falls as h² when ∇f is right and only as h
    when it is wrong, whatever its size. The slope is fitted where the remainder is
    above round-off and still falling. Runs on a float64 copy; the graph is left unchanged.
    """
    if order not in (1, 2):
        raise ValueError(f"taylor_test order must be 1 or 2, got {order!r}")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    steps = np.logspace(-1, -9, 17) if steps is None else np.asarray(steps, dtype=np.float64)
    if steps.ndim != 1 or steps.size < 3 or not np.all(steps > 0):
        raise ValueError("taylor_test steps must be 3 or more positive numbers")
    twin = Twin(g, output, feeds, grad_output)
    leaves = checked_leaves(g, twin, wrt)
    arrays = [twin.array(leaf) for leaf in leaves]
    v = _directions(g, twin, leaves, direction, np.random.default_rng(seed))
    f0 = twin.evaluate()
    gradients = twin.graph.backward(leaves, grad_output=twin.grad_output)
    derivative = float(sum(np.vdot(gradients[leaf], d) for leaf, d in zip(leaves, v, strict=True)))
    curvature = _curvature(twin, leaves, v) if order == 2 else None
    changes, remainders, floors = [], [], []
    starts = [a.copy() for a in arrays]
    for h in steps:
        try:
            for a, x0, d in zip(arrays, starts, v, strict=True):
                np.add(x0, h * d, out=a)
            fh = twin.evaluate()
        finally:
            for a, x0 in zip(arrays, starts, strict=True):
                a[...] = x0
        remainder = fh - f0 - h * derivative
        if order == 2:
            remainder -= h * h / 2 * curvature
        changes.append(abs(fh - f0))
        remainders.append(abs(remainder))
        floors.append(ROUND_OFF_FLOOR * np.finfo(np.float64).eps * (abs(f0) + abs(fh)))
    clean = _clean_range(remainders, floors)
    report = TaylorReport(order, [float(h) for h in steps], changes, remainders, clean, float("nan"), False, f0,
                          derivative, curvature, seed, twin.dtype,
                          {leaf.name: d.tolist() for leaf, d in zip(leaves, v, strict=True)})
    fitted = report.fitted
    if len(fitted) >= 2:
        logs_h, logs_r = np.log(steps[fitted]), np.log(np.array(remainders)[fitted])
        report.slope = float(np.polyfit(logs_h, logs_r, 1)[0])
        report.ok = report.slope > order + 0.5
        report.note = f"slope fitted over h = {steps[fitted[0]]:.1e} ... {steps[fitted[-1]]:.1e}"
    elif not any(clean):
        report.ok = True
        report.note = ("the remainder is at round-off for every step: the Taylor model is exact along v "
                       "(f is polynomial of this order there)")
    else:
        report.note = "only one step is above round-off: pass larger steps"
    return report


def _directions(g: Graph, twin: Twin, leaves: Sequence[Node], direction: Any,
                rng: np.random.Generator) -> list[np.ndarray]:
    """One direction per leaf: given (checked against the shapes), or random, scaled by max(|x|, 1)."""
    if direction is None:
        drawn = [rng.standard_normal(np.shape(twin.array(leaf))) for leaf in leaves]
        norm = np.sqrt(sum(float(np.sum(d * d)) for d in drawn)) or 1.0
        return [d / norm * np.maximum(np.abs(twin.array(leaf)), 1.0) for leaf, d in zip(leaves, drawn, strict=True)]
    if not isinstance(direction, Mapping):
        if len(leaves) != 1:
            raise ValueError(f"taylor_test checks {len(leaves)} nodes: give direction as {{node or name: array}}")
        direction = {leaves[0]: direction}
    by_leaf = {}
    for key, value in direction.items():
        leaf = key if key in leaves else twin.leaf(g, key)
        by_leaf[leaf] = np.asarray(value, dtype=np.float64)
    result = []
    for leaf in leaves:
        if leaf not in by_leaf:
            raise ValueError(f"taylor_test: no direction given for {leaf.name!r}")
        d, shape = by_leaf[leaf], np.shape(twin.array(leaf))
        if d.shape != shape:
            raise ValueError(f"taylor_test: the direction for {leaf.name!r} has shape {format_shape(d.shape)}, "
                             f"the node has {format_shape(shape)}")
        result.append(d)
    return result


def _curvature(twin: Twin, leaves: Sequence[Node], v: Sequence[np.ndarray]) -> float:
    """vᵀ·H·v, from the gradient graph differentiated once more (a Hessian-vector product)."""
    out = twin.graph.outputs[0]
    upstream = np.ones_like(twin.graph.value(out)) if twin.grad_output is None else twin.grad_output
    gradients = grad(out, list(leaves), upstream)  # a seed of the run's shape: a user's op may not say its own
    along = ops.sum(ops.stack([ops.sum(gr * constant(d)) for gr, d in zip(gradients, v, strict=True)]))
    hessian_v = Graph(grad(along, list(leaves)), rewrites=False).forward(twin.feeds)
    return float(sum(np.vdot(hv, d) for hv, d in zip(hessian_v, v, strict=True)))


def _clean_range(remainders: Sequence[float], floors: Sequence[float]) -> list[bool]:
    """From the largest step down: clean until the remainder reaches round-off or stops falling."""
    clean, previous = [], float("inf")
    for r, floor in zip(remainders, floors, strict=True):
        ok = bool(r > floor and r < previous) and (not clean or clean[-1])
        clean.append(ok)
        previous = r
    return clean


# --- forward mode -----------------------------------------------------------------------

def jvp(outputs: Node | Sequence[Node], inputs: Sequence[Node], tangents: Sequence[Any]) -> list[Node]:
    """Jacobian-vector products ``J·t``, one node per output, built from the gradient graph.

    The double-VJP trick: ``u ↦ Jᵀ·u`` is linear in ``u``, so the gradient of
    ``<Jᵀ·u, t>`` with respect to ``u`` is ``J·t``, at any ``u`` (zeros here). Every op
    with a graph-level gradient rule gets forward mode for free. ``tangents`` are nodes
    or arrays, one per input, of its shape.
    """
    outputs = [outputs] if isinstance(outputs, Node) else list(outputs)
    inputs = list(inputs)
    if len(tangents) != len(inputs):
        raise ValueError(f"jvp: {len(inputs)} inputs but {len(tangents)} tangents; give one tangent per input")
    tangents = [t if isinstance(t, Node) else constant(np.asarray(t, dtype=x.dtype), name=f"t_{x.name}")
                for x, t in zip(inputs, tangents, strict=True)]
    for x, t in zip(inputs, tangents, strict=True):
        if t.shape is not None and x.shape is not None and len(t.shape) != len(x.shape):
            raise ValueError(f"jvp: the tangent for {x.name!r} has shape {format_shape(t.shape)}, "
                             f"the input has {format_shape(x.shape)}")
    result = []
    for out in outputs:
        u = ops.zeros_like(out)  # any value would do: J·t does not depend on it
        pulled = grad(out, inputs, grad_output=u)
        total = ops.sum(ops.stack([ops.sum(p * t) for p, t in zip(pulled, tangents, strict=True)]))
        (pushed,) = grad(total, [u])
        pushed.name = f"jvp_{out.name}"
        result.append(pushed)
    return result


@dataclass
class JvpCheck:
    """``<J·t, w>`` three ways: forward mode, reverse mode, and central differences of the forward."""

    forward_mode: float  # <jvp(t), w>
    reverse_mode: float  # <t, vjp(w)>
    numeric: float  # <(f(x + h·t) - f(x - h·t)) / 2h, w>
    adjoint_error: float  # |forward - reverse| / scale: round-off only, whatever the rules
    numeric_error: float  # |forward - numeric| / scale: a wrong rule shows here
    ok: bool

    def __str__(self) -> str:
        return (f"jvp check {'passed' if self.ok else 'FAILED'}: <J t, w> = {self.forward_mode:.12g} (forward mode), "
                f"<t, J^T w> = {self.reverse_mode:.12g} (reverse), {self.numeric:.12g} (central differences); "
                f"relative errors {self.adjoint_error:.1e} (adjoint), {self.numeric_error:.1e} (numeric)")


def jvp_check(outputs: Node | Sequence[Node], inputs: Sequence[Node], feeds: Mapping[NodeOrName, Any] | None = None,
              seed: int = 0, step: float = 1e-6) -> JvpCheck:
    """Check :func:`jvp` against reverse mode (``<J·t, w> = <t, Jᵀ·w>``) and central differences.

    ``t`` and ``w`` are random; inputs are moved by feeding them (any node may be fed).
    """
    outputs = [outputs] if isinstance(outputs, Node) else list(outputs)
    inputs = list(inputs)
    rng = np.random.default_rng(seed)
    g = Graph(outputs, rewrites=False)
    g.forward(feeds)
    x0 = [np.array(g.value(x), dtype=np.float64) for x in inputs]
    ts = [rng.standard_normal(x.shape) for x in x0]
    ws = [rng.standard_normal(np.shape(g.value(o))) for o in outputs]
    pushed = jvp(outputs, inputs, ts)
    pulled = grad(ops.sum(ops.stack([ops.sum(o * constant(w)) for o, w in zip(outputs, ws, strict=True)])), inputs)
    both = Graph(pushed + pulled, rewrites=False).forward(feeds)
    forward_mode = float(sum(np.vdot(j, w) for j, w in zip(both[:len(outputs)], ws, strict=True)))
    reverse_mode = float(sum(np.vdot(t, p) for t, p in zip(ts, both[len(outputs):], strict=True)))
    fed = dict(feeds or {})
    moved = []
    for sign in (1, -1):
        values = g.forward({**fed, **{x: a + sign * step * t for x, a, t in zip(inputs, x0, ts, strict=True)}})
        moved.append([np.asarray(v, dtype=np.float64) for v in values])
    numeric = float(sum(np.vdot((p - m) / (2 * step), w) for p, m, w in zip(*moved, ws, strict=True)))
    scale = max(abs(forward_mode), abs(reverse_mode), 1e-300)
    adjoint, off = abs(forward_mode - reverse_mode) / scale, abs(forward_mode - numeric) / scale
    return JvpCheck(forward_mode, reverse_mode, numeric, adjoint, off, adjoint <= 1e-10 and off <= 1e-5)


# --- reports on disk ---------------------------------------------------------------------

_KINDS = {"gradcheck": GradcheckReport, "step_study": StepStudy, "taylor_test": TaylorReport}


def load_report(path: str | os.PathLike) -> GradcheckReport | StepStudy | TaylorReport:
    """Load any report saved with ``.to_json(path)``; the file says which kind it is."""
    with open(path, encoding="utf-8") as file:
        try:
            kind = json.load(file).get("kind")
        except (json.JSONDecodeError, AttributeError):
            raise ValueError(f"{os.fspath(path)} is not a tinygraph report (not a JSON object)") from None
    if kind not in _KINDS:
        raise ValueError(f"{os.fspath(path)} is not a tinygraph report: kind {kind!r}, "
                         f"expected one of {sorted(_KINDS)}")
    return _KINDS[kind].from_json(path)


def compare_reports(a: Any, b: Any, ignore: Iterable[str] = ("seconds",)) -> list[str]:
    """The fields in which two reports differ (timings ignored): ``[]`` when they agree exactly."""
    if type(a) is not type(b):
        return [f"kind: {type(a).__name__} != {type(b).__name__}"]
    left, right = a.to_dict(), b.to_dict()
    skip = set(ignore)
    return [f"{key}: {left[key]!r:.80} != {right.get(key)!r:.80}" for key in left
            if key not in skip and not _same(left[key], right.get(key))]


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON would hold them: tuples and lists alike, NaN equal to NaN."""
    return json.dumps(a, sort_keys=True, default=list) == json.dumps(b, sort_keys=True, default=list)


def replay(report: GradcheckReport | TaylorReport | str | os.PathLike, g: Graph,
           feeds: Mapping[NodeOrName, Any] | None = None, **options: Any) -> GradcheckReport | TaylorReport:
    """Run a saved check again exactly: same seed, step, dtype, nodes and directions.

    ``report`` is a report or the path of its JSON; ``options`` override what it recorded.
    """
    if not isinstance(report, (GradcheckReport, TaylorReport)):
        report = load_report(report)
    if isinstance(report, TaylorReport):
        recorded = dict(wrt=list(report.directions), direction=report.directions, steps=report.steps,
                        seed=report.seed, order=report.order)
        return taylor_test(g, feeds, **{**recorded, **options})
    nodes = [n.name for n in report.nodes]
    directions: dict[str, list] = {}
    for p in report.projections + [k for k in report.kinks if not hasattr(k, "index")]:
        directions.setdefault(p.node, []).append(p.direction_array())
    recorded = dict(wrt=nodes, mode=report.mode, step=report.step, atol=report.atol, rtol=report.rtol,
                    seed=report.seed, order=report.order, dtype=report.checked_dtype if report.budget else None,
                    directions=directions if report.mode == "fast" and report.order == 1 else None)
    if report.mode == "full" and report.checks and report.order == 1:
        sizes = {n.name: int(np.prod(n.shape)) for n in report.nodes}
        if any(n.checked < sizes[n.name] for n in report.nodes):
            recorded["sample"] = max(n.checked + n.kinks for n in report.nodes)
    return gradcheck(g, feeds, **{**recorded, **options})


# --- auditing the rewrites ----------------------------------------------------------------

@dataclass
class RewriteAudit:
    """One rewrite over the sweep: does it keep values and gradients, and what does it gain in accuracy?"""

    name: str
    applied: int  # how many replacements it made in this graph
    points: int
    compared: int  # points where both graphs were finite
    value_error: float  # the largest relative difference, rewritten vs as written, where both are finite
    gradient_error: float
    # ok: where both are finite, the rewritten value and gradients are no further from the long-double
    # reference than the graph as written is (plus AGREE), and it is finite wherever the written one is
    finite_as_written: int
    finite_rewritten: int
    error_as_written: float  # the largest relative error against the long-double reference (finite points)
    error_rewritten: float
    ok: bool

    @property
    def gain(self) -> float:
        """How many times more accurate the rewritten graph is than the graph as written."""
        return self.error_as_written / self.error_rewritten if self.error_rewritten else float("inf")


@dataclass
class AuditReport:
    rewrites: list[RewriteAudit]
    scales: list[float]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rewrites)

    def __str__(self) -> str:
        rows = [["rewrite", "applied", "agree", "value diff", "grad diff", "finite written/rewritten",
                 "error written", "error rewritten", "gain"]]
        for r in self.rewrites:
            rows.append([r.name, r.applied, "yes" if r.ok else "NO", f"{r.value_error:.1e}", f"{r.gradient_error:.1e}",
                         f"{r.finite_as_written}/{r.finite_rewritten} of {r.points}", f"{r.error_as_written:.1e}",
                         f"{r.error_rewritten:.1e}", f"{r.gain:.3g}x"])
        return "\n".join([f"rewrite audit {'passed' if self.ok else 'FAILED'} over inputs scaled by "
                          f"{', '.join(f'{s:g}' for s in self.scales)} (errors against a long-double reference)"]
                         + text_table(rows, indent="  "))


AGREE = 1e-9  # a rewrite keeps the function: it may be this much (relative) further from the truth, no more


def audit_rewrites(g: Graph, feeds: Mapping[NodeOrName, Any] | None = None, wrt: Iterable[NodeOrName] | None = None,
                   scales: Sequence[float] = (1, 10, 100, 1000)) -> AuditReport:
    """For each rewrite applied to ``g``, compare it (alone) with the graph as written over a sweep.

    The sweep multiplies every feed and parameter by each of ``scales``. Values and
    gradients (with respect to ``wrt``, default the parameters) must agree to
    :data:`AGREE` wherever both graphs are finite; each is also measured against the
    graph as written evaluated in ``np.longdouble``, which shows what a stabilising
    rewrite gains.
    """
    output = g.outputs[0]
    leaves = list(g.parameters) if wrt is None else [g.node(n) for n in wrt]
    fed = {g.node(k): np.asarray(v, dtype=np.float64) for k, v in (feeds or {}).items()}
    written = _Variant(Graph(output, rewrites=False), output, leaves)
    reference = [output, *grad(output, leaves)]  # the graph as written and its gradient, run in long double
    audits = []
    names = list(dict.fromkeys(name for name, _, _ in g.rewrites_applied))
    for name in names:
        alone = Graph(output, disable=[n for n in REWRITES if n != name])
        variant = _Variant(alone, output, leaves)
        value_diff = grad_diff = 0.0
        err_written = err_rewritten = 0.0
        finite_w = finite_r = compared = 0
        ok = True
        for scale in scales:
            point = {**{k: v * scale for k, v in fed.items()},
                     **{p: np.asarray(p.value, dtype=np.float64) * scale for p in leaves if isinstance(p, Parameter)}}
            a, b = written.run(point), variant.run(point)
            exact = _long_double(reference, point)
            fa, fb = all(np.all(np.isfinite(x)) for x in a), all(np.all(np.isfinite(x)) for x in b)
            finite_w, finite_r = finite_w + fa, finite_r + fb
            known = all(np.all(np.isfinite(x)) for x in exact)
            if fa and fb:
                compared += 1
                value_diff = max(value_diff, _relative(b[0], a[0]))
                grad_diff = max(grad_diff, max((_relative(y, x) for x, y in zip(a[1:], b[1:], strict=True)),
                                               default=0.0))
                # The rewritten graph may differ from the graph as written only by being closer to the truth.
                for x, y, e in zip(a, b, exact, strict=True):
                    allowed = (_relative(x, e) if known else 0.0) + AGREE
                    ok = ok and _relative(y, e if known else x) <= allowed
            if known and fa:
                err_written = max(err_written, _relative(a[0], exact[0]))
            if known and fb:
                err_rewritten = max(err_rewritten, _relative(b[0], exact[0]))
        applied = sum(1 for n, _, _ in g.rewrites_applied if n == name)
        ok = ok and finite_r >= finite_w
        audits.append(RewriteAudit(name, applied, len(scales), compared, value_diff, grad_diff, finite_w, finite_r,
                                   err_written, err_rewritten, ok))
    return AuditReport(audits, [float(s) for s in scales])


class _Variant:
    """A graph and its gradient, run at a point given as values for its leaves."""

    def __init__(self, graph: Graph, output: Node, leaves: Sequence[Node]):
        self.graph, self.output, self.leaves = graph, output, leaves

    def run(self, point: Mapping[Node, np.ndarray]) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            value = self.graph.forward({n: v for n, v in point.items() if not isinstance(n, Parameter)} |
                                       {p: v for p, v in point.items() if isinstance(p, Parameter)})
            value = value[0] if isinstance(value, tuple) else value
            grads = self.graph.backward(self.leaves, output=self.output)
        return [np.asarray(value, dtype=np.float64)] + [np.asarray(grads[n], dtype=np.float64) for n in self.leaves]


def _long_double(outputs: Sequence[Node], point: Mapping[Node, np.ndarray]) -> list[np.ndarray]:
    """``outputs`` as written, evaluated op by op in np.longdouble: the reference."""
    values: dict[Node, Any] = {}
    with np.errstate(all="ignore"):
        for node in topological_order(outputs):
            if node in point:
                values[node] = np.asarray(point[node], dtype=np.longdouble)
            elif node.op is None:
                values[node] = np.asarray(node.value, dtype=np.longdouble) if not isinstance(node, Placeholder) \
                    else np.asarray(point[node], dtype=np.longdouble)
            else:
                values[node] = node.op.forward(*(values[i] for i in node.inputs))
    return [np.asarray(values[o], dtype=np.longdouble) for o in outputs]


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.longdouble), np.asarray(b, dtype=np.longdouble)
    scale = np.maximum(np.abs(b), np.finfo(np.float64).tiny)
    with np.errstate(all="ignore"):
        error = np.abs(a - b) / scale
    return float(np.max(np.where(np.isfinite(error), error, np.inf))) if error.size else 0.0
