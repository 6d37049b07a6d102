"""Deep neural networks (Course 1, Week 4) as tinygraph graphs: step by step, then the cat application.

"Building your Deep Neural Network: Step by Step", function for function:
:func:`initialize_parameters`, :func:`initialize_parameters_deep`,
:func:`linear_forward`, :func:`linear_activation_forward`, :func:`L_model_forward`,
:func:`compute_cost`, :func:`linear_backward`, :func:`linear_activation_backward`,
:func:`L_model_backward`, :func:`update_parameters`; and "Deep Neural Network -
Application": :func:`two_layer_model` (LINEAR → RELU → LINEAR → SIGMOID, 72 %
test accuracy on the cat pictures) and :func:`L_layer_model` (``[12288, 20, 7,
5, 1]``, 80 %), with :func:`predict`.

Where the gradients come from. The course derives each layer's backward by hand
(``dW = dZ·A_prevᵀ/m``, ``dZ = dA·g'(Z)``, ``dAL = -(Y/AL - (1-Y)/(1-AL))``);
here each is a graph's backward:

- a layer is the graph ``A = g(W @ A_prev + b)`` (:func:`layer_graph`): the
  forward functions run it, :func:`linear_backward` differentiates its linear
  part with ``grad_output = dZ``, and :func:`linear_activation_backward` feeds
  the cache's ``Z`` to its ``Z`` node and differentiates through it, so that
  ``g'`` is taken at the cache's ``Z``, as the course's ``relu_backward`` and
  ``sigmoid_backward`` take it (a graph takes any node as a feed);
- :func:`L_model_backward` goes through the layers as the course does, one layer
  graph at a time: its grader's caches do not agree with one another (``AL`` is
  not ``sigmoid`` of the last ``Z``), so no single graph of the whole network could
  take them; ``dAL`` is the backward of the cost graph :func:`models.planar.cost_graph`;
- the models train on the whole network's graph, :class:`DeepNet`, with tinygraph's
  rewrites (the cost of ``sigmoid(ZL)`` as one stable fused op), one forward and one
  backward per iteration, and ``optim.GD`` for the update.

The course's ``dA`` and ``dZ`` are gradients of the summed loss ``Σᵢ L⁽ⁱ⁾ = m·J``,
its ``dW`` and ``db`` gradients of the cost ``J`` itself: the graphs are run with
the summed loss' upstream gradient, and their ``W``, ``b`` gradients divided by ``m``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

import tinygraph as tg
from tinygraph import init as initializers
from tinygraph import nn, optim

from . import planar
from .datasets import load_dataset
from .logistic_regression import flatten
from .parameters import load_parameters, parameter_values

__all__ = [
    "ACTIVATIONS", "COST_LINE", "DEEP_LAYERS_DIMS", "TWO_LAYER_DIMS", "DeepNet", "L_layer_model", "L_model_backward",
    "L_model_forward", "LayerGraph", "accuracy", "build_network", "compute_cost", "dims_of",
    "initialize_parameters", "initialize_parameters_deep", "layer_graph", "linear_activation_backward",
    "linear_activation_forward", "linear_backward", "linear_forward", "network", "predict", "train_for_cli",
    "two_layer_model", "update_parameters",
]

COST_LINE = "Cost after iteration {i}: {cost}"  # the 2021 notebook's progress line (every 100 iterations and the last)
ACTIVATIONS = ("relu", "sigmoid")
TWO_LAYER_DIMS = (12288, 7, 1)  # the application's (n_x, n_h, n_y)
DEEP_LAYERS_DIMS = (12288, 20, 7, 5, 1)  # the application's 4-layer model
LEARNING_RATE = 0.0075  # both models' default

LinearCache = tuple[np.ndarray, np.ndarray, np.ndarray]  # (A_prev, W, b)
Cache = tuple[LinearCache, np.ndarray]  # (linear_cache, Z): what linear_activation_forward returns


# --- initialisation --------------------------------------------------------------------------

def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    """The two-layer network's ``W1`` (n_h, n_x), ``W2`` (n_y, n_h) as ``randn · 0.01``, ``b1``, ``b2`` zeros.

    Seeded 1, W1 first, as the notebook's ``np.random.seed(1)`` inside the function,
    from a ``RandomState(1)`` of its own: numpy's global state is left alone.
    """
    rng = np.random.RandomState(1)
    return {"W1": initializers.normal((n_h, n_x), rng=rng), "b1": initializers.zeros((n_h, 1)),
            "W2": initializers.normal((n_y, n_h), rng=rng), "b2": initializers.zeros((n_y, 1))}


def initialize_parameters_deep(layer_dims: Sequence[int], *, init: str = "normal",
                               seed: int = 3) -> dict[str, np.ndarray]:
    """``Wl`` (layer_dims[l], layer_dims[l-1]) drawn layer after layer from one seeded stream, ``bl`` zeros.

    The defaults are the step-by-step notebook's: seed 3, ``randn · 0.01``
    (``init="normal"``). The application's helper, which :func:`L_layer_model`
    uses, is ``init="xavier", seed=1``: ``randn / √layer_dims[l-1]``. Any
    :mod:`tinygraph.init` name works; numpy's global random state is left alone.
    """
    dims = [int(d) for d in layer_dims]
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"layer_dims needs two or more positive sizes, got {list(layer_dims)!r}")
    weights, rng = initializers.get(init), np.random.RandomState(seed)
    parameters = {}
    for layer in range(1, len(dims)):
        parameters[f"W{layer}"] = weights((dims[layer], dims[layer - 1]), rng=rng)
        parameters[f"b{layer}"] = initializers.zeros((dims[layer], 1))
    return parameters


# --- one layer as a graph: the step-by-step functions ------------------------------------------

class LayerGraph(NamedTuple):
    """One layer, ``A = g(Z)``, ``Z = W @ A_prev + b``, with ``A_prev``, ``W``, ``b`` fed as placeholders.

    ``graph`` computes ``A`` (``Z`` itself for the linear part alone), every op as written.
    """

    A_prev: tg.Placeholder
    W: tg.Placeholder
    b: tg.Placeholder
    Z: tg.Node
    A: tg.Node
    graph: tg.Graph

    def run(self, linear_cache: Sequence[Any], Z: Any = None) -> None:
        """Forward on a linear cache ``(A_prev, W, b)``; with ``Z``, the cache's ``Z`` is fed to the ``Z`` node."""
        A_prev, W, b = linear_cache
        feeds = {self.A_prev: A_prev, self.W: W, self.b: b}
        if Z is not None:
            feeds[self.Z] = Z
        self.graph.forward(feeds)

    def gradients(self, upstream: Any, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """After :meth:`run`: the course's ``(dA_prev, dW, db)`` for the upstream gradient of the summed loss."""
        grads = self.graph.backward((self.A_prev, self.W, self.b), grad_output=upstream)
        return grads[self.A_prev], grads[self.W] / m, grads[self.b] / m


@functools.cache
def layer_graph(activation: str | None = None) -> LayerGraph:
    """The layer graph for ``"relu"``, ``"sigmoid"`` or ``None`` (the linear part alone), built once."""
    if activation is not None:
        _checked_activation(activation)
    A_prev = tg.placeholder((None, None), name="A_prev")
    W = tg.placeholder((None, None), name="W")
    b = tg.placeholder((None, 1), name="b")
    Z = W @ A_prev + b
    Z.name = "Z"
    A = nn.activation(activation)(Z)
    if activation is not None:
        A.name = "A"
    return LayerGraph(A_prev, W, b, Z, A, tg.Graph(A, rewrites=False))


def _checked_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: the course's layers use 'relu' or 'sigmoid'")
    return activation


def linear_forward(A: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, LinearCache]:
    """``Z = W @ A + b`` and the cache ``(A, W, b)``."""
    layer = layer_graph(None)
    layer.run((A, W, b))
    return layer.graph.value(layer.Z), (A, W, b)


def linear_activation_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray,
                              activation: str) -> tuple[np.ndarray, Cache]:
    """``A = g(W @ A_prev + b)`` for ``activation`` ``"relu"`` or ``"sigmoid"``; the cache ``((A_prev, W, b), Z)``."""
    layer = layer_graph(_checked_activation(activation))
    layer.run((A_prev, W, b))
    return layer.graph.value(layer.A), ((A_prev, W, b), layer.graph.value(layer.Z))


