"""Gradient checking: does a graph's backward agree with its forward?

:func:`gradcheck` compares the analytic gradient (one forward, one backward)
with central differences of the forward, ``(f(x + h) - f(x - h)) / 2h``, and
explains what it finds: the worst elements, the node they belong to, the
likely cause when the error has a recognisable pattern (a factor 2, a sign, the
batch size, a transpose), and which op's backward disagrees with its own
forward. :func:`step_study` sweeps the step ``h`` and shows the V-shaped curve
of error against step: truncation error on the right (∝ h²), floating-point
round-off on the left (∝ 1/h).

Checks always run in float64, on a float64 copy of the graph: a float32 graph
is checked for its math, not for float32 round-off, and the graph's own
parameters are never touched, even if a run fails half-way.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import inspection, ops
from .errors import FeedError, GradientError
from .files import atomic_write
from .grad import grad
from .graph import Graph
from .inspection import text_table
from .node import Constant, Node, Parameter, Placeholder, placeholder, topological_order
from .shapes import format_shape

__all__ = [
    "ATOL", "RTOL", "BUDGET_SAFETY", "DEFAULT_STEP", "ElementError", "GradcheckReport", "NodeCheck", "Projection",
    "StepStudy", "Suspect", "gradcheck", "step_study",
]

DEFAULT_STEP = float(np.cbrt(np.finfo(np.float64).eps))  # ≈ 6.1e-6: balances h² truncation and eps/h round-off
ATOL = 1e-6  # an element passes when |analytic - numeric| <= ATOL + RTOL * |numeric|
RTOL = 1e-5
BUDGET_SAFETY = 3.0  # gradcheck(dtype=...): a budget is this times the predicted error (estimates, not bounds)

NodeOrName = Node | str


# --- what a check finds ----------------------------------------------------------

@dataclass(frozen=True)
class ElementError:
    """One checked element: where it is and how analytic and numeric compare."""

    node: str
    index: tuple[int, ...]
    analytic: float
    numeric: float
    abs_error: float
    tolerance: float  # atol + rtol * |numeric|, or with dtype=..., the element's rounding budget
    kink: str | None = None  # set when the perturbation crossed a kink: the numeric value means nothing

    @property
    def ok(self) -> bool:
        return self.kink is not None or self.abs_error <= self.tolerance

    @property
    def relative_error(self) -> float:
        """|a - n| / (|a| + |n|), the course's metric for one element."""
        total = abs(self.analytic) + abs(self.numeric)
        return self.abs_error / total if total else 0.0


@dataclass(frozen=True)
class Projection:
    """Fast mode: the analytic and numeric derivative of the output along one random direction."""

    node: str
    analytic: float
    numeric: float
    abs_error: float
    tolerance: float
    kink: str | None = None
    shape: tuple[int, ...] = ()
    direction: tuple[float, ...] = ()  # the direction drawn, flattened: gradcheck(directions=...) replays it

    @property
    def ok(self) -> bool:
        return self.kink is not None or self.abs_error <= self.tolerance

    def direction_array(self) -> np.ndarray:
        return np.array(self.direction, dtype=np.float64).reshape(self.shape)


@dataclass(frozen=True)
class NodeCheck:
    """The verdict for one node checked (a parameter or a placeholder)."""

    name: str
    shape: tuple[int, ...]
    checked: int  # how many elements or projections (see ``unit``) the verdict rests on, kinks excluded
    unit: str  # "elements" or "projections"
    failed: int
    kinks: int
    relative_error: float
    max_abs_error: float
    cause: str | None = None
    error_ratio: float = 0.0  # the largest |a - n| / tolerance (with dtype=...: observed error ÷ budget)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and (self.checked > 0 or self.kinks == 0)


@dataclass(frozen=True)
class Suspect:
    """An op whose backward disagrees with central differences of its own forward."""

    node: str
    op: str
    where: str
    input_index: int
    input_name: str
    analytic: float
    numeric: float
    cause: str | None = None


