"""Mini-batches in the course's order: examples are columns, shuffled by a seeded permutation."""

from __future__ import annotations

import operator
import threading

import numpy as np

# Reseeding one RandomState costs 10 µs; making a new one per call costs 130 µs, more than a training step.
_shuffler = np.random.RandomState()
_shuffler_lock = threading.Lock()  # seed, then permute, with no other thread reseeding in between


def minibatches(
    X: np.ndarray, Y: np.ndarray, batch_size: int = 64, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(X_batch, Y_batch), ...]``: the course's ``random_mini_batches``.

    The columns (examples) of ``X`` ``(features, m)`` and ``Y`` ``(outputs, m)``
    are shuffled by ``np.random.RandomState(seed).permutation(m)``, the
    permutation ``np.random.seed(seed); np.random.permutation(m)`` gives
    (numpy's global random state is left alone), then cut into
    ``m // batch_size`` full batches and, when ``m`` is not a multiple of
    ``batch_size``, one last batch of the remaining columns. Each batch is a
    new contiguous array; the dtypes are kept.

    Raises ``ValueError`` when ``X`` and ``Y`` are not 2-D, do not hold the
    same number of columns, or ``batch_size`` is not a positive integer.
    """
    X, Y = np.asarray(X), np.asarray(Y)
    for name, array in (("X", X), ("Y", Y)):
        if array.ndim != 2:
            raise ValueError(
                f"minibatches: {name} must be 2-D with examples as columns, got shape {array.shape}"
            )
    m = X.shape[1]
    if Y.shape[1] != m:
        raise ValueError(
            f"minibatches: X has {m} examples (columns) but Y has {Y.shape[1]} (X {X.shape}, Y {Y.shape})"
        )
    try:
        size = operator.index(batch_size)
    except TypeError:
        size = 0
    if size <= 0:
        raise ValueError(f"minibatches: batch_size must be a positive integer, got {batch_size!r}")
    with _shuffler_lock:
        _shuffler.seed(seed)
        permutation = _shuffler.permutation(m)
    # take() gives each batch C-contiguous (X[:, columns] would not be), and is faster
    return [(X.take(columns, axis=1), Y.take(columns, axis=1)) for columns in
            (permutation[start:start + size] for start in range(0, m, size))]


__all__ = ["minibatches"]
