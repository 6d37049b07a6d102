"""Optional peers: the same training iterations in PyTorch, JAX, HIPS autograd and mygrad.

None of them is a dependency of tinygraph; ``pip install -e ".[bench]"``
brings them. A peer that does not import is skipped with a note. Every peer
writes the cost as the same textbook formula as the tinygraph graph, and
differentiates it with its own machinery. What each kind of workload trains
(cost, learning rate, update rule, full batch or mini-batches) is in
:data:`TRAINING`:

- full batch: the data are converted to the peer's arrays once, when the
  peer is built;
- mini-batches: each step takes the next batch from the same endless stream
  the hand-written numpy takes its batches from
  (``minibatch_stream(course_random_mini_batches, data)``) and converts it to
  the peer's arrays inside the step: that conversion is part of its cost;
- the update rule is gradient descent or the course's Adam (bias-corrected,
  ``ε`` outside the square root): ``torch.optim.Adam`` (the same formula) in
  PyTorch, the update written inside the jitted step in JAX (``v``, ``s`` and
  ``t`` carried in its state), the course's numpy formulas on the gradients
  for autograd and mygrad (:class:`NumpyRule`).

PyTorch runs eagerly; JAX jits the whole step (forward, backward and update).
PyTorch's intra-op threads follow ``OPENBLAS_NUM_THREADS`` when it is set (the
threads numpy's BLAS gets): with more threads than free cores its OpenMP
barriers stall whenever another process holds a core (on a shared 2-core
machine, 50 ms for a 0.3 ms step).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .workloads import (
    ADAM,
    COURSE2_LEARNING_RATE,
    DEEP_LEARNING_RATE,
    LEARNING_RATE,
    PLANAR_LEARNING_RATE,
    Data,
    Implementation,
    course_random_mini_batches,
    minibatch_stream,
)


def logistic_cost(f: SimpleNamespace, p: dict, X, Y):
    A = f.sigmoid(p["w"].T @ X + p["b"])
    return -f.mean(Y * f.log(A) + (1 - Y) * f.log(1 - A))


def mlp_cost(f: SimpleNamespace, p: dict, X, Y, hidden: Callable | None = None):
    """``W1 ... WL``, ``b1 ... bL``: ``hidden`` (relu by default) after every layer but the last, a sigmoid
    after the last, the course's cross-entropy."""
    hidden = hidden or f.relu
    L = len(p) // 2
    A = X
    for i in range(1, L):
        A = hidden(p[f"W{i}"] @ A + p[f"b{i}"])
    AL = f.sigmoid(p[f"W{L}"] @ A + p[f"b{L}"])
    return -f.mean(Y * f.log(AL) + (1 - Y) * f.log(1 - AL))


def two_layer_cost(f: SimpleNamespace, p: dict, X, Y):
    return mlp_cost(f, p, X, Y, f.relu)


def tanh_mlp_cost(f: SimpleNamespace, p: dict, X, Y):
    return mlp_cost(f, p, X, Y, f.tanh)


@dataclass(frozen=True)
class Training:
    """What a workload kind trains: its cost, learning rate, update rule ("gd" or "adam"), and whether each
    step takes the next mini-batch."""

    cost: Callable
    learning_rate: float
    optimizer: str = "gd"
    minibatch: bool = False


TRAINING: dict[str, Training] = {
    "logistic": Training(logistic_cost, LEARNING_RATE),
    "two_layer": Training(two_layer_cost, LEARNING_RATE),
    "planar": Training(tanh_mlp_cost, PLANAR_LEARNING_RATE),
    "deep": Training(mlp_cost, DEEP_LEARNING_RATE),
    "minibatch_gd": Training(mlp_cost, COURSE2_LEARNING_RATE, "gd", minibatch=True),
    "minibatch_adam": Training(mlp_cost, COURSE2_LEARNING_RATE, "adam", minibatch=True),
}
COSTS = {kind: training.cost for kind, training in TRAINING.items()}


def _training(kind: str) -> Training:
    if kind not in TRAINING:
        raise NotImplementedError(f"benchmarks.peers has no {kind!r} step")
    return TRAINING[kind]


