"""What every ``tinygraph train`` model shares: a progress bar, the cost lines, and a clean stop.

A model function that takes ``callback(i, cost)`` (called after each
iteration) gets a :class:`Progress`: it runs a
:class:`tinygraph.optim.TrainingLoop` from that callback, so the bar, the
course's cost lines and the :class:`tinygraph.optim.TrainingError` at the
first cost that is not finite are the library's; it adds the learning rate
to that error's message, and turns Ctrl-C into :class:`Interrupted`, saying
where training was.
"""

from __future__ import annotations

from types import TracebackType

from tinygraph import optim

__all__ = ["Interrupted", "Progress"]


class Interrupted(Exception):
    """The user pressed Ctrl-C during training; the message says where training was."""


class Progress:
    """``callback(i, cost)`` for a training function, to be used as a context manager around it.

    ``print_cost`` prints the course's line every ``every`` iterations; the
    kept costs are ``progress.loop.costs``.
    """

    def __init__(self, iterations: int, learning_rate: float, print_cost: bool = False, every: int = 100) -> None:
        self.loop = optim.TrainingLoop(iterations, every, print_cost=print_cost, bar=True)
        self.learning_rate = learning_rate
        self._steps = iter(self.loop)
        self.done = 0  # iterations whose cost was recorded

    def __call__(self, i: int, cost: float) -> None:
        next(self._steps)  # the loop's iteration i: the training function's iterations come in order
        self.loop.record(cost)  # raises TrainingError if the cost is not finite
        self.done = i + 1

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._steps.close()  # closes the bar
        if kind is optim.TrainingError:
            raise optim.TrainingError(f"training with learning rate {self.learning_rate} stopped: {error}") from None
        if kind is KeyboardInterrupt:
            seen = (f"; cost {self.loop.costs[-1]:.6f} at iteration {self.loop.recorded_at[-1]}"
                    if self.loop.costs else "")
            raise Interrupted(f"interrupted by Ctrl-C after {self.done} of {self.loop.iterations} iterations "
                              f"(learning rate {self.learning_rate}{seen})") from None
