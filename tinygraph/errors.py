"""The exceptions tinygraph raises. Each names the node, op or file involved."""

from __future__ import annotations


class TinygraphError(Exception):
    """Base class of every error tinygraph raises on purpose."""


class ShapeError(TinygraphError, ValueError):
    """A node was built from inputs whose shapes cannot work for its op."""


class FeedError(TinygraphError, ValueError):
    """A placeholder was fed nothing, something unknown, or a wrongly shaped array."""


class GradientError(TinygraphError, ValueError):
    """An op's backward returned the wrong number or shape of gradients."""


class OpError(TinygraphError, RuntimeError):
    """An op's forward or backward failed while a graph ran."""
