"""Course 2 Week 1, "Initialization": zeros, large random and He starts for a three-layer network.

The network (LINEAR → RELU → LINEAR → RELU → LINEAR → SIGMOID, layers
``[2, 10, 5, 1]``) is the tinygraph graph of :mod:`models.three_layer`; the
gradients of each step come from its backward. The data are the course's
two circles, drawn by scikit-learn (the ``course`` extra) from the seeds the
course uses.

What the course shows, and :func:`model` reproduces (train / test accuracy):
zeros never break the symmetry (50 % / 50 %), weights ×10 start with huge
costs and end at 83 % / 86 %, He's ``√(2/n)`` scaling reaches 99 % / 96 %.

Typical use, as in the notebook::

    train_X, train_Y, test_X, test_Y = load_dataset()
    parameters = model(train_X, train_Y, initialization="he")
    predictions_train = predict(train_X, train_Y, parameters)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygraph import init, optim

from .three_layer import ThreeLayerNet, missing_package, predict, predict_dec, recorder, run_summary

__all__ = [
    "COST_LINE", "INITIALIZERS", "LAYERS_DIMS", "initialize_parameters_he", "initialize_parameters_random",
    "initialize_parameters_zeros", "load_dataset", "model", "predict", "predict_dec", "train_for_cli",
]

COST_LINE = "Cost after iteration {i}: {cost}"  # the course's progress line, every digit
HIDDEN = (10, 5, 1)  # the notebook's layers after the input: layers_dims = [X.shape[0], 10, 5, 1]
LAYERS_DIMS = (2, *HIDDEN)
SEED = 3  # each initializer seeds numpy with 3, as the course's do


def load_dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's circles: 300 training and 100 test points, ``X`` (2, m) and ``Y`` (1, m).

    Drawn by ``sklearn.datasets.make_circles(noise=.05)`` from numpy seed 1 (training)
    and 2 (test), as the course draws them, from random states of their own: numpy's
    global state is left alone.
    """
    try:
        from sklearn.datasets import make_circles
    except ImportError:
        raise missing_package("scikit-learn", "drawing the initialization data (the circles)") from None
    train_X, train_Y = make_circles(n_samples=300, noise=0.05, random_state=np.random.RandomState(1))
    test_X, test_Y = make_circles(n_samples=100, noise=0.05, random_state=np.random.RandomState(2))
    return train_X.T, train_Y.reshape(1, -1), test_X.T, test_Y.reshape(1, -1)


def _initialize(layers_dims: Sequence[int], weights: init.Initializer) -> dict[str, np.ndarray]:
    """``Wl`` from ``weights`` and ``bl`` zero for each layer, drawn layer after layer from one stream
    seeded 3: the course's ``np.random.seed(3)`` then ``randn`` per layer, without touching numpy's global state."""
    dims = [int(d) for d in layers_dims]
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"layers_dims needs two or more positive sizes, got {list(layers_dims)!r}")
    rng = np.random.RandomState(SEED)
    parameters = {}
    for layer in range(1, len(dims)):
        parameters[f"W{layer}"] = weights((dims[layer], dims[layer - 1]), rng=rng)
        parameters[f"b{layer}"] = init.zeros((dims[layer], 1))
    return parameters


def initialize_parameters_zeros(layers_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """Every ``Wl`` and ``bl`` zero: ``Wl`` (layers_dims[l], layers_dims[l-1]), ``bl`` (layers_dims[l], 1)."""
    return _initialize(layers_dims, init.zeros)


def initialize_parameters_random(layers_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """``Wl = randn(...) * 10`` (large on purpose), ``bl`` zero; numpy seed 3, as the course."""
    return _initialize(layers_dims, lambda shape, rng: init.normal(shape, scale=10, rng=rng))


def initialize_parameters_he(layers_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """He et al.: ``Wl = randn(...) * sqrt(2 / layers_dims[l-1])``, ``bl`` zero; numpy seed 3."""
    return _initialize(layers_dims, init.he)


INITIALIZERS: dict[str, Callable[[Sequence[int]], dict[str, np.ndarray]]] = {
    "zeros": initialize_parameters_zeros,
    "random": initialize_parameters_random,
    "he": initialize_parameters_he,
}


def model(
    X: np.ndarray,
    Y: np.ndarray,
    learning_rate: float = 0.01,
    num_iterations: int = 15000,
    print_cost: bool = True,
    initialization: str = "he",
    *,
    callback: Callable[[int, float], None] | None = None,
    bar: bool = False,
) -> dict[str, np.ndarray]:
    """Gradient descent on the ``[n_x, 10, 5, 1]`` network from the chosen start; returns the parameters.

    ``initialization`` is ``"zeros"``, ``"random"`` or ``"he"``. With ``print_cost`` the cost is
    printed every 1000 iterations, as the course prints it; ``bar`` shows a progress bar (on
    terminals). ``callback(i, cost)``, if given, is called after every iteration. A cost that
    stops being finite raises :class:`tinygraph.optim.TrainingError`, naming the iteration.
    """
    if initialization not in INITIALIZERS:
        raise ValueError(f"initialization must be one of {', '.join(map(repr, INITIALIZERS))}, "
                         f"got {initialization!r}")
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    net = ThreeLayerNet((X.shape[0], *HIDDEN)).load(INITIALIZERS[initialization]([X.shape[0], *HIDDEN]))
    gd = optim.GD(net.parameters, learning_rate)  # the course's update_parameters: W = W - learning_rate * dW
    loop = optim.TrainingLoop(num_iterations, every=1000, print_cost=print_cost, message=COST_LINE, bar=bar)
    for i in loop:
        cost = loop.record(net.train_step(gd, X, Y))
        if callback is not None:
            callback(i, cost)
    return net.values()


TITLES = {"zeros": "Model with Zeros initialization", "random": "Model with large random initialization",
          "he": "Model with He initialization"}


def train_for_cli(iterations: int | None = None, data_dir: Any = None, print_cost: bool = False, *,
                  callback: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """The notebook's three runs for ``tinygraph train --model initialization``; He's is the result.

    Returns He's ``"costs"`` (every 1000 iterations), ``"cost_every"``, ``"learning_rate"``,
    ``"iterations"``, ``"accuracies"`` (train and test, in percent), ``"parameters"`` and
    ``"boundary"`` (what the decision-boundary picture needs, see :mod:`models.boundary`), with
    ``"runs"`` holding the same for each of ``"zeros"``, ``"random"``, ``"he"``.
    ``callback(i, cost)`` follows every iteration of every run. The data are generated:
    ``data_dir`` must be ``None``.
    """
    if data_dir is not None:
        raise ValueError("the initialization model draws its data (the circles); it reads no data directory")
    train_X, train_Y, test_X, test_Y = load_dataset()
    num_iterations = 15000 if iterations is None else int(iterations)
    runs = {}
    for name in INITIALIZERS:
        costs: list[float] = []
        parameters = model(train_X, train_Y, num_iterations=num_iterations, print_cost=print_cost,
                           initialization=name, callback=recorder(costs, 1000, callback))
        runs[name] = run_summary(TITLES[name], parameters, costs, 1000, 0.01, num_iterations,
                                 {"train": (train_X, train_Y), "test": (test_X, test_Y)}, (-1.5, 1.5), (-1.5, 1.5))
    return {"name": "initialization", **runs["he"], "runs": runs}
