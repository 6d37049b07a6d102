"""Shape helpers shared by every op: broadcasting at build time, reducing at run time.

A *static* shape is a tuple whose entries are ints or ``None`` ("any size",
known only when the graph runs). A whole static shape of ``None`` means even
the number of axes is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

StaticShape = tuple[int | None, ...] | None


def format_shape(shape: StaticShape) -> str:
    """``(None, 3)`` reads better as ``(?, 3)`` in error messages."""
    if shape is None:
        return "(unknown)"
    inner = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def broadcast_static(*shapes: StaticShape) -> StaticShape:
    """Numpy's broadcasting rule on static shapes; raises ValueError when impossible.

    An unknown size broadcast against 1 stays unknown; against n > 1 it must be n.
    """
    if any(s is None for s in shapes):
        return None
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(-ndim, 0):
        sizes = [s[axis] for s in shapes if len(s) >= -axis]
        known = {d for d in sizes if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(f"sizes {sorted(known)} on axis {axis} do not broadcast")
        if known:
            result.append(known.pop())
        elif None in sizes:
            result.append(None)
        else:
            result.append(1)
    return tuple(result)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` back down to ``shape``: the VJP of broadcasting ``shape`` up to grad's shape.

    Sums away the extra leading axes and the axes where ``shape`` has size 1.
    Raises ValueError when grad's shape cannot have come from broadcasting ``shape``.
    """
    lead = grad.ndim - len(shape)
    if lead < 0 or any(s != 1 and s != g for s, g in zip(shape, grad.shape[lead:], strict=False)):
        raise ValueError(f"a gradient of shape {grad.shape} does not reduce to {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1
    )
    return grad.sum(axis=axes).reshape(shape) if axes else grad.reshape(shape)


def normalize_axis(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...] | None:
    """Turn ``axis`` (None, an int or ints, negatives allowed) into sorted positive axes."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for {ndim} axes")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis} repeats an axis")
    return tuple(sorted(out))
