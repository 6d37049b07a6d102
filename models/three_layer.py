"""The three-layer network that Course 2's Week 1 and Week 2 assignments share, as a tinygraph graph.

LINEAR → RELU → LINEAR → RELU → LINEAR → SIGMOID, examples as columns
(``X`` is ``(features, m)``), each layer ``W @ A + b``. The course ships a
numpy copy of this network with a hand-written backward in each of
``init_utils``, ``reg_utils``, ``gc_utils`` and ``opt_utils``; here it is one
graph per set of options, and every gradient comes from the graph's backward.

The options:

- ``lambd``: the L2 penalty ``lambd/(2m) · Σ‖W‖²`` (:func:`tinygraph.nn.l2_penalty`)
  added to the cost, for a fixed batch size ``m``;
- ``keep_prob``: inverted dropout after each hidden layer, ``A = relu(Z) · D / keep_prob``,
  the masks ``D1``, ``D2`` fed as placeholders, so that the course's own
  ``np.random`` mask sequence is reproduced bit for bit;
- ``affine``: how a layer computes ``W @ A + b`` (a test may plant a broken op there);
- ``loss``: the cost as a function of ``(A3, Y)``; by default the course's
  cross-entropy :func:`tinygraph.nn.binary_cross_entropy`, which the graph runs
  as one stable fused op. :attr:`ThreeLayerNet.written` evaluates the cost with
  every op as written, without rewrites (gradient checking measures the
  course formula's own round-off, see :mod:`models.gradient_checking`).

The course's step-by-step functions pass *caches*: tuples of the values a
forward produced, ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``, with
``D1`` and ``D2`` after ``Z1`` and ``Z2`` under dropout (``A1``, ``A2`` then
hold the dropped-out activations). :meth:`ThreeLayerNet.run_cache` takes such
a cache's values as given, so that the gradients are those of the cache.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

import tinygraph as tg
from tinygraph import nn

from .parameters import load_parameters, parameter_values

__all__ = [
    "LAYERS", "PARAMETER_KEYS", "CacheError", "ThreeLayerNet", "accuracy", "boundary", "cache_dims", "dims_of",
    "feeds_any_node", "missing_package", "network", "predict", "predict_dec", "recorder", "run_summary",
]

LAYERS = 3
PARAMETER_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")
Loss = Callable[[tg.Node, tg.Node], tg.Node]
Affine = Callable[[int, tg.Node, tg.Node, tg.Node], tg.Node]


def dense(layer: int, W: tg.Node, A: tg.Node, b: tg.Node) -> tg.Node:
    """A layer's pre-activation, ``W @ A + b`` (``layer`` counts from 1; a replacement may build each its own)."""
    return W @ A + b


def missing_package(package: str, what: str) -> ImportError:
    """The error for a missing package of the ``course`` extra (scikit-learn, scipy), saying how to install it."""
    return ImportError(f"{what} needs {package}: pip install {package} "
                       f'(or, in a tinygraph checkout, pip install -e ".[course]")')


class CacheError(tg.TinygraphError, ValueError):
    """A course cache is not laid out as this network's caches are."""


