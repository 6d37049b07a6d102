"""Course 2 Week 1, "Gradient Checking": is backward right? Central differences say.

The course checks a backward against ``(J(θ + ε) - J(θ - ε)) / 2ε`` with
``ε = 1e-7`` for every parameter, and reports the relative difference
``‖grad - gradapprox‖ / (‖grad‖ + ‖gradapprox‖)``. Here ``J`` is a tinygraph
graph and ``grad`` its backward; :func:`gradient_check` (1-D, ``J = θx``) and
:func:`gradient_check_n` (the three-layer network, ``[4, 5, 3, 1]``) are the
course's algorithm, so they reproduce its published differences to their
printed digits.

The notebook ships ``backward_propagation_n`` with two planted bugs (``dW2``
doubled, ``db1`` times four) for the student to find: difference 0.285, and
1.19e-07 once fixed. :func:`backward_propagation_n` is the graph's (right)
backward; ``planted_bugs=True`` builds the same network from two ops of its
own whose numpy backward rules carry the notebook's bugs, so the bugs live
where bugs live in a framework: in an op's backward rule. :func:`check_backward`
then runs :func:`tinygraph.gradcheck` on that graph, which names the wrong
gradients, the factor (2, and 4) and the ops whose backward disagrees with
their own forward.

One more thing the numbers show. ``J`` is evaluated with every op as written
(``(1/m) · Σ(-log(A3)·Y - log(1-A3)·(1-Y))``, no rewrites), as the course
computes it: that is what its 1.19e-07 measures, the round-off of
``log(1 - A3)`` divided by ``2ε``. tinygraph's usual graph runs the same
cost as one stable op, and the same check on it gives about 1e-09
(:func:`gradient_check_n` with ``as_written=False``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import tinygraph as tg

from .three_layer import LAYERS, PARAMETER_KEYS, ThreeLayerNet, dims_of, network

__all__ = [
    "LAYERS_DIMS", "THRESHOLD", "backward_propagation", "backward_propagation_n", "check_backward",
    "course_cost", "dictionary_to_vector", "forward_propagation", "forward_propagation_n", "gradient_check",
    "gradient_check_n", "gradient_check_n_test_case", "gradients_to_vector", "vector_to_dictionary",
]

LAYERS_DIMS = (4, 5, 3, 1)  # the notebook's network (gc_utils' vector_to_dictionary is written for it)
THRESHOLD = 2e-7  # the course's verdict: above it, "there is a mistake in the backward propagation"
GRADIENT_KEYS = tuple(f"d{key}" for key in PARAMETER_KEYS)


def difference(grad: np.ndarray, gradapprox: np.ndarray) -> float:
    """The course's ``‖grad - gradapprox‖₂ / (‖grad‖₂ + ‖gradapprox‖₂)``."""
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return float(numerator / denominator)


def _verdict(value: float, print_msg: bool) -> None:
    if print_msg:
        if value > THRESHOLD:
            print("There is a mistake in the backward propagation! difference = " + str(value))
        else:
            print("Your backward propagation works perfectly fine! difference = " + str(value))


# --- 1-D: J(θ) = θx -----------------------------------------------------------------

@functools.cache
def _linear() -> tuple[tg.Graph, tg.Placeholder, tg.Parameter]:
    x = tg.placeholder((), name="x")
    theta = tg.parameter(0.0, name="theta")
    J = theta * x
    J.name = "J"
    return tg.Graph(J), x, theta


def forward_propagation(x: float, theta: float) -> float:
    """``J = θ · x``, run as a graph."""
    graph, x_node, theta_node = _linear()
    theta_node.value = theta
    return float(graph.forward({x_node: x}))


def backward_propagation(x: float, theta: float) -> float:
    """``dJ/dθ``, from the graph's backward (it is ``x``)."""
    graph, x_node, theta_node = _linear()
    theta_node.value = theta
    graph.forward({x_node: x})
    return float(graph.backward((theta_node,))[theta_node])


