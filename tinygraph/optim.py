"""Optimizers and learning-rate schedules: the course's update rules, applied in place.

Each optimizer holds a fixed list of parameters and, per parameter, the state
its rule needs (the course's ``v`` and ``s`` dictionaries). ``step(grads)``
takes the ``{parameter: gradient}`` dict that ``Graph.backward()`` returns and
updates every parameter's array in place, as ``W -= learning_rate * dW`` does::

    opt = optim.Adam(model.parameters(), learning_rate=0.01)
    for X_batch, Y_batch in data.minibatches(X_train, Y_train, 64, seed=epoch):
        cost = g.forward({X: X_batch, Y: Y_batch})
        opt.step(g.backward())

or, the same to the bit and faster, ``cost = opt.minimize(g, {X: X_batch, Y: Y_batch})``.

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

The optimizer keeps its parameters' values, their gradients and its state in
one buffer of each kind (per dtype), so a rule updates every parameter with
one numpy call per operation. Each ``p.value`` is a view into that buffer,
changed in place by every step; a value assigned to ``p.value`` is copied in
at the next step.

``opt.minimize(g, feeds)`` is a whole training step, forward, gradients and
update, and the fast way to train: for feeds of a shape it has seen, it runs
one compiled program that writes the gradients straight into the buffer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .errors import TinygraphError
from .node import Node, Parameter
from .shapes import format_shape

if TYPE_CHECKING:
    from .graph import Graph


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


_numbers: dict[tuple[float, np.dtype], np.ndarray] = {}


def number(value: float, dtype: np.dtype) -> np.ndarray:
    """``value`` as a read-only 0-d array of ``dtype``: numpy multiplies a small array by one faster than
    by a Python float (which it converts on every call), with the same result. Kept for reuse."""
    key = (value, dtype)
    found = _numbers.get(key)
    if found is None:
        if len(_numbers) > 1024:  # a schedule changing the rate every step: start again
            _numbers.clear()
        found = _numbers[key] = np.array(value, dtype)
        found.flags.writeable = False
    return found


def _name(node: Any) -> str:
    return repr(node.name) if isinstance(node, Node) else repr(node)


class _Storage:
    """The values, gradients and state of the parameters of one dtype, each kind in one contiguous buffer.

    A rule then updates every parameter at once, one numpy call per operation on
    the whole buffer instead of one per parameter (the same arithmetic, element
    for element). ``views[i]`` is parameter ``i``'s slice in the shape it has;
    :meth:`adopt` makes each parameter's ``.value`` its view.
    """

    def __init__(self, params: tuple[Parameter, ...], slots: tuple[str, ...]):
        dtype = params[0].dtype
        sizes = [p.value.size for p in params]
        ends = np.cumsum(sizes).tolist()
        self.params = params
        self.values = np.zeros(ends[-1], dtype)
        self.grads = np.zeros(ends[-1], dtype)
        self.state = {slot: np.zeros(ends[-1], dtype) for slot in slots}

        def views(buffer: np.ndarray) -> list[np.ndarray]:
            return [buffer[end - size:end].reshape(p.shape) for p, size, end in zip(params, sizes, ends, strict=True)]

        self.views = views(self.values)
        self.pairs = tuple(zip(params, self.views, strict=True))
        self.grad_views = views(self.grads)
        self.state_views = {slot: views(buffer) for slot, buffer in self.state.items()}
        self.adopt()

    def adopt(self) -> None:
        """Make each parameter's value its view again, copying in a value assigned since."""
        for p, view in self.pairs:
            if p.value is not view:
                view[...] = p.value
                p.value = view


