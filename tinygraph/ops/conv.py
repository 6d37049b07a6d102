"""2-D convolution and pooling in the course's layout: examples first, channels last.

``x`` is ``(m, H, W, C)`` and a filter bank ``w`` is ``(f, f, C_in, C_out)``.
Everything is vectorised: the windows are a strided view of ``x``
(``sliding_window_view``), contracted with the filters in one ``tensordot``
(im2col and a matrix product); the gradients place values back with one
strided add per filter offset (``f²`` of them, never one per pixel).

The three convolution ops are closed under differentiation:
``conv2d(x, w)``'s gradients are :class:`Conv2dInputGrad` (a transposed
convolution) for ``x`` and :class:`Conv2dFilterGrad` (a correlation of ``x``
with the gradient) for ``w``, and each of those has gradients made of the
three again, so convolutions have second derivatives. Pooling is the same
with :class:`PoolScatter` and :class:`PoolGather`, each the other's gradient.
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..node import Node
from ..op import Op
from ..shapes import StaticShape, format_shape
from .registry import register


def _out_size(n: int | None, f: int | None, stride: int, padding: int) -> int | None:
    """How many windows of ``f`` fit along ``n`` (plus padding) at ``stride``."""
    if n is None or f is None:
        return None
    return (n + 2 * padding - f) // stride + 1


def _padded(x, padding: int):
    """``x`` (m, H, W, C) with ``padding`` zeros around its two spatial axes."""
    if not padding:
        return x
    return xp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))


def _windows(x, f: int, stride: int):
    """The ``f × f`` windows of ``x`` (m, H, W, C) at ``stride``: a strided view of shape (m, Ho, Wo, C, f, f)."""
    return xp.lib.stride_tricks.sliding_window_view(x, (f, f), axis=(1, 2))[:, ::stride, ::stride]


def _place(cols, shape: tuple[int, ...], stride: int, padding: int):
    """Add window values ``cols`` (m, Ho, Wo, f, f, C) back into an array of ``shape`` (m, H, W, C):
    the adjoint of taking the windows. One strided add per filter offset, overlaps summing."""
    m, H, W, C = shape
    _, Ho, Wo, f, _, _ = cols.shape
    out = xp.zeros((m, H + 2 * padding, W + 2 * padding, C), cols.dtype)
    for i in range(f):
        for j in range(f):
            out[:, i:i + stride * Ho:stride, j:j + stride * Wo:stride, :] += cols[:, :, :, i, j, :]
    return out[:, padding:padding + H, padding:padding + W, :] if padding else out


def _check_positive(name: str, **values: int) -> None:
    for key, value in values.items():
        least = 0 if key == "padding" else 1
        if isinstance(value, bool) or not isinstance(value, (int, xp.integer)) or value < least:
            raise ValueError(f"{name}: {key} must be an int, {least} or more; got {value!r}")


def _image(op: str, shape: StaticShape, what: str = "x") -> None:
    if shape is not None and len(shape) != 4:
        raise ValueError(f"{op} needs {what} of shape (m, H, W, C), got {format_shape(shape)}")


class ConvOp(Op):
    """Base of the convolution ops: a stride and a padding, and the test shapes that go with them."""

    domain = (-2.0, 2.0)

    def __init__(self, stride: int = 1, padding: int = 0):
        _check_positive(self.name, stride=stride, padding=padding)
        self.stride, self.padding = int(stride), int(padding)

    @classmethod
    def examples(cls):
        return (cls(), cls(2, 1), cls(2, 0))

    def params(self) -> dict:
        return {"stride": self.stride, "padding": self.padding}

    def _conv_shape(self, x: StaticShape, w: StaticShape) -> StaticShape:
        """conv2d's output shape for ``x`` and ``w``; raises ValueError when they do not fit."""
        _image(self.name, x)
        if w is not None and len(w) != 4:
            raise ValueError(f"{self.name} needs filters w of shape (f, f, C_in, C_out), got {format_shape(w)}")
        if x is None or w is None:
            return None
        if w[0] is not None and w[1] is not None and w[0] != w[1]:
            raise ValueError(f"{self.name} takes square filters, got {w[0]} × {w[1]}")
        if x[3] is not None and w[2] is not None and x[3] != w[2]:
            raise ValueError(f"x has {x[3]} channels but the filters take {w[2]}")
        Ho, Wo = (_out_size(n, w[0], self.stride, self.padding) for n in x[1:3])
        if (Ho is not None and Ho < 1) or (Wo is not None and Wo < 1):
            raise ValueError(f"a {w[0]} × {w[0]} filter does not fit x of {format_shape(x)} "
                             f"with padding {self.padding}")
        return (x[0], Ho, Wo, w[3])

    def _test_shapes(self) -> tuple[str, str, str]:
        """For tests: x (m, 5, 5, 2), w (3, 3, 2, 3), and the output they give."""
        n = _out_size(5, 3, self.stride, self.padding)
        return "(m,5,5,2)", "(3,3,2,3)", f"(m,{n},{n},3)"