def gradient_check(x: float, theta: float, epsilon: float = 1e-7, print_msg: bool = False) -> float:
    """The course's 1-D check: the graph's ``dJ/dθ`` against ``(J(θ+ε) - J(θ-ε)) / 2ε``; returns the difference."""
    gradapprox = (forward_propagation(x, theta + epsilon) - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
    value = difference(np.asarray(backward_propagation(x, theta)), np.asarray(gradapprox))
    _verdict(value, print_msg)
    return value


# --- N-D: the three-layer network ----------------------------------------------------------

def course_cost(A3: tg.Node, Y: tg.Node) -> tg.Node:
    """The cost as ``gc_utils`` writes it: ``(1/m) · Σ(-log(A3)·Y + -log(1-A3)·(1-Y))``."""
    m = A3.shape[-1]
    return (1.0 / m) * tg.sum(-tg.log(A3) * Y + -tg.log(1 - A3) * (1 - Y))


class _WeightGradientDoubled(tg.Op):
    """``W @ A`` whose backward doubles ``dW``: the notebook's ``dW2 = 1./m * np.dot(dZ2, A1.T) * 2``."""

    name = "matmul_with_dW_doubled"
    arity = 2

    def infer_shape(self, w, a):
        return None if w is None or a is None else (w[0], a[1])

    def forward(self, w, a):
        return w @ a

    def backward(self, grad_output, w, a, *, output):
        return 2 * (grad_output @ a.T), w.T @ grad_output  # the planted bug: "* 2"


class _BiasGradientQuadrupled(tg.Op):
    """``Z + b`` whose backward multiplies ``db`` by four: the notebook's ``db1 = 4./m * np.sum(dZ1, ...)``."""

    name = "add_with_db_quadrupled"
    arity = 2

    def infer_shape(self, z, b):
        return z

    def forward(self, z, b):
        return z + b

    def backward(self, grad_output, z, b, *, output):
        return grad_output, 4 * grad_output  # the planted bug: "4./m"; the engine sums it to b's shape


def _planted_bugs(layer: int, W: tg.Node, A: tg.Node, b: tg.Node) -> tg.Node:
    """The notebook's broken layers: layer 2's weight gradient doubled, layer 1's bias gradient quadrupled."""
    if layer == 1:
        return _BiasGradientQuadrupled()(W @ A, b)
    if layer == 2:
        return _WeightGradientDoubled()(W, A) + b
    return W @ A + b


def _net(parameters: Mapping[str, Any], m: int, planted_bugs: bool = False) -> ThreeLayerNet:
    options = {"affine": _planted_bugs} if planted_bugs else {}
    return network(dims_of(parameters), m=m, loss=course_cost, **options).load(parameters)


def _labels(Y: Any, m: int) -> np.ndarray:
    """The labels as a (1, m) row; the course's test case passes a (m,) array, which numpy broadcasts so."""
    Y = np.asarray(Y, dtype=np.float64)
    return Y.reshape(1, m) if Y.shape == (m,) else Y


def forward_propagation_n(X: Any, Y: Any, parameters: Mapping[str, Any]) -> tuple[float, tuple[np.ndarray, ...]]:
    """``(cost, cache)``: the cost as the course computes it (every op as written), and the forward's cache
    ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``."""
    X = np.asarray(X, dtype=np.float64)
    m = X.shape[1]
    net = _net(parameters, m)
    Y = _labels(Y, m)
    net.run(X, Y)
    return net.evaluate_written(X, Y), net.cache()


def backward_propagation_n(X: Any, Y: Any, cache: Sequence[Any], *, planted_bugs: bool = False
                           ) -> dict[str, np.ndarray]:
    """The cost's gradients at the cache's values, from the graph's backward.

    With ``planted_bugs`` the graph's first and second layers are built from ops whose backward
    rules carry the notebook's bugs (``dW2`` twice, ``db1`` four times what they should be).
    Keys as the course's: ``dZ3`` … ``db1``, where ``dZ3``, ``dA2``, ``dZ2``, ``dA1``, ``dZ1`` are
    the gradients of the summed loss (``dZ3 = A3 - Y``), ``m`` times those of the cost.
    """
    X = np.asarray(X, dtype=np.float64)
    m = X.shape[1]
    parameters = dict(zip(PARAMETER_KEYS, (cache[i] for i in (2, 3, 6, 7, 10, 11)), strict=True))
    net = _net(parameters, m, planted_bugs)
    net.run_cache(X, _labels(Y, m), cache)
    grads = net.gradients()
    inner = {f"d{name}": m * grad for name, grad in net.node_gradients().items()}
    order = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")
    return {key: {**grads, **inner}[key] for key in order}


# --- gc_utils: parameters as one vector -------------------------------------------------

def _shapes(layers_dims: Sequence[int]) -> list[tuple[int, int]]:
    dims = tuple(layers_dims)
    return [shape for layer in range(1, LAYERS + 1) for shape in ((dims[layer], dims[layer - 1]), (dims[layer], 1))]


def dictionary_to_vector(parameters: Mapping[str, Any]) -> tuple[np.ndarray, list[str]]:
    """``W1, b1, …, b3`` flattened into one ``(n, 1)`` column, and the name of each entry (gc_utils)."""
    theta = np.concatenate([np.reshape(parameters[key], (-1, 1)) for key in PARAMETER_KEYS])
    keys = [key for key in PARAMETER_KEYS for _ in range(np.size(parameters[key]))]
    return theta, keys


def vector_to_dictionary(theta: np.ndarray, layers_dims: Sequence[int] = LAYERS_DIMS) -> dict[str, np.ndarray]:
    """The inverse of :func:`dictionary_to_vector` for a network of ``layers_dims`` (the notebook's by default)."""
    shapes = _shapes(layers_dims)
    sizes = [rows * cols for rows, cols in shapes]
    if np.size(theta) != sum(sizes):
        raise ValueError(f"theta has {np.size(theta)} entries; layers {tuple(layers_dims)} have {sum(sizes)} "
                         "parameters")
    pieces = np.split(np.ravel(theta), np.cumsum(sizes)[:-1])
    return {key: piece.reshape(shape) for key, piece, shape in zip(PARAMETER_KEYS, pieces, shapes, strict=True)}


def gradients_to_vector(gradients: Mapping[str, Any]) -> np.ndarray:
    """``dW1, db1, …, db3`` flattened into one ``(n, 1)`` column, in :func:`dictionary_to_vector`'s order."""
    return np.concatenate([np.reshape(gradients[key], (-1, 1)) for key in GRADIENT_KEYS])


def gradient_check_n(parameters: Mapping[str, Any], gradients: Mapping[str, Any], X: Any, Y: Any,
                     epsilon: float = 1e-7, print_msg: bool = False, *, as_written: bool = True) -> float:
    """The course's check of ``gradients`` against central differences of the cost, one parameter at a time.

    Each ``J(θ ± ε)`` is the cost graph's forward: with every op as written (the course's
    numbers) unless ``as_written=False``, which runs tinygraph's stable form of the same cost.
    Returns the difference; with ``print_msg`` prints the course's verdict (threshold 2e-7).
    """
    X = np.asarray(X, dtype=np.float64)
    m = X.shape[1]
    Y = _labels(Y, m)
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    dims = dims_of(parameters)
    net = _net(parameters, m)
    evaluate = net.evaluate_written if as_written else net.run
    gradapprox = np.zeros_like(parameters_values)
    for i in range(parameters_values.shape[0]):
        J = []
        for sign in (1, -1):
            theta = np.copy(parameters_values)
            theta[i] = theta[i] + sign * epsilon
            net.load(vector_to_dictionary(theta, dims))
            J.append(evaluate(X, Y))
        gradapprox[i] = (J[0] - J[1]) / (2 * epsilon)
    value = difference(grad, gradapprox)
    _verdict(value, print_msg)
    return value


def check_backward(parameters: Mapping[str, Any], X: Any, Y: Any, *, planted_bugs: bool = False,
                   **options: Any) -> tg.GradcheckReport:
    """:func:`tinygraph.gradcheck` on the network's graph: which gradient is wrong, by what factor, which op.

    ``options`` go to :func:`tinygraph.gradcheck` (``mode``, ``step``, ...).
    """
    X = np.asarray(X, dtype=np.float64)
    net = _net(parameters, X.shape[1], planted_bugs)
    return tg.gradcheck(net.graph, {net.X: X, net.Y: _labels(Y, X.shape[1])},
                        wrt=tuple(net.parameters.values()), output=net.cost, **options)


def gradient_check_n_test_case() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The notebook's case: from numpy seed 1, ``X`` (4, 3), then ``W1`` … ``b3`` by ``randn``; ``Y = [1, 1, 0]``."""
    rng = np.random.RandomState(1)
    X = rng.randn(4, 3)
    Y = np.array([1, 1, 0])
    parameters = {key: rng.randn(*shape) for key, shape in zip(PARAMETER_KEYS, _shapes(LAYERS_DIMS), strict=True)}
    return X, Y, parameters