class NumpyRule:
    """The course's update_parameters_with_gd / _adam on numpy gradients: :meth:`delta` is what to subtract."""

    def __init__(self, training: Training, params: dict[str, np.ndarray]):
        self.lr, self.adam = training.learning_rate, training.optimizer == "adam"
        self.shapes = {name: (np.shape(value), np.asarray(value).dtype) for name, value in params.items()}
        self.reset()

    def reset(self) -> None:
        self.v = {name: np.zeros(shape, dtype) for name, (shape, dtype) in self.shapes.items()}
        self.s = {name: np.zeros(shape, dtype) for name, (shape, dtype) in self.shapes.items()}
        self.t = 0

    def begin_step(self) -> None:
        self.t += 1

    def delta(self, name: str, grad: np.ndarray) -> np.ndarray:
        if not self.adam:
            return self.lr * grad
        beta1, beta2, epsilon, t = ADAM["beta1"], ADAM["beta2"], ADAM["epsilon"], self.t
        self.v[name] = beta1 * self.v[name] + (1 - beta1) * grad
        self.s[name] = beta2 * self.s[name] + (1 - beta2) * np.square(grad)
        v_corrected = self.v[name] / (1 - beta1 ** t)
        s_corrected = self.s[name] / (1 - beta2 ** t)
        return self.lr * v_corrected / (np.sqrt(s_corrected) + epsilon)


def torch_eager(kind: str, data: Data) -> Implementation:
    import torch

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        torch.set_num_threads(int(threads))
    training = _training(kind)
    f = SimpleNamespace(sigmoid=torch.sigmoid, log=torch.log, mean=torch.mean, relu=torch.relu, tanh=torch.tanh)
    cost, lr = training.cost, training.learning_rate
    full_batch = torch.from_numpy(data.X), torch.from_numpy(data.Y)
    p = {name: torch.tensor(value, requires_grad=True) for name, value in data.params.items()}
    run = {}

    def step() -> None:
        if training.minibatch:
            X, Y = next(run["batches"])
            X, Y = torch.from_numpy(X), torch.from_numpy(Y)
        else:
            X, Y = full_batch
        cost(f, p, X, Y).backward()
        if training.optimizer == "adam":
            run["adam"].step()
            run["adam"].zero_grad()
            return
        with torch.no_grad():
            for t in p.values():
                t -= lr * t.grad
                t.grad = None

    def reset() -> None:
        with torch.no_grad():
            for name, t in p.items():
                t.copy_(torch.from_numpy(data.params[name]))
        if training.minibatch:
            run["batches"] = minibatch_stream(course_random_mini_batches, data)
        if training.optimizer == "adam":
            run["adam"] = torch.optim.Adam(p.values(), lr=lr, betas=(ADAM["beta1"], ADAM["beta2"]),
                                           eps=ADAM["epsilon"])

    reset()
    return Implementation(step, reset, lambda: {name: t.detach().numpy() for name, t in p.items()})