@register
class Conv2d(ConvOp):
    """Cross-correlation of ``x`` (m, H, W, C_in) with filters ``w`` (f, f, C_in, C_out), as deep-learning
    frameworks (and the course) compute a convolution: output (m, Ho, Wo, C_out), ``Ho = (H + 2p - f) // s + 1``."""

    arity = 2

    @property
    def signature(self):
        x, w, out = self._test_shapes()
        return f"{x},{w}->{out}"

    def infer_shape(self, x: StaticShape, w: StaticShape) -> StaticShape:
        return self._conv_shape(x, w)

    def forward(self, x, w):
        windows = _windows(_padded(x, self.padding), w.shape[0], self.stride)  # (m, Ho, Wo, C, f, f)
        return xp.tensordot(windows, w, axes=((3, 4, 5), (2, 0, 1)))

    def gradient(self, grad, x, w, *, output):
        return (Conv2dInputGrad(self.stride, self.padding)(grad, w, x),
                Conv2dFilterGrad(self.stride, self.padding)(x, grad, w))


@register
class Conv2dInputGrad(ConvOp):
    """The gradient of ``conv2d`` for its input: ``grad`` (m, Ho, Wo, C_out) spread back through the filters
    ``w`` into the shape of ``like`` (m, H, W, C_in), a transposed convolution. ``like`` lends its shape."""

    name = "conv2d_input_grad"
    arity = 3

    @property
    def signature(self):
        x, w, out = self._test_shapes()
        return f"{out},{w},{x}->{x}"

    def infer_shape(self, grad: StaticShape, w: StaticShape, like: StaticShape) -> StaticShape:
        _check_conv_output(self, grad, self._conv_shape(like, w))
        return like

    def infer_dtype(self, grad, w, like):
        return xp.result_type(grad, w)

    def forward(self, grad, w, like):
        cols = xp.tensordot(grad, w, axes=((3,), (3,)))  # (m, Ho, Wo, f, f, C_in)
        return _place(cols, like.shape, self.stride, self.padding)

    def gradient(self, g, grad, w, like, *, output):
        return (Conv2d(self.stride, self.padding)(g, w),
                Conv2dFilterGrad(self.stride, self.padding)(g, grad, w), None)


@register
class Conv2dFilterGrad(ConvOp):
    """The gradient of ``conv2d`` for its filters: ``x`` (m, H, W, C_in) correlated with ``grad``
    (m, Ho, Wo, C_out), shaped like ``like`` (f, f, C_in, C_out), which lends its shape."""

    name = "conv2d_filter_grad"
    arity = 3

    @property
    def signature(self):
        x, w, out = self._test_shapes()
        return f"{x},{out},{w}->{w}"

    def infer_shape(self, x: StaticShape, grad: StaticShape, like: StaticShape) -> StaticShape:
        _check_conv_output(self, grad, self._conv_shape(x, like))
        return like

    def infer_dtype(self, x, grad, like):
        return xp.result_type(x, grad)

    def forward(self, x, grad, like):
        windows = _windows(_padded(x, self.padding), like.shape[0], self.stride)  # (m, Ho, Wo, C, f, f)
        return xp.tensordot(windows, grad, axes=((0, 1, 2), (0, 1, 2))).transpose(1, 2, 0, 3)

    def gradient(self, g, x, grad, like, *, output):
        return (Conv2dInputGrad(self.stride, self.padding)(grad, g, x),
                Conv2d(self.stride, self.padding)(x, g), None)


