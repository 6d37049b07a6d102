"""The training workloads: data of the course's shapes, trained by hand-written numpy and by tinygraph.

A training iteration is forward + backward + parameter update, written once
with tinygraph and once in hand-written numpy the way a competent person
writes it (the course's vectorized formulas). Peers (PyTorch, JAX, ...) live
in :mod:`benchmarks.peers`. The workloads (keys of :func:`workloads`):

- ``cat``, ``tiny``: logistic regression (Course 1 Week 2) on cat-sized and
  tiny random data, full batch, ``w -= lr * dw``;
- ``net``: a two-layer relu/sigmoid net on cat-sized random data;
- ``planar``: Course 1 Week 3's planar net 2-4-1 (tanh, sigmoid) on the
  course's 400-point "flower", full batch, gradient descent with rate 1.2;
- ``deep``: Course 1 Week 4's L-layer net [12288, 20, 7, 5, 1] (relu,
  sigmoid) on 209 random "cat pixel" examples, full batch, rate 0.0075;
- ``moons-gd``, ``moons-adam``: one mini-batch of Course 2 Week 2's model, a
  2-5-2-1 relu/relu/sigmoid net on 300 moons points, batches of 64 reshuffled
  every epoch (:class:`MinibatchWorkload`), gradient descent or Adam;
- ``sweep-1`` ... ``sweep-4096``: the moons net with gradient descent on 8,192
  moons points, one row per mini-batch size;
- ``conv``: a 3×3 convolution layer's step (relu, mean squared error).

The tinygraph contenders are written as the README teaches: ``nn.MLP``,
``nn.binary_cross_entropy``, ``tg.Graph``, an ``optim`` optimizer and
``opt.minimize(g, feeds)``, with ``data.minibatches`` for the mini-batches.
Every mini-batch contender draws its batches from its own copy of the same
endless, seeded stream (:func:`minibatch_stream`); cutting an epoch into
batches happens inside the timed steps, except for the first epoch of each
timed block, which is cut when the block is reset.

Every implementation is an :class:`Implementation`: ``step()`` runs one
iteration, ``reset()`` puts the parameters back at their starting values,
``params()`` returns them by name so the harness can check that every
contender computes the same training run before timing it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

import tinygraph as tg
from tinygraph import data as tg_data
from tinygraph import nn, optim

LEARNING_RATE = 0.005
COURSE2_LEARNING_RATE = 0.0007  # the defaults of Course 2 Week 2's model(): learning_rate, Adam's betas and epsilon
ADAM = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
PLANAR_LEARNING_RATE = 1.2  # Course 1 Week 3's update_parameters default
DEEP_LEARNING_RATE = 0.0075  # Course 1 Week 4's L_layer_model default
DEEP_LAYERS = (12288, 20, 7, 5, 1)  # Course 1 Week 4's layers_dims
SWEEP_BATCH_SIZES = (1, 8, 64, 512, 4096)


@dataclass
class Data:
    """A workload's arrays: inputs ``X`` (features, examples), labels ``Y`` (1, examples), starting parameters."""

    X: np.ndarray
    Y: np.ndarray
    params: dict[str, np.ndarray]
    batch_size: int | None = None  # None: every step sees all of X

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
    peers: bool = True  # whether benchmarks.peers has this kind of step

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


