"""Indexing, padding and joining: ops that pick or place elements without arithmetic.

``x[key]`` is :class:`Index`, with numpy's rules for ints, slices (steps and
negative bounds), ``None``, ``...``, integer arrays and boolean masks. Its
gradient places the upstream gradient back where the elements came from,
:class:`IndexAdd`, adding where an integer array repeats an index; the two are
each other's gradients, so indexing is differentiable to any order. ``pad``'s
gradient is an :class:`Index` of the unpadded region; ``concat`` and ``stack``
send each input the part of the gradient that came from it.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from ..backend import ndarray, xp
from ..node import Node
from ..op import Op
from ..shapes import StaticShape, format_shape, normalize_axis
from .registry import register
from .shape import _check_broadcasts, zeros_like

Key = tuple[Any, ...]


def _normalize_key(key: Any) -> Key:
    """``key`` as a tuple of ints, slices of ints, ``None``, ``...`` and read-only integer arrays.

    A boolean mask becomes the integer arrays of its nonzero positions (numpy's own equivalence).
    """
    parts = key if isinstance(key, tuple) else (key,)
    out: list[Any] = []
    for part in parts:
        if isinstance(part, Node):
            raise TypeError("index with constants (ints, slices, None, ..., integer arrays), not with a node: "
                            "a node's values are not known when the graph is built")
        if part is None or part is Ellipsis:
            out.append(part)
        elif isinstance(part, slice):
            try:
                bounds = (part.start, part.stop, part.step)
                out.append(slice(*(None if v is None else operator.index(v) for v in bounds)))
            except TypeError:
                raise TypeError(f"slice bounds must be ints or None, got {part!r}") from None
        elif isinstance(part, bool) or isinstance(part, xp.bool_):
            raise TypeError(f"index with ints, slices, None, ... or arrays, not the boolean {part!r}")
        elif isinstance(part, (int, xp.integer)):
            out.append(int(part))
        else:
            array = xp.asarray(part)
            if array.dtype == bool:
                out.extend(xp.nonzero(array))
                continue
            if not xp.issubdtype(array.dtype, xp.integer):
                raise TypeError(f"an index array must hold integers (or booleans), got {array.dtype}: {part!r}")
            out.append(array.astype(xp.intp))
    for part in out:
        if isinstance(part, ndarray):
            part.flags.writeable = False  # the op keeps it: nobody may change it behind the graph's back
    return tuple(out)


def _is_advanced(key: Key) -> bool:
    return any(isinstance(part, ndarray) for part in key)


def _describe(key: Key) -> tuple:
    """A comparable, readable stand-in for ``key`` (slices are not hashable before Python 3.12)."""
    return tuple(("slice", p.start, p.stop, p.step) if isinstance(p, slice) else p for p in key)


def _indexed_shape(key: Key, shape: StaticShape) -> StaticShape:
    """The static shape of ``x[key]`` for ``x`` of ``shape``; raises ValueError where numpy would.

    Unknown sizes are tried as two different large sizes: a result size that differs
    between them is unknown too (``x[1:]``), one that does not is known (``x[:2]``,
    assuming the axis turns out at least that long, which the run checks).
    """
    if shape is None:
        return None
    results = []
    for size in (97, 101):
        probe = xp.broadcast_to(xp.zeros((), dtype=bool), tuple(size if d is None else d for d in shape))
        try:
            results.append(probe[key].shape)
        except IndexError as error:
            raise ValueError(f"index {_format_key(key)} does not fit shape {format_shape(shape)}: {error}") from None
    return tuple(a if a == b else None for a, b in zip(*results, strict=True))


def _format_key(key: Key) -> str:
    def one(p: Any) -> str:
        if isinstance(p, slice):
            return ":".join("" if v is None else str(v) for v in (p.start, p.stop, p.step)).rstrip(":") or ":"
        if isinstance(p, ndarray):
            return repr(p.tolist())
        return "..." if p is Ellipsis else "None" if p is None else str(p)
    return "[" + ", ".join(one(p) for p in key) + "]"


@register
class Index(Op):
    """``x[key]``: numpy indexing with a key fixed when the graph is built.

    Basic keys (ints, slices, ``None``, ``...``) give a view, as in numpy; integer
    arrays gather (a copy), and an index they repeat gets the sum of its gradients.
    """

    arity = 1
    domain = (-2.0, 2.0)
    signature = "(3,4)->()"  # for tests: room for the examples' keys

    def __init__(self, key: Any):
        self.key = _normalize_key(key)

    @classmethod
    def examples(cls):
        return (cls((Ellipsis, 1)), cls((Ellipsis, slice(None, None, -2), None)),
                cls((Ellipsis, slice(-2, None), xp.array([0, 3, 0]))),
                cls((Ellipsis, xp.array([[2, 0], [2, 2]]), slice(1, 3))))

    def params(self) -> dict:
        return {"key": _describe(self.key)}

    def __repr__(self) -> str:
        return f"index{_format_key(self.key)}"

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        return _indexed_shape(self.key, shape)

    def forward(self, x):
        return x[self.key]

    def gradient(self, grad, x, *, output):
        return (IndexAdd(self.key)(grad, x),)


@register
class IndexAdd(Op):
    """Zeros shaped like ``like`` with ``grad`` added at ``key`` (repeated indices add up): the gradient
    of ``like[key]``. ``like`` only lends its shape; ``grad`` broadcasts to the indexed shape."""

    name = "index_add"
    arity = 2
    domain = (-2.0, 2.0)

    def __init__(self, key: Any):
        self.key = _normalize_key(key)

    @classmethod
    def examples(cls):
        return (cls((Ellipsis, xp.array([0, 3, 0]))), cls((Ellipsis, slice(None, None, -2))))

    @property
    def signature(self):
        """For tests: a gradient of the shape the key takes from a last axis of 4."""
        return f"({_indexed_shape(self.key, (4,))[-1]}),(4)->(4)"

    def params(self) -> dict:
        return {"key": _describe(self.key)}

    def infer_shape(self, grad: StaticShape, like: StaticShape) -> StaticShape:
        _check_broadcasts(grad, _indexed_shape(self.key, like))
        return like

    def infer_dtype(self, grad, like):
        return grad

    def forward(self, grad, like):
        out = xp.zeros(like.shape, grad.dtype)
        if _is_advanced(self.key):
            xp.add.at(out, self.key, grad)
        else:  # a basic key reaches each element once: plain assignment, much faster than add.at
            out[self.key] = grad
        return out

    def gradient(self, grad, g, like, *, output):
        return Index(self.key)(grad), None


def _pad_widths(widths: Any) -> tuple[tuple[int, int], ...]:
    """numpy's pad widths (an int, a (before, after) pair, or one pair per axis) as pairs of ints."""
    try:
        if isinstance(widths, (int, xp.integer)):
            pairs = ((int(widths), int(widths)),)
        elif len(widths) == 2 and all(isinstance(w, (int, xp.integer)) for w in widths):
            pairs = ((int(widths[0]), int(widths[1])),)
        else:
            pairs = tuple((operator.index(b), operator.index(a)) for b, a in widths)
    except (TypeError, ValueError):
        raise TypeError(f"pad widths are an int, a (before, after) pair or one pair per axis, got {widths!r}") from None
    if any(w < 0 for pair in pairs for w in pair):
        raise ValueError(f"pad widths must not be negative, got {widths!r}")
    return pairs


@register
class Pad(Op):
    """Zeros added around ``x``: ``widths`` as numpy's ``pad`` (constant mode, zeros)."""

    arity = 1
    domain = (-2.0, 2.0)

    def __init__(self, widths: Any):
        self.widths = _pad_widths(widths)

    @classmethod
    def examples(cls):
        return (cls(1), cls((0, 2)), cls(((1, 0), (0, 0), (2, 1))))

    @property
    def signature(self):
        """For tests: as many axes as the widths name, when they name each axis."""
        return None if len(self.widths) == 1 else "(" + ",".join(f"n{i}" for i in range(len(self.widths))) + ")->()"

    def params(self) -> dict:
        return {"widths": self.widths}

    def _per_axis(self, ndim: int) -> tuple[tuple[int, int], ...]:
        if len(self.widths) == 1:
            return self.widths * ndim
        if len(self.widths) != ndim:
            raise ValueError(f"pad widths name {len(self.widths)} axes, the input has {ndim}")
        return self.widths

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        if shape is None:
            return None
        widths = self._per_axis(len(shape))
        return tuple(None if d is None else d + b + a for d, (b, a) in zip(shape, widths, strict=True))

    def forward(self, x):
        return xp.pad(x, self._per_axis(x.ndim)) if x.ndim else x.copy()  # a 0-d array has no axis to pad

    def gradient(self, grad, x, *, output):
        if x.shape is None:
            raise ValueError("pad's gradient needs its input's number of axes")
        key = tuple(slice(b, -a if a else None) for b, a in self._per_axis(len(x.shape)))
        return (Index(key)(grad),)


def _joined_shape(op: str, shapes: Sequence[StaticShape], axis: int | None) -> tuple[int | None, ...] | None:
    """The common shape of ``shapes``, except on ``axis`` (``None``: every axis must agree)."""
    if any(s is None for s in shapes):
        return None
    ndims = {len(s) for s in shapes}
    if len(ndims) != 1:
        raise ValueError(f"{op} needs inputs with one number of axes, got {', '.join(map(format_shape, shapes))}")
    common = []
    for i, sizes in enumerate(zip(*shapes, strict=True)):
        known = {d for d in sizes if d is not None}
        if i != axis and len(known) > 1:
            raise ValueError(f"{op}: sizes {sorted(known)} differ on axis {i}")
        common.append(known.pop() if known and i != axis else None)
    return tuple(common)


@register
class Concat(Op):
    """The inputs joined along ``axis``, as numpy's concatenate; each gets its part of the gradient."""

    domain = (-2.0, 2.0)

    def __init__(self, axis: int = 0, count: int = 2):
        self.axis, self.arity = int(axis), int(count)

    @classmethod
    def examples(cls):
        return (cls(-1), cls(-2, 3))

    @property
    def signature(self):
        """For tests: inputs that differ only on the joined axis."""
        sizes = [2, 1, 3][: self.arity]
        if self.axis == -1:
            return ",".join(f"(n,{s})" for s in sizes) + "->()"
        return ",".join(f"({s},n)" for s in sizes) + "->()"

    def params(self) -> dict:
        return {"axis": self.axis, "count": self.arity}

    def infer_shape(self, *shapes: StaticShape) -> StaticShape:
        if any(s is None for s in shapes):
            return None
        (axis,) = normalize_axis(self.axis, len(shapes[0]))
        common = _joined_shape("concat", shapes, axis)
        joined = [s[axis] for s in shapes]
        common = list(common)
        common[axis] = None if None in joined else int(sum(joined))
        return tuple(common)

    def forward(self, *arrays):
        return xp.concatenate(arrays, axis=self.axis)

    def gradient(self, grad, *inputs, output):
        return tuple(ConcatPart(self.axis, k, len(inputs))(grad, *inputs) for k in range(len(inputs)))


@register
class ConcatPart(Op):
    """The part of ``joined`` that input ``k`` of a concatenation along ``axis`` filled: the gradient
    of concat for that input. The concatenated inputs follow ``joined``; they lend their shapes only."""

    name = "concat_part"
    domain = (-2.0, 2.0)

    def __init__(self, axis: int, k: int, count: int):
        self.axis, self.k, self.count = int(axis), int(k), int(count)
        self.arity = count + 1

    @classmethod
    def examples(cls):
        return (cls(-1, 1, 2), cls(-2, 0, 2))

    @property
    def signature(self):
        """For tests: a joined gradient and the two inputs it came from."""
        return "(n,3),(n,1),(n,2)->()" if self.axis == -1 else "(3,n),(1,n),(2,n)->()"

    def params(self) -> dict:
        return {"axis": self.axis, "k": self.k, "count": self.count}

    def infer_shape(self, joined: StaticShape, *shapes: StaticShape) -> StaticShape:
        whole = Concat(self.axis, self.count).infer_shape(*shapes)
        if whole is not None and joined is not None and (len(whole) != len(joined) or any(
                a is not None and b is not None and a != b for a, b in zip(whole, joined, strict=True))):
            raise ValueError(f"the joined shape {format_shape(joined)} is not the inputs' {format_shape(whole)}")
        return shapes[self.k]

    def forward(self, joined, *arrays):
        axis = self.axis % joined.ndim
        start = sum(a.shape[axis] for a in arrays[: self.k])
        return joined[(slice(None),) * axis + (slice(start, start + arrays[self.k].shape[axis]),)]

    def gradient(self, grad, joined, *inputs, output):
        parts = [grad if j == self.k else zeros_like(x) for j, x in enumerate(inputs)]
        return (Concat(self.axis, self.count)(*parts),) + (None,) * len(inputs)


@register
class Stack(Op):
    """The inputs (of one shape) stacked along a new ``axis``, as numpy's stack."""

    domain = (-2.0, 2.0)

    def __init__(self, axis: int = 0, count: int = 2):
        self.axis, self.arity = int(axis), int(count)

    @classmethod
    def examples(cls):
        return (cls(0), cls(-1, 3))

    @property
    def signature(self):
        """For tests: inputs of one shape."""
        return ",".join(["(n,m)"] * self.arity) + "->()"

    def params(self) -> dict:
        return {"axis": self.axis, "count": self.arity}

    def infer_shape(self, *shapes: StaticShape) -> StaticShape:
        common = _joined_shape("stack", shapes, None)
        if common is None:
            return None
        (axis,) = normalize_axis(self.axis, len(common) + 1)
        return common[:axis] + (len(shapes),) + common[axis:]

    def forward(self, *arrays):
        return xp.stack(arrays, axis=self.axis)

    def gradient(self, grad, *inputs, output):
        if output.shape is None:
            raise ValueError("stack's gradient needs its output's number of axes")
        (axis,) = normalize_axis(self.axis, len(output.shape))
        return tuple(Index((slice(None),) * axis + (k,))(grad) for k in range(len(inputs)))


# --- the functional API ------------------------------------------------------------------

def index(x: Any, key: Any) -> Node:
    """``x[key]`` (numpy's indexing; integer arrays gather, and repeated indices add their gradients)."""
    return Index(key)(x)


def pad(x: Any, widths: Any) -> Node:
    """``x`` with zeros around it: ``widths`` an int, a (before, after) pair, or one pair per axis."""
    return Pad(widths)(x)


def concat(xs: Sequence[Any], axis: int = 0) -> Node:
    """The nodes in ``xs`` joined along ``axis`` (numpy's concatenate)."""
    xs = list(xs)
    if not xs:
        raise ValueError("concat needs at least one input")
    return Concat(axis, len(xs))(*xs)


def stack(xs: Sequence[Any], axis: int = 0) -> Node:
    """The nodes in ``xs`` (of one shape) stacked along a new ``axis`` (numpy's stack)."""
    xs = list(xs)
    if not xs:
        raise ValueError("stack needs at least one input")
    return Stack(axis, len(xs))(*xs)
