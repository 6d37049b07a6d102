"""The training workloads: random data of the course's shapes, trained three ways.

A training iteration is forward + backward + parameter update
(``w -= lr * dw``), written once with tinygraph and once in hand-written numpy
the way a competent person writes it (the course's vectorized formulas).
Peers (PyTorch, JAX, ...) live in :mod:`benchmarks.peers`.

Every implementation is an :class:`Implementation`: ``step()`` runs one
iteration, ``reset()`` puts the parameters back at their starting values,
``params()`` returns them by name so the harness can check that every
contender computes the same training run before timing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import tinygraph as tg

LEARNING_RATE = 0.005


@dataclass
class Data:
    """A workload's arrays: inputs ``X`` (features, examples), labels ``Y`` (1, examples), starting parameters."""

    X: np.ndarray
    Y: np.ndarray
    params: dict[str, np.ndarray]

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype


@dataclass
class Implementation:
    """One contender's training loop, split into the pieces the harness times."""

    step: Callable[[], None]
    reset: Callable[[], None]
    params: Callable[[], dict[str, np.ndarray]]
    finish: Callable[[], None] = field(default=lambda: None)


@dataclass
class Workload:
    """A model and a data shape. ``kind`` selects the implementations ("logistic" or "two_layer")."""

    key: str
    title: str
    kind: str
    features: int
    examples: int
    hidden: int = 0

    def data(self, dtype: np.dtype, seed: int = 0) -> Data:
        """Random inputs in [0, 1) (like scaled pixels), random 0/1 labels, the course's initialisation."""
        rng = np.random.default_rng(seed)
        X = rng.random((self.features, self.examples)).astype(dtype)
        Y = (rng.random((1, self.examples)) < 0.5).astype(dtype)
        if self.kind == "logistic":
            params = {"w": np.zeros((self.features, 1), dtype), "b": np.zeros((), dtype)}
        else:
            params = {
                "W1": (rng.standard_normal((self.hidden, self.features)) * 0.01).astype(dtype),
                "b1": np.zeros((self.hidden, 1), dtype),
                "W2": (rng.standard_normal((1, self.hidden)) * 0.01).astype(dtype),
                "b2": np.zeros((1, 1), dtype),
            }
        return Data(X, Y, params)


def workloads(quick: bool = False) -> tuple[Workload, ...]:
    """The issue's three workloads; ``quick`` shrinks the cat-sized ones for a smoke run."""
    features = 64 if quick else 12288
    examples = 20 if quick else 209
    return (
        Workload("cat", f"cat logistic regression, X ({features}, {examples})", "logistic", features, examples),
        Workload("tiny", "tiny logistic regression, X (20, 64)", "logistic", 20, 64),
        Workload("net", f"2-layer net {features} → 7 (relu) → 1 (sigmoid)", "two_layer", features, examples, 7),
    )


def _copy_params(data: Data) -> dict[str, np.ndarray]:
    return {name: value.copy() for name, value in data.params.items()}


# --- hand-written numpy ------------------------------------------------------------

def numpy_logistic(data: Data, lr: float = LEARNING_RATE) -> Implementation:
    """The course's ``propagate`` + update, vectorized by hand."""
    X, Y = data.X, data.Y
    m = X.shape[1]
    p = _copy_params(data)

    def reset() -> None:
        p["w"][...] = data.params["w"]
        p["b"][...] = data.params["b"]

    def step() -> None:
        w, b = p["w"], p["b"]
        A = 1 / (1 + np.exp(-(w.T @ X + b)))
        cost = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m  # noqa: F841 (the course computes it)
        dZ = A - Y
        dw = X @ dZ.T / m
        db = np.sum(dZ) / m
        w -= lr * dw
        b -= lr * db

    return Implementation(step, reset, lambda: p)