def linear_backward(dZ: np.ndarray, cache: LinearCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dA_prev, dW, db)`` from ``dZ`` and the linear cache ``(A_prev, W, b)``: the linear graph's backward."""
    layer = layer_graph(None)
    layer.run(cache)
    return layer.gradients(dZ, np.shape(cache[0])[1])


def linear_activation_backward(dA: np.ndarray, cache: Cache,
                               activation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dA_prev, dW, db)`` through the layer at the cache's ``Z``: ``g'`` taken there, as the course's does.

    The cache's ``Z`` is fed to the layer graph's ``Z`` node (it need not be what
    ``W @ A_prev + b`` gives), then the graph's backward runs from ``dA``.
    """
    layer = layer_graph(_checked_activation(activation))
    linear_cache, Z = cache
    layer.run(linear_cache, Z)
    return layer.gradients(dA, np.shape(linear_cache[0])[1])


# --- the whole network as a graph ---------------------------------------------------------------

class DeepNet(NamedTuple):
    """``[LINEAR → RELU] × (L-1) → LINEAR → SIGMOID`` for ``layer_dims``, its nodes and graphs.

    ``Z[l-1]``, ``A[l]`` are layer ``l``'s nodes (``A[0]`` is ``X``); ``forward``
    computes ``AL`` from ``X``; ``train`` computes the cost with tinygraph's rewrites.
    """

    layer_dims: tuple[int, ...]
    X: tg.Placeholder
    Y: tg.Placeholder
    parameters: dict[str, tg.Parameter]
    Z: tuple[tg.Node, ...]
    A: tuple[tg.Node, ...]
    cost: tg.Node
    forward: tg.Graph
    train: tg.Graph

    def load(self, parameters: Mapping[str, Any]) -> DeepNet:
        """Copy the course's parameter dictionary into the graph's parameters (checked, as copies)."""
        load_parameters(self.parameters, parameters, f"layers {list(self.layer_dims)} need")
        return self

    def values(self) -> dict[str, np.ndarray]:
        """Copies of the parameter values, as the course's dictionary."""
        return parameter_values(self.parameters)