class ThreeLayerNet:
    """The nodes and graphs of the course's three-layer network for one set of options.

    Attributes:
        layers_dims: ``(n_x, n_1, n_2, n_y)``.
        parameters: ``{"W1": tg.Parameter, ..., "b3": ...}``, named as the course names them.
        X, Y: placeholders ``(n_x, m)`` and ``(n_y, m)`` (``m`` is ``None``, any size, unless given).
        masks: the dropout placeholders ``(D1, D2)``, empty without dropout.
        nodes: ``"Z1"``, ``"A1"``, ``"Z2"``, ``"A2"``, ``"Z3"``, ``"A3"`` as the course's cache
            holds them, and ``"relu1"``, ``"relu2"`` (the same as ``A1``, ``A2`` without dropout).
        cost: the cost node; ``graph`` computes ``(cost, A3)``.
    """

    def __init__(self, layers_dims: Sequence[int], *, m: int | None = None, lambd: float = 0.0,
                 keep_prob: float = 1.0, loss: Loss = nn.binary_cross_entropy, affine: Affine = dense):
        dims = tuple(int(d) for d in layers_dims)
        if len(dims) != LAYERS + 1 or min(dims) < 1:
            raise ValueError(f"the three-layer network needs four positive layer sizes, got {tuple(layers_dims)!r}")
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r}")
        if lambd < 0:
            raise ValueError(f"lambd must be >= 0, got {lambd!r}")
        if lambd and m is None:
            raise ValueError("the L2 penalty divides by the number of examples: build the network with m=...")
        self.layers_dims, self.m, self.lambd, self.keep_prob = dims, m, float(lambd), float(keep_prob)
        self.X = tg.placeholder((dims[0], m), name="X")
        self.Y = tg.placeholder((dims[-1], m), name="Y")
        self.parameters: dict[str, tg.Parameter] = {}
        self.nodes: dict[str, tg.Node] = {}
        masks = []
        A: tg.Node = self.X
        for layer in range(1, LAYERS + 1):
            W = self.parameters[f"W{layer}"] = tg.parameter(np.zeros((dims[layer], dims[layer - 1])), f"W{layer}")
            b = self.parameters[f"b{layer}"] = tg.parameter(np.zeros((dims[layer], 1)), f"b{layer}")
            Z = self.nodes[f"Z{layer}"] = affine(layer, W, A, b)
            if layer == LAYERS:
                break
            A = self.nodes[f"relu{layer}"] = tg.relu(Z)
            if keep_prob < 1.0:
                D = tg.placeholder((dims[layer], m), name=f"D{layer}")
                masks.append(D)
                A = A * D / keep_prob  # the course's order: mask, then scale
            self.nodes[f"A{layer}"] = A
        self.nodes["A3"] = tg.sigmoid(Z)
        self.masks: tuple[tg.Placeholder, ...] = tuple(masks)
        for name, node in self.nodes.items():
            node.name = name  # A1 and relu1 may be one node: it keeps the cache's name
        cost = loss(self.nodes["A3"], self.Y)
        if lambd:
            cost = cost + nn.l2_penalty([self.parameters[f"W{layer}"] for layer in range(1, LAYERS + 1)], lambd, m)
        cost.name = "cost"
        self.cost = cost
        self.graph = tg.Graph((cost, self.nodes["A3"]))

    @functools.cached_property
    def written(self) -> tg.Graph:
        """The cost with every op as written (no rewrites): the formula's own round-off, built when first asked."""
        return tg.Graph(self.cost, rewrites=False)

    @functools.cached_property
    def predictor(self) -> tg.Graph:
        """``A3`` from ``X`` alone (for a network without dropout; see :meth:`predict_proba`)."""
        return tg.Graph(self.nodes["A3"])

    # --- parameters --------------------------------------------------------------
    def load(self, parameters: Mapping[str, Any]) -> ThreeLayerNet:
        """Copy the course's parameter dictionary (``"W1"`` … ``"b3"``) into this graph's parameters."""
        load_parameters(self.parameters, parameters, f"layers {self.layers_dims} need")
        return self

    def values(self) -> dict[str, np.ndarray]:
        """Copies of the parameter values, as the course's dictionary of arrays."""
        return parameter_values(self.parameters)

    # --- running -----------------------------------------------------------------
    def _feeds(self, X: Any, Y: Any, masks: Sequence[Any] | None) -> dict[tg.Node, Any]:
        if len(masks or ()) != len(self.masks):
            raise ValueError(f"this network has {len(self.masks)} dropout mask(s), got {len(masks or ())}")
        return {self.X: X, self.Y: Y, **dict(zip(self.masks, masks or (), strict=True))}

    def run(self, X: Any, Y: Any, masks: Sequence[Any] | None = None) -> float:
        """One forward of the cost graph on the loaded parameters; returns the cost."""
        cost, _ = self.graph.forward(self._feeds(X, Y, masks))
        return float(cost)

    def train_step(self, optimizer: Any, X: Any, Y: Any, masks: Sequence[Any] | None = None) -> float:
        """One training step of ``optimizer`` on the cost graph: forward, gradients and update, as
        ``run`` then ``optimizer.step(backward())`` do (to the bit); returns the cost."""
        cost, _ = optimizer.minimize(self.graph, self._feeds(X, Y, masks))
        return float(cost)

    def evaluate_written(self, X: Any, Y: Any, masks: Sequence[Any] | None = None) -> float:
        """The cost on the loaded parameters, every op as written (see :attr:`written`)."""
        return float(self.written.forward(self._feeds(X, Y, masks)))

    def backward(self) -> dict[tg.Node, np.ndarray]:
        """After a run: ``{parameter: gradient}`` from the graph's backward, as an optimizer's ``step`` takes it."""
        return self.graph.backward(tuple(self.parameters.values()))

    def gradients(self) -> dict[str, np.ndarray]:
        """After a run: the course's ``"dW1"`` … ``"db3"``, from the graph's backward."""
        grads = self.backward()
        return {f"d{key}": grads[node] for key, node in self.parameters.items()}

    def node_gradients(self) -> dict[str, np.ndarray]:
        """After a run: the cost's gradient with respect to ``Z3``, ``A2``, ``Z2``, ``A1``, ``Z1``.

        ``A1``, ``A2`` mean the ReLU outputs (before dropout where there is dropout), which
        is what the course's ``dA1``, ``dA2`` hold.
        """
        names = {"Z3": "Z3", "A2": "relu2", "Z2": "Z2", "A1": "relu1", "Z1": "Z1"}
        grads = self.graph.backward(tuple(self.nodes[node] for node in names.values()))
        return {name: grads[self.nodes[node]] for name, node in names.items()}

    def cache(self) -> tuple[np.ndarray, ...]:
        """The course's cache of the last run: ``(Z1, A1, W1, b1, …, Z3, A3, W3, b3)``, ``D1``/``D2`` under dropout."""
        value = self.graph.value
        entries = {name: value(self.nodes[name]) for name in ("Z1", "A1", "Z2", "A2", "Z3", "A3")}
        entries.update((mask.name, value(mask)) for mask in self.masks)
        entries.update((key, node.value) for key, node in self.parameters.items())
        return tuple(entries[name].copy() for name in self._cache_fields())  # the caller's, not the graph's

    def predict_proba(self, X: Any) -> np.ndarray:
        """``A3`` for the loaded parameters, without dropout: the (n_y, m) probabilities."""
        if self.masks:
            return network(self.layers_dims).load(self.values()).predict_proba(X)
        return self.predictor.forward({self.X: X})

    # --- a course cache, as given ---------------------------------------------------
    def run_cache(self, X: Any, Y: Any, cache: Sequence[Any]) -> float:
        """Run the cost graph on a course cache's values as given, so that backward differentiates
        through them: the course's graders pass caches that their parameters do not produce, and
        expect the gradients the formulas give from the cache.

        The cache's parameters are loaded, and its ``Z``, ``A`` (and mask) values are fed to
        those nodes (any node can be fed). Returns the cost.
        """
        fields = self._cache_fields()
        if len(cache) != len(fields):
            raise CacheError(f"a cache of this network has {len(fields)} entries ({', '.join(fields)}), "
                             f"got {len(cache)}")
        given = dict(zip(fields, cache, strict=True))
        self.load({key: given[key] for key in PARAMETER_KEYS})
        feeds = self._feeds(X, Y, [given[mask.name] for mask in self.masks])
        feeds.update((self.nodes[name], given[name]) for name in ("Z1", "A1", "Z2", "A2", "Z3"))
        cost, _ = self.graph.forward(feeds)
        return float(cost)

    def _cache_fields(self) -> tuple[str, ...]:
        fields: list[str] = []
        for layer in range(1, LAYERS + 1):
            fields.append(f"Z{layer}")
            if layer <= len(self.masks):
                fields.append(self.masks[layer - 1].name)
            fields += [f"A{layer}", f"W{layer}", f"b{layer}"]
        return tuple(fields)


