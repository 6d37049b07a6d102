"""Optimizers and learning-rate schedules: the course's update rules, applied in place.

Each optimizer holds a fixed list of parameters and, per parameter, the state
its rule needs (the course's ``v`` and ``s`` dictionaries). ``step(grads)``
takes the ``{parameter: gradient}`` dict that ``Graph.backward()`` returns and
updates every parameter's array in place, as ``W -= learning_rate * dW`` does::

    opt = optim.Adam(model.parameters(), learning_rate=0.01)
    for X_batch, Y_batch in data.minibatches(X_train, Y_train, 64, seed=epoch):
        cost = g.forward({X: X_batch, Y: Y_batch})
        opt.step(g.backward())

The rules, with ``t`` the number of steps taken (Adam counts from 1):

- :class:`GD`: ``W -= lr · dW``
- :class:`Momentum`: ``v = β·v + (1-β)·dW``; ``W -= lr · v``
- :class:`RMSprop`: ``s = β·s + (1-β)·dW²``; ``W -= lr · dW / (√s + ε)``
- :class:`Adam`: ``v = β₁·v + (1-β₁)·dW``, ``s = β₂·s + (1-β₂)·dW²``,
  ``v̂ = v / (1-β₁ᵗ)``, ``ŝ = s / (1-β₂ᵗ)``; ``W -= lr · v̂ / (√ŝ + ε)``

each computed in the course's order of operations, so the numbers match its
notebooks to the last bit. ``opt.learning_rate`` may be changed between steps
(see :func:`inverse_time_decay` and :func:`scheduled_decay`).
``state_dict()`` / ``load_state_dict()`` save and restore everything a
checkpoint needs, as a flat dict of numbers and arrays.

:class:`TrainingLoop` counts the iterations of a loop you write, keeps the
course's cost history, shows a tqdm bar if asked, and stops with a
:class:`TrainingError` naming the iteration once the cost is not finite.

Because updates are in place, the array a parameter's ``.value`` refers to is
the one that changes (a read-only array is replaced instead).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from .errors import TinygraphError
from .node import Node, Parameter
from .shapes import format_shape


class OptimizerError(TinygraphError, ValueError):
    """An optimizer was given gradients or a saved state that do not match its parameters."""


class TrainingError(TinygraphError, RuntimeError):
    """The cost of a training run stopped being finite; says at which iteration, and what it was."""


def _parameters(params: Any) -> tuple[Parameter, ...]:
    """The parameters of a module (anything with ``.parameters()``), a dict's values, or an iterable."""
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    elif isinstance(params, Mapping):
        params = params.values()
    elif isinstance(params, Node):
        params = (params,)
    found = tuple(params)
    for p in found:
        if not isinstance(p, Parameter):
            raise TypeError(f"an optimizer updates parameters (tg.parameter), got {p!r}")
    if not found:
        raise ValueError("an optimizer needs at least one parameter, got none")
    if len(set(found)) != len(found):
        twice = next(p for p in found if found.count(p) > 1)
        raise ValueError(f"parameter {twice.name!r} is listed twice; an optimizer would update it twice per step")
    return found


def _name(node: Any) -> str:
    return repr(node.name) if isinstance(node, Node) else repr(node)


