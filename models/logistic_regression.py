"""Logistic regression with a neural-network mindset, as one tinygraph graph.

The deeplearning.ai course's Week 2 assignment, function for function and
return value for return value. The difference is where the calculus lives:
the course derives ``dw = X(A - Y)ᵀ/m`` and ``db = mean(A - Y)`` by hand;
here the cost is written as the course's formula,

    J = -(1/m) Σ ( Y·log(A) + (1 - Y)·log(1 - A) ),   A = σ(wᵀX + b),

built once as a graph, and the gradients come from the graph's backward.
Building the graph rewrites ``log(σ(z))`` into ``-softplus(-z)`` and
``log(1 - σ(z))`` into ``-softplus(z)`` (the ``stable_log_sigmoid`` pass), so
the cost stays finite for logits of any size while the model reads as the
course's formula.

Typical use, as in the course::

    w, b = initialize_with_zeros(X_train.shape[0])
    params, grads, costs = optimize(w, b, X_train, Y_train, 2000, 0.005)
    Y_prediction_test = predict(params["w"], params["b"], X_test)
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

import tinygraph as tg

from .basics import sigmoid

__all__ = [
    "COST_LINE", "LogisticGraph", "accuracy", "build_graph", "flatten", "initialize_with_zeros", "model",
    "optimize", "predict", "predict_proba", "propagate", "sigmoid",
]

COST_LINE = "Cost after iteration %i: %f"  # the course's progress line


class LogisticGraph(NamedTuple):
    """The course's model as tinygraph nodes, and the compiled graph that runs them.

    ``graph`` computes ``(cost, A)``; ``graph.backward()`` differentiates ``cost``.
    """

    graph: tg.Graph
    w: tg.Parameter
    b: tg.Parameter
    X: tg.Placeholder
    Y: tg.Placeholder
    A: tg.Node
    cost: tg.Node


def build_graph(dim: int, dtype: npt.DTypeLike = np.float64) -> LogisticGraph:
    """Build the logistic-regression graph for ``dim`` input features.

    ``X`` is a ``(dim, m)`` placeholder and ``Y`` a ``(1, m)`` one, for any ``m``;
    ``w`` a ``(dim, 1)`` parameter and ``b`` a scalar parameter, both zero;
    everything in ``dtype`` (float64, as the course computes, unless told otherwise).
    """
    if int(dim) < 1:
        raise ValueError(f"build_graph needs at least one feature, got dim={dim!r}")
    dim = int(dim)
    X = tg.placeholder((dim, None), name="X", dtype=dtype)
    Y = tg.placeholder((1, None), name="Y", dtype=dtype)
    w = tg.parameter(np.zeros((dim, 1), dtype), name="w")
    b = tg.parameter(np.zeros((), dtype), name="b")
    A = tg.sigmoid(w.T @ X + b)
    # The course's cross-entropy as written; mean over a (1, m) row is the 1/m sum.
    cost = -tg.mean(Y * tg.log(A) + (1 - Y) * tg.log(1 - A))
    A.name, cost.name = "A", "cost"
    return LogisticGraph(tg.Graph((cost, A)), w, b, X, Y, A, cost)


@functools.lru_cache(maxsize=8)
def _graph(dim: int) -> LogisticGraph:
    """One built graph per feature count, reused by every propagate/predict call."""
    return build_graph(dim)


def _load(w: np.ndarray, b: float, X: np.ndarray) -> LogisticGraph:
    """The cached graph for X's feature count, with ``w`` and ``b`` as its parameters."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a (features, examples) matrix, got shape {X.shape}")
    lg = _graph(X.shape[0])
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (X.shape[0], 1):
        raise ValueError(f"w must have shape ({X.shape[0]}, 1) to match X of shape {X.shape}, got {w.shape}")
    lg.w.value = w  # float64 arrays are taken as they are: no copy per iteration
    lg.b.value = b
    return lg


def initialize_with_zeros(dim: int) -> tuple[np.ndarray, float]:
    """``w`` of zeros with shape ``(dim, 1)`` and ``b = 0.0``, as the course starts."""
    return np.zeros((dim, 1)), 0.0


def propagate(w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray) -> tuple[dict[str, np.ndarray], np.float64]:
    """The cost and its gradients for ``w`` (dim, 1), ``b``, ``X`` (dim, m), ``Y`` (1, m).

    Returns ``(grads, cost)`` with ``grads["dw"]`` of shape (dim, 1) and
    ``grads["db"]`` a float, both from the graph's backward.
    """
    lg = _load(w, b, X)
    if np.shape(Y) != (1, np.shape(X)[1]):
        raise ValueError(f"Y must be a (1, {np.shape(X)[1]}) row of labels to match X of shape {np.shape(X)}, "
                         f"got shape {np.shape(Y)}")
    cost, _ = lg.graph.forward({lg.X: X, lg.Y: Y})
    grads = lg.graph.backward((lg.w, lg.b))
    return {"dw": grads[lg.w], "db": np.float64(grads[lg.b])}, np.float64(cost)