@functools.cache
def feeds_any_node() -> bool:
    """Does this tinygraph take any node as a feed (``g.forward({Z1: array})``), not only placeholders?

    True since "gradients are graph nodes" (the contract); kept for the modules that still check.
    """
    x = tg.placeholder((), name="x")
    inner = tg.exp(x)
    graph = tg.Graph(tg.exp(inner))
    try:
        graph.forward({x: 0.0, inner: 0.0})
    except tg.FeedError:
        return False
    return True


@functools.lru_cache(maxsize=16)
def network(layers_dims: tuple[int, ...], m: int | None = None, lambd: float = 0.0, keep_prob: float = 1.0,
            loss: Loss = nn.binary_cross_entropy, affine: Affine = dense) -> ThreeLayerNet:
    """The network for these options, built once and reused (building a graph costs more than running it)
    by the course's step-by-step functions. A training run builds a :class:`ThreeLayerNet` of its own, so
    that nothing called meanwhile (a callback predicting, say) can load other values into it."""
    return ThreeLayerNet(layers_dims, m=m, lambd=lambd, keep_prob=keep_prob, loss=loss, affine=affine)


def dims_of(parameters: Mapping[str, Any]) -> tuple[int, ...]:
    """The layer sizes ``(n_x, n_1, n_2, n_y)`` of a course parameter dictionary."""
    try:
        shapes = [np.shape(parameters[f"W{layer}"]) for layer in range(1, LAYERS + 1)]
    except KeyError as error:
        raise KeyError(f"parameters lack {error.args[0]}: the three-layer network needs "
                       f"{', '.join(PARAMETER_KEYS)}") from None
    if any(len(shape) != 2 for shape in shapes):
        raise ValueError(f"W1, W2, W3 must be matrices, got shapes {shapes}")
    return (shapes[0][1], shapes[0][0], shapes[1][0], shapes[2][0])


