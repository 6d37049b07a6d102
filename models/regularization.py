"""Course 2 Week 1, "Regularization": the French football team's goalkeeper, with L2 and dropout.

A three-layer network (``[2, 20, 3, 1]``, :mod:`models.three_layer`) learns
where the goalkeeper should kick the ball from the course's 2-D points
(``data.mat``, read with scipy, the ``course`` extra). The notebook trains it
three ways, 30,000 gradient-descent steps at learning rate 0.3 each, and
:func:`model` reproduces them (train / test accuracy):

- no regularization: 94.8 % / 91.5 % (it overfits the noisy points);
- L2, ``lambd = 0.7``: 93.8 % / 93 %;
- dropout, ``keep_prob = 0.86``: 92.9 % / 95 %.

Every gradient comes from the graph: the L2 term is part of the cost (so its
gradient ``lambd/m · W`` is the graph's), and dropout multiplies by masks fed
to the graph. The course's ``forward_propagation_with_dropout`` reseeds numpy
with 1 at every call and draws ``D1`` then ``D2`` with ``np.random.rand``;
:func:`dropout_masks` draws the same, so every iteration drops the same
units, exactly as in the course.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

import tinygraph as tg
from tinygraph import init, nn, optim

from .datasets import DatasetError
from .three_layer import (
    LAYERS,
    ThreeLayerNet,
    cache_dims,
    dims_of,
    missing_package,
    network,
    predict,
    predict_dec,
    recorder,
    run_summary,
)

__all__ = [
    "COST_LINE", "DATA_FILE", "LAYERS_DIMS", "backward_propagation_with_dropout",
    "backward_propagation_with_regularization", "compute_cost", "compute_cost_with_regularization",
    "dropout_masks", "forward_propagation", "forward_propagation_with_dropout", "initialize_parameters",
    "load_2D_dataset", "model", "predict", "predict_dec", "train_for_cli",
]

COST_LINE = "Cost after iteration {i}: {cost}"  # the course's progress line, every digit
DATA_FILE = "data.mat"
HIDDEN = (20, 3, 1)  # the notebook's layers after the input: layers_dims = [X.shape[0], 20, 3, 1]
LAYERS_DIMS = (2, *HIDDEN)
PathLike = str | os.PathLike


def load_2D_dataset(path: PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # noqa: N802
    """The course's ``data.mat`` (``path`` is the file or its directory): ``train_X`` (2, 211),
    ``train_Y`` (1, 211), ``test_X`` (2, 200), ``test_Y`` (1, 200), transposed as the course does.

    Raises ``FileNotFoundError`` for a missing file and :class:`models.datasets.DatasetError`
    naming the key for a file not in the course's layout.
    """
    try:
        from scipy.io import loadmat
        from scipy.io.matlab import MatReadError
    except ImportError:
        raise missing_package("scipy", "reading the regularization data (a MATLAB file)") from None
    path = Path(path)
    if path.is_dir():
        path = path / DATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist (expected the course's {DATA_FILE} of the "
                                "Regularization assignment)")
    try:
        data = loadmat(path)
    except (MatReadError, ValueError, TypeError, OSError) as error:
        raise DatasetError(f"data file {path} is not a MATLAB file scipy can read: {error}") from None
    arrays = []
    for key, label in (("X", False), ("y", True), ("Xval", False), ("yval", True)):
        if key not in data:
            found = sorted(k for k in data if not k.startswith("__"))
            raise DatasetError(f"data file {path}: missing key {key!r} (found {found})")
        value = np.asarray(data[key])
        if value.ndim != 2 or value.shape[1] != (1 if label else 2):
            raise DatasetError(f"data file {path}, key {key!r}: expected shape (m, {1 if label else 2}), "
                               f"found {value.shape}")
        arrays.append(value.T)
    train_X, train_Y, test_X, test_Y = arrays
    for x_key, y_key, X, Y in (("X", "y", train_X, train_Y), ("Xval", "yval", test_X, test_Y)):
        if X.shape[1] != Y.shape[1]:
            raise DatasetError(f"data file {path}: {Y.shape[1]} labels in {y_key!r} for the {X.shape[1]} points "
                               f"of {x_key!r}")
    return train_X, train_Y, test_X, test_Y


def initialize_parameters(layer_dims: tuple[int, ...] | list[int]) -> dict[str, np.ndarray]:
    """``reg_utils.initialize_parameters``: ``Wl = randn(...) / sqrt(layer_dims[l-1])``, ``bl`` zero,
    drawn layer after layer from numpy seed 3 (without touching numpy's global state)."""
    rng = np.random.RandomState(3)
    parameters = {}
    for layer in range(1, len(layer_dims)):
        parameters[f"W{layer}"] = init.xavier((layer_dims[layer], layer_dims[layer - 1]), rng=rng)
        parameters[f"b{layer}"] = init.zeros((layer_dims[layer], 1))
    return parameters


# --- the costs ---------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _cost_graph(shape: tuple[int, int], weight_shapes: tuple[tuple[int, ...], ...], lambd: float
                ) -> tuple[tg.Graph, tg.Placeholder, tg.Placeholder, tuple[tg.Parameter, ...]]:
    """The course's cost of given probabilities ``A3`` of ``shape``, plus the L2 term of weights of
    ``weight_shapes`` when ``lambd``."""
    A3 = tg.placeholder(shape, name="A3")
    Y = tg.placeholder(shape, name="Y")
    weights = tuple(tg.parameter(np.zeros(s), f"W{layer}") for layer, s in enumerate(weight_shapes, start=1))
    cost = nn.binary_cross_entropy(A3, Y)
    if lambd:
        cost = cost + nn.l2_penalty(weights, lambd, shape[1])
    return tg.Graph(cost), A3, Y, weights


