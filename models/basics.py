"""The course's "Python Basics with Numpy" functions.

``sigmoid``, ``sigmoid_derivative`` and ``softmax`` run small tinygraph graphs:
the derivative is the sigmoid graph's backward, not a second formula. The
others are the course's one-line numpy answers.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import tinygraph as tg

__all__ = ["L1", "L2", "basic_sigmoid", "image2vector", "normalize_rows", "sigmoid", "sigmoid_derivative", "softmax"]


def basic_sigmoid(x: float) -> float:
    """1 / (1 + e^-x) of one real number, with ``math.exp`` (the course's first exercise)."""
    return 1 / (1 + math.exp(-x))


@functools.cache
def _sigmoid_graph(ndim: int) -> tuple[tg.Graph, tg.Placeholder]:
    """A graph ``sigmoid(x)`` for inputs with ``ndim`` axes of any size, built once per ndim."""
    x = tg.placeholder((None,) * ndim, name="x")
    return tg.Graph(tg.sigmoid(x)), x


@functools.cache
def _softmax_graph(ndim: int) -> tuple[tg.Graph, tg.Placeholder]:
    x = tg.placeholder((None,) * ndim, name="x")
    return tg.Graph(tg.softmax(x, axis=-1)), x


def sigmoid(x: Any) -> np.ndarray:
    """σ(x) = 1 / (1 + e^-x) element-wise, for a number or an array of any shape."""
    x = np.asarray(x, dtype=np.float64)
    graph, node = _sigmoid_graph(x.ndim)
    return graph.forward({node: x})


def sigmoid_derivative(x: Any) -> np.ndarray:
    """dσ/dx element-wise, read from the sigmoid graph's backward (σ(x)(1 - σ(x)))."""
    x = np.asarray(x, dtype=np.float64)
    graph, node = _sigmoid_graph(x.ndim)
    s = graph.forward({node: x})
    # Element-wise op: the vector-Jacobian product with ones is the derivative at each element.
    return graph.backward((node,), grad_output=np.ones_like(s))[node]


def image2vector(image: np.ndarray) -> np.ndarray:
    """A (length, height, depth) picture as a (length*height*depth, 1) column."""
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image2vector needs a (length, height, depth) array, got shape {image.shape}")
    return image.reshape(image.shape[0] * image.shape[1] * image.shape[2], 1)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Each row of the matrix ``x`` divided by its Euclidean norm."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax along the last axis (each row of a matrix); stable for large inputs (the op shifts by the max)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("softmax needs a row or a matrix of rows, got a scalar")
    graph, node = _softmax_graph(x.ndim)
    return graph.forward({node: x})


def L1(yhat: np.ndarray, y: np.ndarray) -> float:  # noqa: N802 (the course's name)
    """The L1 loss Σ|y - ŷ|."""
    return float(np.sum(np.abs(np.asarray(y) - np.asarray(yhat))))


def L2(yhat: np.ndarray, y: np.ndarray) -> float:  # noqa: N802 (the course's name)
    """The L2 loss Σ(y - ŷ)²."""
    d = np.asarray(y, dtype=np.float64) - np.asarray(yhat, dtype=np.float64)
    return float(np.sum(d * d))
