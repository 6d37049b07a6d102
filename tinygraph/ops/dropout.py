"""Dropout, and the training switch it obeys.

``dropout(x, keep_prob, seed)`` is ``x * mask`` where the mask is a node of its
own, :class:`DropoutMask`: kept elements scaled by ``1/keep_prob`` (inverted
dropout, as the course writes it), dropped ones 0. The mask is not pure, so
rewrites never fold or merge it, and it has no gradient: the backward of the
product reuses the very mask the forward drew, so the gradient is
``mask/keep_prob`` where kept and 0 where dropped.

``tg.training(False)`` turns every mask into ones for the runs inside it (the
graph stays as built), so a model evaluates with the graph it trains with.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from ..backend import xp
from ..node import Node
from ..op import Op
from ..shapes import StaticShape
from .registry import register

_TRAINING = contextvars.ContextVar("tinygraph_training", default=True)


@contextlib.contextmanager
def training(flag: bool = True) -> Iterator[None]:
    """Run graphs in training mode (the default) or not: ``with tg.training(False): g.forward(...)``.

    Outside training, dropout is the identity. The mode is read when a graph
    runs, not when it is built; nested blocks restore the outer mode on exit.
    """
    token = _TRAINING.set(bool(flag))
    try:
        yield
    finally:
        _TRAINING.reset(token)


def is_training() -> bool:
    """Whether graphs run in training mode now (see :func:`training`)."""
    return _TRAINING.get()


@register
class DropoutMask(Op):
    """A fresh inverted-dropout mask shaped like ``x``: ``1/keep_prob`` with probability ``keep_prob``, else 0.

    With a ``seed`` every run draws the same mask,
    ``np.random.RandomState(seed).rand(*x.shape) < keep_prob``; without one each
    run draws anew from numpy's global random state (``np.random.seed`` sets it,
    as the course does). Outside :func:`training` the mask is all ones.
    """

    name = "dropout_mask"
    arity = 1
    domain = (-2.0, 2.0)
    pure = False  # random: never folded into a constant or merged with another mask
    differentiable = False

    def __init__(self, keep_prob: float, seed: int | None = None):
        if isinstance(keep_prob, Node) or not xp.isscalar(keep_prob) or not 0 < keep_prob <= 1:
            raise ValueError(f"dropout: keep_prob must be a number in (0, 1], got {keep_prob!r}")
        self.keep_prob = float(keep_prob)
        self.seed = None if seed is None else int(seed)

    @property
    def reproducible(self) -> bool:
        """Whether every run gives the same mask (a seed is given, or outside training it is all ones),
        so finite differences make sense."""
        return self.seed is not None or not is_training()

    @classmethod
    def examples(cls):
        return (cls(0.5, seed=0), cls(0.8, seed=3))  # seeded: a gradient check needs the same mask each run

    def params(self) -> dict:
        return {"keep_prob": self.keep_prob, "seed": self.seed}

    def infer_shape(self, shape: StaticShape) -> StaticShape:
        return shape

    def forward(self, x):
        if not _TRAINING.get() or self.keep_prob == 1:
            return xp.ones(x.shape, x.dtype)
        draws = xp.random.RandomState(self.seed).rand(*x.shape) if self.seed is not None else xp.random.rand(*x.shape)
        kept = xp.asarray(draws < self.keep_prob)  # rand() of no sizes gives a Python float, for a 0-d x
        return kept.astype(x.dtype) / xp.asarray(self.keep_prob, dtype=x.dtype)


def dropout(x: Any, keep_prob: float, seed: int | None = None) -> Node:
    """Inverted dropout: each element kept (scaled by ``1/keep_prob``) with probability ``keep_prob``.

    The identity outside :func:`training`. ``seed`` makes every run draw the same mask.
    """
    return x * DropoutMask(keep_prob, seed)(x)
