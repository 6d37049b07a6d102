"""Course 2 Week 2, "Optimization Methods": mini-batch gradient descent, momentum, Adam, learning-rate decay.

The network is the three-layer graph of :mod:`models.three_layer` (``[2, 5, 2, 1]``,
He-initialised from seed 3), the data the course's two moons (scikit-learn, the
``course`` extra), and the update rules are :mod:`tinygraph.optim`'s: the
course's step-by-step functions here (``update_parameters_with_gd``,
``update_parameters_with_momentum``, ``update_parameters_with_adam``) take and
return its dictionaries, and run one step of the matching optimizer.
:func:`random_mini_batches` is :func:`tinygraph.data.minibatches`, and
:func:`update_lr` / :func:`schedule_lr_decay` are :mod:`tinygraph.optim`'s schedules.

What :func:`model` reproduces (training accuracy): the 2021 notebook's 5,000
epochs at learning rate 0.0007 give 71.7 % (GD), 71.7 % (momentum) and 94.3 %
(Adam); the earlier notebook's 10,000 epochs give 79.7 %, 79.7 % and 94 %.
With learning-rate decay (``schedule_lr_decay``, learning rate 0.1 for GD and
momentum, 0.01 for Adam) the three reach 94.3 %, 95.3 % and 94 %.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

import tinygraph as tg
from tinygraph import data, optim

from .initialization import initialize_parameters_he as initialize_parameters
from .three_layer import ThreeLayerNet, missing_package, predict, predict_dec, recorder, run_summary

__all__ = [
    "COST_LINE", "LAYERS_DIMS", "LEARNING_RATE_LINE", "initialize_adam", "initialize_parameters",
    "initialize_velocity", "load_dataset", "model", "predict", "predict_dec", "random_mini_batches",
    "schedule_lr_decay", "train_for_cli", "update_lr", "update_parameters_with_adam",
    "update_parameters_with_gd", "update_parameters_with_momentum",
]

COST_LINE = "Cost after epoch {i}: {cost:f}"  # the course's progress lines
LEARNING_RATE_LINE = "learning rate after epoch {i}: {learning_rate:f}"
LAYERS_DIMS = (2, 5, 2, 1)  # the notebook's layers_dims = [train_X.shape[0], 5, 2, 1]


def load_dataset() -> tuple[np.ndarray, np.ndarray]:
    """The course's moons: ``sklearn.datasets.make_moons(300, noise=.2)`` from numpy seed 3, as
    ``train_X`` (2, 300) and ``train_Y`` (1, 300); numpy's global state is left alone."""
    try:
        from sklearn.datasets import make_moons
    except ImportError:
        raise missing_package("scikit-learn", "drawing the optimization data (the moons)") from None
    train_X, train_Y = make_moons(n_samples=300, noise=0.2, random_state=np.random.RandomState(3))
    return train_X.T, train_Y.reshape(1, -1)


# --- the course's update functions, on tinygraph.optim -----------------------------------

def _keys(parameters: Mapping[str, Any]) -> list[str]:
    """``W1, b1, …, WL, bL``, the order of the course's loops (and of the optimizer's state)."""
    layers = len(parameters) // 2
    keys = [key for layer in range(1, layers + 1) for key in (f"W{layer}", f"b{layer}")]
    missing = [key for key in keys if key not in parameters]
    if missing or len(parameters) != len(keys):
        raise KeyError(f"parameters must be W1, b1, ..., WL, bL; got {sorted(parameters)}")
    return keys


def _step(optimizer: type[optim.Optimizer], parameters: Mapping[str, Any], grads: Mapping[str, Any],
          state: Mapping[str, Mapping[str, Any]], **settings: Any) -> tuple[dict[str, np.ndarray], optim.Optimizer]:
    """One step of ``optimizer`` from the course's dictionaries.

    ``state`` maps an optimizer slot (``"v"``, ``"s"``) to the course's dictionary of it
    (keyed ``"dW1"``…); ``settings`` holds the learning rate and the optimizer's numbers.
    Returns the new parameters and the optimizer, whose ``state_dict()`` holds the new state.
    """
    keys = _keys(parameters)
    nodes = [tg.parameter(parameters[key], name=key) for key in keys]  # copies: the caller's arrays stay
    opt = optimizer(nodes, **{k: v for k, v in settings.items() if k != "t"})
    saved = opt.state_dict()
    saved.update(settings)
    saved.update((f"{i}.{slot}", values[f"d{key}"]) for slot, values in state.items() for i, key in enumerate(keys))
    opt.load_state_dict(saved)
    opt.step({node: np.asarray(grads[f"d{key}"], dtype=np.float64) for node, key in zip(nodes, keys, strict=True)})
    return {key: node.value for key, node in zip(keys, nodes, strict=True)}, opt


