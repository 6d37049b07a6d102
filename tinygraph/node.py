"""Nodes of a graph.

A graph is a DAG of immutable :class:`Node` objects. Leaves are
:class:`Placeholder` (fed at run time), :class:`Parameter` (trainable state)
and :class:`Constant`; every other node records the op (see
:mod:`tinygraph.op`) and input nodes that made it. Shapes and dtypes are
inferred when a node is built, so a shape that cannot work fails on the
user's line, not later in a run. A node made by :func:`tinygraph.grad` also
records ``grad_of``: the node whose backward rule made it.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Container, Iterable, Sequence
from typing import Any

import numpy as np

from .errors import ShapeError
from .shapes import StaticShape, format_shape

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_ids = itertools.count()

Domain = tuple[float, float]


def user_frame() -> tuple[str, int] | None:
    """(file, line) of the first caller outside tinygraph: where the user built a node."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return (frame.f_code.co_filename, frame.f_lineno) if frame is not None else None


def where(trace: tuple[str, int] | None) -> str:
    return f"{trace[0]}:{trace[1]}" if trace else "<unknown>"


def float_dtype(dtype: Any) -> np.dtype:
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
        grad_of: for a node of a gradient graph, the node whose backward rule made it; else ``None``.
    """

    __slots__ = ("op", "inputs", "shape", "dtype", "name", "trace", "grad_of")
    __array_ufunc__ = None  # make ``ndarray + node`` call Node.__radd__, not numpy

    def __init__(
        self,
        op: Any,
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
        self.trace = user_frame()
        self.grad_of: Node | None = None

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
        return where(self.trace)

    def __repr__(self) -> str:
        made_of = ""
        if self.op is not None:
            made_of = f" = {self.op!r}({', '.join(i.name for i in self.inputs)})"
        return f"<{self.name}{made_of} shape={format_shape(self.shape)} {self.dtype}>"

    # Operators, numpy broadcasting semantics; Python numbers become constants. The functions come
    # from tinygraph.ops (see define_operators), so this module needs to know nothing of the ops.
    def __add__(self, other): return _OPERATORS["add"](self, other)
    def __radd__(self, other): return _OPERATORS["add"](other, self)
    def __sub__(self, other): return _OPERATORS["sub"](self, other)
    def __rsub__(self, other): return _OPERATORS["sub"](other, self)
    def __mul__(self, other): return _OPERATORS["mul"](self, other)
    def __rmul__(self, other): return _OPERATORS["mul"](other, self)
    def __truediv__(self, other): return _OPERATORS["div"](self, other)
    def __rtruediv__(self, other): return _OPERATORS["div"](other, self)
    def __matmul__(self, other): return _OPERATORS["matmul"](self, other)
    def __rmatmul__(self, other): return _OPERATORS["matmul"](other, self)
    def __neg__(self): return _OPERATORS["neg"](self)
    def __pow__(self, exponent): return _OPERATORS["power"](self, exponent)
    def __getitem__(self, index): return _OPERATORS["getitem"](self, index)

    @property
    def T(self) -> Node:
        """The transpose (all axes reversed), as in numpy."""
        return _OPERATORS["transpose"](self)


_OPERATORS: dict[str, Callable[..., Node]] = {}


def define_operators(**functions: Callable[..., Node]) -> None:
    """Give nodes their operators: ``define_operators(add=..., sub=..., ...)`` (tinygraph.ops does)."""
    _OPERATORS.update(functions)


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
    return Parameter(array.astype(float_dtype(array.dtype), copy=False), name)


def constant(value: Any, name: str | None = None, dtype: Any = None) -> Constant:
    """A fixed array. Floats keep their dtype unless ``dtype`` is given; others become float64."""
    array = np.array(value)
    return Constant(array.astype(np.dtype(dtype) if dtype is not None else float_dtype(array.dtype), copy=False), name)


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