def optimize(
    w: np.ndarray,
    b: float,
    X: np.ndarray,
    Y: np.ndarray,
    num_iterations: int = 100,
    learning_rate: float = 0.009,
    print_cost: bool = False,
    *,
    callback: Callable[[int, float], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[np.float64]]:
    """Gradient descent on ``w`` and ``b``, the course's ``optimize``.

    Records the cost every 100 iterations (and prints it when ``print_cost``).
    ``callback(i, cost)``, if given, is called after every iteration (the
    command line's progress bar uses it). The arrays passed in are not changed.

    Returns ``(params, grads, costs)``: params ``"w"``, ``"b"``; the last grads
    ``"dw"``, ``"db"``; the recorded costs.
    """
    w, b = copy.deepcopy(w), copy.deepcopy(b)
    X = np.asarray(X, dtype=np.float64)  # convert once, not in every iteration's feed
    Y = np.asarray(Y, dtype=np.float64)
    costs: list[np.float64] = []
    grads: dict[str, np.ndarray] = {}
    for i in range(num_iterations):
        grads, cost = propagate(w, b, X, Y)
        w = w - learning_rate * grads["dw"]
        b = b - learning_rate * grads["db"]
        if i % 100 == 0:
            costs.append(cost)
            if print_cost:
                print(COST_LINE % (i, cost))
        if callback is not None:
            callback(i, cost)
    return {"w": w, "b": b}, grads, costs


def predict_proba(w: np.ndarray, b: float, X: np.ndarray) -> np.ndarray:
    """The model's probability of class 1, ``A = σ(wᵀX + b)``, as a (1, m) row."""
    X = np.asarray(X, dtype=np.float64)
    w = np.asarray(w)
    if X.ndim == 2 and w.size == X.shape[0]:
        w = w.reshape(X.shape[0], 1)  # as the course's predict: any w of the right size
    lg = _load(w, b, X)
    # Y only feeds the cost, which predict does not need; a zero row of the right width will do.
    _, A = lg.graph.forward({lg.X: X, lg.Y: np.zeros((1, X.shape[1]))})
    return A


def predict(w: np.ndarray, b: float, X: np.ndarray) -> np.ndarray:
    """Labels 0./1. for each column of ``X``: 1 where ``A > 0.5``, as a (1, m) row."""
    return (predict_proba(w, b, X) > 0.5).astype(np.float64)


def accuracy(Y_prediction: np.ndarray, Y: np.ndarray) -> float:
    """The course's accuracy in percent: ``100 - mean(|Ŷ - Y|) * 100``."""
    return float(100 - np.mean(np.abs(Y_prediction - Y)) * 100)


def flatten(images: np.ndarray) -> np.ndarray:
    """Pictures (m, h, w, 3) of 0..255 to the course's (h*w*3, m) matrix of 0..1."""
    return images.reshape(images.shape[0], -1).T / 255.0


def model(
    X_train: np.ndarray,
    Y_train: np.ndarray,
    X_test: np.ndarray,
    Y_test: np.ndarray,
    num_iterations: int = 2000,
    learning_rate: float = 0.5,
    print_cost: bool = False,
    *,
    callback: Callable[[int, float], None] | None = None,
) -> dict:
    """Train from zeros and predict both sets, the course's ``model``.

    Returns a dict with ``"costs"``, ``"Y_prediction_test"``,
    ``"Y_prediction_train"``, ``"w"``, ``"b"``, ``"learning_rate"`` and
    ``"num_iterations"``. With ``print_cost`` it also prints both accuracies.
    """
    w, b = initialize_with_zeros(X_train.shape[0])
    params, grads, costs = optimize(
        w, b, X_train, Y_train, num_iterations, learning_rate, print_cost, callback=callback
    )
    w, b = params["w"], params["b"]
    Y_prediction_test = predict(w, b, X_test)
    Y_prediction_train = predict(w, b, X_train)
    if print_cost:
        print(f"train accuracy: {accuracy(Y_prediction_train, Y_train)} %")
        print(f"test accuracy: {accuracy(Y_prediction_test, Y_test)} %")
    return {
        "costs": costs,
        "Y_prediction_test": Y_prediction_test,
        "Y_prediction_train": Y_prediction_train,
        "w": w,
        "b": b,
        "learning_rate": learning_rate,
        "num_iterations": num_iterations,
    }