def build_network(layer_dims: Sequence[int]) -> DeepNet:
    """The graph of the course's L-layer network for ``layer_dims = [n_x, n_1, ..., n_L]``; parameters zero."""
    dims = tuple(int(d) for d in layer_dims)
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"layer_dims needs two or more positive sizes, got {list(layer_dims)!r}")
    X = tg.placeholder((dims[0], None), name="X")
    Y = tg.placeholder((dims[-1], None), name="Y")
    parameters: dict[str, tg.Parameter] = {}
    Zs, As = [], [X]
    for layer in range(1, len(dims)):
        W = parameters[f"W{layer}"] = tg.parameter(np.zeros((dims[layer], dims[layer - 1])), f"W{layer}")
        b = parameters[f"b{layer}"] = tg.parameter(np.zeros((dims[layer], 1)), f"b{layer}")
        Z = W @ As[-1] + b
        A = (tg.sigmoid if layer == len(dims) - 1 else tg.relu)(Z)
        Z.name, A.name = f"Z{layer}", f"A{layer}"
        Zs.append(Z)
        As.append(A)
    cost = nn.binary_cross_entropy(As[-1], Y)
    cost.name = "cost"
    return DeepNet(dims, X, Y, parameters, tuple(Zs), tuple(As), cost, forward=tg.Graph(As[-1]),
                   train=tg.Graph(cost))


@functools.lru_cache(maxsize=16)
def network(layer_dims: tuple[int, ...]) -> DeepNet:
    """The network for these layer sizes, built once and reused."""
    return build_network(layer_dims)


def dims_of(parameters: Mapping[str, Any]) -> tuple[int, ...]:
    """The layer sizes ``(n_x, n_1, ..., n_L)`` of a course parameter dictionary ``W1, b1, ..., WL, bL``."""
    L = len(parameters) // 2
    keys = [key for layer in range(1, L + 1) for key in (f"W{layer}", f"b{layer}")]
    if L < 1 or sorted(parameters) != sorted(keys):
        raise KeyError(f"parameters must be W1, b1, ..., WL, bL; got {', '.join(map(str, parameters)) or 'none'}")
    shapes = [np.shape(parameters[f"W{layer}"]) for layer in range(1, L + 1)]
    if any(len(shape) != 2 for shape in shapes):
        raise ValueError(f"every Wl must be a matrix, got shapes {shapes}")
    return (shapes[0][1], *(shape[0] for shape in shapes))


def _loaded(parameters: Mapping[str, Any]) -> DeepNet:
    return network(dims_of(parameters)).load(parameters)


