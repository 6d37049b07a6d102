"""Layers and losses that build graph nodes, in the course's layout: examples are columns.

A :class:`Module` holds parameters and says, in :meth:`Module.forward`, which
nodes it builds from its input; calling it on a node builds them. Nothing runs
until a :class:`tinygraph.Graph` does::

    model = nn.MLP([2, 4, 1], hidden="tanh", output="sigmoid", rng=1)
    X = tg.placeholder((2, None), name="X")
    Y = tg.placeholder((1, None), name="Y")
    cost = nn.binary_cross_entropy(model(X), Y)
    g = tg.Graph(cost)

A dense layer computes ``W @ A + b`` with ``W (n_out, n_in)`` and ``b (n_out, 1)``,
``A`` being ``(n_in, m)`` for ``m`` examples. :meth:`Module.parameters` finds
parameters through attributes, lists, tuples and dicts (including modules inside
them), in the order they were assigned; :meth:`Module.named_parameters` gives
them dotted names (``"layers.0.W"``).
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from . import init as initializers
from . import ops
from .errors import ShapeError
from .node import Node, Parameter, as_nodes, parameter
from .shapes import format_shape

_linear_ids = itertools.count(1)


class Module:
    """Base class of layers and models: parameters found through attributes, and ``forward``.

    Subclass it, assign parameters, modules, or lists/tuples/dicts of them as
    attributes in ``__init__``, and define ``forward(self, *inputs) -> Node``.
    """

    def __call__(self, *inputs: Any, **options: Any) -> Node:
        return self.forward(*inputs, **options)

    def forward(self, *inputs: Any) -> Node:
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """``[(dotted name, parameter), ...]`` in attribute order; a parameter reached twice is listed once."""
        found: dict[Parameter, str] = {}
        for name, p in _walk(vars(self), "", {id(self)}):
            found.setdefault(p, name)
        return [(name, p) for p, name in found.items()]

    def parameters(self) -> list[Parameter]:
        """Every parameter, in the order of :meth:`named_parameters`."""
        return [p for _, p in self.named_parameters()]


def _walk(value: Any, prefix: str, modules_seen: set[int]) -> Iterator[tuple[str, Parameter]]:
    """``(name, parameter)`` pairs inside ``value``: a parameter, module, list, tuple or dict (anything else: none)."""
    if isinstance(value, Parameter):
        yield prefix.rstrip("."), value
    elif isinstance(value, Module):
        if id(value) not in modules_seen:  # a module met again (shared, or a cycle) adds nothing new
            modules_seen.add(id(value))
            yield from _walk(vars(value), prefix, modules_seen)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{prefix}{key}.", modules_seen)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, f"{prefix}{index}.", modules_seen)


def _as_node(x: Any, like: Node | None = None) -> Node:
    """``x`` itself when it is a node; an array or number becomes a constant (in ``like``'s dtype if given)."""
    if isinstance(x, Node):
        return x
    return as_nodes((like, x))[1] if like is not None else as_nodes((x,))[0]


# --- layers ---------------------------------------------------------------------------

class Linear(Module):
    """A dense layer, ``W @ A + b``: ``W (n_out, n_in)`` from ``init``, ``b (n_out, 1)`` zeros.

    Args:
        n_in, n_out: input features and output units.
        init: ``"zeros"``, ``"normal"`` (``randn · 0.01``), ``"xavier"``, ``"he"``
            (see :mod:`tinygraph.init`) or a function called as ``init(shape, rng=rng)``.
        rng: a seed, ``np.random.RandomState``, ``np.random.Generator`` or ``None``
            (numpy's global random state).
        name: names the layer in errors and its parameters (``"<name>.W"``,
            ``"<name>.b"``); default ``"linear<k>"``.
        dtype: the parameters' float dtype (drawn in float64, then cast).
    """

    def __init__(self, n_in: int, n_out: int, init: str | initializers.Initializer = "he",
                 rng: initializers.Rng = None, *, name: str | None = None, dtype: Any = np.float64):
        self.n_in, self.n_out = _size(n_in, "n_in"), _size(n_out, "n_out")
        self.name = name if name is not None else f"linear{next(_linear_ids)}"
        shape = (self.n_out, self.n_in)
        weights = np.asarray(initializers.get(init)(shape, rng=initializers.as_rng(rng)))
        if weights.shape != shape:
            raise ShapeError(f"layer {self.name!r}: init {init!r} returned shape {weights.shape}, expected {shape}")
        self.W = parameter(weights.astype(dtype), name=f"{self.name}.W")
        self.b = parameter(np.zeros((self.n_out, 1), dtype), name=f"{self.name}.b")

    def forward(self, A: Any) -> Node:
        """``W @ A + b``; raises :class:`ShapeError` naming the layer when ``A`` has the wrong number of rows."""
        A = _as_node(A, self.W)
        if A.shape is not None:
            if len(A.shape) != 2:
                raise ShapeError(
                    f"layer {self.name!r} ({self.n_in} → {self.n_out}) takes A of shape ({self.n_in}, m), "
                    f"examples as columns; got A of shape {format_shape(A.shape)}"
                )
            if A.shape[0] is not None and A.shape[0] != self.n_in:
                raise ShapeError(
                    f"layer {self.name!r} ({self.n_in} → {self.n_out}) expects {self.n_in} input features "
                    f"(rows of A), got {A.shape[0]}: A has shape {format_shape(A.shape)}"
                )
        return self.W @ A + self.b

    def __repr__(self) -> str:
        return f"Linear({self.n_in} → {self.n_out}, name={self.name!r})"


def _size(n: Any, what: str) -> int:
    try:
        size = operator.index(n)
    except TypeError:
        size = 0
    if size <= 0:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return size


class Sequential(Module):
    """Modules (or node functions such as ``tg.relu``) applied one after another.

    ``Sequential(nn.Linear(2, 4), tg.tanh, nn.Linear(4, 1), tg.sigmoid)``;
    parameters are named ``layers.<i>.<name>``.
    """

    def __init__(self, *modules: Module | Callable[[Node], Node]):
        for i, module in enumerate(modules):
            if not callable(module):
                raise TypeError(f"Sequential: item {i} ({module!r}) is neither a module nor a function of a node")
        self.layers = list(modules)

    def forward(self, x: Any) -> Node:
        for layer in self.layers:
            x = layer(x)
        return x

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(getattr(layer, "__name__", None) or repr(layer) for layer in self.layers) + ")"


def identity(x: Node) -> Node:
    """No activation: the pre-activation itself."""
    return x


def activation(spec: str | Callable[[Node], Node] | None) -> Callable[[Node], Node]:
    """The node function named ``spec``: ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"leaky_relu"`` (when
    tinygraph has it), ``"identity"`` or ``None``; a function is returned as it is."""
    if callable(spec):
        return spec
    if spec is None or spec == "identity":
        return identity
    if spec in ("relu", "tanh", "sigmoid", "leaky_relu") and hasattr(ops, spec):
        return getattr(ops, spec)
    raise ValueError(
        f"unknown activation {spec!r}: expected 'relu', 'tanh', 'sigmoid', 'leaky_relu', 'identity', None "
        f"or a function of a node"
    )


class MLP(Module):
    """A stack of dense layers, the course's ``L_model_forward``: ``layer_dims = [n_x, n_1, ..., n_L]``.

    Every layer but the last is followed by ``hidden``, the last by ``output``
    (see :func:`activation`). The weights are drawn layer by layer from one
    stream, ``rng`` (see :mod:`tinygraph.init`), so ``MLP(dims, init="normal",
    rng=3)`` equals the course's ``np.random.seed(3)`` then ``randn(n_l, n_{l-1}) * 0.01``
    for each ``l``. Parameters are ``layers.<l-1>.W`` and ``layers.<l-1>.b``
    (the course's ``W<l>``, ``b<l>``), and the layers are named so in errors.
    """

    def __init__(self, layer_dims: Sequence[int], hidden: str | Callable | None = "relu",
                 output: str | Callable | None = "sigmoid", init: str | initializers.Initializer = "he",
                 rng: initializers.Rng = None, *, dtype: Any = np.float64):
        dims = [_size(n, "every layer size") for n in layer_dims]
        if len(dims) < 2:
            raise ValueError(f"MLP needs the input size and at least one layer size, got layer_dims={layer_dims!r}")
        self.layer_dims = dims
        self.hidden, self.output = activation(hidden), activation(output)
        stream = initializers.as_rng(rng)  # one stream for all layers, drawn in layer order
        self.layers = [Linear(n_in, n_out, init, stream, name=f"layers.{i}", dtype=dtype)
                       for i, (n_in, n_out) in enumerate(zip(dims[:-1], dims[1:], strict=True))]

    def forward(self, X: Any) -> Node:
        A = X
        for layer in self.layers[:-1]:
            A = self.hidden(layer(A))
        return self.output(self.layers[-1](A))

    def __repr__(self) -> str:
        dims = " → ".join(map(str, self.layer_dims))
        name = lambda f: getattr(f, "__name__", repr(f))  # noqa: E731
        return f"MLP({dims}, hidden={name(self.hidden)}, output={name(self.output)})"


class Dropout(Module):
    """Inverted dropout, ``tg.dropout(x, keep_prob, seed)``: active while ``tg.training`` is on, identity otherwise."""

    def __init__(self, keep_prob: float, seed: int | None = None):
        if not 0 < keep_prob <= 1:
            raise ValueError(f"Dropout: keep_prob must be in (0, 1], got {keep_prob!r}")
        self.keep_prob = float(keep_prob)
        self.seed = seed

    def forward(self, x: Any) -> Node:
        import tinygraph  # looked up when used: tg.dropout comes with the op set, after this module loads

        return tinygraph.dropout(x, self.keep_prob, self.seed)

    def __repr__(self) -> str:
        return f"Dropout(keep_prob={self.keep_prob!r}, seed={self.seed!r})"


# --- losses -----------------------------------------------------------------------------

def _same_shape(loss: str, A: Node, Y: Node) -> None:
    """Predictions and labels must have one shape: a (m,) label row against (1, m) would broadcast to (m, m)."""
    if A.shape is None or Y.shape is None:
        return
    if len(A.shape) != len(Y.shape) or any(a is not None and y is not None and a != y
                                           for a, y in zip(A.shape, Y.shape, strict=True)):
        raise ShapeError(
            f"{loss}: predictions of shape {format_shape(A.shape)} and labels of shape {format_shape(Y.shape)} "
            f"differ; give both as (outputs, m), examples as columns"
        )


def binary_cross_entropy(A: Node, Y: Any) -> Node:
    """The course's cost, ``-1/m · Σ (Y·log(A) + (1-Y)·log(1-A))``, with ``m`` examples as columns.

    Written as that formula, so when ``A = sigmoid(Z)`` the graph's rewrites run
    the stable form (``stable_log_sigmoid``, then the fused
    ``sigmoid_cross_entropy``) and the cost stays finite for any ``Z``.
    For ``A`` of shape ``(1, m)`` it is the mean over the examples; for ``(n, m)``
    (n independent outputs) the per-example costs are summed over the ``n``
    rows and averaged over the ``m`` columns, as the course's ``-1/m · np.sum``
    does. ``Y`` must have ``A``'s shape.
    """
    A = _as_node(A)
    Y = _as_node(Y, A)
    _same_shape("binary_cross_entropy", A, Y)
    losses = Y * ops.log(A) + (1 - Y) * ops.log(1 - A)
    if A.shape is None or len(A.shape) < 2 or all(d == 1 for d in A.shape[:-1]):
        return -ops.mean(losses)  # the form the fused sigmoid_cross_entropy rewrite recognises
    return -ops.sum(ops.mean(losses, axis=-1))


def softmax_cross_entropy(Z: Node, Y: Any, axis: int = 0) -> Node:
    """``-mean over examples of Σ_classes Y·log_softmax(Z)``: classes along ``axis`` (rows by default).

    ``Z`` are the logits and ``Y`` one-hot (or probability) labels of ``Z``'s shape.
    Uses ``tg.log_softmax``, stable for logits of any size.
    """
    import tinygraph  # looked up when used, as in Dropout

    Z = _as_node(Z)
    Y = _as_node(Y, Z)
    _same_shape("softmax_cross_entropy", Z, Y)
    return -ops.mean(ops.sum(Y * tinygraph.log_softmax(Z, axis=axis), axis=axis))


def l2_penalty(weights: Iterable[Node], lambd: float, m: int) -> Node:
    """``lambd / (2m) · Σ_W ‖W‖²`` over ``weights`` (the course regularises the ``W``s, not the ``b``s).

    Add it to the cost: ``cost = nn.binary_cross_entropy(A, Y) + nn.l2_penalty(ws, 0.7, m)``.
    """
    weights = list(weights)
    if not weights:
        raise ValueError("l2_penalty needs at least one weight, got none")
    squares = [ops.sum(W * W) for W in map(_as_node, weights)]
    return (lambd / (2 * m)) * functools.reduce(ops.add, squares)


__all__ = ["Dropout", "Linear", "MLP", "Module", "Sequential", "activation", "binary_cross_entropy", "identity",
           "l2_penalty", "softmax_cross_entropy"]