def _slot(opt: optim.Optimizer, slot: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
    state = opt.state_dict()
    return {f"d{key}": state[f"{i}.{slot}"] for i, key in enumerate(keys)}


def update_parameters_with_gd(parameters: Mapping[str, Any], grads: Mapping[str, Any], learning_rate: float
                              ) -> dict[str, np.ndarray]:
    """One gradient-descent step: ``W = W - learning_rate · dW`` for every ``W1, b1, …`` (:class:`optim.GD`)."""
    updated, _ = _step(optim.GD, parameters, grads, {}, learning_rate=learning_rate)
    return updated


def random_mini_batches(X: np.ndarray, Y: np.ndarray, mini_batch_size: int = 64, seed: int = 0
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The columns shuffled by numpy seed ``seed``'s permutation, then cut in batches (:func:`data.minibatches`)."""
    return data.minibatches(X, Y, mini_batch_size, seed)


def initialize_velocity(parameters: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``v["dW1"]``, ``v["db1"]``, … zeros of each parameter's shape."""
    return {f"d{key}": np.zeros_like(parameters[key], dtype=np.float64) for key in _keys(parameters)}


def update_parameters_with_momentum(parameters: Mapping[str, Any], grads: Mapping[str, Any],
                                    v: Mapping[str, Any], beta: float, learning_rate: float
                                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``v = β·v + (1-β)·dW``, ``W = W - learning_rate · v`` (:class:`optim.Momentum`); returns ``(parameters, v)``."""
    updated, opt = _step(optim.Momentum, parameters, grads, {"v": v}, learning_rate=learning_rate, beta=beta)
    return updated, _slot(opt, "v", _keys(parameters))


def initialize_adam(parameters: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(v, s)``: zeros of each parameter's shape, keyed ``"dW1"``, ``"db1"``, …"""
    return initialize_velocity(parameters), initialize_velocity(parameters)


def update_parameters_with_adam(parameters: Mapping[str, Any], grads: Mapping[str, Any], v: Mapping[str, Any],
                                s: Mapping[str, Any], t: int, learning_rate: float = 0.01, beta1: float = 0.9,
                                beta2: float = 0.999, epsilon: float = 1e-8) -> tuple[dict[str, np.ndarray], ...]:
    """Adam's step number ``t`` (from 1) with bias correction (:class:`optim.Adam`).

    Returns ``(parameters, v, s, v_corrected, s_corrected)``, the corrected moments being
    ``v / (1 - β₁ᵗ)`` and ``s / (1 - β₂ᵗ)``, as the course returns them.
    """
    if int(t) < 1:
        raise ValueError(f"Adam counts its steps from 1, got t={t!r}")
    updated, opt = _step(optim.Adam, parameters, grads, {"v": v, "s": s}, learning_rate=learning_rate,
                         beta1=beta1, beta2=beta2, epsilon=epsilon, t=int(t) - 1)  # the step makes it t
    keys = _keys(parameters)
    v, s = _slot(opt, "v", keys), _slot(opt, "s", keys)
    v_corrected = {key: value / (1 - beta1 ** t) for key, value in v.items()}
    s_corrected = {key: value / (1 - beta2 ** t) for key, value in s.items()}
    return updated, v, s, v_corrected, s_corrected


def update_lr(learning_rate0: float, epoch_num: int, decay_rate: float) -> float:
    """``learning_rate0 / (1 + decay_rate · epoch_num)``: decay at every epoch (:func:`optim.inverse_time_decay`)."""
    return optim.inverse_time_decay(learning_rate0, epoch_num, decay_rate)


def schedule_lr_decay(learning_rate0: float, epoch_num: int, decay_rate: float, time_interval: int = 1000) -> float:
    """``learning_rate0 / (1 + decay_rate · ⌊epoch_num / time_interval⌋)`` (:func:`optim.scheduled_decay`)."""
    return optim.scheduled_decay(learning_rate0, epoch_num, decay_rate, time_interval)


# --- training -------------------------------------------------------------------------

def model(
    X: np.ndarray,
    Y: np.ndarray,
    layers_dims: Sequence[int],
    optimizer: str,
    learning_rate: float = 0.0007,
    mini_batch_size: int = 64,
    beta: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
    num_epochs: int = 5000,
    print_cost: bool = True,
    decay: Callable[[float, int, float], float] | None = None,
    decay_rate: float = 1,
    *,
    callback: Callable[[int, float], None] | None = None,
    bar: bool = False,
) -> dict[str, np.ndarray]:
    """Mini-batch training of the three-layer network; returns the parameters.

    ``optimizer`` is ``"gd"``, ``"momentum"`` or ``"adam"``. Each epoch shuffles the
    examples anew (seeds 11, 12, …, as the course) into batches of ``mini_batch_size``;
    the cost of an epoch is the cross-entropy summed over its batches over ``m``.
    ``decay(learning_rate0, epoch, decay_rate)``, if given, sets the learning rate after
    each epoch. With ``print_cost`` the cost (and the decayed learning rate) is printed
    every 1000 epochs; ``bar`` shows a progress bar (on terminals); ``callback(epoch, cost)``
    is called after every epoch. A cost that stops being finite raises
    :class:`tinygraph.optim.TrainingError`, naming the epoch.
    """
    dims = tuple(int(d) for d in layers_dims)
    if len(dims) != 4:
        raise ValueError(f"the course's model is the three-layer network: layers_dims needs 4 sizes, got {dims}")
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    net = ThreeLayerNet(dims).load(initialize_parameters(dims))
    params = tuple(net.parameters.values())
    if optimizer == "gd":
        opt: optim.Optimizer = optim.GD(params, learning_rate)
    elif optimizer == "momentum":
        opt = optim.Momentum(params, learning_rate, beta)
    elif optimizer == "adam":
        opt = optim.Adam(params, learning_rate, beta1, beta2, epsilon)
    else:
        raise ValueError(f"optimizer must be 'gd', 'momentum' or 'adam', got {optimizer!r}")
    seed = 10  # the course's: the first epoch shuffles with seed 11
    m = X.shape[1]
    loop = optim.TrainingLoop(num_epochs, every=1000, print_cost=print_cost, message=COST_LINE, bar=bar)
    for i in loop:
        seed = seed + 1
        cost_total = 0.0
        for minibatch_X, minibatch_Y in data.minibatches(X, Y, mini_batch_size, seed):
            cost_total += net.train_step(opt, minibatch_X, minibatch_Y) * minibatch_X.shape[1]  # summed loss
        if decay is not None:
            opt.learning_rate = decay(learning_rate, i, decay_rate)
        cost_avg = loop.record(cost_total / m)
        if print_cost and decay is not None and i % 1000 == 0:
            tqdm.write(LEARNING_RATE_LINE.format(i=i, learning_rate=opt.learning_rate))  # below the cost, as the course
        if callback is not None:
            callback(i, cost_avg)
    return net.values()


TITLES = {"gd": "Model with Gradient Descent optimization", "momentum": "Model with Momentum optimization",
          "adam": "Model with Adam optimization"}


def train_for_cli(iterations: int | None = None, data_dir: Any = None, print_cost: bool = False, *,
                  callback: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """The notebook's three optimizers for ``tinygraph train --model optimization``; Adam's is the result.

    ``iterations`` counts epochs (5000 by default, as the notebook). Returns Adam's ``"costs"``
    (every 100 epochs, as the notebook plots them), ``"cost_every"``, ``"learning_rate"``,
    ``"iterations"``, ``"accuracies"`` (training set, percent: the moons have no test set),
    ``"parameters"`` and ``"boundary"``, with ``"runs"`` holding the same for ``"gd"``,
    ``"momentum"`` and ``"adam"``. ``callback(epoch, cost)`` follows every epoch of every run.
    The data are generated: ``data_dir`` must be ``None``.
    """
    if data_dir is not None:
        raise ValueError("the optimization model draws its data (the moons); it reads no data directory")
    train_X, train_Y = load_dataset()
    num_epochs = 5000 if iterations is None else int(iterations)
    runs = {}
    for name, title in TITLES.items():
        costs: list[float] = []
        parameters = model(train_X, train_Y, LAYERS_DIMS, name, num_epochs=num_epochs, print_cost=print_cost,
                           callback=recorder(costs, 100, callback))
        runs[name] = run_summary(title, parameters, costs, 100, 0.0007, num_epochs, {"train": (train_X, train_Y)},
                                 (-1.5, 2.5), (-1, 1.5))
    return {"name": "optimization", **runs["adam"], "runs": runs}