def L_model_forward(X: np.ndarray, parameters: Mapping[str, Any]) -> tuple[np.ndarray, list[Cache]]:
    """``AL`` and the caches ``[((A_prev, W, b), Z), ...]`` of every layer, read off one run of the network."""
    net = _loaded(parameters)
    AL = net.forward.forward({net.X: X})
    value = net.forward.value
    caches = [((value(net.A[layer - 1]), np.asarray(parameters[f"W{layer}"]), np.asarray(parameters[f"b{layer}"])),
               value(net.Z[layer - 1])) for layer in range(1, len(net.layer_dims))]
    return AL, caches


def compute_cost(AL: np.ndarray, Y: np.ndarray) -> np.float64:
    """The cross-entropy of ``AL`` against ``Y``, as a numpy scalar (the course's ``np.squeeze(cost)``)."""
    return np.float64(planar.compute_cost(AL, Y))


def _summed_loss_gradient(AL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The course's ``dAL = -(Y/AL - (1-Y)/(1-AL))``: the cost graph's backward with respect to ``AL``, times m."""
    cg = planar.cost_graph()
    with np.errstate(divide="ignore", invalid="ignore"):  # a cache's AL outside (0, 1) makes the cost NaN, unused
        cg.graph.forward({cg.A: AL, cg.Y: Y})
    return cg.graph.backward((cg.A,), grad_output=np.shape(AL)[1])[cg.A]


def L_model_backward(AL: np.ndarray, Y: np.ndarray, caches: Sequence[Cache]) -> dict[str, np.ndarray]:
    """``grads`` with ``dA0 … dA(L-1)``, ``dW1 … dWL``, ``db1 … dbL``, from ``AL``, ``Y`` and the caches as given.

    The last layer is differentiated as sigmoid, the others as relu, each at its cache's ``Z``
    (:func:`linear_activation_backward`), starting from ``dAL`` at ``AL``.
    """
    L = len(caches)
    if L < 1:
        raise ValueError("L_model_backward needs the caches of one layer or more, got none")
    Y = np.reshape(Y, np.shape(AL))
    grads: dict[str, np.ndarray] = {}
    dA = _summed_loss_gradient(AL, Y)
    for layer in range(L, 0, -1):
        activation = "sigmoid" if layer == L else "relu"
        dA, grads[f"dW{layer}"], grads[f"db{layer}"] = linear_activation_backward(dA, caches[layer - 1], activation)
        grads[f"dA{layer - 1}"] = dA
    return grads


def update_parameters(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
                      learning_rate: float) -> dict[str, np.ndarray]:
    """One gradient-descent step on every ``Wl``, ``bl``: ``W - learning_rate · dW``; a new dictionary.

    The arrays of ``params`` are left as they were (the notebook deep-copies them first).
    """
    return {key: params[key] - learning_rate * grads["d" + key] for key in params}


# --- the application ----------------------------------------------------------------------------

def _train(X: np.ndarray, Y: np.ndarray, parameters: Mapping[str, np.ndarray], learning_rate: float,
           num_iterations: int, print_cost: bool,
           callback: Callable[[int, float], None] | None) -> tuple[dict[str, np.ndarray], list[float]]:
    """Gradient descent on the network's graph: the cost every 100 iterations, printed when ``print_cost``."""
    net = _loaded(parameters)
    feeds = {net.X: np.asarray(X, dtype=np.float64), net.Y: np.asarray(Y, dtype=np.float64)}  # converted once
    gd = optim.GD(net.parameters.values(), learning_rate)
    loop = optim.TrainingLoop(num_iterations, every=100, print_cost=print_cost, message=COST_LINE)
    for i in loop:
        cost = loop.record(gd.minimize(net.train, feeds))  # forward, gradients, update; a cost that is not
        # finite raises TrainingError, naming i
        if print_cost and i == num_iterations - 1 and i % 100:
            print(COST_LINE.format(i=i, cost=cost))  # the notebook prints the last cost too
        if callback is not None:
            callback(i, cost)
    return net.values(), loop.costs


def two_layer_model(X: np.ndarray, Y: np.ndarray, layers_dims: Sequence[int], learning_rate: float = LEARNING_RATE,
                    num_iterations: int = 3000, print_cost: bool = False, *,
                    callback: Callable[[int, float], None] | None = None) -> tuple[dict[str, np.ndarray], list]:
    """LINEAR → RELU → LINEAR → SIGMOID for ``layers_dims = (n_x, n_h, n_y)``; ``(parameters, costs)``.

    Starts from :func:`initialize_parameters` and records the cost every 100
    iterations; with ``print_cost`` prints it then and after the last iteration
    (the notebook's condition also prints the last cost without ``print_cost``, an
    operator-precedence slip not copied here). ``callback(i, cost)`` follows each iteration.
    """
    n_x, n_h, n_y = layers_dims
    return _train(X, Y, initialize_parameters(n_x, n_h, n_y), learning_rate, num_iterations, print_cost, callback)


def L_layer_model(X: np.ndarray, Y: np.ndarray, layers_dims: Sequence[int], learning_rate: float = LEARNING_RATE,
                  num_iterations: int = 3000, print_cost: bool = False, *,
                  callback: Callable[[int, float], None] | None = None) -> tuple[dict[str, np.ndarray], list]:
    """``[LINEAR → RELU] × (L-1) → LINEAR → SIGMOID`` for ``layers_dims``; ``(parameters, costs)``.

    Starts from the application's initialisation (seed 1, ``randn / √n_{l-1}``:
    ``initialize_parameters_deep(layers_dims, init="xavier", seed=1)``); otherwise
    as :func:`two_layer_model`.
    """
    parameters = initialize_parameters_deep(layers_dims, init="xavier", seed=1)
    return _train(X, Y, parameters, learning_rate, num_iterations, print_cost, callback)


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    """The fraction labelled right as the course's ``predict`` prints it: ``np.sum((p == y) / m)``."""
    return float(np.sum((p == y) / np.shape(p)[1]))


def predict(X: np.ndarray, y: np.ndarray, parameters: Mapping[str, Any], *,
            print_accuracy: bool = True) -> np.ndarray:
    """Labels 0./1. (``AL > 0.5``) as a (1, m) float row; prints ``Accuracy: …`` against ``y``, as the course does."""
    AL, _ = L_model_forward(X, parameters)
    p = (AL > 0.5).astype(np.float64)
    if print_accuracy:
        print("Accuracy: " + str(accuracy(p, y)))
    return p


MODELS = {"two_layer": ("2-layer neural network", TWO_LAYER_DIMS, two_layer_model),
          "deep": ("L-layer neural network", DEEP_LAYERS_DIMS, L_layer_model)}


def train_for_cli(iterations: int | None = None, data_dir: Any = None, print_cost: bool = False, *,
                  model: str = "deep", callback: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """``tinygraph train --model two_layer|deep``: the application's model on the cat pictures.

    ``model`` is ``"two_layer"`` (``(n_x, 7, 1)``) or ``"deep"`` (``[n_x, 20, 7, 5, 1]``), trained
    for ``iterations`` (the notebook's 2500 by default) at learning rate 0.0075 on
    :func:`models.datasets.load_dataset`'s data from ``data_dir``. Returns ``"costs"``
    (every 100 iterations), ``"cost_every"``, ``"learning_rate"``, ``"iterations"``,
    ``"parameters"``, ``"layers_dims"`` and ``"accuracies"`` (train and test, percent).
    """
    try:
        title, dims, fit = MODELS[model]
    except KeyError:
        raise ValueError(f"unknown model {model!r}: expected one of {', '.join(map(repr, MODELS))}") from None
    train_x_orig, train_y, test_x_orig, test_y, _ = load_dataset(data_dir)
    train_x, test_x = flatten(train_x_orig), flatten(test_x_orig)
    layers_dims = (train_x.shape[0], *dims[1:])
    num_iterations = 2500 if iterations is None else int(iterations)
    parameters, costs = fit(train_x, train_y, layers_dims, num_iterations=num_iterations, print_cost=print_cost,
                            callback=callback)
    # percent labelled right (the course's printed fraction sums 1/m per example: 0.9999999999999998 for 209/209)
    accuracies = {name: 100 * float(np.mean(predict(x, y, parameters, print_accuracy=False) == y))
                  for name, x, y in (("train", train_x, train_y), ("test", test_x, test_y))}
    return {"name": model, "title": title, "costs": costs, "cost_every": 100,
            "learning_rate": LEARNING_RATE, "iterations": num_iterations, "parameters": parameters,
            "layers_dims": list(layers_dims), "accuracies": accuracies}
