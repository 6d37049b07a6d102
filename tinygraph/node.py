"""Nodes of a graph and the ``Op`` base class that makes them.

A graph is a DAG of immutable :class:`Node` objects. Leaves are
:class:`Placeholder` (fed at run time), :class:`Parameter` (trainable state)
and :class:`Constant`; every other node records the :class:`Op` and input
nodes that made it. Shapes and dtypes are inferred when a node is built, so a
shape that cannot work fails on the user's line, not later in a run.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Container, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from .errors import ShapeError
from .shapes import StaticShape, format_shape

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_ids = itertools.count()

Domain = tuple[float, float]


def _user_frame() -> tuple[str, int] | None:
    """(file, line) of the first caller outside tinygraph: where the user built a node."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return (frame.f_code.co_filename, frame.f_lineno) if frame is not None else None


def _where(trace: tuple[str, int] | None) -> str:
    return f"{trace[0]}:{trace[1]}" if trace else "<unknown>"


def _float_dtype(dtype: Any) -> np.dtype:
    """Floating dtypes are kept; anything else (ints, bools) computes in float64."""
    dtype = np.dtype(dtype)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


class Node:
    """A value in a graph: a leaf, or the output of ``op`` applied to ``inputs``.

    Attributes:
        op: the :class:`Op` that computes this node, ``None`` for leaves.
        inputs: the nodes ``op`` reads, in order.
        shape: static shape, ``None`` entries for sizes known only at run time.
        dtype: numpy dtype of the value.
        name: a readable name, unique unless the user chose otherwise.
        trace: ``(file, line)`` where the user built this node.
    """

    __slots__ = ("op", "inputs", "shape", "dtype", "name", "trace")
    __array_ufunc__ = None  # make ``ndarray + node`` call Node.__radd__, not numpy

    def __init__(
        self,
        op: Op | None,
        inputs: tuple[Node, ...],
        shape: StaticShape,
        dtype: Any,
        name: str | None = None,
    ):
        self.op = op
        self.inputs = inputs
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.name = name if name is not None else f"{self._default_prefix()}_{next(_ids)}"
        self.trace = _user_frame()

    def _default_prefix(self) -> str:
        return self.op.name if self.op is not None else type(self).__name__.lower()

    @property
    def ndim(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def kind(self) -> str:
        """'placeholder', 'parameter', 'constant' or the op's name."""
        return type(self).__name__.lower() if self.op is None else self.op.name

    def where(self) -> str:
        """'file:line' where the node was built, for messages."""
        return _where(self.trace)

    def __repr__(self) -> str:
        made_of = ""
        if self.op is not None:
            made_of = f" = {self.op!r}({', '.join(i.name for i in self.inputs)})"
        return f"<{self.name}{made_of} shape={format_shape(self.shape)} {self.dtype}>"

    # Operators, numpy broadcasting semantics. Python scalars become constants.
    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.sub(self, other)
    def __rsub__(self, other): return ops.sub(other, self)
    def __mul__(self, other): return ops.mul(self, other)
    def __rmul__(self, other): return ops.mul(other, self)
    def __truediv__(self, other): return ops.div(self, other)
    def __rtruediv__(self, other): return ops.div(other, self)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __neg__(self): return ops.neg(self)
    def __pow__(self, exponent): return ops.power(self, exponent)

    @property
    def T(self) -> Node:
        """The transpose (all axes reversed), as in numpy."""
        return ops.transpose(self)


class Placeholder(Node):
    """An input fed at run time; ``None`` in its shape accepts any size there."""

    __slots__ = ()


class Constant(Node):
    """A fixed array baked into the graph."""

    __slots__ = ("value",)

    def __init__(self, value: np.ndarray, name: str | None = None):
        self.value = value
        super().__init__(None, (), value.shape, value.dtype, name)


class Parameter(Node):
    """Trainable state. ``.value`` is read by the next run; assign it to update."""

    __slots__ = ("_value",)

    def __init__(self, value: np.ndarray, name: str | None = None):
        self._value = value
        super().__init__(None, (), value.shape, value.dtype, name)

    @property
    def value(self) -> np.ndarray:
        return self._value

    @value.setter
    def value(self, new: Any) -> None:
        new = np.asarray(new, dtype=self.dtype)
        if new.shape != self.shape:
            raise ShapeError(
                f"parameter {self.name!r} has shape {format_shape(self.shape)}; "
                f"cannot assign a value of shape {format_shape(new.shape)}"
            )
        self._value = new


def placeholder(shape: Sequence[int | None], name: str | None = None, dtype: Any = np.float64) -> Placeholder:
    """An input fed when the graph runs. ``None`` in ``shape`` means any size (e.g. the batch)."""
    try:
        static = tuple(None if d is None else int(d) for d in shape)
    except TypeError:
        raise ShapeError(f"placeholder {name or ''} needs a sequence shape, got {shape!r}") from None
    if any(d is not None and d < 0 for d in static):
        raise ShapeError(f"placeholder {name or ''} has a negative size in {shape!r}")
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"placeholder {name or ''} needs a float dtype, got {dtype}")
    return Placeholder(None, (), static, dtype, name)


def parameter(value: Any, name: str | None = None) -> Parameter:
    """Trainable state, float64 unless ``value`` already has another float dtype.

    The array is copied, so later changes to ``value`` do not leak in.
    """
    array = np.array(value)
    return Parameter(array.astype(_float_dtype(array.dtype), copy=False), name)


