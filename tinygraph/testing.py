"""Testing ops and graphs: hypothesis strategies and a one-call op check.

Check an op of your own in one line; inputs are drawn from its declared
``domain``, away from its ``kinks``::

    from tinygraph.testing import check_op
    check_op(Square())                          # raises AssertionError with a report if wrong
    check_op(Square(), np.array([[0.5, 1.5]]))  # or on inputs of your choice

Or property-test it over random shapes, broadcasting included::

    from hypothesis import given, strategies as st
    from tinygraph.testing import check_op, op_inputs, upstream_gradients

    @given(st.data())
    def test_square(data):
        inputs = data.draw(op_inputs(Square()))
        check_op(Square(), *inputs, grad_output=data.draw(upstream_gradients(inputs[0].shape)))

Every check runs :func:`tinygraph.gradcheck` on a graph of the op alone, with
respect to its inputs, against a random upstream gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as error:  # pragma: no cover - the test extra is missing
    raise ImportError("tinygraph.testing needs hypothesis: pip install hypothesis "
                      "(or, in a tinygraph checkout, pip install -e \".[test]\")") from error

from .gradcheck import ATOL, RTOL, GradcheckReport, gradcheck
from .graph import Graph
from .node import placeholder
from .op import Op
from .ops import MatMul
from .shapes import format_shape

__all__ = [
    "KINK_MARGIN", "arrays_in", "broadcastable_shapes", "check_op", "domain_of", "example_inputs", "floats_in",
    "input_shapes", "matmul_shapes", "op_inputs", "op_problems", "shapes", "upstream_gradients",
]

KINK_MARGIN = 1e-3  # inputs stay this far from a kink: far beyond any step gradcheck takes near 0
MAX_SIDE = 4  # small sides keep full checks (two runs per element) fast


# --- what an op declares ------------------------------------------------------------------

def domain_of(op: Op, index: int = 0) -> tuple[float, float]:
    """The ``(low, high)`` range where input ``index`` of ``op`` is smooth."""
    domain = op.domain
    if domain is None:
        raise ValueError(f"op {op.name!r} declares no domain: set `domain = (low, high)` where it is smooth")
    if np.ndim(domain) == 2:  # one pair per input
        if index >= len(domain):
            raise ValueError(f"op {op.name!r} declares domains for {len(domain)} inputs, not input {index}")
        domain = domain[index]
    low, high = (float(d) for d in domain)
    if not low < high:
        raise ValueError(f"op {op.name!r} has an empty domain ({low}, {high})")
    return low, high


def op_problems(op_class: type[Op]) -> list[str]:
    """What stops ``op_class`` from being property-tested; empty when nothing does.

    An op needs a forward, a gradient rule, a smooth domain for every input, and
    test instances (``examples()``, which defaults to ``cls()``).
    """
    problems = []
    name = getattr(op_class, "name", op_class.__name__)
    if op_class.forward is Op.forward:
        problems.append(f"op {name!r} defines no forward")
    if op_class.differentiable and op_class.gradient is Op.gradient and op_class.backward is Op.backward:
        problems.append(f"op {name!r} defines no gradient (a graph-level gradient or a numpy backward)")
    try:
        examples = list(op_class.examples())
    except Exception as error:  # any failure here is the op author's to fix
        return problems + [f"op {name!r} cannot make test instances ({error}); define the classmethod examples()"]
    if not examples:
        problems.append(f"op {name!r}: examples() returned no instances")
    for op in examples:
        for index in range(op.arity or 1):
            try:
                domain_of(op, index)
            except ValueError as error:
                problems.append(str(error))
                break
    return list(dict.fromkeys(problems))


def _away_from_kinks(x: np.ndarray, kinks: Sequence[float], margin: float = KINK_MARGIN) -> np.ndarray:
    """Move values within ``margin`` of a kink to ``kink ± margin``, keeping their side."""
    x = np.array(x, dtype=np.float64)
    for kink in kinks:
        near = np.abs(x - kink) < margin
        # one step past kink ± margin: for a kink other than 0, kink + margin rounds to nearer than margin
        x[near] = np.where(x[near] >= kink, np.nextafter(kink + margin, np.inf), np.nextafter(kink - margin, -np.inf))
    return x


# --- strategies ------------------------------------------------------------------------

def floats_in(low: float, high: float, kinks: Sequence[float] = ()) -> st.SearchStrategy[float]:
    """Finite floats in ``[low, high]``, at least :data:`KINK_MARGIN` from every kink."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False).map(
        lambda x: float(_away_from_kinks(np.array(x), kinks)))