def numpy_two_layer(data: Data, lr: float = LEARNING_RATE) -> Implementation:
    """The course's two-layer network (relu, then sigmoid), forward and backward by hand."""
    X, Y = data.X, data.Y
    m = X.shape[1]
    p = _copy_params(data)

    def reset() -> None:
        for name, value in data.params.items():
            p[name][...] = value

    def step() -> None:
        W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
        Z1 = W1 @ X + b1
        A1 = np.maximum(Z1, 0)
        A2 = 1 / (1 + np.exp(-(W2 @ A1 + b2)))
        cost = -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m  # noqa: F841
        dZ2 = A2 - Y
        dW2 = dZ2 @ A1.T / m
        db2 = np.sum(dZ2, axis=1, keepdims=True) / m
        dZ1 = (W2.T @ dZ2) * (Z1 > 0)
        dW1 = dZ1 @ X.T / m
        db1 = np.sum(dZ1, axis=1, keepdims=True) / m
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2

    return Implementation(step, reset, lambda: p)


def matvec_floor(data: Data) -> Implementation:
    """The least any logistic-regression step must do: one pass over X each way (wᵀX, then X dZᵀ)."""
    X = data.X
    w = np.full((X.shape[0], 1), 1e-3, X.dtype)
    dZ = np.full((1, X.shape[1]), 1e-3, X.dtype)

    def step() -> None:
        w.T @ X
        X @ dZ.T

    return Implementation(step, lambda: None, lambda: {})


# --- tinygraph ---------------------------------------------------------------------

def logistic_graph(
    features: int, dtype: np.dtype = np.float64
) -> tuple[tg.Graph, dict[str, tg.Parameter], tg.Node, tg.Node]:
    """The model's own graph, ``models.logistic_regression.build_graph``: ``(graph, {"w": w, "b": b}, X, Y)``."""
    from models.logistic_regression import build_graph

    lg = build_graph(features, dtype=dtype)
    return lg.graph, {"w": lg.w, "b": lg.b}, lg.X, lg.Y


def two_layer_graph(features: int, hidden: int, dtype: np.dtype = np.float64):
    """relu hidden layer, sigmoid output, the course's cross-entropy written as its formula."""
    X = tg.placeholder((features, None), name="X", dtype=dtype)
    Y = tg.placeholder((1, None), name="Y", dtype=dtype)
    params = {
        "W1": tg.parameter(np.zeros((hidden, features), dtype), name="W1"),
        "b1": tg.parameter(np.zeros((hidden, 1), dtype), name="b1"),
        "W2": tg.parameter(np.zeros((1, hidden), dtype), name="W2"),
        "b2": tg.parameter(np.zeros((1, 1), dtype), name="b2"),
    }
    A1 = tg.relu(params["W1"] @ X + params["b1"])
    A2 = tg.sigmoid(params["W2"] @ A1 + params["b2"])
    cost = -tg.mean(Y * tg.log(A2) + (1 - Y) * tg.log(1 - A2))
    return tg.Graph(cost), params, X, Y


def tinygraph_training(graph: tg.Graph, params: dict[str, tg.Parameter], feeds: dict, data: Data,
                       lr: float = LEARNING_RATE) -> Implementation:
    """The loop a tinygraph user writes: forward, backward, ``p.value -= lr * grad``."""
    parameters = tuple(params.values())

    def reset() -> None:
        for name, node in params.items():
            node.value = data.params[name].copy()

    def step() -> None:
        graph.forward(feeds)
        for node, grad in graph.backward(parameters).items():
            node.value -= lr * grad

    reset()
    return Implementation(step, reset, lambda: {name: node.value for name, node in params.items()})


def tinygraph_logistic(data: Data, lr: float = LEARNING_RATE) -> Implementation:
    graph, params, X, Y = logistic_graph(data.X.shape[0], data.dtype)
    return tinygraph_training(graph, params, {X: data.X, Y: data.Y}, data, lr)


def tinygraph_two_layer(data: Data, lr: float = LEARNING_RATE) -> Implementation:
    graph, params, X, Y = two_layer_graph(data.X.shape[0], data.params["W1"].shape[0], data.dtype)
    return tinygraph_training(graph, params, {X: data.X, Y: data.Y}, data, lr)


IMPLEMENTATIONS: dict[str, dict[str, Callable[[Data], Implementation]]] = {
    "logistic": {"numpy": numpy_logistic, "tinygraph": tinygraph_logistic},
    "two_layer": {"numpy": numpy_two_layer, "tinygraph": tinygraph_two_layer},
}