def constant(value: Any, name: str | None = None, dtype: Any = None) -> Constant:
    """A fixed array. Floats keep their dtype unless ``dtype`` is given; others become float64."""
    array = np.array(value)
    return Constant(array.astype(np.dtype(dtype) if dtype is not None else _float_dtype(array.dtype), copy=False), name)


class Op:
    """Base class of every operation: subclass it to add an op in a few lines.

    Override :meth:`forward` and :meth:`backward`; optionally :meth:`infer_shape`.
    Calling an instance on nodes (or arrays and numbers) returns a new node::

        class Square(tg.Op):
            def forward(self, x):
                return x * x
            def backward(self, grad_output, x, *, output):
                return (2 * x * grad_output,)

        y = Square()(x)

    Class attributes a subclass may declare:
        name: registry name (defaults to the lower-cased class name).
        arity: number of inputs (``None`` for any).
        domain: ``(low, high)`` where the op is smooth, or one such pair per input.
            Gradient checks and property tests draw inputs from it.
        kinks: input values where the op is not differentiable (relu: 0).
        signature: the input shapes the op needs, in numpy's gufunc notation
            (matmul: ``"(n?,k),(k,m?)->(n?,m?)"``); ``None``: any shapes that
            broadcast together. Tests draw input shapes from it.
        pure: ``True`` when forward depends on its inputs alone (no randomness,
            no state), so graph rewrites may fold and merge it. Set ``False``
            for an op like dropout.

    An op whose constructor takes arguments overrides :meth:`examples`, so the
    property tests know which instances to check.

    During backward, ``self.needs_input_grad`` holds one bool per input; an op may
    skip (return ``None`` for) an input that does not need a gradient.
    """

    name: ClassVar[str] = "op"
    arity: ClassVar[int | None] = None
    domain: ClassVar[Any | None] = None
    kinks: ClassVar[tuple[float, ...]] = ()
    signature: ClassVar[str | None] = None
    pure: ClassVar[bool] = True
    needs_input_grad: tuple[bool, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()

    # --- what an op defines -------------------------------------------------
    def forward(self, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"op {self.name!r} defines no forward")

    def backward(
        self, grad_output: np.ndarray, *inputs: np.ndarray, output: np.ndarray
    ) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError(f"op {self.name!r} defines no backward")

    def infer_shape(self, *shapes: StaticShape) -> StaticShape:
        """The output's static shape from the inputs'; ``None`` when unknown.

        Raise ``ValueError`` (or :class:`ShapeError`) to reject shapes that cannot work.
        """
        return None

    def infer_dtype(self, *dtypes: np.dtype) -> np.dtype:
        return np.result_type(*dtypes) if dtypes else np.dtype(np.float64)

    def params(self) -> dict:
        """The constructor arguments that distinguish two instances (for repr and merging)."""
        return {}

    @classmethod
    def examples(cls) -> Sequence[Op]:
        """Instances the property tests check: ``cls()`` unless the op needs arguments."""
        return (cls(),)

    # --- building nodes -----------------------------------------------------
    def __call__(self, *inputs: Any, name: str | None = None) -> Node:
        if self.arity is not None and len(inputs) != self.arity:
            raise TypeError(
                f"op {self.name!r} takes {self.arity} input(s), got {len(inputs)} (at {_where(_user_frame())})"
            )
        nodes = as_nodes(inputs)
        shapes = [n.shape for n in nodes]
        try:
            shape = self.infer_shape(*shapes)
        except ValueError as error:  # ShapeError too: either way, name the user's line, not ours
            message = str(error)
            if not isinstance(error, ShapeError):
                described = ", ".join(format_shape(s) for s in shapes)
                message = f"{self.name}: input shapes {described} do not work: {error}"
            raise ShapeError(f"{message} (at {_where(_user_frame())})") from None
        return Node(self, nodes, shape, self.infer_dtype(*(n.dtype for n in nodes)), name)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{self.name}[{params}]" if params else self.name


def topological_order(outputs: Iterable[Node], known: Container[Node] = ()) -> list[Node]:
    """Every node the outputs depend on, each after all of its inputs.

    Nodes in ``known`` are left out, and so is whatever is reached only through
    them (a rewrite uses this to visit just the nodes it has not seen yet).
    Iterative (an explicit stack, no recursion), so a chain of 100,000 nodes is fine.
    """
    order: list[Node] = []
    visited: set[Node] = set()
    stack = [(node, False) for node in reversed(tuple(outputs))]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif node not in visited and node not in known:
            visited.add(node)
            stack.append((node, True))
            stack.extend((i, False) for i in reversed(node.inputs) if i not in visited)
    return order


def as_nodes(values: Iterable[Any]) -> tuple[Node, ...]:
    """Nodes stay; numbers and arrays become constants in the dtype of the other inputs.

    So ``2 * x`` with a float32 ``x`` stays float32, as numpy's scalar rules do.
    """
    values = tuple(values)
    like = next((v.dtype for v in values if isinstance(v, Node)), np.dtype(np.float64))
    nodes = []
    for v in values:
        if isinstance(v, Node):
            nodes.append(v)
        elif isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating):
            nodes.append(constant(v))
        else:
            nodes.append(constant(v, dtype=like))
    return tuple(nodes)


from . import ops  # noqa: E402  (ops subclass Op, so it is imported after it)