def _check_conv_output(op: Op, grad: StaticShape, expected: StaticShape) -> None:
    if grad is None or expected is None:
        return
    if len(grad) != 4 or any(a is not None and b is not None and a != b for a, b in zip(grad, expected, strict=True)):
        raise ValueError(f"{op.name}: the gradient has shape {format_shape(grad)}, the convolution gives "
                         f"{format_shape(expected)}")


# --- pooling ---------------------------------------------------------------------------

class PoolOp(Op):
    """Base of the pooling ops: ``size × size`` windows at ``stride`` (default ``size``), no padding.

    Max pooling shares a window's gradient equally among tied maxima, as ``max``
    does; property tests draw inputs apart (``distinct_inputs``), a tie being a kink.
    """

    domain = (-2.0, 2.0)
    distinct_inputs = True
    mode = "max"

    def __init__(self, size: int, stride: int | None = None, mode: str | None = None):
        stride = size if stride is None else stride
        _check_positive(self.name, size=size, stride=stride)
        self.size, self.stride = int(size), int(stride)
        if mode is not None:
            if mode not in ("max", "avg"):
                raise ValueError(f"{self.name}: mode must be 'max' or 'avg', got {mode!r}")
            self.mode = mode

    def params(self) -> dict:
        return {"size": self.size, "stride": self.stride, "mode": self.mode}

    def _pooled_shape(self, x: StaticShape) -> StaticShape:
        _image(self.name, x)
        if x is None:
            return None
        Ho, Wo = (_out_size(n, self.size, self.stride, 0) for n in x[1:3])
        if (Ho is not None and Ho < 1) or (Wo is not None and Wo < 1):
            raise ValueError(f"a {self.size} × {self.size} window does not fit x of {format_shape(x)}")
        return (x[0], Ho, Wo, x[3])

    def _test_shapes(self) -> tuple[str, str]:
        """For tests: x (m, 5, 5, 2) and its pooled shape."""
        n = _out_size(5, self.size, self.stride, 0)
        return "(m,5,5,2)", f"(m,{n},{n},2)"

    def _weights(self, x):
        """Each window element's share of its window's output: the max's indicator over the ties, or 1/size²."""
        windows = _windows(x, self.size, self.stride)  # (m, Ho, Wo, C, f, f)
        if self.mode == "avg":
            return windows, None
        hits = (windows == windows.max(axis=(4, 5), keepdims=True)).astype(x.dtype)
        return windows, hits / hits.sum(axis=(4, 5), keepdims=True)


class Pool(PoolOp):
    """Base of max_pool2d and avg_pool2d: the forward is the window reduction; the gradient a scatter."""

    arity = 1

    @classmethod
    def examples(cls):
        return (cls(2), cls(3, 2), cls(2, 1))

    def params(self) -> dict:
        return {"size": self.size, "stride": self.stride}

    @property
    def signature(self):
        x, out = self._test_shapes()
        return f"{x}->{out}"

    def infer_shape(self, x: StaticShape) -> StaticShape:
        return self._pooled_shape(x)

    def gradient(self, grad, x, *, output):
        return (PoolScatter(self.size, self.stride, self.mode)(grad, x),)


@register
class MaxPool2d(Pool):
    """The largest element of each ``size × size`` window of ``x`` (m, H, W, C), per channel."""

    name = "max_pool2d"

    def forward(self, x):
        return _windows(x, self.size, self.stride).max(axis=(4, 5))


