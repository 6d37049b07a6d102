"""Weight initialisers: the course's recipes, drawn so its seeded results come out bit for bit.

Every initialiser is a function ``(shape, ..., rng=None) -> ndarray`` (float64),
so :class:`tinygraph.nn.Linear` takes any of them as ``init``, or one of your
own that it can call as ``init(shape, rng=rng)``:

- :func:`zeros`: all zeros (the course's biases, and its "zeros" experiment);
- :func:`normal`: ``randn(*shape) * scale``, scale 0.01 by default
  (``initialize_parameters`` and ``initialize_parameters_deep`` in Course 1);
- :func:`xavier`: ``randn(*shape) / sqrt(n_in)`` (the Week 4 application's
  ``initialize_parameters_deep``; the course calls ``sqrt(1/n_in)`` Xavier);
- :func:`he`: ``randn(*shape) * sqrt(2 / n_in)`` (Course 2's ``initialize_parameters_he``).

``rng`` is where the numbers come from:

- ``None``: numpy's global random state, as the notebooks draw after ``np.random.seed(3)``;
- an ``int`` seed: a fresh ``np.random.RandomState(seed)``, the same stream
  ``np.random.seed(seed)`` starts, without touching the global state;
- a ``np.random.RandomState``: ``rng.randn(*shape)``, continuing its stream, so
  layers initialised one after another from one ``RandomState(3)`` match the
  course's loop ``np.random.seed(3); for l ...: randn(n_l, n_{l-1}) * scale``;
- a ``np.random.Generator``: ``rng.standard_normal(shape)`` (a different stream).

The scale is applied exactly as the course writes it (``/ np.sqrt(n)`` for
Xavier, ``* np.sqrt(2 / n)`` for He), since ``x / sqrt(n)`` and
``x * sqrt(1 / n)`` can differ in the last bit.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

import numpy as np

Rng = int | np.random.RandomState | np.random.Generator | None
Initializer = Callable[..., np.ndarray]  # called as init(shape, rng=rng)


def as_rng(rng: Rng) -> np.random.RandomState | np.random.Generator | None:
    """A seed becomes ``np.random.RandomState(seed)``; a RandomState, a Generator or ``None`` stays as it is.

    Convert once and pass the result on, so that several draws continue one stream.
    """
    if rng is None or isinstance(rng, (np.random.RandomState, np.random.Generator)):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.RandomState(int(rng))
    raise TypeError(
        f"rng must be a seed (int), a np.random.RandomState, a np.random.Generator or None; got {rng!r}"
    )


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints; an int ``n`` means ``(n,)``."""
    try:
        dims = (operator.index(shape),) if not isinstance(shape, Sequence) else tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"an initialiser needs a shape of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"an initialiser needs a shape of non-negative sizes, got {shape!r}")
    return dims


def standard_normal(shape: int | Sequence[int], rng: Rng = None) -> np.ndarray:
    """Draws from N(0, 1) of the given shape, from ``rng`` as the module docstring describes."""
    shape = _shape(shape)
    rng = as_rng(rng)
    if rng is None:
        draws = np.random.randn(*shape)
    elif isinstance(rng, np.random.Generator):
        draws = rng.standard_normal(shape)
    else:
        draws = rng.randn(*shape)
    return np.asarray(draws, dtype=np.float64)  # randn() of shape () returns a Python float


def fan_in(shape: Sequence[int]) -> int:
    """Inputs per unit: ``n_in`` of a weight ``(n_out, n_in)``, ``f·f·C_in`` of a kernel ``(f, f, C_in, C_out)``."""
    shape = _shape(shape)
    if len(shape) == 2:
        return shape[1]
    if len(shape) == 4:
        return shape[0] * shape[1] * shape[2]
    raise ValueError(
        f"cannot tell the fan-in of shape {shape}: expected a dense weight (n_out, n_in) "
        f"or a convolution kernel (f, f, C_in, C_out)"
    )


def zeros(shape: int | Sequence[int], rng: Rng = None) -> np.ndarray:
    """All zeros. ``rng`` is accepted (and unused) so every initialiser has the same signature."""
    return np.zeros(_shape(shape))


def normal(shape: int | Sequence[int], scale: float = 0.01, rng: Rng = None) -> np.ndarray:
    """``randn(*shape) * scale``: the course's small random weights (scale 0.01)."""
    return standard_normal(shape, rng) * scale


def xavier(shape: int | Sequence[int], rng: Rng = None) -> np.ndarray:
    """``randn(*shape) / sqrt(n_in)``: variance ``1/n_in``, the course's Xavier (and its Week 4 application)."""
    return standard_normal(shape, rng) / np.sqrt(fan_in(shape))


def he(shape: int | Sequence[int], rng: Rng = None) -> np.ndarray:
    """``randn(*shape) * sqrt(2 / n_in)``: He et al. 2015, for relu layers."""
    return standard_normal(shape, rng) * np.sqrt(2 / fan_in(shape))


INITIALIZERS: dict[str, Initializer] = {"zeros": zeros, "normal": normal, "xavier": xavier, "he": he}


def get(init: str | Initializer) -> Initializer:
    """The initialiser named ``init`` (a key of :data:`INITIALIZERS`), or ``init`` itself when it is a function."""
    if callable(init):
        return init
    try:
        return INITIALIZERS[init]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown initialiser {init!r}: expected one of {', '.join(map(repr, INITIALIZERS))} "
            f"or a function called as init(shape, rng=rng)"
        ) from None


__all__ = ["Initializer", "Rng", "INITIALIZERS", "as_rng", "fan_in", "get", "he", "normal", "standard_normal",
           "xavier", "zeros"]