class Optimizer:
    """Base class: parameters, a learning rate, per-parameter state, the checks and the checkpoint format.

    A subclass names its per-parameter arrays in ``slots`` (zeros like the
    parameter to begin with), its other numbers in ``numbers``, and defines
    :meth:`update`.
    """

    slots: ClassVar[tuple[str, ...]] = ()
    numbers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: Any, learning_rate: float):
        self.params = _parameters(params)
        self.learning_rate = float(learning_rate)
        self._positions = {p: i for i, p in enumerate(self.params)}
        self.state: list[dict[str, np.ndarray]] = [
            {slot: np.zeros_like(p.value) for slot in self.slots} for p in self.params
        ]

    def step(self, grads: Mapping[Node, np.ndarray]) -> None:
        """Update every parameter in place from ``grads`` (``{parameter: gradient}``, e.g. ``g.backward()``)."""
        if grads.keys() != self._positions.keys():
            self._mismatch(grads)
        self.begin_step()
        for p, state in zip(self.params, self.state, strict=True):
            grad = grads[p]
            if grad.shape != p.shape:
                raise OptimizerError(
                    f"the gradient of parameter {p.name!r} has shape {format_shape(grad.shape)}; "
                    f"the parameter has shape {format_shape(p.shape)}"
                )
            self.update(p, grad, state)

    def begin_step(self) -> None:
        """Called once per step before the updates (Adam counts its steps here)."""

    def update(self, p: Parameter, grad: np.ndarray, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError(f"{type(self).__name__} defines no update")

    def _mismatch(self, grads: Mapping[Node, np.ndarray]) -> None:
        missing = [p.name for p in self.params if p not in grads]
        unknown = [_name(node) for node in grads if node not in self._positions]
        problems = []
        if missing:
            problems.append(f"no gradient for parameter(s) {', '.join(map(repr, missing))}")
        if unknown:
            problems.append(f"gradients for {', '.join(unknown)}, which this optimizer does not update")
        raise OptimizerError(f"{type(self).__name__}.step: " + "; ".join(problems))

    @staticmethod
    def subtract(p: Parameter, delta: np.ndarray) -> None:
        """``p.value -= delta`` in place (a fresh array when the current one is read-only)."""
        value = p.value
        try:
            value -= delta
        except ValueError:  # read-only (shapes were checked in step)
            p.value = value - delta

    # --- checkpoints ------------------------------------------------------------------

    def state_dict(self) -> dict[str, float | int | np.ndarray]:
        """Copies of everything a later :meth:`load_state_dict` needs.

        Keys: ``"learning_rate"``, the optimizer's numbers (``"beta"``, ``"t"``, ...)
        and ``"<i>.<slot>"`` for the state array ``slot`` of the ``i``-th parameter
        (in the order the optimizer was given them), e.g. ``"0.v"``.
        """
        state: dict[str, float | int | np.ndarray] = {"learning_rate": self.learning_rate}
        state.update((name, getattr(self, name)) for name in self.numbers)
        for i, slots in enumerate(self.state):
            state.update((f"{i}.{slot}", array.copy()) for slot, array in slots.items())
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved; checks everything first, so a bad ``state`` changes nothing.

        Raises :class:`OptimizerError` listing missing and unexpected keys and
        arrays whose shape does not match their parameter.
        """
        expected = self.state_dict()
        problems = [f"missing {key!r}" for key in expected if key not in state]
        problems += [f"unexpected {key!r}" for key in state if key not in expected]
        for key, value in expected.items():
            if isinstance(value, np.ndarray) and key in state and np.shape(state[key]) != value.shape:
                p = self.params[int(key.split(".", 1)[0])]
                problems.append(f"{key!r} has shape {format_shape(np.shape(state[key]))}, "
                                f"parameter {p.name!r} has shape {format_shape(p.shape)}")
        if problems:
            raise OptimizerError(f"cannot load this state into {type(self).__name__}: " + "; ".join(problems))
        self.learning_rate = float(state["learning_rate"])
        for name in self.numbers:
            setattr(self, name, type(getattr(self, name))(state[name]))
        for i, slots in enumerate(self.state):
            for slot, array in slots.items():
                array[...] = state[f"{i}.{slot}"]

    def __repr__(self) -> str:
        numbers = "".join(f", {name}={getattr(self, name)!r}" for name in self.numbers)
        return f"{type(self).__name__}({len(self.params)} parameters, learning_rate={self.learning_rate!r}{numbers})"


class GD(Optimizer):
    """Gradient descent: ``W -= learning_rate · dW`` (the course's ``update_parameters_with_gd``)."""

    def update(self, p, grad, state):
        self.subtract(p, self.learning_rate * grad)


class Momentum(Optimizer):
    """Momentum: ``v = β·v + (1-β)·dW``, then ``W -= learning_rate · v`` (``update_parameters_with_momentum``)."""

    slots = ("v",)
    numbers = ("beta",)

    def __init__(self, params: Any, learning_rate: float, beta: float = 0.9):
        super().__init__(params, learning_rate)
        self.beta = float(beta)

    def update(self, p, grad, state):
        v = state["v"]
        v *= self.beta
        v += (1 - self.beta) * grad
        self.subtract(p, self.learning_rate * v)


class RMSprop(Optimizer):
    """RMSprop: ``s = β·s + (1-β)·dW²``, then ``W -= learning_rate · dW / (√s + ε)``."""

    slots = ("s",)
    numbers = ("beta", "epsilon")

    def __init__(self, params: Any, learning_rate: float, beta: float = 0.999, epsilon: float = 1e-8):
        super().__init__(params, learning_rate)
        self.beta = float(beta)
        self.epsilon = float(epsilon)

    def update(self, p, grad, state):
        s = state["s"]
        s *= self.beta
        s += (1 - self.beta) * (grad * grad)
        denominator = np.sqrt(s)
        denominator += self.epsilon
        self.subtract(p, self.learning_rate * grad / denominator)


class Adam(Optimizer):
    """Adam with bias correction, ``ε`` outside the square root (the course's ``update_parameters_with_adam``).

    ``t`` counts the steps taken; the first step uses ``t = 1``.
    """

    slots = ("v", "s")
    numbers = ("beta1", "beta2", "epsilon", "t")

    def __init__(self, params: Any, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8):
        super().__init__(params, learning_rate)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.epsilon = float(epsilon)
        self.t = 0

    def begin_step(self):
        self.t += 1
        # The corrections are the same for every parameter in a step: work them out once.
        self._correction1 = 1 - self.beta1 ** self.t
        self._correction2 = 1 - self.beta2 ** self.t

    def update(self, p, grad, state):
        v, s = state["v"], state["s"]
        v *= self.beta1
        v += (1 - self.beta1) * grad
        s *= self.beta2
        s += (1 - self.beta2) * (grad * grad)
        v_corrected = v / self._correction1
        denominator = s / self._correction2
        np.sqrt(denominator, out=denominator)
        denominator += self.epsilon
        v_corrected *= self.learning_rate
        v_corrected /= denominator
        self.subtract(p, v_corrected)


# --- learning-rate schedules ---------------------------------------------------------

def inverse_time_decay(learning_rate0: float, epoch: int, decay_rate: float) -> float:
    """``learning_rate0 / (1 + decay_rate · epoch)``: the course's ``update_lr``."""
    return learning_rate0 / (1 + decay_rate * epoch)


def scheduled_decay(learning_rate0: float, epoch: int, decay_rate: float, time_interval: int = 1000) -> float:
    """``learning_rate0 / (1 + decay_rate · ⌊epoch / time_interval⌋)``: the course's ``schedule_lr_decay``.

    The rate drops in steps, once every ``time_interval`` epochs.
    """
    if time_interval <= 0:
        raise ValueError(f"scheduled_decay: time_interval must be positive, got {time_interval!r}")
    return learning_rate0 / (1 + decay_rate * math.floor(epoch / time_interval))


# --- the training loop -----------------------------------------------------------------

class TrainingLoop:
    """The iterations of a training loop you write, with the course's cost history and a finite-cost check::

        loop = optim.TrainingLoop(num_iterations, every=1000, print_cost=True)
        for i in loop:
            cost = g.forward(feeds)
            opt.step(g.backward())
            loop.record(cost)
        loop.costs    # the cost at iterations 0, 1000, 2000, ... (loop.recorded_at)

    Args:
        iterations: how many times the loop runs (``i`` = 0 … iterations-1).
        every: keep (and print) the cost of every ``every``-th iteration, counting from 0.
        print_cost: print each kept cost, formatted by ``message`` (``{i}``, ``{cost}``).
        bar: show a tqdm progress bar (on terminals only), its cost updated when one is kept.

    :meth:`record` raises :class:`TrainingError` at the first cost that is NaN or
    infinite, naming the iteration, so a diverging run stops where it went wrong.
    """

    def __init__(self, iterations: int, every: int = 100, *, print_cost: bool = False,
                 message: str = "Cost after iteration {i}: {cost:f}", bar: bool = False):
        if every <= 0:
            raise ValueError(f"TrainingLoop: every must be positive, got {every!r}")
        self.iterations, self.every = int(iterations), int(every)
        self.print_cost, self.message, self.bar = print_cost, message, bar
        self.costs: list[float] = []
        self.recorded_at: list[int] = []
        self.iteration = -1  # the iteration running now
        self._bar: Any = None
        self._last_finite: tuple[int, float] | None = None

    def __iter__(self) -> Iterator[int]:
        bar = None
        if self.bar:
            from tqdm import tqdm

            bar = tqdm(total=self.iterations, unit="it", disable=None, leave=False)
        self._bar = bar
        try:
            for i in range(self.iterations):
                self.iteration = i
                yield i
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
                self._bar = None

    def record(self, cost: Any) -> float:
        """Check this iteration's cost (raising :class:`TrainingError` if not finite); keep it every ``every``."""
        value = float(cost)
        i = self.iteration
        if not math.isfinite(value):
            before = "" if self._last_finite is None else " (it was {1} at iteration {0})".format(*self._last_finite)
            raise TrainingError(f"the cost became {value} at iteration {i}{before}; "
                                f"a smaller learning rate, or a loss the graph can make stable, may help")
        self._last_finite = (i, value)
        if i % self.every == 0:
            self.costs.append(value)
            self.recorded_at.append(i)
            line = self.message.format(i=i, cost=value)
            if self._bar is not None:
                self._bar.set_postfix_str(line, refresh=False)
                if self.print_cost:
                    self._bar.write(line)  # above the bar, not through it
            elif self.print_cost:
                print(line)
        return value


__all__ = ["Adam", "GD", "Momentum", "Optimizer", "OptimizerError", "RMSprop", "TrainingError", "TrainingLoop",
           "inverse_time_decay", "scheduled_decay"]
