"""Planar data classification with one hidden layer (Course 1, Week 3) as tinygraph graphs.

The 2021+ notebook function for function: :func:`load_planar_dataset` (the
"flower"), :func:`layer_sizes`, :func:`initialize_parameters`,
:func:`forward_propagation`, :func:`compute_cost`, :func:`backward_propagation`,
:func:`update_parameters`, :func:`nn_model`, :func:`predict`; then the
notebook's experiments: the hidden-layer-size sweep and scikit-learn's
logistic regression as the baseline.

The network is ``X → tanh(W1 X + b1) → sigmoid(W2 A1 + b2)`` with the course's
cross-entropy as its cost, built once as a graph per layer sizes. The course
derives ``dZ2 = A2 - Y``, ``dZ1 = W2ᵀdZ2 · (1 - A1²)`` and the rest by hand;
here every gradient comes from a graph's backward:

- :func:`nn_model` trains on :attr:`PlanarNet.train`, the graph with
  tinygraph's rewrites, which runs the cross-entropy of ``sigmoid(Z2)`` as one
  stable fused op;
- :func:`backward_propagation` differentiates the *cache* it is given, as the
  course's formulas do (its grader passes a cache that the parameters do not
  produce): :attr:`PlanarNet.from_cache` is the cost as written, no rewrites,
  and ``A1``, ``A2`` are fed from the cache, so that the graph's backward runs
  through those values (tanh's and sigmoid's rules read their outputs): a
  graph takes any node as a feed.

What the notebook prints, and this module reproduces: ``Cost after iteration 0:
0.693162`` … for ``n_h = 4``, ``Accuracy: 90%``, the sweep's 67.5 / 67.25 /
90.75 / 90.5 / 91.25 % for 1 to 5 hidden units, and 47 % for logistic regression.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

import tinygraph as tg
from tinygraph import init, nn, optim

from .parameters import load_parameters, parameter_values
from .three_layer import CacheError

__all__ = [
    "COST_LINE", "HIDDEN_LAYER_SIZES", "PARAMETER_KEYS", "CostGraph", "PlanarNet", "accuracy", "backward_propagation",
    "boundary", "compute_cost", "cost_graph", "forward_propagation", "hidden_layer_sweep", "initialize_parameters",
    "layer_sizes", "load_planar_dataset", "logistic_regression_baseline", "network", "nn_model", "predict",
    "train_for_cli", "update_parameters",
]

COST_LINE = "Cost after iteration {i}: {cost:f}"  # the notebook's progress line, every 1000 iterations
HIDDEN_LAYER_SIZES = (1, 2, 3, 4, 5, 20, 50)  # the notebook's sweep
PARAMETER_KEYS = ("W1", "b1", "W2", "b2")
LEARNING_RATE = 1.2  # update_parameters' default, which nn_model uses
EXTRA_HINT = 'pip install scikit-learn scipy (or, in a tinygraph checkout, pip install -e ".[course]")'


# --- the data ---------------------------------------------------------------------------

def load_planar_dataset() -> tuple[np.ndarray, np.ndarray]:
    """The course's "flower": ``X`` (2, 400) float64 and ``Y`` (1, 400) uint8, 200 points per class.

    Generated as the course's ``planar_utils`` does, from seed 1: for class ``j``,
    angles ``t = linspace(3.12·j, 3.12·(j+1), 200) + 0.2·randn`` and radii
    ``r = 4·sin(4t) + 0.2·randn`` give the points ``(r·sin t, r·cos t)``. The
    draws come from a ``RandomState(1)`` of its own (the stream ``np.random.seed(1)``
    starts), so the data are the course's bit for bit and numpy's global state is
    left alone.
    """
    rng = np.random.RandomState(1)
    per_class, petal = 200, 4
    X = np.zeros((2 * per_class, 2))
    Y = np.zeros((2 * per_class, 1), dtype=np.uint8)
    for j in range(2):
        rows = slice(j * per_class, (j + 1) * per_class)
        t = np.linspace(j * 3.12, (j + 1) * 3.12, per_class) + rng.randn(per_class) * 0.2
        r = petal * np.sin(4 * t) + rng.randn(per_class) * 0.2
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[rows] = j
    return X.T, Y.T


# --- the network as a graph ---------------------------------------------------------------

class PlanarNet(NamedTuple):
    """The nodes of the one-hidden-layer network and the three graphs that run them.

    ``forward`` computes ``A2`` from ``X`` (the cache's ``Z1``, ``A1``, ``Z2`` are read off it);
    ``train`` computes the cost with tinygraph's rewrites (stable, fused) for training;
    ``from_cache`` computes the cost exactly as written, so that ``A1`` and ``A2`` exist
    as nodes to be fed from a course cache.
    """

    X: tg.Placeholder
    Y: tg.Placeholder
    parameters: dict[str, tg.Parameter]
    Z1: tg.Node
    A1: tg.Node
    Z2: tg.Node
    A2: tg.Node
    cost: tg.Node
    forward: tg.Graph
    train: tg.Graph
    from_cache: tg.Graph

    def load(self, parameters: Mapping[str, Any]) -> PlanarNet:
        """Copy the course's parameter dictionary into the graph's parameters (checked, as copies)."""
        layout = f"{self.X.shape[0]} → {self.Z1.shape[0]} → {self.A2.shape[0]}"
        load_parameters(self.parameters, parameters, f"this network ({layout}) needs")
        return self

    def values(self) -> dict[str, np.ndarray]:
        """Copies of the parameter values, as the course's dictionary."""
        return parameter_values(self.parameters)


def build_network(n_x: int, n_h: int, n_y: int = 1) -> PlanarNet:
    """The graph of ``X (n_x, m) → tanh → n_h units → sigmoid → A2 (n_y, m)``; parameters start at zero."""
    if min(n_x, n_h, n_y) < 1:
        raise ValueError(f"layer sizes must be positive, got n_x={n_x}, n_h={n_h}, n_y={n_y}")
    X = tg.placeholder((n_x, None), name="X")
    Y = tg.placeholder((n_y, None), name="Y")
    shapes = {"W1": (n_h, n_x), "b1": (n_h, 1), "W2": (n_y, n_h), "b2": (n_y, 1)}
    params = {key: tg.parameter(np.zeros(shape), name=key) for key, shape in shapes.items()}
    Z1 = params["W1"] @ X + params["b1"]
    A1 = tg.tanh(Z1)
    Z2 = params["W2"] @ A1 + params["b2"]
    A2 = tg.sigmoid(Z2)
    cost = nn.binary_cross_entropy(A2, Y)
    for name, node in {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "cost": cost}.items():
        node.name = name
    return PlanarNet(X, Y, params, Z1, A1, Z2, A2, cost, forward=tg.Graph(A2), train=tg.Graph(cost),
                     from_cache=tg.Graph(cost, rewrites=False))


@functools.lru_cache(maxsize=16)
def network(n_x: int, n_h: int, n_y: int = 1) -> PlanarNet:
    """The network for these sizes, built once and reused (building a graph costs more than running it)."""
    return build_network(n_x, n_h, n_y)


def _loaded(parameters: Mapping[str, Any]) -> PlanarNet:
    """The network that ``parameters``' shapes describe, with their values loaded."""
    missing = [key for key in PARAMETER_KEYS if key not in parameters]
    if missing:
        raise KeyError(f"parameters lack {', '.join(missing)}: the network needs {', '.join(PARAMETER_KEYS)}")
    W1, W2 = np.shape(parameters["W1"]), np.shape(parameters["W2"])
    if len(W1) != 2 or len(W2) != 2:
        raise ValueError(f"W1 and W2 must be matrices, got shapes {W1} and {W2}")
    return network(W1[1], W1[0], W2[0]).load(parameters)


class CostGraph(NamedTuple):
    """The course's cross-entropy of probabilities ``A`` (1, m) against labels ``Y`` (1, m), as a graph."""

    A: tg.Placeholder
    Y: tg.Placeholder
    cost: tg.Node
    graph: tg.Graph


@functools.cache
def cost_graph() -> CostGraph:
    """The cost as a function of ``A`` itself (what ``compute_cost`` takes), built once."""
    A = tg.placeholder((1, None), name="A2")
    Y = tg.placeholder((1, None), name="Y")
    cost = nn.binary_cross_entropy(A, Y)
    return CostGraph(A, Y, cost, tg.Graph(cost))


# --- the notebook's functions ---------------------------------------------------------------

def layer_sizes(X: np.ndarray, Y: np.ndarray) -> tuple[int, int, int]:
    """``(n_x, n_h, n_y)``: the rows of ``X``, the notebook's 4 hidden units, the rows of ``Y``."""
    return (np.shape(X)[0], 4, np.shape(Y)[0])


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    """``W1`` (n_h, n_x) and ``W2`` (n_y, n_h) as ``randn · 0.01``, ``b1``, ``b2`` zeros.

    Drawn from numpy's global random state, W1 first, as the 2021 notebook does:
    the caller seeds it (the grader with ``np.random.seed(2)``, :func:`nn_model` with 3).
    """
    return {"W1": init.normal((n_h, n_x)), "b1": init.zeros((n_h, 1)),
            "W2": init.normal((n_y, n_h)), "b2": init.zeros((n_y, 1))}


def forward_propagation(X: np.ndarray, parameters: Mapping[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``A2`` (n_y, m) and the cache ``{"Z1", "A1", "Z2", "A2"}``, read off one run of the network's graph."""
    net = _loaded(parameters)
    A2 = net.forward.forward({net.X: X})
    value = net.forward.value
    return A2, {"Z1": value(net.Z1), "A1": value(net.A1), "Z2": value(net.Z2), "A2": A2}


def compute_cost(A2: np.ndarray, Y: np.ndarray) -> float:
    """The cross-entropy ``-1/m Σ (Y·log A2 + (1-Y)·log(1-A2))`` as a float, from :func:`cost_graph`."""
    cg = cost_graph()
    return float(cg.graph.forward({cg.A: A2, cg.Y: Y}))


def backward_propagation(parameters: Mapping[str, Any], cache: Mapping[str, Any], X: np.ndarray,
                         Y: np.ndarray) -> dict[str, np.ndarray]:
    """The gradients ``dW1``, ``db1``, ``dW2``, ``db2`` of the cost at the cache's ``A1`` and ``A2``.

    As the course's formulas, the gradients are those of the cache as given (its
    ``Z1``, ``Z2`` are not needed), whether or not the parameters produce it: the
    cost graph runs with ``A1``, ``A2`` fed, and its backward goes through them.
    Where the cache's ``A2`` holds exactly 0 or 1 the written cost's gradient is
    undefined (0/0); that raises a :class:`~models.three_layer.CacheError`.
    """
    net = _loaded(parameters)
    graph = net.from_cache
    with np.errstate(divide="ignore", invalid="ignore"):  # the cost of a cache's A2 outside (0, 1) is NaN, unused
        graph.forward({net.X: X, net.Y: Y, net.A1: cache["A1"], net.A2: cache["A2"]})
        grads = graph.backward(tuple(net.parameters.values()))
    result = {f"d{key}": grads[node] for key, node in net.parameters.items()}
    if not all(np.isfinite(g).all() for g in result.values()):
        raise CacheError("the cost's gradient is not finite at this cache: cache['A2'] holds 0 or 1 exactly, "
                         "where log(A2) or log(1 - A2) has no derivative")
    return result


def update_parameters(parameters: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
                      learning_rate: float = LEARNING_RATE) -> dict[str, np.ndarray]:
    """One gradient-descent step, ``W = W - learning_rate · dW`` for each parameter; a new dictionary.

    The arrays of ``parameters`` are left as they were (the notebook deep-copies them first).
    """
    return {key: parameters[key] - learning_rate * grads["d" + key] for key in PARAMETER_KEYS}


def nn_model(X: np.ndarray, Y: np.ndarray, n_h: int, num_iterations: int = 10000, print_cost: bool = False, *,
             callback: Callable[[int, float], None] | None = None) -> dict[str, np.ndarray]:
    """Train the network with ``n_h`` hidden units by gradient descent (learning rate 1.2); the parameters.

    As the notebook: ``np.random.seed(3)``, then :func:`initialize_parameters`, then
    ``num_iterations`` steps of forward, cost, backward and update, printing the cost
    every 1000 iterations when ``print_cost``. Each step is one forward and one backward
    of :attr:`PlanarNet.train`. ``callback(i, cost)``, if given, is called after each
    iteration (the command line's progress bar).
    """
    np.random.seed(3)  # the notebook seeds numpy's global state here; initialize_parameters draws from it
    n_x, _, n_y = layer_sizes(X, Y)
    net = network(n_x, n_h, n_y).load(initialize_parameters(n_x, n_h, n_y))
    feeds = {net.X: np.asarray(X, dtype=np.float64), net.Y: np.asarray(Y, dtype=np.float64)}  # converted once
    gd = optim.GD(net.parameters.values(), LEARNING_RATE)
    loop = optim.TrainingLoop(num_iterations, every=1000, print_cost=print_cost, message=COST_LINE)
    for i in loop:
        cost = loop.record(gd.minimize(net.train, feeds))  # forward, gradients, update; a cost that is not
        # finite raises TrainingError, naming i
        if callback is not None:
            callback(i, cost)
    return net.values()


def predict(parameters: Mapping[str, Any], X: np.ndarray) -> np.ndarray:
    """``A2 > 0.5`` for each column of ``X``: the (1, m) boolean row the 2021 notebook returns."""
    A2, _ = forward_propagation(X, parameters)
    return A2 > 0.5


def accuracy(predictions: np.ndarray, Y: np.ndarray) -> float:
    """Percent labelled right, as the notebook computes it: ``(Y·Pᵀ + (1-Y)·(1-P)ᵀ) / m · 100``."""
    P = np.asarray(predictions, dtype=np.float64).reshape(1, -1)
    Y = np.asarray(Y, dtype=np.float64).reshape(1, -1)
    return float(((Y @ P.T + (1 - Y) @ (1 - P.T)) / float(Y.size) * 100).item())


# --- the notebook's experiments ----------------------------------------------------------------

def hidden_layer_sweep(X: np.ndarray, Y: np.ndarray, hidden_layer_sizes: Iterable[int] = HIDDEN_LAYER_SIZES,
                       num_iterations: int = 5000) -> dict[int, dict[str, Any]]:
    """The notebook's "tuning hidden layer size": ``{n_h: {"parameters", "accuracy"}}`` after 5000 iterations."""
    results = {}
    for n_h in hidden_layer_sizes:
        parameters = nn_model(X, Y, n_h, num_iterations=num_iterations)
        results[n_h] = {"parameters": parameters, "accuracy": accuracy(predict(parameters, X), Y)}
    return results


def logistic_regression_baseline(X: np.ndarray, Y: np.ndarray) -> tuple[Any, float]:
    """scikit-learn's ``LogisticRegressionCV`` fitted to the points, as the notebook does; ``(clf, accuracy %)``.

    scikit-learn is an optional extra (``course``).
    """
    try:
        from sklearn.linear_model import LogisticRegressionCV
    except ImportError:
        raise ImportError(f"the logistic-regression baseline is scikit-learn's, an optional extra: {EXTRA_HINT}") \
            from None
    clf = LogisticRegressionCV()
    with warnings.catch_warnings():  # newer releases announce changes to defaults the notebook relies on
        warnings.simplefilter("ignore", FutureWarning)
        clf.fit(np.asarray(X).T, np.ravel(Y))
    return clf, accuracy(clf.predict(np.asarray(X).T), Y)


def boundary(predict_fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray, Y: np.ndarray,
             title: str) -> dict[str, Any]:
    """What the decision-boundary picture needs (see :mod:`models.boundary`): ``predict_fn`` maps columns to labels."""
    return {"X": X, "Y": Y, "predict": predict_fn, "title": title}


def train_for_cli(iterations: int | None = None, data_dir: Any = None, print_cost: bool = False, *,
                  boundary_path: str | Path | None = None,
                  callback: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """``tinygraph train --model planar``: the notebook's ``nn_model(X, Y, n_h=4)`` on the flower.

    Returns ``"costs"`` (every 1000 iterations), ``"cost_every"``, ``"learning_rate"``,
    ``"iterations"``, ``"parameters"``, ``"accuracies"`` (``"train"`` in percent: the
    flower has no test set) and ``"boundary"`` (see :func:`boundary`); with
    ``boundary_path`` the picture is drawn there too (matplotlib needed) and
    ``"boundary_path"`` says where. ``data_dir`` must be ``None``: the data are generated.
    """
    if data_dir is not None:
        raise ValueError("the planar model generates its data (the flower); it reads no data directory")
    X, Y = load_planar_dataset()
    num_iterations = 10000 if iterations is None else int(iterations)
    costs: list[float] = []

    def record(i: int, cost: float) -> None:
        if i % 1000 == 0:
            costs.append(cost)
        if callback is not None:
            callback(i, cost)

    parameters = nn_model(X, Y, 4, num_iterations=num_iterations, print_cost=print_cost, callback=record)
    values = {key: value.copy() for key, value in parameters.items()}
    result = {
        "name": "planar", "title": "Decision Boundary for hidden layer size 4", "costs": costs, "cost_every": 1000,
        "learning_rate": LEARNING_RATE, "iterations": num_iterations, "parameters": parameters,
        "accuracies": {"train": accuracy(predict(parameters, X), Y)},
        "boundary": boundary(functools.partial(predict, values), X, Y, "Decision Boundary for hidden layer size 4"),
    }
    if boundary_path is not None:
        from .boundary import decision_boundary

        result["boundary_path"] = decision_boundary(result["boundary"], boundary_path)
    return result
