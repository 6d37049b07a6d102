"""The course's figures: the learning curve, the learning-rate comparison, and pictures.

matplotlib is an optional extra (``pip install matplotlib``), imported
only when a figure is drawn. Figures are built with matplotlib's
object-oriented API (no pyplot, no GUI backend) and saved atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygraph.files import atomic_write

from .datasets import class_name

__all__ = ["compare_learning_rates", "learning_curve", "misclassified", "picture_grid", "require_matplotlib"]

PathLike = str | os.PathLike


def require_matplotlib() -> Any:
    """``matplotlib.figure.Figure``, or an ImportError saying how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('plots need matplotlib: pip install matplotlib '
                          '(or, in a tinygraph checkout, pip install -e ".[plot]")') from None
    return Figure


def _save(figure: Any, path: PathLike) -> Path:
    with atomic_write(path) as tmp:
        figure.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=100, bbox_inches="tight")
    return Path(path)


def learning_curve(costs: Sequence[float], learning_rate: float, path: PathLike, every: int = 100) -> Path:
    """The cost every ``every`` iterations, as the course plots it; saved to ``path``."""
    Figure = require_matplotlib()
    figure = Figure(figsize=(6, 4))
    ax = figure.add_subplot()
    ax.plot(np.arange(len(costs)) * every, np.squeeze(costs), marker=".")
    ax.set_ylabel("cost")
    ax.set_xlabel("iterations")
    ax.set_title(f"Learning rate = {learning_rate}")
    ax.grid(alpha=0.3)
    return _save(figure, path)


def compare_learning_rates(models: Mapping[float, Mapping[str, Any]], path: PathLike, every: int = 100) -> Path:
    """One figure of several learning curves: ``models`` maps a learning rate to ``model()``'s dict."""
    Figure = require_matplotlib()
    figure = Figure(figsize=(6, 4))
    ax = figure.add_subplot()
    for rate, result in models.items():
        costs = np.squeeze(result["costs"])
        ax.plot(np.arange(costs.size) * every, costs, label=f"learning rate {rate}")
    ax.set_ylabel("cost")
    ax.set_xlabel("iterations")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return _save(figure, path)


def picture_grid(
    images: np.ndarray,
    titles: Sequence[str],
    path: PathLike,
    columns: int = 5,
    title: str = "",
) -> Path:
    """``images`` (n, h, w, 3) uint8 in a grid, each with its title; saved to ``path``."""
    Figure = require_matplotlib()
    n = len(images)
    rows = max(1, math.ceil(n / columns))
    figure = Figure(figsize=(2.2 * columns, 2.4 * rows))
    if title:
        figure.suptitle(title)
    for i in range(rows * columns):
        ax = figure.add_subplot(rows, columns, i + 1)
        ax.axis("off")
        if i < n:
            ax.imshow(images[i])
            ax.set_title(titles[i], fontsize=9)
    if n == 0:
        figure.axes[0].text(0.5, 0.5, "nothing to show", ha="center", va="center")
    return _save(figure, path)


def misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    classes: Sequence[bytes],
    path: PathLike,
    limit: int = 20,
) -> Path:
    """The pictures the model got wrong, each titled with its label and the prediction.

    ``labels`` and ``predictions`` are (1, m) rows of 0/1 (the course's shape).
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    predictions = np.asarray(predictions).reshape(-1).astype(int)
    wrong = np.flatnonzero(labels != predictions)[:limit]
    names = [class_name(c) for c in classes]
    titles = [f"#{i}: y = {names[labels[i]]}\npredicted {names[predictions[i]]}" for i in wrong]
    count = int(np.sum(labels != predictions))
    shown = f" (first {len(wrong)})" if count > len(wrong) else ""
    return picture_grid(images[wrong], titles, path, title=f"{count} of {len(labels)} misclassified{shown}")