def compute_cost_with_regularization(A3: Any, Y: Any, parameters: Mapping[str, Any], lambd: float) -> float:
    """The cross-entropy of ``A3`` against ``Y`` plus ``lambd/(2m) · (‖W1‖² + ‖W2‖² + ‖W3‖²)``."""
    A3 = np.asarray(A3, dtype=np.float64)
    values = [np.asarray(parameters[f"W{layer}"], dtype=np.float64) for layer in range(1, LAYERS + 1)]
    graph, a3, y, weights = _cost_graph(A3.shape, tuple(v.shape for v in values), float(lambd))
    for node, value in zip(weights, values, strict=True):
        node.value = value
    return float(graph.forward({a3: A3, y: Y}))


def compute_cost(a3: Any, Y: Any) -> float:
    """``reg_utils.compute_cost``: the cross-entropy of the probabilities ``a3`` against the labels ``Y``."""
    a3 = np.asarray(a3, dtype=np.float64)
    graph, A3, y, _ = _cost_graph(a3.shape, (), 0.0)
    return float(graph.forward({A3: a3, y: Y}))


# --- forward and backward, the course's step-by-step functions ------------------------

def dropout_masks(layers_dims: tuple[int, ...], m: int, keep_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """``D1``, ``D2`` as the course draws them: numpy seed 1, then ``rand(n1, m) < keep_prob``, then ``n2``."""
    rng = np.random.RandomState(1)  # the course's np.random.seed(1) in every forward, as a stream of its own
    return tuple((rng.rand(n, m) < keep_prob).astype(int) for n in layers_dims[1:LAYERS])  # type: ignore[return-value]


def forward_propagation(X: Any, parameters: Mapping[str, Any]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """``reg_utils.forward_propagation``: ``(A3, cache)`` with the cache ``(Z1, A1, W1, b1, …, Z3, A3, W3, b3)``."""
    X = np.asarray(X, dtype=np.float64)
    net = network(dims_of(parameters)).load(parameters)
    net.run(X, np.zeros((net.layers_dims[-1], X.shape[1])))  # Y feeds only the cost, which is not asked for
    cache = net.cache()
    return cache[9], cache


def forward_propagation_with_dropout(X: Any, parameters: Mapping[str, Any], keep_prob: float = 0.5
                                     ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """LINEAR → RELU + DROPOUT → LINEAR → RELU + DROPOUT → LINEAR → SIGMOID, the course's masks.

    Returns ``(A3, cache)`` with the cache ``(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)``.
    """
    X = np.asarray(X, dtype=np.float64)
    dims = dims_of(parameters)
    net = network(dims, keep_prob=float(keep_prob)).load(parameters)
    net.run(X, np.zeros((dims[-1], X.shape[1])), dropout_masks(dims, X.shape[1], keep_prob))
    cache = net.cache()
    return cache[11], cache


def _course_gradients(net: Any, m: int) -> dict[str, np.ndarray]:
    """The course's gradient dictionary from a run's backward.

    ``dW``, ``db`` are the cost's gradients. ``dZ3``, ``dA2``, ``dZ2``, ``dA1``, ``dZ1`` are as
    the course defines them (``dZ3 = A3 - Y``): the gradients of the summed loss, ``m`` times
    those of the cost.
    """
    grads = net.gradients()
    inner = {f"d{name}": m * grad for name, grad in net.node_gradients().items()}
    order = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")
    return {key: {**grads, **inner}[key] for key in order}


def _backward(X: Any, Y: Any, cache: tuple, **options: Any) -> dict[str, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    net = network(cache_dims(cache), **options)
    net.run_cache(X, Y, cache)
    return _course_gradients(net, X.shape[1])


def backward_propagation_with_regularization(X: Any, Y: Any, cache: tuple, lambd: float) -> dict[str, np.ndarray]:
    """The gradients of the L2-regularized cost at the cache's values (``dW`` gain ``lambd/m · W``)."""
    return _backward(X, Y, cache, m=np.shape(X)[1], lambd=float(lambd))


def backward_propagation_with_dropout(X: Any, Y: Any, cache: tuple, keep_prob: float) -> dict[str, np.ndarray]:
    """The gradients of the cost through the cache's dropout masks ``D1``, ``D2`` (scaled by ``1/keep_prob``)."""
    return _backward(X, Y, cache, keep_prob=float(keep_prob))


# --- training -------------------------------------------------------------------------

def model(
    X: np.ndarray,
    Y: np.ndarray,
    learning_rate: float = 0.3,
    num_iterations: int = 30000,
    print_cost: bool = True,
    lambd: float = 0,
    keep_prob: float = 1,
    *,
    callback: Callable[[int, float], None] | None = None,
    bar: bool = False,
) -> dict[str, np.ndarray]:
    """Gradient descent on the ``[n_x, 20, 3, 1]`` network; returns the parameters.

    ``lambd > 0`` adds the L2 penalty, ``keep_prob < 1`` turns dropout on (one at a
    time, as in the course). With ``print_cost`` the cost is printed every 10,000
    iterations; ``bar`` shows a progress bar (on terminals). ``callback(i, cost)``, if
    given, is called after every iteration. A cost that stops being finite raises
    :class:`tinygraph.optim.TrainingError`, naming the iteration.
    """
    if lambd and keep_prob != 1:
        raise ValueError(f"use L2 (lambd={lambd!r}) or dropout (keep_prob={keep_prob!r}), not both, as the course")
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    dims = (X.shape[0], *HIDDEN)
    m = X.shape[1]
    net = ThreeLayerNet(dims, m=m if lambd else None, lambd=float(lambd), keep_prob=float(keep_prob))
    net.load(initialize_parameters(dims))
    masks = dropout_masks(dims, m, keep_prob) if keep_prob < 1 else None  # the same in every iteration
    gd = optim.GD(net.parameters, learning_rate)
    loop = optim.TrainingLoop(num_iterations, every=10000, print_cost=print_cost, message=COST_LINE, bar=bar)
    for i in loop:
        cost = loop.record(net.train_step(gd, X, Y, masks))
        if callback is not None:
            callback(i, cost)
    return net.values()


RUNS = {  # the notebook's three runs: title, model() options
    "baseline": ("Model without regularization", {}),
    "l2": ("Model with L2-regularization", {"lambd": 0.7}),
    "dropout": ("Model with dropout", {"keep_prob": 0.86}),
}


def train_for_cli(iterations: int | None = None, data_dir: PathLike | None = None, print_cost: bool = False, *,
                  callback: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """The notebook's three runs for ``tinygraph train --model regularization``; dropout's is the result.

    ``data_dir`` is the directory (or the file) of the course's ``data.mat``. Returns the last
    run's ``"costs"`` (every 1000 iterations), ``"cost_every"``, ``"learning_rate"``,
    ``"iterations"``, ``"accuracies"`` (train and test, percent), ``"parameters"`` and
    ``"boundary"``, with ``"runs"`` holding the same for ``"baseline"``, ``"l2"`` and ``"dropout"``.
    ``callback(i, cost)`` follows every iteration of every run.
    """
    if data_dir is None:
        raise FileNotFoundError(f"the regularization model trains on the course's {DATA_FILE}: "
                                "give the directory that holds it (--data DIR)")
    train_X, train_Y, test_X, test_Y = load_2D_dataset(data_dir)
    num_iterations = 30000 if iterations is None else int(iterations)
    runs = {}
    for name, (title, options) in RUNS.items():
        costs: list[float] = []
        parameters = model(train_X, train_Y, num_iterations=num_iterations, print_cost=print_cost,
                           callback=recorder(costs, 1000, callback), **options)
        runs[name] = run_summary(title, parameters, costs, 1000, 0.3, num_iterations,
                                 {"train": (train_X, train_Y), "test": (test_X, test_Y)}, (-0.75, 0.40), (-0.75, 0.65))
    return {"name": "regularization", **runs["dropout"], "runs": runs}