def arrays_in(
    shape: Any, domain: tuple[float, float] = (-2.0, 2.0), kinks: Sequence[float] = ()
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` (a tuple or a strategy) with elements in ``domain``, away from ``kinks``.

    Use an op's own ``domain`` and ``kinks`` to stay where it is smooth, e.g.
    ``arrays_in((3, 4), tg.OPS["log"].domain)``.
    """
    low, high = domain
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, allow_infinity=False)).map(
        lambda x: _away_from_kinks(x, kinks))


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple]:
    """Array shapes with no zero-size axis."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def broadcastable_shapes(count: int = 2, max_dims: int = 3, max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple]:
    """``count`` shapes that broadcast together (size-1 and missing axes included)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=count, max_dims=max_dims, min_side=1,
                                             max_side=max_side).map(lambda b: b.input_shapes)


def matmul_shapes(max_dims: int = 2, max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple]:
    """Pairs of shapes ``a @ b`` accepts: 1-D operands and broadcast batch axes included."""
    return hnp.mutually_broadcastable_shapes(signature=MatMul.signature, max_dims=max_dims,
                                             min_side=1, max_side=max_side).map(lambda b: b.input_shapes)


def _accepts(op: Op, input_shapes: Sequence[tuple]) -> bool:
    try:
        op.infer_shape(*input_shapes)
    except ValueError:
        return False
    return True


def input_shapes(op: Op, max_dims: int = 3, max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple]:
    """Shapes for ``op``'s inputs: from its ``signature`` when it declares one, else any
    shapes that broadcast together; only those its ``infer_shape`` accepts."""
    count = op.arity or 1
    if op.signature is not None:
        strategy = hnp.mutually_broadcastable_shapes(signature=op.signature, max_dims=max_dims - 1, min_side=1,
                                                     max_side=max_side).map(lambda b: b.input_shapes)
    elif count == 1:
        strategy = shapes(max_dims=max_dims, max_side=max_side).map(lambda shape: (shape,))
    else:
        strategy = broadcastable_shapes(count, max_dims=max_dims, max_side=max_side)
    return strategy.filter(lambda found: _accepts(op, found))


def upstream_gradients(shape: Any) -> st.SearchStrategy[np.ndarray]:
    """Random upstream gradients (``grad_output``) of ``shape``, elements in [-1, 1]."""
    return arrays_in(shape, (-1.0, 1.0))


@st.composite
def op_inputs(draw: Any, op: Op, max_dims: int = 3, max_side: int = MAX_SIDE) -> tuple[np.ndarray, ...]:
    """Inputs for ``op``: compatible shapes, each input inside its domain and away from the op's kinks."""
    found = draw(input_shapes(op, max_dims=max_dims, max_side=max_side))
    inputs = tuple(draw(arrays_in(shape, domain_of(op, i), op.kinks)) for i, shape in enumerate(found))
    return _spread_ties(op, inputs) if getattr(op, "distinct_inputs", False) else inputs


def _spread_ties(op: Op, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """For an op whose ties are kinks (``max``, ``maximum``; ``distinct_inputs = True``): the
    inputs' values, in the order drawn, replaced by evenly spaced ones across the shared domain,
    so no two elements (of any input) are nearer than a finite-difference step could cross."""
    low = max(domain_of(op, i)[0] for i in range(len(inputs)))
    high = min(domain_of(op, i)[1] for i in range(len(inputs)))
    flat = np.concatenate([x.ravel() for x in inputs]) if inputs else np.zeros(0)
    ranks = np.empty(flat.size)
    ranks[np.argsort(flat, kind="stable")] = np.arange(flat.size)
    spread = _away_from_kinks(low + (high - low) * (ranks + 0.5) / max(flat.size, 1), op.kinks)
    sizes = np.cumsum([0] + [x.size for x in inputs])
    return tuple(spread[a:b].reshape(x.shape) for a, b, x in zip(sizes[:-1], sizes[1:], inputs, strict=True))


# --- the one-call check -------------------------------------------------------------------

def example_inputs(op: Op, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Inputs for ``op`` without hypothesis: shapes from its signature (distinct sizes, so
    a transposed gradient cannot hide), values uniform in its domain, away from its kinks."""
    rng = np.random.default_rng(seed)
    count = op.arity or 1
    if op.signature is not None:
        sizes: dict[str, int] = {}
        core = op.signature.split("->")[0].replace(" ", "")
        shapes_from_signature = []
        for spec in core.strip("()").split("),("):
            shape = []
            for dim in filter(None, spec.split(",")):
                name = dim.rstrip("?")
                shape.append(int(name) if name.isdigit() else sizes.setdefault(name, 2 + len(sizes)))
            shapes_from_signature.append(tuple(shape))
        candidates = [shapes_from_signature]
    else:
        candidates = [[(3, 4)] + [(4,)] * (count - 1), [(3, 4)] * count]  # broadcasting first
    found = next((c for c in candidates if len(c) == count and _accepts(op, c)), None)
    if found is None:
        raise ValueError(f"could not find input shapes op {op.name!r} accepts; pass inputs to check_op")
    inputs = []
    for i, shape in enumerate(found):
        low, high = domain_of(op, i)
        inputs.append(_away_from_kinks(rng.uniform(low, high, size=shape), op.kinks))
    return tuple(inputs)


def check_op(
    op: Op,
    *inputs: Any,
    grad_output: Any = None,
    atol: float = ATOL,
    rtol: float = RTOL,
    seed: int = 0,
    raise_on_failure: bool = True,
    order: int = 1,
) -> GradcheckReport:
    """Check ``op``'s backward against central differences of its forward, in float64.

    Args:
        op: an op instance, e.g. ``Square()`` or ``tg.OPS["power"](3)``.
        inputs: arrays to check at; default :func:`example_inputs` (from the op's
            domain and signature).
        grad_output: the upstream gradient; default random normal (seeded).
        atol, rtol: gradcheck's tolerances.
        raise_on_failure: raise ``AssertionError`` carrying the report's table
            when the check fails (for tests); else just return the report.
        order: 2 checks the op's second derivatives (its gradient rule's own gradient).

    Also checks that the op's ``infer_shape`` agrees with the shape its forward returns.
    Returns the :class:`~tinygraph.gradcheck.GradcheckReport`.
    """
    arrays = [np.array(x, dtype=np.float64) for x in inputs] if inputs else list(example_inputs(op, seed))
    nodes = [placeholder(x.shape, name=f"x{i}") for i, x in enumerate(arrays)]
    node = op(*nodes)
    feeds = dict(zip(nodes, arrays, strict=True))
    graph = Graph(node, rewrites=False)  # the op alone, as written
    value = np.asarray(graph.forward(feeds))
    if node.shape is not None and (len(node.shape) != value.ndim or any(
            d is not None and d != v for d, v in zip(node.shape, value.shape, strict=True))):
        raise AssertionError(f"op {op.name!r}: infer_shape says {format_shape(node.shape)} but forward "
                             f"returned shape {format_shape(value.shape)}")
    if grad_output is None:
        grad_output = np.random.default_rng(seed).standard_normal(value.shape)
    report = gradcheck(graph, feeds, wrt=nodes, grad_output=grad_output, atol=atol, rtol=rtol, seed=seed,
                       order=order)
    if raise_on_failure and not report.ok:
        described = ", ".join(format_shape(x.shape) for x in arrays)
        raise AssertionError(f"check_op({op!r}) on inputs of shape {described}:\n{report}")
    return report