def cache_dims(cache: Sequence[Any]) -> tuple[int, ...]:
    """The layer sizes of a course cache: its ``W1``, ``W2``, ``W3`` (12 entries, or 14 under dropout)."""
    positions = {12: (2, 6, 10), 14: (3, 8, 12)}.get(len(cache))
    if positions is None:
        raise CacheError(f"a cache of the three-layer network has 12 entries (Z1, A1, W1, b1, ...), or 14 under "
                         f"dropout (Z1, D1, A1, W1, b1, ...); got {len(cache)}")
    return dims_of({f"W{layer}": cache[index] for layer, index in enumerate(positions, start=1)})


def predict_dec(parameters: Mapping[str, Any], X: Any) -> np.ndarray:
    """``A3 > 0.5`` for each column of ``X``: the (1, m) boolean row the course's boundary plot reads."""
    return network(dims_of(parameters)).load(parameters).predict_proba(np.asarray(X, dtype=np.float64)) > 0.5


def accuracy(predictions: np.ndarray, y: np.ndarray) -> float:
    """The fraction of columns predicted right, as the course's ``predict`` prints it."""
    return float(np.mean(np.asarray(predictions)[0, :] == np.asarray(y)[0, :]))


def predict(X: Any, y: Any, parameters: Mapping[str, Any], *, print_accuracy: bool = True) -> np.ndarray:
    """The course's ``predict``: labels 0/1 as a (1, m) int row; prints ``Accuracy: …`` as the course does."""
    p = predict_dec(parameters, X).astype(int)
    if print_accuracy:
        print("Accuracy: " + str(accuracy(p, y)))
    return p


def boundary(parameters: Mapping[str, Any], X: np.ndarray, Y: np.ndarray, title: str,
             xlim: tuple[float, float], ylim: tuple[float, float]) -> dict[str, Any]:
    """What a decision-boundary picture of a 2-D model needs: the points, labels, a predictor, the axes."""
    values = {key: np.array(value) for key, value in parameters.items()}
    return {"X": X, "Y": Y, "predict": functools.partial(predict_dec, values), "title": title,
            "xlim": xlim, "ylim": ylim}


def recorder(costs: list[float], every: int, callback: Callable[[int, float], None] | None = None
             ) -> Callable[[int, float], None]:
    """A ``callback(i, cost)`` keeping every ``every``-th cost in ``costs`` and passing each on to ``callback``."""
    def record(i: int, cost: float) -> None:
        if i % every == 0:
            costs.append(cost)
        if callback is not None:
            callback(i, cost)

    return record


def run_summary(title: str, parameters: Mapping[str, np.ndarray], costs: list[float], cost_every: int,
                learning_rate: float, iterations: int, sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
                xlim: tuple[float, float], ylim: tuple[float, float]) -> dict[str, Any]:
    """One trained run as the command line reports it: costs, accuracies (percent) on each of ``sets``
    (``{"train": (X, Y), ...}``), the parameters and the decision boundary over the training points."""
    X, Y = sets["train"]
    return {
        "title": title, "costs": costs, "cost_every": cost_every, "learning_rate": learning_rate,
        "iterations": iterations, "parameters": dict(parameters),
        "accuracies": {name: 100 * accuracy(predict_dec(parameters, x), y) for name, (x, y) in sets.items()},
        "boundary": boundary(parameters, X, Y, title, xlim, ylim),
    }
