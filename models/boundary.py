"""The course's decision-boundary picture of a 2-D classifier, as ``planar_utils.plot_decision_boundary`` draws it.

A *boundary* is a dict describing one picture, as the 2-D models' ``boundary``
functions make it (:func:`models.planar.boundary`, :func:`models.three_layer.boundary`):

- ``"X"``: the points, ``(2, m)``; ``"Y"``: their labels 0/1, ``(1, m)`` (or ``(m,)``);
- ``"predict"``: a function of points as columns, ``(2, k)``, returning their
  ``k`` labels (any shape holding ``k`` values: ``(1, k)`` booleans, say);
- optional ``"title"``, and ``"xlim"``, ``"ylim"`` (pairs) to fix the axes.

The regions are the labels ``predict`` gives on a grid spanning the points with a
margin of 1, as the course's helper does (it steps by 0.01; here the grid has
``resolution`` points a side, which looks the same and keeps wide hidden layers
affordable); the points are drawn on top, both in matplotlib's ``Spectral``
colours. matplotlib is an optional extra (``pip install matplotlib``, or
``pip install -e ".[plot]"`` in a checkout);
figures are saved atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygraph.files import atomic_write

from .plots import require_matplotlib

__all__ = ["decision_boundaries", "decision_boundary", "grid_labels"]

PathLike = str | os.PathLike
MARGIN = 1.0  # the course's plot_decision_boundary pads the points' range by 1 on each side


def _points(boundary: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    try:
        X, Y = np.asarray(boundary["X"], dtype=np.float64), np.asarray(boundary["Y"])
    except KeyError as error:
        raise KeyError(f"a boundary needs 'X', 'Y' and 'predict'; {error.args[0]!r} is missing") from None
    if X.ndim != 2 or X.shape[0] != 2:
        raise ValueError(f"a decision boundary is drawn for 2-D points given as columns, X (2, m); got X {X.shape}")
    if Y.size != X.shape[1]:
        raise ValueError(f"Y has {Y.size} labels for the {X.shape[1]} points of X")
    return X, Y.reshape(-1)


def grid_labels(boundary: Mapping[str, Any], resolution: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xx, yy, labels)``: a ``resolution``² grid over the points' range ± 1 and ``predict``'s label at each."""
    if int(resolution) < 2:
        raise ValueError(f"resolution must be at least 2 grid points a side, got {resolution!r}")
    X, _ = _points(boundary)
    axes = [np.linspace(X[i].min() - MARGIN, X[i].max() + MARGIN, int(resolution)) for i in range(2)]
    xx, yy = np.meshgrid(*axes)
    grid = np.vstack([xx.ravel(), yy.ravel()])  # (2, k): points as columns, the models' layout
    try:
        predict = boundary["predict"]
    except KeyError:
        raise KeyError("a boundary needs 'X', 'Y' and 'predict'; 'predict' is missing") from None
    labels = np.asarray(predict(grid))
    if labels.size != grid.shape[1]:
        raise ValueError(f"predict returned {labels.size} labels for {grid.shape[1]} points "
                         f"(shape {labels.shape}); it must label each column of its (2, k) input")
    return xx, yy, labels.reshape(xx.shape).astype(np.float64)


def _draw(ax: Any, boundary: Mapping[str, Any], resolution: int) -> None:
    X, Y = _points(boundary)
    xx, yy, labels = grid_labels(boundary, resolution)
    # fixed levels: a plot of one class everywhere keeps that class's colour
    ax.contourf(xx, yy, labels, levels=[-0.5, 0.5, 1.5], cmap="Spectral")
    ax.scatter(X[0], X[1], c=Y.astype(np.float64), cmap="Spectral", s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if boundary.get("title"):
        ax.set_title(boundary["title"])
    for limits, setter in ((boundary.get("xlim"), ax.set_xlim), (boundary.get("ylim"), ax.set_ylim)):
        if limits is not None:
            setter(*limits)


def decision_boundaries(boundaries: Sequence[Mapping[str, Any]], path: PathLike, columns: int = 2,
                        resolution: int = 500) -> Path:
    """Several boundaries side by side (``columns`` a row), one figure saved to ``path``; returns the path."""
    if not boundaries:
        raise ValueError("decision_boundaries needs at least one boundary")
    Figure = require_matplotlib()
    columns = max(1, min(int(columns), len(boundaries)))
    rows = math.ceil(len(boundaries) / columns)
    figure = Figure(figsize=(5 * columns, 4 * rows))
    for i, boundary in enumerate(boundaries):
        _draw(figure.add_subplot(rows, columns, i + 1), boundary, resolution)
    figure.tight_layout()
    path = Path(path)
    with atomic_write(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=100)
    return path


def decision_boundary(boundary: Mapping[str, Any], path: PathLike, resolution: int = 500) -> Path:
    """One boundary's picture saved to ``path`` (the format from its suffix); returns the path."""
    return decision_boundaries([boundary], path, columns=1, resolution=resolution)