@dataclass
class GradcheckReport:
    """What :func:`gradcheck` found. ``str(report)`` is a readable table.

    Attributes:
        ok: every checked element (full) or projection (fast) is within tolerance.
        relative_error: ‖a − n‖₂ / (‖a‖₂ + ‖n‖₂) over everything checked (the course's
            metric: below 1e-7 is great, above 1e-3 is almost certainly a bug).
        max_abs_error: the largest |a − n|.
        worst: the worst elements, worst first (by error over tolerance).
        kinks: elements (or projections) whose perturbation crossed a kink; not counted as errors.
        nodes: one :class:`NodeCheck` per node checked.
        projections: fast mode's random-direction checks.
        suspects: ops whose backward disagrees with their own forward (only looked for on failure).
        causes: likely causes, in words.
        forward_runs / backward_runs: how many times the graph ran.
    """

    ok: bool
    mode: str
    relative_error: float
    max_abs_error: float
    worst: list[ElementError]
    kinks: list[ElementError | Projection]
    nodes: list[NodeCheck]
    projections: list[Projection]
    suspects: list[Suspect]
    causes: list[str]
    forward_runs: int
    backward_runs: int
    seconds: float
    step: float
    atol: float
    rtol: float
    dtype: str
    elements: int  # elements checked one by one
    order: int = 1  # 2: the second derivatives (the gradient of <gradient, u> for a fixed random u)
    checks: list[ElementError] = field(default_factory=list)  # every element checked, in the order checked
    seed: int | None = None  # the seed used (drawn and recorded when gradcheck got seed=None)
    checked_dtype: str = "float64"  # the dtype the check ran in
    budget: bool = False  # True: judged against rounding budgets (dtype=...), not atol/rtol

    def __repr__(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        return (f"<GradcheckReport {verdict} mode={self.mode} relative_error={self.relative_error:.2e} "
                f"max_abs_error={self.max_abs_error:.2e} forward_runs={self.forward_runs}>")

    def __str__(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        if self.checked_dtype == self.dtype:
            dtype = self.dtype
        else:
            dtype = f"a {self.checked_dtype} copy of a {self.dtype} graph"
        order = ", second derivatives" if self.order == 2 else ""
        rule = ("pass if |a-n| <= its rounding budget" if self.budget
                else f"pass if |a-n| <= {self.atol:g} + {self.rtol:g}*|n|")
        lines = [
            f"gradcheck {verdict}  (mode {self.mode}{order}, {dtype}, step {self.step:.2g}*max(|x|,1), {rule})",
            f"  relative error ||a-n|| / (||a|| + ||n||) = {self.relative_error:.2e}    "
            f"max |a-n| = {self.max_abs_error:.2e}",
            f"  {self.forward_runs} forward runs, {self.backward_runs} backward, {self.seconds:.3g} s",
            "",
        ]
        ratio = "error/budget" if self.budget else "error/tol"
        lines += text_table(
            [["node", "shape", "checked", "failed", "kinks", "rel. error", "max |a-n|", ratio]]
            + [[n.name, format_shape(n.shape), f"{n.checked} {n.unit[:-1] if n.checked == 1 else n.unit}", n.failed,
              n.kinks, f"{n.relative_error:.2e}", f"{n.max_abs_error:.2e}", f"{n.error_ratio:.3g}"]
               for n in self.nodes],
            indent="  ",
        )
        if self.worst:
            lines += ["", "worst elements" if self.ok else "worst elements (x: outside tolerance)"]
            lines += text_table(
                [["node", "index", "analytic", "numeric", "|a-n|", "budget" if self.budget else "tolerance", ""]]
                + [[e.node, _format_index(e.index), f"{e.analytic: .6e}", f"{e.numeric: .6e}", f"{e.abs_error:.2e}",
                  f"{e.tolerance:.2e}", "" if e.ok else "x"] for e in self.worst],
                indent="  ",
            )
        if self.kinks:
            lines += ["", f"kinks: {len(self.kinks)} perturbation(s) crossed a point where an op is not "
                          "differentiable; their numeric values mean nothing and are not counted as errors"]
            lines += [f"  {k.node}{_format_index(k.index) if isinstance(k, ElementError) else ' (a direction)'}: "
                      f"{k.kink}" for k in self.kinks[:3]]
        if self.causes:
            lines += ["", "likely cause"] + [f"  - {cause}" for cause in self.causes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # Jupyter shows the report as tables
        return inspection.gradcheck_html(self)


    # --- saved and loaded ---------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradcheckReport:
        data = dict(data)

        def element(d: Mapping) -> ElementError:
            return ElementError(**{**d, "index": tuple(d["index"])})

        def projection(d: Mapping) -> Projection:
            return Projection(**{**d, "shape": tuple(d["shape"]), "direction": tuple(d["direction"])})

        data["worst"] = [element(d) for d in data["worst"]]
        data["checks"] = [element(d) for d in data["checks"]]
        data["kinks"] = [element(d) if "index" in d else projection(d) for d in data["kinks"]]
        data["projections"] = [projection(d) for d in data["projections"]]
        data["nodes"] = [NodeCheck(**{**d, "shape": tuple(d["shape"])}) for d in data["nodes"]]
        data["suspects"] = [Suspect(**d) for d in data["suspects"]]
        return cls(**data)

    def to_json(self, path: str | os.PathLike) -> str:
        """Save the report (seed, step, dtypes, every element and direction checked) as JSON, atomically."""
        return write_json(path, "gradcheck", self.to_dict())

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> GradcheckReport:
        return cls.from_dict(read_json(path, "gradcheck"))


def write_json(path: str | os.PathLike, kind: str, data: Mapping[str, Any]) -> str:
    """Write a report's fields as one JSON object saying its ``kind``, atomically. Returns the path."""
    path = os.fspath(path)
    text = json.dumps({"kind": kind, "format": 1, **data}, indent=1)
    with atomic_write(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def read_json(path: str | os.PathLike, kind: str) -> dict:
    """A report's fields from ``path``, which must hold a report of ``kind``."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a tinygraph report: {error}") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        found = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path} holds a {found!r} report, not a {kind!r} one")
    data.pop("format", None)
    data.pop("kind")
    return data


def _format_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


# --- a float64 copy of the graph ---------------------------------------------------

class Twin:
    """A copy, in one dtype (float64 unless told), of the part of a graph that computes one output.

    It shares the graph's op instances but has its own parameter values and
    feeds, so perturbing them can never leave the user's graph changed.
    """

    def __init__(self, g: Graph, output: NodeOrName | None, feeds: Mapping[NodeOrName, Any] | None,
                 grad_output: Any, dtype: Any = np.float64):
        source = g.node(output if output is not None else g.outputs[0])
        self.dtype = str(source.dtype)  # the graph's own
        self.run_dtype = np.dtype(dtype)  # the copy's
        self.of: dict[Node, Node] = {}
        for node in topological_order([source]):
            if isinstance(node, Parameter):
                twin: Node = Parameter(np.array(node.value, dtype=dtype), node.name)
            elif isinstance(node, Placeholder):
                twin = Placeholder(None, (), node.shape, dtype, node.name)
            elif isinstance(node, Constant):
                twin = Constant(np.asarray(node.value, dtype=dtype), node.name)
            else:
                twin = node.op(*(self.of[i] for i in node.inputs), name=node.name)
            twin.trace = node.trace
            self.of[node] = twin
        self.source = g
        self.graph = Graph(self.of[source], rewrites=False)
        self.feeds = self._convert_feeds(g, feeds or {})
        self.grad_output = None if grad_output is None else np.asarray(grad_output, dtype=np.float64)
        self.kinked = [(n, j, float(k)) for n in self.graph.nodes if n.op is not None
                       for k in n.op.kinks for j in range(len(n.inputs))]
        self.forward_runs = 0

    def _convert_feeds(self, g: Graph, feeds: Mapping[NodeOrName, Any]) -> dict[Any, np.ndarray]:
        """Feeds keyed by twin placeholders, converted to the copy's dtype once (not in every run)."""
        twins_by_name = {p.name: p for p in self.graph.placeholders}
        other_outputs = {p.name for p in g.placeholders} - set(twins_by_name)
        converted: dict[Any, np.ndarray] = {}
        for key, value in feeds.items():
            if isinstance(key, str):
                if key in other_outputs:
                    continue  # feeds another output of the graph, not the one checked
                target: Any = twins_by_name.get(key, key)
            else:
                if key in g.placeholders and key not in self.of:
                    continue
                target = self.of.get(key, key)  # an unknown node stays: the run names it in a FeedError
            try:
                converted[target] = np.asarray(value, dtype=self.run_dtype)
            except (TypeError, ValueError) as error:
                raise FeedError(f"feed {getattr(key, 'name', key)!r} cannot be converted to "
                                f"{self.run_dtype}: {error}") from None
        return converted

    def leaf(self, g: Graph, item: NodeOrName) -> Node:
        """The twin of a parameter or placeholder named by the user, with a private array to perturb."""
        try:
            node = g.node(item)
        except KeyError as error:
            raise ValueError(f"gradcheck: {error.args[0]}") from None
        twin = self.of.get(node)
        if twin is None:
            raise ValueError(f"gradcheck: the checked output does not depend on {node.name!r}")
        if isinstance(twin, Placeholder):
            if twin not in self.feeds:
                raise FeedError(f"placeholder {twin.name!r} is checked but was not fed")
            self.feeds[twin] = np.array(self.feeds[twin], dtype=self.run_dtype)  # a private copy to perturb
        elif not isinstance(twin, Parameter):
            raise ValueError(
                f"gradcheck perturbs parameters and placeholders; {node.name!r} is a {node.kind} node "
                f"(built at {node.where()})"
            )
        return twin

    def array(self, leaf: Node) -> np.ndarray:
        return leaf.value if isinstance(leaf, Parameter) else self.feeds[leaf]

    def batch_sizes(self) -> list[int]:
        """Sizes fed along the placeholders' ``None`` axes: what 'off by the batch size' means here."""
        sizes = set()
        for p in self.graph.placeholders:
            value = self.feeds.get(p)
            if value is not None and value.ndim == len(p.shape):
                sizes.update(value.shape[i] for i, d in enumerate(p.shape) if d is None and value.shape[i] > 1)
        return sorted(sizes)

    def evaluate(self) -> float:
        """One forward run, reduced to the scalar being differentiated."""
        self.forward_runs += 1
        y = self.graph.forward(self.feeds)
        if self.grad_output is None:
            return float(np.asarray(y).reshape(-1)[0]) if np.size(y) == 1 else float("nan")
        return float(np.vdot(self.grad_output, y))

    def kink_signs(self) -> list[np.ndarray]:
        return [np.sign(self.graph.value(node.inputs[j]) - k) for node, j, k in self.kinked]

    def crossed(self, before: list[np.ndarray], after: list[np.ndarray]) -> str | None:
        """Say which kink a perturbation crossed, if any: sides that differ between x - h and x + h."""
        for (node, j, k), s0, s1 in zip(self.kinked, before, after, strict=True):
            if np.shape(s0) == np.shape(s1) and np.any(s0 != s1):
                return (f"{node.name} ({node.op.name}, built at {node.where()}): "
                        f"input {j} ({node.inputs[j].name}) crosses the kink at {k:g}")
        return None

    def central(self, arr: np.ndarray, index: int, step: float) -> tuple[float, str | None]:
        """Central difference along one element, and the kink it crossed (if any)."""
        x0 = arr.flat[index]  # a scalar of the array's dtype: x0 ± h are rounded to it
        kind = arr.dtype.type
        xp = kind(x0 + kind(step * max(abs(float(x0)), 1.0)))
        xm = kind(x0 - (xp - x0))  # xp - x0 is exact: a step that x0 + h represents (Numerical Recipes' trick)
        try:
            arr.flat[index] = xp
            fp, kp = self.evaluate(), self.kink_signs()
            arr.flat[index] = xm
            fm, km = self.evaluate(), self.kink_signs()
        finally:
            arr.flat[index] = x0  # exactly the value before
        return (fp - fm) / (float(xp) - float(xm)), self.crossed(km, kp)  # over the distance travelled

    def along(self, arr: np.ndarray, direction: np.ndarray) -> tuple[float, np.ndarray, str | None]:
        """``f(x + v) - f(x - v)``, the displacement actually taken (after rounding), and any kink crossed."""
        x0 = arr.copy()
        try:
            np.add(x0, direction, out=arr, casting="same_kind")
            fp, kp = self.evaluate(), self.kink_signs()
            displacement = arr.astype(np.float64)
            np.subtract(x0, direction, out=arr, casting="same_kind")
            fm, km = self.evaluate(), self.kink_signs()
            displacement -= arr
        finally:
            arr[...] = x0
        return fp - fm, displacement, self.crossed(km, kp)


# --- recognising what went wrong ------------------------------------------------------

def _name_factor(c: float, batch_sizes: Sequence[int]) -> str:
    """Words for 'analytic = c × numeric'."""
    def near(target: float) -> bool:
        return abs(c - target) <= 1e-6 * abs(target)

    names = []
    if near(2.0):
        names.append("analytic = 2 x numeric: twice the true gradient (a rule's factor doubled, or a "
                     "gradient counted twice: accumulated twice, or `+=` into an array another path uses)")
    elif near(0.5):
        names.append("analytic = numeric / 2: half the true gradient (a rule's factor halved, or a node "
                     "used twice whose second contribution is not added)")
    elif near(-1.0):
        names.append("analytic = -numeric: a sign flipped in a backward rule")
    for m in batch_sizes:
        if near(m):
            names.append(f"analytic = {m} x numeric, and {m} is the batch size: "
                         "a 1/m missing in backward (a mean differentiated like a sum)")
        elif near(1.0 / m):
            names.append(f"analytic = numeric / {m}, and {m} is the batch size: "
                         "divided by the batch size once too often")
    if names:
        return "; or ".join(names)
    if abs(c - 1.0) < 1e-3:
        return (f"analytic = {c:.9g} x numeric: nearly right; a tolerance or step question more than a bug "
                "(see step_study)")
    return f"analytic = {c:.6g} x numeric everywhere: a constant factor is wrong in a backward rule"


def _likely_cause(
    gradient: np.ndarray,
    analytic: np.ndarray,
    numeric: np.ndarray,
    matches: Callable[[np.ndarray], bool],
    batch_sizes: Sequence[int],
) -> str | None:
    """The pattern behind a failed check, if there is one.

    ``analytic``/``numeric`` are the compared values (elements or projections);
    ``matches(candidate)`` says whether a corrected full gradient would pass.
    """
    if analytic.size == 0:
        return None
    scale = np.max(np.abs(numeric))
    if not np.any(analytic) and scale > 0:
        return ("analytic is zero but numeric is not: the gradient never reaches this node "
                "(a backward returned None or zeros for it)")
    if scale == 0 or np.linalg.norm(numeric) <= 1e-9 * np.linalg.norm(analytic):
        return ("numeric is zero but analytic is not: the output does not depend on this node "
                "the way backward claims")
    if gradient.ndim == 2 and gradient.shape[0] == gradient.shape[1] > 1 and matches(gradient.T):
        return "analytic = numeric transposed: a transposed gradient (e.g. g @ b where g @ b.T was meant)"
    c = float(np.vdot(analytic, numeric) / np.vdot(numeric, numeric))
    if c != 0 and np.isfinite(c) and matches(gradient / c):
        return _name_factor(c, batch_sizes)
    return None


def _within(analytic: np.ndarray, numeric: np.ndarray, tolerance: Any) -> np.ndarray:
    return np.abs(analytic - numeric) <= tolerance


def _relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    total = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / total) if total else 0.0


def _max_abs(analytic: np.ndarray, numeric: np.ndarray) -> float:
    return float(np.max(np.abs(analytic - numeric))) if np.size(analytic) else 0.0


# --- the check ------------------------------------------------------------------------

@dataclass
class _NodeResult:
    """Everything measured on one node, before it becomes report rows."""

    leaf: Node
    gradient: np.ndarray
    indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    numeric: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kinks: list[str | None] = field(default_factory=list)
    tolerances: np.ndarray = field(default_factory=lambda: np.zeros(0))  # one per checked element
    # (analytic, numeric, unit, kink, tolerance, direction): derivatives along x ± h·(2·unit)/2, where
    # unit = displacement / 2h; direction is the unit vector u drawn (x moves by h·max(|x|, 1)·u)
    projections: list[tuple[float, float, np.ndarray, str | None, float, np.ndarray]] = field(default_factory=list)

    def clean_projections(self) -> list[tuple[float, float, np.ndarray, str | None, float, np.ndarray]]:
        return [p for p in self.projections if p[3] is None]

    def evidence(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable]:
        """What the verdict rests on: the projections that crossed no kink if there are
        any (fast mode), else the single elements that crossed none.

        Returns ``(analytic, numeric, tolerance, matches)``; ``matches(candidate)`` says
        whether a corrected gradient of the node's shape would agree with that evidence.
        """
        clean = self.clean_projections()
        if clean:
            n = np.array([p[1] for p in clean])
            tolerance = np.array([p[4] for p in clean])
            units = [p[2] for p in clean]

            def matches(candidate: np.ndarray) -> bool:
                along = np.array([np.vdot(candidate, unit) for unit in units])
                return bool(np.all(_within(along, n, tolerance)))

            return np.array([p[0] for p in clean]), n, tolerance, matches
        kept = np.array([k is None for k in self.kinks], dtype=bool)
        indices, n, tolerance = self.indices[kept], self.numeric[kept], self.tolerances[kept]

        def matches(candidate: np.ndarray) -> bool:
            return bool(np.all(_within(candidate.reshape(-1)[indices], n, tolerance)))

        return self.gradient.reshape(-1)[indices], n, tolerance, matches


class _Tolerance:
    """float64's verdict: an element passes when ``|a - n| <= atol + rtol * |n|``."""

    def __init__(self, atol: float, rtol: float):
        self.atol, self.rtol = atol, rtol

    def element(self, result: _NodeResult, index: int, numeric: float, step: float) -> float:
        return self.atol + self.rtol * abs(numeric)

    def projection(self, result: _NodeResult, direction: np.ndarray, unit: np.ndarray, numeric: float,
                   step: float) -> float:
        return self.atol + self.rtol * abs(numeric)


class _Budget:
    """A lower precision's verdict: the error a correct gradient can show, predicted element by element.

    Three parts, each estimated without the analytic gradient under test:

    - the numeric derivative's round-off, ``e_f / h``, where ``e_f`` is the forward's
      rounding error: each op adds ``eps·|y|`` and passes its inputs' errors on
      through its own conditioning (``|op(x + s·e) - op(x)|`` in float64 for random
      signs ``s``, the probabilistic model of rounding: errors of random sign);
    - its truncation error, by Richardson: ``|n(h) - n(2h)| / 3`` from float64 runs;
    - the analytic gradient's round-off: the same propagation through the gradient graph.

    Their sum, times :data:`BUDGET_SAFETY`, is the element's budget.
    """

    def __init__(self, twin: Twin, leaves: Sequence[Node], rng: np.random.Generator):
        self.eps = float(np.finfo(twin.run_dtype).eps)
        # The same function in float64: a copy of the low-precision copy, so constants and values match bit for bit.
        self.twin64 = Twin(twin.graph, None, twin.feeds, twin.grad_output)
        self.leaf64 = {leaf: self.twin64.leaf(twin.graph, leaf) for leaf in leaves}
        out = self.twin64.graph.outputs[0]
        upstream = None if twin.grad_output is None else twin.grad_output
        grads = grad(out, list(self.leaf64.values()), upstream)
        everything = Graph([out, *grads], rewrites=False)
        everything.forward(self.twin64.feeds)
        errors = rounding_errors([out, *grads], everything.value, self.eps, rng)
        weight = np.ones(np.shape(everything.value(out))) if upstream is None else np.abs(upstream)
        self.forward_error = float(np.vdot(weight, errors[out]))
        self.gradient_errors = {leaf: errors[gradient] for leaf, gradient in zip(leaves, grads, strict=True)}

    def element(self, result: _NodeResult, index: int, numeric: float, step: float) -> float:
        leaf = result.leaf
        arr = self.twin64.array(self.leaf64[leaf])
        n1, _ = self.twin64.central(arr, index, step)
        n2, _ = self.twin64.central(arr, index, 2 * step)
        h = step * max(abs(float(arr.flat[index])), 1.0)
        return BUDGET_SAFETY * (self.forward_error / h + abs(n1 - n2) / 3
                                + float(self.gradient_errors[leaf].flat[index]))

    def projection(self, result: _NodeResult, direction: np.ndarray, unit: np.ndarray, numeric: float,
                   step: float) -> float:
        leaf = result.leaf
        arr = self.twin64.array(self.leaf64[leaf])
        d1, _, _ = self.twin64.along(arr, direction)
        d2, _, _ = self.twin64.along(arr, 2 * direction)
        truncation = abs(d1 / (2 * step) - d2 / (4 * step)) / 3
        return BUDGET_SAFETY * (self.forward_error / step + truncation
                                + float(np.vdot(self.gradient_errors[leaf], np.abs(unit))))


def rounding_errors(outputs: Sequence[Node], value: Callable[[Node], np.ndarray], eps: float,
                    rng: np.random.Generator, samples: int = 3) -> dict[Node, np.ndarray]:
    """Each node's rounding error if it were computed with unit round-off ``eps/2``: a first-order estimate.

    ``value(node)`` gives the exact-enough (float64) values. A leaf is exact; an op
    node's error is ``eps·|y|`` (its own rounding) plus, for each input, how far the
    op moves when that input moves by its error with random signs (the largest of
    ``samples`` draws): the op's conditioning, measured by the op itself.
    """
    errors: dict[Node, np.ndarray] = {}
    for node in topological_order(outputs):
        y = np.asarray(value(node), dtype=np.float64)
        if node.op is None or not node.op.differentiable:
            errors[node] = np.zeros(np.shape(y))  # leaves are exact; a comparison's 0/1 is exact
            continue
        if not node.op.pure:
            raise ValueError(f"gradcheck(dtype=...) needs pure ops; {node.name} ({node.op!r}, built at "
                             f"{node.where()}) draws new values on every run")
        inputs = [np.asarray(value(i)) for i in node.inputs]
        error = eps * np.abs(y)
        for j, i in enumerate(node.inputs):
            incoming = errors[i]
            if not np.issubdtype(inputs[j].dtype, np.floating) or not np.any(incoming):
                continue
            moved = np.zeros(np.shape(y))
            for _ in range(samples):
                signs = rng.choice((-1.0, 1.0), size=np.shape(incoming))
                shifted = node.op.forward(*inputs[:j], inputs[j] + signs * incoming, *inputs[j + 1:])
                moved = np.maximum(moved, np.abs(np.asarray(shifted, dtype=np.float64) - y))
            error = error + moved
        errors[node] = error
    return errors


def gradcheck(
    g: Graph,
    feeds: Mapping[NodeOrName, Any] | None = None,
    wrt: Iterable[NodeOrName] | None = None,
    *,
    mode: str = "full",
    step: float | None = None,
    atol: float = ATOL,
    rtol: float = RTOL,
    sample: int | None = None,
    projections: int = 3,
    worst: int = 5,
    output: NodeOrName | None = None,
    grad_output: Any = None,
    seed: int | None = 0,
    order: int = 1,
    dtype: Any = None,
    directions: Mapping[NodeOrName, Any] | None = None,
) -> GradcheckReport:
    """Compare ``g.backward`` with central differences of ``g.forward``, in float64.

    Args:
        g: the graph; its output (or ``output``) must be a scalar unless ``grad_output`` is given.
        feeds: what ``g.forward`` needs.
        wrt: parameters and placeholders (nodes or names) to check; default every
            parameter the output depends on.
        mode: ``"full"`` perturbs every element (two forward runs each);
            ``"fast"`` checks ``projections`` random directions per node (two runs
            each, however many elements the node has) and, when one fails,
            narrows down to the node's worst elements.
        step: base step ``h``; element ``x`` moves by ``h * max(|x|, 1)``, adjusted
            so that ``x + h`` is exact. Default: the cube root of float64 epsilon.
        atol, rtol: an element passes when ``|a - n| <= atol + rtol * |n|``
            (defaults 1e-6 and 1e-5).
        sample: full mode: check at most this many randomly chosen elements per node.
        projections: fast mode: random directions per node.
        worst: how many worst elements to report.
        output: which output of a multi-output graph (default: the first).
        grad_output: for a non-scalar output, check ``sum(grad_output * output)``.
        seed: seeds the random choices (directions, samples); ``None`` for fresh ones.
        order: 2 checks second derivatives (a "gradgradcheck"): the gradient graph's own
            gradient, of ``<gradient, u>`` for a fixed random ``u``, against central
            differences of the gradient; the report and diagnosis are the same.
        dtype: ``None`` checks a float64 copy (the math). ``np.float32`` or ``np.float16``
            runs the copy in that dtype, steps by ``∛eps`` of it, and judges each element
            against a budget of the rounding and truncation error a correct gradient can
            show there (see :class:`_Budget`); ``atol``/``rtol`` are then not used.
        directions: fast mode: ``{node or name: [array, ...]}`` the directions to check
            instead of random ones (a report's ``directions``: a replay).

    Returns a :class:`GradcheckReport`. The graph's parameters are left exactly as they were.
    """
    if order not in (1, 2):
        raise ValueError(f"gradcheck order must be 1 or 2, got {order!r}")
    if seed is None:  # fresh randomness, but recorded: the report can be replayed exactly
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    if order == 2:
        options = dict(mode=mode, step=step, atol=atol, rtol=rtol, sample=sample, projections=projections,
                       worst=worst, seed=seed, dtype=dtype, directions=directions)
        first, checked = _first_derivatives(g, feeds, wrt, output, grad_output, np.random.default_rng(seed))
        report = gradcheck(first, feeds, checked, **options)
        report.order = 2
        return report
    if mode not in ("full", "fast"):
        raise ValueError(f"gradcheck mode must be 'full' or 'fast', got {mode!r}")
    run_dtype = np.dtype(np.float64 if dtype is None else dtype)
    if not np.issubdtype(run_dtype, np.floating):
        raise ValueError(f"gradcheck dtype must be a floating dtype (np.float16, np.float32, np.float64), "
                         f"got {dtype!r}")
    started = time.perf_counter()
    step = float(np.cbrt(np.finfo(run_dtype).eps)) if step is None else float(step)
    if not step > 0:
        raise ValueError(f"gradcheck step must be positive, got {step!r}")
    rng = np.random.default_rng(seed)  # the directions and samples drawn
    # Their own streams for what comes after, so a replay with given directions repeats them too.
    later, budget_rng = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    twin = Twin(g, output, feeds, grad_output, run_dtype)
    _refuse_random_ops(twin.graph)
    leaves = checked_leaves(g, twin, wrt)
    given = _given_directions(g, twin, leaves, directions)
    judge = _Tolerance(atol, rtol) if dtype is None else _Budget(twin, leaves, budget_rng)

    twin.evaluate()
    analytic = twin.graph.backward(leaves, grad_output=twin.grad_output)
    results = [_NodeResult(leaf, np.asarray(analytic[leaf], dtype=np.float64)) for leaf in leaves]

    for result in results:
        if mode == "full":
            size = result.gradient.size
            chosen = np.arange(size) if sample is None or sample >= size else np.sort(
                rng.choice(size, sample, replace=False))
            _check_elements(twin, result, chosen, step, judge)
        else:
            units = given.get(result.leaf)
            if units is None:
                units = [rng.standard_normal(result.gradient.shape) for _ in range(projections)]
            _check_projections(twin, result, units, step, judge)
            clean = result.clean_projections()
            if any(abs(a - n) > tol for a, n, _, _, tol, _ in clean):
                _narrow_down(twin, result, step, worst, later, judge)
            elif not clean and result.gradient.size:  # every direction crossed a kink: check single elements
                chosen = later.choice(result.gradient.size, min(2 * worst, result.gradient.size), replace=False)
                _check_elements(twin, result, np.sort(chosen), step, judge)

    report = _report(twin, results, mode, step, atol, rtol, worst)
    report.seed, report.checked_dtype, report.budget = seed, str(run_dtype), dtype is not None
    if not report.ok:
        # Which op is wrong is a question about the math: asked in float64, with float64's tolerances.
        math = twin if dtype is None else judge.twin64
        math_leaves = leaves if dtype is None else list(judge.leaf64.values())
        report.suspects = _find_suspects(math, math_leaves, DEFAULT_STEP if dtype is not None else step,
                                         atol, rtol, later, twin.batch_sizes())
        report.causes += [_describe_suspect(s) for s in report.suspects]
    report.forward_runs = twin.forward_runs + (0 if dtype is None else judge.twin64.forward_runs)
    report.seconds = time.perf_counter() - started
    return report


def _given_directions(g: Graph, twin: Twin, leaves: Sequence[Node],
                      directions: Mapping[NodeOrName, Any] | None) -> dict[Node, list[np.ndarray]]:
    """``directions=`` keyed by the checked twin leaves, each checked against its node's shape."""
    given: dict[Node, list[np.ndarray]] = {}
    for key, arrays in (directions or {}).items():
        leaf = twin.leaf(g, key)
        if leaf not in leaves:
            raise ValueError(f"gradcheck: directions given for {leaf.name!r}, which is not checked (wrt)")
        arrays = [np.asarray(a, dtype=np.float64) for a in (arrays if isinstance(arrays, (list, tuple))
                                                            else [arrays])]
        shape = np.shape(twin.array(leaf))
        for a in arrays:
            if a.shape != shape:
                raise ValueError(f"gradcheck: a direction for {leaf.name!r} has shape {format_shape(a.shape)}, "
                                 f"the node has {format_shape(shape)}")
        given[leaf] = arrays
    return given


def _refuse_random_ops(graph: Graph) -> None:
    """Finite differences of an op that draws anew on every run mean nothing: say so, and how to fix it."""
    for node in graph.nodes:
        if node.op is not None and not node.op.reproducible:
            raise GradientError(
                f"gradcheck: {node.name} ({node.op!r}, built at {node.where()}) is random: every run draws anew, "
                f"so central differences of the graph mean nothing. Fix its seed (tg.dropout(x, keep_prob, "
                f"seed=0) draws the same mask every run) or check the graph inside `with tg.training(False):`"
            )


def _first_derivatives(g: Graph, feeds: Mapping[NodeOrName, Any] | None, wrt: Iterable[NodeOrName] | None,
                       output: NodeOrName | None, grad_output: Any, rng: np.random.Generator) -> tuple[Graph, list]:
    """A graph of ``<∇f, u>`` for a fixed random ``u`` per checked node, and the nodes to check it for.

    Its gradient is the Hessian times ``u``: gradcheck of it checks second derivatives.
    """
    leaves = list(g.parameters) if wrt is None else [g.node(n) for n in ([wrt] if isinstance(wrt, (Node, str))
                                                                          else wrt)]
    g.forward(feeds)  # for the shapes the directions need
    out = g.node(output if output is not None else g.outputs[0])
    upstream = np.ones_like(g.value(out)) if grad_output is None else np.asarray(grad_output, dtype=out.dtype)
    grads = grad(out, leaves, upstream)
    total = None
    for leaf, gradient in zip(leaves, grads, strict=True):
        u = Constant(rng.standard_normal(np.shape(g.value(leaf))).astype(leaf.dtype), name=f"u_{leaf.name}")
        term = ops.sum(gradient * u)
        total = term if total is None else total + term
    reached = set(topological_order([total]))
    for leaf in leaves:  # a gradient that does not depend on a node (a linear op's): its second derivative is 0
        if leaf not in reached:
            total = total + ops.sum(leaf * 0.0)
    total.name = "<gradient, u>"
    return Graph(total, rewrites=False), leaves


def checked_leaves(g: Graph, twin: Twin, wrt: Iterable[NodeOrName] | None) -> list[Node]:
    if wrt is None:
        leaves = list(twin.graph.parameters)
    else:
        leaves = [twin.leaf(g, item) for item in ([wrt] if isinstance(wrt, (Node, str)) else wrt)]
    if not leaves:
        raise ValueError("gradcheck: nothing to check: the output depends on no parameter (pass wrt=...)")
    return list(dict.fromkeys(leaves))


def _check_elements(twin: Twin, result: _NodeResult, indices: np.ndarray, step: float,
                    judge: _Tolerance | _Budget) -> None:
    arr = twin.array(result.leaf)
    numeric = np.empty(len(indices))
    tolerances = np.empty(len(indices))
    kinks: list[str | None] = []
    for position, index in enumerate(indices):
        numeric[position], kink = twin.central(arr, int(index), step)
        tolerances[position] = judge.element(result, int(index), numeric[position], step)
        kinks.append(kink)
    result.indices = np.concatenate([result.indices, indices.astype(np.intp)])
    result.numeric = np.concatenate([result.numeric, numeric])
    result.tolerances = np.concatenate([result.tolerances, tolerances])
    result.kinks += kinks


def _check_projections(twin: Twin, result: _NodeResult, directions: Sequence[np.ndarray], step: float,
                       judge: _Tolerance | _Budget) -> None:
    arr = twin.array(result.leaf)
    if arr.size == 0:
        return
    scale = np.maximum(np.abs(arr), 1.0)
    for drawn in directions:
        u = drawn / np.linalg.norm(drawn)
        h = step
        difference, displacement, kink = twin.along(arr, h * scale * u)
        if kink:  # a value near a kink may be missed by a smaller step; one at the kink is not
            h = step / 64
            difference, displacement, kink = twin.along(arr, h * scale * u)
        # Both sides divided by 2h: derivatives along the direction, on the scale of one element.
        unit = displacement / (2 * h)
        numeric = difference / (2 * h)
        tolerance = judge.projection(result, h * scale * u, unit, numeric, h)
        result.projections.append((float(np.vdot(result.gradient, unit)), numeric, unit, kink, tolerance, drawn))


def _narrow_down(twin: Twin, result: _NodeResult, step: float, worst: int, rng: np.random.Generator,
                 judge: _Tolerance | _Budget) -> None:
    """A projection failed: find the node's worst elements without checking them all.

    Bisect the failing direction (two runs per halving, following the half whose
    error is larger), then check that element, the largest analytic elements and
    a few random ones one by one.
    """
    arr = twin.array(result.leaf)
    gradient = result.gradient
    worst_projection = max(
        (p for p in result.projections if not p[3]), key=lambda p: abs(p[0] - p[1]) / p[4])
    analytic, numeric, unit, _, _, _ = worst_projection
    direction = step * unit.reshape(-1)  # the direction that failed, moved along by x ± direction
    error = analytic - numeric
    remaining = rng.permutation(arr.size)  # random halves: an error pattern aligned with the layout cannot hide
    while remaining.size > 1:
        half, rest = remaining[: remaining.size // 2], remaining[remaining.size // 2:]
        partial = np.zeros(arr.size)
        partial[half] = direction[half]
        difference, displacement, _ = twin.along(arr, partial.reshape(arr.shape))
        half_error = (float(np.vdot(gradient, displacement)) - difference) / (2 * step)
        if abs(half_error) >= abs(error - half_error):
            remaining, error = half, half_error
        else:
            remaining, error = rest, error - half_error
    largest = np.argsort(-np.abs(gradient).reshape(-1), kind="stable")[:worst]
    randoms = rng.choice(arr.size, min(worst, arr.size), replace=False)
    candidates = np.unique(np.concatenate([remaining, largest, randoms]))
    _check_elements(twin, result, candidates, step, judge)


def _report(twin: Twin, results: list[_NodeResult], mode: str, step: float, atol: float, rtol: float,
            worst: int) -> GradcheckReport:
    rows: list[ElementError] = []
    kink_rows: list[ElementError | Projection] = []
    projections: list[Projection] = []
    nodes: list[NodeCheck] = []
    causes: list[str] = []
    compared: list[tuple[np.ndarray, np.ndarray]] = []
    batch_sizes = twin.batch_sizes()
    for result in results:
        name, gradient = result.leaf.name, result.gradient
        for index, n, kink, tol in zip(result.indices, result.numeric, result.kinks, result.tolerances,
                                       strict=True):
            a = float(gradient.reshape(-1)[index])
            row = ElementError(name, tuple(int(i) for i in np.unravel_index(index, gradient.shape)), a, float(n),
                               abs(a - float(n)), float(tol), kink)
            (kink_rows if kink else rows).append(row)
        for a, n, _, kink, tol, u in result.projections:
            projection = Projection(name, a, n, abs(a - n), float(tol), kink, tuple(u.shape),
                                    tuple(float(v) for v in u.reshape(-1)))
            (kink_rows if kink else projections).append(projection)

        a, n, tolerance, matches = result.evidence()
        failed = int(np.sum(~_within(a, n, tolerance)))
        cause = None
        if failed:
            cause = _likely_cause(gradient, a, n, matches, batch_sizes)
            causes.append(f"{name}: {cause}" if cause else
                          f"{name}: no simple pattern (not a factor, sign or transpose); see the suspects below")
        elif a.size == 0 and gradient.size:
            causes.append(f"{name}: nothing checked, every perturbation crossed a kink; "
                          "move the values away from the kinks")
        kinks = sum(k is not None for k in result.kinks) + sum(p[3] is not None for p in result.projections)
        unit = "projections" if result.clean_projections() else "elements"
        ratio = float(np.max(np.abs(a - n) / tolerance)) if a.size else 0.0
        nodes.append(NodeCheck(name, tuple(gradient.shape), int(a.size), unit, failed, kinks,
                               _relative_error(a, n), _max_abs(a, n), cause, ratio))
        compared.append((a, n))

    every = list(rows)
    rows.sort(key=lambda e: -e.abs_error / e.tolerance)
    a = np.concatenate([c[0] for c in compared])
    n = np.concatenate([c[1] for c in compared])
    return GradcheckReport(
        ok=all(node.ok for node in nodes), mode=mode, relative_error=_relative_error(a, n),
        max_abs_error=_max_abs(a, n), worst=rows[:worst], kinks=kink_rows, nodes=nodes, projections=projections,
        checks=every,
        suspects=[], causes=causes, forward_runs=0, backward_runs=1, seconds=0.0, step=step, atol=atol, rtol=rtol,
        dtype=twin.dtype, elements=sum(int(r.indices.size) for r in results),
    )


# --- which op is to blame --------------------------------------------------------------

def _find_suspects(twin: Twin, leaves: Sequence[Node], step: float, atol: float, rtol: float,
                   rng: np.random.Generator, batch_sizes: Sequence[int]) -> list[Suspect]:
    """Check each op between the checked nodes and the output on its own.

    Each op's backward is compared with central differences of its own forward,
    at the values of an unperturbed run, along three random directions per
    input: cheap (op runs, not graph runs), and it points at the rule to fix.
    """
    twin.evaluate()  # the values of the unperturbed point
    values = twin.graph.value
    depends = set(leaves)
    suspects = []
    for node in twin.graph.nodes:
        if node.op is None or not any(i in depends for i in node.inputs):
            continue
        depends.add(node)
        inputs = [np.asarray(values(i), dtype=np.float64) for i in node.inputs]
        for j, i in enumerate(node.inputs):
            if i in depends:
                suspect = _check_op_input(node, inputs, values(node), j, step, atol, rtol, rng, batch_sizes)
                if suspect is not None:
                    suspects.append(suspect)
    return suspects


def _op_gradient(node: Node, inputs: list[np.ndarray], j: int) -> Callable[[np.ndarray], np.ndarray]:
    """``upstream -> gradient for input j`` of ``node``'s op alone, at ``inputs``: its rule, run as a graph."""
    alone = [placeholder(np.shape(x), name=i.name) for i, x in zip(node.inputs, inputs, strict=True)]
    out = node.op(*alone)
    upstream = placeholder(np.shape(node.op.forward(*inputs)), name="upstream")
    graph = Graph(grad(out, [alone[j]], grad_output=upstream), rewrites=False)
    feeds = {p: x for p, x in zip(alone, inputs, strict=True) if p in graph.placeholders}
    if upstream in graph.placeholders:
        return lambda u: np.asarray(graph.forward({**feeds, upstream: u})[0], dtype=np.float64)
    return lambda u: np.asarray(graph.forward(feeds)[0], dtype=np.float64)  # a gradient that does not depend on it


def _check_op_input(node: Node, inputs: list[np.ndarray], output: np.ndarray, j: int,
                    step: float, atol: float, rtol: float, rng: np.random.Generator,
                    batch_sizes: Sequence[int] = ()) -> Suspect | None:
    op, x = node.op, inputs[j]
    if x.size == 0 or np.size(output) == 0:
        return None
    scale = np.maximum(np.abs(x), 1.0)
    measured = []
    backward = _op_gradient(node, inputs, j)
    for _ in range(3):
        upstream = rng.standard_normal(np.shape(output))
        upstream /= np.linalg.norm(upstream)
        gradient = backward(upstream)
        u = rng.standard_normal(x.shape)
        u /= np.linalg.norm(u)
        shift = step * scale * u
        xp, xm = x + shift, x - shift
        if any(np.any(np.sign(xp - k) != np.sign(xm - k)) for k in op.kinks):
            continue  # crossing a kink: this direction says nothing
        yp = op.forward(*inputs[:j], xp, *inputs[j + 1:])
        ym = op.forward(*inputs[:j], xm, *inputs[j + 1:])
        numeric = float(np.vdot(upstream, np.asarray(yp) - np.asarray(ym))) / (2 * step)
        measured.append((gradient, float(np.vdot(gradient, xp - xm)) / (2 * step), numeric, xp - xm, upstream))
    if not measured:
        return None
    a = np.array([m[1] for m in measured])
    n = np.array([m[2] for m in measured])
    if np.all(_within(a, n, atol + rtol * np.abs(n))):
        return None
    # The transforms are tried on each direction's own gradient (each had its own upstream).
    def matches(transform: Callable[[np.ndarray], np.ndarray]) -> bool:
        along = np.array([np.vdot(transform(m[0]), m[3]) / (2 * step) for m in measured])
        return bool(np.all(_within(along, n, atol + rtol * np.abs(n))))

    cause = _op_cause(x, a, n, matches, batch_sizes)
    worst = int(np.argmax(np.abs(a - n)))
    return Suspect(node.name, repr(op), node.where(), j, node.inputs[j].name, float(a[worst]), float(n[worst]), cause)


def _op_cause(x: np.ndarray, a: np.ndarray, n: np.ndarray, matches: Callable,
              batch_sizes: Sequence[int]) -> str | None:
    if x.ndim == 2 and x.shape[0] == x.shape[1] > 1 and matches(lambda grad: grad.T):
        return "its gradient is transposed"
    if not np.any(n):
        return None
    c = float(np.vdot(a, n) / np.vdot(n, n))
    if c != 0 and np.isfinite(c) and matches(lambda grad: grad / c):
        return _name_factor(c, batch_sizes).split(":")[0]
    return None


def _describe_suspect(s: Suspect) -> str:
    why = f" ({s.cause})" if s.cause else ""
    return (f"suspect: {s.node} = {s.op}(...) built at {s.where}: its backward for input {s.input_index} "
            f"({s.input_name}) disagrees with its own forward{why}")


# --- choosing the step ------------------------------------------------------------------

@dataclass(eq=False)
class StepStudy:
    """Error against step: the V-shaped curve of a central difference.

    Right of the V, truncation error shrinks like h²; left of it, round-off
    grows like eps/h. ``best_step`` is the bottom of the V.
    """

    steps: np.ndarray
    errors: np.ndarray  # the course's relative error at each step
    max_abs_errors: np.ndarray
    best_step: float
    best_error: float
    forward_runs: int
    seconds: float
    seed: int | None = None
    dtype: str = "float64"  # the graph's (the study runs on a float64 copy)
    directions: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (node, direction) pairs swept

    def to_dict(self) -> dict:
        return {"steps": self.steps.tolist(), "errors": self.errors.tolist(),
                "max_abs_errors": self.max_abs_errors.tolist(), "best_step": self.best_step,
                "best_error": self.best_error, "forward_runs": self.forward_runs, "seconds": self.seconds,
                "seed": self.seed, "dtype": self.dtype,
                "directions": [[name, d.tolist()] for name, d in self.directions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepStudy:
        data = dict(data)
        for key in ("steps", "errors", "max_abs_errors"):
            data[key] = np.array(data[key], dtype=np.float64)
        data["directions"] = [(name, np.array(d, dtype=np.float64)) for name, d in data["directions"]]
        return cls(**data)

    def to_json(self, path: str | os.PathLike) -> str:
        """Save the study (steps, errors, seed, the directions swept) as JSON, atomically."""
        return write_json(path, "step_study", self.to_dict())

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> StepStudy:
        return cls.from_dict(read_json(path, "step_study"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StepStudy) and json.dumps(self.to_dict()) == json.dumps(other.to_dict())

    def __str__(self) -> str:
        logs = np.log10(np.maximum(self.errors, 1e-18))
        low, high = float(np.min(logs)), float(np.max(logs))
        width = 40
        lines = [f"step study: relative error ||a-n|| / (||a|| + ||n||) against step "
                 f"({self.forward_runs} forward runs, {self.seconds:.3g} s)",
                 "  step      rel. error  max |a-n|"]
        for h, e, m, lg in zip(self.steps, self.errors, self.max_abs_errors, logs, strict=True):
            bar = "#" * (1 + int(round((lg - low) / (high - low) * (width - 1)))) if high > low else "#"
            mark = "  <- best" if h == self.best_step else ""
            lines.append(f"  {h:<8.1e}  {e:<10.2e}  {m:<9.2e}  {bar}{mark}")
        lines.append(f"  best step {self.best_step:.1e}: relative error {self.best_error:.2e}  "
                     f"(gradcheck's default step is {DEFAULT_STEP:.1e})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # Jupyter shows the study as a table
        return inspection.step_study_html(self)

    def plot(self, path: str | os.PathLike) -> str:
        """Save the curve as an image (needs matplotlib); written atomically. Returns the path."""
        from matplotlib.figure import Figure  # the object API: no pyplot state, no backend switched for the user

        path = os.fspath(path)
        figure = Figure(figsize=(6, 4))
        axes = figure.add_subplot()
        axes.loglog(self.steps, np.maximum(self.errors, 1e-18), "o-")
        axes.axvline(self.best_step, color="grey", linestyle=":")
        axes.set_xlabel("step h")
        axes.set_ylabel("relative error  ||a-n|| / (||a|| + ||n||)")
        axes.set_title(f"central differences: best step {self.best_step:.0e}")
        axes.invert_xaxis()  # steps shrink to the right, as in a sweep
        axes.text(0.03, 0.95, "truncation ~ h^2", transform=axes.transAxes, va="top")
        axes.text(0.97, 0.95, "round-off ~ eps/h", transform=axes.transAxes, va="top", ha="right")
        figure.tight_layout()
        with atomic_write(path) as temporary:
            figure.savefig(temporary)
        return path


def step_study(
    g: Graph,
    feeds: Mapping[NodeOrName, Any] | None = None,
    wrt: Iterable[NodeOrName] | None = None,
    *,
    steps: Sequence[float] | None = None,
    directions: int = 3,
    output: NodeOrName | None = None,
    grad_output: Any = None,
    seed: int | None = 0,
) -> StepStudy:
    """Sweep the step of the central difference and measure the error at each.

    For each node, ``directions`` random directions are fixed once; at every
    step the derivative along each is compared with the analytic gradient, so
    the cost is ``2 * directions * nodes`` forward runs per step, however many
    elements the nodes have. Steps default to 1e-1 … 1e-12 (half decades); each
    element moves by ``step * max(|x|, 1)``, as in :func:`gradcheck`, so the best
    step here can be passed to ``gradcheck(step=...)``.
    """
    started = time.perf_counter()
    if seed is None:  # fresh randomness, but recorded
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    steps = np.logspace(-1, -12, 23) if steps is None else np.asarray(steps, dtype=np.float64)
    rng = np.random.default_rng(seed)
    twin = Twin(g, output, feeds, grad_output)
    leaves = checked_leaves(g, twin, wrt)
    twin.evaluate()
    analytic = twin.graph.backward(leaves, grad_output=twin.grad_output)
    fixed = []
    for leaf in leaves:
        arr = twin.array(leaf)
        for _ in range(directions if arr.size else 0):
            u = rng.standard_normal(arr.shape)
            fixed.append((leaf, np.maximum(np.abs(arr), 1.0) * u / np.linalg.norm(u)))
    errors, max_abs = [], []
    for h in steps:
        a, n = [], []
        for leaf, direction in fixed:
            difference, displacement, _ = twin.along(twin.array(leaf), h * direction)
            a.append(float(np.vdot(analytic[leaf], displacement)) / (2 * h))
            n.append(difference / (2 * h))
        errors.append(_relative_error(np.array(a), np.array(n)))
        max_abs.append(_max_abs(np.array(a), np.array(n)))
    errors_array = np.array(errors)
    best = int(np.argmin(errors_array))
    return StepStudy(steps, errors_array, np.array(max_abs), float(steps[best]), float(errors_array[best]),
                     twin.forward_runs, time.perf_counter() - started, seed, twin.dtype,
                     [(leaf.name, direction) for leaf, direction in fixed])