def jax_jit(kind: str, data: Data) -> Implementation:
    import jax

    jax.config.update("jax_enable_x64", True)  # else float64 inputs silently run in float32
    import jax.numpy as jnp

    training = _training(kind)
    f = SimpleNamespace(sigmoid=jax.nn.sigmoid, log=jnp.log, mean=jnp.mean, relu=jax.nn.relu, tanh=jnp.tanh)
    cost, lr = training.cost, training.learning_rate
    beta1, beta2, epsilon = ADAM["beta1"], ADAM["beta2"], ADAM["epsilon"]
    full_batch = jnp.asarray(data.X), jnp.asarray(data.Y)

    @jax.jit
    def train_step(state, X, Y):  # the whole iteration, forward, backward and update, as one program
        p = state["p"]
        grads = jax.grad(lambda q: cost(f, q, X, Y))(p)
        if training.optimizer == "gd":
            return {"p": {name: p[name] - lr * grads[name] for name in p}}
        t = state["t"] + 1  # a float of the parameters' dtype, so that beta ** t keeps that dtype
        v = {name: beta1 * state["v"][name] + (1 - beta1) * grads[name] for name in p}
        s = {name: beta2 * state["s"][name] + (1 - beta2) * jnp.square(grads[name]) for name in p}
        p = {name: p[name] - lr * (v[name] / (1 - beta1 ** t)) / (jnp.sqrt(s[name] / (1 - beta2 ** t)) + epsilon)
             for name in p}
        return {"p": p, "v": v, "s": s, "t": t}

    run = {}

    def reset() -> None:
        state = {"p": {name: jnp.asarray(value) for name, value in data.params.items()}}
        if training.optimizer == "adam":
            state["v"] = {name: jnp.zeros_like(value) for name, value in state["p"].items()}
            state["s"] = {name: jnp.zeros_like(value) for name, value in state["p"].items()}
            state["t"] = jnp.zeros((), data.dtype)
        run["state"] = state
        if training.minibatch:
            run["batches"] = minibatch_stream(course_random_mini_batches, data)

    def step() -> None:
        if training.minibatch:
            X, Y = next(run["batches"])
            X, Y = jnp.asarray(X), jnp.asarray(Y)
        else:
            X, Y = full_batch
        run["state"] = train_step(run["state"], X, Y)

    reset()
    return Implementation(step, reset, lambda: {k: np.asarray(v) for k, v in run["state"]["p"].items()},
                          finish=lambda: jax.block_until_ready(run["state"]))


def hips_autograd(kind: str, data: Data) -> Implementation:
    import autograd
    import autograd.numpy as anp

    training = _training(kind)
    # relu by where, not anp.maximum(z, 0): maximum's gradient splits ties, and a dead unit's z is exactly 0
    f = SimpleNamespace(sigmoid=lambda z: 1 / (1 + anp.exp(-z)), log=anp.log, mean=anp.mean,
                        relu=lambda z: anp.where(z > 0, z, 0), tanh=anp.tanh)
    cost = training.cost
    gradient = autograd.grad(lambda q, X, Y: cost(f, q, X, Y))
    p = {name: value.copy() for name, value in data.params.items()}
    rule = NumpyRule(training, p)
    run = {}

    def step() -> None:
        X, Y = next(run["batches"]) if training.minibatch else (data.X, data.Y)
        grads = gradient(p, X, Y)
        rule.begin_step()
        for name, value in p.items():
            value -= rule.delta(name, grads[name])

    def reset() -> None:
        for name, value in p.items():
            value[...] = data.params[name]
        rule.reset()
        if training.minibatch:
            run["batches"] = minibatch_stream(course_random_mini_batches, data)

    reset()
    return Implementation(step, reset, lambda: p)


def mygrad_tensors(kind: str, data: Data) -> Implementation:
    import mygrad as mg
    from mygrad.nnet.activations import relu, sigmoid

    training = _training(kind)
    f = SimpleNamespace(sigmoid=sigmoid, log=mg.log, mean=mg.mean, relu=relu, tanh=mg.tanh)
    cost = training.cost
    p = {}
    rule = NumpyRule(training, data.params)
    run = {}

    def step() -> None:
        X, Y = next(run["batches"]) if training.minibatch else (data.X, data.Y)
        cost(f, p, X, Y).backward()
        rule.begin_step()
        for name, t in p.items():
            p[name] = mg.tensor(t.data - rule.delta(name, t.grad))  # a fresh leaf: mygrad locks arrays it has seen

    def reset() -> None:
        for name, value in data.params.items():
            p[name] = mg.tensor(value.copy())
        rule.reset()
        if training.minibatch:
            run["batches"] = minibatch_stream(course_random_mini_batches, data)

    reset()
    return Implementation(step, reset, lambda: {name: t.data for name, t in p.items()})


PEERS: dict[str, Callable[[str, Data], Implementation]] = {
    "torch eager": torch_eager,
    "jax jit (whole step)": jax_jit,
    "autograd": hips_autograd,
    "mygrad": mygrad_tensors,
}