def moons(n_samples: int = 300, noise: float = 0.2, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles with Gaussian noise, as ``sklearn.datasets.make_moons`` draws them.

    Returns ``X (2, n_samples)`` and labels ``Y (1, n_samples)`` (0 outer, 1 inner moon), shuffled.
    """
    rng = np.random.default_rng(seed)
    n_outer = n_samples // 2
    outer = np.linspace(0, np.pi, n_outer)
    inner = np.linspace(0, np.pi, n_samples - n_outer)
    X = np.concatenate([np.stack([np.cos(outer), np.sin(outer)]),
                        np.stack([1 - np.cos(inner), 0.5 - np.sin(inner)])], axis=1)
    Y = (np.arange(n_samples) >= n_outer).astype(np.float64)[None]
    order = rng.permutation(n_samples)
    return X[:, order] + rng.normal(scale=noise, size=X.shape), Y[:, order]


@dataclass
class MinibatchWorkload(Workload):
    """The course-2 step: one mini-batch update of Course 2 Week 2's moons network."""

    layer_dims: tuple[int, ...] = (2, 5, 2, 1)
    batch_size: int = 64

    def data(self, dtype: np.dtype, seed: int = 3) -> Data:
        """The moons data, and the course's initialize_parameters: ``np.random.seed(3)``, He, zero biases."""
        X, Y = moons(self.examples, seed=seed)
        rng = np.random.RandomState(3)
        params = {}
        for i, (n_in, n_out) in enumerate(zip(self.layer_dims[:-1], self.layer_dims[1:], strict=True), start=1):
            params[f"W{i}"] = (rng.randn(n_out, n_in) * np.sqrt(2 / n_in)).astype(dtype)
            params[f"b{i}"] = np.zeros((n_out, 1), dtype)
        return Data(X.astype(dtype), Y.astype(dtype), params, batch_size=self.batch_size)


@dataclass
class PlanarWorkload(Workload):
    """Course 1 Week 3's planar net: 2 inputs → 4 tanh units → 1 sigmoid, full batch, gradient descent."""

    def data(self, dtype: np.dtype, seed: int = 2) -> Data:
        """The course's "flower" (X (2, 400), Y (1, 400)) and its initialize_parameters after ``np.random.seed(2)``:
        ``randn · 0.01`` weights, W1 first, zero biases."""
        from models.planar import load_planar_dataset

        X, Y = load_planar_dataset()
        rng = np.random.RandomState(seed)
        params = {"W1": rng.randn(self.hidden, self.features) * 0.01, "b1": np.zeros((self.hidden, 1)),
                  "W2": rng.randn(1, self.hidden) * 0.01, "b2": np.zeros((1, 1))}
        return Data(X.astype(dtype), Y.astype(dtype), {k: v.astype(dtype) for k, v in params.items()})


@dataclass
class DeepWorkload(Workload):
    """Course 1 Week 4's L-layer net: relu hidden layers, a sigmoid output, full batch, gradient descent."""

    layer_dims: tuple[int, ...] = DEEP_LAYERS

    def data(self, dtype: np.dtype, seed: int = 0) -> Data:
        """Random inputs in [0, 1) (like scaled cat pixels), random 0/1 labels, and the Week 4 application's
        initialize_parameters_deep after ``np.random.seed(1)``: ``randn(n_l, n_{l-1}) / sqrt(n_{l-1})``, zero biases."""
        rng = np.random.default_rng(seed)
        X = rng.random((self.layer_dims[0], self.examples)).astype(dtype)
        Y = (rng.random((1, self.examples)) < 0.5).astype(dtype)
        draw = np.random.RandomState(1)
        params = {}
        for i, (n_in, n_out) in enumerate(zip(self.layer_dims[:-1], self.layer_dims[1:], strict=True), start=1):
            params[f"W{i}"] = (draw.randn(n_out, n_in) / np.sqrt(n_in)).astype(dtype)
            params[f"b{i}"] = np.zeros((n_out, 1), dtype)
        return Data(X, Y, params)


@dataclass
class ConvWorkload(Workload):
    """A 3×3 convolution layer's training step: ``relu(conv2d(X, W, padding=1) + b)`` against a target,
    mean squared error, in the course's layout (``X (m, H, W, C)``, ``W (3, 3, C, C_out)``)."""

    size: int = 32
    channels_out: int = 16

    def data(self, dtype: np.dtype, seed: int = 0) -> Data:
        """Random images and targets, He-initialised filters, zero biases."""
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((self.examples, self.size, self.size, self.features)).astype(dtype)
        Y = rng.standard_normal((self.examples, self.size, self.size, self.channels_out)).astype(dtype)
        W = rng.standard_normal((3, 3, self.features, self.channels_out)) * np.sqrt(2 / (9 * self.features))
        return Data(X, Y, {"W": W.astype(dtype), "b": np.zeros(self.channels_out, dtype)})


def workloads(quick: bool = False) -> tuple[Workload, ...]:
    """The issue's workloads; ``quick`` shrinks the cat-sized ones (12288 features become 64, 209 examples 20)
    and the batch-size sweep (1,024 points, batches of 1, 64 and 512) for a smoke run."""
    features = 64 if quick else 12288
    examples = 20 if quick else 209
    moons_net = dict(features=2, examples=300)
    side = 8 if quick else 32
    deep = (features,) + DEEP_LAYERS[1:]
    sweep_points = 1024 if quick else 8192
    sweep_sizes = (1, 64, 512) if quick else SWEEP_BATCH_SIZES
    return (
        Workload("cat", f"cat logistic regression, X ({features}, {examples})", "logistic", features, examples),
        Workload("tiny", "tiny logistic regression, X (20, 64)", "logistic", 20, 64),
        Workload("net", f"2-layer net {features} → 7 (relu) → 1 (sigmoid)", "two_layer", features, examples, 7),
        PlanarWorkload("planar", "planar 2-4-1 tanh/sigmoid, 400 points, GD 1.2", "planar", 2, 400, hidden=4),
        DeepWorkload("deep", f"deep {'-'.join(map(str, deep))} relu/sigmoid, {examples} examples, GD",
                     "deep", features, examples, layer_dims=deep),
        MinibatchWorkload("moons-gd", "moons 2-5-2-1, mini-batch 64, GD", "minibatch_gd", **moons_net),
        MinibatchWorkload("moons-adam", "moons 2-5-2-1, mini-batch 64, Adam", "minibatch_adam", **moons_net),
        *(MinibatchWorkload(f"sweep-{size}", f"moons 2-5-2-1, {sweep_points} points, mini-batch {size}, GD",
                            "minibatch_gd", features=2, examples=sweep_points, batch_size=size)
          for size in sweep_sizes),
        ConvWorkload("conv", f"3×3 conv layer, X ({8 if quick else 64}, {side}, {side}, 16) → 16, relu, MSE",
                     "conv", features=16, examples=8 if quick else 64, peers=False, size=side),
    )


def _copy_params(data: Data) -> dict[str, np.ndarray]:
    return {name: value.copy() for name, value in data.params.items()}


def _restore(p: dict[str, np.ndarray], data: Data) -> None:
    """Put the starting parameters back into a contender's own arrays (``p``, from :func:`_copy_params`)."""
    for name, value in data.params.items():
        p[name][...] = value


# --- hand-written numpy ------------------------------------------------------------

def numpy_logistic(data: Data, lr: float = LEARNING_RATE) -> Implementation:
    """The course's ``propagate`` + update, vectorized by hand."""
    X, Y = data.X, data.Y
    m = X.shape[1]
    p = _copy_params(data)

    reset = functools.partial(_restore, p, data)

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

    reset = functools.partial(_restore, p, data)

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


def course_random_mini_batches(X: np.ndarray, Y: np.ndarray, mini_batch_size: int, seed: int) -> list:
    """The course's random_mini_batches: shuffle the columns by the seeded permutation, then slice."""
    np.random.seed(seed)
    m = X.shape[1]
    permutation = np.random.permutation(m)
    shuffled_X, shuffled_Y = X[:, permutation], Y[:, permutation]
    return [(shuffled_X[:, k:k + mini_batch_size], shuffled_Y[:, k:k + mini_batch_size])
            for k in range(0, m, mini_batch_size)]


def endless_minibatches(batches_of: Callable, data: Data) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Mini-batch after mini-batch, reshuffled each epoch with seeds 11, 12, ... as the course's model() does."""
    seed = 10
    while True:
        seed += 1
        yield from batches_of(data.X, data.Y, data.batch_size, seed)


def minibatch_stream(batches_of: Callable, data: Data) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`endless_minibatches` with its first epoch already cut (a contender's ``reset`` calls this, so the
    timed steps of a block start on a cut epoch; later epochs are cut inside the steps that reach them)."""
    batches = endless_minibatches(batches_of, data)
    return itertools.chain((next(batches),), batches)


def numpy_planar(data: Data, lr: float = PLANAR_LEARNING_RATE) -> Implementation:
    """Course 1 Week 3's forward_propagation, compute_cost, backward_propagation and update_parameters."""
    X, Y = data.X, data.Y
    m = X.shape[1]
    p = _copy_params(data)

    reset = functools.partial(_restore, p, data)

    def step() -> None:
        W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
        Z1 = W1 @ X + b1
        A1 = np.tanh(Z1)
        Z2 = W2 @ A1 + b2
        A2 = 1 / (1 + np.exp(-Z2))
        logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
        cost = -np.sum(logprobs) / m  # noqa: F841 (the course computes it)
        dZ2 = A2 - Y
        dW2 = dZ2 @ A1.T / m
        db2 = np.sum(dZ2, axis=1, keepdims=True) / m
        dZ1 = (W2.T @ dZ2) * (1 - np.power(A1, 2))
        dW1 = dZ1 @ X.T / m
        db1 = np.sum(dZ1, axis=1, keepdims=True) / m
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2

    return Implementation(step, reset, lambda: p)


def numpy_deep(data: Data, lr: float = DEEP_LEARNING_RATE) -> Implementation:
    """Course 1 Week 4's L_model_forward, compute_cost, L_model_backward and update_parameters, vectorized by
    hand for any number of layers (``dZL = AL - Y`` for the sigmoid output and cross-entropy, as Week 3 writes it)."""
    X, Y = data.X, data.Y
    m = X.shape[1]
    p = _copy_params(data)
    L = len(p) // 2
    Ws = [p[f"W{i}"] for i in range(1, L + 1)]
    bs = [p[f"b{i}"] for i in range(1, L + 1)]

    reset = functools.partial(_restore, p, data)

    def step() -> None:
        A, inputs, Zs = X, [], []
        for W, b in zip(Ws[:-1], bs[:-1], strict=True):
            Z = W @ A + b
            inputs.append(A)
            Zs.append(Z)
            A = np.maximum(Z, 0)
        inputs.append(A)
        AL = 1 / (1 + np.exp(-(Ws[-1] @ A + bs[-1])))
        cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m  # noqa: F841 (the course computes it)
        dZ = AL - Y
        grads = []
        for layer in range(L - 1, -1, -1):
            dW = dZ @ inputs[layer].T / m
            db = np.sum(dZ, axis=1, keepdims=True) / m
            if layer:
                dZ = (Ws[layer].T @ dZ) * (Zs[layer - 1] > 0)
            grads.append((dW, db))
        for (dW, db), W, b in zip(grads, reversed(Ws), reversed(bs), strict=True):
            W -= lr * dW
            b -= lr * db

    return Implementation(step, reset, lambda: p)


def numpy_minibatch(data: Data, optimizer: str, lr: float = COURSE2_LEARNING_RATE) -> Implementation:
    """The course's forward_propagation, backward_propagation and update_parameters_with_gd / _adam, by hand."""
    p = _copy_params(data)
    names = tuple(p)
    beta1, beta2, epsilon = ADAM["beta1"], ADAM["beta2"], ADAM["epsilon"]
    run = {}

    def reset() -> None:
        _restore(p, data)
        run["batches"] = minibatch_stream(course_random_mini_batches, data)
        run["v"] = {name: np.zeros_like(value) for name, value in p.items()}
        run["s"] = {name: np.zeros_like(value) for name, value in p.items()}
        run["t"] = 0

    def step() -> None:
        X, Y = next(run["batches"])
        m = X.shape[1]
        W1, b1, W2, b2, W3, b3 = (p[name] for name in names)
        z1 = W1 @ X + b1
        a1 = np.maximum(z1, 0)
        z2 = W2 @ a1 + b2
        a2 = np.maximum(z2, 0)
        a3 = 1 / (1 + np.exp(-(W3 @ a2 + b3)))
        cost = -np.sum(Y * np.log(a3) + (1 - Y) * np.log(1 - a3)) / m  # noqa: F841 (the course computes it)
        dz3 = (a3 - Y) / m
        dz2 = (W3.T @ dz3) * (a2 > 0)
        dz1 = (W2.T @ dz2) * (a1 > 0)
        grads = {"W1": dz1 @ X.T, "b1": np.sum(dz1, axis=1, keepdims=True),
                 "W2": dz2 @ a1.T, "b2": np.sum(dz2, axis=1, keepdims=True),
                 "W3": dz3 @ a2.T, "b3": np.sum(dz3, axis=1, keepdims=True)}
        if optimizer == "gd":
            for name in names:
                p[name] -= lr * grads[name]
            return
        v, s = run["v"], run["s"]
        run["t"] = t = run["t"] + 1
        for name in names:
            v[name] = beta1 * v[name] + (1 - beta1) * grads[name]
            s[name] = beta2 * s[name] + (1 - beta2) * np.square(grads[name])
            v_corrected = v[name] / (1 - beta1 ** t)
            s_corrected = s[name] / (1 - beta2 ** t)
            p[name] -= lr * v_corrected / (np.sqrt(s_corrected) + epsilon)

    reset()
    return Implementation(step, reset, lambda: p)


def numpy_conv(data: Data, lr: float = LEARNING_RATE) -> Implementation:
    """The conv layer by hand, as one writes it with im2col: the windows copied into a matrix, one
    matrix product forward, one for the filters' gradient."""
    X, Y = data.X, data.Y
    p = _copy_params(data)
    m, H, W_, C = X.shape
    f = p["W"].shape[0]

    reset = functools.partial(_restore, p, data)

    def step() -> None:
        W, b = p["W"], p["b"]
        padded = np.pad(X, ((0, 0), (1, 1), (1, 1), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (f, f), axis=(1, 2))  # (m, H, W, C, f, f)
        cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(m * H * W_, f * f * C)  # im2col
        Z = cols @ W.reshape(f * f * C, -1) + b
        A = np.maximum(Z, 0)
        diff = A - Y.reshape(A.shape)
        cost = np.mean(diff * diff)  # noqa: F841 (a training step computes it)
        dZ = (2 / diff.size) * diff * (Z > 0)
        dW = (cols.T @ dZ).reshape(W.shape)
        db = dZ.sum(axis=0)
        W -= lr * dW
        b -= lr * db

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
    """The loop the README teaches: ``opt.minimize(graph, feeds)`` with ``optim.GD`` (``p -= lr * grad``)."""
    opt = optim.GD(params, lr)

    def reset() -> None:
        for name, node in params.items():
            node.value = data.params[name].copy()

    def step() -> None:
        opt.minimize(graph, feeds)

    reset()
    return Implementation(step, reset, lambda: {name: node.value for name, node in params.items()})


def tinygraph_logistic(data: Data, lr: float = LEARNING_RATE) -> Implementation:
    """Training on the model's cost node alone: its graph also returns ``A``, which a step does not need."""
    graph, params, X, Y = logistic_graph(data.X.shape[0], data.dtype)
    return tinygraph_training(tg.Graph(graph.outputs[0]), params, {X: data.X, Y: data.Y}, data, lr)


def tinygraph_two_layer(data: Data, lr: float = LEARNING_RATE) -> Implementation:
    graph, params, X, Y = two_layer_graph(data.X.shape[0], data.params["W1"].shape[0], data.dtype)
    return tinygraph_training(graph, params, {X: data.X, Y: data.Y}, data, lr)


def mlp_graph(data: Data, hidden: str) -> tuple[tg.Graph, dict[str, tg.Parameter], tg.Node, tg.Node]:
    """The README's model: ``nn.MLP`` of the layers ``data.params`` describe (``hidden`` units, a sigmoid
    output) and ``tg.Graph(nn.binary_cross_entropy(model(X), Y))``: ``(graph, {"W1": ..., "b1": ...}, X, Y)``."""
    dims = [data.X.shape[0]] + [data.params[f"W{i}"].shape[0] for i in range(1, len(data.params) // 2 + 1)]
    model = nn.MLP(dims, hidden=hidden, output="sigmoid", dtype=data.dtype)
    X = tg.placeholder((dims[0], None), name="X", dtype=data.dtype)
    Y = tg.placeholder((1, None), name="Y", dtype=data.dtype)
    g = tg.Graph(nn.binary_cross_entropy(model(X), Y))
    params = {}
    for i, layer in enumerate(model.layers, start=1):
        params[f"W{i}"], params[f"b{i}"] = layer.W, layer.b
    return g, params, X, Y


def tinygraph_planar(data: Data, lr: float = PLANAR_LEARNING_RATE) -> Implementation:
    """``nn.MLP([2, 4, 1], hidden="tanh")``, its cross-entropy, ``optim.GD`` and ``opt.minimize``, full batch."""
    graph, params, X, Y = mlp_graph(data, "tanh")
    return tinygraph_training(graph, params, {X: data.X, Y: data.Y}, data, lr)


def tinygraph_deep(data: Data, lr: float = DEEP_LEARNING_RATE) -> Implementation:
    """``nn.MLP(layers_dims)`` (relu hidden layers), its cross-entropy, ``optim.GD`` and ``opt.minimize``."""
    graph, params, X, Y = mlp_graph(data, "relu")
    return tinygraph_training(graph, params, {X: data.X, Y: data.Y}, data, lr)


def tinygraph_minibatch(data: Data, optimizer: str, lr: float = COURSE2_LEARNING_RATE) -> Implementation:
    """The README's way: an ``nn.MLP``, ``nn.binary_cross_entropy``, ``data.minibatches``, an ``optim`` optimizer."""
    g, params, X, Y = mlp_graph(data, "relu")
    nodes = list(params.values())
    opt = optim.GD(nodes, lr) if optimizer == "gd" else optim.Adam(nodes, lr, **ADAM)
    start = opt.state_dict()
    run = {}

    def reset() -> None:
        for name, node in params.items():
            node.value = data.params[name].copy()
        opt.load_state_dict(start)
        run["batches"] = minibatch_stream(tg_data.minibatches, data)

    def step() -> None:
        X_batch, Y_batch = next(run["batches"])
        opt.minimize(g, {X: X_batch, Y: Y_batch})

    reset()
    return Implementation(step, reset, lambda: {name: node.value for name, node in params.items()})


def tinygraph_conv(data: Data, lr: float = LEARNING_RATE) -> Implementation:
    """The same layer as tinygraph nodes: ``tg.conv2d``, ``tg.relu``, a mean of squares."""
    X = tg.placeholder((None,) + data.X.shape[1:], name="X", dtype=data.dtype)
    Y = tg.placeholder((None,) + data.Y.shape[1:], name="Y", dtype=data.dtype)
    params = {name: tg.parameter(value.copy(), name=name) for name, value in data.params.items()}
    A = tg.relu(tg.conv2d(X, params["W"], padding=1) + params["b"])
    graph = tg.Graph(tg.mean(tg.square(A - Y)))
    return tinygraph_training(graph, params, {X: data.X, Y: data.Y}, data, lr)


IMPLEMENTATIONS: dict[str, dict[str, Callable[[Data], Implementation]]] = {
    "logistic": {"numpy": numpy_logistic, "tinygraph": tinygraph_logistic},
    "two_layer": {"numpy": numpy_two_layer, "tinygraph": tinygraph_two_layer},
    "planar": {"numpy": numpy_planar, "tinygraph": tinygraph_planar},
    "deep": {"numpy": numpy_deep, "tinygraph": tinygraph_deep},
    "conv": {"numpy": numpy_conv, "tinygraph": tinygraph_conv},
    **{f"minibatch_{rule}": {"numpy": functools.partial(numpy_minibatch, optimizer=rule),
                             "tinygraph": functools.partial(tinygraph_minibatch, optimizer=rule)}
       for rule in ("gd", "adam")},
}
