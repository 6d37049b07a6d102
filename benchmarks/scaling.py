"""How cost grows with graph size: build, forward and backward of a chain of n nodes.

A chain ``tanh(tanh(... tanh(x)))`` of small vectors is all interpretive
overhead and no arithmetic, so its per-node cost is the engine's own. Linear
growth shows as a flat µs-per-node column.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import tinygraph as tg

from .timing import time_once


@dataclass
class ScalingRow:
    nodes: int
    make_s: float      # building the Node objects (shape inference included)
    graph_s: float     # tg.Graph(...): rewrite, topological order, schedule
    forward_s: float
    backward_s: float


def chain(n: int) -> tuple[tg.Node, tg.Parameter]:
    """A graph of exactly ``n`` nodes: a parameter, n - 2 tanh nodes, and a sum."""
    x = tg.parameter(np.full(4, 0.5), name="x")
    y = x
    for _ in range(max(n - 2, 0)):
        y = tg.tanh(y)
    return tg.sum(y), x


def measure_one(n: int) -> ScalingRow:
    """Best of a few runs (one run for the largest graphs: they are slow enough to be steady)."""
    repeat = 3 if n >= 50_000 else 20 if n >= 1000 else 200
    start = time.perf_counter()
    output, x = chain(n)
    make_s = time.perf_counter() - start
    graph_s = time_once(lambda: tg.Graph(output), max(1, repeat // 2))
    graph = tg.Graph(output)
    assert len(graph.nodes) == n, (len(graph.nodes), n)
    forward_s = time_once(lambda: graph.forward({}), repeat)
    backward_s = time_once(lambda: graph.backward((x,)), repeat)
    return ScalingRow(n, make_s, graph_s, forward_s, backward_s)


def measure(sizes: Sequence[int] = (10, 1_000, 100_000)) -> list[ScalingRow]:
    return [measure_one(n) for n in sizes]