class Optimizer:
    """Base class: parameters, a learning rate, per-parameter state, the checks and the checkpoint format.

    A subclass names its per-parameter arrays in ``slots`` (zeros like the
    parameter to begin with), its other numbers in ``numbers``, and defines
    :meth:`update`, the rule as array arithmetic.

    The optimizer keeps its parameters' values in buffers of its own, one per
    dtype: each ``p.value`` is a view into one, updated in place by every step.
    Assigning ``p.value`` still works; the next step copies the new value in.
    """

    slots: ClassVar[tuple[str, ...]] = ()
    numbers: ClassVar[tuple[str, ...]] = ()
    kept_steps: ClassVar[int] = 8  # minimize keeps the compiled steps of this many graphs

    def __init__(self, params: Any, learning_rate: float):
        self.params = _parameters(params)
        self.learning_rate = float(learning_rate)
        self._positions = {p: i for i, p in enumerate(self.params)}
        by_dtype: dict[np.dtype, list[Parameter]] = {}
        for p in self.params:
            by_dtype.setdefault(p.dtype, []).append(p)
        self._storage = [_Storage(tuple(group), self.slots) for group in by_dtype.values()]
        state = {p: {slot: arrays[i] for slot, arrays in storage.state_views.items()}
                 for storage in self._storage for i, p in enumerate(storage.params)}
        self.state: list[dict[str, np.ndarray]] = [state[p] for p in self.params]  # parameter i's state arrays
        self._gradients = {p: storage.grad_views[i] for storage in self._storage for i, p in enumerate(storage.params)}
        self._gradient_steps: dict[Graph, Any] = {}  # graph -> its compiled step, for the last kept_steps graphs
        self._last_graph: Graph | None = None  # the graph minimize ran last, and its step: one check, not a lookup
        self._last_step: Any = None

    def step(self, grads: Mapping[Node, np.ndarray]) -> None:
        """Update every parameter in place from ``grads`` (``{parameter: gradient}``, e.g. ``g.backward()``)."""
        if grads.keys() != self._positions.keys():
            self._mismatch(grads)
        for p, grad in grads.items():
            if np.shape(grad) != p.shape:
                raise OptimizerError(
                    f"the gradient of parameter {p.name!r} has shape {format_shape(np.shape(grad))}; "
                    f"the parameter has shape {format_shape(p.shape)}"
                )
        for p, grad in grads.items():
            np.copyto(self._gradients[p], grad)
        self._apply()

    def minimize(self, graph: Graph, feeds: Mapping[Any, Any] | None = None) -> Any:
        """One training step: run ``graph`` on ``feeds``, take the gradients of its (first) output with respect
        to this optimizer's parameters, update them; returns what ``graph.forward(feeds)`` returns (the cost,
        or a tuple of the outputs' values for a graph of several).

        The same bits as ``cost = graph.forward(feeds); opt.step(graph.backward(opt.params))``, and the
        same errors, but faster: after the first step with feeds of a shape, forward, gradients and
        update run as one compiled program, the gradients written straight into the optimizer's buffer
        (see :meth:`tinygraph.Graph.gradient_step`).
        """
        step = self._gradient_steps.get(graph) if graph is not self._last_graph else self._last_step
        if step is None:
            step = self._gradient_step(graph)
        self._last_graph, self._last_step = graph, step
        cost = step(feeds)
        self._apply()
        return cost

    def _gradient_step(self, graph: Graph) -> Any:
        """The graph's gradient step into this optimizer's buffer, kept for the graphs minimized last."""
        if not callable(getattr(graph, "gradient_step", None)):
            raise TypeError(f"{type(self).__name__}.minimize takes a tg.Graph (of the cost), got {graph!r}")
        try:
            step = graph.gradient_step(self._gradients)
        except KeyError as error:
            raise OptimizerError(f"{type(self).__name__}.minimize: {error.args[0]}; an optimizer updates "
                                 f"the parameters it was given, and each must be part of the graph") from None
        if len(self._gradient_steps) >= self.kept_steps:  # the oldest goes: a loop may build graph after graph
            del self._gradient_steps[next(iter(self._gradient_steps))]
        self._gradient_steps[graph] = step
        return step

    def _apply(self) -> None:
        """Run the rule on each buffer, the gradients being in place (a value assigned since is copied in first)."""
        self.begin_step()
        for storage in self._storage:
            storage.adopt()
            self.update(storage.values, storage.grads, storage.state)

    def begin_step(self) -> None:
        """Called once per step before the updates (Adam counts its steps here)."""

    def update(self, value: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """The rule, in place: ``value`` (the parameters), ``grad`` (their gradients, which the rule may
        overwrite) and ``state`` (the arrays named in ``slots``) are whole buffers of one dtype."""
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

    def update(self, value, grad, state):
        grad *= number(self.learning_rate, grad.dtype)
        value -= grad


class Momentum(Optimizer):
    """Momentum: ``v = β·v + (1-β)·dW``, then ``W -= learning_rate · v`` (``update_parameters_with_momentum``)."""

    slots = ("v",)
    numbers = ("beta",)

    def __init__(self, params: Any, learning_rate: float, beta: float = 0.9):
        super().__init__(params, learning_rate)
        self.beta = float(beta)

    def update(self, value, grad, state):
        v = state["v"]
        v *= self.beta
        grad *= 1 - self.beta
        v += grad
        np.multiply(v, self.learning_rate, out=grad)
        value -= grad


class RMSprop(Optimizer):
    """RMSprop: ``s = β·s + (1-β)·dW²``, then ``W -= learning_rate · dW / (√s + ε)``."""

    slots = ("s",)
    numbers = ("beta", "epsilon")

    def __init__(self, params: Any, learning_rate: float, beta: float = 0.999, epsilon: float = 1e-8):
        super().__init__(params, learning_rate)
        self.beta = float(beta)
        self.epsilon = float(epsilon)

    def update(self, value, grad, state):
        s = state["s"]
        s *= self.beta
        s += (1 - self.beta) * (grad * grad)
        denominator = np.sqrt(s)
        denominator += self.epsilon
        grad *= self.learning_rate
        grad /= denominator
        value -= grad


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

    def update(self, value, grad, state):
        v, s = state["v"], state["s"]
        v *= self.beta1
        v += (1 - self.beta1) * grad
        s *= self.beta2
        grad *= grad
        grad *= 1 - self.beta2
        s += grad
        v_corrected = v / (1 - self.beta1 ** self.t)
        denominator = s / (1 - self.beta2 ** self.t)
        np.sqrt(denominator, out=denominator)
        denominator += self.epsilon
        v_corrected *= self.learning_rate
        v_corrected /= denominator
        value -= v_corrected


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
