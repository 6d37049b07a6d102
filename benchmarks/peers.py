"""Optional peers: the same training iterations in PyTorch, JAX, HIPS autograd and mygrad.

None of them is a dependency of tinygraph; ``pip install -e ".[bench]"``
brings them. A peer that does not import is skipped with a note. Every peer
writes the cost as the same textbook formula as the tinygraph graph, and
differentiates it with its own machinery.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from .workloads import LEARNING_RATE, Data, Implementation


def logistic_cost(f: SimpleNamespace, p: dict, X, Y):
    A = f.sigmoid(p["w"].T @ X + p["b"])
    return -f.mean(Y * f.log(A) + (1 - Y) * f.log(1 - A))


def two_layer_cost(f: SimpleNamespace, p: dict, X, Y):
    A1 = f.relu(p["W1"] @ X + p["b1"])
    A2 = f.sigmoid(p["W2"] @ A1 + p["b2"])
    return -f.mean(Y * f.log(A2) + (1 - Y) * f.log(1 - A2))


COSTS = {"logistic": logistic_cost, "two_layer": two_layer_cost}


def torch_eager(kind: str, data: Data, lr: float = LEARNING_RATE) -> Implementation:
    import torch

    f = SimpleNamespace(sigmoid=torch.sigmoid, log=torch.log, mean=torch.mean, relu=torch.relu)
    cost = COSTS[kind]
    X, Y = torch.from_numpy(data.X), torch.from_numpy(data.Y)
    p = {name: torch.tensor(value, requires_grad=True) for name, value in data.params.items()}

    def step() -> None:
        cost(f, p, X, Y).backward()
        with torch.no_grad():
            for t in p.values():
                t -= lr * t.grad
                t.grad = None

    def reset() -> None:
        with torch.no_grad():
            for name, t in p.items():
                t.copy_(torch.from_numpy(data.params[name]))

    return Implementation(step, reset, lambda: {name: t.detach().numpy() for name, t in p.items()})


def jax_jit(kind: str, data: Data, lr: float = LEARNING_RATE) -> Implementation:
    import jax

    jax.config.update("jax_enable_x64", True)  # else float64 inputs silently run in float32
    import jax.numpy as jnp

    f = SimpleNamespace(sigmoid=jax.nn.sigmoid, log=jnp.log, mean=jnp.mean, relu=jax.nn.relu)
    cost = COSTS[kind]
    X, Y = jnp.asarray(data.X), jnp.asarray(data.Y)

    @jax.jit
    def train_step(p, X, Y):  # the whole iteration, forward, backward and update, as one program
        grads = jax.grad(lambda q: cost(f, q, X, Y))(p)
        return {name: p[name] - lr * grads[name] for name in p}

    state = {}

    def reset() -> None:
        state["p"] = {name: jnp.asarray(value) for name, value in data.params.items()}

    def step() -> None:
        state["p"] = train_step(state["p"], X, Y)

    reset()
    return Implementation(step, reset, lambda: {k: np.asarray(v) for k, v in state["p"].items()},
                          finish=lambda: jax.block_until_ready(state["p"]))


def hips_autograd(kind: str, data: Data, lr: float = LEARNING_RATE) -> Implementation:
    import autograd
    import autograd.numpy as anp

    f = SimpleNamespace(sigmoid=lambda z: 1 / (1 + anp.exp(-z)), log=anp.log, mean=anp.mean,
                        relu=lambda z: anp.maximum(z, 0))
    cost = COSTS[kind]
    X, Y = data.X, data.Y
    gradient = autograd.grad(lambda q: cost(f, q, X, Y))
    p = {name: value.copy() for name, value in data.params.items()}

    def step() -> None:
        grads = gradient(p)
        for name, value in p.items():
            value -= lr * grads[name]

    def reset() -> None:
        for name, value in p.items():
            value[...] = data.params[name]

    return Implementation(step, reset, lambda: p)


def mygrad_tensors(kind: str, data: Data, lr: float = LEARNING_RATE) -> Implementation:
    import mygrad as mg
    from mygrad.nnet.activations import relu, sigmoid

    f = SimpleNamespace(sigmoid=sigmoid, log=mg.log, mean=mg.mean, relu=relu)
    cost = COSTS[kind]
    X, Y = data.X, data.Y
    p = {name: mg.tensor(value.copy()) for name, value in data.params.items()}

    def step() -> None:
        cost(f, p, X, Y).backward()
        for name, t in p.items():
            p[name] = mg.tensor(t.data - lr * t.grad)  # a fresh leaf: mygrad locks arrays it has seen

    def reset() -> None:
        for name, value in data.params.items():
            p[name] = mg.tensor(value.copy())

    return Implementation(step, reset, lambda: {name: t.data for name, t in p.items()})


PEERS: dict[str, Callable[[str, Data], Implementation]] = {
    "torch eager": torch_eager,
    "jax jit (whole step)": jax_jit,
    "autograd": hips_autograd,
    "mygrad": mygrad_tensors,
}
