"""Ops that move elements without arithmetic: transpose, reshape, adding and removing axes,
and the broadcasting pair the gradient machinery is built on.

``sum_to(x, like)`` (the gradient of broadcasting) and ``broadcast_like(x, like)``
(the gradient of summing) are each other's gradients. Their second input only
lends its run-time shape, so a size that is ``None`` when the graph is built
is read when it runs; where the shapes are known when building,
:func:`sum_to_shape` reduces over axes worked out then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import xp
from ..node import Node, constant
from ..op import Op
from ..shapes import StaticShape, broadcast_static, format_shape, normalize_axis, unbroadcast
from .registry import register


def _axes_signature(ndim: int) -> str:
    """The test signature of a one-input op whose input core has ``ndim`` axes of any size."""
    return "(" + ",".join(f"n{i}" for i in range(ndim)) + ")->()"


def _known(shape: StaticShape) -> bool:
    return shape is not None and None not in shape


def _check_broadcasts(small: StaticShape, large: StaticShape) -> None:
    """Raise ValueError unless broadcasting ``small`` can give ``large`` (as far as sizes are known)."""
    both = broadcast_static(small, large)
    if both is not None and large is not None and (len(both) != len(large) or any(
            b is not None and d is not None and b != d for b, d in zip(both, large, strict=True))):
        raise ValueError(f"{format_shape(small)} does not broadcast to {format_shape(large)}")


@register
class Transpose(Op):
    """Permute axes (all reversed by default); a view, as in numpy."""

    arity = 1
    domain = (-2.0, 2.0)

    def __init__(self, axes: Sequence[int] | None = None):
        self.axes = None if axes is None else tuple(int(a) for a in axes)

    @classmethod
    def examples(cls):
        return (cls(), cls((1, 0, 2)))

    @property
    def signature(self):
        """For tests: exactly ``len(axes)`` axes when ``axes`` is given."""
        return None if self.axes is None else _axes_signature(len(self.axes))

    def params(self) -> dict:
        return {"axes": self.axes} if self.axes is not None else {}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        if shape is None:
            return None
        if self.axes is None:
            return shape[::-1]
        if sorted(a % max(len(shape), 1) for a in self.axes) != list(range(len(shape))):
            raise ValueError(f"axes {self.axes} are not a permutation of {len(shape)} axes")
        return tuple(shape[a] for a in self.axes)

    def forward(self, x):  # .T, an attribute, costs half the method call; np.transpose adds a Python wrapper
        return x.T if self.axes is None else x.transpose(self.axes)

    def gradient(self, grad, x, *, output):
        if self.axes is None:
            return (transpose(grad),)
        ndim = len(self.axes)
        inverse = [0] * ndim
        for position, axis in enumerate(self.axes):
            inverse[axis % ndim] = position
        return (transpose(grad, inverse),)


@register
class Reshape(Op):
    """Reshape to ``shape`` (one entry may be -1, as in numpy)."""

    arity = 1
    domain = (-2.0, 2.0)

    def __init__(self, shape: Sequence[int]):
        self.shape = tuple(int(d) for d in shape)
        if self.shape.count(-1) > 1 or any(d < -1 for d in self.shape):
            raise ValueError(f"reshape: bad target shape {shape!r}")

    @classmethod
    def examples(cls):
        return (cls((-1,)), cls((2, -1)), cls((-1, 1)))

    @property
    def signature(self):
        """For tests: a last axis of the fixed sizes' product, so the elements divide evenly."""
        known = int(xp.prod([d for d in self.shape if d != -1]))
        return f"({known})->()" if -1 in self.shape and known > 1 else None

    def params(self) -> dict:
        return {"shape": self.shape}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        known = int(xp.prod([d for d in self.shape if d != -1]))
        if shape is None or None in shape:
            return tuple(None if d == -1 else d for d in self.shape)
        size = int(xp.prod(shape))
        if -1 in self.shape:
            if known == 0 or size % known:
                raise ValueError(f"cannot reshape {size} elements into {self.shape}")
            return tuple(size // known if d == -1 else d for d in self.shape)
        if size != known:
            raise ValueError(f"cannot reshape {size} elements into {format_shape(self.shape)}")
        return self.shape

    def forward(self, x):
        return x.reshape(self.shape)

    def gradient(self, grad, x, *, output):
        return (reshape_like(grad, x),)


class ShapedLike(Op):
    """Base of the ops whose second input only lends its (run-time) shape; it gets no gradient."""

    arity = 2
    domain = (-2.0, 2.0)

    def passes_through(self, x: tuple[int, ...], like: tuple[int, ...]) -> bool:
        return x == like  # summing, broadcasting or reshaping to the shape x has already leaves x as it is


@register
class ReshapeLike(ShapedLike):
    """``x`` reshaped to ``like``'s shape: the gradient of a reshape."""

    name = "reshape_like"
    signature = "(n),(n)->(n)"

    def infer_shape(self, x: StaticShape, like: StaticShape) -> StaticShape:
        if _known(x) and _known(like) and xp.prod(x, dtype=int) != xp.prod(like, dtype=int):
            raise ValueError(f"cannot reshape {format_shape(x)} to {format_shape(like)}: the sizes differ")
        return like

    def forward(self, x, like):
        return x.reshape(like.shape)

    def gradient(self, grad, x, like, *, output):
        return reshape_like(grad, x), None


@register
class BroadcastLike(ShapedLike):
    """``x`` broadcast to ``like``'s shape (a read-only view): the gradient of a sum."""

    name = "broadcast_like"
    signature = "(1,n),(m,n)->(m,n)"

    def infer_shape(self, x: StaticShape, like: StaticShape) -> StaticShape:
        _check_broadcasts(x, like)
        return like

    def forward(self, x, like):
        return xp.broadcast_to(x, like.shape)

    def gradient(self, grad, x, like, *, output):
        return sum_to(grad, x), None


@register
class SumTo(ShapedLike):
    """``x`` summed down to ``like``'s shape, read when the graph runs: the gradient of broadcasting.

    The shape is compared on every run, so use it where a size is ``None`` when
    building; :class:`SumToShape` does the same with its axes worked out once.
    """

    name = "sum_to"
    signature = "(m,n),(1,n)->(1,n)"

    def infer_shape(self, x: StaticShape, like: StaticShape) -> StaticShape:
        _check_broadcasts(like, x)
        return like

    def forward(self, x, like):
        return x if x.shape == like.shape else unbroadcast(x, like.shape)

    def gradient(self, grad, x, like, *, output):
        return broadcast_like(grad, x), None


@register
class SumToShape(Op):
    """``x`` summed over ``axes``, then shaped ``shape``: a broadcast gradient reduced to a known shape."""

    name = "sum_to_shape"
    arity = 1
    domain = (-2.0, 2.0)

    def __init__(self, axes: Sequence[int], shape: Sequence[int]):
        self.axes, self.shape = tuple(axes), tuple(shape)

    @classmethod
    def examples(cls):
        return (cls((0,), (4,)), cls((0,), (1, 4)), cls((0, 1), ()))

    @property
    def signature(self):
        """For tests: two axes, the last of the target's size."""
        return "(n,4)->()" if self.shape else "(n,m)->()"

    def params(self) -> dict:
        return {"axes": self.axes, "shape": self.shape}

    def infer_shape(self, x: StaticShape) -> StaticShape:
        if x is not None:
            kept = [d for i, d in enumerate(x) if i not in normalize_axis(self.axes, len(x))]
            if None not in kept and xp.prod(kept, dtype=int) != xp.prod(self.shape, dtype=int):
                raise ValueError(f"summing {format_shape(x)} over axes {self.axes} cannot give "
                                 f"{format_shape(self.shape)}")
        return self.shape

    writes_into = True

    def forward(self, x, out=None):
        if out is not None and not self.shape:
            return xp.add.reduce(x, axis=None, out=out)
        if out is not None and len(self.shape) == x.ndim:
            try:  # the same sum as below, straight into out when its shape keeps the summed axes as 1s
                return xp.add.reduce(x, axis=self.axes, keepdims=True, out=out)
            except ValueError:  # it does not (a leading axis summed away): sum, then copy
                pass
        if not self.shape:  # down to a scalar: over all axes at once, much cheaper than naming them (and a
            total = xp.asarray(xp.add.reduce(x, axis=None))  # 0-d array, as a gradient handed out must be)
        else:
            total = xp.add.reduce(x, axis=self.axes).reshape(self.shape)
        if out is None:
            return total
        xp.copyto(out, total)
        return out

    def gradient(self, grad, x, *, output):
        return (broadcast_like(grad, x),)


def sum_to_shape(x: Node, shape: StaticShape) -> Node:
    """``x`` summed down to ``shape`` (the reverse of broadcasting ``shape`` up to x's shape).

    Works out the axes now when ``shape`` is fully known and x's number of axes is;
    ``x`` itself when nothing needs summing. Raises ValueError when ``x`` cannot
    have come from broadcasting ``shape``.
    """
    if x.shape == shape and _known(shape):
        return x
    if not _known(shape) or x.shape is None:
        raise ValueError("sum_to_shape needs the target shape and x's number of axes")
    lead = len(x.shape) - len(shape)
    if lead < 0 or any(s != 1 and d is not None and d != s for s, d in zip(shape, x.shape[lead:], strict=True)):
        raise ValueError(f"a gradient of shape {format_shape(x.shape)} does not reduce to {format_shape(shape)}")
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    if not axes:
        return x if x.shape == shape else reshape(x, shape)
    return SumToShape(axes, shape)(x)


@register
class ExpandDims(Op):
    """New axes of size 1 at ``axis`` (an int or ints, positions in the result), as numpy's expand_dims."""

    name = "expand_dims"
    arity = 1
    domain = (-2.0, 2.0)

    def __init__(self, axis: int | Sequence[int]):
        self.axis = (int(axis),) if isinstance(axis, int) else tuple(int(a) for a in axis)

    @classmethod
    def examples(cls):
        return (cls(0), cls(-1), cls((0, 2)))

    def params(self) -> dict:
        return {"axis": self.axis}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        if shape is None:
            return None
        axes = normalize_axis(self.axis, len(shape) + len(self.axis))
        rest = iter(shape)
        return tuple(1 if i in axes else next(rest) for i in range(len(shape) + len(axes)))

    def forward(self, x):
        return xp.expand_dims(x, self.axis)

    def gradient(self, grad, x, *, output):
        return (squeeze(grad, self.axis),)


@register
class Squeeze(Op):
    """Remove axes of size 1: those at ``axis``, or all of them when ``axis`` is None."""

    arity = 1
    domain = (-2.0, 2.0)
    signature = "(1,n)->(n)"

    def __init__(self, axis: int | Sequence[int] | None = None):
        self.axis = None if axis is None else (int(axis),) if isinstance(axis, int) else tuple(axis)

    @classmethod
    def examples(cls):
        return (cls(), cls(0))

    def params(self) -> dict:
        return {"axis": self.axis}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        if shape is None:
            return None
        if self.axis is None:
            if None in shape:
                raise ValueError("squeeze without axis needs every size known; name the axes")
            return tuple(d for d in shape if d != 1)
        axes = normalize_axis(self.axis, len(shape))
        if any(shape[a] not in (1, None) for a in axes):
            raise ValueError(f"cannot squeeze axes {self.axis}: sizes {[shape[a] for a in axes]} are not 1")
        return tuple(d for i, d in enumerate(shape) if i not in axes)

    def forward(self, x):
        return xp.squeeze(x, self.axis)

    def gradient(self, grad, x, *, output):
        return (reshape_like(grad, x),)


@register
class BroadcastTo(Op):
    """``x`` broadcast to a fixed ``shape`` (a read-only view), as numpy's broadcast_to."""

    name = "broadcast_to"
    arity = 1
    domain = (-2.0, 2.0)
    signature = "(3,1)->()"  # for tests: broadcasts to the example's (2, 3, 4)

    def __init__(self, shape: Sequence[int]):
        self.shape = (int(shape),) if isinstance(shape, int) else tuple(int(d) for d in shape)
        if any(d < 0 for d in self.shape):
            raise ValueError(f"broadcast_to: bad target shape {shape!r}")

    @classmethod
    def examples(cls):
        return (cls((2, 3, 4)), cls((3, 2)))

    def params(self) -> dict:
        return {"shape": self.shape}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        _check_broadcasts(shape, self.shape)
        return self.shape

    def forward(self, x):
        return xp.broadcast_to(x, self.shape)

    def gradient(self, grad, x, *, output):
        return (sum_to(grad, x),)


@register
class ZerosLike(Op):
    """Zeros of ``x``'s shape and dtype: the gradient of a node that does not reach the output."""

    name = "zeros_like"
    arity = 1
    domain = (-2.0, 2.0)
    differentiable = False

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        return shape

    def forward(self, x):
        return xp.zeros(x.shape, x.dtype)


@register
class Count(Op):
    """How many elements the broadcast of the inputs has, as a 0-d array of their dtype.

    A function of shapes alone, so it has no gradient; a mean's gradient divides by it
    when a size is not known until the graph runs.
    """

    differentiable = False
    domain = (-2.0, 2.0)

    def infer_shape(self, *shapes: StaticShape) -> StaticShape:
        broadcast_static(*shapes)
        return ()

    def forward(self, *inputs):
        size = inputs[0].size if len(inputs) == 1 else xp.broadcast(*inputs).size
        return xp.asarray(size, dtype=xp.result_type(*inputs))


def count(*nodes: Node) -> Node:
    """The number of elements of the nodes' broadcast shape: a constant when it is known now."""
    shape = broadcast_static(*(n.shape for n in nodes))
    if _known(shape):
        return constant(float(xp.prod(shape, dtype=float)), dtype=nodes[0].dtype)
    return Count()(*nodes)


# --- the functional API ------------------------------------------------------------------

def transpose(x: Any, axes: Sequence[int] | None = None) -> Node:
    """Permute the axes; reverse them when ``axes`` is ``None``."""
    return Transpose(axes)(x)


def reshape(x: Any, shape: Sequence[int]) -> Node:
    """Give ``x`` a new shape with the same number of elements."""
    return Reshape(shape)(x)


def reshape_like(x: Any, like: Node) -> Node:
    """``x`` reshaped to ``like``'s run-time shape."""
    return ReshapeLike()(x, like)


def broadcast_like(x: Any, like: Node) -> Node:
    """``x`` broadcast to ``like``'s run-time shape."""
    return BroadcastLike()(x, like)


def sum_to(x: Any, like: Node) -> Node:
    """``x`` summed down to ``like``'s shape: at build time where it is known, else at run time."""
    try:
        return sum_to_shape(x, like.shape)
    except ValueError:
        return SumTo()(x, like)


def broadcast_to(x: Any, shape: Sequence[int]) -> Node:
    """``x`` broadcast to ``shape`` (numpy's broadcasting rules); its gradient sums back down."""
    return BroadcastTo(shape)(x)


def expand_dims(x: Any, axis: int | Sequence[int]) -> Node:
    """Insert axes of size 1 at ``axis``."""
    return ExpandDims(axis)(x)


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Node:
    """Remove axes of size 1 (those at ``axis``, or all)."""
    return Squeeze(axis)(x)


def zeros_like(x: Node) -> Node:
    """Zeros shaped like ``x``: a constant when x's shape is known now."""
    if _known(x.shape):
        return constant(xp.zeros(x.shape, x.dtype))
    return ZerosLike()(x)