@register
class AvgPool2d(Pool):
    """The mean of each ``size × size`` window of ``x`` (m, H, W, C), per channel."""

    name = "avg_pool2d"
    mode = "avg"
    distinct_inputs = False

    def forward(self, x):
        return _windows(x, self.size, self.stride).mean(axis=(4, 5))


@register
class PoolScatter(PoolOp):
    """A pooled gradient ``grad`` (m, Ho, Wo, C) sent back to the window elements of ``x`` (m, H, W, C) it came
    from: to each window's maxima (``mode="max"``) or spread evenly (``"avg"``). The gradient of pooling."""

    name = "pool_scatter"
    arity = 2

    @classmethod
    def examples(cls):
        return (cls(2, 2, "max"), cls(3, 2, "max"), cls(3, 2, "avg"))

    @property
    def signature(self):
        x, out = self._test_shapes()
        return f"{out},{x}->{x}"

    def infer_shape(self, grad: StaticShape, x: StaticShape) -> StaticShape:
        _check_conv_output(self, grad, self._pooled_shape(x))
        return x

    def forward(self, grad, x):
        windows, weights = self._weights(x)
        spread = grad[..., None, None] * (weights if weights is not None else 1.0 / self.size ** 2)
        cols = xp.broadcast_to(spread, windows.shape).transpose(0, 1, 2, 4, 5, 3)  # (m, Ho, Wo, f, f, C)
        return _place(cols, x.shape, self.stride, 0).astype(grad.dtype, copy=False)

    def gradient(self, g, grad, x, *, output):
        return PoolGather(self.size, self.stride, self.mode)(g, x), None


@register
class PoolGather(PoolOp):
    """Each window of ``g`` (m, H, W, C) summed with the weights pooling ``x`` gives its elements:
    the gradient of :class:`PoolScatter` (and, for ``g = x``, the pooling itself)."""

    name = "pool_gather"
    arity = 2

    @classmethod
    def examples(cls):
        return (cls(2, 2, "max"), cls(3, 2, "max"), cls(3, 2, "avg"))

    @property
    def signature(self):
        x, _ = self._test_shapes()
        return f"{x},{x}->()"

    def infer_shape(self, g: StaticShape, x: StaticShape) -> StaticShape:
        if g is not None and x is not None and (len(g) != len(x) or any(
                a is not None and b is not None and a != b for a, b in zip(g, x, strict=True))):
            raise ValueError(f"g has shape {format_shape(g)}, x {format_shape(x)}; they must agree")
        return self._pooled_shape(x)

    def forward(self, g, x):
        _, weights = self._weights(x)
        windows = _windows(g, self.size, self.stride)
        if weights is None:
            return windows.mean(axis=(4, 5))
        return (windows * weights).sum(axis=(4, 5))

    def gradient(self, grad, g, x, *, output):
        return PoolScatter(self.size, self.stride, self.mode)(grad, x), None


# --- the functional API ------------------------------------------------------------------

def conv2d(x: Any, w: Any, stride: int = 1, padding: int = 0) -> Node:
    """Convolve ``x`` (m, H, W, C_in) with filters ``w`` (f, f, C_in, C_out): output (m, Ho, Wo, C_out),
    ``Ho = (H + 2·padding - f) // stride + 1`` (a cross-correlation, as the course computes it)."""
    return Conv2d(stride, padding)(x, w)


def max_pool2d(x: Any, size: int, stride: int | None = None) -> Node:
    """The max over each ``size × size`` window of ``x`` (m, H, W, C) at ``stride`` (default ``size``)."""
    return MaxPool2d(size, stride)(x)


def avg_pool2d(x: Any, size: int, stride: int | None = None) -> Node:
    """The mean over each ``size × size`` window of ``x`` (m, H, W, C) at ``stride`` (default ``size``)."""
    return AvgPool2d(size, stride)(x)
