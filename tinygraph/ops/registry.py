"""The registry of built-in ops, and small numeric helpers the ops share."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..op import Op

OPS: dict[str, type[Op]] = {}


def register(cls: type[Op]) -> type[Op]:
    """Add an op class to ``OPS`` under its ``name``."""
    if cls.name in OPS and OPS[cls.name] is not cls:
        raise ValueError(f"an op named {cls.name!r} is already registered ({OPS[cls.name].__qualname__})")
    OPS[cls.name] = cls
    return cls


class Constants(NamedTuple):
    """0-d read-only arrays of one float dtype; see :func:`constants`."""

    zero: np.ndarray
    half: np.ndarray
    one: np.ndarray


_CONSTANTS: dict[Any, Constants] = {}


def constants(x: Any) -> Constants:
    """0, 0.5 and 1 as 0-d arrays of ``x``'s float dtype (float64 for anything else).

    NumPy converts a Python number operand afresh on every call, which on a
    small array costs as much as the arithmetic; these are converted once.
    Being of x's dtype, they keep a float32 graph in float32, as Python numbers do.
    """
    try:  # called by ops on every run: the lookup is the whole cost when it hits
        return _CONSTANTS[x.dtype]
    except (AttributeError, KeyError):
        pass
    dtype = getattr(x, "dtype", None)
    found = _CONSTANTS.get(dtype)
    if found is None:
        real = dtype if dtype is not None and np.issubdtype(dtype, np.floating) else np.dtype(np.float64)
        found = Constants(*(np.array(v, dtype=real) for v in (0.0, 0.5, 1.0)))
        for array in found:
            array.flags.writeable = False
        _CONSTANTS[dtype] = found
    return found


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow for any x: exp is only taken of -|x| and of min(x, 0).

    ``e^min(x,0) / (1 + e^-|x|)`` is ``1 / (1 + e^-x)`` for x ≥ 0 and ``e^x / (1 + e^x)``
    for x < 0, each accurate to the last bits (subnormal tails included), with no
    branch to select between them.
    """
    c = constants(x)
    return np.exp(np.minimum(x, c.zero)) / (c.one + np.exp(-np.abs(x)))


LOGADDEXP_ABOVE = 256  # elements: numpy's logaddexp costs least on fewer, the form below on more


def stable_softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) without overflow for any x.

    On small arrays numpy's ``logaddexp(0, x)``, one call. It is a scalar loop, though, several
    times slower per element than ``max(x, 0) + log1p(e^-|x|)``, whose five calls (each a
    vectorized loop) cost less from a few hundred elements on. Both are accurate to a few ulp.
    """
    c = constants(x)
    if x.size <= LOGADDEXP_ABOVE:
        return np.logaddexp(c.zero, x)
    out = np.abs(x)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(x, c.zero)
    return out

